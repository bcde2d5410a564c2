//! Who may see what of a disclosure, over real mTLS against a real database: a packet only in
//! the inbox of the agency and role it is addressed to, a record pushed only by its owner, the
//! owner's list of every decision about its record, dry runs that deliver nothing, and a
//! database that holds no plaintext of what it carries.

mod common;

use broker::vocab::Role;
use common::flows::*;
use common::{TestServer, World};
use serde_json::{Value, json};

const PLAN: &str = "risk_management_plan";

/// A Hillside pupil aged 10 with a risk plan and a parent's consent, and the plan's permitted
/// disclosure to Hillside's DSL: the world and the disclosure id.
async fn a_packet_for_the_dsl() -> (World, String) {
    let w = World::with_plan(json!({
        "summary": "plan summary",
        "risk_management": {"supervision": "at break and lunch"},
        "allegation_details": "what was alleged",
        "police_intelligence": "what the police know",
    }))
    .await;
    let withheld = ["allegation_details", "police_intelligence"];
    let r = w.disclose(&w.to_dsl()).await;
    let disclosure = permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &withheld,
        &[],
    );
    (w, disclosure)
}

#[tokio::test]
async fn police_cannot_fetch_a_packet_addressed_to_a_school() {
    let (w, disclosure) = a_packet_for_the_dsl().await;
    let path = format!("/v1/inbox/{disclosure}");
    let officer = w.server.person("police", "pc.hughes", Role::PoliceOfficer);
    problem(&officer.get(&path).await, 404, "not_found");
    assert!(officer.inbox().await.is_empty());

    let dsl = w.server.person("school-riverside", "dsl.ng", Role::Dsl);
    problem(&dsl.get(&path).await, 404, "not_found");

    // The school's DSL, to whom it is addressed, does have it.
    let addressed = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    assert_eq!(addressed.inbox().await, vec![disclosure.clone()]);

    // The sender does not get its own packet back either.
    problem(&w.social_worker().get(&path).await, 404, "not_found");
    w.stop().await;
}

/// A school that once received a record, asking to pass it on after the child moved to
/// another school: told only that the record is not its own, for a dry run and a disclosure
/// alike, though every rule was judged (and the audit entry keeps them all for the IG officer).
#[tokio::test]
async fn a_non_owner_is_told_only_that_the_record_is_not_its_own_and_no_fact_about_the_child() {
    let w = World::start().await;
    permitted(
        &w.disclose(&w.to_dsl()).await,
        "limited_summary",
        &["summary", "risk_management"],
        &[],
        &[],
    );
    // the child moves school: a fact the old school may no longer learn through the API
    let path = format!("/v1/subjects/{}/school", w.child);
    let moved = w
        .social_worker()
        .put(&path, &json!({"school_agency": "school-riverside"}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text());

    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    let onward = w.ask("school-hillside/dsl", "safeguarding", "significant_harm");
    // a dry run answers its decision (200), a disclosure its refusal (403)
    for (path, status) in [("/v1/decisions", 200), ("/v1/disclosures", 403)] {
        let r = dsl.post(path, &onward).await;
        assert_eq!(r.status, status, "{path}: {}", r.text());
        let body = r.json();
        assert_eq!(body["decision"], "deny", "{path}: {body}");
        assert_eq!(codes(&body), set(&["not_record_owner"]), "{path}: {body}");
        assert_eq!(body["sections_withheld"], json!([]), "{path}: {body}");
        let text = r.text();
        for fact in [
            "riverside",
            "summary",
            "risk_management",
            "csc",
            "consent",
            "years",
        ] {
            assert!(
                !text.contains(fact),
                "{path}: a non-owner's refusal tells {fact:?}: {text}"
            );
        }
        // the audit entry keeps the whole evaluation
        let seq = body["audit_seq"].as_i64().expect("audit_seq");
        let entry = common::audit::at(&common::audit::about(&w.server, &w.child).await, seq);
        let audited = names(&entry["reasons"]);
        assert!(
            audited.contains("not_record_owner") && audited.contains("not_pupil_of_school"),
            "{path}: the audit entry lists every failed rule: {entry}"
        );
    }
    assert_eq!(
        count(&w.server, "packets").await,
        1,
        "only the first packet"
    );
    w.stop().await;
}

#[tokio::test]
async fn one_agency_cannot_push_another_agencys_record() {
    let w = World::start().await;
    let officer = w.server.person("police", "pc.hughes", Role::PoliceOfficer);
    refused(&officer.disclose(&w.to_dsl()).await, &["not_record_owner"]);
    assert_eq!(count(&w.server, "packets").await, 0, "no packet was made");
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    assert!(dsl.inbox().await.is_empty(), "nothing reached the school");

    // The owner learns of the attempt.
    let path = format!("/v1/records/{}/disclosures", w.record);
    let r = w.social_worker().get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["decisions"].as_array().is_some_and(|list| list
            .iter()
            .any(|d| d["actor"]["agency"] == "police" && d["decision"] == "deny")),
        "the police attempt is listed for the owner: {}",
        r.text()
    );
    w.stop().await;
}

#[tokio::test]
async fn a_teacher_cannot_deposit_a_risk_management_plan() {
    let server = TestServer::start().await;
    let teacher = server.person("school-hillside", "t.smith", Role::SchoolStaff);
    let child = teacher.register(7, Some("school-hillside")).await;
    let before = count(&server, "records").await;
    let plan = json!({"subject_id": child, "kind": PLAN, "subject_role": "harmful_behaviour",
                      "sections": {"risk_management": "r"}});
    refused(
        &teacher.post("/v1/records", &plan).await,
        &["role_cannot_deposit"],
    );
    assert_eq!(count(&server, "records").await, before, "nothing deposited");

    // A referral is open to every role that works with children.
    let referral = json!({"subject_id": child, "kind": "referral", "subject_role": "other",
                          "sections": {"summary": "s"}});
    created(&teacher.post("/v1/records", &referral).await);
    server.stop().await;
}

#[tokio::test]
async fn a_dry_run_answers_the_decision_and_delivers_no_packet() {
    let w = World::start().await;
    let sw = w.social_worker();
    let r = sw.post("/v1/decisions", &w.to_dsl()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["decision"], "permit", "{body}");
    assert_eq!(body["view"], "limited_summary", "{body}");
    assert_eq!(
        names(&body["sections_released"]),
        set(&["summary", "risk_management"])
    );
    assert_eq!(body["disclosure_id"], Value::Null, "{body}");
    assert_eq!(body["reasons"], json!([]), "{body}");
    assert_eq!(body["audit_seq"].as_i64(), Some(head_seq(&w.server).await));

    let for_court = w.ask("school-hillside/dsl", "court", "consent");
    let r = sw.post("/v1/decisions", &for_court).await;
    assert_eq!(
        r.status,
        200,
        "a dry-run deny is still an answer: {}",
        r.text()
    );
    assert_eq!(r.json()["decision"], "deny");
    assert_eq!(
        codes(&r.json()),
        set(&["purpose_not_permitted", "consent_not_found"]),
        "{}",
        r.text()
    );
    assert_eq!(r.json()["disclosure_id"], Value::Null);
    assert_eq!(
        r.json()["audit_seq"].as_i64(),
        Some(head_seq(&w.server).await),
        "a dry-run deny is audited too"
    );

    assert_eq!(
        count(&w.server, "packets").await,
        0,
        "a dry run delivers nothing"
    );
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    assert!(dsl.inbox().await.is_empty());
    w.stop().await;
}

#[tokio::test]
async fn the_owner_lists_every_decision_about_its_record_and_no_other_agency_can() {
    let w = World::start().await;
    let sw = w.social_worker();
    let to_dsl = w.to_dsl();
    let to_head_for_court = w.ask("school-hillside/head_teacher", "court", "consent");

    let seq = |r: &broker::client::Response| r.json()["audit_seq"].as_i64().unwrap();
    let denied = sw.disclose(&to_head_for_court).await;
    refused(&denied, &["purpose_not_permitted", "consent_not_found"]);
    let permit = sw.disclose(&to_dsl).await;
    let released = ["summary", "risk_management"];
    let disclosure = permitted(&permit, "limited_summary", &released, &[], &[]);
    let dry_permit = sw.post("/v1/decisions", &to_dsl).await;
    let dry_deny = sw.post("/v1/decisions", &to_head_for_court).await;
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    w.server.open(&dsl, &disclosure).await;

    let path = format!("/v1/records/{}/disclosures", w.record);
    let r = sw.get(&path).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed: Vec<(i64, String, Value)> = r.json()["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("decisions are listed: {}", r.text()))
        .iter()
        .map(|d| {
            (
                d["seq"].as_i64().unwrap(),
                d["action"].as_str().unwrap().to_owned(),
                d["decision"].clone(),
            )
        })
        .collect();
    for (seq, action, decision) in [
        (seq(&denied), "disclosure", "deny"),
        (seq(&permit), "disclosure", "permit"),
        (seq(&dry_permit), "decision.check", "permit"),
        (seq(&dry_deny), "decision.check", "deny"),
    ] {
        assert!(
            listed
                .iter()
                .any(|(s, a, d)| *s == seq && a == action && d == decision),
            "entry {seq} ({action}, {decision}) is missing from {listed:?}"
        );
    }
    assert!(
        listed.iter().any(|(_, a, _)| a == "packet.read"),
        "the school's read of the packet is listed too: {listed:?}"
    );

    let officer = w.server.person("police", "pc.hughes", Role::PoliceOfficer);
    problem(&officer.get(&path).await, 404, "not_found");
    problem(&dsl.get(&path).await, 404, "not_found");
    w.stop().await;
}

#[tokio::test]
async fn the_inbox_lists_a_packet_for_its_addressed_role_and_not_for_another_role_of_the_agency() {
    let (w, disclosure) = a_packet_for_the_dsl().await;
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    let r = dsl.get("/v1/inbox").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    let item = &items[0];
    assert_eq!(item["disclosure_id"], disclosure.as_str());
    assert_eq!(item["subject_id"], w.child.as_str());
    assert_eq!(item["record_ids"], json!([w.record]));
    assert_eq!(item["record_kind"], PLAN);
    assert_eq!(item["from_agency"], "csc");
    assert_eq!(item["to_role"], "dsl");
    assert_eq!(item["view"], "limited_summary");

    let head = w
        .server
        .person("school-hillside", "head.patel", Role::HeadTeacher);
    assert!(head.inbox().await.is_empty());
    let path = format!("/v1/inbox/{disclosure}");
    problem(&head.get(&path).await, 404, "not_found");
    let governor = w
        .server
        .person("school-hillside", "gov.barnes", Role::SafeguardingGovernor);
    assert!(governor.inbox().await.is_empty());
    w.stop().await;
}

#[tokio::test]
async fn the_database_holds_no_plaintext_name_record_content_or_designation_reason() {
    const NAME: &str = "Zephyrine Quillfeather";
    const CONTENT: &str = "MARMALADE-OTTER-7731 hid in the boathouse";
    const NESTED: &str = "kestrel-lantern-5512";
    const REASON: &str = "Gooseberry-Viaduct-9046 runs the lunch club";
    let server = TestServer::start().await;
    let sw = server.social_worker();
    let named = json!({"date_of_birth": born_years_ago(11), "school_agency": "school-hillside",
                       "display_name": NAME});
    let child = created(&sw.post("/v1/subjects", &named).await);
    let sections = json!({"summary": CONTENT, "risk_management": {"plan": NESTED}});
    let record = sw.deposit(&child, PLAN, sections).await;
    sw.consent(&child, "parent", &["safeguarding"], &["school"])
        .await;
    let head = server.person("school-hillside", "head.patel", Role::HeadTeacher);
    created(&head.designate(&child, "t.smith", REASON).await);
    let to_dsl = ask(&[&record], "school-hillside/dsl", "safeguarding", "consent");
    let released = ["summary", "risk_management"];
    let disclosure = permitted(
        &sw.disclose(&to_dsl).await,
        "limited_summary",
        &released,
        &[],
        &[],
    );
    // The content does reach its recipient: the test's strings are the real ones.
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let packet = server.open(&dsl, &disclosure).await;
    assert_eq!(packet["sections"]["summary"], CONTENT);

    let secrets = [NAME, CONTENT, NESTED, REASON];
    match server.state.db.kind() {
        "sqlite" => {
            let db = server.dir.path().join("data/broker.db");
            let mut bytes = std::fs::read(&db).expect("reading the database file");
            let wal = server.dir.path().join("data/broker.db-wal");
            if let Ok(more) = std::fs::read(&wal) {
                bytes.extend(more);
            }
            assert!(bytes.len() > 4096, "the database file has content");
            assert!(
                contains(&bytes, child.as_bytes()),
                "the scan can see identifiers, so it would see plaintext"
            );
            for secret in secrets {
                assert!(
                    !contains(&bytes, secret.as_bytes()),
                    "\"{secret}\" is stored in plaintext in the SQLite files"
                );
            }
        }
        _ => {
            let mut seen = String::new();
            for table in [
                "subjects",
                "records",
                "packets",
                "audit_log",
                "consents",
                "staff_designations",
                "chair_permissions",
                "competence_assessments",
                "mappa_decisions",
                "mappa_status",
                "audit_records",
            ] {
                let sql = format!("SELECT t::text AS row FROM {table} t");
                let rows: Vec<String> = broker::with_db!(&server.state.db, pool => {
                    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.clone()))
                        .fetch_all(pool)
                        .await
                        .expect("reading a table as text")
                });
                for row in rows {
                    seen.push_str(&row);
                    seen.push('\n');
                }
            }
            assert!(seen.contains(&child), "the scan can see identifiers");
            for secret in secrets {
                let hex = hex_of(secret);
                assert!(
                    !seen.contains(secret) && !seen.contains(&hex),
                    "\"{secret}\" is stored in plaintext in PostgreSQL"
                );
            }
        }
    }
    server.stop().await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How PostgreSQL prints the bytes of `text` in a bytea column.
fn hex_of(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}
