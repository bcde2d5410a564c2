//! Requests for information (PROCESS.md, Meetings, actions and requests for information) over
//! mTLS on the configured database: the lead agency of a child's open case asks another agency
//! for information; both list it; an open request past its due time is overdue; a disclosure
//! that names the request answers it (late when after the due time), a mismatched one is
//! refused and a denied one answers nothing; the addressee declines with a reason; only the
//! lead asks; bad input is 422 naming the field and writes nothing; the note and the reason
//! never reach the audit log.

mod common;

use broker::vocab::Role;
use chrono::{Duration, Utc};
use common::World;
use common::cases::{ago, at};
use common::db::exec;
use common::flows::{count, head_seq, problem, problem_naming, with};
use common::world::Person;
use serde_json::{Value, json};

const NOTE: &str = "Strategy meeting on Friday: please share what you know of the family.";
const REASON: &str = "We hold nothing about this child beyond a registration.";

/// A world with csc's case open for the Hillside pupil, and the people of the scenario.
struct Scene {
    w: World,
    case: String,
    /// csc's social worker, who leads the case.
    sw: Person,
    /// The addressee: health's practitioner.
    hp: Person,
}

impl Scene {
    async fn start() -> Scene {
        let w = World::start().await;
        let case = w.opened(&w.child, ago(Duration::days(2))).await;
        let sw = w.social_worker();
        let hp = w
            .server
            .person("health", "hp.jones", Role::HealthPractitioner);
        Scene { w, case, sw, hp }
    }

    /// A request to health about the pupil, due in `due`.
    fn body(&self, due: Duration) -> Value {
        json!({"subject_id": self.w.child, "to_agency": "health", "purpose": "assessment",
               "sections": ["summary", "health_clinical"], "due_at": at(Utc::now() + due),
               "note": NOTE})
    }

    /// The lead asks health; insists on 201 and returns the request's id.
    async fn asked(&self) -> String {
        let r = self
            .sw
            .post("/v1/requests", &self.body(Duration::days(7)))
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        let body = r.json();
        assert_eq!(body["status"], "open", "{body}");
        assert_eq!(body["case_id"], self.case.as_str(), "{body}");
        body["id"].as_str().expect("an id").to_owned()
    }

    /// `who`'s list with `query`; insists on 200.
    async fn list(&self, who: &Person, query: &str) -> Vec<Value> {
        let r = who.get(&format!("/v1/requests{query}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["requests"].as_array().expect("a list").clone()
    }

    /// Request `id` in `who`'s list.
    async fn seen(&self, who: &Person, id: &str) -> Value {
        self.list(who, "")
            .await
            .into_iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not in {}'s list", who.agency))
    }

    /// Health holds an incident report about the pupil and the parent consents to share for an
    /// assessment with children's social care: the record's id.
    async fn health_record(&self) -> String {
        self.hp
            .consent(
                &self.w.child,
                "parent",
                &["assessment"],
                &["children_social_care"],
            )
            .await;
        self.hp
            .deposit(
                &self.w.child,
                "incident_report",
                json!({"summary": "seen in A&E"}),
            )
            .await
    }

    /// Health's disclosure of `record` to csc's social worker naming `request`.
    fn answer(&self, record: &str, request: &str) -> Value {
        json!({"record_ids": [record], "recipient_agency": "csc",
               "recipient_role": "social_worker", "purpose": "assessment", "basis": "consent",
               "request_id": request})
    }

    /// Moves request `id`'s due time into the past, as if it had waited.
    async fn overdue(&self, id: &str) {
        let past = broker::db::ts(Utc::now() - Duration::hours(1));
        let sql = format!("UPDATE info_requests SET due_at = '{past}' WHERE id = '{id}'");
        exec(&self.w.server.state.db, &sql).await;
    }
}

#[tokio::test]
async fn the_lead_asks_the_addressee_lists_it_and_a_disclosure_naming_it_answers_it() {
    let s = Scene::start().await;
    let id = s.asked().await;

    // the addressee lists it, with the note and the child named; not overdue
    let to_me = s.list(&s.hp, "?direction=to").await;
    assert_eq!(to_me.len(), 1, "{to_me:?}");
    let r = &to_me[0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["from_agency"], "csc");
    assert_eq!(r["from_sub"], "sw.amara");
    assert_eq!(r["purpose"], "assessment");
    assert_eq!(r["sections"], json!(["summary", "health_clinical"]));
    assert_eq!(r["note"], NOTE);
    assert_eq!(r["overdue"], false);
    assert!(r["child"]["date_of_birth"].is_string(), "{r}");
    assert!(s.list(&s.hp, "?direction=from").await.is_empty());
    // the requester lists it as asked; another agency does not see it
    assert_eq!(s.list(&s.sw, "?direction=from").await.len(), 1);
    assert!(s.list(&s.sw, "?direction=to").await.is_empty());
    let police = s.w.server.person("police", "pc.hale", Role::PoliceOfficer);
    assert!(s.list(&police, "").await.is_empty());
    // the case lists it
    let case = s.w.read(&s.case).await;
    assert_eq!(case["requests"][0]["id"], id.as_str(), "{case}");
    assert_eq!(case["requests"][0]["status"], "open");
    let ig =
        s.w.server
            .person("partnership", "ig.okoye", Role::IgOfficer);
    let r = ig.get(&format!("/v1/cases/{}", s.case)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["requests"][0]["id"],
        id.as_str(),
        "the partnership sees it"
    );

    // answered by a disclosure that names it, in the same action
    let record = s.health_record().await;
    let r = s.hp.disclose(&s.answer(&record, &id)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let disclosure = r.json()["disclosure_id"].as_str().unwrap().to_owned();
    let answered = s.seen(&s.sw, &id).await;
    assert_eq!(answered["status"], "answered", "{answered}");
    assert_eq!(answered["disclosure_id"], disclosure.as_str());
    assert_eq!(answered["answered_late"], false);
    assert!(answered["answered_at"].is_string());
    assert_eq!(s.list(&s.hp, "?status=open").await.len(), 0);
    assert_eq!(s.list(&s.hp, "?status=answered").await.len(), 1);

    // a closed request is answered or declined no more (409), and nothing more is sent
    let packets = count(&s.w.server, "packets").await;
    problem(
        &s.hp.disclose(&s.answer(&record, &id)).await,
        409,
        "request_closed",
    );
    assert_eq!(count(&s.w.server, "packets").await, packets);
    problem(
        &s.hp
            .post(
                &format!("/v1/requests/{id}/decline"),
                &json!({"reason": REASON}),
            )
            .await,
        409,
        "request_closed",
    );

    // audited, without the note
    let actions = s.w.audit_text().await;
    for action in ["request.create", "request.list", "request.answer"] {
        assert!(actions.contains(action), "{action} is audited: {actions}");
    }
    assert!(
        !actions.contains(NOTE),
        "the note never reaches the audit log"
    );
    let stored: Vec<u8> = broker::with_db!(&s.w.server.state.db, pool => {
        sqlx::query_scalar("SELECT note_enc FROM info_requests WHERE id = $1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .expect("the stored note")
    });
    assert!(
        !String::from_utf8_lossy(&stored).contains("Strategy meeting"),
        "the note is sealed at rest"
    );
    s.w.stop().await;
}

#[tokio::test]
async fn an_open_request_past_its_due_time_is_overdue_and_a_late_answer_is_flagged() {
    let s = Scene::start().await;
    let id = s.asked().await;
    let other = s.asked().await;
    assert!(s.list(&s.hp, "?overdue=true").await.is_empty());
    s.overdue(&id).await;

    let overdue = s.list(&s.hp, "?overdue=true").await;
    assert_eq!(overdue.len(), 1, "{overdue:?}");
    assert_eq!(overdue[0]["id"], id.as_str());
    assert_eq!(overdue[0]["overdue"], true);
    assert_eq!(s.seen(&s.sw, &id).await["overdue"], true);
    assert_eq!(s.seen(&s.sw, &other).await["overdue"], false);
    let case = s.w.read(&s.case).await;
    let listed = case["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("the case lists it")
        .clone();
    assert_eq!(listed["overdue"], true, "{listed}");

    let record = s.health_record().await;
    let r = s.hp.disclose(&s.answer(&record, &id)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let late = s.seen(&s.sw, &id).await;
    assert_eq!(late["status"], "answered");
    assert_eq!(late["overdue"], false, "answered is not overdue");
    assert_eq!(late["answered_late"], true, "answered after its due time");
    assert!(s.list(&s.hp, "?overdue=true").await.is_empty());
    s.w.stop().await;
}

#[tokio::test]
async fn a_disclosure_naming_a_request_it_does_not_answer_is_refused_and_a_denial_answers_nothing()
{
    let s = Scene::start().await;
    let id = s.asked().await;
    let record = s.health_record().await;
    let other = s.w.another_child().await;
    let elsewhere =
        s.hp.deposit(
            &other,
            "incident_report",
            json!({"summary": "another child"}),
        )
        .await;
    let police = s.w.server.person("police", "pc.hale", Role::PoliceOfficer);
    let police_record = police
        .deposit(&s.w.child, "police_notification", json!({"summary": "s"}))
        .await;
    let seq = head_seq(&s.w.server).await;
    let packets = count(&s.w.server, "packets").await;

    // to another recipient than the agency that asked
    let to_police = with(
        s.answer(&record, &id),
        json!({"recipient_agency": "police", "recipient_role": "police_officer"}),
    );
    problem_naming(
        &s.hp.disclose(&to_police).await,
        422,
        "request_mismatch",
        &["request_id"],
    );
    // a record about another child
    problem(
        &s.hp.disclose(&s.answer(&elsewhere, &id)).await,
        422,
        "request_mismatch",
    );
    // by the agency that asked, not the one asked
    let by_csc = json!({"record_ids": [s.w.record], "recipient_agency": "csc",
        "recipient_role": "team_manager", "purpose": "assessment", "basis": "consent",
        "request_id": id});
    problem(&s.sw.disclose(&by_csc).await, 422, "request_mismatch");
    // unknown, or a request the caller's agency neither asked nor received: 404 alike
    let unknown = broker::ids::RequestId::new().to_string();
    problem(
        &s.hp.disclose(&s.answer(&record, &unknown)).await,
        404,
        "not_found",
    );
    let by_police = with(
        s.answer(&police_record, &id),
        json!({"basis": "crime_prevention"}),
    );
    problem(&police.disclose(&by_police).await, 404, "not_found");
    // the dry run checks it too
    let r = s.hp.post("/v1/decisions", &to_police).await;
    problem(&r, 422, "request_mismatch");
    assert_eq!(
        head_seq(&s.w.server).await,
        seq,
        "a mismatch audits nothing"
    );
    assert_eq!(count(&s.w.server, "packets").await, packets);

    // a denied disclosure naming it (no consent to health care) leaves it open
    let denied = with(s.answer(&record, &id), json!({"purpose": "health_care"}));
    let r = s.hp.disclose(&denied).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["decision"], "deny");
    assert_eq!(s.seen(&s.hp, &id).await["status"], "open");
    s.w.stop().await;
}

#[tokio::test]
async fn the_addressee_declines_with_a_reason_and_no_one_else_may() {
    let s = Scene::start().await;
    let id = s.asked().await;
    let decline = format!("/v1/requests/{id}/decline");

    for blank in [json!({"reason": "  "}), json!({})] {
        let r = s.hp.post(&decline, &blank).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.text().contains("reason"), "{}", r.text());
    }
    problem(
        &s.sw.post(&decline, &json!({"reason": REASON})).await,
        403,
        "not_request_addressee",
    );
    let police = s.w.server.person("police", "pc.hale", Role::PoliceOfficer);
    problem(
        &police.post(&decline, &json!({"reason": REASON})).await,
        404,
        "not_found",
    );
    assert_eq!(s.seen(&s.hp, &id).await["status"], "open");

    let r = s.hp.post(&decline, &json!({"reason": REASON})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "declined");
    let declined = s.seen(&s.sw, &id).await;
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["reason"], REASON);
    assert!(declined["declined_at"].is_string());
    problem(
        &s.hp.post(&decline, &json!({"reason": REASON})).await,
        409,
        "request_closed",
    );
    // declined, it is answered no more
    let record = s.health_record().await;
    problem(
        &s.hp.disclose(&s.answer(&record, &id)).await,
        409,
        "request_closed",
    );

    let audit = s.w.audit_text().await;
    assert!(audit.contains("request.decline"), "{audit}");
    assert!(
        !audit.contains(REASON),
        "the reason never reaches the audit log"
    );
    s.w.stop().await;
}

#[tokio::test]
async fn only_the_lead_agency_of_the_childs_open_case_asks() {
    let s = Scene::start().await;
    let body = s.body(Duration::days(7));
    let other = s.w.another_child().await;
    let rows = count(&s.w.server, "info_requests").await;
    let seq = head_seq(&s.w.server).await;

    // a role no row allows
    let police = s.w.server.person("police", "pc.hale", Role::PoliceOfficer);
    problem(
        &police.post("/v1/requests", &body).await,
        403,
        "role_not_permitted",
    );
    // another council's social worker: the child is not theirs to know of (404, as unknown)
    let south =
        s.w.server
            .person("csc-south", "sw.south", Role::SocialWorker);
    let r = south.post("/v1/requests", &body).await;
    let unknown = with(
        body.clone(),
        json!({"subject_id": broker::ids::SubjectId::new().to_string()}),
    );
    let r2 = s.sw.post("/v1/requests", &unknown).await;
    problem(&r, 404, "not_found");
    problem(&r2, 404, "not_found");
    // a child whose case the lead has not opened, or has closed
    let no_case = with(body.clone(), json!({"subject_id": other}));
    problem(&s.sw.post("/v1/requests", &no_case).await, 404, "not_found");
    assert_eq!(count(&s.w.server, "info_requests").await, rows);
    assert_eq!(head_seq(&s.w.server).await, seq, "a refusal audits nothing");

    // the lead's team manager asks too
    let tm = s.w.server.person("csc", "tm.reid", Role::TeamManager);
    let r = tm.post("/v1/requests", &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    s.w.close_with_outcome(&s.case, ago(Duration::hours(1)))
        .await;
    problem(&s.sw.post("/v1/requests", &body).await, 404, "not_found");
    s.w.stop().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let s = Scene::start().await;
    let good = s.body(Duration::days(7));
    let rows = count(&s.w.server, "info_requests").await;
    let seq = head_seq(&s.w.server).await;
    let past = at(Utc::now() - Duration::days(1));
    for (change, field) in [
        (json!({"purpose": "gossip"}), "gossip"),
        (json!({"sections": ["diary"]}), "diary"),
        (json!({"sections": []}), "sections"),
        (json!({"sections": ["summary", "summary"]}), "sections"),
        (json!({"to_agency": "nowhere"}), "to_agency"),
        (json!({"to_agency": "csc"}), "to_agency"),
        (json!({"due_at": past}), "due_at"),
        (json!({"due_at": "next week"}), "due_at"),
        (json!({"urgency": "high"}), "urgency"),
    ] {
        let r =
            s.sw.post("/v1/requests", &with(good.clone(), change.clone()))
                .await;
        assert_eq!(r.status, 422, "{change}: {}", r.text());
        assert!(
            r.text().contains(field),
            "{change} names {field}: {}",
            r.text()
        );
    }
    let r = s.sw.get("/v1/requests?direction=sideways").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = s.sw.get("/v1/requests?limit=0").await;
    problem(&r, 400, "invalid_query");
    assert_eq!(count(&s.w.server, "info_requests").await, rows);
    assert_eq!(head_seq(&s.w.server).await, seq, "a refusal audits nothing");
    s.w.stop().await;
}
