//! The MAPPA forum's decision (`/ui/mappa/decisions/new?subject_id=`): what may be shared
//! about a child under MAPPA management with whom, until when, recorded by the chair through
//! `app::mappa::record_decision`, the function `POST /v1/mappa/decisions` calls. The child is
//! named by name and date of birth (`app::child::view`), so the page is for a child the chair's
//! agency may read.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::children::{done, expiry, query_value, refusal};
use super::form::{Field, Form, FormFields, Labels, Posted, fields_with, parse};
use super::labels::{self, Choice};
use super::session::{Session, check_csrf};
use super::time::uk_date;
use super::view::{Frame, PageResult, page, refused};
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::{Action, Purpose, Role, Section};

const DECISION: Labels<'static> = &[
    ("recipient_agency", "Agency"),
    ("recipient_role", "Role"),
    ("purposes", "Purposes"),
    ("sections", "Sections"),
    ("decided_on", "Date of the decision"),
    ("expires_at", "Last day it holds"),
    ("subject_id", "Child"),
];

#[derive(Template)]
#[template(path = "mappa_decision.html")]
struct DecisionPage {
    frame: Frame,
    csrf: String,
    subject_id: String,
    name: String,
    born: String,
    form: Form,
    agencies: Vec<Choice>,
    roles: Vec<Choice>,
    purposes: Vec<Choice>,
    sections: Vec<Choice>,
}

/// The page for `subject` (a child the person may read: anyone else "Page not found").
async fn decision_page(
    state: &AppState,
    session: &Session,
    subject: SubjectId,
    status: StatusCode,
    form: Form,
) -> Result<Response, super::view::Refusal> {
    crate::access::require(state, &session.principal, Action::RecordMappaDecision)
        .map_err(refused)?;
    let child = crate::app::child::view(state, &session.principal, subject)
        .await
        .map_err(refused)?;
    let mut agencies: Vec<Choice> = state
        .agencies
        .values()
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(page(
        status,
        &DecisionPage {
            frame: Frame::of(session, "Record a MAPPA forum decision"),
            csrf: session.csrf.clone(),
            subject_id: child.subject_id.to_string(),
            name: child
                .display_name
                .unwrap_or_else(|| "Name not given".to_owned()),
            born: uk_date(&child.date_of_birth),
            form,
            agencies,
            roles: labels::choices::<Role>(),
            purposes: labels::choices::<Purpose>(),
            sections: labels::choices::<Section>(),
        },
    ))
}

/// The child a query or a form names, or the page refusing it (400, as the API's `invalid_id`).
fn subject_of(text: Option<&str>) -> Result<SubjectId, super::view::Refusal> {
    crate::ids::parse::<SubjectId>(text.unwrap_or_default()).map_err(refused)
}

/// `GET /ui/mappa/decisions/new?subject_id=`.
pub async fn new_decision(
    session: Session,
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let subject = subject_of(query_value(query.as_deref(), "subject_id").as_deref())?;
    decision_page(&state, &session, subject, StatusCode::OK, Form::default()).await
}

/// `POST /ui/mappa/decisions/new`: `app::mappa::record_decision`, then the child's page.
pub async fn record_decision(
    session: Session,
    State(state): State<AppState>,
    posted: Posted,
) -> PageResult {
    let form: FormFields = fields_with(posted, &["purposes", "sections"])?;
    check_csrf(&session, form.get("csrf"))?;
    let subject = subject_of(form.get("subject_id"))?;
    let (mut body, mut errors) = form.to_json(&[
        Field::Trimmed("subject_id"),
        Field::Trimmed("recipient_agency"),
        Field::Trimmed("recipient_role"),
        Field::List("purposes"),
        Field::List("sections"),
        Field::Date("decided_on", "Date of the decision"),
    ]);
    expiry(
        &form,
        &mut body,
        &mut errors,
        "expires_at",
        "Last day it holds",
    );
    if errors.is_empty() {
        match parse(body, DECISION) {
            Ok(input) => {
                match crate::app::mappa::record_decision(&state, &session.principal, input).await {
                    Ok(_) => return Ok(done(&subject, "decision")),
                    Err(e) => errors = refusal(e, DECISION)?,
                }
            }
            Err(e) => errors = e,
        }
    }
    let refused_form = Form::refused(form, errors);
    decision_page(
        &state,
        &session,
        subject,
        StatusCode::UNPROCESSABLE_ENTITY,
        refused_form,
    )
    .await
}
