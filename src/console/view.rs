//! How console pages are rendered: the askama templates of `console/templates/`, the frame
//! every page shares (who is signed in, the navigation, the sign-out form), and the error pages.

use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::access::{Relation, allows};
use crate::decision::Policy;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::vocab::Action;

/// What the page frame shows: the title and, when signed in, who.
pub struct Frame {
    pub title: String,
    pub who: Option<Who>,
}

/// The signed-in person, as the frame shows them.
#[derive(Clone)]
pub struct Who {
    pub sub: String,
    pub agency: String,
    pub roles: String,
    pub csrf: String,
    pub nav: Nav,
}

/// The pages a person may open, as the API's policy (`policies/actions.csv`) decides: each
/// link is offered only to those the policy lets call the action its page calls (anyone else
/// who opens one gets the API's refusal).
#[derive(Debug, Clone, Copy, Default)]
pub struct Nav {
    /// `list_cases`: the overdue list.
    pub cases: bool,
    /// `read_timeliness`: the timeliness report.
    pub timeliness: bool,
    /// `read_audit`: the audit search.
    pub audit: bool,
    /// `read_audit`: the chain status (`routes::audit::verify`).
    pub chain: bool,
    /// `read_audit`: the override review queue (`routes::reviews::reviews`).
    pub reviews: bool,
    /// `read_policy`: the policy in force and its history, read-only.
    pub policy: bool,
    /// `register_subject` or `read_subject` (on any relation): the children.
    pub children: bool,
    /// `list_actions`: the agency's own actions agreed on cases.
    pub actions: bool,
    /// `list_requests`: the requests for information to and from the agency.
    pub requests: bool,
}

impl Nav {
    /// What `policy` lets `principal` open.
    pub fn of(policy: &Policy, principal: &Principal) -> Nav {
        let may = |action| allows(policy, principal, action, Relation::None);
        Nav {
            cases: may(Action::ListCases),
            timeliness: may(Action::ReadTimeliness),
            audit: may(Action::ReadAudit),
            chain: may(Action::ReadAudit),
            reviews: may(Action::ReadAudit),
            policy: may(Action::ReadPolicy),
            children: may(Action::RegisterSubject)
                || crate::access::allows_somewhere(policy, principal, Action::ReadSubject),
            actions: may(Action::ListActions),
            requests: may(Action::ListRequests),
        }
    }
}

impl Frame {
    pub fn signed_out(title: &str) -> Frame {
        Frame {
            title: title.to_owned(),
            who: None,
        }
    }
}

/// A rendered template as an HTML response (a template that fails to render is a bug: 500).
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><title>Error</title><p>Something went wrong.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    frame: Frame,
    heading: String,
    detail: String,
    code: String,
}

/// What an error page says, kept on its response so that [`frame_errors`] can show it again
/// in the frame of the person who is signed in.
#[derive(Clone)]
struct Shown {
    heading: String,
    detail: String,
    code: String,
}

impl Shown {
    fn render(self, status: StatusCode, who: Option<Who>) -> Response {
        let mut response = page(
            status,
            &ErrorPage {
                frame: Frame {
                    title: self.heading.clone(),
                    who,
                },
                heading: self.heading.clone(),
                detail: self.detail.clone(),
                code: self.code.clone(),
            },
        );
        response.extensions_mut().insert(self);
        response
    }
}

/// An error page: `heading` and `detail` shown, nothing else.
pub fn error_page(status: StatusCode, heading: &str, detail: &str) -> Refusal {
    let shown = Shown {
        heading: heading.to_owned(),
        detail: detail.to_owned(),
        code: String::new(),
    };
    Refusal(Box::new(shown.render(status, None)))
}

/// The person a console request was answered for, once its session was accepted: the session
/// extractor fills it in, and [`frame_errors`] reads it.
#[derive(Clone, Default)]
pub struct Answering(Arc<Mutex<Option<Who>>>);

impl Answering {
    pub fn set(&self, who: Who) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(who);
        }
    }

    fn who(&self) -> Option<Who> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// A middleware of the console: an error page answered to a request whose session was
/// accepted is shown in that person's frame (the navigation, who is signed in, the sign-out
/// form), not signed out. Its status and headers stay as they were.
pub async fn frame_errors(mut req: Request, next: Next) -> Response {
    let answering = Answering::default();
    req.extensions_mut().insert(answering.clone());
    let response = next.run(req).await;
    let (Some(shown), Some(who)) = (
        response.extensions().get::<Shown>().cloned(),
        answering.who(),
    ) else {
        return response;
    };
    let (mut parts, _) = response.into_parts();
    let (rendered, body) = shown.render(parts.status, Some(who)).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(t) = rendered.headers.get(header::CONTENT_TYPE) {
        parts.headers.insert(header::CONTENT_TYPE, t.clone());
    }
    Response::from_parts(parts, body)
}

#[derive(Template)]
#[template(path = "bounce.html")]
struct Bounce {
    frame: Frame,
    to: String,
}

/// A page that sends the browser on to `to` by itself (a meta refresh, no script), so that
/// the next request starts on the broker's own site: the browser sends the `SameSite=Strict`
/// session cookie only on such a navigation (after the identity provider's cross-site
/// redirect, or a link followed from another site).
pub fn bounce(title: &str, to: &super::back::ReturnTo) -> Response {
    page(
        StatusCode::OK,
        &Bounce {
            frame: Frame::signed_out(title),
            to: to.as_str().to_owned(),
        },
    )
}

/// The page for an API refusal: its status, its detail and its code, as the API would answer.
pub fn api_error_page(e: ApiError) -> Refusal {
    let heading = match e.status.as_u16() {
        401 => "Sign-in refused",
        403 => "You cannot do this",
        404 => "Page not found",
        409 => "Not yet",
        s if s >= 500 => "Sorry, there is a problem with the service",
        _ => "There is a problem",
    };
    let detail = if e.status.is_server_error() {
        "Try again later.".to_owned()
    } else {
        e.detail.clone()
    };
    let shown = Shown {
        heading: heading.to_owned(),
        detail,
        code: e.code.to_owned(),
    };
    let mut response = shown.render(e.status, None);
    // the edge logs a 503's cause, as for the API
    if let Some(cause) = e.cause() {
        response.extensions_mut().insert(cause.clone());
    }
    Refusal(Box::new(response))
}

/// A refusal's page (boxed: a response is large, and most answers are not refusals).
#[derive(Debug)]
pub struct Refusal(Box<Response>);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A console handler's answer: a page, or a refusal shown as one.
pub type PageResult = Result<Response, Refusal>;

/// Maps an API refusal to its page.
pub fn refused(e: ApiError) -> Refusal {
    api_error_page(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{AgencyKind, Role};

    fn person(kind: AgencyKind, role: Role) -> Principal {
        Principal {
            agency: "somewhere".into(),
            agency_kind: kind,
            sub: "someone".to_owned(),
            roles: vec![role],
        }
    }

    fn audit_links(nav: Nav) -> [bool; 4] {
        [nav.audit, nav.chain, nav.reviews, nav.policy]
    }

    #[tokio::test]
    async fn the_navigation_offers_the_audit_pages_to_whom_the_policy_lets_read_the_audit() {
        let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policy = Policy::load(&shipped).await.unwrap();
        let ig = person(AgencyKind::Partnership, Role::IgOfficer);
        let dsl = person(AgencyKind::School, Role::Dsl);
        assert_eq!(audit_links(Nav::of(&policy, &ig)), [true; 4]);
        assert_eq!(audit_links(Nav::of(&policy, &dsl)), [false; 4]);

        // a partnership that lets its schools' DSLs read the audit: they are offered it,
        // with no role named in the console
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&shipped).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        let actions = dir.path().join("actions.csv");
        let mut rows = std::fs::read_to_string(&actions).unwrap();
        rows.push_str("p, read_audit, school, dsl, *, allow\n");
        std::fs::write(&actions, &rows).unwrap();
        let widened = Policy::load(dir.path()).await.unwrap();
        assert_eq!(
            audit_links(Nav::of(&widened, &dsl)),
            [true, true, true, false],
            "the policy page follows read_policy"
        );
        rows.push_str("p, read_policy, school, dsl, *, allow\n");
        std::fs::write(&actions, rows).unwrap();
        let widened = Policy::load(dir.path()).await.unwrap();
        assert_eq!(audit_links(Nav::of(&widened, &dsl)), [true; 4]);
        assert!(
            !Nav::of(&widened, &dsl).cases,
            "the case list still follows list_cases"
        );
    }
}
