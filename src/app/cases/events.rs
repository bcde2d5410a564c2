//! Recording a step of a case (`POST /v1/cases/{id}/events`, the console's case page; PROCESS.md,
//! Event kinds and Outcomes): the lead agency records it, the clocks are derived anew from
//! every event, and the duties the step sets off are carried out in the same write action.
//! Events are never edited; a correction is a new event with a note. Each refusal has its own
//! code and writes nothing; the step is audited as `case.event`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::transfers::{different_from_linked, lead_sub_field, reads_in_write};
use super::{derive_clocks, hidden, refused, relation, text_field, views};
use crate::access::{may_as, may_somewhere, not_permitted, require_as};
use crate::app::duties::{ListedOn, carry_out};
use crate::app::views::{DutyView, duties};
use crate::audit::Entry;
use crate::cases::routes::{Given, Marks, below_threshold};
use crate::cases::store::{self, Event};
use crate::cases::{self, ClockView, Happened, History, Proposed};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{CaseId, RecordId};
use crate::on_tx;
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
        state.policy.rationale_min_chars(),
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
        state.policy.timescales(),
        state.policy.rationale_min_chars(),
    )
    .map_err(|r| ApiError::invalid(r.code(), r.to_string()))?;
    let record = body.record_id.map(String::from);
    let rationale_enc = text_field(state, "rationale", body.rationale.as_deref())?;
    let note_enc = text_field(state, "note", body.note.as_deref())?;

    let mut tx = state.writer.begin().await?;
    let (case, events, stored) = store::load_for_write(&mut tx, &id)
        .await?
        .ok_or_else(|| hidden(&id))?;
    let holds = relation(principal, &case);
    if !may_as(state, principal, Action::RecordCaseEvent, holds) {
        // a caller who could read it is told why; anyone else learns nothing of it
        return Err(
            if may_as(state, principal, Action::ReadCase, holds)
                || reads_in_write(state, principal, &mut tx, &case).await?
                || super::involved::may_read(state, principal, &case).await?
            {
                require_as(state, principal, Action::RecordCaseEvent, holds)
                    .err()
                    .unwrap_or_else(|| hidden(&id))
            } else {
                hidden(&id)
            },
        );
    }
    if parsed.kind() == EventKind::ClockNotRequired {
        require_as(state, principal, Action::SetClockNotRequired, holds)?;
    }
    let below = marks
        .route
        .and_then(|r| below_threshold(&events, r, state.policy.thresholds()));
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
    let happened: Vec<Happened> = events.iter().map(Event::happened).collect();
    let history = History {
        case_id: &id,
        status: case.status,
        referral_received_at: case.referral_received_at,
        events: &happened,
    };
    let mut change = cases::record(&parsed, &history).map_err(refused)?;
    if let Some(sub) = &allocated {
        different_from_linked(&mut tx, &id, &case.lead_agency, sub).await?;
    }
    if let Some(r) = &record {
        let of: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT subject_id FROM records WHERE id = $1")
            .bind(r)
            .fetch_optional(&mut **c)
            .await?);
        match of {
            None => {
                return Err(ApiError::invalid(
                    "unknown_record",
                    format!("record_id: no record {r}"),
                ));
            }
            Some(s) if s != case.subject_id => {
                return Err(ApiError::invalid(
                    "record_not_about_child",
                    format!("record_id: record {r} is about another child"),
                ));
            }
            Some(_) => {}
        }
    }
    let seq = events.last().map_or(1, |e| e.seq + 1);
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
    let clocks = derive_clocks(state, case.referral_received_at, &change.steps, &stored)?;
    store::append_event(&mut tx, &id, &event).await?;
    store::store_clocks(&mut tx, &id, &case.lead_agency, change.status, &clocks).await?;
    store::update_case(&mut tx, &id, change.closed_at, change.outcome).await?;
    if let Some(sub) = &allocated {
        crate::cases::transfers::set_lead_sub(&mut tx, &id, sub).await?;
    }
    let carried = carry_out(
        state,
        principal,
        &mut tx,
        Trigger::Event(event.kind),
        ListedOn::Case(&case),
        record.as_deref(),
    )
    .await?;
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
