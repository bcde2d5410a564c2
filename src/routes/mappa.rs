//! MAPPA (RULES 5): a child's management status and the forum's decisions: the HTTP side of
//! `app::mappa`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Path};
pub(crate) use crate::app::mappa::{MappaStatus, MappaStatusSet, NewMappaDecision};
use crate::app::views::Created;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;

/// `PUT /v1/subjects/{id}/mappa`.
pub(crate) async fn mappa_status(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<MappaStatus>,
) -> Result<Json<MappaStatusSet>, ApiError> {
    crate::app::mappa::set_status(&state, &principal, subject, body)
        .await
        .map(Json)
}

/// `POST /v1/mappa/decisions`.
pub(crate) async fn mappa_decision(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewMappaDecision>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let created = crate::app::mappa::record_decision(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}
