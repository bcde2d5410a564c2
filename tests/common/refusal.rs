//! Bad input and the proof that its refusal changed nothing: a request, the problem+json it
//! must get, and the table it must leave as it was (with the audit chain's head).

use broker::client::{Client, Response};
use hyper::Method;
use serde_json::{Value, json};

use super::TestServer;
use super::flows::{born_years_ago, problem_naming, with};
use super::world::{Person, World};

/// A request that must be refused, what the refusal must say, and the table it must not
/// touch.
pub struct Case {
    pub method: Method,
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    pub table: &'static str,
    pub status: u16,
    pub code: &'static str,
    pub mentions: Vec<String>,
}

impl Case {
    /// `method path` with `body` as JSON.
    pub fn json(method: Method, path: impl Into<String>, body: &Value) -> Case {
        let bytes = serde_json::to_vec(body).expect("a JSON body");
        Case::raw(method, path, Some("application/json"), bytes)
    }

    /// `GET path`, no body.
    pub fn get(path: impl Into<String>) -> Case {
        Case::raw(Method::GET, path, None, Vec::new())
    }

    pub fn raw(
        method: Method,
        path: impl Into<String>,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    ) -> Case {
        Case {
            method,
            path: path.into(),
            content_type,
            body,
            table: "audit_log",
            status: 0,
            code: "",
            mentions: Vec::new(),
        }
    }

    /// The refusal: its status, its code, and words its detail must contain.
    pub fn refused(mut self, status: u16, code: &'static str, mentions: &[&str]) -> Case {
        self.status = status;
        self.code = code;
        self.mentions = mentions.iter().map(|m| m.to_string()).collect();
        self
    }

    /// The table the request would have written to.
    pub fn on(mut self, table: &'static str) -> Case {
        self.table = table;
        self
    }
}

/// Sends `case` as `token` through `client` and checks its refusal changed nothing.
pub async fn check(server: &TestServer, client: &Client, token: &str, case: Case) -> Response {
    let what = format!("{} {}", case.method, case.path);
    let db = &server.state.db;
    let before = super::db::snapshot(db, case.table).await;
    let r = client
        .send_raw(
            case.method,
            &case.path,
            Some(token),
            case.content_type,
            case.body.into(),
        )
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e:#}"));
    let mentions: Vec<&str> = case.mentions.iter().map(String::as_str).collect();
    problem_naming(&r, case.status, case.code, &mentions);
    assert_eq!(
        super::db::snapshot(db, case.table).await,
        before,
        "{what}: a refused request changed the audit head or {}",
        case.table
    );
    r
}

/// The writes of the API a [`World`] can make valid bodies for.
#[derive(Clone, Copy)]
pub enum Write {
    /// `POST /v1/subjects`
    Subject,
    /// `POST /v1/records`
    Deposit,
    /// `POST /v1/subjects/{child}/consents`
    Consent,
    /// `POST /v1/disclosures`
    Disclosure,
    /// `POST /v1/decisions`
    DryRun,
}

impl World {
    /// The path, a body that would be accepted, and the table `write` adds to.
    pub fn valid(&self, write: Write) -> (String, Value, &'static str) {
        match write {
            Write::Subject => (
                "/v1/subjects".into(),
                json!({"date_of_birth": born_years_ago(8)}),
                "subjects",
            ),
            Write::Deposit => ("/v1/records".into(), self.a_deposit(), "records"),
            Write::Consent => (
                format!("/v1/subjects/{}/consents", self.child),
                self.a_consent(),
                "consents",
            ),
            Write::Disclosure => ("/v1/disclosures".into(), self.to_dsl(), "packets"),
            Write::DryRun => ("/v1/decisions".into(), self.to_dsl(), "packets"),
        }
    }

    /// The valid body of `write` with `field` set to `value`: refused 422 `invalid_field` with
    /// a detail naming the field and each of `naming`.
    pub fn invalid(
        &self,
        write: Write,
        field: &str,
        value: impl Into<Value>,
        naming: &[&str],
    ) -> Case {
        let mentions: Vec<&str> = [field].into_iter().chain(naming.iter().copied()).collect();
        self.invalid_body(write, json!({ field: value.into() }), &mentions)
    }

    /// The valid body of `write` with `changes` made: refused 422 `invalid_field` with a detail
    /// naming `mentions`.
    pub fn invalid_body(&self, write: Write, changes: Value, mentions: &[&str]) -> Case {
        let (path, body, table) = self.valid(write);
        Case::json(Method::POST, path, &with(body, changes))
            .refused(422, "invalid_field", mentions)
            .on(table)
    }

    /// [`check`] as the social worker.
    pub async fn check(&self, case: Case) -> Response {
        check(&self.server, &self.csc, &self.sw, case).await
    }

    /// [`check`] as `who`.
    pub async fn check_as(&self, who: &Person, case: Case) -> Response {
        check(&self.server, &who.client, &who.token, case).await
    }
}
