//! `POST /v1/cases/{id}/events` (PROCESS.md, Event kinds and Outcomes): the lead agency records
//! a step of a case; the clocks are derived anew from every event, and the duties the step sets
//! off are carried out in the same write action. Events are never edited; a correction is a new
//! event with a note. Each refusal has its own code and writes nothing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::cases::{derive_clocks, hidden, refused, relation, text_field, views};
use super::extract::{
    CodedBody, FieldCodes, Path, commit_with, may_as, may_somewhere, not_permitted,
};
use crate::audit::Entry;
use crate::cases::store::{self, Event};
use crate::cases::{self, Happened, History, Proposed};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{CaseId, RecordId};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, CaseOutcome, EventKind};

/// The schema states what `cases::rules` refuses of the event alone: an outcome with
/// `outcome_recorded` and with no other kind (its rationale's least length is policy,
/// `rationale_min_chars`, counted after trimming).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"kind": {"const": "outcome_recorded"}}, "required": ["kind"]},
    "then" = {"required": ["outcome", "rationale"],
              "properties": {"outcome": {"type": "string"}, "rationale": {"type": "string"}}},
    "else" = {"properties": {"outcome": {"type": "null"}}}
))]
pub(crate) struct NewEvent {
    kind: EventKind,
    occurred_at: DateTime<Utc>,
    /// A record of this child the event produced (the minutes, the assessment).
    #[serde(default)]
    record_id: Option<RecordId>,
    /// With `outcome_recorded` only.
    #[serde(default)]
    outcome: Option<CaseOutcome>,
    /// Why: required with an outcome, at least `rationale_min_chars` (policies/parameters.csv).
    #[serde(default)]
    rationale: Option<String>,
    /// Free text; a correction of an earlier event is a new event with a note.
    #[serde(default)]
    note: Option<String>,
}

/// An unknown kind or outcome has its own code (PROCESS.md).
impl FieldCodes for NewEvent {
    const FIELD_CODES: &'static [(&'static str, &'static str)] = &[
        ("kind", "unknown_event_kind"),
        ("outcome", "unknown_outcome"),
    ];
}

/// `POST /v1/cases/{id}/events`: the lead agency records a step of the case. Events are never
/// edited; a correction is a new event with a note.
pub(crate) async fn event(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
    CodedBody(body): CodedBody<NewEvent>,
) -> Result<(StatusCode, Json<super::views::EventRecorded>), ApiError> {
    if !may_somewhere(&state, &principal, Action::RecordCaseEvent) {
        return Err(not_permitted(&principal, Action::RecordCaseEvent));
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
    let record = body.record_id.map(String::from);
    let rationale_enc = text_field(&state, "rationale", body.rationale.as_deref())?;
    let note_enc = text_field(&state, "note", body.note.as_deref())?;

    let mut tx = state.writer.begin().await?;
    let (case, events, stored) = store::load_for_write(&mut tx, &id)
        .await?
        .ok_or_else(|| hidden(&id))?;
    let holds = relation(&principal, &case);
    if !may_as(&state, &principal, Action::RecordCaseEvent, holds) {
        // a caller who could read it is told why; anyone else learns nothing of it
        return Err(if may_as(&state, &principal, Action::ReadCase, holds) {
            super::extract::require_as(&state, &principal, Action::RecordCaseEvent, holds)
                .err()
                .unwrap_or_else(|| hidden(&id))
        } else {
            hidden(&id)
        });
    }
    let happened: Vec<Happened> = events
        .iter()
        .map(|e| Happened {
            kind: e.kind,
            at: e.occurred_at,
        })
        .collect();
    let history = History {
        case_id: &id,
        status: case.status,
        referral_received_at: case.referral_received_at,
        events: &happened,
    };
    let change = cases::record(&parsed, &history).map_err(refused)?;
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
    };
    let clocks = derive_clocks(&state, case.referral_received_at, &change.steps, &stored)?;
    store::append_event(&mut tx, &id, &event).await?;
    store::store_clocks(&mut tx, &id, &case.lead_agency, change.status, &clocks).await?;
    store::update_case(&mut tx, &id, change.closed_at, change.outcome).await?;
    let duties = crate::app::duties::carry_out(
        &state,
        &principal,
        &mut tx,
        Trigger::Event(event.kind),
        crate::app::duties::ListedOn::Case(&case),
        record.as_deref(),
    )
    .await?;
    let audit_seq = commit_with(
        tx,
        Entry::new(&principal, "case.event")
            .subject(&case.subject_id)
            .detail(json!({
                "case_id": id, "seq": seq, "kind": event.kind, "outcome": event.outcome,
                "record_id": record, "occurred_at": event.occurred_at,
            })),
    )
    .await?;
    let at = cases::judged_at(change.closed_at, now());
    Ok((
        StatusCode::CREATED,
        Json(super::views::EventRecorded {
            seq,
            clocks: views(&clocks, at),
            duties: crate::app::views::duties(&duties),
            audit_seq,
        }),
    ))
}
