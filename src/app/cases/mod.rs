//! Cases (PROCESS.md, Cases): reading one case with its events, clocks, links and duties, and
//! the list a team manager starts the day with; opening a case (`open`) and recording its
//! steps (`events`). Who may do each is `policies/actions.csv` (`open_case`, `read_case`,
//! `record_case_event`, `list_cases`, `read_all_cases`) with the relation `lead_agency`; each
//! is audited (`case.open`, `case.event`, `case.read`, `case.list`). A case the caller may not
//! see answers 404 exactly like one that does not exist.

mod actions;
mod child;
mod events;
mod involved;
mod meeting_views;
mod meetings;
mod minutes;
mod open;
mod steps;
mod transfers;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::views::{DutyView, duties};
use crate::access::{Relation, may, may_as, may_somewhere, not_permitted, require};
use crate::audit::Entry;
use crate::cases::store::{self, Case, Filter, Full};
use crate::cases::{self, Clock, ClockView, Happened};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::ids::parse as path_id;
use crate::state::AppState;
use crate::vocab::{
    Action, CaseOutcome, CaseStatus, EventKind, Route, ScreeningLevel, ScreeningTool, SubjectRole,
};
pub use actions::{
    ActionAgreed, ActionDone, ActionFilters, ActionList, ActionStatus, ActionView, CompleteAction,
    NewAction, agree as agree_action, complete as complete_action, owned as owned_actions,
    owned_one as owned_action, owners as action_owners,
};
pub use child::{ChildNamed, to_open};
pub use events::{EventRecorded, NewEvent, record};
pub use meeting_views::{AttendanceView, MeetingView, ReportChoice, invitable, report_choices};
pub use meetings::{
    AttendanceRecorded, MeetingScheduled, NewAttendance, NewMeeting, attend,
    schedule as schedule_meeting,
};
pub use minutes::minutes_unsent;
pub use open::{CaseOpened, NewCase, open};
pub use transfers::{
    AcceptTransfer, NewTransfer, TransferAccepted, TransferRequested, TransferView, Waiting,
    accept as accept_transfer, destinations, request as request_transfer,
    waiting as transfers_waiting,
};

pub use super::MAX_TEXT_CHARS;
use super::{sealed_text as text_field, unsealed_text as unseal};

fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}

/// A case rule's refusal as the API answers it: 409 where the event conflicts with the case
/// as it stands, else 422.
fn refused(r: cases::Refusal) -> ApiError {
    let status = if r.is_conflict() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(status, r.code(), r.to_string())
}

/// The clocks of `events` on a case referred at `referral`, from the loaded policy.
fn derive_clocks(
    state: &AppState,
    referral: DateTime<Utc>,
    events: &[Happened],
    stored: &[Clock],
) -> Result<Vec<Clock>, ApiError> {
    cases::derive(
        referral,
        events,
        state.policy().timescales(),
        state.policy().calendar(),
        stored,
    )
    .map_err(|e| ApiError::invalid("beyond_calendar", e.to_string()))
}

/// 404 for a case the caller may not see, worded as for one that does not exist.
pub fn hidden(id: &str) -> ApiError {
    ApiError::not_found(format!("no case {id} that you can see"))
}

/// The relation between the caller and a case.
pub fn relation(principal: &Principal, case: &Case) -> Relation {
    if case.lead_agency == *principal.agency {
        Relation::LeadAgency
    } else {
        Relation::None
    }
}

/// The clocks as shown at `at`.
pub fn views(clocks: &[Clock], at: DateTime<Utc>) -> Vec<ClockView> {
    clocks.iter().map(|c| c.view(at)).collect()
}

/// A step of a case as it is shown, its rationale and note unsealed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EventView {
    pub seq: i64,
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    pub record_id: Option<String>,
    pub outcome: Option<CaseOutcome>,
    pub rationale: Option<String>,
    pub note: Option<String>,
    pub agency: String,
    pub sub: String,
    pub recorded_at: DateTime<Utc>,
    /// The worker a `worker_allocated` event allocated (PROCESS.md P5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_sub: Option<String>,
    /// The route a `route_decided` event decided (PROCESS.md, Routes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<Route>,
    /// The clock a `clock_not_required` event released.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<String>,
    /// The tool of a `screening_completed` event (PROCESS.md, Screening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<ScreeningTool>,
    /// The level it found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<ScreeningLevel>,
}

/// A case as `GET /v1/cases/{id}` shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseView {
    pub id: String,
    pub subject_id: String,
    pub subject_role: SubjectRole,
    pub lead_agency: String,
    pub lead_sub: String,
    pub referred_by_agency: Option<String>,
    pub referral_received_at: DateTime<Utc>,
    pub status: CaseStatus,
    pub outcome: Option<CaseOutcome>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Shown to the lead agency and the partnership's IG officers only.
    pub linked_case_ids: Vec<String>,
    pub events: Vec<EventView>,
    pub clocks: Vec<ClockView>,
    pub duties: Vec<DutyView>,
    /// The duties a record set off about the child before the case was opened.
    pub record_duties: Vec<DutyView>,
    /// The transfers of the case to another agency (PROCESS.md P4), in the order asked.
    pub transfers: Vec<TransferView>,
    /// Agencies involved in the case besides its lead: the placing authority of a looked-after
    /// child placed in the lead's area (PROCESS.md P3).
    pub involved_agencies: Vec<String>,
    /// The actions agreed on the case (PROCESS.md, Actions), in the order agreed.
    pub actions: Vec<ActionView>,
    /// The requests for information made for the case (PROCESS.md), in the order asked.
    pub requests: Vec<super::requests::RequestView>,
    /// The meetings of the case (PROCESS.md, Meetings), with invitees and attendance, in the
    /// order they are scheduled for.
    pub meetings: Vec<MeetingView>,
}

fn case_view(state: &AppState, full: &Full, show_links: bool) -> Result<CaseView, ApiError> {
    let c = &full.case;
    let at = cases::judged_at(c.closed_at, now());
    let mut events = Vec::with_capacity(full.events.len());
    for e in &full.events {
        events.push(EventView {
            seq: e.seq,
            kind: e.kind,
            occurred_at: e.occurred_at,
            record_id: e.record_id.clone(),
            outcome: e.outcome,
            rationale: unseal(state, &e.rationale_enc)?,
            note: unseal(state, &e.note_enc)?,
            agency: e.agency.clone(),
            sub: e.sub.clone(),
            recorded_at: e.recorded_at,
            lead_sub: e.lead_sub.clone(),
            route: e.route,
            clock: e.clock.clone(),
            tool: e.screening.map(|(t, _)| t),
            level: e.screening.map(|(_, l)| l),
        });
    }
    let record_duties = full
        .record_duties
        .iter()
        .map(|(record, d)| DutyView {
            record_id: Some(record.clone()),
            ..DutyView::from(d)
        })
        .collect();
    Ok(CaseView {
        id: c.id.clone(),
        subject_id: c.subject_id.clone(),
        subject_role: c.subject_role,
        lead_agency: c.lead_agency.clone(),
        lead_sub: c.lead_sub.clone(),
        referred_by_agency: c.referred_by_agency.clone(),
        referral_received_at: c.referral_received_at,
        status: c.status,
        outcome: c.outcome,
        opened_at: c.opened_at,
        closed_at: c.closed_at,
        linked_case_ids: if show_links {
            full.linked_case_ids.clone()
        } else {
            Vec::new()
        },
        events,
        clocks: views(&full.clocks, at),
        duties: duties(&full.duties),
        record_duties,
        transfers: Vec::new(),
        involved_agencies: Vec::new(),
        actions: Vec::new(),
        requests: Vec::new(),
        meetings: Vec::new(),
    })
}

impl CaseView {
    /// Whether the caller may record a step of this case now: it is open and the policy lets
    /// them (`record_case_event`, with the relation they hold), as [`record`] would check.
    pub fn may_record(&self, state: &AppState, principal: &Principal) -> bool {
        let holds = if self.lead_agency == *principal.agency {
            Relation::LeadAgency
        } else {
            Relation::None
        };
        self.status == CaseStatus::Open && may_as(state, principal, Action::RecordCaseEvent, holds)
    }
}

/// One case, to the lead agency and the partnership's IG officers (the links to them only: a
/// case's link never travels in a packet); audited as `case.read`.
pub async fn read(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
) -> Result<CaseView, ApiError> {
    if !may_somewhere(state, principal, Action::ReadCase) {
        return Err(not_permitted(principal, Action::ReadCase));
    }
    let full = store::load(&state.db, &id)
        .await?
        .ok_or_else(|| hidden(&id))?;
    let subject = full.case.subject_id.clone();
    let involved_agencies = crate::cases::involved::of_case(&state.db, &id).await?;
    let held = involved::relations(state, principal, &full.case, &involved_agencies).await?;
    let as_involved = held
        .iter()
        .any(|&r| may_as(state, principal, Action::ReadCase, r));
    // the lead, a transfer's addressee, a former lead (PROCESS.md P4) or the partnership; else
    // an agency involved in it or the placing authority's IRO (P3)
    let mut view = match transfers::view_for(state, principal, full.clone()).await? {
        Some(view) => view,
        None if as_involved => case_view(state, &full, false)?,
        None => return Err(hidden(&id)),
    };
    view.involved_agencies = involved_agencies;
    // the requests made for the case: all to its lead and the partnership; to anyone else who
    // reads it (a former lead, an involved agency) those its agency asked or was asked
    let sees_all =
        view.lead_agency == *principal.agency || may(state, principal, Action::ReadAllCases);
    view.requests = super::requests::of_case(state, &id)
        .await?
        .into_iter()
        .filter(|r| {
            sees_all || r.from_agency == *principal.agency || r.to_agency == *principal.agency
        })
        .collect();
    // a former lead sees the meetings until the acceptance that took the case away (P4)
    let until = (view.lead_agency != *principal.agency)
        .then(|| {
            view.transfers
                .iter()
                .filter(|t| t.from_agency == *principal.agency)
                .filter_map(|t| t.accepted_at)
                .max()
        })
        .flatten();
    view.meetings = meeting_views::of_case(state, &id, until).await?;
    view.actions = actions::of_case(state, &id, until).await?;
    let tx = state.writer.begin().await?;
    tx.commit(
        Entry::new(principal, "case.read")
            .subject(&subject)
            .detail(json!({"case_id": id})),
    )
    .await?;
    Ok(view)
}

/// The filters of `GET /v1/cases`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    pub status: Option<CaseStatus>,
    /// `true`: only open cases with a clock running past its due time.
    pub overdue: Option<bool>,
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub lead_sub: Option<String>,
    /// Only the cases of children whose home area or current area (where they live) is this
    /// area id (PROCESS.md, Places); an unknown one is 422 `unknown_area`.
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub area: Option<String>,
    /// Cases opened after this one (the last id of the previous page).
    #[schemars(extend("format" = "uuid"))]
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
}

/// A case in the list, with its clocks.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseSummary {
    pub id: String,
    pub subject_id: String,
    pub subject_role: SubjectRole,
    pub lead_agency: String,
    pub lead_sub: String,
    pub status: CaseStatus,
    pub outcome: Option<CaseOutcome>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub referral_received_at: DateTime<Utc>,
    pub clocks: Vec<ClockView>,
}

/// A page of `GET /v1/cases`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CaseList {
    pub cases: Vec<CaseSummary>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<String>,
}

/// The caller's agency's cases (every agency's for the partnership's IG officers), in opening
/// order, with their clocks; audited as `case.list`.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    f: &Filters,
) -> Result<CaseList, ApiError> {
    require(state, principal, Action::ListCases)?;
    let limit = crate::app::page_limit(f.limit)?;
    let after = f
        .after
        .as_deref()
        .map(|a| path_id::<CaseId>(a).map(String::from))
        .transpose()?;
    let at = now();
    let filter = Filter {
        lead_agency: (!may(state, principal, Action::ReadAllCases))
            .then(|| principal.agency.to_string()),
        or_involved: may_as(state, principal, Action::ReadCase, Relation::InvolvedAgency),
        status: f.status,
        overdue_at: f.overdue.unwrap_or(false).then_some(at),
        lead_sub: f.lead_sub.clone(),
        area: f
            .area
            .as_deref()
            .map(|a| crate::app::places::known_area(state, "area", a))
            .transpose()?,
        after,
        limit,
    };
    let rows = store::list(&state.db, &filter).await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|(c, _)| c.id.clone()))
        .flatten();
    let cases: Vec<CaseSummary> = rows
        .iter()
        .map(|(c, clocks)| CaseSummary {
            id: c.id.clone(),
            subject_id: c.subject_id.clone(),
            subject_role: c.subject_role,
            lead_agency: c.lead_agency.clone(),
            lead_sub: c.lead_sub.clone(),
            status: c.status,
            outcome: c.outcome,
            opened_at: c.opened_at,
            closed_at: c.closed_at,
            referral_received_at: c.referral_received_at,
            clocks: views(clocks, cases::judged_at(c.closed_at, at)),
        })
        .collect();
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(principal, "case.list").detail(json!({
        "status": f.status, "overdue": f.overdue, "lead_agency": filter.lead_agency,
        "area": filter.area,
        "count": cases.len(),
    })))
    .await?;
    Ok(CaseList {
        cases,
        next_after: next,
    })
}
