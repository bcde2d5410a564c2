//! Reading a child (`GET /v1/subjects/{id}`, the console's child's page): who may is
//! `read_subject` in `policies/actions.csv`, one row per relation, each exercised here by a
//! caller for whom that row alone holds; anyone else is answered as for an unknown child.

mod common;

use broker::vocab::Role;
use common::TestServer;
use common::flows::problem;
use serde_json::json;

/// The child police register at Hillside with a name, the case csc opens about it, and the
/// answer of `GET /v1/subjects/{child}` for each caller.
#[tokio::test]
async fn a_child_is_read_by_the_agencies_that_know_it_its_school_its_case_lead_and_the_partnership_ig()
 {
    let server = TestServer::start().await;
    let police = server.person("police", "pc.lewis", Role::PoliceOfficer);
    let r = police
        .post(
            "/v1/subjects",
            &json!({"date_of_birth": common::flows::born_years_ago(12),
                "school_agency": "school-hillside", "display_name": "Jordan Ellis",
                "local_authority": "north"}),
        )
        .await;
    let child = common::flows::created(&r);
    let csc = server.social_worker();
    let path = format!("/v1/subjects/{child}");
    // before csc leads a case about the child, it knows nothing of it
    problem(&csc.get(&path).await, 404, "not_found");
    let case = csc
        .post(
            "/v1/cases",
            &json!({"subject_id": child, "subject_role": "harmful_behaviour",
                "referral_received_at": chrono::Utc::now().to_rfc3339(), "linked_case_ids": []}),
        )
        .await;
    let case = common::flows::created(&case);

    // knows_child: the registering agency reads the name it gave, unsealed
    let read = police.get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text());
    let view = read.json();
    assert_eq!(view["display_name"], "Jordan Ellis");
    assert_eq!(view["age"], 12);
    assert_eq!(view["school_name"], "Hillside Primary School");
    assert_eq!(view["cases"], json!([]), "police lead no case");

    // lead_agency: csc neither registered the child nor holds anything about it
    let read = csc.get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["cases"][0]["id"], case.as_str());

    // childs_school: Hillside, the recorded school
    let dsl = server.person("school-hillside", "dsl.khan", Role::Dsl);
    assert_eq!(dsl.get(&path).await.status, 200);

    // the partnership's IG officer, by role alone
    let ig = server.person("partnership", "ig.patel", Role::IgOfficer);
    assert_eq!(ig.get(&path).await.status, 200);

    // anyone else: as for an unknown child, and an IG officer of another agency too
    for (agency, sub, role) in [
        ("school-riverside", "dsl.ross", Role::Dsl),
        ("health", "hp.jones", Role::HealthPractitioner),
        ("health", "ig.health", Role::IgOfficer),
    ] {
        let stranger = server.person(agency, sub, role);
        let r = stranger.get(&path).await;
        problem(&r, 404, "not_found");
        assert!(!r.text().contains("Jordan"), "{}", r.text());
    }
    let unknown = "01a204f3-0000-7000-8000-000000000000";
    problem(
        &ig.get(&format!("/v1/subjects/{unknown}")).await,
        404,
        "not_found",
    );

    // a consent recorded by health makes health an agency that knows the child
    let health = server.person("health", "hp.jones", Role::HealthPractitioner);
    let r = health
        .post(
            &format!("{path}/consents"),
            &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}),
        )
        .await;
    common::flows::created(&r);
    let read = health.get(&path).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["consents"][0]["given_by"], "parent");

    // every read is audited under the reader
    let entries = common::audit::about(&server, &child).await;
    let reads: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "subject.read")
        .map(|e| e["actor"]["agency"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        reads,
        ["police", "csc", "school-hillside", "partnership", "health"]
    );
    server.stop().await;
}

/// The same read with the `knows_child` row taken out: the registering agency is refused.
#[tokio::test]
async fn the_read_follows_the_actions_rows_an_ig_officer_edits() {
    let server = TestServer::start_with_policy(|policies| {
        let path = policies.join("actions.csv");
        let text = std::fs::read_to_string(&path).expect("the shipped actions.csv");
        let row = "p, read_subject, *, *, knows_child, allow\n";
        assert!(text.contains(row), "actions.csv has no row {row}");
        std::fs::write(&path, text.replace(row, "")).expect("writing actions.csv");
    })
    .await;
    let police = server.person("police", "pc.lewis", Role::PoliceOfficer);
    let child = police.register(12, Some("school-hillside")).await;
    problem(
        &police.get(&format!("/v1/subjects/{child}")).await,
        404,
        "not_found",
    );
    server.stop().await;
}
