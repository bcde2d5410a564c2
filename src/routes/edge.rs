//! Checks every request passes before its handler, and the net that makes every refusal
//! problem+json. Bodies and query strings are checked by their extractors (`extract.rs`);
//! the path and the header block are checked here, once for every route. [`bound`] answers
//! 503 for a request stalled on a database that no longer answers, and logs 503s' causes.
//! [`pin_policy`] gives a request one policy snapshot for all of it, and [`count`] counts its
//! answer for the metrics.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use crate::error::ApiError;
use crate::state::AppState;
use crate::text::{self, Kind};

/// 431 beyond `max_header_bytes` (the request line and every header), 400 `invalid_path`
/// for a path segment that is not UTF-8 once percent-decoded or holds a control character, and
/// 413 `body_too_large` for a `Content-Length` over `max_body_bytes`.
pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.server.max_header_bytes;
    let size = req.uri().to_string().len()
        + req
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if size > limit {
        return ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "the request line and headers are {size} bytes; the broker accepts at most {limit} (server.max_header_bytes)"
            ),
        )
        .into_response();
    }
    if let Err(e) = check_path(req.uri().path()) {
        return e.into_response();
    }
    if let Err(e) = check_length(req.headers(), state.config.server.max_body_bytes) {
        return e.into_response();
    }
    next.run(req).await
}

/// 413 for a body that declares more than `max_body_bytes` (`Content-Length`), answered before
/// anything reads the body: hyper sends `100 Continue` to an `Expect: 100-continue` request only
/// once the body is first read, so such a client is told at once and never sends the body. A
/// body without a length (chunked) is still cut off at the limit as it is read (extract.rs).
pub fn check_length(headers: &HeaderMap, limit: usize) -> Result<(), ApiError> {
    let declared = headers
        .get_all(header::CONTENT_LENGTH)
        .iter()
        .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .max();
    match declared {
        Some(length) if length > limit as u64 => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "the request body is {length} bytes (Content-Length); the broker accepts at most {limit} (server.max_body_bytes)"
            ),
        )),
        _ => Ok(()),
    }
}

/// The policy in force when a request arrives decides all of it: a version swapped in
/// meanwhile (`broker policy reload`, SIGHUP) reaches the next request, never half of this one.
pub async fn pin_policy(State(state): State<AppState>, req: Request, next: Next) -> Response {
    state.pinned(next.run(req)).await
}

/// A request unanswered after `[database] stall_timeout_ms` is checked against the probe
/// (`SELECT 1` within `probe_timeout_ms`), and again every such interval while it waits: if the
/// database does not answer, the request is answered 503 and its handler dropped (its
/// statements with it; a write action's batch is then abandoned by the writer, its connection
/// closed). A request that is merely slow on a database that answers goes on. Every 503's
/// cause is logged here, through the server's rate limit.
pub async fn bound(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let stall = crate::db::Bounds::of(&state.config.database).stall;
    let answer = next.run(req);
    tokio::pin!(answer);
    let stalled = async {
        loop {
            tokio::time::sleep(stall).await;
            if let Err(why) = state.probe.check().await {
                return why;
            }
        }
    };
    let mut response = tokio::select! {
        response = &mut answer => response,
        why = stalled => ApiError::unavailable(format!(
            "a request stalled on the database for {} ms and the probe failed: {why}",
            stall.as_millis()
        ))
        .into_response(),
    };
    if let Some(cause) = response
        .extensions_mut()
        .remove::<crate::error::Unavailable>()
    {
        state.unavailable.note(&cause.0);
    }
    response
}

/// Each path segment, percent-decoded, must be UTF-8 single-line text.
pub fn check_path(path: &str) -> Result<(), ApiError> {
    for (n, segment) in path.split('/').enumerate().skip(1) {
        let decoded = percent_encoding::percent_decode_str(segment)
            .decode_utf8()
            .map_err(|_| {
                invalid_path(format!(
                    "path segment {n} (\"{}\") is not UTF-8 once percent-decoded",
                    text::escape(segment)
                ))
            })?;
        if let Some(why) = text::problem(&decoded, Kind::SingleLine) {
            return Err(invalid_path(format!("path segment {n} {why}")));
        }
    }
    Ok(())
}

fn invalid_path(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_path", detail)
}

/// Counts every answer (`broker_http_requests_total`) by its route's template, never the raw
/// path (no id reaches a label), its method and its status as the client gets it.
pub async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    state.metrics.request(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        response.status().as_u16(),
    );
    response
}

/// The net under every other layer: an error response in plain text or with no body (a
/// rejection of axum's own that no extractor of ours converted) is rewritten as problem+json,
/// its text kept as the detail. A 5xx keeps saying nothing internal.
pub async fn as_problem(response: Response) -> Response {
    let status = response.status();
    // plain text or nothing: what axum's own rejections send; a JSON body (a problem, or a
    // 403 decision body) is the broker's and left alone
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|v| v.as_bytes().starts_with(b"text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(bytes) => String::from_utf8_lossy(&bytes.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let detail = if status.is_server_error() || text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else {
        text::escape(text.trim())
    };
    let mut problem = ApiError::new(status, code_for(status), detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "body_timeout",
        413 => "body_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_field",
        431 => "headers_too_large",
        s if s >= 500 => "internal",
        _ => "bad_request",
    }
}
