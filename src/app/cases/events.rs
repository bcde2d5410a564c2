//! Recording a step of a case (`POST /v1/cases/{id}/events`, the console's case page; PROCESS.md,
//! Event kinds and Outcomes): the lead agency records it, the clocks are derived anew from
//! every event, and the duties the step sets off are carried out in the same write action.
//! Events are never edited; a correction is a new event with a note. Each refusal has its own
//! code and writes nothing; the step is audited as `case.event`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::transfers::{different_from_linked, lead_sub_field};
use super::{refused, relation, steps, text_field, views};
use crate::access::{may_as, may_somewhere, not_permitted, require_as};
use crate::app::views::{DutyView, duties};
use crate::audit::Entry;
use crate::cases::routes::{Given, Marks, below_threshold};
use crate::cases::store::Event;
use crate::cases::{self, ClockView, Proposed};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{CaseId, RecordId};
use crate::state::AppState;
use crate::vocab::{Action, CaseOutcome, EventKind, Route, ScreeningLevel, ScreeningTool};

/// A step as it arrives. The schema states what `cases::rules` refuses of the event alone: an
/// outcome with `outcome_recorded` and with no other kind (its rationale's least length is
/// policy, `rationale_min_chars`, counted after trimming).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"kind": {"const": "outcome_recorded"}}, "required": ["kind"]},
    "then" = {"required": ["outcome", "rationale"],
              "properties": {"outcome": {"type": "string"}, "rationale": {"type": "string"}}},
    "else" = {"properties": {"outcome": {"type": "null"}}},
    "allOf" = [{
        "if": {"properties": {"kind": {"const": "worker_allocated"}}, "required": ["kind"]},
        "then": {"required": ["lead_sub"],
                 "properties": {"lead_sub": {"type": "string", "minLength": 1, "maxLength": 200,
                                             "pattern": "\\S"}}},
        "else": {"properties": {"lead_sub": {"type": "null"}}}
    }, {
        "if": {"properties": {"kind": {"const": "route_decided"}}, "required": ["kind"]},
        "then": {"required": ["route", "rationale"],
                 "properties": {"route": {"type": "string"}, "rationale": {"type": "string"}}},
        "else": {"properties": {"route": {"type": "null"}}}
    }, {
        "if": {"properties": {"kind": {"const": "clock_not_required"}}, "required": ["kind"]},
        "then": {"required": ["clock", "rationale"],
                 "properties": {"clock": {"type": "string", "minLength": 1, "maxLength": 200},
                                "rationale": {"type": "string"}}},
        "else": {"properties": {"clock": {"type": "null"}}}
    }, {
        "if": {"properties": {"kind": {"const": "screening_completed"}}, "required": ["kind"]},
        "then": {"required": ["tool", "level", "rationale"],
                 "properties": {"tool": {"type": "string"}, "level": {"type": "string"},
                                "rationale": {"type": "string"}}},
        "else": {"properties": {"tool": {"type": "null"}, "level": {"type": "null"}}}
    }]
))]
pub struct NewEvent {
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    /// A record of this child the event produced (the minutes, the assessment).
    #[serde(default)]
    pub record_id: Option<RecordId>,
    /// With `outcome_recorded` only.
    #[serde(default)]
    pub outcome: Option<CaseOutcome>,
    /// Why: required with an outcome, at least `rationale_min_chars` (policies/parameters.csv).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Free text; a correction of an earlier event is a new event with a note.
    #[serde(default)]
    pub note: Option<String>,
    /// With `worker_allocated` only: the case's new lead worker (PROCESS.md P5).
    #[serde(default)]
    pub lead_sub: Option<String>,
    /// With `route_decided` only: the route the case now follows (PROCESS.md, Routes).
    #[serde(default)]
    pub route: Option<Route>,
    /// With `clock_not_required` only: the clock a team manager says is not required.
    #[serde(default)]
    pub clock: Option<String>,
    /// With `screening_completed` only: the screening tool used (PROCESS.md, Screening).
    #[serde(default)]
    pub tool: Option<ScreeningTool>,
    /// With `screening_completed` only: the level it found.
    #[serde(default)]
    pub level: Option<ScreeningLevel>,
}

/// A case event recorded (`POST /v1/cases/{id}/events`): its number in the case, the case's
/// clocks now and the duties it set off.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EventRecorded {
    pub seq: i64,
    pub clocks: Vec<ClockView>,
    pub duties: Vec<DutyView>,
    pub audit_seq: i64,
}

/// The lead agency records a step of case `id` (policy `record_case_event`, relation
/// `lead_agency`); anyone who may not read the case is answered 404 as for no case.
pub async fn record(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    body: NewEvent,
) -> Result<EventRecorded, ApiError> {
    if !may_somewhere(state, principal, Action::RecordCaseEvent) {
        return Err(not_permitted(principal, Action::RecordCaseEvent));
    }
    let parsed = Proposed::new(
        body.kind,
        body.occurred_at,
        body.outcome,
        body.rationale.as_deref(),
        state.policy().rationale_min_chars(),
        now(),
    )
    .map_err(refused)?;
    let allocated = match parsed.kind() {
        EventKind::WorkerAllocated => Some(lead_sub_field("lead_sub", body.lead_sub.as_deref())?),
        kind if body.lead_sub.is_some() => {
            return Err(ApiError::invalid_field(
                "lead_sub",
                format!("only a worker_allocated event names a lead worker, not {kind}"),
            ));
        }
        _ => None,
    };
    let marks = Marks::new(
        parsed.kind(),
        &Given {
            route: body.route,
            clock: body.clock.as_deref(),
            tool: body.tool,
            level: body.level,
            rationale: body.rationale.as_deref(),
        },
        state.policy().timescales(),
        state.policy().rationale_min_chars(),
    )
    .map_err(|r| ApiError::invalid(r.code(), r.to_string()))?;
    let record = body.record_id.map(String::from);
    let rationale_enc = text_field(state, "rationale", body.rationale.as_deref())?;
    let note_enc = text_field(state, "note", body.note.as_deref())?;

    let mut tx = state.writer.begin().await?;
    // a caller who could read it is told why; anyone else learns nothing of it
    let (case, events, stored) =
        steps::for_lead(state, principal, &mut tx, &id, Action::RecordCaseEvent).await?;
    let holds = relation(principal, &case);
    if parsed.kind() == EventKind::ClockNotRequired {
        require_as(state, principal, Action::SetClockNotRequired, holds)?;
    }
    let below = marks
        .route
        .and_then(|r| below_threshold(&events, r, state.policy().thresholds()));
    if let (Some(level), Some(route)) = (below, marks.route)
        && !may_as(state, principal, Action::DecideRouteBelowThreshold, holds)
    {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "route_below_threshold",
            format!(
                "route: the latest screening found {level}, which does not permit {route} \
                 (policies/thresholds.csv); a team manager decides a route below the threshold, \
                 with its rationale"
            ),
        ));
    }
    let mut change = steps::transition(&case, &events, &parsed)?;
    if let Some(sub) = &allocated {
        different_from_linked(&mut tx, &id, &case.lead_agency, sub).await?;
    }
    if let Some(r) = &record {
        steps::record_of_child(&mut tx, &case, "record_id", r).await?;
    }
    if parsed.kind() == EventKind::MinutesCirculated {
        super::minutes::circulated(&mut tx, &case, record.as_deref()).await?;
    }
    let seq = steps::next_seq(&events);
    let event = Event {
        seq,
        kind: parsed.kind(),
        occurred_at: parsed.occurred_at(),
        record_id: record.clone(),
        outcome: change.outcome,
        rationale_enc,
        note_enc,
        agency: principal.agency.to_string(),
        sub: principal.sub.clone(),
        recorded_at: now(),
        lead_sub: allocated.clone(),
        route: marks.route,
        clock: marks.clock.clone(),
        screening: marks.screening,
    };
    // the new step as the clocks see it, with the route or clock it names
    if let Some(last) = change.steps.last_mut() {
        *last = event.happened();
    }
    if let Some(sub) = &allocated {
        crate::cases::transfers::set_lead_sub(&mut tx, &id, sub).await?;
    }
    let (clocks, carried) =
        steps::append(state, principal, &mut tx, &case, &stored, &change, &event).await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.event")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": id, "seq": seq, "kind": event.kind, "outcome": event.outcome,
                    "record_id": record, "occurred_at": event.occurred_at,
                    "lead_sub": allocated, "route": marks.route, "clock": marks.clock,
                    "screening_tool": marks.screening.map(|(t, _)| t),
                    "screening_level": marks.screening.map(|(_, l)| l),
                    "below_threshold": below,
                })),
        )
        .await?;
    let at = cases::judged_at(change.closed_at, now());
    Ok(EventRecorded {
        seq,
        clocks: views(&clocks, at),
        duties: duties(&carried),
        audit_seq,
    })
}
