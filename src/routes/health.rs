//! `/healthz` (the process is up) and `/readyz` (the database is reachable). No identity, no data.

use axum::extract::State;
use axum::{Json, http::StatusCode};
use serde_json::{Value, json};

use crate::server::AppState;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "database": state.db.kind()})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": state.db.kind()})),
            )
        }
    }
}

/// `GET /v1/whoami`: the authenticated caller as the broker sees it (no database access; the
/// cheapest authenticated endpoint, used by the load generator's `ceiling` scenario).
pub(crate) async fn whoami(principal: crate::identity::Principal) -> Json<Value> {
    Json(json!({
        "agency": &*principal.agency,
        "agency_kind": principal.agency_kind,
        "sub": principal.sub,
        "roles": principal.roles,
    }))
}
