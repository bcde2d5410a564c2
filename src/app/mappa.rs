//! MAPPA (RULES 5): a child's management status, set by the forum's chair or coordinator (the
//! agency that sets it is the one a `notify_mappa` notification goes to), and the forum's
//! decisions on what may be shared with whom. Each is checked against `policies/actions.csv`
//! and audited.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::subjects::{invalid, subject_school, today};
use super::views::Created;
use crate::access::require;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, SubjectId, new_id};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, Purpose, Role, Section};

/// A child's MAPPA management status.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MappaStatus {
    pub active: bool,
    #[schemars(range(min = 1, max = 3))]
    pub category: i32,
    #[schemars(range(min = 1, max = 3))]
    pub level: i32,
}

/// The child's MAPPA status as set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MappaStatusSet {
    pub subject_id: SubjectId,
    pub active: bool,
    pub category: i32,
    pub level: i32,
    pub audit_seq: i64,
}

/// Sets the child's MAPPA status (as `set_mappa_status` allows); audited as `mappa.status`.
pub async fn set_status(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: MappaStatus,
) -> Result<MappaStatusSet, ApiError> {
    require(state, principal, Action::SetMappaStatus)?;
    if !(1..=3).contains(&body.category) {
        return Err(invalid("category", "must be 1, 2 or 3"));
    }
    if !(1..=3).contains(&body.level) {
        return Err(invalid("level", "must be 1, 2 or 3"));
    }
    subject_school(state, &subject).await?;
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO mappa_status (subject_id, active, category, level, agency, sub, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (subject_id) DO UPDATE SET active = excluded.active, category = excluded.category, level = excluded.level, \
         agency = excluded.agency, sub = excluded.sub, updated_at = excluded.updated_at")
        .bind(&subject)
        .bind(body.active)
        .bind(body.category)
        .bind(body.level)
        .bind(&*principal.agency)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "mappa.status")
                .subject(&subject)
                .detail(json!({
                    "active": body.active, "category": body.category, "level": body.level,
                })),
        )
        .await?;
    Ok(MappaStatusSet {
        subject_id: subject,
        active: body.active,
        category: body.category,
        level: body.level,
        audit_seq: seq,
    })
}

/// A forum decision: what may be shared about the child with whom, until when.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMappaDecision {
    pub subject_id: SubjectId,
    pub recipient_agency: AgencyId,
    #[serde(default)]
    pub recipient_role: Option<Role>,
    #[schemars(length(min = 1))]
    pub purposes: Vec<Purpose>,
    #[schemars(length(min = 1))]
    pub sections: Vec<Section>,
    pub decided_on: NaiveDate,
    pub expires_at: DateTime<Utc>,
}

/// Records the forum's decision (as `record_mappa_decision` allows); audited as
/// `mappa.decision`, naming its recipient.
pub async fn record_decision(
    state: &AppState,
    principal: &Principal,
    body: NewMappaDecision,
) -> Result<Created, ApiError> {
    require(state, principal, Action::RecordMappaDecision)?;
    let subject = body.subject_id.clone();
    let recipient = state.configured_agency("recipient_agency", &body.recipient_agency)?;
    if let Some(role) = body.recipient_role
        && !role.valid_for(recipient.kind)
    {
        return Err(invalid(
            "recipient_role",
            format!("a {} agency has no role {role}", recipient.kind),
        ));
    }
    if body.purposes.is_empty() {
        return Err(invalid("purposes", "must list at least one purpose"));
    }
    if body.sections.is_empty() {
        return Err(invalid("sections", "must list at least one section"));
    }
    if body.decided_on > today() {
        return Err(invalid("decided_on", "is in the future"));
    }
    if body.expires_at <= Utc::now() {
        return Err(invalid("expires_at", "is not in the future"));
    }
    subject_school(state, &subject)
        .await
        .map_err(|_| invalid("subject_id", format!("no subject {subject}")))?;
    let row = new_id();
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO mappa_decisions (id, subject_id, recipient_agency, recipient_role, purposes, sections, decided_on, expires_at, chair_agency, chair_sub, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&row)
        .bind(&subject)
        .bind(&body.recipient_agency)
        .bind(body.recipient_role.map(|r| r.as_str()))
        .bind(serde_json::to_string(&body.purposes).unwrap_or_default())
        .bind(serde_json::to_string(&body.sections).unwrap_or_default())
        .bind(body.decided_on.to_string())
        .bind(ts(body.expires_at))
        .bind(&*principal.agency)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let mut entry = Entry::new(principal, "mappa.decision")
        .subject(&subject)
        .detail(json!({
            "mappa_decision_id": row, "purposes": body.purposes, "sections": body.sections,
            "decided_on": body.decided_on, "expires_at": body.expires_at,
        }));
    entry.recipient_agency = Some(body.recipient_agency.to_string());
    entry.recipient_role = body.recipient_role.map(|r| r.to_string());
    let seq = tx.commit(entry).await?;
    Ok(Created {
        id: row,
        audit_seq: seq,
    })
}
