//! A child's consents, recorded and withdrawn: the HTTP side of `app::consents`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Path};
pub(crate) use crate::app::consents::{NewConsent, Withdrawn};
use crate::app::views::Created;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{ConsentId, SubjectId};
use crate::state::AppState;

/// `POST /v1/subjects/{id}/consents`.
pub(crate) async fn consent(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewConsent>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let created = crate::app::consents::record(&state, &principal, subject, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `POST /v1/subjects/{id}/consents/{cid}/withdraw`.
pub(crate) async fn withdraw(
    principal: Principal,
    State(state): State<AppState>,
    Path((subject, consent)): Path<(SubjectId, ConsentId)>,
) -> Result<Json<Withdrawn>, ApiError> {
    crate::app::consents::withdraw(&state, &principal, subject, consent)
        .await
        .map(Json)
}
