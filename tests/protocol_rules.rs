//! The protocol corrections end to end, over real mTLS against a real database: the MAPPA
//! emergency route and its notification to the forum (RULES 5), a consent that speaks only for
//! its own child (2.3), who chairs (2.4), the under-10 rule by subject role (7), and children
//! moving school (4.3 e).

mod common;

use broker::vocab::Role;
use common::audit::{about, at, awaiting_review, partnership_ig};
use common::flows::*;
use common::{Child, Person, TestServer};
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
    let sw = server.social_worker();
    let child = sw.register(15, None).await;
    let plan = json!({"summary": "plan summary", "risk_management": "supervised at all times",
                      "allegation_details": "what was alleged", "police_intelligence": "known to police"});
    let record = sw.deposit(&child, PLAN, plan).await;
    let coordinator = server.person("mappa", "coord.lee", Role::MappaCoordinator);
    let status = json!({"active": true, "category": 2, "level": 2});
    let r = coordinator
        .put(&format!("/v1/subjects/{child}/mappa"), &status)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    (child, record)
}

/// The override on the IG review queue recorded at `seq`.
async fn on_review(server: &TestServer, seq: i64) -> Value {
    at(&awaiting_review(&partnership_ig(server)).await, seq)
}

/// `records` to a police officer for `purpose` on `basis`.
fn to_police(records: &[&str], purpose: &str, basis: &str) -> Value {
    ask(records, "police/police_officer", purpose, basis)
}

fn emergency_to_police(record: &str) -> Value {
    let mut body = to_police(&[record], "safeguarding", "significant_harm");
    body["justification"] = json!(EMERGENCY);
    body
}

/// The social worker's emergency disclosure of `record` to the police, permitted with both
/// obligations. Returns (disclosure id, its audit seq, packets it stored).
async fn an_emergency_is_permitted(server: &TestServer, record: &str) -> (String, i64, i64) {
    let before = count(server, "packets").await;
    let r = server
        .social_worker()
        .disclose(&emergency_to_police(record))
        .await;
    let obligations = ["ig_review", "notify_mappa"];
    let disclosure = permitted(&r, "full", &PLAN_SECTIONS, &[], &obligations);
    let seq = r.json()["audit_seq"].as_i64().expect("an audit seq");
    (disclosure, seq, count(server, "packets").await - before)
}

/// `who` fetching packet `id`: refused 404, as for an id that does not exist.
async fn cannot_fetch(who: &Person, id: &str) {
    problem(&who.get(&format!("/v1/inbox/{id}")).await, 404, "not_found");
}

#[tokio::test]
async fn an_emergency_under_mappa_goes_ahead_and_the_mappa_coordinator_is_told_in_the_same_transaction()
 {
    let server = TestServer::start().await;
    let (child, record) = a_child_under_mappa_with_a_plan(&server).await;
    let sw = server.social_worker();
    let coordinator = server.person("mappa", "coord.byrne", Role::MappaCoordinator);

    // consent and crime prevention stay with the forum
    sw.consent(&child, "parent", &["safeguarding"], &["police"])
        .await;
    let by_consent = to_police(&[&record], "safeguarding", "consent");
    refused(&sw.disclose(&by_consent).await, &["mappa_forum_decides"]);
    let mut prevention = emergency_to_police(&record);
    prevention["basis"] = json!("crime_prevention");
    prevention["purpose"] = json!("criminal_investigation");
    refused(&sw.disclose(&prevention).await, &["mappa_forum_decides"]);

    // a dry run names the obligation but tells nobody
    let r = sw
        .post("/v1/decisions", &emergency_to_police(&record))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        names(&r.json()["obligations"]),
        set(&["ig_review", "notify_mappa"])
    );
    assert!(coordinator.inbox().await.is_empty());

    let (disclosure, seq, stored) = an_emergency_is_permitted(&server, &record).await;
    assert_eq!(stored, 2, "the disclosure's packet and the notification");
    assert_eq!(head_seq(&server).await, seq + 1, "one action, two entries");

    // the coordinator's inbox has the notification, which only the MAPPA agency's key opens
    let waiting = coordinator.inbox().await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let notice = &waiting[0];
    let packet = server.open(&coordinator, notice).await;
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
    let chair = server.person("mappa", "chair.osei", Role::MappaChair);
    cannot_fetch(&chair, notice).await;
    let officer = server.person("police", "dc.ahmed", Role::PoliceOfficer);
    cannot_fetch(&officer, notice).await;
    let police_packet = server.open(&officer, &disclosure).await;
    assert_eq!(police_packet["sections"]["summary"], "plan summary");

    // audited like any disclosure, in the same chain position as the emergency it is about
    let entries = about(&server, &child).await;
    let emergency = at(&entries, seq);
    assert_eq!(emergency["detail"]["notify_mappa"]["notified"], true);
    assert_eq!(emergency["detail"]["notify_mappa"]["mappa_agency"], "mappa");
    assert_eq!(
        emergency["detail"]["notify_mappa"]["disclosure_id"],
        json!(notice)
    );
    let told = at(&entries, seq + 1);
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
        on_review(&server, seq).await["detail"]["notify_mappa"]["notified"],
        true
    );

    // a court order is the other route that stays open, and the forum is told of it too
    let mut court = to_police(&[&record], "court", "legal_obligation");
    court["legal_reference"] = json!("Production order, Northshire Crown Court, T20260114");
    let obligations = ["ig_review", "notify_mappa"];
    let r = sw.disclose(&court).await;
    permitted(&r, "full", &PLAN_SECTIONS, &[], &obligations);
    assert_eq!(coordinator.inbox().await.len(), 2);
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
    let officer = server.person("police", "dc.ahmed", Role::PoliceOfficer);
    let packet = server.open(&officer, &disclosure).await;
    assert_eq!(packet["sections"]["summary"], "plan summary");

    let queued = on_review(&server, seq).await;
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
    let tm = server.person("early-help", "tm.rowe", Role::TeamManager);
    let child = tm.register(12, None).await;
    let minutes = json!({"summary": "meeting held", "risk_management": "supervision agreed"});
    let before = count(&server, "records").await;
    let kind = "strategy_meeting_minutes";
    let r = tm
        .deposit_as(&child, kind, "harmful_behaviour", minutes.clone())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["decision"], "deny", "{}", r.text());
    assert_eq!(codes(&r.json()), set(&["role_cannot_deposit"]));
    assert_eq!(count(&server, "records").await, before);
    // the same role still deposits the kinds an early-help team manager writes
    tm.deposit(&child, "family_assessment", minutes.clone())
        .await;

    // a children's social care team manager deposits them and is their chair
    let chair = server.person("csc", "tm.osei", Role::TeamManager);
    let r = chair
        .deposit_as(&child, kind, "harmful_behaviour", minutes)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["chair"], "tm.osei");
    server.stop().await;
}

#[tokio::test]
async fn a_school_move_is_audited_and_from_then_on_only_the_new_school_receives() {
    let plan = json!({"summary": "plan summary", "risk_management": "no unsupervised time"});
    let c = Child::with_record(11, Some("school-hillside"), PLAN, plan).await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    c.parent_consents(&["safeguarding"], &["school"]).await;
    let to = |school: &str| c.ask(&format!("{school}/dsl"), "safeguarding", "consent");
    let both = ["summary", "risk_management"];
    let r = sw.disclose(&to("school-hillside")).await;
    permitted(&r, "limited_summary", &both, &[], &[]);
    let not_pupil = ["not_pupil_of_school"];
    refused(&sw.disclose(&to("school-riverside")).await, &not_pupil);

    let path = format!("/v1/subjects/{child}/school");
    let hillside_dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let riverside_head = server.person("school-riverside", "head.ali", Role::HeadTeacher);
    let teacher = server.person("school-hillside", "t.smith", Role::SchoolStaff);
    let officer = server.person("police", "pc.khan", Role::PoliceOfficer);
    let move_to = |school: Option<&str>| json!({"school_agency": school});
    let to_riverside = move_to(Some("school-riverside"));

    // who may not move the child, and what is not a school
    let r = riverside_head.put(&path, &to_riverside).await;
    problem(&r, 403, "not_childs_school");
    for who in [&teacher, &officer] {
        problem(
            &who.put(&path, &to_riverside).await,
            403,
            "role_not_permitted",
        );
    }
    for bad in [
        move_to(Some("police")),
        move_to(Some("no-such-school")),
        json!({}),
    ] {
        let r = hillside_dsl.put(&path, &bad).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert_eq!(r.content_type(), "application/problem+json");
    }
    let unknown = format!("/v1/subjects/{}/school", uuid::Uuid::new_v4());
    problem(&sw.put(&unknown, &to_riverside).await, 404, "not_found");

    // the DSL of the current school moves the child; it is audited and takes effect at once
    let r = hillside_dsl.put(&path, &to_riverside).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let moved = r.json();
    assert_eq!(moved["school_agency"], "school-riverside");
    assert_eq!(moved["previous_school_agency"], "school-hillside");
    let seq = moved["audit_seq"].as_i64().unwrap();
    let entry = at(&about(server, child).await, seq);
    assert_eq!(entry["action"], "subject.school");
    assert_eq!(entry["actor"]["agency"], "school-hillside");
    assert_eq!(
        entry["detail"],
        json!({"from": "school-hillside", "to": "school-riverside"})
    );
    refused(&sw.disclose(&to("school-hillside")).await, &not_pupil);
    let r = sw.disclose(&to("school-riverside")).await;
    permitted(&r, "limited_summary", &both, &[], &[]);
    // the old school's DSL no longer holds the child
    let r = hillside_dsl
        .put(&path, &move_to(Some("school-hillside")))
        .await;
    problem(&r, 403, "not_childs_school");

    // children's social care records that the child has left school altogether
    let r = sw.put(&path, &move_to(None)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["school_agency"], Value::Null);
    assert_eq!(r.json()["previous_school_agency"], "school-riverside");
    refused(&sw.disclose(&to("school-riverside")).await, &not_pupil);
    c.stop().await;
}

#[tokio::test]
async fn on_his_parents_consent_the_hsb_service_gets_his_record_without_the_younger_childs_details()
{
    let referral = json!({"summary": "referral summary", "family_background": "lives with mother",
                          "victim_details": "the younger child's name and school"});
    let c = Child::with_record(14, None, "referral", referral).await;
    let (server, sw) = (&c.server, &c.sw);
    c.parent_consents(&["assessment"], &["hsb_service"]).await;
    let hsb = c.ask("hsb-service/hsb_practitioner", "assessment", "consent");
    let released = ["summary", "family_background"];
    let r = sw.disclose(&hsb).await;
    let disclosure = permitted(&r, "partial", &released, &["victim_details"], &[]);
    let practitioner = server.person("hsb-service", "hsb.moss", Role::HsbPractitioner);
    let packet = server.open(&practitioner, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "referral summary", "family_background": "lives with mother"})
    );
    assert_eq!(packet["sections_withheld"], json!(["victim_details"]));
    assert!(!packet.to_string().contains("younger child's name"));

    // an emergency does not rest on his parent's consent, so the details travel
    let emergency = json!({"basis": "significant_harm", "justification": EMERGENCY});
    let all = ["summary", "family_background", "victim_details"];
    let r = sw.disclose(&with(hsb, emergency)).await;
    permitted(&r, "full", &all, &[], &["ig_review"]);
    c.stop().await;
}

#[tokio::test]
async fn a_younger_victims_own_record_goes_to_the_police_and_each_record_keeps_its_own_withheld_sections()
 {
    let server = TestServer::start().await;
    let sw = server.person("csc", "sw.achebe", Role::SocialWorker);
    let child = sw.register(8, Some("school-riverside")).await;
    let assessment = json!({"summary": "her assessment", "victim_details": "her own account"});
    let r = sw
        .deposit_as(&child, "initial_assessment", "victim", assessment)
        .await;
    let hers = created(&r);
    // the same child, in another incident, displayed harmful behaviour towards a cousin
    let later = json!({"summary": "a later referral", "victim_details": "the cousin's details"});
    let r = sw
        .deposit_as(&child, "referral", "harmful_behaviour", later)
        .await;
    let other = created(&r);
    let purposes = ["criminal_investigation", "safeguarding"];
    sw.consent(&child, "parent", &purposes, &["police"]).await;
    let officer = server.person("police", "dc.ahmed", Role::PoliceOfficer);

    // aged 8, her own record still goes to the police for the investigation of another
    let theirs = ["summary", "victim_details"];
    let r = sw
        .disclose(&to_police(&[&hers], "criminal_investigation", "consent"))
        .await;
    let disclosure = permitted(&r, "full", &theirs, &[], &[]);
    let packet = server.open(&officer, &disclosure).await;
    assert_eq!(packet["sections"]["victim_details"], "her own account");
    // her behaviour record is not investigated at all
    let both = [hers.as_str(), other.as_str()];
    refused(
        &sw.disclose(&to_police(&both, "criminal_investigation", "consent"))
            .await,
        &["below_age_of_criminal_responsibility"],
    );

    // for safeguarding both go: her details from her record, never the cousin's from the other
    let r = sw
        .disclose(&to_police(&both, "safeguarding", "consent"))
        .await;
    let disclosure = permitted(&r, "partial", &theirs, &["victim_details"], &[]);
    let packet = server.open(&officer, &disclosure).await;
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
    let tm = server.person("csc", "tm.osei", Role::TeamManager);
    let child = tm.register(13, None).await;
    let conference = json!({"summary": "plan agreed at conference"});
    let r = tm
        .deposit_as(
            &child,
            "child_protection_plan",
            "harmful_behaviour",
            conference,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["chair"], "tm.osei", "{}", r.text());
    let plan = created(&r);
    let mut emergency = to_police(&[&plan], "safeguarding", "significant_harm");
    emergency["justification"] = json!(EMERGENCY);
    refused(
        &tm.disclose(&emergency).await,
        &["chair_permission_required"],
    );
    let police = json!({"recipient_agency": "police"});
    let r = tm
        .post(&format!("/v1/records/{plan}/chair-permissions"), &police)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = tm.disclose(&emergency).await;
    permitted(&r, "full", &["summary"], &[], &["ig_review"]);
    // a kind without a chair still has none
    let referral = tm
        .deposit(&child, "referral", json!({"summary": "s"}))
        .await;
    let r = tm
        .post(
            &format!("/v1/records/{referral}/chair-permissions"),
            &police,
        )
        .await;
    problem(&r, 409, "no_chair");
    server.stop().await;
}
