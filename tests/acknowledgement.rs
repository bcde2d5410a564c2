//! Acknowledgement (PROCESS.md): the addressee acknowledges a packet it has fetched, and the
//! sending agency sees `first_read_at` and `acknowledged_at` per disclosure.

mod common;

use broker::vocab::Role;
use common::flows::{self, head_seq, problem};
use serde_json::Value;

/// A DSL-addressed limited summary of a Hillside pupil's plan: (server, csc sw token, record,
/// disclosure id).
async fn a_packet_for_the_dsl() -> (common::TestServer, String, String, String) {
    let server = common::TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let r = flows::disclose(
        &csc,
        &sw,
        &flows::request(
            &pupil.record,
            "school-hillside",
            Some("dsl"),
            "safeguarding",
            "consent",
        ),
    )
    .await;
    let disclosure = flows::permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &[],
        &[],
    );
    (server, sw, pupil.record, disclosure)
}

/// The `disclosure` entry of `disclosure` in the owner's view of the record.
async fn sender_view(
    server: &common::TestServer,
    sw: &str,
    record: &str,
    disclosure: &str,
) -> Value {
    let r = server
        .client("csc")
        .get(&format!("/v1/records/{record}/disclosures"), sw)
        .await
        .expect("reading the record's disclosures");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("decisions is a list: {}", r.text()))
        .iter()
        .find(|d| d["action"] == "disclosure" && d["detail"]["disclosure_id"] == disclosure)
        .unwrap_or_else(|| panic!("no disclosure {disclosure} in {}", r.text()))
        .clone()
}

#[tokio::test]
async fn the_sender_sees_when_the_dsl_first_read_and_acknowledged_the_packet() {
    let (server, sw, record, disclosure) = a_packet_for_the_dsl().await;
    let school = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let ack = format!("/v1/inbox/{disclosure}/ack");

    let unread = sender_view(&server, &sw, &record, &disclosure).await;
    assert_eq!(unread["first_read_at"], Value::Null, "{unread}");
    assert_eq!(unread["acknowledged_at"], Value::Null, "{unread}");

    // a packet not yet fetched cannot be acknowledged, and the refusal writes nothing
    let before = head_seq(&server).await;
    let r = school
        .post(&ack, &dsl, &serde_json::json!({}))
        .await
        .unwrap();
    problem(&r, 409, "packet_not_read");
    assert_eq!(head_seq(&server).await, before, "a refusal is not audited");

    flows::open_packet(&server, "school-hillside", &dsl, &disclosure).await;
    let read = sender_view(&server, &sw, &record, &disclosure).await;
    let first_read = read["first_read_at"]
        .as_str()
        .unwrap_or_else(|| panic!("the first fetch is stamped: {read}"))
        .to_owned();
    assert_eq!(read["acknowledged_at"], Value::Null, "{read}");
    // a second fetch does not move the first read
    flows::open_packet(&server, "school-hillside", &dsl, &disclosure).await;
    let again = sender_view(&server, &sw, &record, &disclosure).await;
    assert_eq!(again["first_read_at"], first_read.as_str(), "{again}");

    let r = school
        .post(&ack, &dsl, &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["disclosure_id"], disclosure.as_str(), "{body}");
    assert_eq!(body["first_read_at"], first_read.as_str(), "{body}");
    let acknowledged = body["acknowledged_at"]
        .as_str()
        .unwrap_or_else(|| panic!("an acknowledgement is stamped: {body}"))
        .to_owned();
    assert!(
        acknowledged >= first_read,
        "{acknowledged} before {first_read}"
    );
    assert!(body["audit_seq"].as_i64().is_some_and(|s| s > 0), "{body}");

    // a repeat is audited and keeps the first acknowledgement
    let r = school
        .post(&ack, &dsl, &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["acknowledged_at"], acknowledged.as_str());

    let shown = sender_view(&server, &sw, &record, &disclosure).await;
    assert_eq!(shown["first_read_at"], first_read.as_str(), "{shown}");
    assert_eq!(shown["acknowledged_at"], acknowledged.as_str(), "{shown}");

    // the owner sees each acknowledgement as an audited action on the record
    let r = server
        .client("csc")
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .unwrap();
    let acks: Vec<Value> = r.json()["decisions"]
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["action"] == "packet.ack")
        .cloned()
        .collect();
    assert_eq!(acks.len(), 2, "{}", r.text());
    for a in acks {
        assert_eq!(a["actor"]["sub"], "dsl.jones", "{a}");
        assert_eq!(a["detail"]["disclosure_id"], disclosure.as_str(), "{a}");
    }
    server.stop().await;
}

#[tokio::test]
async fn only_the_addressee_may_acknowledge_a_packet_and_anyone_else_gets_404() {
    let (server, sw, record, disclosure) = a_packet_for_the_dsl().await;
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    flows::open_packet(&server, "school-hillside", &dsl, &disclosure).await;
    let ack = format!("/v1/inbox/{disclosure}/ack");
    let before = head_seq(&server).await;

    let unknown = "/v1/inbox/01a204f3-0000-7000-8000-000000000000/ack";
    let staff = server.token("school-hillside", "staff.li", &[Role::SchoolStaff]);
    let other = server.token("school-riverside", "dsl.khan", &[Role::Dsl]);
    // (why, agency, token, path, status, code)
    let table: [(&str, &str, &str, &str, u16, &str); 5] = [
        (
            "the right school, another role than the one addressed",
            "school-hillside",
            &staff,
            &ack,
            404,
            "not_found",
        ),
        (
            "another agency, even a DSL",
            "school-riverside",
            &other,
            &ack,
            404,
            "not_found",
        ),
        ("the sender itself", "csc", &sw, &ack, 404, "not_found"),
        (
            "an unknown packet answers as one addressed to someone else",
            "school-hillside",
            &dsl,
            unknown,
            404,
            "not_found",
        ),
        (
            "not an id",
            "school-hillside",
            &dsl,
            "/v1/inbox/not-an-id/ack",
            400,
            "invalid_id",
        ),
    ];
    for (why, agency, token, path, status, code) in table {
        let r = server
            .client(agency)
            .post(path, token, &serde_json::json!({}))
            .await
            .unwrap();
        assert_eq!(r.status, status, "{why}: {}", r.text());
        problem(&r, status, code);
    }

    assert_eq!(head_seq(&server).await, before, "no refusal is written");
    let shown = sender_view(&server, &sw, &record, &disclosure).await;
    assert_eq!(shown["acknowledged_at"], Value::Null, "{shown}");
    server.stop().await;
}
