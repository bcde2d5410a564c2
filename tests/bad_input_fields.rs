//! Every class of bad value in a request body gets its exact 4xx status, an RFC 9457
//! problem+json body with a `code` and a `detail` naming the field or value, and changes
//! nothing: neither the audit chain's head nor the rows of the table the request would have
//! written. Free text keeps its line breaks.

mod common;

use broker::vocab::Role;
use common::World;
use common::flows::today;
use common::refusal::{Case, Write::*};
use hyper::Method;
use serde_json::json;

/// The valid body of `write` sent as the social worker: the status and text of the answer.
async fn accepted(w: &World, write: common::refusal::Write) -> (u16, String) {
    let (path, body, _) = w.valid(write);
    let r = w.csc.post(&path, &w.sw, &body).await.unwrap();
    (r.status.as_u16(), r.text())
}

#[tokio::test]
async fn an_unknown_field_is_refused_with_422_naming_it() {
    let w = World::start().await;
    for case in [
        w.invalid(Subject, "nickname", "Bee", &[]),
        w.invalid(Disclosure, "urgency", "high", &[]),
        w.invalid(Deposit, "author", "someone", &[]),
    ] {
        w.check(case).await;
    }
    // The same bodies without the stray field are accepted.
    let (status, text) = accepted(&w, Subject).await;
    assert_eq!(status, 201, "a subject: {text}");
    let (status, text) = accepted(&w, Disclosure).await;
    assert_eq!(status, 201, "a disclosure: {text}");
    let (status, text) = accepted(&w, Deposit).await;
    assert_eq!(status, 201, "a deposit: {text}");
    w.stop().await;
}

#[tokio::test]
async fn a_value_outside_the_vocabulary_is_refused_with_422_naming_the_value() {
    let w = World::start().await;
    let diary = json!({"diary": "dear diary"});
    for case in [
        w.invalid(Consent, "purposes", json!(["gossip"]), &["gossip"]),
        w.invalid(Consent, "recipient_kinds", json!(["circus"]), &["circus"]),
        w.invalid(Consent, "given_by", "neighbour", &["neighbour"]),
        w.invalid(Disclosure, "recipient_role", "janitor", &["janitor"]),
        w.invalid(Disclosure, "basis", "hunch", &["hunch"]),
        w.invalid(Deposit, "kind", "diary", &["diary"]),
        w.invalid(Deposit, "sections", diary, &["diary"]),
    ] {
        w.check(case).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn an_impossible_date_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    w.check(w.invalid(Subject, "date_of_birth", "2015-02-30", &[]))
        .await;
    let competence = format!("/v1/subjects/{}/competence", w.child);
    let body = json!({"assessment": "gillick", "outcome": true, "assessed_on": "2025-13-01"});
    w.check(
        Case::json(Method::POST, &competence, &body)
            .refused(422, "invalid_field", &["assessed_on"])
            .on("competence_assessments"),
    )
    .await;
    w.stop().await;
}

#[tokio::test]
async fn a_date_of_birth_in_the_future_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let next_month = (today() + chrono::Days::new(30)).to_string();
    w.check(w.invalid(Subject, "date_of_birth", next_month, &[]))
        .await;
    w.stop().await;
}

#[tokio::test]
async fn a_malformed_id_in_a_body_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let by_forum = json!({"basis": "mappa_decision", "mappa_decision_id": "forum-7"});
    for case in [
        w.invalid(
            Disclosure,
            "record_ids",
            json!(["x"]),
            &["record_ids[0]", "\"x\""],
        ),
        w.invalid(DryRun, "record_ids", json!(["x"]), &["record_ids[0]"]),
        w.invalid_body(Disclosure, by_forum, &["mappa_decision_id"]),
        w.invalid(Deposit, "subject_id", "x", &[]),
    ] {
        w.check(case).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_body_over_max_body_bytes_is_refused_with_413() {
    let w = World::start().await;
    assert_eq!(w.server.config.server.max_body_bytes, 1_048_576);
    let (path, mut deposit, _) = w.valid(Deposit);
    deposit["sections"] = json!({"summary": "x".repeat(1_100_000)});
    w.check(
        Case::json(Method::POST, &path, &deposit)
            .refused(413, "body_too_large", &[])
            .on("records"),
    )
    .await;
    // The connection and the broker are still fine afterwards.
    let r = w.csc.post(&path, &w.sw, &w.a_deposit()).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}

/// A MAPPA decision about the pupil for `changes` (the chair's body, otherwise valid).
fn mappa_decision(w: &World, changes: serde_json::Value) -> serde_json::Value {
    let expires = chrono::Utc::now() + chrono::Duration::days(30);
    let body = json!({"subject_id": w.child, "recipient_agency": "probation",
                      "purposes": ["mappa"], "sections": ["summary"], "decided_on": today(),
                      "expires_at": expires});
    common::flows::with(body, changes)
}

/// `changes` to a MAPPA decision, refused 422 naming `mentions`.
fn invalid_mappa_decision(w: &World, changes: serde_json::Value, mentions: &[&str]) -> Case {
    Case::json(
        Method::POST,
        "/v1/mappa/decisions",
        &mappa_decision(w, changes),
    )
    .refused(422, "invalid_field", mentions)
    .on("mappa_decisions")
}

#[tokio::test]
async fn an_unknown_recipient_agency_is_refused_with_422_naming_it() {
    let w = World::start().await;
    let nowhere = json!({"recipient_agency": "nowhere-school"});
    let named = ["recipient_agency", "nowhere-school"];
    for case in [
        w.invalid_body(Disclosure, nowhere.clone(), &named),
        w.invalid_body(DryRun, nowhere.clone(), &named),
        w.invalid(
            Subject,
            "school_agency",
            "nowhere-school",
            &["nowhere-school"],
        ),
    ] {
        w.check(case).await;
    }
    let chair = w.server.person("mappa", "chair.khan", Role::MappaChair);
    w.check_as(&chair, invalid_mappa_decision(&w, nowhere, &named))
        .await;
    w.stop().await;
}

#[tokio::test]
async fn an_unknown_subject_is_refused_with_404() {
    let w = World::start().await;
    let ghost = uuid::Uuid::new_v4().to_string();
    let competence = json!({"assessment": "gillick", "outcome": true, "assessed_on": today()});
    for (path, body, table) in [
        ("consents", w.a_consent(), "consents"),
        ("competence", competence, "competence_assessments"),
    ] {
        let path = format!("/v1/subjects/{ghost}/{path}");
        let case = Case::json(Method::POST, path, &body).refused(404, "not_found", &[&ghost]);
        w.check(case.on(table)).await;
    }
    let coordinator = w
        .server
        .person("mappa", "coord.lee", Role::MappaCoordinator);
    let status = json!({"active": true, "category": 1, "level": 1});
    let case = Case::json(Method::PUT, format!("/v1/subjects/{ghost}/mappa"), &status);
    let case = case.refused(404, "not_found", &[&ghost]).on("mappa_status");
    w.check_as(&coordinator, case).await;
    w.stop().await;
}

#[tokio::test]
async fn a_record_with_no_sections_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    w.check(w.invalid(Deposit, "sections", json!({}), &[]))
        .await;
    let chair = w.server.person("mappa", "chair.khan", Role::MappaChair);
    let none = json!({"sections": []});
    w.check_as(&chair, invalid_mappa_decision(&w, none, &["sections"]))
        .await;
    w.stop().await;
}

#[tokio::test]
async fn a_consent_that_has_already_expired_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let expired = "2020-01-01T00:00:00Z";
    w.check(w.invalid(Consent, "expires_at", expired, &[]))
        .await;
    w.stop().await;
}

#[tokio::test]
async fn a_mappa_category_of_four_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let coordinator = w
        .server
        .person("mappa", "coord.lee", Role::MappaCoordinator);
    let path = format!("/v1/subjects/{}/mappa", w.child);
    for (body, field) in [
        (
            json!({"active": true, "category": 4, "level": 2}),
            "category",
        ),
        (json!({"active": true, "category": 1, "level": 0}), "level"),
    ] {
        let case = Case::json(Method::PUT, &path, &body).refused(422, "invalid_field", &[field]);
        w.check_as(&coordinator, case.on("mappa_status")).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn a_nul_or_control_character_in_any_body_field_is_refused_with_422_naming_the_field() {
    let w = World::start().await;
    let nested = json!({"summary": {"text": "fine\nlines", "note": "\u{0}"}});
    let c1 = json!({"summary": "C1 \u{9b}31m"});
    let (urgently, clear) = (
        "needed \u{0} urgently, see notes",
        "clear the screen \u{1b}[2J",
    );
    let ids = json!([w.record, "x\u{7f}"]);
    for case in [
        w.invalid(Disclosure, "recipient_sub", "t.smith\u{0}", &["NUL"]),
        w.invalid(Disclosure, "justification", urgently, &["NUL"]),
        w.invalid(DryRun, "justification", clear, &["U+001B"]),
        w.invalid(
            Disclosure,
            "recipient_sub",
            "t.smith\nforged",
            &["line feed"],
        ),
        w.invalid(Disclosure, "record_ids", ids, &["record_ids[1]", "U+007F"]),
        w.invalid(Subject, "local_authority", "Leeds\u{0}", &["NUL"]),
        w.invalid(Subject, "display_name", "Bee\u{85}", &["U+0085"]),
        w.invalid(Subject, "display_name", "Bee\u{202e}dlihc", &["U+202E"]),
        w.invalid(
            Deposit,
            "sections",
            nested,
            &["sections.summary.note", "NUL"],
        ),
        w.invalid(Deposit, "sections", c1, &["sections.summary", "U+009B"]),
        w.invalid_body(Consent, json!({"note\u{0}": 1}), &["field name", "NUL"]),
    ] {
        w.check(case).await;
    }
    let head = w
        .server
        .person("school-hillside", "head.patel", Role::HeadTeacher);
    let designations = format!("/v1/subjects/{}/staff-designations", w.child);
    for (body, mentions) in [
        (
            json!({"staff_sub": "t.smith\u{0}", "reason": "lunch duty"}),
            ["staff_sub", "NUL"],
        ),
        (
            json!({"staff_sub": "t.smith", "reason": "lunch \u{1} duty"}),
            ["reason", "U+0001"],
        ),
    ] {
        let case = Case::json(Method::POST, &designations, &body);
        let case = case.refused(422, "invalid_field", &mentions);
        w.check_as(&head, case.on("staff_designations")).await;
    }
    w.stop().await;
}

#[tokio::test]
async fn free_text_keeps_its_line_breaks_and_tabs() {
    let w = World::start().await;
    let pasted = "First paragraph of the referral.\r\n\r\n\tSecond paragraph, indented.\n";
    let mut disclosure = w.to_dsl();
    disclosure["justification"] = json!(pasted);
    let r = w.disclose(&disclosure).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let seq = r.json()["audit_seq"].as_i64().unwrap();
    let stored = common::db::stored_justification(&w.server.state.db, seq).await;
    assert_eq!(stored.as_deref(), Some(pasted), "stored as sent");
    let mut deposit = w.a_deposit();
    deposit["sections"] = json!({"summary": "line one\nline two\ttab"});
    let r = w.csc.post("/v1/records", &w.sw, &deposit).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let head = w
        .server
        .person("school-hillside", "head.patel", Role::HeadTeacher);
    let r = head
        .designate(&w.child, "t.smith", "lunch duty\nand after-school club")
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}
