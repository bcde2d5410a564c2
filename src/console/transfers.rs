//! Moving a case and its lead worker (PROCESS.md, Places P4 and P5), from the case's page:
//! "Transfer this case" (`/ui/cases/{id}/transfer`, the lead's team manager chooses the
//! receiving council's children's social care by name), "Accept the transfer"
//! (`/ui/cases/{id}/transfers/{tid}/accept`, the receiving team manager names the lead worker)
//! and "Reallocate the lead worker" (`/ui/cases/{id}/reallocate`, a `worker_allocated` step).
//! Each is a page of its own, since the case page's step form already holds fields named
//! `occurred_at` and `note` (an element's id is its field's name). Each calls the same
//! application function as the API (`app::cases::{request_transfer, accept_transfer,
//! record}`) with the session's person; refused, the form again with what was typed, an error
//! summary and the message by its field. The case page lists the transfers and links here
//! (`case_moves`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::Value;

use super::Posted;
use super::cases::{agency_name, child_named, dead_end, form_errors};
use super::form::{Errors, Field, Form, FormFields, Labels, fields, parse};
use super::labels::Choice;
use super::session::{Session, check_csrf};
use super::time::uk;
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{self as app, AcceptTransfer, CaseView, NewEvent, NewTransfer};
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;

/// Which of the three forms a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Transfer,
    Accept,
    Reallocate,
}

#[derive(Template)]
#[template(path = "case_move.html")]
struct MovePage {
    frame: Frame,
    which: &'static str,
    action: String,
    id: String,
    child: String,
    born: String,
    lead_agency: String,
    lead_sub: String,
    /// Whether the person may submit this form now (else `why_not` says why).
    allowed: bool,
    why_not: String,
    destinations: Vec<Choice>,
    /// The transfer being accepted: from whom, when asked, its note.
    from: String,
    asked: String,
    note: String,
    form: Form,
    csrf: String,
}

const TRANSFER_LABELS: Labels<'static> = &[
    ("to_agency", "Receiving council's children's social care"),
    ("note", "Note"),
];
const TRANSFER_FIELDS: &[Field<'static>] = &[Field::Trimmed("to_agency"), Field::Text("note")];
const ACCEPT_LABELS: Labels<'static> = &[("lead_sub", "Lead worker")];
const ACCEPT_FIELDS: &[Field<'static>] = &[Field::Trimmed("lead_sub")];
const REALLOCATE_LABELS: Labels<'static> = &[
    ("occurred_at", "When the new worker took over"),
    ("lead_sub", "New lead worker"),
    ("note", "Note"),
];
const REALLOCATE_FIELDS: &[Field<'static>] = &[
    Field::DateTime("occurred_at", "When the new worker took over"),
    Field::Trimmed("lead_sub"),
    Field::Text("note"),
];

/// The page of form `which` for case `c` (and transfer `tid`, when accepting).
async fn move_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    which: Which,
    tid: Option<&str>,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    let p = &session.principal;
    let (allowed, why_not, action, title) = match which {
        Which::Transfer => (
            c.may_transfer(state, p),
            if c.transfers.iter().any(|t| t.accepted_at.is_none()) {
                "A transfer of this case already waits for the receiving council to accept it."
            } else {
                "Only a team manager of the agency leading an open case may transfer it."
            },
            format!("/ui/cases/{}/transfer", c.id),
            "Transfer this case",
        ),
        Which::Reallocate => (
            c.may_record(state, p),
            "Only the agency leading an open case may reallocate its lead worker.",
            format!("/ui/cases/{}/reallocate", c.id),
            "Reallocate the lead worker",
        ),
        Which::Accept => (
            c.transfer_for(state, p)
                .is_some_and(|t| Some(t.id.as_str()) == tid),
            "This transfer does not wait for your agency, or has been accepted already.",
            format!(
                "/ui/cases/{}/transfers/{}/accept",
                c.id,
                tid.unwrap_or_default()
            ),
            "Accept the transfer",
        ),
    };
    let transfer = tid.and_then(|tid| c.transfers.iter().find(|t| t.id == tid));
    let destinations = app::destinations(state, &c.lead_agency)
        .into_iter()
        .map(|(id, name)| Choice::new(id, name))
        .collect();
    Ok(page(
        status,
        &MovePage {
            frame: Frame::of(session, &format!("{title}: {child}")),
            which: match which {
                Which::Transfer => "transfer",
                Which::Accept => "accept",
                Which::Reallocate => "reallocate",
            },
            action,
            id: c.id.clone(),
            child,
            born,
            lead_agency: agency_name(state, &c.lead_agency),
            lead_sub: c.lead_sub.clone(),
            allowed,
            why_not: why_not.to_owned(),
            destinations,
            from: transfer.map_or_else(String::new, |t| agency_name(state, &t.from_agency)),
            asked: transfer.map_or_else(String::new, |t| {
                format!("{} by {}", uk(&t.requested_at), t.requested_by)
            }),
            note: transfer.and_then(|t| t.note.clone()).unwrap_or_default(),
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// Reads the case for one of these pages, as `GET /v1/cases/{id}` would for the person.
async fn read(state: &AppState, session: &Session, id: CaseId) -> Result<CaseView, ApiError> {
    app::read(state, &session.principal, id).await
}

/// A form's page, blank, for case `id` as the person may read it.
async fn blank(
    state: &AppState,
    session: &Session,
    id: CaseId,
    which: Which,
    tid: Option<&str>,
) -> PageResult {
    let c = read(state, session, id).await.map_err(refused)?;
    move_page(
        state,
        session,
        c,
        which,
        tid,
        Form::default(),
        StatusCode::OK,
    )
    .await
}

/// `GET /ui/cases/{id}/transfer`.
pub async fn transfer_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    blank(&state, &session, id, Which::Transfer, None).await
}

/// `GET /ui/cases/{id}/reallocate`.
pub async fn reallocate_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    blank(&state, &session, id, Which::Reallocate, None).await
}

/// `GET /ui/cases/{id}/transfers/{tid}/accept`.
pub async fn accept_form(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
) -> PageResult {
    let Path((id, tid)) = ids.map_err(refused)?;
    blank(&state, &session, id, Which::Accept, Some(&tid)).await
}

/// What a submitted form did: where to go next, or the refusal to show by the form.
pub(super) enum Outcome {
    Done(String),
    Refused(Errors, StatusCode),
}

/// Parses `value` as `T` by `labels` and runs `act` on it; a parse failure or a refusal that
/// belongs by the form is [`Outcome::Refused`], a dead end the error page.
pub(super) async fn submit<T, F, Fut>(
    state: &AppState,
    value: Value,
    mut errors: Errors,
    labels: Labels<'static>,
    act: F,
) -> Result<Outcome, super::view::Refusal>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<String, ApiError>>,
{
    match parse::<T>(value, labels) {
        Ok(body) if errors.is_empty() => match act(body).await {
            Ok(next) => Ok(Outcome::Done(next)),
            Err(e) if dead_end(&e) => Err(refused(e)),
            Err(e) => Ok(Outcome::Refused(
                form_errors(&e, state, None, labels),
                e.status,
            )),
        },
        Ok(_) => Ok(Outcome::Refused(errors, StatusCode::UNPROCESSABLE_ENTITY)),
        Err(e) => {
            errors.extend(e);
            Ok(Outcome::Refused(errors, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

/// Answers a submitted form: on to the case, or the form's page again as refused.
async fn answer(
    state: &AppState,
    session: &Session,
    id: CaseId,
    which: Which,
    tid: Option<&str>,
    form: FormFields,
    outcome: Outcome,
) -> PageResult {
    match outcome {
        Outcome::Done(next) => Ok(Redirect::to(&next).into_response()),
        Outcome::Refused(errors, status) => {
            let c = read(state, session, id).await.map_err(refused)?;
            let form = Form::refused(form, errors);
            move_page(state, session, c, which, tid, form, status).await
        }
    }
}

/// `POST /ui/cases/{id}/transfer`: asks the transfer through `app::cases::request_transfer`.
pub async fn transfer(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, errors) = form.to_json(TRANSFER_FIELDS);
    let (s, p, case) = (&state, &session.principal, id.clone());
    let outcome = submit(
        s,
        value,
        errors,
        TRANSFER_LABELS,
        |body: NewTransfer| async move {
            app::request_transfer(s, p, case.clone(), body)
                .await
                .map(|_| format!("/ui/cases/{case}?transferred=1#case-transfers"))
        },
    )
    .await?;
    answer(&state, &session, id, Which::Transfer, None, form, outcome).await
}

/// `POST /ui/cases/{id}/transfers/{tid}/accept`: accepts through
/// `app::cases::accept_transfer`.
pub async fn accept(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path((id, tid)) = ids.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, errors) = form.to_json(ACCEPT_FIELDS);
    let (s, p, case, t) = (&state, &session.principal, id.clone(), tid.clone());
    let outcome = submit(
        s,
        value,
        errors,
        ACCEPT_LABELS,
        |body: AcceptTransfer| async move {
            app::accept_transfer(s, p, case.clone(), t, body)
                .await
                .map(|_| format!("/ui/cases/{case}?accepted=1"))
        },
    )
    .await?;
    answer(
        &state,
        &session,
        id,
        Which::Accept,
        Some(&tid),
        form,
        outcome,
    )
    .await
}

/// `POST /ui/cases/{id}/reallocate`: records a `worker_allocated` step through
/// `app::cases::record`, as `POST /v1/cases/{id}/events` does.
pub async fn reallocate(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (mut value, errors) = form.to_json(REALLOCATE_FIELDS);
    value["kind"] = Value::from("worker_allocated");
    let (s, p, case) = (&state, &session.principal, id.clone());
    let outcome = submit(
        s,
        value,
        errors,
        REALLOCATE_LABELS,
        |body: NewEvent| async move {
            app::record(s, p, case.clone(), body)
                .await
                .map(|done| format!("/ui/cases/{case}?recorded={}#case-events", done.seq))
        },
    )
    .await?;
    answer(&state, &session, id, Which::Reallocate, None, form, outcome).await
}
