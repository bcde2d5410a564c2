//! `POST /v1/cases/{id}/transfers` and `POST /v1/cases/{id}/transfers/{tid}/accept`
//! (PROCESS.md, Places P4): the lead's team manager asks to move a case to another council's
//! children's social care, and a team manager there accepts it, through
//! `app::cases::{request_transfer, accept_transfer}`, which check the policy, write and audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Path};
use crate::app::cases::{
    self as app, AcceptTransfer, NewTransfer, TransferAccepted, TransferRequested,
};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::state::AppState;

/// `POST /v1/cases/{id}/transfers`: 201 with the pending transfer.
pub(crate) async fn request(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
    Body(body): Body<NewTransfer>,
) -> Result<(StatusCode, Json<TransferRequested>), ApiError> {
    let asked = app::request_transfer(&state, &principal, id, body).await?;
    Ok((StatusCode::CREATED, Json(asked)))
}

/// `POST /v1/cases/{id}/transfers/{tid}/accept`: 200 once the receiving agency leads.
pub(crate) async fn accept(
    principal: Principal,
    State(state): State<AppState>,
    Path((id, tid)): Path<(CaseId, CaseId)>,
    Body(body): Body<AcceptTransfer>,
) -> Result<Json<TransferAccepted>, ApiError> {
    app::accept_transfer(&state, &principal, id, tid, body)
        .await
        .map(Json)
}
