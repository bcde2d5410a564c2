//! `/ui/cases/new?subject_id=`: a children's social care worker opens a case for the child
//! named at the top, through `app::cases::open` (the same function as `POST /v1/cases`, audited
//! as `case.open`). Every member of `NewCase` is a field of its name: whom the case is about
//! (radios), when the referral was received (UK date and time), who referred (the configured
//! agencies by name), the lead worker, and the agency's open cases of other children to link.
//! Refused, the form again with what was typed, an error summary and each message by its
//! field; opened, the case's page.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::Posted;
use super::cases::{child_named, dead_end, form_errors};
use super::form::{Field, Form, FormFields, Labels, fields_with, parse};
use super::labels::{Choice, choices};
use super::query;
use super::session::{Session, check_csrf};
use super::time::uk;
use super::view::{Frame, PageResult, page, refused};
use crate::access::may;
use crate::app::cases::{self as app, Filters, NewCase};
use crate::error::ApiError;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus, SubjectRole};

const LABELS: Labels<'static> = &[
    ("subject_id", "Child"),
    ("subject_role", "Whom the case is about"),
    ("referral_received_at", "When the referral was received"),
    ("referred_by_agency", "Referred by"),
    ("lead_sub", "Lead worker"),
    ("linked_case_ids", "Linked cases"),
];

const FIELDS: &[Field<'static>] = &[
    Field::Trimmed("subject_id"),
    Field::Trimmed("subject_role"),
    Field::DateTime("referral_received_at", "When the referral was received"),
    Field::Trimmed("referred_by_agency"),
    Field::Trimmed("lead_sub"),
    Field::List("linked_case_ids"),
];

#[derive(Template)]
#[template(path = "case_new.html")]
struct NewCasePage {
    frame: Frame,
    subject_id: String,
    child: String,
    born: String,
    form: Form,
    csrf: String,
    roles: Vec<Choice>,
    agencies: Vec<Choice>,
    /// The agency's open cases of other children, to link.
    links: Vec<Choice>,
}

/// The form's page for `subject`, as `form` holds it.
async fn form_page(
    state: &AppState,
    session: &Session,
    subject: &SubjectId,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = app::to_open(state, &session.principal, subject)
        .await
        .map_err(refused)?;
    let (child, born) = child_named(&named);
    let mut agencies: Vec<Choice> = state
        .agencies
        .values()
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.label.cmp(&b.label));
    // the agency's open cases of other children (listing them is audited, as the API's list)
    let mut links = Vec::new();
    if may(state, &session.principal, Action::ListCases) {
        let open = Filters {
            status: Some(CaseStatus::Open),
            ..Filters::default()
        };
        let list = app::list(state, &session.principal, &open)
            .await
            .map_err(refused)?;
        let children = list.children(state).await.map_err(refused)?;
        for c in list.cases.iter().filter(|c| c.subject_id != **subject) {
            let (name, born) = children
                .get(&c.subject_id)
                .map(child_named)
                .unwrap_or_default();
            links.push(Choice::new(
                c.id.clone(),
                format!(
                    "{name}, born {born}: referral received {}",
                    uk(&c.referral_received_at)
                ),
            ));
        }
    }
    Ok(page(
        status,
        &NewCasePage {
            frame: Frame::of(session, &format!("Open a case for {child}")),
            subject_id: subject.to_string(),
            child,
            born,
            form,
            csrf: session.csrf.clone(),
            roles: choices::<SubjectRole>(),
            agencies,
            links,
        },
    ))
}

/// The child a link names (`?subject_id=`), or the API's refusal of an id that is not one.
fn subject_of(raw: Option<&str>) -> Result<SubjectId, super::view::Refusal> {
    let pairs = query::clean(raw, &[])?;
    crate::ids::parse::<SubjectId>(query::value(&pairs, "subject_id")).map_err(refused)
}

/// `GET /ui/cases/new?subject_id=`: the form, for the child named.
pub async fn new_case(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let subject = subject_of(raw.as_deref())?;
    let mut values = FormFields::default();
    values.set("subject_id", subject.to_string());
    let form = Form {
        values,
        ..Form::default()
    };
    form_page(&state, &session, &subject, form, StatusCode::OK).await
}

/// `POST /ui/cases/new`: opens the case through `app::cases::open`; on to its page, or the form
/// again with why not.
pub async fn open(State(state): State<AppState>, session: Session, posted: Posted) -> PageResult {
    let form = fields_with(posted, &["linked_case_ids"])?;
    check_csrf(&session, form.get("csrf"))?;
    let subject = crate::ids::parse::<SubjectId>(form.get("subject_id").unwrap_or_default())
        .map_err(refused)?;
    let (value, mut errors) = form.to_json(FIELDS);
    let refusal: Option<ApiError> = match parse::<NewCase>(value, LABELS) {
        Ok(body) if errors.is_empty() => match app::open(&state, &session.principal, body).await {
            Ok(opened) => {
                return Ok(
                    Redirect::to(&format!("/ui/cases/{}?opened=1", opened.id)).into_response()
                );
            }
            Err(e) if dead_end(&e) => return Err(refused(e)),
            Err(e) => Some(e),
        },
        Ok(_) => None,
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    if let Some(e) = &refusal {
        errors.extend(form_errors(e, &state, None, LABELS));
    }
    let status = refusal
        .as_ref()
        .map_or(StatusCode::UNPROCESSABLE_ENTITY, |e| e.status);
    form_page(
        &state,
        &session,
        &subject,
        Form::refused(form, errors),
        status,
    )
    .await
}
