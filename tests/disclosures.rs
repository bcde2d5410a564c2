//! One end-to-end flow per rule family, over real mTLS against a real database: the decision
//! body of every permit and deny, and on permits the packet as the recipient decrypts it.

mod common;

use broker::vocab::Role;
use common::flows::*;
use common::{Child, TestServer, World};
use serde_json::{Value, json};

const PLAN: &str = "risk_management_plan";

/// The sections of the risk plan most flows disclose.
fn plan_sections() -> Value {
    json!({
        "summary": "plan summary",
        "risk_management": {"supervision": "at break and lunch"},
        "allegation_details": "what was alleged",
        "police_intelligence": "what the police know",
    })
}

/// A Hillside pupil aged 10 with a social worker's risk plan of [`plan_sections`] and a parent's
/// consent to share it with schools for safeguarding.
async fn hillside_pupil_with_a_plan() -> World {
    World::with_plan(plan_sections()).await
}

/// What the limited summary to a DSL releases and withholds of [`plan_sections`].
const SUMMARY: [&str; 2] = ["summary", "risk_management"];
const NOT_FOR_SCHOOLS: [&str; 2] = ["allegation_details", "police_intelligence"];

#[tokio::test]
async fn a_dsl_receives_the_limited_summary_in_a_packet_naming_every_field() {
    let w = hillside_pupil_with_a_plan().await;
    let r = w.disclose(&w.to_dsl()).await;
    let disclosure = permitted(&r, "limited_summary", &SUMMARY, &NOT_FOR_SCHOOLS, &[]);
    assert_eq!(
        r.json()["audit_seq"].as_i64(),
        Some(head_seq(&w.server).await),
        "the decision is the latest audit entry"
    );

    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    let packet = w.server.open(&dsl, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "plan summary", "risk_management": {"supervision": "at break and lunch"}})
    );
    assert_eq!(packet["disclosure_id"], disclosure.as_str());
    assert_eq!(packet["record_id"], w.record.as_str());
    assert_eq!(packet["subject_id"], w.child.as_str());
    assert_eq!(packet["record_kind"], PLAN);
    assert_eq!(packet["from_agency"], "csc");
    assert_eq!(packet["to_agency"], "school-hillside");
    assert_eq!(packet["to_role"], "dsl");
    assert_eq!(packet["purpose"], "safeguarding");
    assert_eq!(packet["basis"], "consent");
    assert_eq!(packet["view"], "limited_summary");
    assert_eq!(names(&packet["sections_withheld"]), set(&NOT_FOR_SCHOOLS));
    let issued: chrono::DateTime<chrono::Utc> = packet["issued_at"]
        .as_str()
        .expect("issued_at is a timestamp")
        .parse()
        .expect("issued_at is RFC 3339");
    let age = chrono::Utc::now() - issued;
    assert!(
        age >= chrono::Duration::zero() && age < chrono::Duration::minutes(5),
        "issued just now, not {issued}"
    );
    w.stop().await;
}

/// The plan to Hillside's teacher t.smith, who must be designated first.
fn to_teacher(w: &World) -> Value {
    let mut body = w.ask("school-hillside/school_staff", "safeguarding", "consent");
    body["recipient_sub"] = json!("t.smith");
    body
}

#[tokio::test]
async fn an_undesignated_teacher_is_refused_until_the_head_teacher_designates_them() {
    let w = hillside_pupil_with_a_plan().await;
    refused(
        &w.disclose(&to_teacher(&w)).await,
        &["recipient_role_not_permitted"],
    );

    let head = w
        .server
        .person("school-hillside", "head.patel", Role::HeadTeacher);
    let why = "supervises the child at lunch";
    created(&head.designate(&w.child, "t.smith", why).await);

    let r = w.disclose(&to_teacher(&w)).await;
    let withheld = ["summary", "allegation_details", "police_intelligence"];
    let disclosure = permitted(&r, "risk_management", &["risk_management"], &withheld, &[]);

    let smith = w
        .server
        .person("school-hillside", "t.smith", Role::SchoolStaff);
    let packet = w.server.open(&smith, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"risk_management": {"supervision": "at break and lunch"}})
    );
    assert_eq!(packet["view"], "risk_management");
    assert_eq!(packet["to_role"], "school_staff");
    assert_eq!(smith.inbox().await, vec![disclosure.clone()]);

    let jones = w
        .server
        .person("school-hillside", "t.jones", Role::SchoolStaff);
    problem(
        &jones.get(&format!("/v1/inbox/{disclosure}")).await,
        404,
        "not_found",
    );
    assert!(
        jones.inbox().await.is_empty(),
        "another teacher's inbox does not list t.smith's packet"
    );
    w.stop().await;
}

#[tokio::test]
async fn a_head_teacher_of_another_school_cannot_designate_staff_for_a_child() {
    let w = hillside_pupil_with_a_plan().await;
    let head = w
        .server
        .person("school-riverside", "head.okoro", Role::HeadTeacher);
    let before = count(&w.server, "staff_designations").await;
    let r = head.designate(&w.child, "t.smith", "wants to know").await;
    problem(&r, 403, "not_childs_school");
    assert_eq!(count(&w.server, "staff_designations").await, before);

    // And Hillside's own teacher t.smith is still not designated.
    refused(
        &w.disclose(&to_teacher(&w)).await,
        &["recipient_role_not_permitted"],
    );
    w.stop().await;
}

#[tokio::test]
async fn the_safeguarding_governor_is_notified_without_any_content() {
    let w = hillside_pupil_with_a_plan().await;
    let to_governor = w.ask(
        "school-hillside/safeguarding_governor",
        "safeguarding",
        "consent",
    );
    let all = [SUMMARY, NOT_FOR_SCHOOLS].concat();
    let disclosure = permitted(
        &w.disclose(&to_governor).await,
        "notification",
        &[],
        &all,
        &[],
    );
    let governor = w
        .server
        .person("school-hillside", "gov.barnes", Role::SafeguardingGovernor);
    let packet = w.server.open(&governor, &disclosure).await;
    assert_eq!(packet["sections"], json!({}));
    assert_eq!(packet["view"], "notification");
    assert_eq!(packet["subject_id"], w.child.as_str());
    assert_eq!(packet["record_kind"], PLAN);
    assert_eq!(packet["from_agency"], "csc");
    w.stop().await;
}

#[tokio::test]
async fn a_parent_consents_for_a_fourteen_year_old_until_the_child_is_assessed_gillick_competent() {
    let sections = json!({"summary": "s", "assessment_findings": "f", "allegation_details": "a"});
    let c = Child::with_record(14, None, "initial_assessment", sections).await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    c.parent_consents(&["health_care"], &["health"]).await;
    let to_health = c.ask("health/health_practitioner", "health_care", "consent");
    let released = ["summary", "assessment_findings"];
    let r = sw.disclose(&to_health).await;
    permitted(&r, "partial", &released, &["allegation_details"], &[]);

    let gillick = json!({"assessment": "gillick", "outcome": true, "assessed_on": today()});
    created(
        &sw.post(&format!("/v1/subjects/{child}/competence"), &gillick)
            .await,
    );
    refused(&sw.disclose(&to_health).await, &["consent_wrong_giver"]);

    sw.consent(child, "child", &["health_care"], &["health"])
        .await;
    let r = sw.disclose(&to_health).await;
    let disclosure = permitted(&r, "partial", &released, &["allegation_details"], &[]);
    let nurse = server.person("health", "nurse.ali", Role::HealthPractitioner);
    let packet = server.open(&nurse, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "assessment_findings": "f"})
    );
    c.stop().await;
}

/// A child of nine with a social worker's referral and a parent's consent to early help for
/// assessment: the child, the consent, and the referral's disclosure to an early-help social
/// worker.
async fn consented_referral() -> (Child, String, Value) {
    let c = Child::with_record(9, None, "referral", json!({"summary": "s"})).await;
    let cid = c.parent_consents(&["assessment"], &["early_help"]).await;
    let body = c.ask("early-help/social_worker", "assessment", "consent");
    (c, cid, body)
}

/// The social worker withdraws the child's consent `cid`: the answer (200).
async fn withdrawn(sw: &common::Person, child: &str, cid: &str) -> broker::client::Response {
    let r = sw
        .post(
            &format!("/v1/subjects/{child}/consents/{cid}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

#[tokio::test]
async fn a_withdrawn_consent_stops_the_next_disclosure_and_cannot_be_withdrawn_twice() {
    let (c, cid, to_early_help) = consented_referral().await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    let r = sw.disclose(&to_early_help).await;
    permitted(&r, "full", &["summary"], &[], &[]);

    let withdraw = format!("/v1/subjects/{child}/consents/{cid}/withdraw");
    let r = sw.post(&withdraw, &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["withdrawn_at"].is_string(), "{}", r.text());

    refused(&sw.disclose(&to_early_help).await, &["consent_not_current"]);
    let seq = head_seq(server).await;
    problem(
        &sw.post(&withdraw, &json!({})).await,
        409,
        "already_withdrawn",
    );
    assert_eq!(
        head_seq(server).await,
        seq,
        "a refused withdrawal changes nothing"
    );
    c.stop().await;
}

#[tokio::test]
async fn a_social_worker_overrides_consent_for_significant_harm_only_with_a_written_justification()
{
    let sections = json!({"summary": "s", "allegation_details": "a", "health_clinical": "h"});
    let c = Child::with_record(12, None, "referral", sections).await;
    let (server, sw) = (&c.server, &c.sw);
    let mut to_police = c.ask("police/police_officer", "s47_enquiry", "significant_harm");

    to_police["justification"] = json!("too short");
    refused(&sw.disclose(&to_police).await, &["justification_required"]);

    to_police["justification"] = json!("bruising seen today and the child says it happens at home");
    let r = sw.disclose(&to_police).await;
    let released = ["summary", "allegation_details"];
    let disclosure = permitted(
        &r,
        "partial",
        &released,
        &["health_clinical"],
        &["ig_review"],
    );
    let officer = server.person("police", "pc.hughes", Role::PoliceOfficer);
    let packet = server.open(&officer, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "allegation_details": "a"})
    );
    assert_eq!(packet["basis"], "significant_harm");
    c.stop().await;
}

#[tokio::test]
async fn a_child_under_mappa_is_shared_only_within_a_forum_decision_and_its_sections() {
    let sections = json!({"summary": "s", "risk_management": "r", "allegation_details": "a",
                          "police_intelligence": "p", "family_background": "f"});
    let c = Child::with_record(15, None, PLAN, sections).await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    c.parent_consents(&["risk_management"], &["probation"])
        .await;
    let coordinator = server.person("mappa", "coord.lee", Role::MappaCoordinator);
    let status = json!({"active": true, "category": 1, "level": 2});
    let r = coordinator
        .put(&format!("/v1/subjects/{child}/mappa"), &status)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let to_probation = |basis| c.ask("probation/probation_officer", "risk_management", basis);
    refused(
        &sw.disclose(&to_probation("consent")).await,
        &["mappa_forum_decides"],
    );

    let chair = server.person("mappa", "chair.khan", Role::MappaChair);
    let expires = chrono::Utc::now() + chrono::Duration::days(31);
    let decision = json!({"subject_id": child, "recipient_agency": "probation",
                          "purposes": ["risk_management"], "sections": ["summary", "risk_management"],
                          "decided_on": today(), "expires_at": expires});
    let decision = created(&chair.post("/v1/mappa/decisions", &decision).await);

    let mut by_forum = to_probation("mappa_decision");
    by_forum["mappa_decision_id"] = json!(decision);
    let withheld = [
        "allegation_details",
        "police_intelligence",
        "family_background",
    ];
    let r = sw.disclose(&by_forum).await;
    let disclosure = permitted(
        &r,
        "partial",
        &["summary", "risk_management"],
        &withheld,
        &[],
    );
    let officer = server.person("probation", "po.grant", Role::ProbationOfficer);
    let packet = server.open(&officer, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "risk_management": "r"})
    );
    assert_eq!(packet["basis"], "mappa_decision");

    // The decision covers risk management only, not another purpose.
    by_forum["purpose"] = json!("safeguarding");
    refused(
        &sw.disclose(&by_forum).await,
        &["mappa_decision_not_applicable"],
    );
    c.stop().await;
}

#[tokio::test]
async fn strategy_meeting_minutes_need_their_chairs_permission_for_each_recipient_agency() {
    let server = TestServer::start().await;
    let chair = server.person("csc", "tm.osei", Role::TeamManager);
    let child = chair.register(13, None).await;
    let minutes = json!({"subject_id": child, "kind": "strategy_meeting_minutes", "subject_role": "victim",
                         "sections": {"summary": "s", "allegation_details": "a"}});
    let r = chair.post("/v1/records", &minutes).await;
    let minutes = created(&r);
    assert_eq!(r.json()["chair"], "tm.osei", "the depositor is the chair");
    let kinds = ["police", "youth_offending"];
    chair
        .consent(&child, "parent", &["strategy_meeting"], &kinds)
        .await;
    let to = |recipient| ask(&[&minutes], recipient, "strategy_meeting", "consent");
    let to_police = to("police/police_officer");
    let needs = ["chair_permission_required"];
    refused(&chair.disclose(&to_police).await, &needs);

    let other = server.person("csc", "tm.byrne", Role::TeamManager);
    let permission = format!("/v1/records/{minutes}/chair-permissions");
    let police = json!({"recipient_agency": "police"});
    problem(&other.post(&permission, &police).await, 403, "not_chair");
    refused(&chair.disclose(&to_police).await, &needs);

    let r = chair.post(&permission, &police).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = chair.disclose(&to_police).await;
    permitted(&r, "full", &["summary", "allegation_details"], &[], &[]);

    // The permission names police, not every agency.
    refused(&chair.disclose(&to("yos/yos_worker")).await, &needs);
    server.stop().await;
}

#[tokio::test]
async fn a_child_under_ten_cannot_be_disclosed_for_criminal_investigation_but_can_for_safeguarding()
{
    let sections = json!({"summary": "s", "allegation_details": "a"});
    let c = Child::with_record(8, None, "referral", sections).await;
    let purposes = ["criminal_investigation", "safeguarding"];
    c.parent_consents(&purposes, &["police"]).await;
    let sw = &c.sw;
    let to_police = |purpose| c.ask("police/police_officer", purpose, "consent");
    refused(
        &sw.disclose(&to_police("criminal_investigation")).await,
        &["below_age_of_criminal_responsibility"],
    );
    let r = sw.disclose(&to_police("safeguarding")).await;
    permitted(&r, "full", &["summary", "allegation_details"], &[], &[]);
    c.stop().await;
}

#[tokio::test]
async fn every_other_rule_refuses_with_its_own_reason_code() {
    let w = hillside_pupil_with_a_plan().await;
    let (server, plan) = (&w.server, w.record.as_str());
    let sw = w.social_worker();
    sw.consent(&w.child, "parent", &["safeguarding"], &["police"])
        .await;
    let sibling = sw.register(7, Some("school-hillside")).await;
    let summary = || json!({"summary": "s"});
    let siblings_referral = sw.deposit(&sibling, "referral", summary()).await;
    let clinical = json!({"health_clinical": "h"});
    let clinical = sw.deposit(&w.child, "referral", clinical).await;
    let chair = server.person("mappa", "chair.khan", Role::MappaChair);
    let mappas_referral = chair.deposit(&w.child, "referral", summary()).await;
    let teacher = server.person("school-hillside", "t.smith", Role::SchoolStaff);
    let teachers_referral = teacher.deposit(&w.child, "referral", summary()).await;

    let to_dsl = w.to_dsl();
    let justification = "reasonable cause to believe the child is at risk";
    let police = "police/police_officer";
    let by_mappa = ask(&[plan], police, "safeguarding", "mappa_decision");
    let bundle = json!({"record_ids": [plan, siblings_referral]});
    let riverside = json!({"recipient_agency": "school-riverside"});
    let health_care = json!({"purpose": "health_care", "basis": "significant_harm",
                             "justification": justification});
    let prevention = json!({"basis": "crime_prevention", "justification": justification});
    let to_health = ask(
        &[plan],
        "health/health_practitioner",
        "safeguarding",
        "consent",
    );
    let legal = ask(&[plan], police, "safeguarding", "legal_obligation");
    let nothing = ask(&[&clinical], police, "safeguarding", "consent");
    let harm = ask(
        &[&mappas_referral],
        police,
        "safeguarding",
        "significant_harm",
    );
    let overridden = with(harm, json!({"justification": justification}));
    let teachers = ask(&[&teachers_referral], police, "safeguarding", "consent");
    let cases = [
        (
            &sw,
            ask(&[plan], "police/dsl", "safeguarding", "consent"),
            "recipient_role_not_permitted",
        ),
        (&sw, by_mappa, "mappa_decision_not_applicable"),
        (&sw, with(to_dsl.clone(), bundle), "bundling_subjects"),
        (&sw, with(to_dsl.clone(), riverside), "not_pupil_of_school"),
        (
            &sw,
            with(to_dsl.clone(), health_care),
            "purpose_not_permitted",
        ),
        (
            &sw,
            with(to_dsl.clone(), prevention),
            "basis_not_permitted_for_recipient",
        ),
        (&sw, to_health, "consent_not_found"),
        (&sw, legal, "legal_reference_required"),
        (&sw, nothing, "nothing_to_share"),
        (&chair, overridden, "override_not_permitted_for_role"),
        (&teacher, teachers, "requester_role_not_permitted"),
    ];
    // the MAPPA chair's and the teacher's referrals reached children's social care by duty
    // (PROCESS.md P2): those are the only packets before the refusals
    let delivered = count(server, "packets").await;
    assert_eq!(delivered, 2, "the two concerns delivered");
    for (who, body, code) in cases {
        let r = who.disclose(&body).await;
        assert_eq!(r.status, 403, "{code}: {}", r.text());
        refused(&r, &[code]);
    }
    assert_eq!(
        count(server, "packets").await,
        delivered,
        "no refusal made a packet"
    );
    w.stop().await;
}

#[tokio::test]
async fn a_legal_obligation_citing_its_reference_is_permitted_and_goes_to_ig_review() {
    let w = hillside_pupil_with_a_plan().await;
    let mut to_police = w.ask("police/police_officer", "court", "legal_obligation");
    to_police["legal_reference"] = json!("Family Court order FD26P00123");
    let all = [SUMMARY, NOT_FOR_SCHOOLS].concat();
    let r = w.disclose(&to_police).await;
    let disclosure = permitted(&r, "full", &all, &[], &["ig_review"]);
    let officer = w.server.person("police", "pc.hughes", Role::PoliceOfficer);
    let packet = w.server.open(&officer, &disclosure).await;
    assert_eq!(packet["sections"], plan_sections());
    assert_eq!(packet["basis"], "legal_obligation");
    assert_eq!(packet["view"], "full");
    w.stop().await;
}

/// Disclosures read their facts outside the write queue (group commit) and commit only if the
/// child's facts have not changed since. Racing a consent withdrawal, every consent-based
/// permit must sit before the withdrawal in the audit chain and every refusal after it, with
/// exactly one packet per permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disclosure_racing_a_withdrawal_is_decided_on_the_facts_at_its_place_in_the_chain() {
    let (c, cid, body) = consented_referral().await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, token, body) = (server.client("csc"), sw.token.clone(), body.clone());
        let answered = answered.clone();
        workers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for _ in 0..12 {
                let r = disclose(&client, &token, &body).await;
                answers.push((r.status.as_u16(), r.json()));
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            answers
        }));
    }
    // withdraw while the disclosures are in full flow
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 48 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let r = withdrawn(sw, child, &cid).await;
    let withdrawn_at_seq = r.json()["audit_seq"].as_i64().expect("an audit_seq");
    let (mut permits, mut refusals) = (0, 0);
    for worker in workers {
        for (status, body) in worker.await.expect("a worker") {
            let seq = body["audit_seq"].as_i64().expect("an audit_seq");
            match status {
                201 => {
                    permits += 1;
                    assert!(
                        seq < withdrawn_at_seq,
                        "permit at {seq} after the withdrawal at {withdrawn_at_seq}"
                    );
                }
                403 => {
                    refusals += 1;
                    assert_eq!(codes(&body), set(&["consent_not_current"]), "{body}");
                    assert!(
                        seq > withdrawn_at_seq,
                        "refusal at {seq} before the withdrawal at {withdrawn_at_seq}"
                    );
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
    }
    assert!(
        permits > 0 && refusals > 0,
        "the withdrawal landed mid-run: {permits} permits, {refusals} refusals"
    );
    let packets: i64 = broker::with_db!(&server.state.db, pool => {
        sqlx::query("SELECT COUNT(*) AS n FROM packets WHERE subject_id = $1")
            .bind(child)
            .fetch_one(pool)
            .await
            .and_then(|r| sqlx::Row::try_get(&r, "n"))
            .expect("counting packets")
    });
    assert_eq!(
        packets, permits,
        "one packet per permit, none from a decision made again"
    );
    let verified = broker::audit::verify(&server.state.db)
        .await
        .expect("verifying");
    assert!(verified.ok, "{verified:?}");
    c.stop().await;
}

/// The race above made deterministic: a disclosure whose instant was taken before a consent was
/// withdrawn, and whose facts were read after the withdrawal was acknowledged, is decided on
/// the withdrawal. (Decided "as of" its earlier instant, the consent was still in force then,
/// the facts had not moved since the read, and the packet was sent after the withdrawal.)
#[tokio::test]
async fn a_decision_asked_before_a_withdrawal_and_read_after_it_is_decided_on_the_withdrawal() {
    let (c, cid, _) = consented_referral().await;
    let (server, sw, child) = (&c.server, &c.sw, &c.child);
    let asked_at = broker::db::now();
    let r = withdrawn(sw, child, &cid).await;
    let withdrawn_at = broker::db::parse_ts(r.json()["withdrawn_at"].as_str().expect("an instant"))
        .expect("an RFC 3339 instant");
    assert!(
        asked_at < withdrawn_at,
        "asked at {asked_at}, withdrawn at {withdrawn_at}"
    );
    let ask = broker::store::facts::Ask {
        at: asked_at,
        subject: None,
        record_ids: vec![c.record.parse().expect("a record id")],
        requester: serde_json::from_value(json!({"agency": "csc",
            "agency_kind": "children_social_care", "sub": "sw.amara",
            "roles": ["social_worker"]}))
        .expect("a requester"),
        recipient: serde_json::from_value(json!({"agency": "early-help",
            "agency_kind": "early_help", "role": "social_worker"}))
        .expect("a recipient"),
        request: serde_json::from_value(json!({"purpose": "assessment", "basis": "consent"}))
            .expect("a request"),
    };
    let loaded = broker::store::facts::load((&server.state.db).into(), &server.state.policy(), ask)
        .await
        .expect("loading the facts");
    assert!(
        loaded.facts.at >= withdrawn_at,
        "decided at {} on facts read after the withdrawal at {withdrawn_at}",
        loaded.facts.at
    );
    let decision = broker::decision::decide(&server.state.policy(), &loaded.facts);
    let codes: Vec<&str> = decision.reasons.iter().map(|r| r.code.as_str()).collect();
    assert!(
        !decision.permitted(),
        "permitted on a withdrawn consent: {codes:?}"
    );
    assert_eq!(codes, ["consent_not_current"]);
    c.stop().await;
}

#[tokio::test]
async fn the_packet_the_inbox_and_the_owners_view_name_the_child() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let born = born_years_ago(10);
    let r = csc
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born, "school_agency": "school-hillside",
                    "display_name": "Sam Rivers"}),
        )
        .await
        .expect("registering a child");
    let child = created(&r);
    let record = deposit(&csc, &sw, &child, PLAN, plan_sections()).await;
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    let r = disclose(
        &csc,
        &sw,
        &request(
            &record,
            "school-hillside",
            Some("dsl"),
            "safeguarding",
            "consent",
        ),
    )
    .await;
    let disclosure = permitted(&r, "limited_summary", &SUMMARY, &NOT_FOR_SCHOOLS, &[]);
    let whom = json!({"display_name": "Sam Rivers", "date_of_birth": born});

    // the packet names the child, so its recipient knows whom it is about
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let packet = open_packet(&server, "school-hillside", &dsl, &disclosure).await;
    assert_eq!(packet["child"], whom, "{packet}");

    // the inbox names the child of each packet
    let inbox = server
        .client("school-hillside")
        .get("/v1/inbox", &dsl)
        .await
        .expect("the inbox")
        .json();
    let item = inbox
        .as_array()
        .and_then(|a| a.iter().find(|i| i["disclosure_id"] == disclosure.as_str()))
        .unwrap_or_else(|| panic!("the packet in {inbox}"));
    assert_eq!(item["child"], whom, "{item}");

    // the owner reads what its record is and whom it is about, sections by name only
    let owned = csc
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .expect("the record's disclosures")
        .json();
    assert_eq!(owned["child"], whom, "{owned}");
    assert_eq!(owned["kind"], PLAN, "{owned}");
    assert_eq!(owned["subject_id"], child.as_str(), "{owned}");
    assert_eq!(
        names(&owned["sections"]),
        names(&json!([
            "summary",
            "risk_management",
            "allegation_details",
            "police_intelligence"
        ])),
        "{owned}"
    );
    assert!(
        !owned.to_string().contains("plan summary"),
        "no content in the owner's view: {owned}"
    );
    assert_eq!(owned["chair"], Value::Null, "a plan has no chair: {owned}");
    server.stop().await;
}

#[tokio::test]
async fn camhs_receives_the_allegation_details_to_assess_the_behaviour_but_not_to_safeguard() {
    let sections = json!({"summary": "s", "allegation_details": "what he did at the park",
                          "police_intelligence": "p"});
    let c = Child::with_record(14, None, "referral", sections).await;
    let (server, sw) = (&c.server, &c.sw);
    let justification = json!("assessment and treatment of his harmful sexual behaviour");
    let to_camhs = |purpose| {
        let mut body = c.ask("camhs/camhs_clinician", purpose, "significant_harm");
        body["justification"] = justification.clone();
        body
    };

    let r = sw.disclose(&to_camhs("assessment")).await;
    let released = ["summary", "allegation_details"];
    let withheld = ["police_intelligence"];
    let disclosure = permitted(&r, "partial", &released, &withheld, &["ig_review"]);
    let clinician = server.person("camhs", "dr.okafor", Role::CamhsClinician);
    let packet = server.open(&clinician, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "allegation_details": "what he did at the park"})
    );
    assert_eq!(packet["purpose"], "assessment");

    let r = sw.disclose(&to_camhs("safeguarding")).await;
    let withheld = ["allegation_details", "police_intelligence"];
    let disclosure = permitted(&r, "partial", &["summary"], &withheld, &["ig_review"]);
    let packet = server.open(&clinician, &disclosure).await;
    assert_eq!(packet["sections"], json!({"summary": "s"}));
    c.stop().await;
}
