//! `GET /openapi.json` is generated from the route table that also builds the router; these
//! tests keep it in step with the router and with the contract (API.md).

mod common;

use broker::vocab::Role;
use serde_json::Value;

/// The HTTP table of API.md.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/subjects"),
    ("post", "/v1/subjects/{id}/competence"),
    ("post", "/v1/subjects/{id}/consents"),
    ("post", "/v1/subjects/{id}/consents/{cid}/withdraw"),
    ("put", "/v1/subjects/{id}/mappa"),
    ("put", "/v1/subjects/{id}/school"),
    ("post", "/v1/mappa/decisions"),
    ("post", "/v1/subjects/{id}/staff-designations"),
    ("post", "/v1/records"),
    ("post", "/v1/records/{id}/chair-permissions"),
    ("post", "/v1/decisions"),
    ("post", "/v1/disclosures"),
    ("get", "/v1/inbox"),
    ("get", "/v1/inbox/{disclosure_id}"),
    ("get", "/v1/records/{id}/disclosures"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/export.csv"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/reviews"),
    ("post", "/v1/audit/reviews/{seq}"),
    ("get", "/v1/subjects/{id}/history"),
    // PROCESS.md
    ("post", "/v1/inbox/{disclosure_id}/ack"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_contract_and_every_route_answers() {
    let server = common::TestServer::start().await;
    let client = server.client("partnership");
    let token = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let doc = client.get("/openapi.json", &token).await.unwrap();
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in CONTRACT {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is in API.md but not in /openapi.json"
        );
    }
    // every documented operation is served by the router: never "no such endpoint" or 405
    let mut operations = 0;
    for (path, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            operations += 1;
            let concrete = path
                .replace("{seq}", "1")
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "01a204f3-0000-7000-8000-000000000000"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let m = method.to_uppercase().parse().unwrap();
            let body = (method != "get").then(|| serde_json::json!({}));
            let r = client
                .send(m, &concrete, Some(&token), body.as_ref())
                .await
                .unwrap();
            assert_ne!(r.status, 405, "{method} {path}: {}", r.text());
            let no_route = r.status == 404 && r.json()["detail"] == "no such endpoint";
            assert!(!no_route, "{method} {path} is documented but not routed");
        }
    }
    assert!(operations >= CONTRACT.len());
    server.stop().await;
}

#[tokio::test]
async fn request_schemas_come_from_the_request_types_with_the_vocabulary() {
    let doc = broker::routes::openapi();
    let schema = &doc["paths"]["/v1/disclosures"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let props = schema["properties"].as_object().unwrap();
    for field in [
        "record_ids",
        "recipient_agency",
        "recipient_role",
        "recipient_sub",
        "purpose",
        "basis",
        "justification",
        "legal_reference",
        "mappa_decision_id",
    ] {
        assert!(props.contains_key(field), "{field} missing from {schema}");
    }
    let text = schema.to_string();
    assert!(
        text.contains("\"safeguarding\"") && text.contains("\"significant_harm\""),
        "{text}"
    );
    let record = &doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(record.to_string().contains("strategy_meeting_minutes"));
    assert_eq!(
        schema["additionalProperties"],
        Value::Bool(false),
        "unknown fields are refused, so the schema says so"
    );
}

#[test]
fn the_school_move_and_the_records_subject_role_are_documented() {
    let doc = broker::routes::openapi();
    let school = &doc["paths"]["/v1/subjects/{id}/school"]["put"];
    let body = &school["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(
        body["required"],
        serde_json::json!(["school_agency"]),
        "{body}"
    );
    assert!(
        body["properties"]["school_agency"]
            .to_string()
            .contains("null"),
        "null means no school: {body}"
    );
    let who = school["description"].as_str().unwrap_or_default();
    assert!(
        who.contains("children_social_care") && who.contains("dsl") && who.contains("head_teacher"),
        "{who}"
    );
    let record = doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]
        .to_string();
    for role in ["harmful_behaviour", "victim", "other"] {
        assert!(
            record.contains(role),
            "subject_role {role} missing: {record}"
        );
    }
}
