//! `POST /v1/requests`, `GET /v1/requests` and `POST /v1/requests/{id}/decline` (PROCESS.md,
//! requests for information): the lead agency of a child's case asks another agency for
//! information, both list them, the addressee declines one; through `app::requests`, which
//! checks the policy, writes and audits. A disclosure naming `request_id` answers one
//! (`app::disclosures`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Params, Path};
pub(crate) use crate::app::requests::Filters;
use crate::app::requests::{
    self as app, Declined, NewDecline, NewRequest, RequestCreated, RequestList,
};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::RequestId;
use crate::state::AppState;

/// `POST /v1/requests`: 201 with the open request.
pub(crate) async fn ask(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewRequest>,
) -> Result<(StatusCode, Json<RequestCreated>), ApiError> {
    let asked = app::ask(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(asked)))
}

/// `GET /v1/requests`.
pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<RequestList>, ApiError> {
    app::list(&state, &principal, &f).await.map(Json)
}

/// `POST /v1/requests/{id}/decline`.
pub(crate) async fn decline(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<RequestId>,
    Body(body): Body<NewDecline>,
) -> Result<Json<Declined>, ApiError> {
    app::decline(&state, &principal, id, body).await.map(Json)
}
