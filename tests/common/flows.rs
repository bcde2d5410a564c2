//! The steps every end-to-end flow is made of: register a child, deposit a record, record a
//! consent, disclose, fetch and decrypt a packet, and read the database.

use std::collections::BTreeSet;

use broker::client::{Client, Response};
use chrono::{Days, Months, NaiveDate, Utc};
use serde_json::{Value, json};

use super::TestServer;

/// Today's date in Europe/London, the calendar the rules count ages in.
pub fn today() -> NaiveDate {
    broker::decision::facts::london_date(Utc::now())
}

/// A date of birth that makes a child `years` old today, two months past a birthday.
pub fn born_years_ago(years: u32) -> String {
    (today() - Months::new(years * 12) - Days::new(60)).to_string()
}

/// The id in a `201 {id}` answer.
pub fn created(r: &Response) -> String {
    assert_eq!(r.status, 201, "expected 201 Created: {}", r.text());
    r.json()["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {}", r.text()))
        .to_owned()
}

pub async fn register(client: &Client, token: &str, dob: &str, school: Option<&str>) -> String {
    let r = client
        .post(
            "/v1/subjects",
            token,
            // the dev world is two councils: a child of Northshire unless a test says otherwise
            &json!({"date_of_birth": dob, "school_agency": school, "local_authority": "north"}),
        )
        .await
        .expect("registering a child");
    created(&r)
}

/// Deposits a record about the child who displayed the behaviour; insists on 201.
pub async fn deposit(
    client: &Client,
    token: &str,
    subject: &str,
    kind: &str,
    sections: Value,
) -> String {
    created(&deposit_as(client, token, subject, kind, "harmful_behaviour", sections).await)
}

/// Asks to deposit a record with this `subject_role`; the answer as it came.
pub async fn deposit_as(
    client: &Client,
    token: &str,
    subject: &str,
    kind: &str,
    subject_role: &str,
    sections: Value,
) -> Response {
    client
        .post(
            "/v1/records",
            token,
            &json!({"subject_id": subject, "kind": kind, "subject_role": subject_role,
                    "sections": sections}),
        )
        .await
        .expect("depositing a record")
}

pub async fn consent(
    client: &Client,
    token: &str,
    subject: &str,
    given_by: &str,
    purposes: &[&str],
    kinds: &[&str],
) -> String {
    let r = client
        .post(
            &format!("/v1/subjects/{subject}/consents"),
            token,
            &json!({"given_by": given_by, "purposes": purposes, "recipient_kinds": kinds}),
        )
        .await
        .expect("recording a consent");
    created(&r)
}

/// A disclosure request for one record.
pub fn request(
    record: &str,
    agency: &str,
    role: Option<&str>,
    purpose: &str,
    basis: &str,
) -> Value {
    json!({"record_ids": [record], "recipient_agency": agency, "recipient_role": role,
           "purpose": purpose, "basis": basis})
}

pub async fn disclose(client: &Client, token: &str, body: &Value) -> Response {
    client
        .post("/v1/disclosures", token, body)
        .await
        .expect("sending a disclosure")
}

/// A list of names as a set (the contract does not fix their order).
pub fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{v} is not a list"))
        .iter()
        .map(|s| s.as_str().expect("a name").to_owned())
        .collect()
}

/// The reason codes of a decision body.
pub fn codes(body: &Value) -> BTreeSet<String> {
    body["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {body}"))
        .iter()
        .map(|reason| reason["code"].as_str().expect("a reason code").to_owned())
        .collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Checks a permit's decision body and returns its disclosure id.
pub fn permitted(
    r: &Response,
    view: &str,
    released: &[&str],
    withheld: &[&str],
    obligations: &[&str],
) -> String {
    assert_eq!(r.status, 201, "expected a permit: {}", r.text());
    let body = r.json();
    assert_eq!(body["decision"], "permit", "{body}");
    assert_eq!(body["view"], view, "{body}");
    assert_eq!(names(&body["sections_released"]), set(released), "{body}");
    assert_eq!(names(&body["sections_withheld"]), set(withheld), "{body}");
    assert_eq!(body["reasons"], json!([]), "{body}");
    assert_eq!(names(&body["obligations"]), set(obligations), "{body}");
    assert!(
        body["policy_version"]
            .as_str()
            .is_some_and(|v| v.starts_with("sha256:")),
        "{body}"
    );
    assert!(body["audit_seq"].as_i64().is_some_and(|s| s > 0), "{body}");
    let id = body["disclosure_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a permit names its disclosure: {body}"));
    uuid::Uuid::parse_str(id).expect("the disclosure id is a uuid");
    id.to_owned()
}

/// Checks a deny's decision body: exactly `codes` are the failed rules.
pub fn refused(r: &Response, codes: &[&str]) {
    assert_eq!(r.status, 403, "expected a deny: {}", r.text());
    let body = r.json();
    assert_eq!(body["decision"], "deny", "{body}");
    let got: BTreeSet<String> = body["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("no reasons in {body}"))
        .iter()
        .map(|reason| {
            assert!(
                reason["message"].as_str().is_some_and(|m| !m.is_empty()),
                "a reason explains itself: {reason}"
            );
            reason["code"].as_str().expect("a reason code").to_owned()
        })
        .collect();
    assert_eq!(got, set(codes), "{body}");
    assert_eq!(body["disclosure_id"], Value::Null, "{body}");
    assert_eq!(body["view"], Value::Null, "{body}");
    assert_eq!(body["sections_released"], json!([]), "{body}");
    assert_eq!(body["obligations"], json!([]), "{body}");
    assert!(body["audit_seq"].as_i64().is_some_and(|s| s > 0), "{body}");
}

/// Checks an RFC 9457 problem+json refusal: `status` on the wire and in the body, exactly this
/// `code`, and a `detail` that says why. Returns the body. The one problem assertion of the suite.
pub fn problem(r: &Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.content_type(), "application/problem+json", "{}", r.text());
    let body = r.json();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "a refusal says why: {body}"
    );
    body
}

/// [`problem`], and its `detail` names every one of `mentions`. Returns the detail.
pub fn problem_naming(r: &Response, status: u16, code: &str, mentions: &[&str]) -> String {
    let detail = problem(r, status, code)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for word in mentions {
        assert!(
            detail.contains(word),
            "the detail should name {word:?}: {detail}"
        );
    }
    detail
}

/// Fetches a packet as `agency` with `token` and decrypts it with the agency's `age` key.
pub async fn open_packet(
    server: &TestServer,
    agency: &str,
    token: &str,
    disclosure: &str,
) -> Value {
    let r = server
        .client(agency)
        .get(&format!("/v1/inbox/{disclosure}"), token)
        .await
        .expect("fetching a packet");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type(), "application/age");
    assert!(
        r.text().starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "a packet is ASCII-armoured age: {}",
        r.text()
    );
    let identity = broker::crypto::load_age_identity(&server.world.age_identity(agency)).unwrap();
    let plain = broker::crypto::decrypt_with(&identity, &r.body)
        .expect("the recipient agency's key opens the packet");
    serde_json::from_slice(&plain).expect("the packet is JSON")
}

/// The disclosure ids in the caller's inbox.
pub async fn inbox(client: &Client, token: &str) -> Vec<String> {
    let r = client.get("/v1/inbox", token).await.expect("the inbox");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
        .as_array()
        .unwrap_or_else(|| panic!("the inbox is a list: {}", r.text()))
        .iter()
        .map(|p| p["disclosure_id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Rows in `table`.
pub async fn count(server: &TestServer, table: &str) -> i64 {
    super::db::count(&server.state.db, table).await
}

/// The audit chain's head.
pub async fn head_seq(server: &TestServer) -> i64 {
    super::db::head_seq(&server.state.db).await
}

/// A disclosure request for `records` to `recipient`, written `agency/role`.
pub fn ask(records: &[&str], recipient: &str, purpose: &str, basis: &str) -> Value {
    let (agency, role) = recipient
        .split_once('/')
        .unwrap_or_else(|| panic!("a recipient is agency/role, not {recipient}"));
    json!({"record_ids": records, "recipient_agency": agency, "recipient_role": role,
           "purpose": purpose, "basis": basis})
}

/// `body` with each field of `changes` set (a JSON object).
pub fn with(mut body: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().expect("changes are an object") {
        body[k] = v.clone();
    }
    body
}

/// `(duty, recipient_agency, decision)` of each duty in an answer or a case.
pub fn duty_rows(v: &Value) -> Vec<(String, String, String)> {
    v["duties"]
        .as_array()
        .unwrap_or_else(|| panic!("duties is a list: {v}"))
        .iter()
        .map(|d| {
            (
                d["duty"].as_str().unwrap().to_owned(),
                d["recipient_agency"].as_str().unwrap().to_owned(),
                d["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}
