//! Transfers of a case and its lead worker as stored (migration 0014; PROCESS.md P4, P5): a
//! transfer asked and accepted, the change of lead that its acceptance makes (the case's row
//! and the denormalised `lead_agency` of its clocks, duties and actions, so that the new lead's
//! overdue list and timeliness report include the case), and the leads of a case's linked
//! cases, which the different-workers rule (P5) compares.

use chrono::{DateTime, Utc};

use crate::db::{Db, parse_ts, ts};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// One transfer of a case, its note still sealed to the at-rest identity.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub id: String,
    pub case_id: String,
    pub from_agency: String,
    pub to_agency: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub note_enc: Option<Vec<u8>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<String>,
    pub lead_sub: Option<String>,
}

impl Transfer {
    /// Still waiting for the receiving agency.
    pub fn pending(&self) -> bool {
        self.accepted_at.is_none()
    }
}

#[derive(sqlx::FromRow)]
struct TransferText {
    id: String,
    case_id: String,
    from_agency: String,
    to_agency: String,
    requested_at: String,
    requested_by: String,
    note_enc: Option<Vec<u8>>,
    accepted_at: Option<String>,
    accepted_by: Option<String>,
    lead_sub: Option<String>,
}

impl TryFrom<TransferText> for Transfer {
    type Error = sqlx::Error;
    fn try_from(r: TransferText) -> Result<Transfer, sqlx::Error> {
        Ok(Transfer {
            requested_at: parse_ts(&r.requested_at)?,
            accepted_at: r.accepted_at.as_deref().map(parse_ts).transpose()?,
            id: r.id,
            case_id: r.case_id,
            from_agency: r.from_agency,
            to_agency: r.to_agency,
            requested_by: r.requested_by,
            note_enc: r.note_enc,
            accepted_by: r.accepted_by,
            lead_sub: r.lead_sub,
        })
    }
}

const TRANSFERS: &str = "SELECT id, case_id, from_agency, to_agency, requested_at, requested_by, \
     note_enc, accepted_at, accepted_by, lead_sub FROM case_transfers";

fn parsed(rows: Vec<TransferText>) -> Result<Vec<Transfer>, sqlx::Error> {
    rows.into_iter().map(Transfer::try_from).collect()
}

/// The transfers of a case, in the order they were asked.
pub async fn of_case(db: &Db, case_id: &str) -> Result<Vec<Transfer>, sqlx::Error> {
    let sql = format!("{TRANSFERS} WHERE case_id = $1 ORDER BY requested_at, id");
    let rows = with_db!(db, pool => sqlx::query_as::<_, TransferText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(case_id)
        .fetch_all(pool)
        .await)?;
    parsed(rows)
}

/// The transfers of a case read inside a write action.
pub async fn of_case_for_write(
    tx: &mut WriteTx,
    case_id: &str,
) -> Result<Vec<Transfer>, sqlx::Error> {
    let sql = format!("{TRANSFERS} WHERE case_id = $1 ORDER BY requested_at, id");
    let rows = on_tx!(tx, c => sqlx::query_as::<_, TransferText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(case_id)
        .fetch_all(&mut **c)
        .await)?;
    parsed(rows)
}

/// The transfers waiting for `agency` to accept them, oldest first (at most `limit`).
pub async fn pending_to(db: &Db, agency: &str, limit: i64) -> Result<Vec<Transfer>, sqlx::Error> {
    let sql = format!(
        "{TRANSFERS} WHERE to_agency = $1 AND accepted_at IS NULL ORDER BY requested_at, id \
         LIMIT {}",
        limit.clamp(1, 1000)
    );
    let rows = with_db!(db, pool => sqlx::query_as::<_, TransferText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(agency)
        .fetch_all(pool)
        .await)?;
    parsed(rows)
}

/// Stores a transfer asked for (pending).
pub async fn insert(tx: &mut WriteTx, t: &Transfer) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_transfers (id, case_id, from_agency, to_agency, requested_at, \
         requested_by, note_enc) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&t.id)
        .bind(&t.case_id)
        .bind(&t.from_agency)
        .bind(&t.to_agency)
        .bind(ts(t.requested_at))
        .bind(&t.requested_by)
        .bind(&t.note_enc)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Marks transfer `t` accepted and makes its receiving agency the case's lead with `lead_sub`:
/// the case's row, and the `lead_agency` its clocks and duties carry for the overdue list and
/// the timeliness report.
pub async fn accept(
    tx: &mut WriteTx,
    t: &Transfer,
    at: DateTime<Utc>,
    by: &str,
    lead_sub: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => {
        sqlx::query(
            "UPDATE case_transfers SET accepted_at = $2, accepted_by = $3, lead_sub = $4 \
             WHERE id = $1")
            .bind(&t.id)
            .bind(ts(at))
            .bind(by)
            .bind(lead_sub)
            .execute(&mut **c)
            .await?;
        sqlx::query("UPDATE cases SET lead_agency = $2, lead_sub = $3 WHERE id = $1")
            .bind(&t.case_id)
            .bind(&t.to_agency)
            .bind(lead_sub)
            .execute(&mut **c)
            .await?;
        for table in ["case_clocks", "case_duties", "case_actions"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE {table} SET lead_agency = $2 WHERE case_id = $1")))
                .bind(&t.case_id)
                .bind(&t.to_agency)
                .execute(&mut **c)
                .await?;
        }
        Ok(())
    })
}

/// Allocates `lead_sub` as the case's lead worker (a `worker_allocated` event).
pub async fn set_lead_sub(
    tx: &mut WriteTx,
    case_id: &str,
    lead_sub: &str,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query("UPDATE cases SET lead_sub = $2 WHERE id = $1")
        .bind(case_id)
        .bind(lead_sub)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// The lead (agency, worker) of each case among `ids`, with its id.
pub async fn leads_of(
    tx: &mut WriteTx,
    ids: &[String],
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found: Option<(String, String)> = on_tx!(tx, c => sqlx::query_as(
            "SELECT lead_agency, lead_sub FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **c)
            .await?);
        if let Some((agency, sub)) = found {
            out.push((id.clone(), agency, sub));
        }
    }
    Ok(out)
}

/// The ids of the cases linked to `case_id` (links are stored both ways).
pub async fn linked_to(tx: &mut WriteTx, case_id: &str) -> Result<Vec<String>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_scalar::<_, String>(
        "SELECT linked_id FROM case_links WHERE case_id = $1 ORDER BY linked_id")
        .bind(case_id)
        .fetch_all(&mut **c)
        .await)
}
