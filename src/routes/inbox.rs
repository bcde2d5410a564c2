//! `GET /v1/inbox`, a packet fetched and acknowledged: the HTTP side of `app::inbox`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::extract::Path;
pub(crate) use crate::app::inbox::{Acknowledged, InboxItem};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::DisclosureId;
use crate::state::AppState;

pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Vec<InboxItem>>, ApiError> {
    crate::app::inbox::list(&state, &principal).await.map(Json)
}

/// The packet as `application/age`, only to its addressee (anyone else 404).
pub(crate) async fn fetch(
    principal: Principal,
    State(state): State<AppState>,
    Path(disclosure): Path<DisclosureId>,
) -> Result<Response, ApiError> {
    let armored = crate::app::inbox::fetch(&state, &principal, disclosure).await?;
    Ok(([(header::CONTENT_TYPE, "application/age")], armored).into_response())
}

/// `POST /v1/inbox/{disclosure_id}/ack`.
pub(crate) async fn ack(
    principal: Principal,
    State(state): State<AppState>,
    Path(disclosure): Path<DisclosureId>,
) -> Result<Json<Acknowledged>, ApiError> {
    crate::app::inbox::acknowledge(&state, &principal, disclosure)
        .await
        .map(Json)
}
