//! Console sessions, kept in the database (`console_sessions`, migration 0010) so every replica
//! shares them. The browser holds a random token in a `__Host-` cookie (`HttpOnly; Secure;
//! SameSite=Strict`); the database holds only its SHA-256. A session is bound to the agency of
//! the client certificate it was opened with, ends after 15 minutes without a request or 8 hours
//! after sign-in, and its sign-in, sign-out and expiry are audit entries.
//!
//! A request without a live session is sent to the sign-in with the page it asked for (a GET);
//! its cookie is cleared only if it sent one. A link followed from another site is a top-level
//! navigation whose `Strict` cookie the browser withholds: it is answered by a page that sends
//! the browser on to the same address from the broker's own site (`view::bounce`), where the
//! cookie is sent, so such a link never signs anyone out. Signing in again ends the session
//! the browser held (`console.sign_out`, reason `signed_in_again`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::back::ReturnTo;
use crate::audit::Entry;
use crate::db::{now, parse_ts, ts};
use crate::error::ApiError;
use crate::identity::{PeerAgency, Principal};
use crate::state::AppState;
use crate::vocab::Role;
use crate::{on_tx, with_db};

/// The session cookie's name (`__Host-`: the browser keeps it only if `Secure`, `Path=/` and no
/// `Domain`).
pub const COOKIE: &str = "__Host-broker_session";
/// No request for this long ends a session.
pub const IDLE: Duration = Duration::minutes(15);
/// A session ends this long after its sign-in, however busy.
pub const ABSOLUTE: Duration = Duration::hours(8);
/// `last_seen_at` is written at most this often (each write is a durable commit).
const TOUCH_EVERY: Duration = Duration::seconds(30);

/// A signed-in person of the certificate's agency, as every console page sees them.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub principal: Principal,
    pub csrf: String,
    pub agency_name: String,
    /// The case pages the person may open (policy), for the navigation.
    pub nav: super::view::Nav,
}

/// 32 random bytes, hex: session tokens, CSRF tokens, login cookies.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    hex::encode(bytes)
}

pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Equal without an early exit (a CSRF token compared against the session's).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value of a session cookie (`None`: one that clears it).
pub fn session_cookie(token: Option<&str>) -> String {
    match token {
        Some(t) => format!("{COOKIE}={t}; Path=/; Secure; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// The agency of the request's client certificate, if it names a configured one.
pub fn certificate_agency(parts: &Parts) -> Option<Arc<str>> {
    match parts.extensions.get::<PeerAgency>() {
        Some(PeerAgency::Known(id)) => Some(id.clone()),
        _ => None,
    }
}

/// The agency the request's client certificate names, if a configured one (an extractor).
pub struct Cert(pub Option<Arc<str>>);

impl<S: Send + Sync> FromRequestParts<S> for Cert {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Cert(certificate_agency(parts)))
    }
}

/// Why a request has no session.
#[derive(Debug)]
pub enum NoSession {
    /// No cookie, an unknown one, or one that has ended or expired: sign in (again), then go
    /// on to `next` (the page asked for, if a GET). `clear`: the browser sent a cookie that
    /// no longer opens anything, which the answer clears; a request that sent none clears
    /// nothing (a cross-site request is sent no `Strict` cookie, and must not end it).
    SignIn {
        why: &'static str,
        next: Option<ReturnTo>,
        clear: bool,
    },
    /// A link followed from another site: the browser withheld the `Strict` cookie. The page
    /// sends it on to the same address from the broker's own site, where the cookie is sent.
    Bounce(ReturnTo),
    /// The session was opened with another agency's certificate.
    WrongAgency,
    /// The store failed.
    Store(ApiError),
}

impl IntoResponse for NoSession {
    fn into_response(self) -> Response {
        match self {
            NoSession::SignIn { why, next, clear } => {
                let mut to = format!("/ui/signin?why={why}");
                if let Some(next) = next.filter(|n| *n != ReturnTo::start()) {
                    to.push_str("&next=");
                    to.push_str(&next.encoded());
                }
                let mut r = Redirect::to(&to).into_response();
                if clear {
                    r.headers_mut().insert(
                        header::SET_COOKIE,
                        session_cookie(None).parse().expect("a header value"),
                    );
                }
                r
            }
            NoSession::Bounce(to) => super::view::bounce("Opening the page", &to),
            NoSession::WrongAgency => super::view::error_page(
                StatusCode::FORBIDDEN,
                "Session refused",
                "This session was opened with another agency's certificate. Sign in with this \
                 browser's certificate.",
            )
            .into_response(),
            NoSession::Store(e) => super::view::api_error_page(e).into_response(),
        }
    }
}

/// Is this request a top-level navigation from another site (a link in a web mail, say)? The
/// browser says so in its fetch metadata headers.
fn cross_site_navigation(headers: &HeaderMap) -> bool {
    let is = |name: &str, value: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case(value))
    };
    is("sec-fetch-site", "cross-site")
        && is("sec-fetch-mode", "navigate")
        && is("sec-fetch-dest", "document")
}

/// The answer to a request without a (live) session: on to the sign-in with the page it asked
/// for, or, for a link followed from another site, the bounce to the same page.
fn sign_in(parts: &Parts, why: &'static str) -> NoSession {
    let sent = cookie(&parts.headers, COOKIE).is_some_and(|t| !t.is_empty());
    let asked = [Method::GET, Method::HEAD]
        .contains(&parts.method)
        .then(|| parts.uri.path_and_query())
        .flatten()
        .and_then(|pq| ReturnTo::parse(pq.as_str()));
    match asked {
        Some(to) if !sent && cross_site_navigation(&parts.headers) => NoSession::Bounce(to),
        next => NoSession::SignIn {
            why,
            next,
            clear: sent,
        },
    }
}

impl From<ApiError> for NoSession {
    fn from(e: ApiError) -> Self {
        NoSession::Store(e)
    }
}

impl From<sqlx::Error> for NoSession {
    fn from(e: sqlx::Error) -> Self {
        NoSession::Store(ApiError::from(e))
    }
}

struct Stored {
    id: String,
    agency: String,
    sub: String,
    roles: String,
    csrf: String,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    ended: bool,
}

/// A `Stored` from a `console_sessions` row (of either database) holding its columns.
macro_rules! stored {
    ($r:expr, $ended:expr) => {
        Stored {
            id: $r.try_get("id")?,
            agency: $r.try_get("agency")?,
            sub: $r.try_get("sub")?,
            roles: $r.try_get("roles")?,
            csrf: $r.try_get("csrf")?,
            created_at: parse_ts(&$r.try_get::<String, _>("created_at")?)?,
            last_seen_at: parse_ts(&$r.try_get::<String, _>("last_seen_at")?)?,
            ended: $ended,
        }
    };
}

impl FromRequestParts<AppState> for Session {
    type Rejection = NoSession;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, NoSession> {
        let session = accept(parts, state).await?;
        // an error page answered to this request shows this person's frame
        if let Some(answering) = parts.extensions.get::<super::view::Answering>()
            && let Some(who) = super::view::Frame::of(&session, "").who
        {
            answering.set(who);
        }
        Ok(session)
    }
}

/// The request's session, if its cookie names one that is live and of the certificate's agency.
async fn accept(parts: &Parts, state: &AppState) -> Result<Session, NoSession> {
    let token = cookie(&parts.headers, COOKIE)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| sign_in(parts, "signed_out"))?;
    let stored = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT id, agency, sub, roles, csrf, created_at, last_seen_at, ended_at \
             FROM console_sessions WHERE token_sha256 = $1")
            .bind(digest(token))
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<Stored, sqlx::Error> {
                Ok(stored!(r, r.try_get::<Option<String>, _>("ended_at")?.is_some()))
            })
            .transpose()?
    });
    let stored = stored.ok_or_else(|| sign_in(parts, "signed_out"))?;
    if stored.ended {
        return Err(sign_in(parts, "signed_out"));
    }
    let at = now();
    let principal = principal_of(state, &stored).ok_or_else(|| sign_in(parts, "signed_out"))?;
    if let Some(reason) = expired(&stored, at) {
        end(state, &stored.id, &principal, reason).await?;
        return Err(sign_in(parts, "expired"));
    }
    // bound to the agency of the certificate it was opened with
    if certificate_agency(parts).as_deref() != Some(stored.agency.as_str()) {
        tracing::warn!(session = %stored.id, "console session presented with another agency's certificate");
        return Err(NoSession::WrongAgency);
    }
    if at - stored.last_seen_at >= TOUCH_EVERY {
        touch(state, &stored.id, at).await?;
    }
    let agency_name = state
        .agencies
        .get(&stored.agency)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let nav = super::view::Nav::of(&state.policy(), &principal);
    Ok(Session {
        id: stored.id,
        principal,
        csrf: stored.csrf,
        agency_name,
        nav,
    })
}

/// The person of a stored session (`None`: its agency has left the configuration since, and
/// the session cannot go on).
fn principal_of(state: &AppState, s: &Stored) -> Option<Principal> {
    let agency = state.agencies.get_key_value(&s.agency)?;
    let names: Vec<String> = serde_json::from_str(&s.roles).unwrap_or_default();
    let roles: Vec<Role> = names.iter().filter_map(|n| n.parse().ok()).collect();
    Some(Principal {
        agency: Arc::from(agency.0.as_str()),
        agency_kind: agency.1.kind,
        sub: s.sub.clone(),
        roles,
    })
}

/// `idle` or `absolute` when the session has run out at `at`.
fn expired(s: &Stored, at: DateTime<Utc>) -> Option<&'static str> {
    if at - s.created_at >= ABSOLUTE {
        Some("absolute")
    } else if at - s.last_seen_at >= IDLE {
        Some("idle")
    } else {
        None
    }
}

async fn touch(state: &AppState, id: &str, at: DateTime<Utc>) -> Result<(), ApiError> {
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query("UPDATE console_sessions SET last_seen_at = $2 WHERE id = $1")
        .bind(id)
        .bind(ts(at))
        .execute(&mut **c)
        .await
        .map(drop))?;
    tx.finish().await
}

/// Opens a session for `principal` (signed in by `method`) and audits the sign-in: the
/// cookie's token.
pub async fn open(
    state: &AppState,
    principal: &Principal,
    method: &str,
) -> Result<String, ApiError> {
    sweep(state).await?;
    let token = random_token();
    let id = uuid::Uuid::now_v7().to_string();
    let at = ts(now());
    let roles = serde_json::to_string(&principal.roles_text()).map_err(ApiError::internal)?;
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO console_sessions (id, token_sha256, agency, sub, roles, csrf, method, \
         created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)")
        .bind(&id)
        .bind(digest(&token))
        .bind(&*principal.agency)
        .bind(&principal.sub)
        .bind(&roles)
        .bind(random_token())
        .bind(method)
        .bind(&at)
        .execute(&mut **c)
        .await
        .map(drop))?;
    tx.commit(
        Entry::new(principal, "console.sign_in")
            .detail(serde_json::json!({"session_id": id, "method": method})),
    )
    .await?;
    Ok(token)
}

/// Ends session `id` for `reason` (`sign_out`, `signed_in_again`, `idle`, `absolute`) with its
/// audit entry (`console.sign_out` for the first two, `console.session_expired` for the
/// others), once: a session already ended is left.
pub async fn end(
    state: &AppState,
    id: &str,
    principal: &Principal,
    reason: &str,
) -> Result<(), ApiError> {
    let mut tx = state.writer.begin().await?;
    let changed = on_tx!(&mut tx, c => sqlx::query(
        "UPDATE console_sessions SET ended_at = $2, end_reason = $3 WHERE id = $1 AND ended_at IS NULL")
        .bind(id)
        .bind(ts(now()))
        .bind(reason)
        .execute(&mut **c)
        .await
        .map(|r| r.rows_affected()))?;
    if changed == 0 {
        return Ok(());
    }
    let action = if matches!(reason, "sign_out" | SIGNED_IN_AGAIN) {
        "console.sign_out"
    } else {
        "console.session_expired"
    };
    tx.commit(
        Entry::new(principal, action)
            .detail(serde_json::json!({"session_id": id, "reason": reason})),
    )
    .await
    .map(drop)
}

/// The end reason of a session its browser replaced by signing in again.
pub const SIGNED_IN_AGAIN: &str = "signed_in_again";

/// Ends, with its audit entry, the session whose cookie has digest `token_sha256` (the one the
/// browser held when it signed in again), if it is still open.
pub async fn end_replaced(state: &AppState, token_sha256: &str) -> Result<(), ApiError> {
    let earlier = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT id, agency, sub, roles, csrf, created_at, last_seen_at FROM console_sessions \
             WHERE token_sha256 = $1 AND ended_at IS NULL")
            .bind(token_sha256)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<Stored, sqlx::Error> { Ok(stored!(r, false)) })
            .transpose()?
    });
    match earlier
        .as_ref()
        .and_then(|s| Some((s, principal_of(state, s)?)))
    {
        Some((s, principal)) => end(state, &s.id, &principal, SIGNED_IN_AGAIN).await,
        None => Ok(()),
    }
}

/// Every `every`, ends the sessions that ran out while nobody presented them, each with its
/// audit entry, so an abandoned session's expiry is in the audit log within a minute of it,
/// not at the next sign-in. A sweep that cannot write (a database that cannot serve) is tried
/// again at the next tick.
pub async fn sweep_every(state: AppState, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match sweep(&state).await {
                // a full batch ended: there may be more
                Ok(ended) if ended == SWEEP_BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    if let Some(cause) = e.cause() {
                        state.unavailable.note(&cause.0);
                    }
                    tracing::warn!(
                        code = e.code,
                        "the console's session sweep failed; trying again at the next tick"
                    );
                    break;
                }
            }
        }
    }
}

/// The sessions one sweep looks at.
const SWEEP_BATCH: usize = 100;

/// Ends, with their audit entries, the sessions that have run out but were never presented
/// again (run at each sign-in and by [`sweep_every`]), at most [`SWEEP_BATCH`]. Returns how
/// many it ended (a session of an agency no longer configured is left).
async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let at = now();
    let stale = with_db!(&state.db, pool => {
        sqlx::query(
            "SELECT id, agency, sub, roles, csrf, created_at, last_seen_at FROM console_sessions \
             WHERE ended_at IS NULL AND (last_seen_at < $1 OR created_at < $2) LIMIT $3")
            .bind(ts(at - IDLE))
            .bind(ts(at - ABSOLUTE))
            .bind(SWEEP_BATCH as i64)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| -> Result<Stored, sqlx::Error> { Ok(stored!(r, false)) })
            .collect::<Result<Vec<_>, _>>()?
    });
    let mut ended = 0;
    for s in stale {
        let (Some(principal), Some(reason)) = (principal_of(state, &s), expired(&s, at)) else {
            continue;
        };
        end(state, &s.id, &principal, reason).await?;
        ended += 1;
    }
    Ok(ended)
}

/// Refuses a form whose CSRF token is missing or not the session's (403, nothing done).
pub fn check_csrf(session: &Session, sent: Option<&str>) -> Result<(), super::view::Refusal> {
    match sent {
        Some(t) if same_secret(t, &session.csrf) => Ok(()),
        _ => Err(super::view::error_page(
            StatusCode::FORBIDDEN,
            "Form refused",
            "The form did not carry this session's security token. Go back, reload the page \
             and try again.",
        )),
    }
}

/// The frame of a signed-in person's page (here rather than in `view`, which does not know
/// what a session is).
impl super::view::Frame {
    pub fn of(session: &Session, title: &str) -> super::view::Frame {
        let p = &session.principal;
        super::view::Frame {
            title: title.to_owned(),
            who: Some(super::view::Who {
                sub: p.sub.clone(),
                agency: session.agency_name.clone(),
                roles: p
                    .roles
                    .iter()
                    .map(|r| super::labels::Label::label(*r))
                    .collect::<Vec<_>>()
                    .join(", "),
                csrf: session.csrf.clone(),
                nav: session.nav,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(created_ago: Duration, seen_ago: Duration, at: DateTime<Utc>) -> Stored {
        Stored {
            id: "s".into(),
            agency: "a".into(),
            sub: "p".into(),
            roles: "[]".into(),
            csrf: "c".into(),
            created_at: at - created_ago,
            last_seen_at: at - seen_ago,
            ended: false,
        }
    }

    #[test]
    fn a_session_ends_after_15_idle_minutes_or_8_hours_whatever_its_use() {
        let at = now();
        let m = Duration::minutes;
        // (created, last seen, verdict)
        let table = [
            (m(1), m(0), None),
            (m(30), m(14), None),
            (m(30), m(15), Some("idle")),
            (Duration::hours(8) - m(1), m(0), None),
            (Duration::hours(8), m(0), Some("absolute")),
            (Duration::hours(9), m(20), Some("absolute")),
        ];
        for (created, seen, verdict) in table {
            assert_eq!(
                expired(&stored(created, seen, at), at),
                verdict,
                "created {created} ago, seen {seen} ago"
            );
        }
    }

    #[test]
    fn the_cookie_is_host_only_secure_http_only_and_strict() {
        let set = session_cookie(Some("t"));
        for part in [
            "__Host-broker_session=t",
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
        ] {
            assert!(set.split("; ").any(|p| p == part), "{part} in {set}");
        }
        assert!(!set.contains("Domain"), "{set}");
        assert!(session_cookie(None).contains("Max-Age=0"));
        assert!(
            same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("ab", "abc")
        );
    }
}
