//! The override review queue (RULES 9): every permitted disclosure whose obligations carry
//! `ig_review` waits here until an IG officer records their review of it, once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::{Filters, audit_rows, auditor, record_query};
use super::extract::{Body, store_failed};
use super::views::entry_json;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::Action;

const QUEUE: &str = "action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%' \
     AND seq NOT IN (SELECT override_seq FROM audit_reviews)";

pub(crate) async fn reviews(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    let rows = audit_rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        &format!("AND {QUEUE} ORDER BY seq LIMIT 1000"),
    )
    .await?;
    record_query(
        &state,
        &who,
        "audit.reviews",
        json!({"awaiting": rows.len()}),
    )
    .await?;
    Ok(Json(
        json!({"awaiting_review": rows.iter().map(entry_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Upheld,
    Concern,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReview {
    outcome: Outcome,
    note: String,
}

pub(crate) async fn review(
    principal: Principal,
    State(state): State<AppState>,
    Path(seq): Path<String>,
    Body(body): Body<NewReview>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = auditor(&state, principal, Action::ReviewOverride)?;
    let seq: i64 = seq.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("\"{seq}\" is not an audit seq"),
        )
    })?;
    if body.note.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_field",
            "note: say what the review found",
        ));
    }
    let outcome = match body.outcome {
        Outcome::Upheld => "upheld",
        Outcome::Concern => "concern",
    };
    let target = audit_rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        &format!(
            "AND seq = {seq} AND action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%'"
        ),
    )
    .await?
    .pop();
    let Some(target) = target else {
        return Err(ApiError::not_found(format!(
            "no override awaiting review at seq {seq}"
        )));
    };
    let note = state
        .at_rest
        .encrypt(body.note.trim().as_bytes())
        .map_err(ApiError::internal)?;
    let mut tx = state.writer.begin().await?;
    let reviewed: bool = on_tx!(&mut tx, c => sqlx::query("SELECT 1 AS x FROM audit_reviews WHERE override_seq = $1")
        .bind(seq)
        .fetch_optional(&mut **c)
        .await?
        .is_some());
    if reviewed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_reviewed",
            format!("the override at seq {seq} has been reviewed"),
        ));
    }
    let mut entry = Entry::new(&who.principal, "audit.review")
        .detail(json!({"override_seq": seq, "outcome": outcome}));
    entry.subject_id = target.subject_id.clone();
    let review_seq = tx.append(entry).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO audit_reviews (override_seq, outcome, note_enc, reviewer_agency, reviewer_sub, review_seq, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(seq)
        .bind(outcome)
        .bind(&note)
        .bind(&*who.principal.agency)
        .bind(&who.principal.sub)
        .bind(review_seq)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => ApiError::new(
                StatusCode::CONFLICT,
                "already_reviewed",
                format!("the override at seq {seq} has been reviewed"),
            ),
            _ => store_failed(e),
        })?);
    tx.finish().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"override_seq": seq, "outcome": outcome, "audit_seq": review_seq})),
    ))
}
