//! Building the gateway: the router, and the mTLS accept loop that turns each verified client
//! certificate into a [`PeerAgency`] on every request of its connection. The application
//! state it serves is [`crate::state`] (re-exported here).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::connection::{Activity, DeadlineBody, Full, Refusals, Slots};
use crate::crypto;
use crate::error;
use crate::identity::{PeerAgency, People, PersonHold};
pub use crate::state::{Agency, AppState, Metrics, load_agencies};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    let limit = state.config.server.max_body_bytes;
    Router::new()
        .merge(crate::routes::router())
        .merge(crate::console::router())
        .fallback(error::not_found)
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not accept that method",
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::edge::pin_policy,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::edge::bound,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::edge::guard,
        ))
        .layer(axum::middleware::map_response(
            crate::routes::edge::as_problem,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::edge::count,
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // the request id may come from the client: escaped like every untrusted string
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .map_or_else(|| "-".to_owned(), crate::text::escape);
                let path = crate::text::escape(req.uri().path());
                tracing::info_span!("request", id = %id, method = %req.method(), path = %path)
            }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Reads the connection's client certificate once and names its agency.
fn peer_agency(
    conn: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    agencies: &HashMap<String, Agency>,
) -> Option<PeerAgency> {
    let leaf = conn.get_ref().1.peer_certificates()?.first()?;
    let mut named = crypto::certificate_agencies(leaf);
    Some(match named.len() {
        0 => PeerAgency::Unnamed,
        1 => {
            let id = named.remove(0);
            match agencies.get_key_value(&id) {
                Some((known, _)) => PeerAgency::Known(Arc::from(known.as_str())),
                None => PeerAgency::Unknown(id),
            }
        }
        n => PeerAgency::Ambiguous(n),
    })
}

/// The slot a connection counts against: its agency, or one shared slot for certificates that
/// name no configured agency (they can do nothing but be refused).
fn slot_key(identity: Option<&PeerAgency>) -> Arc<str> {
    match identity {
        Some(PeerAgency::Known(id)) => id.clone(),
        _ => Arc::from(""),
    }
}

/// The client certificate's SHA-256, the key of `max_connections_per_client`.
fn client_key(conn: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>) -> Arc<str> {
    let leaf = conn.get_ref().1.peer_certificates().and_then(|c| c.first());
    Arc::from(leaf.map_or_else(String::new, |c| crypto::sha256_hex(c.as_ref())))
}

/// Resolves when a reload of the revocation list refuses the chain a connection presented.
/// `reloads` is taken before the handshake, so no reload after it goes unseen.
async fn revoked(
    trust: &crypto::AgencyTrust,
    mut reloads: tokio::sync::watch::Receiver<u64>,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
) {
    while reloads.changed().await.is_ok() {
        if !trust.still_trusted(&chain) {
            return;
        }
    }
    std::future::pending().await
}

/// How long a connection must have been idle before a new one may take its place at a cap,
/// so that one just opened is not closed before its first request.
const IDLE_BEFORE_MAKING_ROOM: Duration = Duration::from_secs(1);

/// The answer on a connection beyond its agency's or certificate's cap, none of whose
/// connections has been idle long enough to give way: 429 problem+json, then the connection
/// is closed.
async fn over_cap(full: Full) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (cap, whose, key) = match full {
        Full::Agency(cap) => (cap, "your agency", "max_connections_per_agency"),
        Full::Client(cap) => (cap, "your client certificate", "max_connections_per_client"),
    };
    let mut response = error::ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "too_many_connections",
        format!(
            "{whose} already has {cap} connections open and none of them idle \
             (server.{key}); reuse one or close one"
        ),
    )
    .into_response();
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// The HTTP side of every connection: HTTP/1 header read timeout and buffer bound (twice
/// `max_header_bytes`, so a header block between the two gets the broker's problem+json 431
/// and only a larger one hyper's own empty 431).
fn http_builder(server: &crate::config::ServerConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout())
        .max_buf_size((server.max_header_bytes * 2).max(8192));
    builder.http2().timer(TokioTimer::new());
    builder
}

/// Serves `state` over mTLS on `listener` until `shutdown` resolves, then drains open
/// connections for up to ten seconds.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let server = state.config.server.clone();
    // the scrape endpoint first: a listen address it cannot have refuses the start
    let scrape = match &state.config.metrics {
        Some(m) => Some(metrics_listener(m.listen, state.clone()).await?),
        None => None,
    };
    let trust = Arc::new(crypto::AgencyTrust::load(
        &server.client_ca,
        server.client_crl.as_deref(),
    )?);
    let tls = crypto::server_tls_config(&server.tls_cert, &server.tls_key, trust.clone())?;
    let crl_watch = tokio::spawn(trust.clone().watch_crl());
    let key_watch = tokio::spawn(state.at_rest.clone().watch(crypto::AT_REST_RELOAD));
    let acceptor = TlsAcceptor::from(tls);
    let agencies = state.agencies.clone();
    let metrics = state.metrics.clone();
    let unavailable = state.unavailable.clone();
    let sweeper = tokio::spawn(crate::console::session::sweep_every(
        state.clone(),
        Duration::from_secs(state.config.console.session_sweep_seconds.max(1)),
    ));
    // SIGHUP is taken over before the first connection is accepted: from then on it reloads
    // the policy instead of ending the process
    let policy_watch = tokio::spawn(crate::app::policy::watch(
        state.clone(),
        crate::app::policy::hangups()?,
    ));
    let checkpoints = tokio::spawn(crate::audit::checkpoints::sign_on_schedule(
        state.db.clone(),
        state.log_key.clone(),
        state.config.audit.checkpoint_interval(),
    ));
    let router = app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = http_builder(&server);
    let slots = Slots::new(
        server.max_connections_per_agency,
        server.max_connections_per_client,
        IDLE_BEFORE_MAKING_ROOM,
    );
    let people = People::new(server.max_connections_per_person);
    let refusals = Arc::new(Refusals::default());
    let summary = tokio::spawn(refusals.clone().run(server.refusal_log_interval()));
    let unavailable_summary = tokio::spawn(unavailable.clone().run());
    let (handshake_timeout, idle_timeout, body_timeout) = (
        server.tls_handshake_timeout(),
        server.idle_timeout(),
        server.body_read_timeout(),
    );
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        let agencies = agencies.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let metrics = metrics.clone();
        let slots = slots.clone();
        let people = people.clone();
        let trust = trust.clone();
        let refusals = refusals.clone();
        tokio::spawn(async move {
            let reloads = trust.reloaded();
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    // one summary line per interval (Refusals), not a line per handshake
                    let reason = crypto::handshake_refusal(&e);
                    metrics.refused_handshake(reason);
                    refusals.note(reason);
                    tracing::debug!(%peer, error = %crate::text::escape(&e.to_string()), "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    metrics.refused_handshake("timeout");
                    refusals.note("timeout");
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let identity = peer_agency(&tls, &agencies);
            let activity = Activity::new();
            let taken = slots.take(
                slot_key(identity.as_ref()),
                client_key(&tls),
                activity.clone(),
            );
            let slot = match taken {
                Ok(slot) => slot,
                Err(full) => {
                    metrics.refused_connection();
                    tracing::debug!(%peer, ?full, "connection over a cap refused");
                    let service = tower::service_fn(move |_req: Request<Incoming>| async move {
                        Ok::<_, std::convert::Infallible>(over_cap(full).await)
                    });
                    let conn = builder
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
                    let _ = tokio::time::timeout(idle_timeout, conn).await;
                    return;
                }
            };
            let chain = tls
                .get_ref()
                .1
                .peer_certificates()
                .unwrap_or_default()
                .to_vec();
            let in_flight = activity.clone();
            let connection = slot.id();
            let service = tower::service_fn(move |req: Request<Incoming>| {
                let busy = in_flight.begin();
                let hold = PersonHold::new(people.clone(), connection);
                let (mut parts, body) = req.into_parts();
                if let Some(identity) = &identity {
                    parts.extensions.insert(identity.clone());
                }
                parts.extensions.insert(hold.clone());
                let req = Request::from_parts(parts, DeadlineBody::new(body, body_timeout));
                let response = router.clone().oneshot(req);
                async move {
                    let response = response.await?;
                    // the request stays in flight until its response body has been sent
                    Ok::<_, std::convert::Infallible>(response.map(|body| {
                        axum::body::Body::new(body.map_frame(move |frame| {
                            let _ = (&busy, &hold);
                            frame
                        }))
                    }))
                }
            });
            let conn =
                builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(service));
            tokio::select! {
                closed = watcher.watch(conn) => {
                    if let Err(e) = closed {
                        tracing::debug!(%peer, error = %crate::text::escape(&e.to_string()), "connection closed with an error");
                    }
                }
                () = activity.idle(idle_timeout) => {
                    metrics.closed_idle();
                    tracing::debug!(%peer, "idle connection closed");
                }
                // a new connection took its place at a cap: closed once no request is in flight
                () = async { slot.closed().await; activity.until_idle().await } => {
                    metrics.closed_for_room();
                    tracing::debug!(%peer, "idle connection closed to make room for a new one");
                }
                () = revoked(&trust, reloads, chain) => {
                    tracing::warn!(%peer, "open connection closed: the revocation list now refuses its client certificate");
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s; closing");
        }
    }
    if let Some((stop, served)) = scrape {
        let _ = stop.send(());
        let mut served = served;
        if tokio::time::timeout(Duration::from_secs(5), &mut served)
            .await
            .is_err()
        {
            served.abort();
        }
    }
    refusals.summarise(server.refusal_log_interval());
    summary.abort();
    unavailable.summarise();
    unavailable_summary.abort();
    sweeper.abort();
    policy_watch.abort();
    checkpoints.abort();
    crl_watch.abort();
    key_watch.abort();
    Ok(())
}

/// Binds `[metrics] listen` and serves `GET /metrics` there until told to stop.
async fn metrics_listener(
    listen: SocketAddr,
    state: AppState,
) -> anyhow::Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
)> {
    use anyhow::Context;
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on [metrics] listen = {listen}"))?;
    tracing::info!(listen = %listener.local_addr()?, "metrics served (plain HTTP, GET /metrics)");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crate::scrape::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok((stop, served))
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
