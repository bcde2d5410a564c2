//! A concern reaches someone (PROCESS.md P2; `policies/duties.csv` rows `concern_referral` and
//! `concern_incident_report`), over mTLS on the configured database: a referral or an incident
//! report deposited about a child is delivered, with its content, to the lead worker of the
//! child's open case (addressed to that person) or, with no case open, to the front door of the
//! area the child lives in; the depositor sees it delivered, then read and acknowledged; the
//! lead agency depositing tells nobody.

mod common;

use broker::vocab::Role;
use chrono::Duration;
use common::TestServer;
use common::cases::{World, ago};
use common::flows;
use common::world::Person;
use serde_json::{Value, json};

/// A concern's sections: what the depositor saw and what it fears.
fn concern() -> Value {
    json!({"summary": "Disclosed at school today: touched by an older boy at home.",
           "allegation_details": "Said it happened twice last week, after school."})
}

/// `(duty, recipient_agency, decision, listed_on)` of each duty in an answer.
fn duties(v: &Value) -> Vec<(String, String, String, String)> {
    v["duties"]
        .as_array()
        .unwrap_or_else(|| panic!("duties is a list: {v}"))
        .iter()
        .map(|d| {
            let s = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (
                s("duty"),
                s("recipient_agency"),
                s("decision"),
                s("listed_on"),
            )
        })
        .collect()
}

fn t(duty: &str, agency: &str, decision: &str, on: &str) -> (String, String, String, String) {
    (duty.into(), agency.into(), decision.into(), on.into())
}

/// Deposits `kind` about `child` as `who`: the 201 answer.
async fn deposited(who: &Person, child: &str, kind: &str) -> Value {
    let r = who
        .deposit_as(child, kind, "harmful_behaviour", concern())
        .await;
    assert_eq!(r.status, 201, "{kind} by {}: {}", who.agency, r.text());
    r.json()
}

/// The disclosure of the one duty in a deposit's answer.
fn delivered(answer: &Value) -> String {
    answer["duties"][0]["disclosure_id"]
        .as_str()
        .unwrap_or_else(|| panic!("delivered: {answer}"))
        .to_owned()
}

/// The receipt of `disclosure` as the depositor reads it (`GET /v1/records/{id}/disclosures`).
async fn receipt(depositor: &Person, record: &str, disclosure: &str) -> Value {
    let r = depositor
        .get(&format!("/v1/records/{record}/disclosures"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["action"] == "disclosure" && d["detail"]["disclosure_id"] == disclosure)
        .unwrap_or_else(|| panic!("the depositor sees its delivery: {v}"))
        .clone()
}

/// The duties of `record` as its depositor reads them (`GET /v1/records/{id}/disclosures`).
async fn listed_duties(depositor: &Person, record: &str) -> Vec<(String, String, String, String)> {
    let r = depositor
        .get(&format!("/v1/records/{record}/disclosures"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    duties(&r.json())
}

/// A child of Southshire at Riverside Academy, registered by Southshire's front door.
async fn southshire_child(server: &TestServer) -> String {
    let front = server.person("csc-south", "sw.south", Role::SocialWorker);
    let r = front
        .post(
            "/v1/subjects",
            &json!({"date_of_birth": flows::born_years_ago(11), "school_agency": "school-riverside",
                    "local_authority": "south"}),
        )
        .await;
    flows::created(&r)
}

#[tokio::test]
async fn a_referral_with_no_case_open_reaches_the_front_door_of_the_childs_area_with_its_content() {
    let server = TestServer::start().await;
    let child = southshire_child(&server).await;
    let dsl = server.person("school-riverside", "dsl.okafor", Role::Dsl);
    let answer = deposited(&dsl, &child, "referral").await;
    assert_eq!(
        duties(&answer),
        [t("concern_referral", "csc-south", "permit", "record")],
        "Southshire's front door, not Northshire's: {answer}"
    );
    let disclosure = delivered(&answer);

    // the front door's social worker finds it in the inbox, and it carries the concern itself
    let front = server.person("csc-south", "sw.patel", Role::SocialWorker);
    assert!(front.inbox().await.contains(&disclosure), "in the inbox");
    let northshire = server.person("csc", "sw.amara", Role::SocialWorker);
    assert!(!northshire.inbox().await.contains(&disclosure));
    let seen = receipt(&dsl, answer["id"].as_str().unwrap(), &disclosure).await;
    assert_eq!(
        seen["first_read_at"],
        Value::Null,
        "delivered, not read: {seen}"
    );
    assert_eq!(seen["recipient"]["agency"], "csc-south", "{seen}");
    assert_eq!(seen["recipient"]["role"], "social_worker", "{seen}");

    let packet = server.open(&front, &disclosure).await;
    assert_eq!(packet["view"], "full", "{packet}");
    assert_eq!(packet["record_kind"], "referral", "{packet}");
    assert_eq!(
        packet["sections"],
        concern(),
        "the content is delivered: {packet}"
    );
    assert_eq!(packet["to_role"], "social_worker", "{packet}");
    assert_eq!(packet["from_agency"], "school-riverside", "{packet}");
    assert_eq!(packet["notifies"]["duty"], "concern_referral", "{packet}");

    // the DSL sees it read, then acknowledged
    let record = answer["id"].as_str().unwrap();
    let read = receipt(&dsl, record, &disclosure).await;
    assert!(read["first_read_at"].is_string(), "read: {read}");
    assert_eq!(read["acknowledged_at"], Value::Null, "{read}");
    let ack = front
        .post(&format!("/v1/inbox/{disclosure}/ack"), &json!({}))
        .await;
    assert_eq!(ack.status, 200, "{}", ack.text());
    let acked = receipt(&dsl, record, &disclosure).await;
    assert!(
        acked["acknowledged_at"].is_string(),
        "acknowledged: {acked}"
    );
    assert_eq!(
        listed_duties(&dsl, record).await,
        [t("concern_referral", "csc-south", "permit", "record")]
    );
}

#[tokio::test]
async fn with_a_case_open_the_concern_reaches_the_lead_worker_by_name_and_no_one_else() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::hours(2))).await;
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    let answer = deposited(&dsl, &w.child, "incident_report").await;
    assert_eq!(
        duties(&answer),
        [t("concern_incident_report", "csc", "permit", "case")],
        "{answer}"
    );
    let disclosure = delivered(&answer);

    // addressed to the lead worker: in their inbox, not a colleague's, not the other council's
    let lead = w.social_worker();
    let colleague = w.server.person("csc", "sw.other", Role::SocialWorker);
    let south = w.server.person("csc-south", "sw.south", Role::SocialWorker);
    let inbox = lead.get("/v1/inbox").await.json();
    let item = inbox
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["disclosure_id"] == disclosure.as_str())
        .unwrap_or_else(|| panic!("in the lead worker's inbox: {inbox}"));
    assert_eq!(item["to_sub"], "sw.amara", "{item}");
    assert!(!colleague.inbox().await.contains(&disclosure));
    assert!(!south.inbox().await.contains(&disclosure));
    let r = colleague.get(&format!("/v1/inbox/{disclosure}")).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let packet = w.server.open(&lead, &disclosure).await;
    assert_eq!(packet["sections"], concern(), "{packet}");
    assert_eq!(packet["to_sub"], "sw.amara", "{packet}");
    assert_eq!(
        packet["to_role"],
        Value::Null,
        "the person, whatever their role: {packet}"
    );

    // the case lists it, and so does the record for the DSL who deposited it
    let listed_case = w.read(&case).await;
    assert!(
        listed_case["duties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["duty"] == "concern_incident_report"
                && d["disclosure_id"] == disclosure.as_str()),
        "{listed_case}"
    );
    let record = answer["id"].as_str().unwrap();
    assert_eq!(
        listed_duties(&dsl, record).await,
        [t("concern_incident_report", "csc", "permit", "case")]
    );
    let read = receipt(&dsl, record, &disclosure).await;
    assert_eq!(read["recipient"]["sub"], "sw.amara", "{read}");
    assert!(read["first_read_at"].is_string(), "{read}");
}

#[tokio::test]
async fn every_role_that_may_deposit_a_concern_has_it_delivered_and_the_lead_agency_tells_no_one() {
    let w = World::start().await;
    // a carer and school staff may not initiate a disclosure (RULES 7a), yet their concern
    // reaches the front door (duty_roles.csv)
    let depositors = [
        ("school-hillside", "dsl.jones", Role::Dsl, "referral"),
        ("school-hillside", "ta.brown", Role::SchoolStaff, "referral"),
        ("fostering", "carer.lee", Role::Carer, "incident_report"),
        ("fostering", "carer.lee", Role::Carer, "referral"),
        (
            "health",
            "hv.shah",
            Role::HealthPractitioner,
            "incident_report",
        ),
        ("police", "pc.khan", Role::PoliceOfficer, "referral"),
        ("camhs", "dr.ode", Role::CamhsClinician, "incident_report"),
    ];
    for (agency, sub, role, kind) in depositors {
        let who = w.server.person(agency, sub, role);
        let answer = deposited(&who, &w.child, kind).await;
        let duty = format!("concern_{kind}");
        assert_eq!(
            duties(&answer),
            [t(&duty, "csc", "permit", "record")],
            "{role} of {agency}: {answer}"
        );
        let packet = w.server.open(&w.social_worker(), &delivered(&answer)).await;
        assert_eq!(packet["sections"], concern(), "{role}: {packet}");
        assert_eq!(packet["basis"], "legal_obligation", "{packet}");
    }

    // children's social care of the child's own area deposits: it is the one who would be told
    let own = deposited(&w.social_worker(), &w.child, "referral").await;
    assert_eq!(duties(&own), [], "{own}");
    w.opened(&w.child, ago(Duration::hours(1))).await;
    let led = deposited(&w.social_worker(), &w.child, "incident_report").await;
    assert_eq!(duties(&led), [], "the lead agency tells no one: {led}");
}

#[tokio::test]
async fn a_team_manager_leading_the_case_receives_the_concern_addressed_to_them() {
    let w = World::start().await;
    let tm = w.server.person("csc", "tm.osei", Role::TeamManager);
    let r = tm
        .post(
            "/v1/cases",
            &json!({"subject_id": w.child, "subject_role": "harmful_behaviour",
                    "referral_received_at": common::cases::at(ago(Duration::hours(1))),
                    "lead_sub": "tm.osei"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let police = w.server.person("police", "pc.khan", Role::PoliceOfficer);
    let answer = deposited(&police, &w.child, "referral").await;
    let disclosure = delivered(&answer);
    assert!(
        tm.inbox().await.contains(&disclosure),
        "the lead, a team manager"
    );
    assert!(
        !w.social_worker().inbox().await.contains(&disclosure),
        "no one else"
    );
    let packet = w.server.open(&tm, &disclosure).await;
    assert_eq!(packet["sections"], concern(), "{packet}");
}
