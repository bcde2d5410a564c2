//! Places over mTLS (PROCESS.md, Places; RULES 10): where a child lives, recorded by children's
//! social care of either of its areas and used by the decisions made after it; a looked-after
//! child placed in another area (P3): the host area opens the case and leads, the placing
//! authority is an involved agency that reads the case, lists it and is told of its steps, and
//! the placing authority's independent reviewing officer is informed.

mod common;

use broker::vocab::Role;
use chrono::{Duration, Utc};
use common::audited::disclosure;
use common::cases::at;
use common::flows::problem;
use common::{Person, TestServer};
use serde_json::{Value, json};

/// A child of Northshire (aged 10), registered by csc's social worker.
async fn north_child(server: &TestServer) -> String {
    server.social_worker().register(10, None).await
}

async fn put_residence(who: &Person, child: &str, body: Value) -> broker::client::Response {
    who.put(&format!("/v1/subjects/{child}/residence"), &body)
        .await
}

/// Places `child` in Southshire, looked after by csc (Northshire); insists on 200.
async fn placed_in_the_south(server: &TestServer, child: &str) {
    let r = put_residence(
        &server.social_worker(),
        child,
        json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

fn south_worker(server: &TestServer) -> Person {
    server.person("csc-south", "sw.bea", Role::SocialWorker)
}

fn iro(server: &TestServer) -> Person {
    server.person("csc", "iro.noor", Role::IndependentReviewingOfficer)
}

async fn open_case(who: &Person, child: &str) -> broker::client::Response {
    who.post(
        "/v1/cases",
        &json!({"subject_id": child, "subject_role": "harmful_behaviour",
                "referral_received_at": at(Utc::now() - Duration::hours(2))}),
    )
    .await
}

async fn opened(who: &Person, child: &str) -> Value {
    let r = open_case(who, child).await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

/// The audit entries' actions about `child`, as the partnership's IG officer reads them.
async fn audited(server: &TestServer, child: &str) -> Vec<Value> {
    common::audit::about(server, child).await
}

/// A refused residence wrote no `subject.residence` entry.
async fn nothing_recorded(server: &TestServer, child: &str) {
    let entries = audited(server, child).await;
    assert!(
        entries.iter().all(|e| e["action"] != "subject.residence"),
        "nothing recorded: {entries:?}"
    );
}

#[tokio::test]
async fn children_s_social_care_of_either_area_records_where_the_child_lives_and_it_is_audited() {
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    // the home area's council
    let r = put_residence(
        &server.social_worker(),
        &child,
        json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let set = r.json();
    assert_eq!(set["home_area"], "north", "{set}");
    assert_eq!(set["residence"]["area"], "south", "{set}");
    assert_eq!(set["residence"]["placed_by"], "csc", "{set}");
    // the council of the area it now lives in
    let r = put_residence(
        &south_worker(&server),
        &child,
        json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["previous"]["area"], "south");
    let entries = audited(&server, &child).await;
    let residences: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "subject.residence")
        .collect();
    assert_eq!(residences.len(), 2, "each change audited once: {entries:?}");
    assert_eq!(residences[0]["actor"]["agency"], "csc");
    assert_eq!(residences[1]["actor"]["agency"], "csc-south");
    assert_eq!(residences[0]["detail"]["to"]["area"], "south");
    server.stop().await;
}

#[tokio::test]
async fn a_council_serving_neither_of_the_child_s_areas_may_not_record_where_it_lives_nor_learn_it_exists()
 {
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    let r = put_residence(
        &south_worker(&server),
        &child,
        json!({"area": "south", "looked_after": false}),
    )
    .await;
    // answered as for an unknown child: another council learns nothing of it
    problem(&r, 404, "not_found");
    let ghost = uuid::Uuid::new_v4().to_string();
    let unknown = put_residence(
        &south_worker(&server),
        &ghost,
        json!({"area": "south", "looked_after": false}),
    )
    .await;
    assert_eq!(
        r.text().replace(child.as_str(), "ID"),
        unknown.text().replace(&ghost, "ID"),
        "a child of another council and an unknown id get the same answer"
    );
    nothing_recorded(&server, &child).await;
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_area_and_a_placement_that_cannot_be_are_refused_naming_the_field() {
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    let sw = server.social_worker();
    let r = put_residence(&sw, &child, json!({"area": "west", "looked_after": false})).await;
    let body = problem(&r, 422, "unknown_area");
    assert!(
        body["detail"].as_str().unwrap().contains("Southshire"),
        "names the areas: {body}"
    );
    // only a looked-after child is placed, by children's social care configured here
    for placed in [
        json!({"area": "south", "looked_after": false, "placed_by": "csc"}),
        json!({"area": "south", "looked_after": true, "placed_by": "police"}),
        json!({"area": "south", "looked_after": true, "placed_by": "csc-east"}),
    ] {
        let r = put_residence(&sw, &child, placed.clone()).await;
        assert_eq!(r.status, 422, "{placed}: {}", r.text());
        assert!(r.text().contains("placed_by"), "{placed}: {}", r.text());
    }
    nothing_recorded(&server, &child).await;
    server.stop().await;
}

#[tokio::test]
async fn a_disclosure_decided_after_the_move_uses_the_area_the_child_now_lives_in() {
    let server = TestServer::start().await;
    let sw = server.social_worker();
    let child = north_child(&server).await;
    sw.consent(&child, "parent", &["safeguarding"], &["youth_offending"])
        .await;
    let record = sw
        .deposit(&child, "referral", json!({"summary": "a concern"}))
        .await;
    let ask = disclosure(
        &record,
        "yos-south",
        "yos_worker",
        "safeguarding",
        "consent",
    );
    let before = sw.post("/v1/decisions", &ask).await;
    assert_eq!(before.status, 200, "{}", before.text());
    let before = before.json();
    assert_eq!(before["decision"], "deny", "{before}");
    assert_eq!(
        before["reasons"][0]["code"], "recipient_outside_child_area",
        "{before}"
    );
    put_residence(&sw, &child, json!({"area": "south", "looked_after": false})).await;
    let after = sw.post("/v1/decisions", &ask).await.json();
    assert_eq!(
        after["decision"], "permit",
        "the child lives in the south now: {after}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_looked_after_child_placed_in_the_south_the_host_leads_and_the_placing_authority_is_involved()
 {
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    placed_in_the_south(&server, &child).await;
    let south = south_worker(&server);
    let case = opened(&south, &child).await;
    assert_eq!(case["involved_agencies"], json!(["csc"]), "{case}");
    let case_id = id(&case);
    // the IRO of the placing authority is informed of the opening
    let told = case["duties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["duty"] == "lac_iro_informed")
        .unwrap_or_else(|| panic!("the IRO is told: {case}"));
    assert_eq!(told["recipient_agency"], "csc");
    assert_eq!(told["decision"], "permit", "{told}");
    let iro = iro(&server);
    let notice = told["disclosure_id"].as_str().unwrap();
    assert!(iro.inbox().await.contains(&notice.to_owned()));
    let packet = server.open(&iro, notice).await;
    assert_eq!(packet["view"], "notification", "{packet}");
    // a step of the host's case: the placing authority is told, as a whole
    let r = south
        .post(
            &format!("/v1/cases/{case_id}/events"),
            &json!({"kind": "strategy_discussion_held", "occurred_at": at(Utc::now())}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // the placing authority's social worker reads the case and finds it in its list
    let sw = server.social_worker();
    let r = sw.get(&format!("/v1/cases/{case_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let read = r.json();
    assert_eq!(read["lead_agency"], "csc-south");
    assert_eq!(read["involved_agencies"], json!(["csc"]));
    let kept = read["duties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["duty"] == "involved_kept_updated")
        .unwrap_or_else(|| panic!("the step is told to the placing authority: {read}"));
    assert_eq!(kept["recipient_agency"], "csc");
    assert_eq!(kept["decision"], "permit", "{kept}");
    let notice = kept["disclosure_id"].as_str().unwrap().to_owned();
    assert!(sw.inbox().await.contains(&notice), "the social worker's");
    assert!(iro.inbox().await.contains(&notice), "and the IRO's");
    let list = sw.get("/v1/cases").await.json();
    assert!(
        list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == case_id.as_str()),
        "{list}"
    );
    // the IRO of the placing authority reads the case
    let r = iro.get(&format!("/v1/cases/{case_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // the placing authority only reads: the host leads, and it is told so
    let r = sw
        .post(
            &format!("/v1/cases/{case_id}/events"),
            &json!({"kind": "strategy_meeting_held", "occurred_at": at(Utc::now())}),
        )
        .await;
    problem(&r, 403, "not_lead_agency");
    // no other agency reads it: another service of the host area, or the host's own IRO
    let r = server
        .person("csc-south", "iro.sam", Role::IndependentReviewingOfficer)
        .get(&format!("/v1/cases/{case_id}"))
        .await;
    problem(&r, 404, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn the_host_opens_beside_the_placing_authority_s_case_but_the_one_lead_rule_holds_otherwise()
{
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    let sw = server.social_worker();
    let south = south_worker(&server);
    // the placing authority heard first and opened a case
    let first = opened(&sw, &child).await;
    // the child living in the south, not looked after: the north leads, the south may not open
    put_residence(&sw, &child, json!({"area": "south", "looked_after": false})).await;
    problem(&open_case(&south, &child).await, 409, "case_led_elsewhere");
    // looked after, placed by the north: child protection is the host's (Camden 8.5)
    placed_in_the_south(&server, &child).await;
    let host = opened(&south, &child).await;
    assert_eq!(host["involved_agencies"], json!(["csc"]), "{host}");
    problem(&open_case(&south, &child).await, 409, "duplicate_open_case");
    problem(&open_case(&sw, &child).await, 409, "duplicate_open_case");
    // the placing authority reads the host's case; the host does not read the placing's
    let r = sw.get(&format!("/v1/cases/{}", id(&host))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = south.get(&format!("/v1/cases/{}", id(&first))).await;
    problem(&r, 404, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn a_placement_recorded_while_the_host_s_case_is_open_involves_the_placing_authority_and_stays()
 {
    let server = TestServer::start().await;
    let child = north_child(&server).await;
    let sw = server.social_worker();
    let south = south_worker(&server);
    // living in the south, not (yet) known to be looked after: the south opens, the north is
    // not involved and cannot see the case
    put_residence(&sw, &child, json!({"area": "south", "looked_after": false})).await;
    let case = opened(&south, &child).await;
    assert_eq!(case["involved_agencies"], json!([]), "{case}");
    let case_id = id(&case);
    problem(
        &sw.get(&format!("/v1/cases/{case_id}")).await,
        404,
        "not_found",
    );
    placed_in_the_south(&server, &child).await;
    let r = sw.get(&format!("/v1/cases/{case_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["involved_agencies"], json!(["csc"]));
    // the child comes home and leaves care: the north stays involved in the case it was part of
    put_residence(&sw, &child, json!({"area": null, "looked_after": false})).await;
    let r = sw.get(&format!("/v1/cases/{case_id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // but the IRO's remit ends with the child's care
    problem(
        &iro(&server).get(&format!("/v1/cases/{case_id}")).await,
        404,
        "not_found",
    );
    server.stop().await;
}
