//! What the broker tells a record's owner agency about its record: every decision about it,
//! when each packet was first read and acknowledged, and the duties it set off.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::views::{DutyView, EntryView, duties};
use crate::access::{Relation, may_as};
use crate::audit::{AuditRow, Entry};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::RecordId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::with_db;

/// When the addressee first fetched a disclosure's packet and when it acknowledged it
/// (PROCESS.md, Acknowledgement); both null for a packet never fetched.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Receipt {
    pub first_read_at: Option<String>,
    pub acknowledged_at: Option<String>,
}

/// A decision about the record (or a read or acknowledgement of its packet), with the
/// packet's receipt for a disclosure.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordDecision {
    #[serde(flatten)]
    pub entry: EntryView,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// `GET /v1/records/{id}/disclosures`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordDisclosures {
    pub record_id: RecordId,
    pub decisions: Vec<RecordDecision>,
    /// The duties the record set off about a child with no case open (on a case, the case
    /// lists them).
    pub duties: Vec<DutyView>,
}

/// Every decision about `record`, for its owner agency (as `read_record_disclosures` allows);
/// anyone else learns nothing, not even that it exists (404). Audited as
/// `record.disclosures.read`.
pub async fn disclosures_of(
    state: &AppState,
    principal: &Principal,
    record: RecordId,
) -> Result<RecordDisclosures, ApiError> {
    let owner = with_db!(&state.db, pool => {
        sqlx::query("SELECT owner_agency FROM records WHERE id = $1")
            .bind(&record)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<String, _>("owner_agency"))
            .transpose()?
    });
    let relation = if owner.as_deref() == Some(&*principal.agency) {
        Relation::Owner
    } else {
        Relation::None
    };
    if owner.is_none() || !may_as(state, principal, Action::ReadRecordDisclosures, relation) {
        return Err(ApiError::not_found(format!(
            "no record {record} owned by your agency"
        )));
    }
    let rows: Vec<AuditRow> = with_db!(&state.db, pool => {
        sqlx::query_as::<_, AuditRow>(
            "SELECT a.* FROM audit_records r JOIN audit_log a ON a.seq = r.seq \
             WHERE r.record_id = $1 AND a.action IN ('disclosure', 'decision.check', 'packet.read', 'packet.ack') ORDER BY a.seq")
            .bind(&record)
            .fetch_all(pool)
            .await?
    });
    let mut decisions = Vec::with_capacity(rows.len());
    for row in &rows {
        let entry = EntryView::from(row);
        let receipt = match entry.detail["disclosure_id"].as_str() {
            Some(disclosure) if row.action == "disclosure" => {
                Some(receipt(state, disclosure).await?)
            }
            _ => None,
        };
        decisions.push(RecordDecision { entry, receipt });
    }
    state
        .writer
        .begin()
        .await?
        .commit(
            Entry::new(principal, "record.disclosures.read").detail(json!({"record_id": record})),
        )
        .await?;
    let duties = duties(&crate::cases::store::record_duties(&state.db, &record).await?);
    Ok(RecordDisclosures {
        record_id: record,
        decisions,
        duties,
    })
}

async fn receipt(state: &AppState, disclosure: &str) -> Result<Receipt, ApiError> {
    Ok(with_db!(&state.db, pool => {
        sqlx::query("SELECT first_read_at, acknowledged_at FROM packets WHERE disclosure_id = $1")
            .bind(disclosure)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok(Receipt {
                    first_read_at: r.try_get("first_read_at")?,
                    acknowledged_at: r.try_get("acknowledged_at")?,
                })
            })
            .transpose()?
            .unwrap_or_default()
    }))
}
