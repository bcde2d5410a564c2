//! `POST /v1/records`, `POST /v1/records/{id}/chair-permissions` and
//! `GET /v1/records/{id}/disclosures`: the body parsed, the action called (`app::records`:
//! deposit, the chair's permission, the owner's view of its record) and its typed answer
//! serialised. What is permitted, stored and audited is the action's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::{Body, Path};
use super::views::decision_body;
use crate::app::disclosures::Refusal;
use crate::app::records::{self, Deposit, RecordDisclosures};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::RecordId;
use crate::state::AppState;

pub use crate::app::records::{ChairPermitted, Deposited, NewChairPermission, NewRecord};

pub(crate) async fn deposit(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewRecord>,
) -> Result<Response, ApiError> {
    match records::deposit(&state, &principal, Deposit::try_from(body)?).await {
        Ok(done) => Ok((StatusCode::CREATED, Json(done)).into_response()),
        Err(Refusal::Denied(denied)) => Ok((
            StatusCode::FORBIDDEN,
            Json(decision_body(&denied.decision, None, denied.audit_seq)),
        )
            .into_response()),
        Err(Refusal::Failed(e)) => Err(e),
    }
}

pub(crate) async fn chair_permission(
    principal: Principal,
    State(state): State<AppState>,
    Path(record): Path<RecordId>,
    Body(body): Body<NewChairPermission>,
) -> Result<(StatusCode, Json<ChairPermitted>), ApiError> {
    records::grant_chair_permission(&state, &principal, record, body)
        .await
        .map(|done| (StatusCode::CREATED, Json(done)))
}

pub(crate) async fn disclosures(
    principal: Principal,
    State(state): State<AppState>,
    Path(record): Path<RecordId>,
) -> Result<Json<RecordDisclosures>, ApiError> {
    records::disclosures_of(&state, &principal, record)
        .await
        .map(Json)
}
