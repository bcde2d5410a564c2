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
async fn an_early_help_team_manager_cannot_deposit_strategy_meeting_minutes_and_so_never_chairs() {
    let server = TestServer::start().await;
    let early_help = server.client("early-help");
    let tm = server.token("early-help", "tm.rowe", &[Role::TeamManager]);
    let child = register(&early_help, &tm, &born_years_ago(12), None).await;
    let minutes = json!({"summary": "meeting held", "risk_management": "supervision agreed"});
    let before = count(&server, "records").await;
    let r = deposit_as(
        &early_help,
        &tm,
        &child,
        "strategy_meeting_minutes",
        "harmful_behaviour",
        minutes.clone(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["decision"], "deny", "{}", r.text());
    assert_eq!(codes(&r.json()), set(&["role_cannot_deposit"]));
    assert_eq!(count(&server, "records").await, before);
    // the same role still deposits the kinds an early-help team manager writes
    deposit(
        &early_help,
        &tm,
        &child,
        "family_assessment",
        minutes.clone(),
    )
    .await;

    // a children's social care team manager deposits them and is their chair
    let csc = server.client("csc");
    let chair = server.token("csc", "tm.osei", &[Role::TeamManager]);
    let r = deposit_as(
        &csc,
        &chair,
        &child,
        "strategy_meeting_minutes",
        "harmful_behaviour",
        minutes,
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["chair"], "tm.osei");
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

#[tokio::test]
async fn on_his_parents_consent_the_hsb_service_gets_his_record_without_the_younger_childs_details()
{
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(14), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        "referral",
        json!({"summary": "referral summary", "family_background": "lives with mother",
               "victim_details": "the younger child's name and school"}),
    )
    .await;
    consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["assessment"],
        &["hsb_service"],
    )
    .await;
    let hsb = request(
        &record,
        "hsb-service",
        Some("hsb_practitioner"),
        "assessment",
        "consent",
    );
    let disclosure = permitted(
        &disclose(&csc, &sw, &hsb).await,
        "partial",
        &["summary", "family_background"],
        &["victim_details"],
        &[],
    );
    let practitioner = server.token("hsb-service", "hsb.moss", &[Role::HsbPractitioner]);
    let packet = open_packet(&server, "hsb-service", &practitioner, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "referral summary", "family_background": "lives with mother"})
    );
    assert_eq!(packet["sections_withheld"], json!(["victim_details"]));
    assert!(!packet.to_string().contains("younger child's name"));

    // an emergency does not rest on his parent's consent, so the details travel
    let mut emergency = hsb.clone();
    emergency["basis"] = json!("significant_harm");
    emergency["justification"] = json!(EMERGENCY);
    permitted(
        &disclose(&csc, &sw, &emergency).await,
        "full",
        &["summary", "family_background", "victim_details"],
        &[],
        &["ig_review"],
    );
    server.stop().await;
}

#[tokio::test]
async fn a_younger_victims_own_record_goes_to_the_police_and_each_record_keeps_its_own_withheld_sections()
 {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.achebe", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(8), Some("school-riverside")).await;
    let r = deposit_as(
        &csc,
        &sw,
        &child,
        "initial_assessment",
        "victim",
        json!({"summary": "her assessment", "victim_details": "her own account"}),
    )
    .await;
    let hers = created(&r);
    // the same child, in another incident, displayed harmful behaviour towards a cousin
    let r = deposit_as(
        &csc,
        &sw,
        &child,
        "referral",
        "harmful_behaviour",
        json!({"summary": "a later referral", "victim_details": "the cousin's details"}),
    )
    .await;
    let other = created(&r);
    consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["criminal_investigation", "safeguarding"],
        &["police"],
    )
    .await;
    let officer = server.token("police", "dc.ahmed", &[Role::PoliceOfficer]);

    // aged 8, her own record still goes to the police for the investigation of another
    let to_police = |records: &[&str], purpose: &str| {
        json!({"record_ids": records, "recipient_agency": "police",
               "recipient_role": "police_officer", "purpose": purpose, "basis": "consent"})
    };
    let disclosure = permitted(
        &disclose(&csc, &sw, &to_police(&[&hers], "criminal_investigation")).await,
        "full",
        &["summary", "victim_details"],
        &[],
        &[],
    );
    let packet = open_packet(&server, "police", &officer, &disclosure).await;
    assert_eq!(packet["sections"]["victim_details"], "her own account");
    // her behaviour record is not investigated at all
    refused(
        &disclose(
            &csc,
            &sw,
            &to_police(&[&hers, &other], "criminal_investigation"),
        )
        .await,
        &["below_age_of_criminal_responsibility"],
    );

    // for safeguarding both go: her details from her record, never the cousin's from the other
    let both = disclose(&csc, &sw, &to_police(&[&hers, &other], "safeguarding")).await;
    let disclosure = permitted(
        &both,
        "partial",
        &["summary", "victim_details"],
        &["victim_details"],
        &[],
    );
    let packet = open_packet(&server, "police", &officer, &disclosure).await;
    let by_record: std::collections::BTreeMap<String, Value> = packet["records"]
        .as_array()
        .unwrap_or_else(|| panic!("one entry per record: {packet}"))
        .iter()
        .map(|r| (r["record_id"].as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(
        by_record[&hers]["sections"],
        json!({"summary": "her assessment", "victim_details": "her own account"})
    );
    assert_eq!(
        by_record[&other]["sections"],
        json!({"summary": "a later referral"})
    );
    assert_eq!(
        by_record[&other]["sections_withheld"],
        json!(["victim_details"])
    );
    assert!(!packet.to_string().contains("the cousin's details"));
    server.stop().await;
}

#[tokio::test]
async fn a_record_kind_an_ig_officer_gives_a_chair_gets_one_and_its_chair_can_release_it() {
    let server = TestServer::start_with_policy(|dir| {
        let file = dir.join("record_controls.csv");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(
            &file,
            format!("{text}p, child_protection_plan, chair_permission, allow\n"),
        )
        .unwrap();
    })
    .await;
    let csc = server.client("csc");
    let tm = server.token("csc", "tm.osei", &[Role::TeamManager]);
    let child = register(&csc, &tm, &born_years_ago(13), None).await;
    let r = deposit_as(
        &csc,
        &tm,
        &child,
        "child_protection_plan",
        "harmful_behaviour",
        json!({"summary": "plan agreed at conference"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["chair"], "tm.osei", "{}", r.text());
    let plan = created(&r);
    let mut to_police = request(
        &plan,
        "police",
        Some("police_officer"),
        "safeguarding",
        "significant_harm",
    );
    to_police["justification"] = json!(EMERGENCY);
    refused(
        &disclose(&csc, &tm, &to_police).await,
        &["chair_permission_required"],
    );
    let r = csc
        .post(
            &format!("/v1/records/{plan}/chair-permissions"),
            &tm,
            &json!({"recipient_agency": "police"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    permitted(
        &disclose(&csc, &tm, &to_police).await,
        "full",
        &["summary"],
        &[],
        &["ig_review"],
    );
    // a kind without a chair still has none
    let referral = deposit(&csc, &tm, &child, "referral", json!({"summary": "s"})).await;
    let r = csc
        .post(
            &format!("/v1/records/{referral}/chair-permissions"),
            &tm,
            &json!({"recipient_agency": "police"}),
        )
        .await
        .unwrap();
    problem(&r, 409, "no_chair");
    server.stop().await;
}
