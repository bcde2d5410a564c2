mod common;

use broker::vocab::Role;
use serde_json::json;

#[tokio::test]
async fn a_dsl_receives_the_limited_summary_and_decrypts_it_with_the_school_key() {
    let server = common::TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = csc
        .post("/v1/subjects", &sw, &json!({"date_of_birth": "2016-05-01", "school_agency": "school-hillside", "display_name": "Child A"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let child = r.json()["id"].as_str().unwrap().to_owned();
    let r = csc
        .post("/v1/records", &sw, &json!({"subject_id": child, "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
            "sections": {"summary": "plan summary", "risk_management": {"supervision": "at break"}, "allegation_details": "secret detail"}}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let record = r.json()["id"].as_str().unwrap().to_owned();
    let r = csc
        .post(&format!("/v1/subjects/{child}/consents"), &sw, &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r = csc
        .post("/v1/disclosures", &sw, &json!({"record_ids": [record], "recipient_agency": "school-hillside", "recipient_role": "dsl",
            "purpose": "safeguarding", "basis": "consent"}))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    assert_eq!(body["view"], "limited_summary");
    let disclosure = body["disclosure_id"].as_str().unwrap().to_owned();

    let school = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let inbox = school.get("/v1/inbox", &dsl).await.unwrap();
    assert_eq!(
        inbox.json().as_array().unwrap().len(),
        1,
        "{}",
        inbox.text()
    );
    let packet = school
        .get(&format!("/v1/inbox/{disclosure}"), &dsl)
        .await
        .unwrap();
    assert_eq!(packet.status, 200);
    assert_eq!(packet.content_type(), "application/age");
    let identity =
        broker::crypto::load_age_identity(&server.world.age_identity("school-hillside")).unwrap();
    let plain: serde_json::Value =
        serde_json::from_slice(&broker::crypto::decrypt_with(&identity, &packet.body).unwrap())
            .unwrap();
    assert_eq!(
        plain["sections"],
        json!({"summary": "plan summary", "risk_management": {"supervision": "at break"}})
    );
    assert_eq!(plain["sections_withheld"], json!(["allegation_details"]));
    server.stop().await;
}
