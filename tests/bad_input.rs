//! Every class of bad input gets its exact 4xx status, an RFC 9457 problem+json body with a
//! `code` and a `detail` naming the field or value, and changes nothing: neither the audit
//! chain's head nor the rows of the table the request would have written.

mod common;

use broker::vocab::Role;
use flows::*;
use hyper::Method;
use serde_json::{Value, json};

/// A world to send bad input to, and the machinery to check that a refusal changed nothing.
mod flows {
    use broker::client::{Client, Response};
    use broker::vocab::Role;
    use chrono::{Days, Months, NaiveDate, Utc};
    use hyper::Method;
    use serde_json::{Value, json};
    use sqlx::Row;

    use super::common::TestServer;

    pub fn today() -> NaiveDate {
        broker::decision::facts::london_date(Utc::now())
    }

    pub fn born_years_ago(years: u32) -> String {
        (today() - Months::new(years * 12) - Days::new(60)).to_string()
    }

    /// A social worker of `csc` with a Hillside pupil, a risk plan and a parent's consent.
    pub struct World {
        pub server: TestServer,
        pub csc: Client,
        pub sw: String,
        pub child: String,
        pub record: String,
    }

    impl World {
        pub async fn start() -> World {
            let server = TestServer::start().await;
            let csc = server.client("csc");
            let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
            let super::common::Pupil { child, record, .. } =
                super::common::hillside_pupil(&csc, &sw).await;
            World {
                server,
                csc,
                sw,
                child,
                record,
            }
        }

        /// A disclosure request to Hillside's DSL that would be permitted.
        pub fn disclosure(&self) -> Value {
            json!({"record_ids": [self.record], "recipient_agency": "school-hillside",
                   "recipient_role": "dsl", "purpose": "safeguarding", "basis": "consent"})
        }

        /// A deposit that would be accepted.
        pub fn deposit(&self) -> Value {
            json!({"subject_id": self.child, "kind": "referral", "subject_role": "other",
                   "sections": {"summary": "s"}})
        }

        /// A consent that would be recorded.
        pub fn consent(&self) -> Value {
            json!({"given_by": "parent", "purposes": ["assessment"],
                   "recipient_kinds": ["early_help"]})
        }

        pub async fn stop(self) {
            self.server.stop().await;
        }
    }

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
            Case::raw(
                method,
                path,
                Some("application/json"),
                serde_json::to_vec(body).unwrap(),
            )
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

    /// The audit head and the row count of `table`.
    pub async fn snapshot(server: &TestServer, table: &str) -> (i64, i64) {
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        let head = super::common::audit_head(server).await;
        broker::with_db!(&server.state.db, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .fetch_one(pool)
                .await
                .expect("counting rows");
            (head, rows.try_get::<i64, _>("n").expect("a count"))
        })
    }

    /// Sends `case` as `token` through `client` and checks its refusal changed nothing.
    pub async fn check(server: &TestServer, client: &Client, token: &str, case: Case) -> Response {
        let what = format!("{} {}", case.method, case.path);
        let before = snapshot(server, case.table).await;
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
        assert_eq!(r.status, case.status, "{what}: {}", r.text());
        assert_eq!(
            r.content_type(),
            "application/problem+json",
            "{what}: {}",
            r.text()
        );
        let body = r.json();
        assert_eq!(body["code"], case.code, "{what}: {body}");
        assert_eq!(body["status"], case.status, "{what}: {body}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(!detail.is_empty(), "{what}: a refusal says why: {body}");
        for word in &case.mentions {
            assert!(
                detail.contains(word.as_str()),
                "{what}: the detail should name {word:?}: {detail}"
            );
        }
        assert_eq!(
            snapshot(server, case.table).await,
            before,
            "{what}: a refused request changed the audit head or {}",
            case.table
        );
        r
    }
}

#[tokio::test]
async fn an_unknown_field_is_refused_with_422_naming_it() {
    let w = World::start().await;
    let mut subject = json!({"date_of_birth": born_years_ago(6), "nickname": "Bee"});
    let mut disclosure = w.disclosure();
    disclosure["urgency"] = json!("high");
    let mut deposit = w.deposit();
    deposit["author"] = json!("someone");
    for case in [
        Case::json(Method::POST, "/v1/subjects", &subject)
            .refused(422, "invalid_field", &["nickname"])
            .on("subjects"),
        Case::json(Method::POST, "/v1/disclosures", &disclosure)
            .refused(422, "invalid_field", &["urgency"])
            .on("packets"),
        Case::json(Method::POST, "/v1/records", &deposit)
            .refused(422, "invalid_field", &["author"])
            .on("records"),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    // The same bodies without the stray field are accepted.
    subject.as_object_mut().unwrap().remove("nickname");
    let r = w.csc.post("/v1/subjects", &w.sw, &subject).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    disclosure.as_object_mut().unwrap().remove("urgency");
    let r = w
        .csc
        .post("/v1/disclosures", &w.sw, &disclosure)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn a_value_outside_the_vocabulary_is_refused_with_422_naming_the_value() {
    let w = World::start().await;
    let child = &w.child;
    let consents = format!("/v1/subjects/{child}/consents");
    let with = |mut body: Value, field: &str, value: Value| {
        body[field] = value;
        body
    };
    let cases = [
        Case::json(
            Method::POST,
            &consents,
            &with(w.consent(), "purposes", json!(["gossip"])),
        )
        .refused(422, "invalid_field", &["gossip", "purposes"])
        .on("consents"),
        Case::json(
            Method::POST,
            &consents,
            &with(w.consent(), "recipient_kinds", json!(["circus"])),
        )
        .refused(422, "invalid_field", &["circus", "recipient_kinds"])
        .on("consents"),
        Case::json(
            Method::POST,
            &consents,
            &with(w.consent(), "given_by", json!("neighbour")),
        )
        .refused(422, "invalid_field", &["neighbour", "given_by"])
        .on("consents"),
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(w.disclosure(), "recipient_role", json!("janitor")),
        )
        .refused(422, "invalid_field", &["janitor", "recipient_role"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(w.disclosure(), "basis", json!("hunch")),
        )
        .refused(422, "invalid_field", &["hunch", "basis"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/records",
            &with(w.deposit(), "kind", json!("diary")),
        )
        .refused(422, "invalid_field", &["diary", "kind"])
        .on("records"),
        Case::json(
            Method::POST,
            "/v1/records",
            &with(w.deposit(), "sections", json!({"diary": "dear diary"})),
        )
        .refused(422, "invalid_field", &["diary", "sections"])
        .on("records"),
    ];
    for case in cases {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn an_impossible_date_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let competence = format!("/v1/subjects/{}/competence", w.child);
    for case in [
        Case::json(
            Method::POST,
            "/v1/subjects",
            &json!({"date_of_birth": "2015-02-30"}),
        )
        .refused(422, "invalid_field", &["date_of_birth"])
        .on("subjects"),
        Case::json(
            Method::POST,
            &competence,
            &json!({"assessment": "gillick", "outcome": true, "assessed_on": "2025-13-01"}),
        )
        .refused(422, "invalid_field", &["assessed_on"])
        .on("competence_assessments"),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_date_of_birth_in_the_future_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let next_month = (today() + chrono::Days::new(30)).to_string();
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::json(
            Method::POST,
            "/v1/subjects",
            &json!({"date_of_birth": next_month}),
        )
        .refused(422, "invalid_field", &["date_of_birth"])
        .on("subjects"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_refused_with_400() {
    let w = World::start().await;
    let head = w
        .server
        .token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    let school = w.server.client("school-hillside");
    for case in [
        Case::json(
            Method::POST,
            "/v1/subjects/not-a-uuid/consents",
            &w.consent(),
        )
        .refused(400, "invalid_id", &["not-a-uuid"])
        .on("consents"),
        Case::json(
            Method::POST,
            format!("/v1/subjects/{}/consents/not-a-uuid/withdraw", w.child),
            &json!({}),
        )
        .refused(400, "invalid_id", &["not-a-uuid"])
        .on("consents"),
        Case::json(
            Method::POST,
            "/v1/records/not-a-uuid/chair-permissions",
            &json!({"recipient_agency": "police"}),
        )
        .refused(400, "invalid_id", &["not-a-uuid"])
        .on("chair_permissions"),
        Case::raw(Method::GET, "/v1/inbox/not-a-uuid", None, Vec::new()).refused(
            400,
            "invalid_id",
            &["not-a-uuid"],
        ),
        Case::raw(
            Method::GET,
            "/v1/records/not-a-uuid/disclosures",
            None,
            Vec::new(),
        )
        .refused(400, "invalid_id", &["not-a-uuid"]),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    check(
        &w.server,
        &school,
        &head,
        Case::json(
            Method::POST,
            "/v1/subjects/not-a-uuid/staff-designations",
            &json!({"staff_sub": "t.smith", "reason": "lunch duty"}),
        )
        .refused(400, "invalid_id", &["not-a-uuid"])
        .on("staff_designations"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_malformed_id_in_a_body_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let mut disclosure = w.disclosure();
    disclosure["record_ids"] = json!(["x"]);
    let mut deposit = w.deposit();
    deposit["subject_id"] = json!("x");
    let mut by_forum = w.disclosure();
    by_forum["basis"] = json!("mappa_decision");
    by_forum["mappa_decision_id"] = json!("forum-7");
    for case in [
        Case::json(Method::POST, "/v1/disclosures", &disclosure)
            .refused(422, "invalid_field", &["record_ids[0]", "\"x\""])
            .on("packets"),
        Case::json(Method::POST, "/v1/decisions", &disclosure)
            .refused(422, "invalid_field", &["record_ids[0]"])
            .on("packets"),
        Case::json(Method::POST, "/v1/disclosures", &by_forum)
            .refused(422, "invalid_field", &["mappa_decision_id"])
            .on("packets"),
        Case::json(Method::POST, "/v1/records", &deposit)
            .refused(422, "invalid_field", &["subject_id"])
            .on("records"),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let w = World::start().await;
    let truncated = serde_json::to_string(&w.disclosure()).unwrap();
    let truncated = &truncated[..truncated.len() - 1];
    for (path, table, body) in [
        ("/v1/subjects", "subjects", "{not json}"),
        ("/v1/records", "records", ""),
        ("/v1/disclosures", "packets", truncated),
        ("/v1/disclosures", "packets", "{\"record_ids\": [}"),
    ] {
        check(
            &w.server,
            &w.csc,
            &w.sw,
            Case::raw(
                Method::POST,
                path,
                Some("application/json"),
                body.as_bytes().to_vec(),
            )
            .refused(400, "malformed_json", &[])
            .on(table),
        )
        .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_body_without_a_content_type_is_refused_with_415() {
    let w = World::start().await;
    let body = serde_json::to_vec(&w.disclosure()).unwrap();
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::raw(Method::POST, "/v1/disclosures", None, body.clone())
            .refused(415, "unsupported_media_type", &["Content-Type"])
            .on("packets"),
    )
    .await;
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::raw(Method::POST, "/v1/disclosures", Some("text/plain"), body)
            .refused(415, "unsupported_media_type", &["Content-Type"])
            .on("packets"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let w = World::start().await;
    assert_eq!(w.server.config.server.max_body_bytes, 1_048_576);
    let mut deposit = w.deposit();
    deposit["sections"] = json!({"summary": "x".repeat(1_100_000)});
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::json(Method::POST, "/v1/records", &deposit)
            .refused(413, "body_too_large", &[])
            .on("records"),
    )
    .await;
    // The connection and the broker are still fine afterwards.
    let r = w
        .csc
        .post("/v1/records", &w.sw, &w.deposit())
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_recipient_agency_is_refused_with_422_naming_it() {
    let w = World::start().await;
    let mut disclosure = w.disclosure();
    disclosure["recipient_agency"] = json!("nowhere-school");
    let chair = w.server.token("mappa", "chair.khan", &[Role::MappaChair]);
    let mappa = w.server.client("mappa");
    for case in [
        Case::json(Method::POST, "/v1/disclosures", &disclosure)
            .refused(
                422,
                "invalid_field",
                &["recipient_agency", "nowhere-school"],
            )
            .on("packets"),
        Case::json(Method::POST, "/v1/decisions", &disclosure)
            .refused(
                422,
                "invalid_field",
                &["recipient_agency", "nowhere-school"],
            )
            .on("packets"),
        Case::json(
            Method::POST,
            "/v1/subjects",
            &json!({"date_of_birth": born_years_ago(7), "school_agency": "nowhere-school"}),
        )
        .refused(422, "invalid_field", &["school_agency", "nowhere-school"])
        .on("subjects"),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    check(
        &w.server,
        &mappa,
        &chair,
        Case::json(
            Method::POST,
            "/v1/mappa/decisions",
            &json!({"subject_id": w.child, "recipient_agency": "nowhere-school",
                    "purposes": ["mappa"], "sections": ["summary"], "decided_on": today(),
                    "expires_at": chrono::Utc::now() + chrono::Duration::days(30)}),
        )
        .refused(
            422,
            "invalid_field",
            &["recipient_agency", "nowhere-school"],
        )
        .on("mappa_decisions"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_subject_is_refused_with_404() {
    let w = World::start().await;
    let ghost = uuid::Uuid::new_v4().to_string();
    for case in [
        Case::json(
            Method::POST,
            format!("/v1/subjects/{ghost}/consents"),
            &w.consent(),
        )
        .refused(404, "not_found", &[&ghost])
        .on("consents"),
        Case::json(
            Method::POST,
            format!("/v1/subjects/{ghost}/competence"),
            &json!({"assessment": "gillick", "outcome": true, "assessed_on": today()}),
        )
        .refused(404, "not_found", &[&ghost])
        .on("competence_assessments"),
    ] {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    let coordinator = w
        .server
        .token("mappa", "coord.lee", &[Role::MappaCoordinator]);
    check(
        &w.server,
        &w.server.client("mappa"),
        &coordinator,
        Case::json(
            Method::PUT,
            format!("/v1/subjects/{ghost}/mappa"),
            &json!({"active": true, "category": 1, "level": 1}),
        )
        .refused(404, "not_found", &[&ghost])
        .on("mappa_status"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_record_with_no_sections_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let mut deposit = w.deposit();
    deposit["sections"] = json!({});
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::json(Method::POST, "/v1/records", &deposit)
            .refused(422, "invalid_field", &["sections"])
            .on("records"),
    )
    .await;
    let chair = w.server.token("mappa", "chair.khan", &[Role::MappaChair]);
    check(
        &w.server,
        &w.server.client("mappa"),
        &chair,
        Case::json(
            Method::POST,
            "/v1/mappa/decisions",
            &json!({"subject_id": w.child, "recipient_agency": "probation",
                    "purposes": ["mappa"], "sections": [], "decided_on": today(),
                    "expires_at": chrono::Utc::now() + chrono::Duration::days(30)}),
        )
        .refused(422, "invalid_field", &["sections"])
        .on("mappa_decisions"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_consent_that_has_already_expired_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let mut consent = w.consent();
    consent["expires_at"] = json!("2020-01-01T00:00:00Z");
    check(
        &w.server,
        &w.csc,
        &w.sw,
        Case::json(
            Method::POST,
            format!("/v1/subjects/{}/consents", w.child),
            &consent,
        )
        .refused(422, "invalid_field", &["expires_at"])
        .on("consents"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_mappa_category_of_four_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let coordinator = w
        .server
        .token("mappa", "coord.lee", &[Role::MappaCoordinator]);
    let mappa = w.server.client("mappa");
    let path = format!("/v1/subjects/{}/mappa", w.child);
    for (body, field) in [
        (
            json!({"active": true, "category": 4, "level": 2}),
            "category",
        ),
        (json!({"active": true, "category": 1, "level": 0}), "level"),
    ] {
        check(
            &w.server,
            &mappa,
            &coordinator,
            Case::json(Method::PUT, &path, &body)
                .refused(422, "invalid_field", &[field])
                .on("mappa_status"),
        )
        .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_path_is_refused_with_404() {
    let w = World::start().await;
    for (method, path) in [
        (Method::GET, "/v1/nowhere"),
        (Method::POST, "/v1/subjects/extra/deep/path"),
        (Method::GET, "/v2/inbox"),
    ] {
        check(
            &w.server,
            &w.csc,
            &w.sw,
            Case::json(method, path, &json!({})).refused(404, "not_found", &[]),
        )
        .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_refused_with_405() {
    let w = World::start().await;
    for (method, path, body, allowed) in [
        (Method::DELETE, "/v1/subjects".to_owned(), json!({}), "POST"),
        (Method::GET, "/v1/disclosures".to_owned(), json!({}), "POST"),
        (Method::PUT, "/v1/records".to_owned(), w.deposit(), "POST"),
        (
            Method::DELETE,
            format!("/v1/records/{}/disclosures", w.record),
            json!({}),
            "GET",
        ),
    ] {
        let what = format!("{method} {path}");
        let r = check(
            &w.server,
            &w.csc,
            &w.sw,
            Case::json(method, path, &body)
                .refused(405, "method_not_allowed", &[])
                .on("records"),
        )
        .await;
        // RFC 9110 15.5.6: a 405 names the methods the resource does allow.
        let allow = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{what}: the Allow header should list {allowed}, got {allow:?}"
        );
    }
    w.stop().await;
}

#[tokio::test]
async fn a_nul_or_control_character_in_any_body_field_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let with = |mut body: Value, field: &str, value: Value| {
        body[field] = value;
        body
    };
    let subject = json!({"date_of_birth": born_years_ago(8)});
    let cases = vec![
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(w.disclosure(), "recipient_sub", json!("t.smith\u{0}")),
        )
        .refused(422, "invalid_field", &["recipient_sub", "NUL"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(
                w.disclosure(),
                "justification",
                json!("needed \u{0} urgently, see notes"),
            ),
        )
        .refused(422, "invalid_field", &["justification", "NUL"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/decisions",
            &with(
                w.disclosure(),
                "justification",
                json!("clear the screen \u{1b}[2J"),
            ),
        )
        .refused(422, "invalid_field", &["justification", "U+001B"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(w.disclosure(), "recipient_sub", json!("t.smith\nforged")),
        )
        .refused(422, "invalid_field", &["recipient_sub", "line feed"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/disclosures",
            &with(w.disclosure(), "record_ids", json!([w.record, "x\u{7f}"])),
        )
        .refused(422, "invalid_field", &["record_ids[1]", "U+007F"])
        .on("packets"),
        Case::json(
            Method::POST,
            "/v1/subjects",
            &with(subject.clone(), "local_authority", json!("Leeds\u{0}")),
        )
        .refused(422, "invalid_field", &["local_authority", "NUL"])
        .on("subjects"),
        Case::json(
            Method::POST,
            "/v1/subjects",
            &with(subject.clone(), "display_name", json!("Bee\u{85}")),
        )
        .refused(422, "invalid_field", &["display_name", "U+0085"])
        .on("subjects"),
        Case::json(
            Method::POST,
            "/v1/subjects",
            &with(subject, "display_name", json!("Bee\u{202e}dlihc")),
        )
        .refused(422, "invalid_field", &["display_name", "U+202E"])
        .on("subjects"),
        Case::json(
            Method::POST,
            "/v1/records",
            &with(
                w.deposit(),
                "sections",
                json!({"summary": {"text": "fine\nlines", "note": "\u{0}"}}),
            ),
        )
        .refused(422, "invalid_field", &["sections.summary.note", "NUL"])
        .on("records"),
        Case::json(
            Method::POST,
            "/v1/records",
            &with(w.deposit(), "sections", json!({"summary": "C1 \u{9b}31m"})),
        )
        .refused(422, "invalid_field", &["sections.summary", "U+009B"])
        .on("records"),
        Case::json(
            Method::POST,
            format!("/v1/subjects/{}/consents", w.child),
            &json!({"given_by": "parent", "purposes": ["assessment"],
                    "recipient_kinds": ["early_help"], "note\u{0}": 1}),
        )
        .refused(422, "invalid_field", &["field name", "NUL"])
        .on("consents"),
    ];
    for case in cases {
        check(&w.server, &w.csc, &w.sw, case).await;
    }
    let head = w
        .server
        .token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    let school = w.server.client("school-hillside");
    let designations = format!("/v1/subjects/{}/staff-designations", w.child);
    for (body, mentions) in [
        (
            json!({"staff_sub": "t.smith\u{0}", "reason": "lunch duty"}),
            ["staff_sub", "NUL"],
        ),
        (
            json!({"staff_sub": "t.smith", "reason": "lunch \u{1} duty"}),
            ["reason", "U+0001"],
        ),
    ] {
        check(
            &w.server,
            &school,
            &head,
            Case::json(Method::POST, &designations, &body)
                .refused(422, "invalid_field", &mentions)
                .on("staff_designations"),
        )
        .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn free_text_keeps_its_line_breaks_and_tabs() {
    let w = World::start().await;
    let pasted = "First paragraph of the referral.\r\n\r\n\tSecond paragraph, indented.\n";
    let mut disclosure = w.disclosure();
    disclosure["justification"] = json!(pasted);
    let r = w
        .csc
        .post("/v1/disclosures", &w.sw, &disclosure)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let seq = r.json()["audit_seq"].as_i64().unwrap();
    let stored: Option<String> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_scalar("SELECT justification FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(stored.as_deref(), Some(pasted), "stored as sent");
    let mut deposit = w.deposit();
    deposit["sections"] = json!({"summary": "line one\nline two\ttab"});
    let r = w.csc.post("/v1/records", &w.sw, &deposit).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let head = w
        .server
        .token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    let r = w
        .server
        .client("school-hillside")
        .post(
            &format!("/v1/subjects/{}/staff-designations", w.child),
            &head,
            &json!({"staff_sub": "t.smith", "reason": "lunch duty\nand after-school club"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn a_control_character_or_invalid_utf8_in_a_query_filter_is_refused_with_400_naming_the_parameter()
 {
    let w = World::start().await;
    let ig = w
        .server
        .token("partnership", "ig.okafor", &[Role::IgOfficer]);
    let partnership = w.server.client("partnership");
    for path in ["/v1/audit", "/v1/audit/export.csv"] {
        for (query, mentions) in [
            ("agency=csc%00", vec!["agency", "NUL"]),
            ("decision=permit%0Aforged", vec!["decision", "line feed"]),
            ("action=%1B%5B2J", vec!["action", "U+001B"]),
            ("agency=%FF%FE", vec!["agency", "UTF-8"]),
            ("subject_id=%C0%AF", vec!["subject_id", "UTF-8"]),
            ("%00=1", vec!["name", "NUL"]),
        ] {
            check(
                &w.server,
                &partnership,
                &ig,
                Case::raw(Method::GET, format!("{path}?{query}"), None, Vec::new()).refused(
                    400,
                    "invalid_query",
                    &mentions,
                ),
            )
            .await;
        }
    }
    // a filter of plain text still works
    let r = partnership
        .get("/v1/audit?agency=csc&limit=5", &ig)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_or_holds_a_control_character_is_refused_with_400() {
    let w = World::start().await;
    for (method, path, mentions, table) in [
        (
            Method::GET,
            "/v1/inbox/%FF%FE".to_owned(),
            vec!["UTF-8"],
            "audit_log",
        ),
        (
            Method::POST,
            "/v1/subjects/%00/consents".to_owned(),
            vec!["NUL"],
            "consents",
        ),
        (
            Method::GET,
            "/v1/records/%1B%5B2J/disclosures".to_owned(),
            vec!["U+001B"],
            "audit_log",
        ),
        (
            Method::GET,
            "/v1/subjects/%E2%80%AE/history".to_owned(),
            vec!["U+202E"],
            "audit_log",
        ),
        (
            Method::POST,
            format!("/v1/subjects/{}/consents/%0A/withdraw", w.child),
            vec!["line feed"],
            "consents",
        ),
        (
            Method::GET,
            "/v1/nowhere/%FF".to_owned(),
            vec!["UTF-8"],
            "audit_log",
        ),
    ] {
        check(
            &w.server,
            &w.csc,
            &w.sw,
            Case::json(method, path, &w.consent())
                .refused(400, "invalid_path", &mentions)
                .on(table),
        )
        .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_header_block_over_max_header_bytes_is_refused_with_431_problem_json() {
    let w = World::start().await;
    let limit = w.server.config.server.max_header_bytes;
    assert_eq!(limit, 65_536);
    let before = common::audit_head(&w.server).await;
    let request = format!(
        "GET /v1/inbox HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\nx-pad: {}\r\nconnection: close\r\n\r\n",
        w.sw,
        "a".repeat(limit + 1000)
    );
    let answer = w.server.raw_exchange("csc", request.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert!(answer.is_problem(), "{answer:?}");
    assert_eq!(answer.json()["code"], "headers_too_large", "{answer:?}");
    // beyond hyper's own buffer (twice the limit) hyper answers 431 itself, with no body: that
    // answer is written inside hyper and cannot be changed (README, Limits)
    let huge = format!(
        "GET /v1/inbox HTTP/1.1\r\nhost: localhost\r\nx-pad: {}\r\n\r\n",
        "a".repeat(1_048_576)
    );
    let answer = w.server.raw_exchange("csc", huge.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(common::audit_head(&w.server).await, before);
    // the broker still serves
    let r = w.csc.get("/v1/inbox", &w.sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn malformed_framing_is_refused_by_hyper_with_400_and_the_connection_closed() {
    let w = World::start().await;
    let before = common::audit_head(&w.server).await;
    for raw in [
        "GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!"
            .to_owned(),
        "NOT HTTP AT ALL\r\n\r\n".to_owned(),
        "GET /healthz HTTP/1.1\r\nbad header line\r\n\r\n".to_owned(),
        format!(
            "POST /v1/subjects HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
            w.sw
        ),
    ] {
        let answer = w.server.raw_exchange("csc", raw.as_bytes()).await;
        // hyper writes these answers itself: a status, no problem+json body (README, Limits)
        assert!(
            (400..500).contains(&answer.status),
            "{raw:?} got {answer:?}"
        );
    }
    assert_eq!(common::audit_head(&w.server).await, before);
    let r = w.csc.get("/v1/inbox", &w.sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}
