//! A practitioner's inbox: the packets addressed to the caller's agency and role (and to the
//! caller by `sub` where a packet names one); fetching one (audited, the first read stamped),
//! and acknowledging it (PROCESS.md, Acknowledgement).

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::records::Child;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::DisclosureId;
use crate::state::AppState;
use crate::{on_tx, with_db};

/// A packet as its addressee sees it, before its content is sent.
struct Addressed {
    subject: String,
    record_ids: Vec<String>,
    from: String,
    to: String,
    to_role: Option<String>,
    to_sub: Option<String>,
    sha: String,
    armored: String,
    first_read_at: Option<String>,
}

impl Addressed {
    /// The audit entry of `action` on this packet by its addressee.
    fn entry(&self, principal: &Principal, action: &str, disclosure: &str) -> Entry {
        let mut entry = Entry::new(principal, action).subject(&self.subject);
        entry.record_ids = self.record_ids.clone();
        entry.owner_agencies = vec![self.from.clone()];
        entry.recipient_agency = Some(self.to.clone());
        entry.recipient_role = self.to_role.clone();
        entry.recipient_sub = self.to_sub.clone();
        entry.packet_sha256 = Some(format!("sha256:{}", self.sha));
        entry.detail = serde_json::json!({"disclosure_id": disclosure});
        entry
    }
}

/// The packet `disclosure` if the caller is its addressee (agency, role, and `sub` where
/// named); anyone else, and an unknown id, 404 alike.
async fn addressed(
    state: &AppState,
    principal: &Principal,
    disclosure: &str,
) -> Result<Addressed, ApiError> {
    let row = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT subject_id, record_ids, from_agency, to_agency, to_role, to_sub, sha256, armored, \
             first_read_at FROM packets WHERE disclosure_id = $1")
            .bind(disclosure)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                let ids: String = r.try_get("record_ids")?;
                Ok(Addressed {
                    subject: r.try_get("subject_id")?,
                    record_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    from: r.try_get("from_agency")?,
                    to: r.try_get("to_agency")?,
                    to_role: r.try_get("to_role")?,
                    to_sub: r.try_get("to_sub")?,
                    sha: r.try_get("sha256")?,
                    armored: r.try_get("armored")?,
                    first_read_at: r.try_get("first_read_at")?,
                })
            })
            .transpose()?
    });
    let roles = principal.roles_text();
    row.filter(|p| {
        p.to == *principal.agency
            && p.to_role.as_deref().is_none_or(|r| roles.contains(&r))
            && p.to_sub.as_deref().is_none_or(|s| s == principal.sub)
    })
    .ok_or_else(|| ApiError::not_found(format!("no packet {disclosure} addressed to you")))
}

/// The armoured packet, only to its addressee (agency, role, and `sub` where named); anyone
/// else 404. The read is audited, and the first read stamps the packet's `first_read_at`, before
/// the packet is given.
pub async fn fetch(
    state: &AppState,
    principal: &Principal,
    disclosure: DisclosureId,
) -> Result<String, ApiError> {
    let packet = addressed(state, principal, &disclosure).await?;
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE packets SET first_read_at = $2 WHERE disclosure_id = $1 AND first_read_at IS NULL")
        .bind(&disclosure)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    tx.commit(packet.entry(principal, "packet.read", &disclosure))
        .await?;
    Ok(packet.armored)
}

/// The addressee records that the packet was received and read (PROCESS.md,
/// Acknowledgement). Only a packet already fetched can be acknowledged (409 `packet_not_read`);
/// the first acknowledgement is kept, a repeat is audited and answers the same instants.
pub async fn acknowledge(
    state: &AppState,
    principal: &Principal,
    disclosure: DisclosureId,
) -> Result<Acknowledged, ApiError> {
    crate::access::require(state, principal, crate::vocab::Action::AcknowledgePacket)?;
    let packet = addressed(state, principal, &disclosure).await?;
    let Some(first_read_at) = packet.first_read_at.clone() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "packet_not_read",
            format!("packet {disclosure} has not been fetched yet: fetch it, then acknowledge it"),
        ));
    };
    let mut tx = state.writer.begin().await?;
    // set once: a repeat (or a racing first acknowledgement) keeps the instant already stored
    let acknowledged_at: String = on_tx!(&mut tx, c => {
        sqlx::query(
            "UPDATE packets SET acknowledged_at = $2 WHERE disclosure_id = $1 AND acknowledged_at IS NULL")
            .bind(&disclosure)
            .bind(ts(now()))
            .execute(&mut **c)
            .await
            .map_err(ApiError::from)?;
        sqlx::query("SELECT acknowledged_at FROM packets WHERE disclosure_id = $1")
            .bind(&disclosure)
            .fetch_one(&mut **c)
            .await
            .and_then(|r| r.try_get("acknowledged_at"))
            .map_err(ApiError::from)?
    });
    let seq = tx
        .commit(packet.entry(principal, "packet.ack", &disclosure))
        .await?;
    Ok(Acknowledged {
        disclosure_id: disclosure,
        first_read_at,
        acknowledged_at,
        audit_seq: seq,
    })
}

/// A packet acknowledged: when it was first fetched and when acknowledged (the first time).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Acknowledged {
    pub disclosure_id: DisclosureId,
    #[schemars(with = "DateTime<Utc>")]
    pub first_read_at: String,
    #[schemars(with = "DateTime<Utc>")]
    pub acknowledged_at: String,
    pub audit_seq: i64,
}

/// One packet waiting for the caller: identifiers only, the content is in the packet.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct InboxItem {
    #[schemars(with = "crate::ids::DisclosureId")]
    pub disclosure_id: String,
    #[schemars(with = "crate::ids::SubjectId")]
    pub subject_id: String,
    /// Whom the packet is about (its addressee reads the child's name in the packet itself).
    pub child: Child,
    #[schemars(with = "Vec<crate::ids::RecordId>")]
    pub record_ids: Vec<String>,
    /// The first record's kind (`case_notification` for a duty's notification about a case).
    pub record_kind: String,
    pub from_agency: String,
    pub to_agency: String,
    #[schemars(with = "Option<crate::vocab::Role>")]
    pub to_role: Option<String>,
    pub to_sub: Option<String>,
    #[schemars(with = "crate::vocab::Purpose")]
    pub purpose: String,
    #[schemars(with = "crate::vocab::Basis")]
    pub basis: String,
    pub view: String,
    pub issued_at: DateTime<Utc>,
    pub sha256: String,
    /// When the addressee first fetched the packet, and when they acknowledged it (null: not yet).
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub first_read_at: Option<String>,
    #[schemars(with = "Option<DateTime<Utc>>")]
    pub acknowledged_at: Option<String>,
}

/// A row of the inbox: the packet's stored facts and its child's.
#[derive(sqlx::FromRow)]
struct InboxRow {
    disclosure_id: String,
    subject_id: String,
    record_ids: String,
    record_kind: String,
    from_agency: String,
    to_agency: String,
    to_role: Option<String>,
    to_sub: Option<String>,
    purpose: String,
    basis: String,
    view: String,
    issued_at: DateTime<Utc>,
    sha256: String,
    first_read_at: Option<String>,
    acknowledged_at: Option<String>,
    date_of_birth: String,
    display_name_enc: Option<Vec<u8>>,
}

impl InboxRow {
    fn item(self, state: &AppState) -> Result<InboxItem, ApiError> {
        Ok(InboxItem {
            child: Child::of_row(state, &self.date_of_birth, self.display_name_enc.as_deref())?,
            disclosure_id: self.disclosure_id,
            subject_id: self.subject_id,
            record_ids: serde_json::from_str(&self.record_ids).unwrap_or_default(),
            record_kind: self.record_kind,
            from_agency: self.from_agency,
            to_agency: self.to_agency,
            to_role: self.to_role,
            to_sub: self.to_sub,
            purpose: self.purpose,
            basis: self.basis,
            view: self.view,
            issued_at: self.issued_at,
            sha256: self.sha256,
            first_read_at: self.first_read_at,
            acknowledged_at: self.acknowledged_at,
        })
    }
}

const INBOX: &str = "SELECT disclosure_id, subject_id, record_ids, record_kind, from_agency, \
     to_agency, to_role, to_sub, purpose, basis, view, issued_at, sha256, first_read_at, \
     acknowledged_at, s.date_of_birth, s.display_name_enc \
     FROM packets JOIN subjects s ON s.id = packets.subject_id WHERE to_agency = $1 AND (to_sub IS NULL OR to_sub = $2) \
     AND (to_role IS NULL OR $3 LIKE '%\"' || to_role || '\"%') \
     ORDER BY issued_at DESC, disclosure_id LIMIT 1000";

/// The packets waiting for the caller, newest first (at most 1,000).
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<InboxItem>, ApiError> {
    // the caller's roles as a JSON array: role names are vocabulary, so `"role"` matches exactly
    let roles = serde_json::to_string(&principal.roles_text()).map_err(ApiError::internal)?;
    let rows: Vec<InboxRow> = with_db!(&state.db, pool => {
        sqlx::query_as(INBOX)
            .bind(&*principal.agency)
            .bind(&principal.sub)
            .bind(&roles)
            .fetch_all(pool)
            .await?
    });
    rows.into_iter().map(|r| r.item(state)).collect()
}
