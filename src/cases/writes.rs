//! The writes of the case process, each inside a writer action: a case opened with its links,
//! an event appended, the case closed or its outcome recorded, its clocks re-derived, a duty
//! recorded. Reads are in `store` (which re-exports these, so callers name one module).

use chrono::{DateTime, Utc};

use super::Clock;
use super::rows::{Case, Duty, Event};
use crate::db::ts;
use crate::on_tx;
use crate::vocab::CaseOutcome;
use crate::writer::WriteTx;

/// Inserts a new case and links it both ways to `linked`.
pub async fn insert(
    tx: &mut WriteTx,
    case: &Case,
    opened_by: &str,
    linked: &[String],
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO cases (id, subject_id, subject_role, lead_agency, lead_sub, \
             referred_by_agency, referral_received_at, status, opened_at, opened_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
            .bind(&case.id)
            .bind(&case.subject_id)
            .bind(case.subject_role.as_str())
            .bind(&case.lead_agency)
            .bind(&case.lead_sub)
            .bind(&case.referred_by_agency)
            .bind(ts(case.referral_received_at))
            .bind(case.status.as_str())
            .bind(ts(case.opened_at))
            .bind(opened_by)
            .execute(&mut **c)
            .await?;
        for other in linked {
            for (a, b) in [(&case.id, other), (other, &case.id)] {
                sqlx::query("INSERT INTO case_links (case_id, linked_id, linked_at) VALUES ($1, $2, $3)")
                    .bind(a)
                    .bind(b)
                    .bind(ts(case.opened_at))
                    .execute(&mut **c)
                    .await?;
            }
        }
        Ok(())
    })
}

/// Appends an event (its `seq` the case's next).
pub async fn append_event(tx: &mut WriteTx, case_id: &str, e: &Event) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_events (case_id, seq, kind, occurred_at, record_id, outcome, \
         rationale_enc, note_enc, agency, sub, created_at, lead_sub, route, clock, \
         screening_tool, screening_level) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .bind(case_id)
        .bind(e.seq)
        .bind(e.kind.as_str())
        .bind(ts(e.occurred_at))
        .bind(&e.record_id)
        .bind(e.outcome.map(|o| o.as_str()))
        .bind(&e.rationale_enc)
        .bind(&e.note_enc)
        .bind(&e.agency)
        .bind(&e.sub)
        .bind(ts(e.recorded_at))
        .bind(&e.lead_sub)
        .bind(e.route.map(|r| r.as_str()))
        .bind(&e.clock)
        .bind(e.screening.map(|(t, _)| t.as_str()))
        .bind(e.screening.map(|(_, l)| l.as_str()))
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Marks the case closed at `at`, or records its latest outcome.
pub async fn update_case(
    tx: &mut WriteTx,
    case_id: &str,
    closed_at: Option<DateTime<Utc>>,
    outcome: Option<CaseOutcome>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => {
        if let Some(at) = closed_at {
            sqlx::query("UPDATE cases SET status = 'closed', closed_at = $2 WHERE id = $1")
                .bind(case_id)
                .bind(ts(at))
                .execute(&mut **c)
                .await?;
            // the actions carry their case's status for the report, as its clocks do
            sqlx::query("UPDATE case_actions SET case_status = 'closed' WHERE case_id = $1")
                .bind(case_id)
                .execute(&mut **c)
                .await?;
        }
        if let Some(o) = outcome {
            sqlx::query("UPDATE cases SET outcome = $2 WHERE id = $1")
                .bind(case_id)
                .bind(o.as_str())
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    })
}

/// Replaces the case's clocks with `clocks` (derived anew from all its events).
pub async fn store_clocks(
    tx: &mut WriteTx,
    case_id: &str,
    lead_agency: &str,
    case_status: crate::vocab::CaseStatus,
    clocks: &[Clock],
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM case_clocks WHERE case_id = $1")
            .bind(case_id)
            .execute(&mut **c)
            .await?;
        for k in clocks {
            sqlx::query(
                "INSERT INTO case_clocks (case_id, clock, lead_agency, case_status, started_at, \
                 due_at, stopped_at, taken_seconds, occurrence, not_required) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(case_id)
                .bind(&k.clock)
                .bind(lead_agency)
                .bind(case_status.as_str())
                .bind(ts(k.started_at))
                .bind(ts(k.due_at))
                .bind(k.stopped_at.map(ts))
                .bind(k.stopped_at.map(|s| (s - k.started_at).num_seconds()))
                .bind(i32::try_from(k.occurrence).unwrap_or(i32::MAX))
                .bind(i32::from(k.not_required))
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    })
}

/// The next duty `seq` of a case.
pub async fn next_duty_seq(tx: &mut WriteTx, case_id: &str) -> Result<i64, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_scalar::<_, i64>(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM case_duties WHERE case_id = $1")
        .bind(case_id)
        .fetch_one(&mut **c)
        .await)
}

/// The columns every duty row has, in [`bind_duty!`]'s order.
const DUTY_COLUMNS: &str = "seq, duty, trigger_name, recipient_agency, decision, reasons, disclosure_id, audit_seq, created_at";

/// Binds a duty's own columns ([`DUTY_COLUMNS`]) to `q`, for either database.
macro_rules! bind_duty {
    ($q:expr, $d:expr) => {
        $q.bind($d.seq)
            .bind(&$d.duty)
            .bind(&$d.trigger_name)
            .bind(&$d.recipient_agency)
            .bind(&$d.decision)
            .bind(&$d.reasons)
            .bind(&$d.disclosure_id)
            .bind($d.audit_seq)
            .bind(&$d.created_at)
    };
}

/// Records a duty carried out (delivered or denied) on case `case_id`.
pub async fn insert_duty(
    tx: &mut WriteTx,
    case_id: &str,
    lead_agency: &str,
    d: &Duty,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO case_duties ({DUTY_COLUMNS}, case_id, lead_agency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    );
    on_tx!(tx, c => bind_duty!(sqlx::query(sqlx::AssertSqlSafe(sql)), d)
        .bind(case_id)
        .bind(lead_agency)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Records a duty set off by record `record_id` about `subject_id`, deposited by `agency`
/// when the child had no case open (listed on the record; `seq` 1, 2, ... within it).
pub async fn insert_record_duty(
    tx: &mut WriteTx,
    record_id: &str,
    subject_id: &str,
    agency: &str,
    d: &Duty,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO record_duties ({DUTY_COLUMNS}, record_id, subject_id, agency) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    on_tx!(tx, c => bind_duty!(sqlx::query(sqlx::AssertSqlSafe(sql)), d)
        .bind(record_id)
        .bind(subject_id)
        .bind(agency)
        .execute(&mut **c)
        .await
        .map(drop))
}
