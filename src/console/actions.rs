//! Actions agreed on a case (PROCESS.md, Actions), in the console: the case page lists them
//! (`case_actions`) and links to "Agree an action" (`/ui/cases/{id}/actions/new`: what, the owner
//! agency chosen by name, the due time in UK time); "Our actions" (`/ui/actions`) lists the
//! signed-in agency's own actions, overdue first, with "Mark as done"
//! (`/ui/cases/{id}/actions/{aid}/done`, a note). The owner's pages never show the case: a
//! school's DSL sees the action the school owns and marks it done without reading the case.
//! Each page calls the same application function as the API (`app::cases::{agree_action,
//! owned_actions, owned_action, complete_action}`) with the session's person; refused, the
//! form again with what was typed, an error summary and the message by its field.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::Posted;
use super::case_actions::{ActionLine, line};
use super::cases::{child_named, dead_end, form_errors};
use super::form::{Field, Form, FormFields, Labels, fields, parse};
use super::labels::Choice;
use super::query::{self, Pairs};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{
    self as app, ActionFilters, ActionStatus, CaseView, CompleteAction, NewAction,
};
use crate::db::now;
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "action_new.html")]
struct NewPage {
    frame: Frame,
    id: String,
    child: String,
    born: String,
    allowed: bool,
    owners: Vec<Choice>,
    form: Form,
    csrf: String,
}

const NEW_LABELS: Labels<'static> = &[
    ("description", "What is to be done"),
    ("owner_agency", "Agency that is to do it"),
    ("due_at", "Due"),
];
const NEW_FIELDS: &[Field<'static>] = &[
    Field::Text("description"),
    Field::Trimmed("owner_agency"),
    Field::DateTime("due_at", "Due"),
];

async fn new_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    Ok(page(
        status,
        &NewPage {
            frame: Frame::of(session, &format!("Agree an action: {child}")),
            allowed: c.may_agree_action(state, &session.principal),
            id: c.id.clone(),
            child,
            born,
            owners: app::action_owners(state)
                .into_iter()
                .map(|(id, name)| Choice::new(id, name))
                .collect(),
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// `GET /ui/cases/{id}/actions/new`: the form, for a case the person may read.
pub async fn new_action(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let c = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    new_page(&state, &session, c, Form::default(), StatusCode::OK).await
}

/// `POST /ui/cases/{id}/actions`: agrees the action through `app::cases::agree_action`, as
/// `POST /v1/cases/{id}/actions` does; on to the case's actions, or the form again as refused.
pub async fn agree(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, mut errors) = form.to_json(NEW_FIELDS);
    let status = match parse::<NewAction>(value, NEW_LABELS) {
        Ok(body) if errors.is_empty() => {
            match app::agree_action(&state, &session.principal, id.clone(), body).await {
                Ok(done) => {
                    return Ok(Redirect::to(&format!(
                        "/ui/cases/{id}?action_agreed={}#case-actions",
                        done.seq
                    ))
                    .into_response());
                }
                Err(e) if dead_end(&e) => return Err(refused(e)),
                Err(e) if e.detail.starts_with("due_at: is in the past") => {
                    errors.add("due_at", "The due time must be now or later");
                    e.status
                }
                Err(e) => {
                    errors.extend(form_errors(&e, &state, None, NEW_LABELS));
                    e.status
                }
            }
        }
        Ok(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Err(e) => {
            errors.extend(e);
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let c = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    new_page(&state, &session, c, Form::refused(form, errors), status).await
}

#[derive(Template)]
#[template(path = "actions.html")]
struct ListPage {
    frame: Frame,
    lines: Vec<ActionLine>,
    /// Which the page shows: `open`, `overdue`, `done` or `all`.
    show: String,
    /// The filter's links: (value, label, href).
    filters: Vec<(&'static str, &'static str, String)>,
    /// The action just marked done, for the banner.
    done: bool,
    /// More than the page shows.
    more: bool,
}

/// The most actions one page lists.
const PAGE: i64 = 500;

/// `GET /ui/actions`: the person's agency's own actions (`app::cases::owned_actions`), overdue
/// first, then by due time; `?show=` `open` (default), `overdue`, `done` or `all`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let pairs: Pairs = query::clean(raw.as_deref(), &[])?;
    let show = match query::value(&pairs, "show") {
        "" => "open",
        s @ ("open" | "overdue" | "done" | "all") => s,
        _ => {
            return Err(refused(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "show: open, overdue, done or all",
            )));
        }
    };
    let f = ActionFilters {
        status: match show {
            "open" | "overdue" => Some(ActionStatus::Open),
            "done" => Some(ActionStatus::Done),
            _ => None,
        },
        overdue: (show == "overdue").then_some(true),
        after: None,
        limit: Some(PAGE),
    };
    let mut body = app::owned_actions(&state, &session.principal, &f)
        .await
        .map_err(refused)?;
    // overdue first, then open by due time, then done (the latest first)
    body.actions.sort_by_key(|a| {
        (
            !a.overdue,
            a.status == ActionStatus::Done,
            if a.status == ActionStatus::Done {
                now() - a.done_at.unwrap_or(a.due_at)
            } else {
                a.due_at - now()
            },
        )
    });
    let lines = body
        .actions
        .iter()
        .map(|a| line(&state, &session.principal, a))
        .collect();
    let filters = [
        ("open", "Open"),
        ("overdue", "Overdue"),
        ("done", "Done"),
        ("all", "All"),
    ]
    .into_iter()
    .map(|(v, l)| (v, l, format!("/ui/actions?show={v}")))
    .collect();
    Ok(page(
        StatusCode::OK,
        &ListPage {
            frame: Frame::of(&session, "Our actions"),
            lines,
            show: show.to_owned(),
            filters,
            done: !query::value(&pairs, "done").is_empty(),
            more: body.next_after.is_some(),
        },
    ))
}

#[derive(Template)]
#[template(path = "action_done.html")]
struct DonePage {
    frame: Frame,
    action: ActionLine,
    form: Form,
    csrf: String,
}

const DONE_LABELS: Labels<'static> = &[("note", "What was done")];
const DONE_FIELDS: &[Field<'static>] = &[Field::Text("note")];

async fn done_page(
    state: &AppState,
    session: &Session,
    id: CaseId,
    aid: CaseId,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let a = app::owned_action(state, &session.principal, id, aid)
        .await
        .map_err(refused)?;
    Ok(page(
        status,
        &DonePage {
            frame: Frame::of(session, "Mark an action as done"),
            action: line(state, &session.principal, &a),
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

/// `GET /ui/cases/{id}/actions/{aid}/done`: the action the person's agency owns (never the
/// case) and the form.
pub async fn done_form(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
) -> PageResult {
    let Path((id, aid)) = ids.map_err(refused)?;
    done_page(&state, &session, id, aid, Form::default(), StatusCode::OK).await
}

/// `POST /ui/cases/{id}/actions/{aid}/done`: marks it done through
/// `app::cases::complete_action`; on to "Our actions", or the form again as refused.
pub async fn done(
    State(state): State<AppState>,
    session: Session,
    ids: Result<Path<(CaseId, CaseId)>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path((id, aid)) = ids.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, mut errors) = form.to_json(DONE_FIELDS);
    let status = match parse::<CompleteAction>(value, DONE_LABELS) {
        Ok(body) if errors.is_empty() => {
            match app::complete_action(&state, &session.principal, id.clone(), aid.clone(), body)
                .await
            {
                Ok(_) => return Ok(Redirect::to("/ui/actions?done=1").into_response()),
                Err(e) if dead_end(&e) => return Err(refused(e)),
                Err(e) if e.code == "action_done" => {
                    errors.add("", "This action has been marked as done already");
                    e.status
                }
                Err(e) => {
                    errors.extend(form_errors(&e, &state, None, DONE_LABELS));
                    e.status
                }
            }
        }
        Ok(_) => StatusCode::UNPROCESSABLE_ENTITY,
        Err(e) => {
            errors.extend(e);
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    done_page(
        &state,
        &session,
        id,
        aid,
        Form::refused(form, errors),
        status,
    )
    .await
}
