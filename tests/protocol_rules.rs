//! The protocol corrections end to end, over real mTLS against a real database: the MAPPA
//! emergency route and its notification to the forum (RULES 5), a consent that speaks only for
//! its own child (2.3), who chairs (2.4), the under-10 rule by subject role (7), and children
//! moving school (4.3 e).

mod common;

use broker::vocab::Role;
use common::TestServer;
use common::flows::*;
use serde_json::{Value, json};

const PLAN: &str = "risk_management_plan";

/// The sections of the plan [`a_child_under_mappa_with_a_plan`] deposits.
const PLAN_SECTIONS: [&str; 4] = [
    "summary",
    "risk_management",
    "allegation_details",
    "police_intelligence",
];

const EMERGENCY: &str =
    "He was seen waiting outside the younger child's school today; the police must act now.";

/// A child aged 15 with a social worker's risk plan, whose MAPPA status the MAPPA coordinator
/// has set active. Returns (child, record).
async fn a_child_under_mappa_with_a_plan(server: &TestServer) -> (String, String) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(15), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        PLAN,
        json!({"summary": "plan summary", "risk_management": "supervised at all times",
               "allegation_details": "what was alleged", "police_intelligence": "known to police"}),
    )
    .await;
    let coordinator = server.token("mappa", "coord.lee", &[Role::MappaCoordinator]);
    let r = server
        .client("mappa")
        .put(
            &format!("/v1/subjects/{child}/mappa"),
            &coordinator,
            &json!({"active": true, "category": 2, "level": 2}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    (child, record)
}

/// The audit entries about a child, as the partnership's IG officer lists them.
async fn audit_of(server: &TestServer, child: &str) -> Vec<Value> {
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let r = server
        .client("partnership")
        .get(&format!("/v1/audit?subject_id={child}&limit=500"), &ig)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("entries in {}", r.text()))
        .clone()
}

/// The override on the IG review queue recorded at `seq`.
async fn awaiting_review(server: &TestServer, seq: i64) -> Value {
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let r = server
        .client("partnership")
        .get("/v1/audit/reviews", &ig)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["awaiting_review"]
        .as_array()
        .unwrap_or_else(|| panic!("a queue in {}", r.text()))
        .iter()
        .find(|e| e["seq"] == seq)
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the override at seq {seq} is not on the queue: {}",
                r.text()
            )
        })
}

fn emergency_to_police(record: &str) -> Value {
    let mut body = request(
        record,
        "police",
        Some("police_officer"),
        "safeguarding",
        "significant_harm",
    );
    body["justification"] = json!(EMERGENCY);
    body
}

/// The social worker's emergency disclosure of `record` to the police, permitted with both
/// obligations. Returns (disclosure id, its audit seq, packets it stored).
async fn an_emergency_is_permitted(server: &TestServer, record: &str) -> (String, i64, i64) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let before = count(server, "packets").await;
    let r = disclose(&csc, &sw, &emergency_to_police(record)).await;
    let disclosure = permitted(
        &r,
        "full",
        &PLAN_SECTIONS,
        &[],
        &["ig_review", "notify_mappa"],
    );
    let seq = r.json()["audit_seq"].as_i64().expect("an audit seq");
    (disclosure, seq, count(server, "packets").await - before)
}

#[tokio::test]
async fn an_emergency_under_mappa_goes_ahead_and_the_mappa_coordinator_is_told_in_the_same_transaction()
 {
    let server = TestServer::start().await;
    let (child, record) = a_child_under_mappa_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mappa = server.client("mappa");
    let coordinator = server.token("mappa", "coord.byrne", &[Role::MappaCoordinator]);

    // consent and crime prevention stay with the forum
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["police"]).await;
    let by_consent = request(
        &record,
        "police",
        Some("police_officer"),
        "safeguarding",
        "consent",
    );
    refused(
        &disclose(&csc, &sw, &by_consent).await,
        &["mappa_forum_decides"],
    );
    let mut prevention = emergency_to_police(&record);
    prevention["basis"] = json!("crime_prevention");
    prevention["purpose"] = json!("criminal_investigation");
    refused(
        &disclose(&csc, &sw, &prevention).await,
        &["mappa_forum_decides"],
    );

    // a dry run names the obligation but tells nobody
    let r = csc
        .post("/v1/decisions", &sw, &emergency_to_police(&record))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        names(&r.json()["obligations"]),
        set(&["ig_review", "notify_mappa"])
    );
    assert!(inbox(&mappa, &coordinator).await.is_empty());

    let (disclosure, seq, stored) = an_emergency_is_permitted(&server, &record).await;
    assert_eq!(stored, 2, "the disclosure's packet and the notification");
    assert_eq!(head_seq(&server).await, seq + 1, "one action, two entries");

    // the coordinator's inbox has the notification, which only the MAPPA agency's key opens
    let waiting = inbox(&mappa, &coordinator).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let notice = &waiting[0];
    let packet = open_packet(&server, "mappa", &coordinator, notice).await;
    assert_eq!(packet["view"], "notification");
    assert_eq!(packet["sections"], json!({}));
    assert_eq!(packet["to_agency"], "mappa");
    assert_eq!(packet["to_role"], "mappa_coordinator");
    assert_eq!(packet["from_agency"], "csc");
    assert_eq!(packet["subject_id"], json!(child));
    assert_eq!(packet["record_kind"], PLAN);
    assert_eq!(packet["basis"], "significant_harm");
    assert_eq!(packet["notifies"]["disclosure_id"], json!(disclosure));
    assert_eq!(packet["notifies"]["to_agency"], "police");
    assert_eq!(packet["notifies"]["basis"], "significant_harm");
    let text = packet.to_string();
    for content in ["plan summary", "supervised at all times", "known to police"] {
        assert!(!text.contains(content), "content in a notification: {text}");
    }
    // addressed to the coordinator: neither the forum's chair nor the police may fetch it
    let chair = server.token("mappa", "chair.osei", &[Role::MappaChair]);
    let r = mappa
        .get(&format!("/v1/inbox/{notice}"), &chair)
        .await
        .unwrap();
    problem(&r, 404, "not_found");
    let officer = server.token("police", "dc.ahmed", &[Role::PoliceOfficer]);
    let r = server
        .client("police")
        .get(&format!("/v1/inbox/{notice}"), &officer)
        .await
        .unwrap();
    problem(&r, 404, "not_found");
    let to_police = open_packet(&server, "police", &officer, &disclosure).await;
    assert_eq!(to_police["sections"]["summary"], "plan summary");

    // audited like any disclosure, in the same chain position as the emergency it is about
    let entries = audit_of(&server, &child).await;
    let by_seq = |s: i64| {
        entries
            .iter()
            .find(|e| e["seq"] == s)
            .unwrap_or_else(|| panic!("no entry {s}"))
            .clone()
    };
    let emergency = by_seq(seq);
    assert_eq!(emergency["detail"]["notify_mappa"]["notified"], true);
    assert_eq!(emergency["detail"]["notify_mappa"]["mappa_agency"], "mappa");
    assert_eq!(
        emergency["detail"]["notify_mappa"]["disclosure_id"],
        json!(notice)
    );
    let told = by_seq(seq + 1);
    assert_eq!(told["action"], "disclosure");
    assert_eq!(told["decision"], "permit");
    assert_eq!(told["recipient"]["agency"], "mappa");
    assert_eq!(told["recipient"]["role"], "mappa_coordinator");
    assert_eq!(told["detail"]["view"], "notification");
    assert_eq!(told["detail"]["disclosure_id"], json!(notice));
    assert_eq!(
        told["detail"]["notifies"]["disclosure_id"],
        json!(disclosure)
    );
    assert_eq!(told["detail"]["notifies"]["audit_seq"], seq);
    assert_eq!(told["obligations"], json!([]));
    assert!(
        told["packet_sha256"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:"))
    );
    assert_eq!(
        awaiting_review(&server, seq).await["detail"]["notify_mappa"]["notified"],
        true
    );

    // a court order is the other route that stays open, and the forum is told of it too
    let mut court = request(
        &record,
        "police",
        Some("police_officer"),
        "court",
        "legal_obligation",
    );
    court["legal_reference"] = json!("Production order, Northshire Crown Court, T20260114");
    permitted(
        &disclose(&csc, &sw, &court).await,
        "full",
        &PLAN_SECTIONS,
        &[],
        &["ig_review", "notify_mappa"],
    );
    assert_eq!(inbox(&mappa, &coordinator).await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn when_the_mappa_agency_has_left_the_config_the_emergency_goes_ahead_and_its_review_says_the_forum_was_not_told()
 {
    let server = TestServer::start().await;
    let (_, record) = a_child_under_mappa_with_a_plan(&server).await;
    let server = server
        .restart_with(|toml| common::without_agency(toml, "mappa"))
        .await;
    assert!(!server.state.agencies.contains_key("mappa"));
    let (disclosure, seq, stored) = an_emergency_is_permitted(&server, &record).await;
    assert_eq!(stored, 1, "the disclosure's packet alone");
    assert_eq!(head_seq(&server).await, seq, "no notification entry");
    let officer = server.token("police", "dc.ahmed", &[Role::PoliceOfficer]);
    let packet = open_packet(&server, "police", &officer, &disclosure).await;
    assert_eq!(packet["sections"]["summary"], "plan summary");

    let queued = awaiting_review(&server, seq).await;
    let told = &queued["detail"]["notify_mappa"];
    assert_eq!(told["notified"], false, "{queued}");
    assert_eq!(told["mappa_agency"], "mappa", "{queued}");
    let why = told["reason"].as_str().unwrap_or_default();
    assert!(
        why.contains("no longer configured") && why.contains("forum could not be told"),
        "{why}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_school_move_is_audited_and_from_then_on_only_the_new_school_receives() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(11), Some("school-hillside")).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        PLAN,
        json!({"summary": "plan summary", "risk_management": "no unsupervised time"}),
    )
    .await;
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    let to = |school: &str| request(&record, school, Some("dsl"), "safeguarding", "consent");
    let both = ["summary", "risk_management"];
    permitted(
        &disclose(&csc, &sw, &to("school-hillside")).await,
        "limited_summary",
        &both,
        &[],
        &[],
    );
    refused(
        &disclose(&csc, &sw, &to("school-riverside")).await,
        &["not_pupil_of_school"],
    );

    let path = format!("/v1/subjects/{child}/school");
    let hillside = server.client("school-hillside");
    let riverside = server.client("school-riverside");
    let hillside_dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let riverside_head = server.token("school-riverside", "head.ali", &[Role::HeadTeacher]);
    let teacher = server.token("school-hillside", "t.smith", &[Role::SchoolStaff]);
    let officer = server.token("police", "pc.khan", &[Role::PoliceOfficer]);
    let move_to = |school: Option<&str>| json!({"school_agency": school});

    // who may not move the child, and what is not a school
    let r = riverside
        .put(&path, &riverside_head, &move_to(Some("school-riverside")))
        .await
        .unwrap();
    problem(&r, 403, "not_childs_school");
    let r = hillside
        .put(&path, &teacher, &move_to(Some("school-riverside")))
        .await
        .unwrap();
    problem(&r, 403, "role_not_permitted");
    let r = server
        .client("police")
        .put(&path, &officer, &move_to(Some("school-riverside")))
        .await
        .unwrap();
    problem(&r, 403, "role_not_permitted");
    for bad in [
        move_to(Some("police")),
        move_to(Some("no-such-school")),
        json!({}),
    ] {
        let r = hillside.put(&path, &hillside_dsl, &bad).await.unwrap();
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert_eq!(r.content_type(), "application/problem+json");
    }
    let unknown = format!("/v1/subjects/{}/school", uuid::Uuid::new_v4());
    let r = csc
        .put(&unknown, &sw, &move_to(Some("school-riverside")))
        .await
        .unwrap();
    problem(&r, 404, "not_found");

    // the DSL of the current school moves the child; it is audited and takes effect at once
    let r = hillside
        .put(&path, &hillside_dsl, &move_to(Some("school-riverside")))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = r.json();
    assert_eq!(moved["school_agency"], "school-riverside");
    assert_eq!(moved["previous_school_agency"], "school-hillside");
    let seq = moved["audit_seq"].as_i64().unwrap();
    let entry = audit_of(&server, &child)
        .await
        .into_iter()
        .find(|e| e["seq"] == seq)
        .expect("the move's audit entry");
    assert_eq!(entry["action"], "subject.school");
    assert_eq!(entry["actor"]["agency"], "school-hillside");
    assert_eq!(
        entry["detail"],
        json!({"from": "school-hillside", "to": "school-riverside"})
    );
    refused(
        &disclose(&csc, &sw, &to("school-hillside")).await,
        &["not_pupil_of_school"],
    );
    permitted(
        &disclose(&csc, &sw, &to("school-riverside")).await,
        "limited_summary",
        &both,
        &[],
        &[],
    );
    // the old school's DSL no longer holds the child
    let r = hillside
        .put(&path, &hillside_dsl, &move_to(Some("school-hillside")))
        .await
        .unwrap();
    problem(&r, 403, "not_childs_school");

    // children's social care records that the child has left school altogether
    let r = csc.put(&path, &sw, &move_to(None)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["school_agency"], Value::Null);
    refused(
        &disclose(&csc, &sw, &to("school-riverside")).await,
        &["not_pupil_of_school"],
    );
    server.stop().await;
}
