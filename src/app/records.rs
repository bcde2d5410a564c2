//! Records: deposited ([`deposit`]), the chair's permission granted ([`chair`]), and what the
//! broker tells a record's owner agency about its record: what it holds, every decision about
//! it, when each packet was first read and acknowledged, the chair's permissions and the
//! duties it set off ([`disclosures_of`]).

mod chair;
mod deposit;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

pub use self::chair::{ChairPermitted, NewChairPermission, grant as grant_chair_permission};
pub use self::deposit::{Deposit, Deposited, NewRecord, deposit};
pub use super::share::Child;
use super::views::{DutyView, EntryView, duties};
use crate::access::{Relation, may_as};
use crate::audit::{AuditRow, Entry};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, RecordId, SubjectId};
use crate::state::AppState;
use crate::vocab::{Action, RecordKind, Section, SubjectRole};
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

/// An agency the chair has permitted to receive the record.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChairPermission {
    #[schemars(with = "AgencyId")]
    pub recipient_agency: String,
    pub granted_by: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub granted_at: String,
}

/// `GET /v1/records/{id}/disclosures`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecordDisclosures {
    pub record_id: RecordId,
    /// What the record is and whom it is about (the owner deposited it: it knows the child).
    pub kind: RecordKind,
    pub subject_id: SubjectId,
    pub child: Child,
    pub subject_role: SubjectRole,
    /// The sections the record holds (names only, never content).
    pub sections: Vec<Section>,
    pub deposited_by: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub deposited_at: String,
    /// The chair (a person of the owner agency), for a kind that carries one; null otherwise.
    pub chair: Option<String>,
    /// The agencies the chair has permitted to receive it.
    pub chair_permissions: Vec<ChairPermission>,
    pub decisions: Vec<RecordDecision>,
    /// The duties the record set off: with no case open, listed on the record
    /// (`listed_on: record`); with a case of the child open, listed on that case too
    /// (`listed_on: case`).
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
    let held = with_db!(&state.db, pool => {
        sqlx::query_as::<_, Held>(HELD)
            .bind(&record)
            .fetch_optional(pool)
            .await?
    });
    let relation = if held.as_ref().map(|h| h.owner_agency.as_str()) == Some(&*principal.agency) {
        Relation::Owner
    } else {
        Relation::None
    };
    let Some(held) =
        held.filter(|_| may_as(state, principal, Action::ReadRecordDisclosures, relation))
    else {
        return Err(ApiError::not_found(format!(
            "no record {record} owned by your agency"
        )));
    };
    let chair_permissions = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT recipient_agency, granted_by, created_at FROM chair_permissions \
             WHERE record_id = $1 ORDER BY created_at, recipient_agency")
            .bind(&record)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| -> Result<ChairPermission, sqlx::Error> {
                Ok(ChairPermission {
                    recipient_agency: r.try_get("recipient_agency")?,
                    granted_by: r.try_get("granted_by")?,
                    granted_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    });
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
    // listed on the record (no case open when it was deposited), then those listed on the case
    let mut duties = duties(&crate::cases::store::record_duties(&state.db, &record).await?);
    for d in &mut duties {
        d.listed_on = Some("record".to_owned());
    }
    let on_case = crate::cases::store::case_duties_of_record(&state.db, &record).await?;
    duties.extend(
        crate::app::views::duties(&on_case)
            .into_iter()
            .map(|mut d| {
                d.listed_on = Some("case".to_owned());
                d
            }),
    );
    Ok(RecordDisclosures {
        record_id: record,
        kind: crate::store::term(&held.kind).map_err(ApiError::internal)?,
        subject_id: crate::ids::parse(&held.subject_id)?,
        child: Child::of_row(state, &held.date_of_birth, held.display_name_enc.as_deref())?,
        subject_role: crate::store::term(&held.subject_role).map_err(ApiError::internal)?,
        sections: serde_json::from_str(&held.sections).map_err(ApiError::internal)?,
        deposited_by: held.deposited_by,
        deposited_at: held.created_at,
        chair: held.chair_sub,
        chair_permissions,
        decisions,
        duties,
    })
}

/// The record and its child, read in one statement.
#[derive(sqlx::FromRow)]
struct Held {
    owner_agency: String,
    subject_id: String,
    kind: String,
    subject_role: String,
    sections: String,
    deposited_by: String,
    created_at: String,
    chair_sub: Option<String>,
    date_of_birth: String,
    display_name_enc: Option<Vec<u8>>,
}

const HELD: &str = "SELECT r.owner_agency, r.subject_id, r.kind, r.subject_role, r.sections, \
     r.deposited_by, r.created_at, r.chair_sub, s.date_of_birth, s.display_name_enc \
     FROM records r JOIN subjects s ON s.id = r.subject_id WHERE r.id = $1";

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
