//! Cases (PROCESS.md, Cases): opening one for a child, reading it, and the lead agency's list
//! (recording its events is `case_events`). Each handler parses the request, calls the
//! application function (`app::cases::{open, read, list}`, which checks the policy, writes and
//! audits) and serialises its answer.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Params, Path};
pub(crate) use crate::app::cases::Filters;
use crate::app::cases::{self as app, CaseList, CaseOpened, CaseView, NewCase};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::state::AppState;

/// `POST /v1/cases` (`app::cases::open`): a children's social care worker opens a case for a
/// child, which their agency then leads.
pub(crate) async fn open(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewCase>,
) -> Result<(StatusCode, Json<CaseOpened>), ApiError> {
    let opened = app::open(&state, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(opened)))
}

/// `GET /v1/cases/{id}` (`app::cases::read`).
pub(crate) async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
) -> Result<Json<CaseView>, ApiError> {
    app::read(&state, &principal, id).await.map(Json)
}

/// `GET /v1/cases` (`app::cases::list`).
pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<CaseList>, ApiError> {
    app::list(&state, &principal, &f).await.map(Json)
}
