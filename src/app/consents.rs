//! A child's consents: recorded by a giver for purposes and recipient kinds (RULES 3.1), and
//! withdrawn from now on. Each is checked against `policies/actions.csv` and audited.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::subjects::{invalid, subject_school};
use super::views::Created;
use crate::access::require;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{ConsentId, SubjectId, new_id};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind, Giver, Purpose};

/// A consent to record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    pub given_by: Giver,
    #[schemars(length(min = 1))]
    pub purposes: Vec<Purpose>,
    #[schemars(length(min = 1))]
    pub recipient_kinds: Vec<AgencyKind>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Records a consent (as `record_consent` allows); audited as `consent.record`.
pub async fn record(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: NewConsent,
) -> Result<Created, ApiError> {
    require(state, principal, Action::RecordConsent)?;
    if body.purposes.is_empty() {
        return Err(invalid("purposes", "must list at least one purpose"));
    }
    if body.recipient_kinds.is_empty() {
        return Err(invalid(
            "recipient_kinds",
            "must list at least one agency kind",
        ));
    }
    if body.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(invalid("expires_at", "is not in the future"));
    }
    subject_school(state, &subject).await?;
    let row = new_id();
    let purposes = serde_json::to_string(&body.purposes).map_err(ApiError::internal)?;
    let kinds = serde_json::to_string(&body.recipient_kinds).map_err(ApiError::internal)?;
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO consents (id, subject_id, given_by, purposes, recipient_kinds, expires_at, withdrawn_at, agency, sub, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9)")
        .bind(&row)
        .bind(&subject)
        .bind(body.given_by.as_str())
        .bind(&purposes)
        .bind(&kinds)
        .bind(body.expires_at.map(ts))
        .bind(&*principal.agency)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "consent.record")
                .subject(&subject)
                .detail(json!({
                    "consent_id": row, "given_by": body.given_by, "purposes": body.purposes,
                    "recipient_kinds": body.recipient_kinds, "expires_at": body.expires_at,
                })),
        )
        .await?;
    Ok(Created {
        id: row,
        audit_seq: seq,
    })
}

/// A consent withdrawn: from `withdrawn_at` on it no longer counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Withdrawn {
    pub id: ConsentId,
    #[schemars(with = "DateTime<Utc>")]
    pub withdrawn_at: String,
    pub audit_seq: i64,
}

/// Withdraws a consent from now on (as `withdraw_consent` allows); an unknown consent is 404,
/// one already withdrawn 409 `already_withdrawn`. Audited as `consent.withdraw`.
pub async fn withdraw(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    consent: ConsentId,
) -> Result<Withdrawn, ApiError> {
    require(state, principal, Action::WithdrawConsent)?;
    let at = now();
    let mut tx = state.writer.begin().await?;
    let current: Option<Option<String>> = on_tx!(&mut tx, c => sqlx::query(
        "SELECT withdrawn_at FROM consents WHERE id = $1 AND subject_id = $2")
        .bind(&consent)
        .bind(&subject)
        .fetch_optional(&mut **c)
        .await?
        .map(|r| r.try_get::<Option<String>, _>("withdrawn_at"))
        .transpose()?);
    match current {
        None => {
            return Err(ApiError::not_found(format!(
                "no consent {consent} for subject {subject}"
            )));
        }
        Some(Some(when)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_withdrawn",
                format!("consent {consent} was withdrawn at {when}"),
            ));
        }
        Some(None) => {}
    }
    on_tx!(&mut tx, c => sqlx::query("UPDATE consents SET withdrawn_at = $1 WHERE id = $2")
        .bind(ts(at))
        .bind(&consent)
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "consent.withdraw")
                .subject(&subject)
                .detail(json!({"consent_id": consent})),
        )
        .await?;
    Ok(Withdrawn {
        id: consent,
        withdrawn_at: ts(at),
        audit_seq: seq,
    })
}
