//! `POST /v1/cases/{id}/actions`, `POST /v1/cases/{id}/actions/{aid}/done` and
//! `GET /v1/actions` (PROCESS.md, Meetings, actions and requests for information): the lead
//! agency agrees an action owned by an agency, any of the owner's staff marks it done, and an
//! agency lists its own actions across cases, through `app::cases::{agree_action,
//! complete_action, owned_actions}`, which check the policy, write and audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Params, Path};
use crate::app::cases::{
    self as app, ActionAgreed, ActionDone, ActionFilters, ActionList, CompleteAction, NewAction,
};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::state::AppState;

/// `POST /v1/cases/{id}/actions`: 201 with the action agreed.
pub(crate) async fn agree(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
    Body(body): Body<NewAction>,
) -> Result<(StatusCode, Json<ActionAgreed>), ApiError> {
    let agreed = app::agree_action(&state, &principal, id, body).await?;
    Ok((StatusCode::CREATED, Json(agreed)))
}

/// `POST /v1/cases/{id}/actions/{aid}/done`: 200 once the action is done.
pub(crate) async fn done(
    principal: Principal,
    State(state): State<AppState>,
    Path((id, aid)): Path<(CaseId, CaseId)>,
    Body(body): Body<CompleteAction>,
) -> Result<Json<ActionDone>, ApiError> {
    app::complete_action(&state, &principal, id, aid, body)
        .await
        .map(Json)
}

/// `GET /v1/actions`: the caller's agency's own actions.
pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<ActionFilters>,
) -> Result<Json<ActionList>, ApiError> {
    app::owned_actions(&state, &principal, &f).await.map(Json)
}
