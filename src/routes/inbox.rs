//! `GET /v1/inbox`: the packets addressed to the caller's agency and role (and to the caller
//! by `sub` where a packet names one).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use crate::audit::Entry;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::with_db;

/// The packet, only to its addressee (agency, role, and `sub` where named); anyone else 404.
/// The read is audited before the packet is sent.
pub(crate) async fn fetch(
    principal: Principal,
    State(state): State<AppState>,
    Path(disclosure): Path<String>,
) -> Result<Response, ApiError> {
    let disclosure = super::extract::id(&disclosure, "disclosure")?;
    let row = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT subject_id, record_ids, from_agency, to_agency, to_role, to_sub, sha256, armored FROM packets WHERE disclosure_id = $1")
            .bind(&disclosure)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<String, _>("subject_id")?,
                    r.try_get::<String, _>("record_ids")?,
                    r.try_get::<String, _>("from_agency")?,
                    r.try_get::<String, _>("to_agency")?,
                    r.try_get::<Option<String>, _>("to_role")?,
                    r.try_get::<Option<String>, _>("to_sub")?,
                    r.try_get::<String, _>("sha256")?,
                    r.try_get::<String, _>("armored")?,
                ))
            })
            .transpose()?
    });
    let roles = principal.roles_text();
    let Some((subject, record_ids, from, to, to_role, to_sub, sha, armored)) = row.filter(|p| {
        p.3 == *principal.agency
            && p.4.as_deref().is_none_or(|r| roles.contains(&r))
            && p.5.as_deref().is_none_or(|s| s == principal.sub)
    }) else {
        return Err(ApiError::not_found(format!(
            "no packet {disclosure} addressed to you"
        )));
    };
    let mut entry = Entry::new(&principal, "packet.read").subject(&subject);
    entry.record_ids = serde_json::from_str(&record_ids).unwrap_or_default();
    entry.owner_agencies = vec![from];
    entry.recipient_agency = Some(to);
    entry.recipient_role = to_role;
    entry.recipient_sub = to_sub;
    entry.packet_sha256 = Some(format!("sha256:{sha}"));
    entry.detail = serde_json::json!({"disclosure_id": disclosure});
    super::extract::commit_with(state.writer.begin().await?, entry).await?;
    Ok(([(header::CONTENT_TYPE, "application/age")], armored).into_response())
}

/// One packet waiting for the caller: identifiers only, the content is in the packet.
#[derive(Debug, Serialize)]
pub struct InboxItem {
    pub disclosure_id: String,
    pub subject_id: String,
    pub record_ids: Vec<String>,
    pub record_kind: String,
    pub from_agency: String,
    pub to_agency: String,
    pub to_role: Option<String>,
    pub to_sub: Option<String>,
    pub purpose: String,
    pub basis: String,
    pub view: String,
    pub issued_at: DateTime<Utc>,
    pub sha256: String,
}

const INBOX: &str = "SELECT disclosure_id, subject_id, record_ids, record_kind, from_agency, \
     to_agency, to_role, to_sub, purpose, basis, view, issued_at, sha256 \
     FROM packets WHERE to_agency = $1 AND (to_sub IS NULL OR to_sub = $2) \
     AND (to_role IS NULL OR $3 LIKE '%\"' || to_role || '\"%') \
     ORDER BY issued_at DESC, disclosure_id LIMIT 1000";

pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    // the caller's roles as a JSON array: role names are vocabulary, so `"role"` matches exactly
    let roles = serde_json::to_string(&principal.roles_text()).map_err(ApiError::internal)?;
    let rows: Vec<InboxItem> = with_db!(&state.db, pool => {
        let rows = sqlx::query(INBOX)
            .bind(&*principal.agency)
            .bind(&principal.sub)
            .bind(&roles)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| -> Result<InboxItem, sqlx::Error> {
                let ids: String = r.try_get("record_ids")?;
                Ok(InboxItem {
                    disclosure_id: r.try_get("disclosure_id")?,
                    subject_id: r.try_get("subject_id")?,
                    record_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    record_kind: r.try_get("record_kind")?,
                    from_agency: r.try_get("from_agency")?,
                    to_agency: r.try_get("to_agency")?,
                    to_role: r.try_get("to_role")?,
                    to_sub: r.try_get("to_sub")?,
                    purpose: r.try_get("purpose")?,
                    basis: r.try_get("basis")?,
                    view: r.try_get("view")?,
                    issued_at: r.try_get("issued_at")?,
                    sha256: r.try_get("sha256")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    });
    Ok(Json(rows))
}
