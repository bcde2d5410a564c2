//! What a case's page shows of its pathway (PROCESS.md, Routes and Screening): the route
//! decided last and the latest screening in words, each step's route, screening or timescale,
//! and which of the pathway's pages (`case_route`) the person may use. Below both the case page
//! (`cases`) and those pages, which read it.

use super::labels::{self, Label};
use super::session::Session;
use crate::access::{Relation, may_as};
use crate::app::cases::{CaseView, EventView};
use crate::state::AppState;
use crate::vocab::{Action, EventKind};

/// The steps recorded on a page of their own here, not by the case page's step form.
pub const OWN_PAGE: &[EventKind] = &[
    EventKind::WorkerAllocated,
    EventKind::RouteDecided,
    EventKind::ClockNotRequired,
    EventKind::ScreeningCompleted,
];

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
pub(super) fn may_release(state: &AppState, session: &Session, c: &CaseView) -> bool {
    c.may_record(state, &session.principal)
        && may_as(
            state,
            &session.principal,
            Action::SetClockNotRequired,
            holds(c, session),
        )
}

/// The latest screening of the case in words ("Red, Brook Traffic Light Tool"), if any.
pub(super) fn latest_screening(c: &CaseView) -> String {
    c.events
        .iter()
        .filter(|e| e.kind == EventKind::ScreeningCompleted)
        .max_by_key(|e| (e.occurred_at, e.seq))
        .and_then(|e| Some((e.level?, e.tool?)))
        .map(|(l, t)| format!("{}, {}", l.label(), t.label()))
        .unwrap_or_default()
}

/// What a step names beyond its kind, in words: the route, the screening, the timescale.
pub fn detail(e: &EventView) -> String {
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
