//! Meetings of a case (PROCESS.md, Meetings), from the case's page: "Schedule a meeting"
//! (`/ui/cases/{id}/meetings/new`: the kind in plain English, the date and time in UK time, the
//! agencies invited ticked by name) and "Record attendance" (`/ui/cases/{id}/meetings/{mid}/
//! attendance`: the agency by name, attended yes or no, and for apologies the written report
//! chosen among the child's records the agency holds). Each is a page of its own, since the
//! case page's step form already holds fields of these names. Each calls the same application
//! function as the API (`app::cases::{schedule_meeting, attend}`) with the session's person;
//! refused, the form again with what was typed, an error summary and the message by its field.
//! The case page lists the meetings and links here (`case_meetings`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::Posted;
use super::case_meetings::{kind_words, report_words};
use super::cases::{agency_name, child_named, dead_end, form_errors};
use super::form::{Errors, Field, Form, FormFields, Labels, fields_with, parse};
use super::labels::Choice;
use super::session::{Session, check_csrf};
use super::time::uk;
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{self as app, CaseView, NewAttendance, NewMeeting};
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::MeetingKind;

#[derive(Template)]
#[template(path = "meeting.html")]
struct MeetingPage {
    frame: Frame,
    /// "schedule" or "attendance".
    which: &'static str,
    action: String,
    id: String,
    child: String,
    born: String,
    lead_agency: String,
    /// The meeting whose attendance is recorded, in words.
    meeting: String,
    /// Whether the person may submit this form now (else `why_not` says why).
    allowed: bool,
    why_not: String,
    kinds: Vec<Choice>,
    agencies: Vec<Choice>,
    answers: Vec<Choice>,
    reports: Vec<Choice>,
    form: Form,
    csrf: String,
}

const SCHEDULE_LABELS: Labels<'static> = &[
    ("kind", "Kind of meeting"),
    ("scheduled_for", "When it is held"),
    ("invitees", "Agencies invited"),
];
const SCHEDULE_FIELDS: &[Field<'static>] = &[
    Field::Trimmed("kind"),
    Field::DateTime("scheduled_for", "When it is held"),
    Field::List("invitees"),
];
const ATTEND_LABELS: Labels<'static> = &[
    ("agency", "Agency"),
    ("attended", "Did they attend"),
    ("written_report_record_id", "Written report"),
];
const ATTEND_FIELDS: &[Field<'static>] = &[
    Field::Trimmed("agency"),
    Field::Bool("attended"),
    Field::Trimmed("written_report_record_id"),
];

/// The page of the form for case `c` (and meeting `mid`, when recording attendance).
async fn meeting_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    mid: Option<&str>,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    let p = &session.principal;
    let meeting = mid.and_then(|mid| c.meetings.iter().find(|m| m.id == mid));
    let (which, title, action, allowed, why_not) = match mid {
        None => (
            "schedule",
            "Schedule a meeting",
            format!("/ui/cases/{}/meetings/new", c.id),
            c.may_schedule_meeting(state, p),
            "Only a social worker or team manager of the agency leading an open case may \
             schedule its meetings.",
        ),
        Some(mid) => (
            "attendance",
            "Record attendance",
            format!("/ui/cases/{}/meetings/{mid}/attendance", c.id),
            meeting.is_some() && c.may_record_attendance(state, p),
            "Only the agency leading an open case records attendance at its meetings.",
        ),
    };
    let reports = match meeting {
        Some(_) => app::report_choices(state, p, &c)
            .await
            .map_err(refused)?
            .into_iter()
            .map(|r| {
                let at = uk(&r.deposited_at);
                Choice::new(r.id, report_words(state, r.kind, &r.owner_agency, &at))
            })
            .chain([Choice::new("", "No written report")])
            .collect(),
        None => Vec::new(),
    };
    let agencies = match meeting {
        // the lead itself and each agency invited
        Some(m) => std::iter::once(&c.lead_agency)
            .chain(m.invitees.iter())
            .map(|a| Choice::new(a.clone(), agency_name(state, a)))
            .collect(),
        None => app::invitable(state, &c.lead_agency)
            .into_iter()
            .map(|(id, name)| Choice::new(id, name))
            .collect(),
    };
    Ok(page(
        status,
        &MeetingPage {
            frame: Frame::of(session, &format!("{title}: {child}")),
            which,
            action,
            id: c.id.clone(),
            child,
            born,
            lead_agency: agency_name(state, &c.lead_agency),
            meeting: meeting.map_or_else(String::new, |m| {
                format!("{}, {}", kind_words(m.kind), uk(&m.scheduled_for))
            }),
            allowed,
            why_not: why_not.to_owned(),
            kinds: MeetingKind::ALL
                .iter()
                .map(|k| Choice::new(k.as_str(), kind_words(*k)))
                .collect(),
            agencies,
            answers: vec![
                Choice::new("yes", "Yes, they attended"),
                Choice::new("no", "No, they sent apologies"),
            ],
            reports,
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// A form's page, blank, for case `id` as the person may read it.
async fn blank(state: &AppState, session: &Session, id: CaseId, mid: Option<&str>) -> PageResult {
    let c = app::read(state, &session.principal, id)
        .await
        .map_err(refused)?;
    meeting_page(state, session, c, mid, Form::default(), StatusCode::OK).await
}

/// `GET /ui/cases/{id}/meetings/new`.
pub async fn schedule_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    blank(&state, &session, id, None).await
}

/// `GET /ui/cases/{id}/meetings/{mid}/attendance`.
pub async fn attendance_form(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
) -> PageResult {
    let Path((id, mid)) = ids.map_err(refused)?;
    blank(&state, &session, id, Some(&mid)).await
}

/// Answers a submitted form: `act` on the body parsed as the API parses it, then on to the
/// case; refused, the form's page again as typed, with the errors.
async fn answer<T, F, Fut>(
    state: &AppState,
    session: &Session,
    id: CaseId,
    mid: Option<&str>,
    form: FormFields,
    spec: (&[Field<'static>], Labels<'static>),
    act: F,
) -> PageResult
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<String, ApiError>>,
{
    let (fields, labels) = spec;
    let (value, mut errors) = form.to_json(fields);
    let (errors, status) = match parse::<T>(value, labels) {
        Ok(body) if errors.is_empty() => match act(body).await {
            Ok(next) => return Ok(Redirect::to(&next).into_response()),
            Err(e) if dead_end(&e) => return Err(refused(e)),
            Err(e) => (form_errors(&e, state, None, labels), e.status),
        },
        Ok(_) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => {
            errors.extend(e);
            (errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let errors: Errors = errors;
    let c = app::read(state, &session.principal, id)
        .await
        .map_err(refused)?;
    meeting_page(state, session, c, mid, Form::refused(form, errors), status).await
}

/// `POST /ui/cases/{id}/meetings/new`: schedules through `app::cases::schedule_meeting`.
pub async fn schedule(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form = fields_with(posted, &["invitees"])?;
    check_csrf(&session, form.get("csrf"))?;
    let (s, p, case) = (&state, &session.principal, id.clone());
    let act = |body: NewMeeting| async move {
        app::schedule_meeting(s, p, case.clone(), body)
            .await
            .map(|m| format!("/ui/cases/{case}?meeting={}#case-meetings", m.id))
    };
    let spec = (SCHEDULE_FIELDS, SCHEDULE_LABELS);
    answer(&state, &session, id, None, form, spec, act).await
}

/// `POST /ui/cases/{id}/meetings/{mid}/attendance`: records through `app::cases::attend`.
pub async fn attendance(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path((id, mid)) = ids.map_err(refused)?;
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let (s, p, case, m) = (&state, &session.principal, id.clone(), mid.clone());
    let act = |body: NewAttendance| async move {
        app::attend(s, p, case.clone(), m.clone(), body)
            .await
            .map(|_| format!("/ui/cases/{case}?attendance={m}#case-meetings"))
    };
    let spec = (ATTEND_FIELDS, ATTEND_LABELS);
    answer(&state, &session, id, Some(&mid), form, spec, act).await
}
