//! The web console under `/ui/`: server-rendered HTML (askama templates in
//! `console/templates/`) styled with the vendored GOV.UK Frontend, for the people of an agency
//! (a DSL reading their inbox, an IG officer answering an auditor). Every page is built by
//! calling the API's own handler with the session's person as its `Principal`, so a page shows
//! exactly what the same person could get from the API, and audits exactly as it does.
//!
//! Layer: above `routes` (whose handlers it calls), below `server` (which merges its router).

mod actions;
mod assets;
mod back;
mod case_actions;
mod case_meetings;
mod case_moves;
mod case_new;
mod case_pathway;
mod case_requests;
mod case_route;
mod cases;
mod chart;
mod children;
mod evidence;
mod form;
mod ig;
mod labels;
mod mappa;
mod meetings;
pub mod oidc;
mod places;
mod policy;
mod policy_words;
mod practitioner;
mod query;
mod records;
mod report;
mod requests;
pub mod session;
mod time;
mod transfers;
mod view;

use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use serde::Deserialize;

use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Role;
use back::ReturnTo;
pub use form::{FormFields, Posted, fields};
use session::{Cert, Session, cookie};
use view::{Frame, PageResult, Refusal, page};

/// The Content-Security-Policy of every console answer: nothing but the broker's own files, no
/// inline script or style, no framing, forms only to the broker.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The console's routes, all under `/ui/`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(home))
        .route("/ui/assets/{*path}", get(assets::serve))
        .route("/ui/signin", get(signin_page))
        .route("/ui/signin/start", get(signin_start))
        .route("/ui/signin/callback", get(signin_callback))
        .route("/ui/signin/dev", post(signin_dev))
        .route("/ui/signout", post(signout))
        .route("/ui/inbox", get(practitioner::inbox))
        .route("/ui/inbox/{id}", get(practitioner::packet))
        .route("/ui/inbox/{id}/ack", post(practitioner::acknowledge))
        .route("/ui/records", get(practitioner::record_lookup))
        .route("/ui/records/{id}", get(practitioner::record))
        // records and sharing: deposit, the chair's permission, share with a preview
        .route(
            "/ui/records/new",
            get(records::new_record).post(records::deposit),
        )
        .route(
            "/ui/records/{id}/chair-permissions",
            post(records::chair_permission),
        )
        .route(
            "/ui/records/{id}/share",
            get(records::share_form).post(records::share),
        )
        .route("/ui/audit", get(ig::search))
        .route("/ui/audit/export.csv", get(ig::export))
        .route(
            "/ui/audit/verify",
            get(evidence::chain).post(evidence::check),
        )
        .route("/ui/audit/checkpoint.txt", get(evidence::checkpoint_file))
        .route("/ui/audit/log-key.txt", get(evidence::log_key_file))
        .route(
            "/ui/audit/reviews",
            get(ig::reviews).post(ig::review_several),
        )
        .route("/ui/audit/reviews/{seq}", post(ig::review))
        .route("/ui/subjects", get(ig::subject_lookup))
        .route("/ui/subjects/{id}/history", get(ig::history))
        .route("/ui/policy", get(policy::show))
        .route("/ui/cases", get(cases::list))
        .route(
            "/ui/cases/new",
            get(case_new::new_case).post(case_new::open),
        )
        .route("/ui/cases/{id}", get(cases::case))
        .route("/ui/cases/{id}/events", post(cases::record))
        .route(
            "/ui/cases/{id}/transfer",
            get(transfers::transfer_form).post(transfers::transfer),
        )
        .route(
            "/ui/cases/{id}/transfers/{tid}/accept",
            get(transfers::accept_form).post(transfers::accept),
        )
        .route(
            "/ui/cases/{id}/reallocate",
            get(transfers::reallocate_form).post(transfers::reallocate),
        )
        // actions agreed on a case, and the agency's own (actions.rs)
        .route("/ui/cases/{id}/actions/new", get(actions::new_action))
        .route("/ui/cases/{id}/actions", post(actions::agree))
        .route(
            "/ui/cases/{id}/actions/{aid}/done",
            get(actions::done_form).post(actions::done),
        )
        .route("/ui/actions", get(actions::list))
        // requests for information: asked from a case, listed, answered (through the share
        // form) or declined (requests.rs)
        .route(
            "/ui/cases/{id}/requests/new",
            get(requests::ask_form).post(requests::ask),
        )
        .route("/ui/requests", get(requests::list))
        .route("/ui/requests/{id}/answer", get(requests::answer_form))
        .route(
            "/ui/requests/{id}/decline",
            get(requests::decline_form).post(requests::decline),
        )
        .route(
            "/ui/cases/{id}/screening",
            get(case_route::screening_form).post(case_route::screening),
        )
        .route(
            "/ui/cases/{id}/route",
            get(case_route::route_form).post(case_route::route),
        )
        .route(
            "/ui/cases/{id}/not-required",
            get(case_route::not_required_form).post(case_route::not_required),
        )
        .route(
            "/ui/cases/{id}/meetings/new",
            get(meetings::schedule_form).post(meetings::schedule),
        )
        .route(
            "/ui/cases/{id}/meetings/{mid}/attendance",
            get(meetings::attendance_form).post(meetings::attendance),
        )
        .route("/ui/reports/timeliness", get(report::timeliness))
        .route("/ui/reports/timeliness.csv", get(report::timeliness_csv))
        // the child's pages (children.rs) and the MAPPA forum's decision (mappa.rs)
        .route("/ui/children", get(children::list))
        .route(
            "/ui/children/new",
            get(children::new_child).post(children::register),
        )
        .route("/ui/children/{id}", get(children::child))
        .route("/ui/children/{id}/history", get(ig::history))
        .route("/ui/children/{id}/consents", post(children::consent))
        .route(
            "/ui/children/{id}/consents/{cid}/withdraw",
            post(children::withdraw),
        )
        .route("/ui/children/{id}/competence", post(children::competence))
        .route("/ui/children/{id}/school", post(children::school))
        .route("/ui/children/{id}/residence", post(children::residence))
        .route("/ui/children/{id}/mappa", post(children::mappa_status))
        .route(
            "/ui/children/{id}/staff-designations",
            post(children::designate),
        )
        .route(
            "/ui/mappa/decisions/new",
            get(mappa::new_decision).post(mappa::record_decision),
        )
        // any other console path: the console's 404 page (static routes above take precedence)
        .route("/ui/{*unknown}", any(not_found))
        .layer(axum::middleware::from_fn(view::frame_errors))
        .layer(axum::middleware::from_fn(headers))
}

/// An unknown console path: a 404 page, in the person's frame when signed in.
async fn not_found(_session: Result<Session, session::NoSession>) -> Refusal {
    // asked for only so that, when it accepts the session, the page shows the person's frame
    view::error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no console page at this address. Check it, or go to the start page.",
    )
}

/// The security headers of every console answer.
async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    frame: Frame,
    nav: view::Nav,
    /// What waits for the person (`app::waiting`), each part only where the policy lets them.
    waiting: Vec<Waits>,
    /// The transfers of cases waiting for the person's agency to accept (PROCESS.md P4).
    transfers: Vec<case_moves::WaitingLine>,
}

/// A line of what waits: a count, in words, linking to the page that shows it.
struct Waits {
    id: &'static str,
    count: usize,
    text: String,
    href: String,
}

/// What waits for a person, as the start page words it.
fn waits(w: &crate::app::waiting::Waiting, sub: &str) -> Vec<Waits> {
    let n = |count: usize, one: &str, many: &str| match count {
        0 => format!("No {one}"),
        1 => format!("1 {one}"),
        c if c >= crate::app::waiting::MOST => format!("{c} or more {many}"),
        c => format!("{c} {many}"),
    };
    let mut out = vec![Waits {
        id: "waiting-packets",
        count: w.new_packets,
        text: format!(
            "{} in your inbox",
            n(w.new_packets, "new packet", "new packets")
        ),
        href: "/ui/inbox".to_owned(),
    }];
    if let Some(c) = w.my_overdue_cases {
        out.push(Waits {
            id: "waiting-my-overdue",
            count: c,
            text: format!(
                "{} with a clock overdue",
                n(c, "case of yours", "cases of yours")
            ),
            href: format!(
                "/ui/cases?{}",
                query::encode(&[("lead_sub".to_owned(), sub.to_owned())])
            ),
        });
    }
    if let Some(c) = w.overdue_cases {
        out.push(Waits {
            id: "waiting-overdue",
            count: c,
            text: format!("{} you may see with a clock overdue", n(c, "case", "cases")),
            href: "/ui/cases".to_owned(),
        });
    }
    if let Some(c) = w.reviews {
        out.push(Waits {
            id: "waiting-reviews",
            count: c,
            text: format!("{} awaiting your review", n(c, "override", "overrides")),
            href: "/ui/audit/reviews".to_owned(),
        });
    }
    out
}

async fn home(State(state): State<AppState>, session: Session) -> PageResult {
    let waiting = crate::app::waiting::waiting(&state, &session.principal)
        .await
        .map_err(view::refused)?;
    let mut waiting = waits(&waiting, &session.principal.sub);
    if let Some((count, text)) = requests::waiting(&state, &session.principal)
        .await
        .map_err(view::refused)?
    {
        waiting.push(Waits {
            id: "waiting-requests",
            count,
            text,
            href: "/ui/requests".to_owned(),
        });
    }
    Ok(page(
        StatusCode::OK,
        &Home {
            frame: Frame::of(&session, "Start"),
            nav: session.nav,
            waiting,
            transfers: case_moves::waiting(&state, &session.principal)
                .await
                .map_err(view::refused)?,
        },
    ))
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    frame: Frame,
    agency_name: String,
    notice: String,
    has_oidc: bool,
    dev_sign_in: bool,
    pre_csrf: String,
    /// (code, label) of each role the agency's kind may hold.
    roles: Vec<(&'static str, &'static str)>,
    /// The page to return to once signed in (a checked local path), as a form value.
    next: String,
    /// The same, encoded for the identity provider's sign-in link.
    next_query: String,
}

/// The pre-session CSRF cookie of the dev sign-in form (double submit).
const PRE_COOKIE: &str = "__Host-broker_pre";

#[derive(Deserialize)]
struct Why {
    why: Option<String>,
    next: Option<String>,
}

/// The page a sign-in was asked to return to (`?next=`), when a local console path.
#[derive(Deserialize)]
struct AskedFor {
    next: Option<String>,
}

async fn signin_page(
    State(state): State<AppState>,
    Cert(cert): Cert,
    Query(why): Query<Why>,
) -> PageResult {
    let agency = cert
        .and_then(|id| state.config.agency(&id).cloned())
        .ok_or_else(|| {
            view::error_page(
                StatusCode::UNAUTHORIZED,
                "Certificate refused",
                "This browser's client certificate names no agency configured in the broker.",
            )
        })?;
    let notice = match why.why.as_deref() {
        Some("expired") => "Your session has ended. Sign in again.",
        Some("signed_out") => "Sign in to use the console.",
        Some("bye") => "You have signed out.",
        _ => "",
    };
    let pre_csrf = session::random_token();
    let kind = agency.kind;
    let next = ReturnTo::or_start(why.next.as_deref());
    let mut response = page(
        StatusCode::OK,
        &SignIn {
            frame: Frame::signed_out("Sign in"),
            agency_name: agency.name.clone(),
            notice: notice.to_owned(),
            has_oidc: agency.oidc.is_some(),
            dev_sign_in: state.config.console.dev_sign_in,
            pre_csrf: pre_csrf.clone(),
            roles: Role::ALL
                .iter()
                .filter(|r| r.valid_for(kind))
                .map(|r| (r.as_str(), labels::Label::label(*r)))
                .collect(),
            next_query: next.encoded(),
            next: next.as_str().to_owned(),
        },
    );
    if state.config.console.dev_sign_in {
        set_cookie(
            &mut response,
            &format!("{PRE_COOKIE}={pre_csrf}; Path=/; Secure; HttpOnly; SameSite=Strict"),
        );
    }
    Ok(response)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The callback address the identity provider sends the browser back to.
fn callback_uri(
    state: &AppState,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
) -> Result<String, Refusal> {
    let base = match &state.config.console.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                // HTTP/2 names the host in the :authority, which is the URI's
                .or_else(|| uri.authority().map(|a| a.as_str()))
                .filter(|h| crate::text::problem(h, crate::text::Kind::SingleLine).is_none())
                .ok_or_else(|| {
                    view::error_page(
                        StatusCode::BAD_REQUEST,
                        "There is a problem",
                        "The request names no host.",
                    )
                })?;
            format!("https://{host}")
        }
    };
    Ok(format!("{base}/ui/signin/callback"))
}

/// The agency of the certificate and its identity provider, if it has one.
fn with_oidc<'a>(
    state: &'a AppState,
    cert: Option<&str>,
) -> Option<(&'a crate::state::Agency, crate::config::OidcConfig)> {
    let id = cert?;
    let config = state.config.agency(id)?;
    Some((state.agencies.get(id)?, config.oidc.clone()?))
}

async fn signin_start(
    State(state): State<AppState>,
    Cert(cert): Cert,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(next): Query<AskedFor>,
) -> PageResult {
    let (agency, oidc) = with_oidc(&state, cert.as_deref()).ok_or_else(|| {
        view::error_page(
            StatusCode::UNAUTHORIZED,
            "Sign-in refused",
            "This browser's certificate names no agency with an identity provider.",
        )
    })?;
    let redirect_uri = callback_uri(&state, &headers, &uri)?;
    let login = session::random_token();
    // kept with the login, server-side: the callback's query could be anyone's
    let carried = oidc::Carried {
        return_to: ReturnTo::or_start(next.next.as_deref()),
        replaces_sha256: earlier_session(&headers),
    };
    let url = oidc::begin(&state, agency, &oidc, &redirect_uri, &login, &carried)
        .await
        .map_err(view::refused)?;
    let mut response = Redirect::to(&url).into_response();
    set_cookie(
        &mut response,
        &format!(
            "{}={login}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600",
            oidc::LOGIN_COOKIE
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The digest of the session cookie the browser sent, if any: the session a sign-in replaces.
fn earlier_session(headers: &HeaderMap) -> Option<String> {
    cookie(headers, session::COOKIE)
        .filter(|t| !t.is_empty())
        .map(session::digest)
}

async fn signin_callback(
    State(state): State<AppState>,
    Cert(cert): Cert,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> PageResult {
    let refused =
        |detail: &str| view::error_page(StatusCode::UNAUTHORIZED, "Sign-in refused", detail);
    if cb.error.is_some() {
        return Err(refused("The identity provider did not sign you in."));
    }
    let (Some(code), Some(state_param)) = (cb.code, cb.state) else {
        return Err(refused("The identity provider's answer is incomplete."));
    };
    let (agency, oidc) = with_oidc(&state, cert.as_deref()).ok_or_else(|| {
        refused("This browser's certificate names no agency with an identity provider.")
    })?;
    let (principal, carried) = oidc::complete(
        &state,
        agency,
        &oidc,
        &state_param,
        &code,
        cookie(&headers, oidc::LOGIN_COOKIE),
    )
    .await
    .map_err(|e| {
        tracing::warn!(code = e.code, detail = %crate::text::escape(&e.detail), "console sign-in refused");
        view::refused(e)
    })?;
    signed_in(&state, &principal, "oidc", carried).await
}

/// Ends the session the browser held before (if any), opens the new one and sends the browser
/// on to the page it asked for.
async fn signed_in(
    state: &AppState,
    principal: &Principal,
    method: &str,
    carried: oidc::Carried,
) -> PageResult {
    if let Some(earlier) = &carried.replaces_sha256 {
        session::end_replaced(state, earlier)
            .await
            .map_err(view::refused)?;
    }
    let token = session::open(state, principal, method)
        .await
        .map_err(view::refused)?;
    let mut response = view::bounce("Signed in", &carried.return_to);
    set_cookie(&mut response, &session::session_cookie(Some(&token)));
    set_cookie(
        &mut response,
        &format!(
            "{}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0",
            oidc::LOGIN_COOKIE
        ),
    );
    Ok(response)
}

/// The dev world's sign-in: any person of the certificate's agency, with a role its kind can
/// hold. Only when `[console] dev_sign_in` is set, which the broker refuses unless it listens
/// on loopback.
async fn signin_dev(
    State(state): State<AppState>,
    Cert(cert): Cert,
    headers: HeaderMap,
    posted: Posted,
) -> PageResult {
    if !state.config.console.dev_sign_in {
        return Err(view::error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "Dev sign-in is not enabled.",
        ));
    }
    let form = fields(posted)?;
    form.check(&[])?;
    let pre = cookie(&headers, PRE_COOKIE).unwrap_or_default();
    if pre.is_empty() || !session::same_secret(pre, form.get("csrf").unwrap_or_default()) {
        return Err(view::error_page(
            StatusCode::FORBIDDEN,
            "Form refused",
            "The form did not carry its security token. Reload the sign-in page and try again.",
        ));
    }
    let agency = cert
        .and_then(|id| state.agencies.get(&*id))
        .ok_or_else(|| {
            view::error_page(
                StatusCode::UNAUTHORIZED,
                "Certificate refused",
                "This browser's client certificate names no configured agency.",
            )
        })?;
    let roles = vec![form.get("role").unwrap_or_default().to_owned()];
    let person = crate::identity::person::check_person(
        agency,
        form.get("sub").unwrap_or_default().to_owned(),
        &agency.id,
        &roles,
    )
    .map_err(view::refused)?;
    let principal = Principal {
        agency: std::sync::Arc::from(agency.id.as_str()),
        agency_kind: agency.kind,
        sub: person.sub,
        roles: person.roles,
    };
    let carried = oidc::Carried {
        return_to: ReturnTo::or_start(form.get("next")),
        replaces_sha256: earlier_session(&headers),
    };
    signed_in(&state, &principal, "dev", carried).await
}

async fn signout(State(state): State<AppState>, session: Session, posted: Posted) -> PageResult {
    let form = fields(posted)?;
    session::check_csrf(&session, form.get("csrf"))?;
    session::end(&state, &session.id, &session.principal, "sign_out")
        .await
        .map_err(view::refused)?;
    let mut response = Redirect::to("/ui/signin?why=bye").into_response();
    set_cookie(&mut response, &session::session_cookie(None));
    Ok(response)
}
