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
use super::cases::{agency_name, child_named};
use super::form::{Field, Form, FormFields, Labels, fields};
use super::labels::{self, Choice, Label, choices};
use super::session::{Session, check_csrf};
use super::transfers::{Outcome, submit};
use super::view::{Frame, PageResult, page, refused};
use crate::access::{Relation, may_as};
use crate::app::cases::{self as app, CaseView, NewEvent};
use crate::decision::clocks::Status;
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::{Action, EventKind, Route, ScreeningLevel, ScreeningTool};

/// The steps recorded on a page of their own here, not by the case page's step form.
pub const OWN_PAGE: &[EventKind] = &[
    EventKind::WorkerAllocated,
    EventKind::RouteDecided,
    EventKind::ClockNotRequired,
    EventKind::ScreeningCompleted,
];

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

/// What the case page offers of these (links shown to those who may use them).
pub struct OnCase {
    pub may_screen_and_route: bool,
    pub may_release: bool,
    /// The route decided last, in words; empty before one is.
    pub route: String,
    /// The latest screening, in words; empty before one.
    pub screening: String,
}

/// The relation the person holds to the case (as `app::cases::relation`, from its view).
fn holds(c: &CaseView, session: &Session) -> Relation {
    if c.lead_agency == *session.principal.agency {
        Relation::LeadAgency
    } else {
        Relation::None
    }
}

/// Whether the person may say a clock of this case is not required now.
fn may_release(state: &AppState, session: &Session, c: &CaseView) -> bool {
    c.may_record(state, &session.principal)
        && may_as(
            state,
            &session.principal,
            Action::SetClockNotRequired,
            holds(c, session),
        )
}

/// The latest screening of the case in words ("Red, Brook Traffic Light Tool"), if any.
fn latest_screening(c: &CaseView) -> String {
    c.events
        .iter()
        .filter(|e| e.kind == EventKind::ScreeningCompleted)
        .max_by_key(|e| (e.occurred_at, e.seq))
        .and_then(|e| Some((e.level?, e.tool?)))
        .map(|(l, t)| format!("{}, {}", l.label(), t.label()))
        .unwrap_or_default()
}

/// What a step names beyond its kind, in words: the route, the screening, the timescale.
pub fn detail(e: &crate::app::cases::EventView) -> String {
    if let Some(r) = e.route {
        return r.label().to_owned();
    }
    if let (Some(t), Some(l)) = (e.tool, e.level) {
        return format!("{}, {}", l.label(), t.label());
    }
    e.clock
        .as_deref()
        .map(|c| labels::clock(c).into_owned())
        .unwrap_or_default()
}

/// The case page's links and what they stand on.
pub fn on_case(state: &AppState, session: &Session, c: &CaseView) -> OnCase {
    let route = c
        .events
        .iter()
        .filter(|e| e.kind == EventKind::RouteDecided)
        .max_by_key(|e| (e.occurred_at, e.seq))
        .and_then(|e| e.route)
        .map(|r| r.label().to_owned())
        .unwrap_or_default();
    OnCase {
        may_screen_and_route: c.may_record(state, &session.principal),
        may_release: may_release(state, session, c),
        route,
        screening: latest_screening(c),
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
                state.policy.rationale_min_chars()
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
