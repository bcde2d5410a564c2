//! A child's consents: recorded by a giver for purposes and recipient kinds (RULES 3.1), and
//! withdrawn from now on.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use super::extract::{Body, Path, commit_with, invalid, new_id, require, store_failed};
use super::subjects::subject_school;
use super::views::Created;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{ConsentId, SubjectId};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind, Giver, Purpose};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewConsent {
    given_by: Giver,
    #[schemars(length(min = 1))]
    purposes: Vec<Purpose>,
    #[schemars(length(min = 1))]
    recipient_kinds: Vec<AgencyKind>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

pub(crate) async fn consent(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewConsent>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    require(&state, &principal, Action::RecordConsent)?;
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
    subject_school(&state, &subject).await?;
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
        .map_err(store_failed)?);
    let seq = commit_with(
        tx,
        Entry::new(&principal, "consent.record")
            .subject(&subject)
            .detail(json!({
                "consent_id": row, "given_by": body.given_by, "purposes": body.purposes,
                "recipient_kinds": body.recipient_kinds, "expires_at": body.expires_at,
            })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: row,
            audit_seq: seq,
        }),
    ))
}

pub(crate) async fn withdraw(
    principal: Principal,
    State(state): State<AppState>,
    Path((subject, consent)): Path<(SubjectId, ConsentId)>,
) -> Result<Json<Withdrawn>, ApiError> {
    require(&state, &principal, Action::WithdrawConsent)?;
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
        .map_err(store_failed)?);
    let seq = commit_with(
        tx,
        Entry::new(&principal, "consent.withdraw")
            .subject(&subject)
            .detail(json!({"consent_id": consent})),
    )
    .await?;
    Ok(Json(Withdrawn {
        id: consent,
        withdrawn_at: ts(at),
        audit_seq: seq,
    }))
}

/// A consent withdrawn: from `withdrawn_at` on it no longer counts.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Withdrawn {
    id: ConsentId,
    #[schemars(with = "DateTime<Utc>")]
    withdrawn_at: String,
    audit_seq: i64,
}
