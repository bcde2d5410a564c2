//! Bad requests at the HTTP edge: ids and bytes in the path, the query string, the content
//! type, malformed JSON, unknown paths and methods, oversized header blocks and broken framing.
//! Each gets its exact 4xx (problem+json wherever the broker writes the answer) and changes
//! nothing: neither the audit chain's head nor the rows of the table the request would have
//! written.

mod common;

use broker::vocab::Role;
use common::World;
use common::refusal::{Case, Write};
use hyper::Method;
use serde_json::json;

#[tokio::test]
async fn a_malformed_id_in_the_path_is_refused_with_400() {
    let w = World::start().await;
    let bad = |case: Case| case.refused(400, "invalid_id", &["not-a-uuid"]);
    let withdraw = format!("/v1/subjects/{}/consents/not-a-uuid/withdraw", w.child);
    let permission = json!({"recipient_agency": "police"});
    for case in [
        bad(Case::json(
            Method::POST,
            "/v1/subjects/not-a-uuid/consents",
            &w.a_consent(),
        ))
        .on("consents"),
        bad(Case::json(Method::POST, withdraw, &json!({}))).on("consents"),
        bad(Case::json(
            Method::POST,
            "/v1/records/not-a-uuid/chair-permissions",
            &permission,
        ))
        .on("chair_permissions"),
        bad(Case::get("/v1/inbox/not-a-uuid")),
        bad(Case::get("/v1/records/not-a-uuid/disclosures")),
    ] {
        w.check(case).await;
    }
    let head = w
        .server
        .person("school-hillside", "head.patel", Role::HeadTeacher);
    let designation = json!({"staff_sub": "t.smith", "reason": "lunch duty"});
    let path = "/v1/subjects/not-a-uuid/staff-designations";
    let case = bad(Case::json(Method::POST, path, &designation));
    w.check_as(&head, case.on("staff_designations")).await;
    w.stop().await;
}

#[tokio::test]
async fn malformed_json_is_refused_with_400() {
    let w = World::start().await;
    let truncated = serde_json::to_string(&w.to_dsl()).unwrap();
    let truncated = &truncated[..truncated.len() - 1];
    for (path, table, body) in [
        ("/v1/subjects", "subjects", "{not json}"),
        ("/v1/records", "records", ""),
        ("/v1/disclosures", "packets", truncated),
        ("/v1/disclosures", "packets", "{\"record_ids\": [}"),
    ] {
        let json = Some("application/json");
        let case = Case::raw(Method::POST, path, json, body.as_bytes().to_vec());
        w.check(case.refused(400, "malformed_json", &[]).on(table))
            .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_body_without_a_content_type_is_refused_with_415() {
    let w = World::start().await;
    let (path, body, table) = w.valid(Write::Disclosure);
    let body = serde_json::to_vec(&body).unwrap();
    for content_type in [None, Some("text/plain")] {
        let case = Case::raw(Method::POST, &path, content_type, body.clone());
        let case = case.refused(415, "unsupported_media_type", &["Content-Type"]);
        w.check(case.on(table)).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_path_is_refused_with_404() {
    let w = World::start().await;
    for (method, path) in [
        (Method::GET, "/v1/nowhere"),
        (Method::POST, "/v1/subjects/extra/deep/path"),
        (Method::GET, "/v2/inbox"),
    ] {
        w.check(Case::json(method, path, &json!({})).refused(404, "not_found", &[]))
            .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_wrong_method_is_refused_with_405() {
    let w = World::start().await;
    for (method, path, body, allowed) in [
        (Method::DELETE, "/v1/subjects".to_owned(), json!({}), "POST"),
        (Method::GET, "/v1/disclosures".to_owned(), json!({}), "POST"),
        (Method::PUT, "/v1/records".to_owned(), w.a_deposit(), "POST"),
        (
            Method::DELETE,
            format!("/v1/records/{}/disclosures", w.record),
            json!({}),
            "GET",
        ),
    ] {
        let what = format!("{method} {path}");
        let case = Case::json(method, path, &body).refused(405, "method_not_allowed", &[]);
        let r = w.check(case.on("records")).await;
        // RFC 9110 15.5.6: a 405 names the methods the resource does allow.
        let allow = r
            .headers
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            allow.split(',').any(|m| m.trim() == allowed),
            "{what}: the Allow header should list {allowed}, got {allow:?}"
        );
    }
    w.stop().await;
}

#[tokio::test]
async fn a_control_character_or_invalid_utf8_in_a_query_filter_is_refused_with_400_naming_the_parameter()
 {
    let w = World::start().await;
    let ig = w.server.person("partnership", "ig.okafor", Role::IgOfficer);
    for path in ["/v1/audit", "/v1/audit/export.csv"] {
        for (query, mentions) in [
            ("agency=csc%00", ["agency", "NUL"]),
            ("decision=permit%0Aforged", ["decision", "line feed"]),
            ("action=%1B%5B2J", ["action", "U+001B"]),
            ("agency=%FF%FE", ["agency", "UTF-8"]),
            ("subject_id=%C0%AF", ["subject_id", "UTF-8"]),
            ("%00=1", ["name", "NUL"]),
        ] {
            let case = Case::get(format!("{path}?{query}"));
            w.check_as(&ig, case.refused(400, "invalid_query", &mentions))
                .await;
        }
    }
    // a filter of plain text still works
    let r = ig.get("/v1/audit?agency=csc&limit=5").await;
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_or_holds_a_control_character_is_refused_with_400() {
    let w = World::start().await;
    let withdraw = format!("/v1/subjects/{}/consents/%0A/withdraw", w.child);
    for (method, path, mentions, table) in [
        (Method::GET, "/v1/inbox/%FF%FE", "UTF-8", "audit_log"),
        (Method::POST, "/v1/subjects/%00/consents", "NUL", "consents"),
        (
            Method::GET,
            "/v1/records/%1B%5B2J/disclosures",
            "U+001B",
            "audit_log",
        ),
        (
            Method::GET,
            "/v1/subjects/%E2%80%AE/history",
            "U+202E",
            "audit_log",
        ),
        (Method::POST, &withdraw, "line feed", "consents"),
        (Method::GET, "/v1/nowhere/%FF", "UTF-8", "audit_log"),
    ] {
        let case = Case::json(method, path, &w.a_consent());
        w.check(case.refused(400, "invalid_path", &[mentions]).on(table))
            .await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_header_block_over_max_header_bytes_is_refused_with_431_problem_json() {
    let w = World::start().await;
    let limit = w.server.config.server.max_header_bytes;
    assert_eq!(limit, 65_536);
    let before = common::audit_head(&w.server).await;
    let request = format!(
        "GET /v1/inbox HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\nx-pad: {}\r\nconnection: close\r\n\r\n",
        w.sw,
        "a".repeat(limit + 1000)
    );
    let answer = w.server.raw_exchange("csc", request.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert!(answer.is_problem(), "{answer:?}");
    assert_eq!(answer.json()["code"], "headers_too_large", "{answer:?}");
    assert_eq!(answer.json()["status"], 431, "{answer:?}");
    // beyond hyper's own buffer (twice the limit) hyper answers 431 itself, with no body: that
    // answer is written inside hyper and cannot be changed (README, Limits)
    let huge = format!(
        "GET /v1/inbox HTTP/1.1\r\nhost: localhost\r\nx-pad: {}\r\n\r\n",
        "a".repeat(1_048_576)
    );
    let answer = w.server.raw_exchange("csc", huge.as_bytes()).await;
    assert_eq!(answer.status, 431, "{answer:?}");
    assert_eq!(common::audit_head(&w.server).await, before);
    // the broker still serves
    let r = w.csc.get("/v1/inbox", &w.sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn malformed_framing_is_refused_by_hyper_with_400_and_the_connection_closed() {
    let w = World::start().await;
    let before = common::audit_head(&w.server).await;
    for raw in [
        "GET /healthz HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello!"
            .to_owned(),
        "NOT HTTP AT ALL\r\n\r\n".to_owned(),
        "GET /healthz HTTP/1.1\r\nbad header line\r\n\r\n".to_owned(),
        format!(
            "POST /v1/subjects HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n",
            w.sw
        ),
    ] {
        let answer = w.server.raw_exchange("csc", raw.as_bytes()).await;
        // hyper writes these answers itself: a status, no problem+json body (README, Limits)
        assert!(
            (400..500).contains(&answer.status),
            "{raw:?} got {answer:?}"
        );
    }
    assert_eq!(common::audit_head(&w.server).await, before);
    let r = w.csc.get("/v1/inbox", &w.sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn a_declared_body_over_max_body_bytes_is_refused_with_413_before_it_is_sent_even_with_expect_100_continue()
 {
    let w = World::start().await;
    let limit = w.server.config.server.max_body_bytes;
    let before = common::db::snapshot(&w.server.state.db, "subjects").await;
    let over = [(limit + 1) as u64, 10_000_000_000_000_000_000];
    for (expect, length) in ["expect: 100-continue\r\n", ""]
        .into_iter()
        .flat_map(|e| over.map(|l| (e, l)))
    {
        // only the head: a client that asked to continue waits for the answer before the body,
        // and one that did not is refused before the broker reads a byte of it
        let head = format!(
            "POST /v1/subjects HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n{expect}connection: close\r\n\r\n",
            w.sw,
        );
        let what = format!("{expect:?} with {length} bytes");
        let answer = w.server.raw_exchange("csc", head.as_bytes()).await;
        assert_eq!(
            answer.status, 413,
            "{what}: no 100 Continue first: {answer:?}"
        );
        assert!(!answer.head.contains("100 continue"), "{what}: {answer:?}");
        assert!(answer.is_problem(), "{what}: {answer:?}");
        assert_eq!(
            answer.json()["code"],
            "body_too_large",
            "{what}: {answer:?}"
        );
        let detail = answer.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains(&length.to_string()) && detail.contains("max_body_bytes"),
            "{what}: {detail}"
        );
    }
    // a declared length the broker accepts is read as usual
    let body = serde_json::to_vec(&json!({"date_of_birth": common::born_years_ago(8)})).unwrap();
    let request = format!(
        "POST /v1/subjects HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
        w.sw,
        body.len(),
        String::from_utf8(body).unwrap()
    );
    assert_eq!(
        common::db::snapshot(&w.server.state.db, "subjects").await,
        before,
        "the refusals stored and audited nothing"
    );
    let answer = w.server.raw_exchange("csc", request.as_bytes()).await;
    assert_eq!(answer.status, 201, "{answer:?}");
    w.stop().await;
}

#[tokio::test]
async fn a_content_length_beyond_what_hyper_can_represent_gets_hypers_own_empty_answer() {
    let w = World::start().await;
    let before = common::audit_head(&w.server).await;
    // hyper parses the length before the broker sees the request: beyond 2^64 - 1 (or not a
    // number) it is malformed framing (400), and 2^64 - 2 and 2^64 - 1 are more than hyper
    // can count (431); both with no body, and the connection closed (README, Limits)
    for (length, status) in [
        ("100000000000000000000", 400),
        ("-1", 400),
        ("18446744073709551615", 431),
        ("18446744073709551614", 431),
    ] {
        let raw = format!(
            "POST /v1/subjects HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n{{}}",
            w.sw
        );
        let answer = w.server.raw_exchange("csc", raw.as_bytes()).await;
        assert_eq!(answer.status, status, "{length}: {answer:?}");
        assert!(answer.body.is_empty(), "{length}: {answer:?}");
    }
    assert_eq!(common::audit_head(&w.server).await, before);
    let r = w.csc.get("/v1/inbox", &w.sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    w.stop().await;
}
