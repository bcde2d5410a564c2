//! Duties to notify (PROCESS.md; policies/duties.csv) over mTLS: every shipped duty carried
//! out as a notification-view disclosure in the same action as its trigger, its packet opened
//! by the recipient, and, under a policy that refuses it, kept on the case as denied with its
//! reasons, audited, counted in the timeliness report, with no packet.

mod common;

use broker::vocab::Role;
use chrono::Duration;
use common::TestServer;
use common::cases::*;
use common::flows::{self, count};
use serde_json::{Value, json};

/// The child's risk plan disclosed to camhs (significant harm), so camhs is a previous
/// recipient; the school is the child's recorded school.
async fn camhs_has_received(w: &World) {
    let mut req = flows::request(
        &w.record,
        "camhs",
        Some("camhs_clinician"),
        "safeguarding",
        "significant_harm",
    );
    req["justification"] =
        json!("Immediate risk to a younger sibling at home; CAMHS must plan today.");
    let r = flows::disclose(&w.csc, &w.sw, &req).await;
    assert_eq!(r.status, 201, "{}", r.text());
}

use common::flows::duty_rows as duties;

/// `body` deposited (`POST /v1/records`) by `agency` with `token`: the answer.
async fn deposit(w: &World, agency: &str, token: &str, body: Value) -> broker::client::Response {
    w.server
        .client(agency)
        .post("/v1/records", token, &body)
        .await
        .expect("depositing a record")
}

/// The case for `w`'s child, opened on a referral three hours ago: the answer, with its duties.
async fn opened_three_hours_ago(w: &World) -> Value {
    let r = w
        .open(&w.child, "harmful_behaviour", ago(Duration::hours(3)), &[])
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn t(duty: &str, agency: &str, decision: &str) -> (String, String, String) {
    (duty.into(), agency.into(), decision.into())
}

fn disclosure_of(v: &Value, duty: &str) -> String {
    v["duties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["duty"] == duty)
        .and_then(|d| d["disclosure_id"].as_str())
        .unwrap_or_else(|| panic!("{duty} delivered: {v}"))
        .to_owned()
}

/// The notice of `duty` in `answer`, opened by `agency`'s person holding `token`: a
/// notification of that duty.
async fn notice_of(w: &World, agency: &str, token: &str, answer: &Value, duty: &str) -> Value {
    let notice = flows::open_packet(&w.server, agency, token, &disclosure_of(answer, duty)).await;
    assert_eq!(notice["view"], "notification", "{notice}");
    assert_eq!(notice["notifies"]["duty"], duty, "{notice}");
    notice
}

#[tokio::test]
async fn opening_a_case_and_convening_a_strategy_meeting_notify_the_school_and_the_agencies_involved()
 {
    let w = World::start().await;
    camhs_has_received(&w).await;
    let packets = count(&w.server, "packets").await;
    let opened = opened_three_hours_ago(&w).await;
    assert_eq!(
        duties(&opened),
        [
            t("involvement_school", "school-hillside", "permit"),
            t("involvement_agencies", "camhs", "permit"),
        ],
        "{opened}"
    );
    assert_eq!(
        count(&w.server, "packets").await,
        packets + 2,
        "one packet per notice, in the same action"
    );

    // the DSL opens the notice: it says a case is led by csc and carries no record content
    let dsl = w.server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let notice = notice_of(&w, "school-hillside", &dsl, &opened, "involvement_school").await;
    assert_eq!(notice["notifies"]["lead_agency"], "csc", "{notice}");
    assert_eq!(notice["notifies"]["lead_sub"], "sw.amara", "{notice}");
    // named for people: the agency that leads, and the child the notice is about
    assert_eq!(
        notice["notifies"]["lead_agency_name"], "Northshire Children's Social Care",
        "{notice}"
    );
    assert!(notice["child"]["date_of_birth"].is_string(), "{notice}");
    assert!(
        notice["child"]
            .as_object()
            .is_some_and(|c| c.contains_key("display_name")),
        "the child's name is named, null when none was given: {notice}"
    );
    let text = notice.to_string();
    assert!(
        !text.contains("\"risk_management\":\"r\""),
        "no section content: {text}"
    );
    assert!(
        !text.contains(opened["id"].as_str().unwrap()),
        "no case id in a packet: {text}"
    );

    // each notice is a decision in the audit log, like any disclosure
    let audited: Vec<(String, String)> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_as("SELECT recipient_agency, decision FROM audit_log WHERE action = 'disclosure' \
            AND detail LIKE '%\"duty\"%' ORDER BY seq")
            .fetch_all(pool).await.unwrap()
    });
    assert_eq!(
        audited,
        [
            ("school-hillside".into(), "permit".into()),
            ("camhs".into(), "permit".into())
        ]
    );

    // convening the strategy meeting keeps every agency that has received a disclosure informed
    let id = opened["id"].as_str().unwrap().to_owned();
    let r = w
        .event(
            &id,
            json!({"kind": "strategy_meeting_held", "occurred_at": at(ago(Duration::hours(1)))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        duties(&r.json()),
        [
            t("strategy_meeting_convened", "camhs", "permit"),
            t("strategy_meeting_convened", "school-hillside", "permit"),
        ],
        "{}",
        r.text()
    );
    let case = w.read(&id).await;
    assert_eq!(
        duties(&case).len(),
        4,
        "every duty is listed on the case: {case}"
    );
    assert_eq!(case["duties"][0]["trigger"], "case_opened");
    assert_eq!(case["duties"][3]["trigger"], "event:strategy_meeting_held");
    let tm = w.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let report = w
        .csc
        .get("/v1/reports/timeliness", &tm)
        .await
        .unwrap()
        .json();
    assert_eq!(
        report["duties"],
        json!({"delivered": 4, "denied": 0}),
        "{report}"
    );
}

/// A notice about a child under MAPPA management is a disclosure on `legal_obligation`, so the
/// forum that manages the child is told of it (RULES 5), in the same action: its own packet to
/// the MAPPA coordinator, its own audit entry pointing at the notice's.
#[tokio::test]
async fn a_notice_about_a_child_under_mappa_tells_the_forum_in_the_same_action() {
    let w = World::start().await;
    let coordinator = w
        .server
        .person("mappa", "coord.lee", Role::MappaCoordinator);
    let status = json!({"active": true, "category": 1, "level": 2});
    let r = coordinator
        .put(&format!("/v1/subjects/{}/mappa", w.child), &status)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let packets = count(&w.server, "packets").await;
    let opened = opened_three_hours_ago(&w).await;
    assert_eq!(
        duties(&opened),
        [t("involvement_school", "school-hillside", "permit")],
        "{opened}"
    );
    assert_eq!(
        count(&w.server, "packets").await,
        packets + 2,
        "the notice and the forum's notification, in the same action"
    );
    let notice = disclosure_of(&opened, "involvement_school");
    let entries: Vec<(i64, String)> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_as("SELECT seq, detail FROM audit_log WHERE action = 'disclosure' ORDER BY seq")
            .fetch_all(pool).await.unwrap()
    });
    let detail = |i: usize| -> Value { serde_json::from_str(&entries[i].1).unwrap() };
    assert_eq!(entries.len(), 2, "{entries:?}");
    let (told, forum) = (detail(0), detail(1));
    assert_eq!(told["disclosure_id"], json!(notice), "{told}");
    assert_eq!(told["notify_mappa"]["notified"], true, "{told}");
    assert_eq!(told["notify_mappa"]["mappa_agency"], "mappa", "{told}");
    assert_eq!(
        forum["notifies"]["audit_seq"],
        json!(entries[0].0),
        "{forum}"
    );
    let to_forum = told["notify_mappa"]["disclosure_id"]
        .as_str()
        .unwrap_or_else(|| panic!("the forum's packet: {told}"));
    let coord = w
        .server
        .token("mappa", "coord.lee", &[Role::MappaCoordinator]);
    let packet = flows::open_packet(&w.server, "mappa", &coord, to_forum).await;
    assert_eq!(packet["view"], "notification", "{packet}");
    assert_eq!(
        packet["notifies"]["disclosure_id"],
        json!(notice),
        "{packet}"
    );
    assert_eq!(
        packet["notifies"]["to_agency"], "school-hillside",
        "{packet}"
    );

    // the forum, told of the notice, is now an agency that has received a disclosure about the
    // child: the strategy meeting's notice goes to it too, and it is not told again of that
    // notice by a second packet (its own packet tells it)
    let case = opened["id"].as_str().unwrap();
    let packets = count(&w.server, "packets").await;
    let r = w
        .event(
            case,
            json!({"kind": "strategy_meeting_held", "occurred_at": at(ago(Duration::hours(1)))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        duties(&r.json()),
        [
            t("strategy_meeting_convened", "mappa", "permit"),
            t("strategy_meeting_convened", "school-hillside", "permit"),
        ],
        "{}",
        r.text()
    );
    assert_eq!(
        count(&w.server, "packets").await,
        packets + 3,
        "two notices and the forum's notification of the school's"
    );
    let to_forum: String = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'disclosure' \
            AND recipient_agency = 'mappa' AND detail LIKE '%strategy_meeting_convened%'")
            .fetch_one(pool).await.unwrap()
    });
    let to_forum: Value = serde_json::from_str(&to_forum).unwrap();
    assert_eq!(
        to_forum["notify_mappa"],
        json!({"notified": true, "mappa_agency": "mappa", "as_recipient": true}),
        "{to_forum}"
    );
}

#[tokio::test]
async fn a_merlin_notice_and_a_court_decision_go_out_when_deposited_with_a_case_open_or_none() {
    let w = World::start().await;
    camhs_has_received(&w).await;
    let case = w.opened(&w.child, ago(Duration::hours(5))).await;
    let pc = w.server.token("police", "pc.evans", &[Role::PoliceOfficer]);
    let r = deposit(&w, "police", &pc, json!({"subject_id": w.child, "kind": "police_notification",
            "subject_role": "harmful_behaviour", "sections": {"summary": "MERLIN 24/1234", "police_intelligence": "arrest"}})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        duties(&r.json()),
        [
            t("merlin_youth_support", "yos", "permit"),
            t("merlin_contact_service", "csc", "permit"),
        ],
        "{}",
        r.text()
    );
    let yos = w.server.token("yos", "yos.ahmed", &[Role::YosWorker]);
    let id = r.json()["duties"][0]["disclosure_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let notice = flows::open_packet(&w.server, "yos", &yos, &id).await;
    assert_eq!(notice["view"], "notification", "{notice}");
    assert!(
        !notice.to_string().contains("arrest"),
        "no section content: {notice}"
    );

    // the youth offending service deposits the court's decision: every agency that has
    // received a disclosure about the child is told (camhs, csc, which the MERLIN notice reached,
    // and the school; yos itself not)
    let r = deposit(&w, "yos", &yos, json!({"subject_id": w.child, "kind": "court_outcome",
            "subject_role": "harmful_behaviour", "sections": {"summary": "Referral order, 9 months"}})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        duties(&r.json()),
        [
            t("court_decision", "camhs", "permit"),
            t("court_decision", "csc", "permit"),
            t("court_decision", "school-hillside", "permit"),
        ],
        "{}",
        r.text()
    );
    assert_eq!(
        duties(&w.read(&case).await).len(),
        7,
        "listed on the child's case"
    );

    assert_eq!(
        count(&w.server, "record_duties").await,
        0,
        "with a case open, nothing is listed on the record"
    );
    merlin_before_any_referral(&w).await;
}

/// A MERLIN notice about a child with no case open (before any referral) still goes to the
/// youth support service and the Contact Service; its duties are listed on the record and
/// counted in the timeliness report under the police, whose duty it was.
async fn merlin_before_any_referral(w: &World) {
    let other = w.another_child().await;
    let pc = w.server.token("police", "pc.evans", &[Role::PoliceOfficer]);
    let packets = count(&w.server, "packets").await;
    let r = deposit(
        w,
        "police",
        &pc,
        json!({"subject_id": other, "kind": "police_notification",
            "subject_role": "harmful_behaviour", "sections": {"summary": "MERLIN 24/5678"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let deposited = r.json();
    assert_eq!(
        duties(&deposited),
        [
            t("merlin_youth_support", "yos", "permit"),
            t("merlin_contact_service", "csc", "permit"),
        ],
        "{deposited}"
    );
    for d in deposited["duties"].as_array().unwrap() {
        assert_eq!(d["listed_on"], "record", "{d}");
        assert!(
            d["audit_seq"].as_i64() > deposited["audit_seq"].as_i64(),
            "the deposit is in the chain before the notices it sets off: {deposited}"
        );
    }
    assert_eq!(count(&w.server, "packets").await, packets + 2);
    let listed: Vec<(String, String, String, String)> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_as("SELECT record_id, subject_id, agency, duty FROM record_duties ORDER BY seq")
            .fetch_all(pool).await.unwrap()
    });
    let record = deposited["id"].as_str().unwrap();
    assert_eq!(
        listed,
        [
            (
                record.into(),
                other.clone(),
                "police".into(),
                "merlin_youth_support".into()
            ),
            (
                record.into(),
                other.clone(),
                "police".into(),
                "merlin_contact_service".into()
            ),
        ]
    );
    // the police see them on the record, with the record's disclosures
    let r = w
        .server
        .client("police")
        .get(&format!("/v1/records/{record}/disclosures"), &pc)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(duties(&r.json()), duties(&deposited), "{}", r.text());
    // the Contact Service's social worker opens it: a MERLIN about the child, no case yet
    let duty_sw = w.server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let notice = notice_of(w, "csc", &duty_sw, &deposited, "merlin_contact_service").await;
    assert_eq!(notice["notifies"]["lead_agency"], Value::Null, "{notice}");
    assert!(
        !notice.to_string().contains("24/5678"),
        "no section content: {notice}"
    );
    // a MERLIN about a child harmed goes to the front door only, not to youth offending
    let r = deposit(
        w,
        "police",
        &pc,
        json!({"subject_id": other, "kind": "police_notification",
            "subject_role": "victim", "sections": {"summary": "MERLIN 24/5679"}}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        duties(&r.json()),
        [t("merlin_contact_service", "csc", "permit")],
        "{}",
        r.text()
    );
    let ig = w
        .server
        .token("partnership", "ig.patel", &[Role::IgOfficer]);
    let report = |agency: &'static str| {
        let ig = ig.clone();
        let client = w.server.client("partnership");
        async move {
            client
                .get(&format!("/v1/reports/timeliness?agency={agency}"), &ig)
                .await
                .unwrap()
                .json()
        }
    };
    assert_eq!(
        report("police").await["duties"],
        json!({"delivered": 3, "denied": 0}),
        "the police's duties, listed on its record"
    );
    assert_eq!(
        report("csc").await["duties"],
        json!({"delivered": 7, "denied": 0}),
        "the duties listed on csc's case"
    );

    // the Contact Service opens a case for the child: it shows the duties carried out before it
    let case = w.opened(&other, ago(Duration::hours(1))).await;
    let shown = w.read(&case).await;
    let before: Vec<(String, String, String)> = shown["record_duties"]
        .as_array()
        .unwrap_or_else(|| panic!("record_duties is a list: {shown}"))
        .iter()
        .map(|d| {
            let text = |k: &str| d[k].as_str().unwrap_or_default().to_owned();
            (text("duty"), text("recipient_agency"), text("record_id"))
        })
        .collect();
    let victim_record = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        before,
        [
            (
                "merlin_youth_support".into(),
                "yos".into(),
                record.to_owned()
            ),
            (
                "merlin_contact_service".into(),
                "csc".into(),
                record.to_owned()
            ),
            ("merlin_contact_service".into(), "csc".into(), victim_record),
        ],
        "{shown}"
    );
}

#[tokio::test]
async fn a_duty_the_rules_refuse_is_kept_denied_with_its_reasons_audited_and_counted() {
    // a partnership whose bases.csv refuses legal_obligation to every recipient
    let server = TestServer::start_with_policy(|dir| {
        let path = dir.join("bases.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("p, legal_obligation, *, *, deny\n");
        std::fs::write(&path, text).unwrap();
    })
    .await;
    let w = World::on(server, common::world::short_plan()).await;
    camhs_has_received(&w).await;
    let packets = count(&w.server, "packets").await;
    let r = w
        .open(&w.child, "harmful_behaviour", ago(Duration::hours(2)), &[])
        .await;
    assert_eq!(
        r.status,
        201,
        "the case opens although its duties are refused: {}",
        r.text()
    );
    let opened = r.json();
    let id = opened["id"].as_str().unwrap().to_owned();
    assert_eq!(
        duties(&opened),
        [
            t("involvement_school", "school-hillside", "deny"),
            t("involvement_agencies", "camhs", "deny"),
        ]
    );
    let r = w
        .event(
            &id,
            json!({"kind": "strategy_meeting_held", "occurred_at": at(ago(Duration::hours(1)))}),
        )
        .await;
    assert_eq!(
        duties(&r.json()),
        [t("strategy_meeting_convened", "camhs", "deny")],
        "{}",
        r.text()
    );
    let pc = w.server.token("police", "pc.evans", &[Role::PoliceOfficer]);
    let r = deposit(
        &w,
        "police",
        &pc,
        json!({"subject_id": w.child, "kind": "police_notification",
            "subject_role": "harmful_behaviour", "sections": {"summary": "s"}}),
    )
    .await;
    assert_eq!(
        duties(&r.json()),
        [
            t("merlin_youth_support", "yos", "deny"),
            t("merlin_contact_service", "csc", "deny"),
        ],
        "{}",
        r.text()
    );
    let yos = w.server.token("yos", "yos.ahmed", &[Role::YosWorker]);
    let r = deposit(
        &w,
        "yos",
        &yos,
        json!({"subject_id": w.child, "kind": "court_outcome",
            "subject_role": "harmful_behaviour", "sections": {"summary": "s"}}),
    )
    .await;
    assert_eq!(
        duties(&r.json()),
        [t("court_decision", "camhs", "deny")],
        "{}",
        r.text()
    );

    assert_eq!(
        count(&w.server, "packets").await,
        packets,
        "a refused duty sends nothing"
    );
    let case = w.read(&id).await;
    assert_eq!(
        duties(&case).len(),
        6,
        "every refused duty is kept on the case: {case}"
    );
    for d in case["duties"].as_array().unwrap() {
        assert_eq!(
            d["reasons"],
            json!(["basis_not_permitted_for_recipient"]),
            "{d}"
        );
        assert_eq!(d["disclosure_id"], Value::Null, "{d}");
        assert!(d["audit_seq"].as_i64().is_some(), "{d}");
    }
    let denied: i64 = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'disclosure' \
            AND decision = 'deny' AND detail LIKE '%\"duty\"%'")
            .fetch_one(pool).await.unwrap()
    });
    assert_eq!(
        denied, 6,
        "each refusal is a denied decision in the audit log"
    );
    let ig = w
        .server
        .token("partnership", "ig.patel", &[Role::IgOfficer]);
    let report = w
        .server
        .client("partnership")
        .get("/v1/reports/timeliness", &ig)
        .await
        .unwrap()
        .json();
    assert_eq!(
        report["duties"],
        json!({"delivered": 0, "denied": 6}),
        "{report}"
    );
}
