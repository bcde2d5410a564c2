//! Places (PROCESS.md, Places; RULES 10) over mTLS, on the dev world's two councils, Northshire
//! (`north`: csc, early-help, yos, Hillside) and Southshire (`south`: csc-south,
//! early-help-south, yos-south, Riverside Academy), with police, health, CAMHS, MAPPA and the
//! partnership serving both: a child's home area, a MERLIN notice that reaches only the child's
//! own council, and a disclosure to another council's service refused unless made, and
//! reviewed, on an emergency basis.

mod common;

use broker::vocab::Role;
use common::TestServer;
use common::flows::{born_years_ago, count, problem_naming, refused};
use serde_json::json;

use common::flows::duty_rows as duties;

fn t(duty: &str, agency: &str) -> (String, String, String) {
    (duty.into(), agency.into(), "permit".into())
}

#[tokio::test]
async fn a_childs_home_area_is_its_councils_or_named_by_an_agency_serving_every_area() {
    let server = TestServer::start().await;
    let sw = server.social_worker();
    let pc = server.person("police", "pc.evans", Role::PoliceOfficer);
    // Northshire's own social worker: the child is Northshire's unless said otherwise
    let north = sw.register(9, Some("school-hillside")).await;
    let read = sw.get(&format!("/v1/subjects/{north}")).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["local_authority"], "north", "{}", read.text());
    assert_eq!(
        read.json()["residence"],
        json!({"area": null, "looked_after": false, "placed_by": null})
    );
    // the police serve both councils, so they must say whose child it is; nothing is written
    let before = count(&server, "subjects").await;
    let r = pc
        .post(
            "/v1/subjects",
            &json!({"date_of_birth": born_years_ago(13)}),
        )
        .await;
    problem_naming(
        &r,
        422,
        "unknown_area",
        &[
            "local_authority",
            "north (Northshire)",
            "south (Southshire)",
        ],
    );
    let r = pc
        .post(
            "/v1/subjects",
            &json!({"date_of_birth": born_years_ago(13), "local_authority": "Eastshire"}),
        )
        .await;
    problem_naming(&r, 422, "unknown_area", &["no area \"Eastshire\""]);
    assert_eq!(
        count(&server, "subjects").await,
        before,
        "refusals write nothing"
    );
    let r = pc
        .post(
            "/v1/subjects",
            &json!({"date_of_birth": born_years_ago(13), "local_authority": "south"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // the area is an audited fact of the registration
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let home: Option<String> = broker::with_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT local_authority FROM subjects WHERE id = $1")
            .bind(&id).fetch_one(pool).await.unwrap()
    });
    assert_eq!(home.as_deref(), Some("south"));
    server.stop().await;
}

#[tokio::test]
async fn a_merlin_notice_reaches_only_the_youth_offending_service_and_front_door_of_the_childs_own_council()
 {
    let server = TestServer::start().await;
    let pc = server.person("police", "pc.evans", Role::PoliceOfficer);
    for (area, yos, front_door, other_yos, other_door) in [
        ("south", "yos-south", "csc-south", "yos", "csc"),
        ("north", "yos", "csc", "yos-south", "csc-south"),
    ] {
        let r = pc
            .post(
                "/v1/subjects",
                &json!({"date_of_birth": born_years_ago(14), "local_authority": area}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let child = r.json()["id"].as_str().unwrap().to_owned();
        let r = pc
            .post(
                "/v1/records",
                &json!({"subject_id": child, "kind": "police_notification",
                    "subject_role": "harmful_behaviour",
                    "sections": {"summary": "MERLIN 26/0042"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let deposited = r.json();
        assert_eq!(
            duties(&deposited),
            [
                t("merlin_youth_support", yos),
                t("merlin_contact_service", front_door),
            ],
            "a {area} child: {deposited}"
        );
        // the other council's services have nothing about this child in their inboxes
        for (agency, role) in [
            (other_yos, Role::YosWorker),
            (other_door, Role::SocialWorker),
        ] {
            let them = server.person(agency, "duty.desk", role);
            let ids: Vec<String> = deposited["duties"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|d| d["disclosure_id"].as_str().map(str::to_owned))
                .collect();
            let inbox = them.inbox().await;
            assert!(
                ids.iter().all(|id| !inbox.contains(id)),
                "{agency} received a notice about another council's child: {inbox:?}"
            );
        }
        // and the child's own services have theirs
        let own = server.person(yos, "duty.desk", Role::YosWorker);
        assert!(
            !own.inbox().await.is_empty(),
            "{yos} received the notice about its own child"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_disclosure_to_another_councils_service_is_refused_unless_made_and_reviewed_on_significant_harm()
 {
    let server = TestServer::start().await;
    let sw = server.social_worker();
    let child = sw.register(12, Some("school-hillside")).await;
    sw.consent(
        &child,
        "parent",
        &["safeguarding"],
        &["children_social_care"],
    )
    .await;
    let record = sw
        .deposit(
            &child,
            "initial_assessment",
            json!({"summary": "s", "risk_management": "r"}),
        )
        .await;
    let ask = |basis: &str| {
        json!({"record_ids": [record], "recipient_agency": "csc-south",
            "recipient_role": "social_worker", "purpose": "safeguarding", "basis": basis})
    };
    // on consent, to a council serving neither of the child's areas: a slip, refused
    let packets = count(&server, "packets").await;
    let r = sw.disclose(&ask("consent")).await;
    refused(&r, &["recipient_outside_child_area"]);
    let reason = r.json()["reasons"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("csc-south serves south") && reason.contains("(north)"),
        "{reason}"
    );
    assert_eq!(count(&server, "packets").await, packets);
    // on significant harm, with its justification: a considered exception, reviewed
    let mut emergency = ask("significant_harm");
    emergency["justification"] =
        json!("The child is staying with family in Southshire tonight; their duty team must act.");
    let r = sw.disclose(&emergency).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let permitted = r.json();
    assert_eq!(
        permitted["obligations"],
        json!(["ig_review"]),
        "{permitted}"
    );
    let ig = server.person("partnership", "ig.lee", Role::IgOfficer);
    let queue = ig.get("/v1/audit/reviews").await;
    assert_eq!(queue.status, 200, "{}", queue.text());
    let awaiting = queue.json()["awaiting_review"].clone();
    assert!(
        awaiting
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["seq"] == permitted["audit_seq"]),
        "the out-of-area disclosure waits for its review: {awaiting}"
    );
    // once the child lives in Southshire, its council serves the child: consent suffices
    let r = sw
        .put(
            &format!("/v1/subjects/{child}/residence"),
            &json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["residence"]["area"], "south", "{}", r.text());
    let r = sw.disclose(&ask("consent")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    // and so does its early help, which serves the area the child lives in
    sw.consent(&child, "parent", &["safeguarding"], &["early_help"])
        .await;
    let mut early = ask("consent");
    early["recipient_agency"] = json!("early-help-south");
    let r = sw.disclose(&early).await;
    assert_eq!(
        r.status,
        201,
        "the child lives in the south now: {}",
        r.text()
    );
    server.stop().await;
}
