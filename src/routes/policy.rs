//! `GET /v1/policy` and `GET /v1/policy/versions`: the policy version this process decides
//! with and its rules, and the history of versions that came into force
//! (`app::policy`).

use axum::Json;
use axum::extract::State;

use crate::app::policy::{self as app, PolicyInForce, PolicyVersions};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

pub(crate) async fn in_force(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<PolicyInForce>, ApiError> {
    app::in_force(&state, &principal).await.map(Json)
}

pub(crate) async fn versions(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<PolicyVersions>, ApiError> {
    app::versions(&state, &principal).await.map(Json)
}
