//! Hostile input over every route of the route table (`broker::routes::routes()`): hostile
//! path segments (NUL, controls, invalid UTF-8 escapes, huge), hostile query strings, and for
//! every body field of every request schema hostile values (NUL, escape sequences, huge
//! strings, wrong types), plus hostile whole bodies. Nothing may answer 5xx, and every refusal
//! must be problem+json, on SQLite and on PostgreSQL alike. Prints how many requests it sent.

mod common;

use broker::client::Client;
use broker::routes::RouteDoc;
use broker::vocab::Role;
use common::TestServer;
use hyper::Method;
use serde_json::{Map, Value, json};

/// Path segment values, percent-encoded as a client would send them.
fn hostile_segments() -> Vec<String> {
    vec![
        "%00".into(),
        "%FF%FE".into(),
        "%C0%AF".into(),
        "%1B%5B2J".into(),
        "%E2%80%AE".into(),
        "%0D%0Aset-cookie:x".into(),
        "a".repeat(5000),
        "%2e%2e".into(),
        "-1".into(),
        "99999999999999999999999".into(),
        "%F0%9F%92%A9".into(),
        "00000000-0000-0000-0000-000000000000".into(),
        "%zz".into(),
    ]
}

fn hostile_queries() -> Vec<String> {
    vec![
        "agency=%00".into(),
        "subject_id=%FF%FE".into(),
        "limit=abc".into(),
        "limit=-1".into(),
        "limit=99999999999999999999999".into(),
        "from=not-a-date".into(),
        "after_seq=%1B".into(),
        format!("action={}", "x".repeat(5000)),
        "unknown=1".into(),
        "decision=permit&decision=deny".into(),
        "%=%".into(),
        "a=%zz".into(),
        "basis=%E2%80%AE".into(),
    ]
}

fn hostile_values() -> Vec<Value> {
    vec![
        json!("\u{0}"),
        json!("ok\u{0}"),
        json!("\u{1b}[2J\u{7}"),
        json!("\u{85}\u{9b}"),
        json!("line\nbreak"),
        json!("x".repeat(200_000)),
        json!("\u{10FFFF}\u{FEFF}"),
        json!(""),
        json!(0),
        json!(-1),
        json!(1e308),
        json!(18_446_744_073_709_551_615u64),
        json!(true),
        Value::Null,
        json!([]),
        json!({}),
        json!(["\u{0}"]),
        json!({"\u{0}": "\u{0}"}),
    ]
}

/// Whole bodies, raw.
fn hostile_bodies() -> Vec<Vec<u8>> {
    vec![
        b"[]".to_vec(),
        b"null".to_vec(),
        b"\"\\u0000\"".to_vec(),
        b"1".to_vec(),
        b"{\"a\": \"\xff\xfe\"}".to_vec(),
        b"{\"a\": \"\\ud800\"}".to_vec(),
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        b"{\"a\":1,\"a\":2}".to_vec(),
        vec![b' '; 10],
    ]
}

/// The caller most likely to get past the permission check of `path`.
fn caller_for(path: &str) -> (&'static str, &'static str, Role) {
    if path.starts_with("/v1/audit") || path.ends_with("/history") {
        ("partnership", "ig.okafor", Role::IgOfficer)
    } else if path.contains("mappa") {
        ("mappa", "chair.khan", Role::MappaChair)
    } else if path.contains("staff-designations") {
        ("school-hillside", "head.patel", Role::HeadTeacher)
    } else {
        ("csc", "sw.amara", Role::SocialWorker)
    }
}

/// Known ids to put in a path or body, so requests get past "no such id" to the deeper checks.
type Known = common::Pupil;

/// A value the schema would accept, with known ids for the fields that name them.
fn plausible(name: &str, schema: &Value, defs: &Value, known: &Known) -> Value {
    match name {
        "subject_id" => return json!(known.child),
        "record_ids" => return json!([known.record]),
        "recipient_agency" | "school_agency" => return json!("school-hillside"),
        _ => {}
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let def = r.rsplit('/').next().unwrap_or_default();
        return plausible(name, &defs[def], defs, known);
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(|e| e.as_array()?.first().cloned())
    {
        return first;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let chosen = options
                .iter()
                .find(|o| o.get("type") != Some(&json!("null")))
                .unwrap_or(&Value::Null);
            return plausible(name, chosen, defs, known);
        }
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types
            .iter()
            .find(|t| *t != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    let in_a_month = chrono::Utc::now() + chrono::Duration::days(30);
    match (ty.as_str(), schema["format"].as_str()) {
        (Some("string"), Some("date")) => json!(chrono::Utc::now().date_naive().to_string()),
        (Some("string"), Some("date-time")) => json!(in_a_month),
        (Some("string"), _) => json!("x"),
        (Some("boolean"), _) => json!(true),
        (Some("integer") | Some("number"), _) => json!(1),
        (Some("array"), _) => json!([plausible(name, &schema["items"], defs, known)]),
        (Some("object"), _) => json!({"summary": "s"}),
        _ => json!("x"),
    }
}

/// The body a route's schema describes, every property plausible.
fn plausible_body(schema: &Value, known: &Known) -> Map<String, Value> {
    let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
    let mut body = Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            body.insert(name.clone(), plausible(name, prop, &defs, known));
        }
    }
    body
}

/// `path` with every `{param}` replaced by `value`.
fn fill(path: &str, value: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { value } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

/// `path` with its parameters set to known ids.
fn valid_path(path: &str, known: &Known) -> String {
    path.replace(
        "{id}",
        if path.starts_with("/v1/records") {
            &known.record
        } else {
            &known.child
        },
    )
    .replace("{cid}", &known.consent)
    .replace("{disclosure_id}", &known.record)
    .replace("{seq}", "1")
}

struct Fuzzer<'a> {
    server: &'a TestServer,
    sent: usize,
    statuses: std::collections::BTreeMap<u16, usize>,
}

impl Fuzzer<'_> {
    async fn send(
        &mut self,
        client: &Client,
        token: &str,
        method: &Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) {
        let what = format!("{method} {}", &path[..path.len().min(120)]);
        let content_type = body.as_ref().map(|_| "application/json");
        let r = client
            .send_raw(
                method.clone(),
                path,
                Some(token),
                content_type,
                body.unwrap_or_default().into(),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e:#}"));
        self.sent += 1;
        *self.statuses.entry(r.status.as_u16()).or_default() += 1;
        assert!(r.status.as_u16() < 500, "{what}: {} {}", r.status, r.text());
        // a refusal is problem+json, but for the contract's 403 decision body of a denial
        let denial = r.status == 403
            && r.content_type() == "application/json"
            && r.json()["decision"] == "deny";
        if r.status.as_u16() >= 400 && !denial {
            assert_eq!(
                r.content_type(),
                "application/problem+json",
                "{what}: {}",
                r.text()
            );
            assert!(r.json()["code"].is_string(), "{what}: {}", r.text());
        }
    }

    async fn raw(&mut self, bytes: &[u8]) {
        let answer = self.server.raw_exchange("csc", bytes).await;
        self.sent += 1;
        *self.statuses.entry(answer.status).or_default() += 1;
        assert!(
            (400..500).contains(&answer.status),
            "{:?}: {answer:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
        );
    }
}

#[tokio::test]
async fn hostile_input_on_every_route_never_gets_a_5xx_and_every_refusal_is_problem_json() {
    let server = TestServer::start().await;
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let known = common::hillside_pupil(&server.client("csc"), &sw).await;
    let mut fuzz = Fuzzer {
        server: &server,
        sent: 0,
        statuses: Default::default(),
    };
    let routes: Vec<RouteDoc> = broker::routes::routes();
    for route in &routes {
        let (agency, sub, role) = caller_for(route.path);
        let client = server.client(agency);
        let token = server.token(agency, sub, &[role]);
        let method = Method::from_bytes(route.method.to_ascii_uppercase().as_bytes()).unwrap();
        let body_for =
            |b: &Map<String, Value>| route.body.as_ref().map(|_| serde_json::to_vec(b).unwrap());
        let base = route
            .body
            .as_ref()
            .map(|s| plausible_body(s, &known))
            .unwrap_or_default();
        // hostile path parameters
        if route.path.contains('{') {
            for segment in hostile_segments() {
                let path = fill(route.path, &segment);
                fuzz.send(&client, &token, &method, &path, body_for(&base))
                    .await;
            }
        }
        let path = valid_path(route.path, &known);
        // hostile query strings (every route: most must ignore or refuse them)
        for query in hostile_queries() {
            fuzz.send(
                &client,
                &token,
                &method,
                &format!("{path}?{query}"),
                body_for(&base),
            )
            .await;
        }
        let Some(schema) = &route.body else { continue };
        // every field, every hostile value
        for field in schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            for value in hostile_values() {
                let mut body = base.clone();
                body.insert(field.clone(), value);
                fuzz.send(
                    &client,
                    &token,
                    &method,
                    &path,
                    Some(serde_json::to_vec(&body).unwrap()),
                )
                .await;
            }
        }
        for body in hostile_bodies() {
            fuzz.send(&client, &token, &method, &path, Some(body)).await;
        }
    }
    // what no HTTP client library would send: raw bytes in the path and the headers
    for raw in [
        &b"GET /v1/inbox/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n"[..],
        b"GET /v1/inbox HTTP/1.1\r\nhost: x\r\nauthorization: Bearer \x00\x01\r\n\r\n",
        b"GET /v1/inbox\x00 HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET /v1/inbox HTTP/1.1\r\nhost: x\r\nx-a\x1b[2J: 1\r\n\r\n",
    ] {
        fuzz.raw(raw).await;
    }
    println!(
        "fuzz: {} requests over {} routes, no 5xx; statuses {:?}",
        fuzz.sent,
        routes.len(),
        fuzz.statuses
    );
    assert!(fuzz.sent > 1000, "the fuzz sent {} requests", fuzz.sent);
    // the chain still verifies after all of it
    let ig = server.person("partnership", "ig.okafor", Role::IgOfficer);
    let r = ig.get("/v1/audit/verify").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    server.stop().await;
}
