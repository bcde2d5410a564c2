//! Involved agencies as stored (migration 0016, PROCESS.md P3): an agency involved in a case
//! it does not lead (the placing authority of a looked-after child whose case the area the
//! child lives in leads), recorded once and kept when the child moves again.

use crate::db::{Db, ts};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// Why an agency is involved in a case.
pub const PLACING_AUTHORITY: &str = "placing_authority";

/// Records that `agency` is involved in `case` (once; a second time changes nothing).
pub async fn involve(
    tx: &mut WriteTx,
    case: &str,
    agency: &str,
    reason: &str,
) -> Result<(), sqlx::Error> {
    let since = ts(crate::db::now());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_involved_agencies (case_id, agency, reason, since) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (case_id, agency) DO NOTHING")
        .bind(case)
        .bind(agency)
        .bind(reason)
        .bind(&since)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// A placement recorded while the child has cases open: the placing authority becomes
/// involved in each open case it does not lead. Returns the cases it was involved in.
pub async fn involve_in_open_cases(
    tx: &mut WriteTx,
    subject: &str,
    placing: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let mut cases = Vec::new();
    for (case, lead) in open_cases(tx, subject).await? {
        if lead != placing {
            involve(tx, &case, placing, PLACING_AUTHORITY).await?;
            cases.push(case);
        }
    }
    Ok(cases)
}

/// The agencies involved in `case`, by id.
pub async fn of_case(db: &Db, case: &str) -> Result<Vec<String>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_scalar::<_, String>(
        "SELECT agency FROM case_involved_agencies WHERE case_id = $1 ORDER BY agency")
        .bind(case)
        .fetch_all(pool)
        .await)
}

/// [`of_case`] inside a write action.
pub async fn of_case_in(tx: &mut WriteTx, case: &str) -> Result<Vec<String>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_scalar::<_, String>(
        "SELECT agency FROM case_involved_agencies WHERE case_id = $1 ORDER BY agency")
        .bind(case)
        .fetch_all(&mut **c)
        .await)
}

/// The open cases of a child, oldest first: id and lead agency.
pub async fn open_cases(
    tx: &mut WriteTx,
    subject: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_as::<_, (String, String)>(
        "SELECT id, lead_agency FROM cases WHERE subject_id = $1 AND status = 'open' \
         ORDER BY opened_at, id")
        .bind(subject)
        .fetch_all(&mut **c)
        .await)
}

/// Where a child lives as the places rules read it: whether it is looked after, the area it
/// lives in when not its home area, and the agency that placed it.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Placement {
    pub looked_after: bool,
    pub residence_area: Option<String>,
    pub placed_by: Option<String>,
}

impl Placement {
    /// The placing authority of a looked-after child (none for a child not looked after).
    pub fn placing_authority(&self) -> Option<&str> {
        self.placed_by.as_deref().filter(|_| self.looked_after)
    }
}

/// The child's placement, inside a write action.
pub async fn placement_in(tx: &mut WriteTx, subject: &str) -> Result<Placement, sqlx::Error> {
    let found: Option<Placement> = on_tx!(tx, c => sqlx::query_as::<_, Placement>(
        "SELECT looked_after, residence_area, placed_by FROM subjects WHERE id = $1")
        .bind(subject)
        .fetch_optional(&mut **c)
        .await?);
    Ok(found.unwrap_or_default())
}

/// The child's placement, from the read side.
pub async fn placement(db: &Db, subject: &str) -> Result<Placement, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as::<_, Placement>(
        "SELECT looked_after, residence_area, placed_by FROM subjects WHERE id = $1")
        .bind(subject)
        .fetch_optional(pool)
        .await
        .map(Option::unwrap_or_default))
}
