//! A step joining a case inside a write action, shared by every action that records one (an
//! event posted, a strategy meeting held by recording its attendance): the case rules say how
//! the case changes (`cases::record`), then the event is stored, the clocks derived anew from
//! every event and stored, the case's status and outcome updated, and the duties the step sets
//! off carried out, all in the caller's transaction. The caller checks who may, builds the
//! event and writes its own audit entry.

use super::transfers::reads_in_write;
use super::{derive_clocks, hidden, refused, relation};
use crate::access::{may_as, require_as};
use crate::app::duties::{ListedOn, carry_out};
use crate::cases::store::{self, Case, Duty, Event};
use crate::cases::{self, Clock, Happened, History, Proposed, Transition};
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;
use crate::writer::WriteTx;

/// Case `id` read for a write that `action` governs (with the relation `lead_agency`): its row,
/// events and stored clocks. A caller who may read the case but not do this is told why (403);
/// anyone else learns nothing of it (404 as for no case).
pub(super) async fn for_lead(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    id: &str,
    action: Action,
) -> Result<(Case, Vec<Event>, Vec<Clock>), ApiError> {
    let (case, events, stored) = store::load_for_write(tx, id)
        .await?
        .ok_or_else(|| hidden(id))?;
    let holds = relation(principal, &case);
    if may_as(state, principal, action, holds) {
        return Ok((case, events, stored));
    }
    Err(
        if may_as(state, principal, Action::ReadCase, holds)
            || reads_in_write(state, principal, tx, &case).await?
            || super::involved::may_read(state, principal, &case).await?
        {
            require_as(state, principal, action, holds)
                .err()
                .unwrap_or_else(|| hidden(id))
        } else {
            hidden(id)
        },
    )
}

/// 422 unless record `record` (given as `field`) exists and is about `case`'s child
/// (`unknown_record`, `record_not_about_child`).
pub(super) async fn record_of_child(
    tx: &mut WriteTx,
    case: &Case,
    field: &str,
    record: &str,
) -> Result<(), ApiError> {
    match crate::cases::meetings::record_subject(tx, record).await? {
        None => Err(ApiError::invalid(
            "unknown_record",
            format!("{field}: no record {record}"),
        )),
        Some(s) if s != case.subject_id => Err(ApiError::invalid(
            "record_not_about_child",
            format!("{field}: record {record} is about another child"),
        )),
        Some(_) => Ok(()),
    }
}

/// How `parsed` would change `case`, which has had `events` (a refusal writes nothing).
pub(super) fn transition(
    case: &Case,
    events: &[Event],
    parsed: &Proposed,
) -> Result<Transition, ApiError> {
    let happened: Vec<Happened> = events.iter().map(Event::happened).collect();
    let history = History {
        case_id: &case.id,
        status: case.status,
        referral_received_at: case.referral_received_at,
        events: &happened,
    };
    cases::record(parsed, &history).map_err(refused)
}

/// The number the next event of a case with `events` takes.
pub(super) fn next_seq(events: &[Event]) -> i64 {
    events.last().map_or(1, |e| e.seq + 1)
}

/// Stores `event` on `case` as `change` says (its clocks derived from `change.steps`, keeping
/// the due times of `stored`), and carries out the duties it sets off. Returns the clocks and
/// the duties.
pub(super) async fn append(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    case: &Case,
    stored: &[Clock],
    change: &Transition,
    event: &Event,
) -> Result<(Vec<Clock>, Vec<Duty>), ApiError> {
    let clocks = derive_clocks(state, case.referral_received_at, &change.steps, stored)?;
    store::append_event(tx, &case.id, event).await?;
    store::store_clocks(tx, &case.id, &case.lead_agency, change.status, &clocks).await?;
    store::update_case(tx, &case.id, change.closed_at, change.outcome).await?;
    let carried = carry_out(
        state,
        principal,
        tx,
        Trigger::Event(event.kind),
        ListedOn::Case(case),
        event.record_id.as_deref(),
    )
    .await?;
    Ok((clocks, carried))
}
