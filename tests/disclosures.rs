//! One end-to-end flow per rule family, over real mTLS against a real database: the decision
//! body of every permit and deny, and on permits the packet as the recipient decrypts it.

mod common;

use broker::vocab::Role;
use common::TestServer;
use common::flows::*;
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

/// A Hillside pupil aged 10 with a social worker's risk plan and a parent's consent to share it
/// with schools for safeguarding. Returns (child, record).
async fn hillside_pupil_with_a_plan(server: &TestServer) -> (String, String) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(10), Some("school-hillside")).await;
    let record = deposit(&csc, &sw, &child, PLAN, plan_sections()).await;
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    (child, record)
}

#[tokio::test]
async fn a_dsl_receives_the_limited_summary_in_a_packet_naming_every_field() {
    let server = TestServer::start().await;
    let (child, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);

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
    let disclosure = permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details", "police_intelligence"],
        &[],
    );
    assert_eq!(
        r.json()["audit_seq"].as_i64(),
        Some(head_seq(&server).await),
        "the decision is the latest audit entry"
    );

    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let packet = open_packet(&server, "school-hillside", &dsl, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "plan summary", "risk_management": {"supervision": "at break and lunch"}})
    );
    assert_eq!(packet["disclosure_id"], disclosure.as_str());
    assert_eq!(packet["record_id"], record.as_str());
    assert_eq!(packet["subject_id"], child.as_str());
    assert_eq!(packet["record_kind"], PLAN);
    assert_eq!(packet["from_agency"], "csc");
    assert_eq!(packet["to_agency"], "school-hillside");
    assert_eq!(packet["to_role"], "dsl");
    assert_eq!(packet["purpose"], "safeguarding");
    assert_eq!(packet["basis"], "consent");
    assert_eq!(packet["view"], "limited_summary");
    assert_eq!(
        names(&packet["sections_withheld"]),
        set(&["allegation_details", "police_intelligence"])
    );
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
    server.stop().await;
}

#[tokio::test]
async fn an_undesignated_teacher_is_refused_until_the_head_teacher_designates_them() {
    let server = TestServer::start().await;
    let (child, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut to_teacher = request(
        &record,
        "school-hillside",
        Some("school_staff"),
        "safeguarding",
        "consent",
    );
    to_teacher["recipient_sub"] = json!("t.smith");

    refused(
        &disclose(&csc, &sw, &to_teacher).await,
        &["recipient_role_not_permitted"],
    );

    let school = server.client("school-hillside");
    let head = server.token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    let r = school
        .post(
            &format!("/v1/subjects/{child}/staff-designations"),
            &head,
            &json!({"staff_sub": "t.smith", "reason": "supervises the child at lunch"}),
        )
        .await
        .unwrap();
    created(&r);

    let r = disclose(&csc, &sw, &to_teacher).await;
    let disclosure = permitted(
        &r,
        "risk_management",
        &["risk_management"],
        &["summary", "allegation_details", "police_intelligence"],
        &[],
    );

    let smith = server.token("school-hillside", "t.smith", &[Role::SchoolStaff]);
    let packet = open_packet(&server, "school-hillside", &smith, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"risk_management": {"supervision": "at break and lunch"}})
    );
    assert_eq!(packet["view"], "risk_management");
    assert_eq!(packet["to_role"], "school_staff");
    assert_eq!(inbox(&school, &smith).await, vec![disclosure.clone()]);

    let jones = server.token("school-hillside", "t.jones", &[Role::SchoolStaff]);
    problem(
        &school
            .get(&format!("/v1/inbox/{disclosure}"), &jones)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    assert!(
        inbox(&school, &jones).await.is_empty(),
        "another teacher's inbox does not list t.smith's packet"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_head_teacher_of_another_school_cannot_designate_staff_for_a_child() {
    let server = TestServer::start().await;
    let (child, record) = hillside_pupil_with_a_plan(&server).await;
    let riverside = server.client("school-riverside");
    let head = server.token("school-riverside", "head.okoro", &[Role::HeadTeacher]);
    let before = count(&server, "staff_designations").await;
    let r = riverside
        .post(
            &format!("/v1/subjects/{child}/staff-designations"),
            &head,
            &json!({"staff_sub": "t.smith", "reason": "wants to know"}),
        )
        .await
        .unwrap();
    problem(&r, 403, "not_childs_school");
    assert_eq!(count(&server, "staff_designations").await, before);

    // And Hillside's own teacher t.smith is still not designated.
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut to_teacher = request(
        &record,
        "school-hillside",
        Some("school_staff"),
        "safeguarding",
        "consent",
    );
    to_teacher["recipient_sub"] = json!("t.smith");
    refused(
        &disclose(&csc, &sw, &to_teacher).await,
        &["recipient_role_not_permitted"],
    );
    server.stop().await;
}

#[tokio::test]
async fn the_safeguarding_governor_is_notified_without_any_content() {
    let server = TestServer::start().await;
    let (child, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = disclose(
        &csc,
        &sw,
        &request(
            &record,
            "school-hillside",
            Some("safeguarding_governor"),
            "safeguarding",
            "consent",
        ),
    )
    .await;
    let disclosure = permitted(
        &r,
        "notification",
        &[],
        &[
            "summary",
            "risk_management",
            "allegation_details",
            "police_intelligence",
        ],
        &[],
    );
    let governor = server.token(
        "school-hillside",
        "gov.barnes",
        &[Role::SafeguardingGovernor],
    );
    let packet = open_packet(&server, "school-hillside", &governor, &disclosure).await;
    assert_eq!(packet["sections"], json!({}));
    assert_eq!(packet["view"], "notification");
    assert_eq!(packet["subject_id"], child.as_str());
    assert_eq!(packet["record_kind"], PLAN);
    assert_eq!(packet["from_agency"], "csc");
    server.stop().await;
}

#[tokio::test]
async fn a_parent_consents_for_a_fourteen_year_old_until_the_child_is_assessed_gillick_competent() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(14), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        "initial_assessment",
        json!({"summary": "s", "assessment_findings": "f", "allegation_details": "a"}),
    )
    .await;
    consent(&csc, &sw, &child, "parent", &["health_care"], &["health"]).await;
    let to_health = request(
        &record,
        "health",
        Some("health_practitioner"),
        "health_care",
        "consent",
    );

    permitted(
        &disclose(&csc, &sw, &to_health).await,
        "partial",
        &["summary", "assessment_findings"],
        &["allegation_details"],
        &[],
    );

    let r = csc
        .post(
            &format!("/v1/subjects/{child}/competence"),
            &sw,
            &json!({"assessment": "gillick", "outcome": true, "assessed_on": today()}),
        )
        .await
        .unwrap();
    created(&r);
    refused(
        &disclose(&csc, &sw, &to_health).await,
        &["consent_wrong_giver"],
    );

    consent(&csc, &sw, &child, "child", &["health_care"], &["health"]).await;
    let disclosure = permitted(
        &disclose(&csc, &sw, &to_health).await,
        "partial",
        &["summary", "assessment_findings"],
        &["allegation_details"],
        &[],
    );
    let nurse = server.token("health", "nurse.ali", &[Role::HealthPractitioner]);
    let packet = open_packet(&server, "health", &nurse, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "assessment_findings": "f"})
    );
    server.stop().await;
}

#[tokio::test]
async fn a_withdrawn_consent_stops_the_next_disclosure_and_cannot_be_withdrawn_twice() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(9), None).await;
    let record = deposit(&csc, &sw, &child, "referral", json!({"summary": "s"})).await;
    let cid = consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["assessment"],
        &["early_help"],
    )
    .await;
    let to_early_help = request(
        &record,
        "early-help",
        Some("social_worker"),
        "assessment",
        "consent",
    );
    permitted(
        &disclose(&csc, &sw, &to_early_help).await,
        "full",
        &["summary"],
        &[],
        &[],
    );

    let withdraw = format!("/v1/subjects/{child}/consents/{cid}/withdraw");
    let r = csc.post(&withdraw, &sw, &json!({})).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()["withdrawn_at"].is_string(), "{}", r.text());

    refused(
        &disclose(&csc, &sw, &to_early_help).await,
        &["consent_not_current"],
    );
    let seq = head_seq(&server).await;
    problem(
        &csc.post(&withdraw, &sw, &json!({})).await.unwrap(),
        409,
        "already_withdrawn",
    );
    assert_eq!(
        head_seq(&server).await,
        seq,
        "a refused withdrawal changes nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_social_worker_overrides_consent_for_significant_harm_only_with_a_written_justification()
{
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(12), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        "referral",
        json!({"summary": "s", "allegation_details": "a", "health_clinical": "h"}),
    )
    .await;
    let mut to_police = request(
        &record,
        "police",
        Some("police_officer"),
        "s47_enquiry",
        "significant_harm",
    );

    to_police["justification"] = json!("too short");
    refused(
        &disclose(&csc, &sw, &to_police).await,
        &["justification_required"],
    );

    to_police["justification"] = json!("bruising seen today and the child says it happens at home");
    let disclosure = permitted(
        &disclose(&csc, &sw, &to_police).await,
        "partial",
        &["summary", "allegation_details"],
        &["health_clinical"],
        &["ig_review"],
    );
    let officer = server.token("police", "pc.hughes", &[Role::PoliceOfficer]);
    let packet = open_packet(&server, "police", &officer, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "allegation_details": "a"})
    );
    assert_eq!(packet["basis"], "significant_harm");
    server.stop().await;
}

#[tokio::test]
async fn a_child_under_mappa_is_shared_only_within_a_forum_decision_and_its_sections() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(15), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        PLAN,
        json!({"summary": "s", "risk_management": "r", "allegation_details": "a",
               "police_intelligence": "p", "family_background": "f"}),
    )
    .await;
    consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["risk_management"],
        &["probation"],
    )
    .await;
    let mappa = server.client("mappa");
    let coordinator = server.token("mappa", "coord.lee", &[Role::MappaCoordinator]);
    let r = mappa
        .put(
            &format!("/v1/subjects/{child}/mappa"),
            &coordinator,
            &json!({"active": true, "category": 1, "level": 2}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    let by_consent = request(
        &record,
        "probation",
        Some("probation_officer"),
        "risk_management",
        "consent",
    );
    refused(
        &disclose(&csc, &sw, &by_consent).await,
        &["mappa_forum_decides"],
    );

    let chair = server.token("mappa", "chair.khan", &[Role::MappaChair]);
    let expires = chrono::Utc::now() + chrono::Duration::days(31);
    let r = mappa
        .post(
            "/v1/mappa/decisions",
            &chair,
            &json!({"subject_id": child, "recipient_agency": "probation",
                    "purposes": ["risk_management"], "sections": ["summary", "risk_management"],
                    "decided_on": today(), "expires_at": expires}),
        )
        .await
        .unwrap();
    let decision = created(&r);

    let mut by_forum = request(
        &record,
        "probation",
        Some("probation_officer"),
        "risk_management",
        "mappa_decision",
    );
    by_forum["mappa_decision_id"] = json!(decision);
    let disclosure = permitted(
        &disclose(&csc, &sw, &by_forum).await,
        "partial",
        &["summary", "risk_management"],
        &[
            "allegation_details",
            "police_intelligence",
            "family_background",
        ],
        &[],
    );
    let officer = server.token("probation", "po.grant", &[Role::ProbationOfficer]);
    let packet = open_packet(&server, "probation", &officer, &disclosure).await;
    assert_eq!(
        packet["sections"],
        json!({"summary": "s", "risk_management": "r"})
    );
    assert_eq!(packet["basis"], "mappa_decision");

    // The decision covers risk management only, not another purpose.
    by_forum["purpose"] = json!("safeguarding");
    refused(
        &disclose(&csc, &sw, &by_forum).await,
        &["mappa_decision_not_applicable"],
    );
    server.stop().await;
}

#[tokio::test]
async fn strategy_meeting_minutes_need_their_chairs_permission_for_each_recipient_agency() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let chair = server.token("csc", "tm.osei", &[Role::TeamManager]);
    let child = register(&csc, &chair, &born_years_ago(13), None).await;
    let r = csc
        .post(
            "/v1/records",
            &chair,
            &json!({"subject_id": child, "kind": "strategy_meeting_minutes", "subject_role": "victim",
                    "sections": {"summary": "s", "allegation_details": "a"}}),
        )
        .await
        .unwrap();
    let minutes = created(&r);
    assert_eq!(r.json()["chair"], "tm.osei", "the depositor is the chair");
    consent(
        &csc,
        &chair,
        &child,
        "parent",
        &["strategy_meeting"],
        &["police", "youth_offending"],
    )
    .await;
    let to_police = request(
        &minutes,
        "police",
        Some("police_officer"),
        "strategy_meeting",
        "consent",
    );
    refused(
        &disclose(&csc, &chair, &to_police).await,
        &["chair_permission_required"],
    );

    let other = server.token("csc", "tm.byrne", &[Role::TeamManager]);
    let permission = format!("/v1/records/{minutes}/chair-permissions");
    problem(
        &csc.post(&permission, &other, &json!({"recipient_agency": "police"}))
            .await
            .unwrap(),
        403,
        "not_chair",
    );
    refused(
        &disclose(&csc, &chair, &to_police).await,
        &["chair_permission_required"],
    );

    let r = csc
        .post(&permission, &chair, &json!({"recipient_agency": "police"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    permitted(
        &disclose(&csc, &chair, &to_police).await,
        "full",
        &["summary", "allegation_details"],
        &[],
        &[],
    );

    // The permission names police, not every agency.
    let to_yos = request(
        &minutes,
        "yos",
        Some("yos_worker"),
        "strategy_meeting",
        "consent",
    );
    refused(
        &disclose(&csc, &chair, &to_yos).await,
        &["chair_permission_required"],
    );
    server.stop().await;
}

#[tokio::test]
async fn a_child_under_ten_cannot_be_disclosed_for_criminal_investigation_but_can_for_safeguarding()
{
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(8), None).await;
    let record = deposit(
        &csc,
        &sw,
        &child,
        "referral",
        json!({"summary": "s", "allegation_details": "a"}),
    )
    .await;
    consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["criminal_investigation", "safeguarding"],
        &["police"],
    )
    .await;
    refused(
        &disclose(
            &csc,
            &sw,
            &request(
                &record,
                "police",
                Some("police_officer"),
                "criminal_investigation",
                "consent",
            ),
        )
        .await,
        &["below_age_of_criminal_responsibility"],
    );
    permitted(
        &disclose(
            &csc,
            &sw,
            &request(
                &record,
                "police",
                Some("police_officer"),
                "safeguarding",
                "consent",
            ),
        )
        .await,
        "full",
        &["summary", "allegation_details"],
        &[],
        &[],
    );
    server.stop().await;
}

#[tokio::test]
async fn police_cannot_fetch_a_packet_addressed_to_a_school() {
    let server = TestServer::start().await;
    let (_, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let disclosure = permitted(
        &disclose(
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
        .await,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details", "police_intelligence"],
        &[],
    );
    let path = format!("/v1/inbox/{disclosure}");

    let police = server.client("police");
    let officer = server.token("police", "pc.hughes", &[Role::PoliceOfficer]);
    problem(
        &police.get(&path, &officer).await.unwrap(),
        404,
        "not_found",
    );
    assert!(inbox(&police, &officer).await.is_empty());

    let riverside = server.client("school-riverside");
    let dsl = server.token("school-riverside", "dsl.ng", &[Role::Dsl]);
    problem(&riverside.get(&path, &dsl).await.unwrap(), 404, "not_found");

    // The sender does not get its own packet back either.
    problem(&csc.get(&path, &sw).await.unwrap(), 404, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn one_agency_cannot_push_another_agencys_record() {
    let server = TestServer::start().await;
    let (_, record) = hillside_pupil_with_a_plan(&server).await;
    let police = server.client("police");
    let officer = server.token("police", "pc.hughes", &[Role::PoliceOfficer]);
    refused(
        &disclose(
            &police,
            &officer,
            &request(
                &record,
                "school-hillside",
                Some("dsl"),
                "safeguarding",
                "consent",
            ),
        )
        .await,
        &["not_record_owner"],
    );
    assert_eq!(count(&server, "packets").await, 0, "no packet was made");

    // The owner learns of the attempt.
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = csc
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["decisions"].as_array().is_some_and(|list| list
            .iter()
            .any(|d| d["actor"]["agency"] == "police" && d["decision"] == "deny")),
        "the police attempt is listed for the owner: {}",
        r.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_teacher_cannot_deposit_a_risk_management_plan() {
    let server = TestServer::start().await;
    let school = server.client("school-hillside");
    let teacher = server.token("school-hillside", "t.smith", &[Role::SchoolStaff]);
    let child = register(
        &school,
        &teacher,
        &born_years_ago(7),
        Some("school-hillside"),
    )
    .await;
    let before = count(&server, "records").await;
    let r = school
        .post(
            "/v1/records",
            &teacher,
            &json!({"subject_id": child, "kind": PLAN, "subject_role": "harmful_behaviour",
                    "sections": {"risk_management": "r"}}),
        )
        .await
        .unwrap();
    refused(&r, &["role_cannot_deposit"]);
    assert_eq!(count(&server, "records").await, before, "nothing deposited");

    // A referral is open to every role that works with children.
    let r = school
        .post(
            "/v1/records",
            &teacher,
            &json!({"subject_id": child, "kind": "referral", "subject_role": "other",
                    "sections": {"summary": "s"}}),
        )
        .await
        .unwrap();
    created(&r);
    server.stop().await;
}

#[tokio::test]
async fn a_dry_run_answers_the_decision_and_delivers_no_packet() {
    let server = TestServer::start().await;
    let (_, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);

    let r = csc
        .post(
            "/v1/decisions",
            &sw,
            &request(
                &record,
                "school-hillside",
                Some("dsl"),
                "safeguarding",
                "consent",
            ),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["decision"], "permit", "{body}");
    assert_eq!(body["view"], "limited_summary", "{body}");
    assert_eq!(
        names(&body["sections_released"]),
        set(&["summary", "risk_management"])
    );
    assert_eq!(body["disclosure_id"], Value::Null, "{body}");
    assert_eq!(body["audit_seq"].as_i64(), Some(head_seq(&server).await));

    let r = csc
        .post(
            "/v1/decisions",
            &sw,
            &request(&record, "school-hillside", Some("dsl"), "court", "consent"),
        )
        .await
        .unwrap();
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
        count(&server, "packets").await,
        0,
        "a dry run delivers nothing"
    );
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    assert!(
        inbox(&server.client("school-hillside"), &dsl)
            .await
            .is_empty()
    );
    server.stop().await;
}

#[tokio::test]
async fn the_owner_lists_every_decision_about_its_record_and_no_other_agency_can() {
    let server = TestServer::start().await;
    let (_, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let to_dsl = request(
        &record,
        "school-hillside",
        Some("dsl"),
        "safeguarding",
        "consent",
    );
    let to_head_for_court = request(
        &record,
        "school-hillside",
        Some("head_teacher"),
        "court",
        "consent",
    );

    let seq = |r: &broker::client::Response| r.json()["audit_seq"].as_i64().unwrap();
    let denied = disclose(&csc, &sw, &to_head_for_court).await;
    refused(&denied, &["purpose_not_permitted", "consent_not_found"]);
    let permit = disclose(&csc, &sw, &to_dsl).await;
    let disclosure = permitted(
        &permit,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details", "police_intelligence"],
        &[],
    );
    let dry_permit = csc.post("/v1/decisions", &sw, &to_dsl).await.unwrap();
    let dry_deny = csc
        .post("/v1/decisions", &sw, &to_head_for_court)
        .await
        .unwrap();
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    open_packet(&server, "school-hillside", &dsl, &disclosure).await;

    let r = csc
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .unwrap();
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

    let police = server.client("police");
    let officer = server.token("police", "pc.hughes", &[Role::PoliceOfficer]);
    let path = format!("/v1/records/{record}/disclosures");
    problem(
        &police.get(&path, &officer).await.unwrap(),
        404,
        "not_found",
    );
    let school = server.client("school-hillside");
    problem(&school.get(&path, &dsl).await.unwrap(), 404, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn the_inbox_lists_a_packet_for_its_addressed_role_and_not_for_another_role_of_the_agency() {
    let server = TestServer::start().await;
    let (child, record) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let disclosure = permitted(
        &disclose(
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
        .await,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details", "police_intelligence"],
        &[],
    );
    let school = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let r = school.get("/v1/inbox", &dsl).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
    let item = &items[0];
    assert_eq!(item["disclosure_id"], disclosure.as_str());
    assert_eq!(item["subject_id"], child.as_str());
    assert_eq!(item["record_ids"], json!([record]));
    assert_eq!(item["record_kind"], PLAN);
    assert_eq!(item["from_agency"], "csc");
    assert_eq!(item["to_role"], "dsl");
    assert_eq!(item["view"], "limited_summary");

    let head = server.token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    assert!(inbox(&school, &head).await.is_empty());
    problem(
        &school
            .get(&format!("/v1/inbox/{disclosure}"), &head)
            .await
            .unwrap(),
        404,
        "not_found",
    );
    let governor = server.token(
        "school-hillside",
        "gov.barnes",
        &[Role::SafeguardingGovernor],
    );
    assert!(inbox(&school, &governor).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_database_holds_no_plaintext_name_record_content_or_designation_reason() {
    const NAME: &str = "Zephyrine Quillfeather";
    const CONTENT: &str = "MARMALADE-OTTER-7731 hid in the boathouse";
    const NESTED: &str = "kestrel-lantern-5512";
    const REASON: &str = "Gooseberry-Viaduct-9046 runs the lunch club";
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = csc
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born_years_ago(11), "school_agency": "school-hillside",
                    "display_name": NAME}),
        )
        .await
        .unwrap();
    let child = created(&r);
    let record = deposit(
        &csc,
        &sw,
        &child,
        PLAN,
        json!({"summary": CONTENT, "risk_management": {"plan": NESTED}}),
    )
    .await;
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    let head = server.token("school-hillside", "head.patel", &[Role::HeadTeacher]);
    let r = server
        .client("school-hillside")
        .post(
            &format!("/v1/subjects/{child}/staff-designations"),
            &head,
            &json!({"staff_sub": "t.smith", "reason": REASON}),
        )
        .await
        .unwrap();
    created(&r);
    let disclosure = permitted(
        &disclose(
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
        .await,
        "limited_summary",
        &["summary", "risk_management"],
        &[],
        &[],
    );
    // The content does reach its recipient: the test's strings are the real ones.
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let packet = open_packet(&server, "school-hillside", &dsl, &disclosure).await;
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

#[tokio::test]
async fn every_other_rule_refuses_with_its_own_reason_code() {
    let server = TestServer::start().await;
    let (child, plan) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    consent(&csc, &sw, &child, "parent", &["safeguarding"], &["police"]).await;
    let sibling = register(&csc, &sw, &born_years_ago(7), Some("school-hillside")).await;
    let siblings_referral = deposit(&csc, &sw, &sibling, "referral", json!({"summary": "s"})).await;
    let clinical = deposit(
        &csc,
        &sw,
        &child,
        "referral",
        json!({"health_clinical": "h"}),
    )
    .await;
    let mappa = server.client("mappa");
    let chair = server.token("mappa", "chair.khan", &[Role::MappaChair]);
    let mappas_referral =
        deposit(&mappa, &chair, &child, "referral", json!({"summary": "s"})).await;
    let school = server.client("school-hillside");
    let teacher = server.token("school-hillside", "t.smith", &[Role::SchoolStaff]);
    let teachers_referral = deposit(
        &school,
        &teacher,
        &child,
        "referral",
        json!({"summary": "s"}),
    )
    .await;

    let to_dsl = request(
        &plan,
        "school-hillside",
        Some("dsl"),
        "safeguarding",
        "consent",
    );
    let with = |mut body: Value, changes: Value| {
        for (k, v) in changes.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let justification = "reasonable cause to believe the child is at risk";
    let cases = [
        (
            &csc,
            &sw,
            request(&plan, "police", Some("dsl"), "safeguarding", "consent"),
            "recipient_role_not_permitted",
        ),
        (
            &csc,
            &sw,
            request(
                &plan,
                "police",
                Some("police_officer"),
                "safeguarding",
                "mappa_decision",
            ),
            "mappa_decision_not_applicable",
        ),
        (
            &csc,
            &sw,
            with(
                to_dsl.clone(),
                json!({"record_ids": [plan, siblings_referral]}),
            ),
            "bundling_subjects",
        ),
        (
            &csc,
            &sw,
            with(
                to_dsl.clone(),
                json!({"recipient_agency": "school-riverside"}),
            ),
            "not_pupil_of_school",
        ),
        (
            &csc,
            &sw,
            with(
                to_dsl.clone(),
                json!({"purpose": "health_care", "basis": "significant_harm",
                       "justification": justification}),
            ),
            "purpose_not_permitted",
        ),
        (
            &csc,
            &sw,
            with(
                to_dsl.clone(),
                json!({"basis": "crime_prevention", "justification": justification}),
            ),
            "basis_not_permitted_for_recipient",
        ),
        (
            &csc,
            &sw,
            request(
                &plan,
                "health",
                Some("health_practitioner"),
                "safeguarding",
                "consent",
            ),
            "consent_not_found",
        ),
        (
            &csc,
            &sw,
            request(
                &plan,
                "police",
                Some("police_officer"),
                "safeguarding",
                "legal_obligation",
            ),
            "legal_reference_required",
        ),
        (
            &csc,
            &sw,
            request(
                &clinical,
                "police",
                Some("police_officer"),
                "safeguarding",
                "consent",
            ),
            "nothing_to_share",
        ),
        (
            &mappa,
            &chair,
            with(
                request(
                    &mappas_referral,
                    "police",
                    Some("police_officer"),
                    "safeguarding",
                    "significant_harm",
                ),
                json!({"justification": justification}),
            ),
            "override_not_permitted_for_role",
        ),
        (
            &school,
            &teacher,
            request(
                &teachers_referral,
                "police",
                Some("police_officer"),
                "safeguarding",
                "consent",
            ),
            "requester_role_not_permitted",
        ),
    ];
    for (client, token, body, code) in cases {
        let r = disclose(client, token, &body).await;
        assert_eq!(r.status, 403, "{code}: {}", r.text());
        refused(&r, &[code]);
    }
    assert_eq!(
        count(&server, "packets").await,
        0,
        "no refusal made a packet"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_legal_obligation_citing_its_reference_is_permitted_and_goes_to_ig_review() {
    let server = TestServer::start().await;
    let (_, plan) = hillside_pupil_with_a_plan(&server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut to_police = request(
        &plan,
        "police",
        Some("police_officer"),
        "court",
        "legal_obligation",
    );
    to_police["legal_reference"] = json!("Family Court order FD26P00123");
    let disclosure = permitted(
        &disclose(&csc, &sw, &to_police).await,
        "full",
        &[
            "summary",
            "risk_management",
            "allegation_details",
            "police_intelligence",
        ],
        &[],
        &["ig_review"],
    );
    let officer = server.token("police", "pc.hughes", &[Role::PoliceOfficer]);
    let packet = open_packet(&server, "police", &officer, &disclosure).await;
    assert_eq!(packet["sections"], plan_sections());
    assert_eq!(packet["basis"], "legal_obligation");
    assert_eq!(packet["view"], "full");
    server.stop().await;
}

/// Disclosures read their facts outside the write queue (group commit) and commit only if the
/// child's facts have not changed since. Racing a consent withdrawal, every consent-based
/// permit must sit before the withdrawal in the audit chain and every refusal after it, with
/// exactly one packet per permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disclosure_racing_a_withdrawal_is_decided_on_the_facts_at_its_place_in_the_chain() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = register(&csc, &sw, &born_years_ago(9), None).await;
    let record = deposit(&csc, &sw, &child, "referral", json!({"summary": "s"})).await;
    let cid = consent(
        &csc,
        &sw,
        &child,
        "parent",
        &["assessment"],
        &["early_help"],
    )
    .await;
    let body = request(
        &record,
        "early-help",
        Some("social_worker"),
        "assessment",
        "consent",
    );
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, token, body) = (server.client("csc"), sw.clone(), body.clone());
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
    let r = csc
        .post(
            &format!("/v1/subjects/{child}/consents/{cid}/withdraw"),
            &sw,
            &json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
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
            .bind(&child)
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
    server.stop().await;
}
