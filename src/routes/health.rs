//! `/healthz` (the process is up) and `/readyz` (the database is reachable). No identity, no data.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::{Json, http::StatusCode};
use serde_json::json;

use crate::state::AppState;

/// `GET /healthz` answered: the process is up.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Health {
    #[schemars(extend("enum" = ["ok"]))]
    status: &'static str,
}

pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /readyz` answered 200.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Ready {
    #[schemars(extend("enum" = ["ready"]))]
    status: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
}

/// The authenticated caller as the broker sees it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct WhoAmI {
    agency: String,
    agency_kind: crate::vocab::AgencyKind,
    sub: String,
    roles: Vec<crate::vocab::Role>,
}

/// Ready when the database answers the probe (`SELECT 1` within `[database]
/// probe_timeout_ms`) and, after a write has failed, takes a write again within the same
/// deadline (the writer's probe commits an empty action). A 503 names which of the two failed,
/// so `/readyz` answers within twice the probe's deadline whatever the database does.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db.kind();
    let unavailable = |what: &str, why: String| {
        state.unavailable.note(&format!(
            "readiness: the database does not take a {what}: {why}"
        ));
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": database, "failing": what})),
        )
            .into_response()
    };
    if let Err(why) = state.probe.check().await {
        return unavailable("read", why);
    }
    if !state.writer.writable() {
        let deadline = crate::db::Bounds::of(&state.config.database).probe;
        let written = match tokio::time::timeout(deadline, state.writer.probe()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e
                .cause()
                .map_or_else(|| e.detail.clone(), |c| c.0.to_string())),
            Err(_) => Err(format!("no commit within {} ms", deadline.as_millis())),
        };
        if let Err(why) = written {
            return unavailable("write", why);
        }
    }
    Json(Ready {
        status: "ready",
        database,
    })
    .into_response()
}

/// `GET /v1/whoami`: the authenticated caller as the broker sees it (no database access; the
/// cheapest authenticated endpoint, used by the load generator's `ceiling` scenario).
pub(crate) async fn whoami(principal: crate::identity::Principal) -> Json<WhoAmI> {
    Json(WhoAmI {
        agency: principal.agency.to_string(),
        agency_kind: principal.agency_kind,
        sub: principal.sub,
        roles: principal.roles,
    })
}
