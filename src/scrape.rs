//! The scrape endpoint: `GET /metrics` on its own listener (`[metrics] listen`), plain HTTP.
//! A scraper (Prometheus) is not an agency and holds no client certificate, so this listener
//! is not behind the gateway's mTLS; what it serves is counts with bounded labels only (no
//! child, record, case or person), and it should be bound to loopback or an operations
//! network. It sits on top, beside `server.rs`: it reads the state's policy and database.
//!
//! The Prometheus text format (0.0.4) by default; OpenMetrics when the scraper asks for
//! `application/openmetrics-text` (Prometheus does). Two values are computed at each scrape:
//! the overdue clocks (one grouped count, bounded by `[database] probe_timeout_ms`; on a
//! failure the last counts stay) and the policy version in force (its number looked up once
//! per version).

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::state::AppState;

#[derive(Clone)]
struct Scrape {
    state: AppState,
    /// The policy version whose number was last looked up.
    version: Arc<Mutex<Option<Numbered>>>,
}

/// A policy version (hash and timescale profile) and its number.
struct Numbered {
    hash: String,
    profile: Option<String>,
    number: i64,
}

/// Serves `GET /metrics` for `state` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let scrape = Scrape {
        state,
        version: Arc::new(Mutex::new(None)),
    };
    let app = Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                "not found: this listener serves GET /metrics only\n",
            )
        })
        .with_state(scrape);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

async fn metrics(State(scrape): State<Scrape>, headers: HeaderMap) -> Response {
    scrape.refresh().await;
    let registry = scrape.state.metrics.registry();
    let mut body = String::new();
    let (encoded, content_type) = if wants_openmetrics(&headers) {
        (
            prometheus_client::encoding::text::encode(&mut body, registry),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            prometheus_client::encoding::prometheus_text::encode(&mut body, registry),
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )
    };
    if let Err(e) = encoded {
        tracing::warn!(error = %e, "the metrics could not be encoded");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

/// Does the scraper accept OpenMetrics text?
fn wants_openmetrics(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"))
}

impl Scrape {
    /// Sets the values computed at scrape time.
    async fn refresh(&self) {
        let state = &self.state;
        let policy = state.policy();
        let bound = crate::db::Bounds::of(&state.config.database).probe;
        let mut clocks: Vec<String> = policy
            .timescales()
            .iter()
            .map(|t| t.clock.clone())
            .collect();
        clocks.sort();
        clocks.dedup();
        let overdue = crate::db::within(
            bound,
            "counting overdue clocks",
            crate::cases::report::overdue_by_clock(&state.db, crate::db::now()),
        )
        .await;
        match overdue {
            Ok(counts) => state.metrics.set_overdue(&clocks, &counts),
            Err(e) => {
                tracing::debug!(error = %e, "overdue clocks not counted for this scrape")
            }
        }
        let hash = policy.version().to_owned();
        let profile = policy.profile().map(str::to_owned);
        let known = self
            .version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|v| v.hash == hash && v.profile == profile)
            .map(|v| v.number);
        let number = match known {
            Some(number) => Some(number),
            None => {
                let found = crate::db::within(
                    bound,
                    "reading the policy version",
                    crate::policy_versions::of_policy(&state.db, &policy),
                )
                .await;
                match found {
                    Ok(found) => found.map(|v| {
                        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(Numbered {
                            hash: hash.clone(),
                            profile: profile.clone(),
                            number: v.number,
                        });
                        v.number
                    }),
                    Err(e) => {
                        tracing::debug!(error = %e, "policy version number not read for this scrape");
                        None
                    }
                }
            }
        };
        // a version whose number could not be read shows as 0 until it can
        state
            .metrics
            .set_policy(number.unwrap_or(0), &hash, profile.as_deref());
    }
}
