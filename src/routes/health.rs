//! `/healthz` (the process is up) and `/readyz` (the database is reachable). No identity, no data.

use axum::extract::State;
use axum::{Json, http::StatusCode};
use serde_json::{Value, json};

use crate::state::AppState;

pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Ready when the database answers a read and, after a write has failed, takes a write again
/// (the writer's probe commits an empty action). A 503 names which of the two failed.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = state.db.kind();
    let unavailable = |what: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": database, "failing": what})),
        )
    };
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = ?e, "readiness check failed: the database does not answer a read");
        return unavailable("read");
    }
    if !state.writer.writable() && state.writer.probe().await.is_err() {
        return unavailable("write");
    }
    (
        StatusCode::OK,
        Json(json!({"status": "ready", "database": database})),
    )
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
