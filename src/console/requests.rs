//! Requests for information (PROCESS.md) in the console: "Ask an agency for information" from
//! a case's page (`/ui/cases/{id}/requests/new`: the agency by name, the purpose and the
//! sections in plain English, the due time in UK time, a note), the "Requests" page
//! (`/ui/requests`: to and from the person's agency, overdue ones marked), and, from a request
//! addressed to the person's agency, "Answer" (`/ui/requests/{id}/answer`: the agency's
//! records about the child, each leading to the share form prefilled with the request, so the
//! disclosure names it) and "Decline" (`/ui/requests/{id}/decline`, a reason). Each calls the
//! same application function as the API (`app::requests`) with the session's person; a refused
//! form is shown again with what was typed, an error summary and the message by its field.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::Value;

use super::case_requests::{RequestLine, line};
use super::cases::{child_named, dead_end};
use super::form::{Errors, Field, Form, FormFields, Labels, fields_with, parse};
use super::labels::{Choice, Label, choices};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields};
use crate::app::cases::{self as cases, CaseView};
use crate::app::requests::{self as app, Filters, NewDecline, NewRequest};
use crate::error::ApiError;
use crate::ids::{CaseId, RequestId, SubjectId};
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::{Purpose, RecordKind, Section};

// ---- the list ----

#[derive(Template)]
#[template(path = "requests.html")]
struct ListPage {
    frame: Frame,
    to_us: Vec<RequestLine>,
    from_us: Vec<RequestLine>,
    done: String,
}

/// What the page that follows a write says was done.
#[derive(serde::Deserialize)]
pub struct Done {
    declined: Option<String>,
}

/// `GET /ui/requests`: the requests to and from the person's agency (`app::requests::list`,
/// audited), soonest due first, overdue ones marked.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    done: Result<axum::extract::Query<Done>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let p = &session.principal;
    let all = app::list(&state, p, &Filters::default())
        .await
        .map_err(refused)?;
    let (to_us, from_us): (Vec<_>, Vec<_>) =
        all.requests.iter().partition(|r| r.to_agency == *p.agency);
    let done = match done {
        Ok(axum::extract::Query(Done { declined: Some(_) })) => "declined".to_owned(),
        _ => String::new(),
    };
    Ok(page(
        StatusCode::OK,
        &ListPage {
            frame: Frame::of(&session, "Requests for information"),
            to_us: to_us.into_iter().map(|r| line(&state, p, r)).collect(),
            from_us: from_us.into_iter().map(|r| line(&state, p, r)).collect(),
            done,
        },
    ))
}

// ---- asking, from a case ----

#[derive(Template)]
#[template(path = "request_new.html")]
struct AskPage {
    frame: Frame,
    id: String,
    child: String,
    born: String,
    allowed: bool,
    agencies: Vec<Choice>,
    purposes: Vec<Choice>,
    sections: Vec<Choice>,
    form: Form,
    csrf: String,
}

const ASK_LABELS: Labels<'static> = &[
    ("subject_id", "Child"),
    ("to_agency", "Agency"),
    ("purpose", "Purpose"),
    ("sections", "Information needed"),
    ("due_at", "Needed by"),
    ("note", "Note"),
];
const ASK_FIELDS: &[Field<'static>] = &[
    Field::Trimmed("to_agency"),
    Field::Trimmed("purpose"),
    Field::List("sections"),
    Field::DateTime("due_at", "Needed by"),
    Field::Text("note"),
];

async fn ask_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    let allowed = super::case_requests::on_case(state, &session.principal, &c).may_ask;
    let mut agencies: Vec<Choice> = state
        .agencies
        .values()
        .filter(|a| *a.id != *session.principal.agency)
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(page(
        status,
        &AskPage {
            frame: Frame::of(session, &format!("Ask an agency for information: {child}")),
            id: c.id.clone(),
            child,
            born,
            allowed,
            agencies,
            purposes: choices::<Purpose>(),
            sections: choices::<Section>(),
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// `GET /ui/cases/{id}/requests/new`.
pub async fn ask_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let c = cases::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    ask_page(&state, &session, c, Form::default(), StatusCode::OK).await
}

/// `POST /ui/cases/{id}/requests/new`: asks through `app::requests::ask` about the case's
/// child; on to the case's requests, or the form again as refused.
pub async fn ask(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields_with(posted, &["sections"])?;
    check_csrf(&session, form.get("csrf"))?;
    let c = cases::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    let (mut value, mut errors) = form.to_json(ASK_FIELDS);
    value["subject_id"] = Value::from(c.subject_id.clone());
    let refusal = match parse::<NewRequest>(value, ASK_LABELS) {
        Ok(body) if errors.is_empty() => match app::ask(&state, &session.principal, body).await {
            Ok(_) => {
                let next = format!("/ui/cases/{}#case-requests", c.id);
                return Ok(Redirect::to(&next).into_response());
            }
            Err(e) if dead_end(&e) => return Err(refused(e)),
            Err(e) => (Errors::from_api(&e, ASK_LABELS), e.status),
        },
        Ok(_) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => {
            errors.extend(e);
            (errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let (errors, status) = refusal;
    ask_page(&state, &session, c, Form::refused(form, errors), status).await
}

// ---- answering and declining, by the addressee ----

/// A record of the person's agency about the child, as the answer page offers it.
pub struct OwnRecord {
    pub href: String,
    pub kind: &'static str,
    pub created: String,
}

#[derive(Template)]
#[template(path = "request_one.html")]
struct OnePage {
    frame: Frame,
    which: &'static str,
    r: RequestLine,
    subject_id: String,
    records: Vec<OwnRecord>,
    form: Form,
    csrf: String,
}

const DECLINE_LABELS: Labels<'static> = &[("reason", "Why you cannot answer")];
const DECLINE_FIELDS: &[Field<'static>] = &[Field::Text("reason")];

/// The answer or decline page of request `id` as the person's agency sees it.
async fn one_page(
    state: &AppState,
    session: &Session,
    id: &RequestId,
    which: &'static str,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let p = &session.principal;
    let r = app::one(state, p, id).await.map_err(refused)?;
    let mut records = Vec::new();
    if which == "answer" && r.to_agency == *p.agency {
        let subject: SubjectId = crate::routes::extract::path_id(&r.subject_id).map_err(refused)?;
        // the agency's own records about the child, as its child page lists them; an agency
        // that holds none about the child reads nothing of it (404), and is offered to deposit
        if let Ok(child) = crate::app::child::view(state, p, subject).await {
            records = child
                .records
                .iter()
                .map(|rec| OwnRecord {
                    href: format!("/ui/records/{}/share?request_id={}", rec.id, r.id),
                    kind: rec
                        .kind
                        .parse::<RecordKind>()
                        .map(|k| k.label())
                        .unwrap_or("Record"),
                    created: super::time::uk_text(&rec.created_at),
                })
                .collect();
        }
    }
    let shown = line(state, p, &r);
    let title = if which == "answer" {
        "Answer a request for information"
    } else {
        "Decline a request for information"
    };
    Ok(page(
        status,
        &OnePage {
            frame: Frame::of(session, &format!("{title}: {}", shown.child)),
            which,
            r: shown,
            subject_id: r.subject_id.clone(),
            records,
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// `GET /ui/requests/{id}/answer`.
pub async fn answer_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RequestId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    one_page(
        &state,
        &session,
        &id,
        "answer",
        Form::default(),
        StatusCode::OK,
    )
    .await
}

/// `GET /ui/requests/{id}/decline`.
pub async fn decline_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RequestId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    one_page(
        &state,
        &session,
        &id,
        "decline",
        Form::default(),
        StatusCode::OK,
    )
    .await
}

/// `POST /ui/requests/{id}/decline`: declines through `app::requests::decline`; on to the
/// requests page, or the form again as refused.
pub async fn decline(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RequestId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, mut errors) = form.to_json(DECLINE_FIELDS);
    let refusal = match parse::<NewDecline>(value, DECLINE_LABELS) {
        Ok(body) if errors.is_empty() => {
            match app::decline(&state, &session.principal, id.clone(), body).await {
                Ok(_) => return Ok(Redirect::to("/ui/requests?declined=1").into_response()),
                Err(e) if dead_end(&e) => return Err(refused(e)),
                Err(e) => (Errors::from_api(&e, DECLINE_LABELS), e.status),
            }
        }
        Ok(_) => (errors, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => {
            errors.extend(e);
            (errors, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    let (errors, status) = refusal;
    let form = Form::refused(form, errors);
    one_page(&state, &session, &id, "decline", form, status).await
}

/// The share form's prefill from `?request_id=` (`records::share_form`): the request
/// addressed to the person's agency, open, as the fields it sets (the recipient is the
/// agency that asked, the purpose its purpose, the request named) and a line saying what it
/// answers; nothing for any other.
pub(super) async fn prefill(
    state: &AppState,
    session: &Session,
    request_id: &str,
) -> Option<(FormFields, String)> {
    let id: RequestId = crate::routes::extract::path_id(request_id).ok()?;
    let p = &session.principal;
    let r = app::one(state, p, &id).await.ok()?;
    if r.to_agency != *p.agency || r.status != "open" {
        return None;
    }
    let mut values = FormFields::default();
    values.set("recipient_agency", r.from_agency.clone());
    values.set("purpose", r.purpose.as_str());
    values.set("request_id", r.id.clone());
    let shown = line(state, p, &r);
    let text = format!(
        "This answers the request from {} for {} ({}), due {}.",
        shown.from,
        shown.sections.to_lowercase(),
        shown.purpose.to_lowercase(),
        shown.due
    );
    Some((values, text))
}

/// The start page's line of requests for information waiting for the person's agency to
/// answer (the count, and in words with how many are overdue); none for a person who may not
/// list them.
pub(super) async fn waiting(
    state: &AppState,
    principal: &crate::identity::Principal,
) -> Result<Option<(usize, String)>, ApiError> {
    if !crate::access::may(state, principal, crate::vocab::Action::ListRequests) {
        return Ok(None);
    }
    let open = app::waiting(state, principal).await?;
    let overdue = open.iter().filter(|r| r.overdue).count();
    let text = match (open.len(), overdue) {
        (0, _) => "No request for information to answer".to_owned(),
        (1, 0) => "1 request for information to answer".to_owned(),
        (1, _) => "1 request for information to answer, overdue".to_owned(),
        (n, 0) => format!("{n} requests for information to answer"),
        (n, o) => format!("{n} requests for information to answer, {o} overdue"),
    };
    Ok(Some((open.len(), text)))
}
