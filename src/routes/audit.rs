//! For IG officers: the audit log with filters and cursor paging, a streamed CSV export and
//! the chain's verification (the override review queue is `reviews`, a child's subject access
//! history `history`).
//! A partnership IG officer sees everything; an IG officer of another agency sees the entries
//! where its agency is the requester, an owner of the records, or the recipient. Every query
//! is itself audited.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::extract::Params;
pub(crate) use crate::app::audit::Filters;
use crate::app::audit::{self as app, AuditPage};
use crate::audit::Verification;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<AuditPage>, ApiError> {
    app::query(&state, &principal, &f).await.map(Json)
}

/// `GET /v1/audit/export.csv` (`app::audit_csv::export`): the same rows as `GET /v1/audit`,
/// all of them, as CSV, streamed a page at a time.
pub(crate) async fn export(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Response, ApiError> {
    let stream = crate::app::audit_csv::export(&state, &principal, f).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

pub(crate) async fn verify(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Verification>, ApiError> {
    app::verify(&state, &principal).await.map(Json)
}

/// `GET /v1/audit/checkpoint`: the latest signed checkpoint, `text/plain` (a C2SP signed note).
pub(crate) async fn checkpoint(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let note = crate::app::evidence::checkpoint(&state, &principal).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// `GET /v1/audit/log-key`: the verifier key of the broker's log key, `text/plain`.
pub(crate) async fn log_key(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let key = crate::app::evidence::log_key(&state, &principal)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], key).into_response())
}

pub(crate) use crate::app::evidence::{ConsistencyQuery, InclusionQuery, KeptCheckpoint};

/// `POST /v1/audit/checkpoint/verify`: does the log still hold what a kept checkpoint signed?
pub(crate) async fn verify_checkpoint(
    principal: Principal,
    State(state): State<AppState>,
    super::extract::Body(kept): super::extract::Body<KeptCheckpoint>,
) -> Result<Json<crate::audit::Extension>, ApiError> {
    crate::app::evidence::verify_checkpoint(&state, &principal, &kept)
        .await
        .map(Json)
}

pub(crate) async fn inclusion(
    principal: Principal,
    State(state): State<AppState>,
    Params(q): Params<InclusionQuery>,
) -> Result<Json<crate::audit::InclusionProof>, ApiError> {
    crate::app::evidence::inclusion(&state, &principal, &q)
        .await
        .map(Json)
}

pub(crate) async fn consistency(
    principal: Principal,
    State(state): State<AppState>,
    Params(q): Params<ConsistencyQuery>,
) -> Result<Json<crate::audit::ConsistencyProof>, ApiError> {
    crate::app::evidence::consistency(&state, &principal, &q)
        .await
        .map(Json)
}
