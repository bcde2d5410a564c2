//! `POST /v1/cases/{id}/events` (PROCESS.md, Event kinds and Outcomes): the lead agency records
//! a step of a case; the clocks are derived anew from every event, and the duties the step sets
//! off are carried out in the same write action. Events are never edited; a correction is a new
//! event with a note. Each refusal has its own code and writes nothing.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::cases::{conflict, derive_clocks, happened, hidden, relation, text_field, views};
use super::extract::{Body, commit_with, invalid, may_as, may_somewhere, not_permitted};
use crate::audit::Entry;
use crate::cases::store::{self, Event};
use crate::cases::{self, Happened};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{CaseId, RecordId};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, CaseOutcome, CaseStatus, EventKind};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEvent {
    #[schemars(with = "EventKind")]
    kind: String,
    occurred_at: DateTime<Utc>,
    /// A record of this child the event produced (the minutes, the assessment).
    #[serde(default)]
    record_id: Option<String>,
    /// With `outcome_recorded` only.
    #[serde(default)]
    #[schemars(with = "Option<CaseOutcome>")]
    outcome: Option<String>,
    /// Why: required with an outcome, at least `rationale_min_chars` (policies/parameters.csv).
    #[serde(default)]
    rationale: Option<String>,
    /// Free text; a correction of an earlier event is a new event with a note.
    #[serde(default)]
    note: Option<String>,
}

/// A validated event, before the case is read.
struct Parsed {
    kind: EventKind,
    outcome: Option<CaseOutcome>,
}

fn parse_event(state: &AppState, body: &NewEvent) -> Result<Parsed, ApiError> {
    let kind: EventKind = body.kind.parse().map_err(|e: crate::vocab::UnknownTerm| {
        ApiError::invalid("unknown_event_kind", format!("kind: {e}"))
    })?;
    let outcome: Option<CaseOutcome> = body
        .outcome
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: crate::vocab::UnknownTerm| {
            ApiError::invalid("unknown_outcome", format!("outcome: {e}"))
        })?;
    happened("occurred_at", body.occurred_at)?;
    match (kind, outcome) {
        (EventKind::OutcomeRecorded, None) => {
            return Err(ApiError::invalid(
                "outcome_missing",
                "outcome: an outcome_recorded event names its outcome",
            ));
        }
        (EventKind::OutcomeRecorded, Some(_)) => {
            let min = state.policy.rationale_min_chars();
            let given = body
                .rationale
                .as_deref()
                .map_or(0, |r| r.trim().chars().count());
            if given < min {
                return Err(ApiError::invalid(
                    "rationale_too_short",
                    format!(
                        "rationale: an outcome needs its rationale clearly recorded, at least {min} \
                         characters (policies/parameters.csv rationale_min_chars); {given} given"
                    ),
                ));
            }
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "outcome_not_expected",
                format!("outcome: only an outcome_recorded event carries an outcome, not {kind}"),
            ));
        }
        (_, None) => {}
    }
    Ok(Parsed { kind, outcome })
}

/// `POST /v1/cases/{id}/events`: the lead agency records a step of the case. Events are never
/// edited; a correction is a new event with a note.
pub(crate) async fn event(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<NewEvent>,
) -> Result<(StatusCode, Json<super::views::EventRecorded>), ApiError> {
    let id = super::extract::path_id::<CaseId>(&id).map(String::from)?;
    if !may_somewhere(&state, &principal, Action::RecordCaseEvent) {
        return Err(not_permitted(&principal, Action::RecordCaseEvent));
    }
    let parsed = parse_event(&state, &body)?;
    let record = body
        .record_id
        .as_deref()
        .map(|r| {
            super::extract::path_id::<RecordId>(r)
                .map(String::from)
                .map_err(|_| invalid("record_id", "is not a valid record id"))
        })
        .transpose()?;
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
    if case.status == CaseStatus::Closed {
        return Err(conflict(
            "case_closed",
            format!("case {id} is closed; open a new case if the child is referred again"),
        ));
    }
    if body.occurred_at < case.referral_received_at {
        return Err(ApiError::invalid(
            "event_before_referral",
            format!(
                "occurred_at: {} is before the referral was received ({})",
                body.occurred_at, case.referral_received_at
            ),
        ));
    }
    if parsed.kind == EventKind::CaseClosed
        && !events.iter().any(|e| e.kind == EventKind::OutcomeRecorded)
    {
        return Err(conflict(
            "outcome_required",
            "a case is closed only after its outcome has been recorded with its rationale",
        ));
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
        kind: parsed.kind,
        occurred_at: body.occurred_at,
        record_id: record.clone(),
        outcome: parsed.outcome,
        rationale_enc,
        note_enc,
        agency: principal.agency.to_string(),
        sub: principal.sub.clone(),
        recorded_at: now(),
    };
    let mut steps: Vec<Happened> = events
        .iter()
        .map(|e| Happened {
            kind: e.kind,
            at: e.occurred_at,
        })
        .collect();
    steps.push(Happened {
        kind: event.kind,
        at: event.occurred_at,
    });
    let clocks = derive_clocks(&state, case.referral_received_at, &steps, &stored)?;
    store::append_event(&mut tx, &id, &event).await?;
    let status = if event.kind == EventKind::CaseClosed {
        CaseStatus::Closed
    } else {
        case.status
    };
    store::store_clocks(&mut tx, &id, &case.lead_agency, status, &clocks).await?;
    let closed_at = (event.kind == EventKind::CaseClosed).then_some(event.occurred_at);
    store::update_case(&mut tx, &id, closed_at, event.outcome).await?;
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
    let at = cases::judged_at(closed_at, now());
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
