//! The console over HTTP without a browser: a session opened as a sign-in opens one, and forms
//! posted as raw HTTP/1.1 over the agency's mTLS, so that a form may carry any bytes (a browser
//! or the API client would not send invalid UTF-8).

use broker::identity::Principal;
use broker::vocab::Role;
use sqlx::Row;

use super::{RawAnswer, TestServer};

/// A signed-in console session: the cookie the browser would send and the session's CSRF token.
pub struct ConsoleSession {
    pub cookie: String,
    pub csrf: String,
}

/// `sub` of `agency` holding `role`, as the console's session would carry them.
pub fn principal(server: &TestServer, agency: &str, sub: &str, role: Role) -> Principal {
    Principal {
        agency: agency.into(),
        agency_kind: server.state.agencies[agency].kind,
        sub: sub.into(),
        roles: vec![role],
    }
}

impl TestServer {
    /// Opens a console session for `who` (audited as a dev sign-in, as the dev form does).
    pub async fn console_session(&self, who: &Principal) -> ConsoleSession {
        let token = broker::console::session::open(&self.state, who, "dev")
            .await
            .expect("a console session");
        let digest = broker::console::session::digest(&token);
        let csrf: String = broker::with_db!(&self.state.db, pool => {
            sqlx::query("SELECT csrf FROM console_sessions WHERE token_sha256 = $1")
                .bind(&digest)
                .fetch_one(pool)
                .await
                .expect("the session's row")
                .get::<String, _>("csrf")
        });
        ConsoleSession {
            cookie: format!("{}={token}", broker::console::session::COOKIE),
            csrf,
        }
    }

    /// `body` posted as a form to `path` over `agency`'s certificate with `cookie` (if any),
    /// on a connection closed after the answer.
    pub async fn post_form(
        &self,
        agency: &str,
        path: &str,
        cookie: Option<&str>,
        body: &[u8],
    ) -> RawAnswer {
        let cookie = cookie.map_or_else(String::new, |c| format!("cookie: {c}\r\n"));
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\n{cookie}content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.raw_exchange(agency, &request).await
    }
}
