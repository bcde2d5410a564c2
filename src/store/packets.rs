//! Sealed packets: a disclosure's packet (or a notification) stored for its addressee, only if
//! the child's facts are still those its decision was made on.

use chrono::{DateTime, Utc};

use super::facts::Loaded;
use crate::db::Tx;
use crate::decision::Facts;
use crate::error::ApiError;
use crate::on_tx;
use crate::vocab::View;

/// A packet built, encrypted to its recipient agency and ready to store.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub disclosure: String,
    /// The facts it was decided on (its addressee is `facts.recipient`).
    pub facts: Facts,
    pub view: View,
    pub issued_at: DateTime<Utc>,
    /// SHA-256 (hex) of `armored`.
    pub sha: String,
    /// The ASCII-armoured `age` ciphertext.
    pub armored: String,
}

/// Stores `p` inside the write action, only if the child's facts are still at `loaded`'s
/// version: `false` (nothing stored) if they moved.
pub async fn store_if_current(tx: &mut Tx, loaded: &Loaded, p: &Sealed) -> Result<bool, ApiError> {
    let facts = &p.facts;
    let record_ids: Vec<&str> = facts.records.iter().map(|r| r.id.as_str()).collect();
    let record_ids = serde_json::to_string(&record_ids).map_err(ApiError::internal)?;
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO packets (disclosure_id, subject_id, record_ids, record_kind, from_agency, to_agency, to_role, to_sub, purpose, basis, view, issued_at, sha256, armored) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
         WHERE (SELECT facts_version FROM subjects WHERE id = $2) = $15")
        .bind(&p.disclosure)
        .bind(&facts.subject.id)
        .bind(record_ids)
        // a duty's notification about a case names no record
        .bind(facts.records.first().map_or(super::NO_RECORD_KIND, |r| r.kind.as_str()))
        .bind(&facts.requester.agency)
        .bind(&facts.recipient.agency)
        .bind(facts.recipient.role.map(|r| r.as_str()))
        .bind(&facts.recipient.sub)
        .bind(facts.request.purpose.as_str())
        .bind(facts.request.basis.as_str())
        .bind(p.view.as_str())
        .bind(p.issued_at)
        .bind(&p.sha)
        .bind(&p.armored)
        .bind(loaded.version)
        .execute(&mut **c)
        .await
        .map(|done| done.rows_affected() == 1)?))
}
