//! The override review queue (RULES 9): every permitted disclosure whose obligations carry
//! `ig_review` waits here until an IG officer records their review of it, once
//! (`app::audit::review_queue`, `app::audit::review`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::Body;
pub(crate) use crate::app::audit::NewReview;
use crate::app::audit::{self as app, ReviewQueue, Reviewed};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

pub(crate) async fn reviews(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<ReviewQueue>, ApiError> {
    app::review_queue(&state, &principal).await.map(Json)
}

/// An audit seq in a path: 400 `invalid_id` if it is not one.
pub fn audit_seq(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("\"{}\" is not an audit seq", crate::text::escape(text)),
        )
    })
}

pub(crate) async fn review(
    principal: Principal,
    State(state): State<AppState>,
    Path(seq): Path<String>,
    Body(body): Body<NewReview>,
) -> Result<(StatusCode, Json<Reviewed>), ApiError> {
    // the caller's permission first, as before the seq is parsed
    crate::app::audit::auditor(&state, &principal, crate::vocab::Action::ReviewOverride)?;
    let seq = audit_seq(&seq)?;
    let reviewed = app::review(&state, &principal, seq, body).await?;
    Ok((StatusCode::CREATED, Json(reviewed)))
}
