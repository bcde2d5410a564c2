//! The pathway of a case, from its page (PROCESS.md, Routes and Screening): "Record a
//! screening" (`/ui/cases/{id}/screening`: the tool and the level it found, with why), "Decide
//! the route" (`/ui/cases/{id}/route`: a section 47 enquiry, a single assessment, early help or
//! no further action, with why; the latest screening is shown, and a route below its threshold
//! is a team manager's) and "A timescale is not required" (`/ui/cases/{id}/not-required`: a
//! team manager picks a running clock). Each is a step recorded through `app::cases::record`,
//! as `POST /v1/cases/{id}/events` records it; refused, the form again with what was typed.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::Value;

use super::Posted;
use super::case_pathway::{latest_screening, may_release};
use super::cases::{agency_name, child_named};
use super::form::{Field, Form, FormFields, Labels, fields};
use super::labels::{self, Choice, choices};
use super::session::{Session, check_csrf};
use super::transfers::{Outcome, submit};
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{self as app, CaseView, NewEvent};
use crate::decision::clocks::Status;
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::{EventKind, Route, ScreeningLevel, ScreeningTool};

/// Which of the three forms a page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Screening,
    Route,
    NotRequired,
}

impl Which {
    fn kind(self) -> EventKind {
        match self {
            Which::Screening => EventKind::ScreeningCompleted,
            Which::Route => EventKind::RouteDecided,
            Which::NotRequired => EventKind::ClockNotRequired,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Which::Screening => "screening",
            Which::Route => "route",
            Which::NotRequired => "not-required",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Which::Screening => "Record a screening",
            Which::Route => "Decide the route",
            Which::NotRequired => "A timescale is not required",
        }
    }

    fn labels(self) -> Labels<'static> {
        match self {
            Which::Screening => &[
                ("tool", "Screening tool"),
                ("level", "Level"),
                ("occurred_at", "When it was completed"),
                ("rationale", "Why this level"),
            ],
            Which::Route => &[
                ("route", "Route"),
                ("occurred_at", "When it was decided"),
                ("rationale", "Why this route"),
            ],
            Which::NotRequired => &[
                ("clock", "Timescale"),
                ("occurred_at", "When it was decided"),
                ("rationale", "Why it is not required"),
            ],
        }
    }

    fn fields(self) -> &'static [Field<'static>] {
        match self {
            Which::Screening => &[
                Field::Trimmed("tool"),
                Field::Trimmed("level"),
                Field::DateTime("occurred_at", "When it was completed"),
                Field::Text("rationale"),
            ],
            Which::Route => &[
                Field::Trimmed("route"),
                Field::DateTime("occurred_at", "When it was decided"),
                Field::Text("rationale"),
            ],
            Which::NotRequired => &[
                Field::Trimmed("clock"),
                Field::DateTime("occurred_at", "When it was decided"),
                Field::Text("rationale"),
            ],
        }
    }
}

#[derive(Template)]
#[template(path = "case_route.html")]
struct RoutePage {
    frame: Frame,
    which: &'static str,
    title: &'static str,
    action: String,
    id: String,
    child: String,
    born: String,
    lead_agency: String,
    allowed: bool,
    why_not: String,
    screening: String,
    choices: Vec<Choice>,
    levels: Vec<Choice>,
    rationale_hint: String,
    form: Form,
    csrf: String,
}

async fn route_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    which: Which,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    let (allowed, why_not) = match which {
        Which::NotRequired => (
            may_release(state, session, &c),
            "Only a team manager of the agency leading an open case may say a timescale is not \
             required.",
        ),
        _ => (
            c.may_record(state, &session.principal),
            "Only the agency leading an open case records its screening and its route.",
        ),
    };
    let options = match which {
        Which::Screening => choices::<ScreeningTool>(),
        Which::Route => choices::<Route>(),
        // the clocks still running, by name
        Which::NotRequired => {
            let mut running: Vec<Choice> = Vec::new();
            for k in c
                .clocks
                .iter()
                .filter(|k| matches!(k.status, Status::Pending | Status::Overdue))
            {
                if !running.iter().any(|r| r.value == k.clock) {
                    running.push(Choice::new(k.clock.clone(), labels::clock(&k.clock)));
                }
            }
            running
        }
    };
    Ok(page(
        status,
        &RoutePage {
            frame: Frame::of(session, &format!("{}: {child}", which.title())),
            which: which.path(),
            title: which.title(),
            action: format!("/ui/cases/{}/{}", c.id, which.path()),
            id: c.id.clone(),
            child,
            born,
            lead_agency: agency_name(state, &c.lead_agency),
            allowed,
            why_not: why_not.to_owned(),
            screening: latest_screening(&c),
            choices: options,
            levels: choices::<ScreeningLevel>(),
            rationale_hint: format!(
                "At least {} characters. It is kept with the case and read by the partnership's \
                 auditors.",
                state.policy().rationale_min_chars()
            ),
            form,
            csrf: session.csrf.clone(),
        },
    ))
}

async fn blank(
    state: AppState,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    which: Which,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let c = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    route_page(&state, &session, c, which, Form::default(), StatusCode::OK).await
}

async fn post(
    state: AppState,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
    which: Which,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (mut value, errors) = form.to_json(which.fields());
    value["kind"] = Value::from(which.kind().as_str());
    let (s, p, case) = (&state, &session.principal, id.clone());
    let outcome = submit(
        s,
        value,
        errors,
        which.labels(),
        |body: NewEvent| async move {
            app::record(s, p, case.clone(), body)
                .await
                .map(|done| format!("/ui/cases/{case}?recorded={}#case-events", done.seq))
        },
    )
    .await?;
    match outcome {
        Outcome::Done(next) => Ok(Redirect::to(&next).into_response()),
        Outcome::Refused(errors, status) => {
            let c = app::read(&state, &session.principal, id)
                .await
                .map_err(refused)?;
            route_page(
                &state,
                &session,
                c,
                which,
                Form::refused(form, errors),
                status,
            )
            .await
        }
    }
}

/// `GET /ui/cases/{id}/screening`.
pub async fn screening_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    blank(state, session, id, Which::Screening).await
}

/// `POST /ui/cases/{id}/screening`: a `screening_completed` step.
pub async fn screening(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    post(state, session, id, posted, Which::Screening).await
}

/// `GET /ui/cases/{id}/route`.
pub async fn route_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    blank(state, session, id, Which::Route).await
}

/// `POST /ui/cases/{id}/route`: a `route_decided` step.
pub async fn route(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    post(state, session, id, posted, Which::Route).await
}

/// `GET /ui/cases/{id}/not-required`.
pub async fn not_required_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    blank(state, session, id, Which::NotRequired).await
}

/// `POST /ui/cases/{id}/not-required`: a `clock_not_required` step.
pub async fn not_required(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    post(state, session, id, posted, Which::NotRequired).await
}
