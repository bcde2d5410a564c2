//! The case process over mTLS (PROCESS.md, Cases and Clocks): opening, reading and listing
//! cases, events with their clocks in every status, outcomes and closing, link visibility, and
//! the bad-input list, each refusal a problem+json that writes nothing.

mod common;

use broker::vocab::Role;
use chrono::{DateTime, Duration, Utc};
use common::flows::{self, count, head_seq, problem};
use common::{TestServer, cases::*};
use serde_json::{Value, json};

/// `GET /v1/cases/{case}` by `agency` with `token`: the answer.
async fn read_as(w: &World, agency: &str, token: &str, case: &str) -> broker::client::Response {
    w.server
        .client(agency)
        .get(&format!("/v1/cases/{case}"), token)
        .await
        .expect("reading a case")
}

#[tokio::test]
async fn a_social_worker_opens_a_case_and_its_referral_clocks_start() {
    let w = World::start().await;
    let referral = Utc::now() - Duration::hours(1);
    let before = head_seq(&w.server).await;
    let r = w.open(&w.child, "harmful_behaviour", referral, &[]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let id = body["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        clock_names(&body["clocks"]),
        [
            "strategy_discussion",
            "initial_assessment",
            "strategy_meeting",
            "assessment"
        ],
        "only the clocks that start at the referral run: {body}"
    );
    assert!(
        body["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "pending" && c["stopped_at"].is_null()),
        "{body}"
    );
    // the child's school is told (a duty, policies/duties.csv): its decision is audited too
    let told = body["duties"].as_array().map_or(0, Vec::len) as i64;
    assert_eq!(told, 1, "{body}");
    assert_eq!(
        head_seq(&w.server).await,
        before + 1 + told,
        "opening is audited"
    );

    let case = w.read(&id).await;
    assert_eq!(case["subject_id"], w.child.as_str(), "{case}");
    assert_eq!(case["subject_role"], "harmful_behaviour");
    assert_eq!(case["lead_agency"], "csc");
    assert_eq!(
        case["lead_sub"], "sw.amara",
        "the lead worker defaults to the caller"
    );
    assert_eq!(case["status"], "open");
    assert_eq!(case["closed_at"], Value::Null);
    assert_eq!(case["events"], json!([]));
    assert_eq!(case["duties"][0]["duty"], "involvement_school", "{case}");
    assert_eq!(case["linked_case_ids"], json!([]));
    let discussion = clock(&case, "strategy_discussion");
    assert_eq!(
        parse(&discussion["due_at"]) - parse(&discussion["started_at"]),
        Duration::hours(48),
        "All Wales: a strategy discussion within 48 hours of the referral: {discussion}"
    );
    assert_eq!(
        head_seq(&w.server).await,
        before + 2 + told,
        "reading is audited"
    );
    let entries = w.audit_actions(&w.child).await;
    assert_eq!(entries, ["case.open", "case.read"], "{entries:?}");
}

#[tokio::test]
async fn a_case_shows_every_clock_status_pending_met_late_and_overdue() {
    let w = World::start().await;
    let referral = ago(Duration::days(20));
    let id = w.opened(&w.child, referral).await;
    // the initial assessment within its 7 days: met
    w.step(
        &id,
        "initial_assessment_completed",
        referral + Duration::days(2),
    )
    .await;
    // the strategy meeting 16 days after the referral, past its 8 working days: late
    w.step(&id, "strategy_meeting_held", referral + Duration::days(16))
        .await;
    let case = w.read(&id).await;
    assert_eq!(
        clock(&case, "strategy_discussion")["status"],
        "overdue",
        "{case}"
    );
    assert_eq!(
        clock(&case, "initial_assessment")["status"],
        "met",
        "{case}"
    );
    assert_eq!(clock(&case, "strategy_meeting")["status"], "late", "{case}");
    assert_eq!(clock(&case, "assessment")["status"], "pending", "{case}");
    // the minutes' clock started at the meeting and is still within its 5 working days
    let minutes = clock(&case, "minutes");
    assert_eq!(minutes["status"], "pending", "{case}");
    assert_eq!(parse(&minutes["started_at"]), referral + Duration::days(16));
    assert_eq!(
        parse(&clock(&case, "strategy_meeting")["stopped_at"]),
        referral + Duration::days(16)
    );
    // the event's answer carries the clocks as they now stand
    let r = w
        .event(&id, json!({"kind": "minutes_circulated", "occurred_at": at(Utc::now() - Duration::hours(1))}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["seq"], 3, "{}", r.text());
    let answered = json!({"clocks": r.json()["clocks"].clone()});
    assert_eq!(clock(&answered, "minutes")["status"], "met", "{answered}");
    let events = w.read(&id).await["events"].clone();
    assert_eq!(events.as_array().map(Vec::len), Some(3), "{events}");
    assert_eq!(events[0]["kind"], "initial_assessment_completed");
    assert_eq!(events[0]["sub"], "sw.amara");
}

#[tokio::test]
async fn the_morning_list_shows_only_open_cases_with_a_clock_past_due() {
    let w = World::start().await;
    let late = w.opened(&w.child, Utc::now() - Duration::days(3)).await;
    let other = w.another_child().await;
    let fresh = w.opened(&other, Utc::now() - Duration::hours(2)).await;
    let third = w.another_child().await;
    let closed = w.opened(&third, Utc::now() - Duration::days(5)).await;
    w.close_with_outcome(&closed, Utc::now() - Duration::days(4))
        .await;

    let overdue = w.list("?overdue=true").await;
    assert_eq!(ids(&overdue), std::slice::from_ref(&late), "{overdue}");
    let listed = &overdue["cases"][0];
    assert_eq!(
        clock(listed, "strategy_discussion")["status"],
        "overdue",
        "{listed}"
    );

    let all = w.list("").await;
    assert_eq!(
        ids(&all),
        [late.clone(), fresh.clone(), closed.clone()],
        "{all}"
    );
    let open = w.list("?status=open").await;
    assert_eq!(ids(&open), [late.clone(), fresh.clone()], "{open}");
    let closed_only = w.list("?status=closed").await;
    assert_eq!(
        ids(&closed_only),
        std::slice::from_ref(&closed),
        "{closed_only}"
    );
    assert_eq!(w.list("?lead_sub=nobody").await["cases"], json!([]));

    // paging: a full page names where the next starts
    let first = w.list("?limit=2").await;
    assert_eq!(ids(&first), [late.clone(), fresh.clone()], "{first}");
    let next = first["next_after"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = w.list(&format!("?limit=2&after={next}")).await;
    assert_eq!(ids(&second), [closed], "{second}");
    assert_eq!(second["next_after"], Value::Null);

    // the partnership's IG officer sees every agency's cases
    let ig = w
        .server
        .token("partnership", "ig.patel", &[Role::IgOfficer]);
    let r = w
        .server
        .client("partnership")
        .get("/v1/cases?overdue=true", &ig)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids(&r.json()), [late], "{}", r.text());
}

#[tokio::test]
async fn an_outcome_needs_its_rationale_and_a_case_closes_only_after_one() {
    let w = World::start().await;
    let referral = ago(Duration::days(4));
    let id = w.opened(&w.child, referral).await;
    let day = referral + Duration::days(1);
    let events_before = count(&w.server, "case_events").await;
    let seq_before = head_seq(&w.server).await;

    let r = w
        .event(&id, json!({"kind": "case_closed", "occurred_at": at(day)}))
        .await;
    problem(&r, 409, "outcome_required");
    let r = w
        .event(
            &id,
            json!({"kind": "outcome_recorded", "occurred_at": at(day),
            "outcome": "no_further_action", "rationale": "No concerns."}),
        )
        .await;
    problem(&r, 422, "rationale_too_short");
    assert!(
        r.json()["detail"].as_str().unwrap().contains("40"),
        "{}",
        r.text()
    );
    let r = w
        .event(
            &id,
            json!({"kind": "outcome_recorded", "occurred_at": at(day)}),
        )
        .await;
    problem(&r, 422, "outcome_missing");
    assert_eq!(
        count(&w.server, "case_events").await,
        events_before,
        "refusals write nothing"
    );
    assert_eq!(
        head_seq(&w.server).await,
        seq_before,
        "refusals are not audited as actions"
    );

    let rationale =
        "Strategy discussion found the behaviour developmentally typical; parents engaged.";
    let r = w
        .event(
            &id,
            json!({"kind": "outcome_recorded", "occurred_at": at(day),
            "outcome": "no_further_action", "rationale": rationale}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = w
        .event(
            &id,
            json!({"kind": "case_closed", "occurred_at": at(day + Duration::hours(2))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let case = w.read(&id).await;
    assert_eq!(case["status"], "closed", "{case}");
    assert_eq!(case["outcome"], "no_further_action");
    assert_eq!(parse(&case["closed_at"]), day + Duration::hours(2));
    assert_eq!(
        case["events"][0]["rationale"], rationale,
        "the lead agency reads the rationale"
    );
    // judged when it closed: the strategy discussion was not yet overdue then
    assert_eq!(
        clock(&case, "strategy_discussion")["status"],
        "pending",
        "{case}"
    );

    let r = w
        .event(
            &id,
            json!({"kind": "review_held", "occurred_at": at(Utc::now())}),
        )
        .await;
    problem(&r, 409, "case_closed");

    // the rationale is personal content: sealed at rest, never in the audit log
    let stored: Vec<u8> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_scalar("SELECT rationale_enc FROM case_events WHERE case_id = $1 AND seq = 1")
            .bind(&id)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(
        !String::from_utf8_lossy(&stored).contains("developmentally"),
        "sealed at rest"
    );
    let log = w.audit_text().await;
    assert!(
        !log.contains("developmentally"),
        "no rationale in the audit log"
    );
    // a child closed and referred again gets a new case
    let again = w
        .open(
            &w.child,
            "harmful_behaviour",
            Utc::now() - Duration::hours(1),
            &[],
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text());
}

#[tokio::test]
async fn the_two_childrens_cases_are_linked_and_the_link_shows_only_to_their_leads() {
    let w = World::start().await;
    let referral = Utc::now() - Duration::days(1);
    let harmer = w.opened(&w.child, referral).await;
    let victim_child = w.another_child().await;
    let r = w.open(&victim_child, "victim", referral, &[&harmer]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let victim = r.json()["id"].as_str().unwrap().to_owned();

    assert_eq!(
        w.read(&victim).await["linked_case_ids"],
        json!([harmer.clone()])
    );
    assert_eq!(
        w.read(&harmer).await["linked_case_ids"],
        json!([victim.clone()])
    );
    let ig = w
        .server
        .token("partnership", "ig.patel", &[Role::IgOfficer]);
    let r = read_as(&w, "partnership", &ig, &harmer).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["linked_case_ids"],
        json!([victim.clone()]),
        "{}",
        r.text()
    );

    // nobody else reads a case at all, so nobody else sees the link
    let police = w.server.token("police", "pc.evans", &[Role::PoliceOfficer]);
    let r = read_as(&w, "police", &police, &harmer).await;
    problem(&r, 403, "role_not_permitted");
    let dsl = w.server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let r = read_as(&w, "school-hillside", &dsl, &victim).await;
    problem(&r, 403, "role_not_permitted");

    // and never through a packet: the school's limited summary of the child carries no case
    let d = flows::disclose(
        &w.csc,
        &w.sw,
        &flows::request(
            &w.record,
            "school-hillside",
            Some("dsl"),
            "safeguarding",
            "consent",
        ),
    )
    .await;
    let disclosure = flows::permitted(
        &d,
        "limited_summary",
        &["summary", "risk_management"],
        &[],
        &[],
    );
    let packet = flows::open_packet(&w.server, "school-hillside", &dsl, &disclosure).await;
    let text = packet.to_string();
    assert!(
        !text.contains(&harmer) && !text.contains(&victim),
        "no case id in a packet: {text}"
    );
}

#[tokio::test]
async fn only_childrens_social_care_opens_cases_and_only_the_lead_records_their_steps() {
    let w = World::start().await;
    let referral = Utc::now() - Duration::days(1);
    let dsl = w.server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let r = w
        .server
        .client("school-hillside")
        .post(
            "/v1/cases",
            &dsl,
            &json!({"subject_id": w.child, "subject_role": "harmful_behaviour",
            "referral_received_at": at(referral)}),
        )
        .await
        .unwrap();
    problem(&r, 403, "role_not_permitted");
    assert_eq!(count(&w.server, "cases").await, 0);
    let id = w.opened(&w.child, referral).await;
    let police = w.server.token("police", "pc.evans", &[Role::PoliceOfficer]);
    let r = w
        .server
        .client("police")
        .post(
            &format!("/v1/cases/{id}/events"),
            &police,
            &json!({"kind": "strategy_discussion_held", "occurred_at": at(Utc::now())}),
        )
        .await
        .unwrap();
    problem(&r, 403, "role_not_permitted");
    let r = w
        .server
        .client("police")
        .get("/v1/cases", &police)
        .await
        .unwrap();
    problem(&r, 403, "role_not_permitted");
    // a team manager of the lead agency may, like its social workers
    let tm = w.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = w
        .csc
        .post(
            &format!("/v1/cases/{id}/events"),
            &tm,
            &json!({"kind": "strategy_discussion_held", "occurred_at": at(Utc::now())}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    // an unknown case and a malformed id
    let r = w
        .csc
        .get(&format!("/v1/cases/{}", uuid::Uuid::new_v4()), &w.sw)
        .await
        .unwrap();
    problem(&r, 404, "not_found");
    let r = w.csc.get("/v1/cases/not-an-id", &w.sw).await.unwrap();
    problem(&r, 400, "invalid_id");
}

#[tokio::test]
async fn a_case_led_by_another_agency_is_not_opened_again_and_is_hidden_from_others() {
    // early help is allowed to open cases in this partnership's policy, so two agencies can
    // lead cases
    let server = TestServer::start_with_policy(|dir| {
        let path = dir.join("actions.csv");
        let mut text = std::fs::read_to_string(&path).unwrap();
        for row in [
            "p, open_case, early_help, social_worker, *, allow",
            "p, read_case, early_help, social_worker, lead_agency, allow",
            "p, list_cases, early_help, social_worker, *, allow",
        ] {
            text.push_str(row);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
    })
    .await;
    let w = World::on(server, common::world::short_plan()).await;
    let id = w.opened(&w.child, Utc::now() - Duration::days(1)).await;
    let eh = w.server.client("early-help");
    let eh_sw = w
        .server
        .token("early-help", "sw.lee", &[Role::SocialWorker]);
    let before = (count(&w.server, "cases").await, head_seq(&w.server).await);
    let r = eh
        .post(
            "/v1/cases",
            &eh_sw,
            &json!({"subject_id": w.child, "subject_role": "harmful_behaviour",
            "referral_received_at": at(Utc::now() - Duration::hours(1))}),
        )
        .await
        .unwrap();
    let refusal = problem(&r, 409, "case_led_elsewhere");
    // which agency leads is a fact of a case early help may not read
    assert!(
        !refusal.to_string().contains("csc"),
        "the refusal names the lead agency: {refusal}"
    );
    assert_eq!(
        (count(&w.server, "cases").await, head_seq(&w.server).await),
        before
    );
    // early help may read cases it leads, and this one it does not: 404 as if absent
    let r = eh.get(&format!("/v1/cases/{id}"), &eh_sw).await.unwrap();
    problem(&r, 404, "not_found");
    let r = eh.get("/v1/cases", &eh_sw).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["cases"],
        json!([]),
        "another agency's cases are not listed"
    );
}

#[tokio::test]
async fn every_bad_input_is_refused_with_its_own_code_and_writes_nothing() {
    let w = World::start().await;
    let referral = Utc::now() - Duration::days(2);
    let id = w.opened(&w.child, referral).await;
    let now = Utc::now();
    let before = (
        count(&w.server, "cases").await,
        count(&w.server, "case_events").await,
    );
    let events: [(Value, u16, &str); 8] = [
        (
            json!({"kind": "tea_and_biscuits", "occurred_at": at(now)}),
            422,
            "unknown_event_kind",
        ),
        (
            json!({"kind": "outcome_recorded", "occurred_at": at(now), "outcome": "sent_to_bed",
            "rationale": "x".repeat(50)}),
            422,
            "unknown_outcome",
        ),
        (
            json!({"kind": "review_held", "occurred_at": at(now + Duration::days(1))}),
            422,
            "event_in_future",
        ),
        (
            json!({"kind": "review_held", "occurred_at": at(referral - Duration::hours(1))}),
            422,
            "event_before_referral",
        ),
        (
            json!({"kind": "review_held", "occurred_at": at(now), "outcome": "early_help"}),
            422,
            "outcome_not_expected",
        ),
        (
            json!({"kind": "review_held", "occurred_at": at(now), "record_id": uuid::Uuid::new_v4().to_string()}),
            422,
            "unknown_record",
        ),
        (
            json!({"kind": "review_held", "occurred_at": at(now), "colour": "blue"}),
            422,
            "invalid_field",
        ),
        (
            json!({"kind": "review_held", "occurred_at": "yesterday"}),
            422,
            "invalid_field",
        ),
    ];
    for (body, status, code) in events {
        let seq = head_seq(&w.server).await;
        let r = w.event(&id, body.clone()).await;
        assert_eq!(head_seq(&w.server).await, seq, "{body} wrote nothing");
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["code"], code, "{body}: {}", r.text());
        assert_eq!(r.content_type(), "application/problem+json");
    }
    // a record of another child
    let other = w.another_child().await;
    let theirs = flows::deposit(&w.csc, &w.sw, &other, "referral", json!({"summary": "s"})).await;
    let r = w
        .event(
            &id,
            json!({"kind": "review_held", "occurred_at": at(now), "record_id": theirs}),
        )
        .await;
    problem(&r, 422, "record_not_about_child");
    let opens: [(Value, u16, &str); 6] = [
        (
            json!({"subject_id": w.child, "subject_role": "harmful_behaviour", "referral_received_at": at(now)}),
            409,
            "duplicate_open_case",
        ),
        (
            json!({"subject_id": uuid::Uuid::new_v4().to_string(), "subject_role": "victim", "referral_received_at": at(now)}),
            422,
            "unknown_subject",
        ),
        (
            json!({"subject_id": other, "subject_role": "victim", "referral_received_at": at(now + Duration::days(2))}),
            422,
            "event_in_future",
        ),
        (
            json!({"subject_id": other, "subject_role": "victim", "referral_received_at": at(now), "linked_case_ids": [uuid::Uuid::new_v4().to_string()]}),
            422,
            "unknown_linked_case",
        ),
        (
            json!({"subject_id": other, "subject_role": "victim", "referral_received_at": at(now), "linked_case_ids": [id.clone()]}),
            201,
            "",
        ),
        (
            json!({"subject_id": other, "subject_role": "bystander", "referral_received_at": at(now)}),
            422,
            "invalid_field",
        ),
    ];
    let mut opened = 0;
    for (body, status, code) in opens {
        let seq = head_seq(&w.server).await;
        let r = w.csc.post("/v1/cases", &w.sw, &body).await.unwrap();
        // an opened case is audited with each duty it set off
        let written = if status == 201 {
            1 + r.json()["duties"].as_array().map_or(0, Vec::len) as i64
        } else {
            0
        };
        assert_eq!(
            head_seq(&w.server).await,
            seq + written,
            "{body}: {}",
            r.text()
        );
        assert_eq!(r.status, status, "{body}: {}", r.text());
        if status == 201 {
            opened += 1;
            continue;
        }
        assert_eq!(r.json()["code"], code, "{body}: {}", r.text());
    }
    let third = w.another_child().await;
    let own = w.opened(&third, referral).await;
    let seq = head_seq(&w.server).await;
    let r = w
        .csc
        .post(
            "/v1/cases",
            &w.sw,
            &json!({"subject_id": third, "subject_role": "victim",
            "referral_received_at": at(now), "linked_case_ids": [own]}),
        )
        .await
        .unwrap();
    problem(&r, 409, "duplicate_open_case");
    assert_eq!(
        head_seq(&w.server).await,
        seq,
        "the duplicate wrote nothing"
    );
    assert_eq!(
        (
            count(&w.server, "cases").await,
            count(&w.server, "case_events").await,
        ),
        (before.0 + opened + 1, before.1),
        "only the two cases accepted were written"
    );
}

fn clock_names(clocks: &Value) -> Vec<String> {
    clocks
        .as_array()
        .unwrap_or_else(|| panic!("clocks is a list: {clocks}"))
        .iter()
        .map(|c| c["clock"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(list: &Value) -> Vec<String> {
    list["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("cases is a list: {list}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn parse(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("an instant: {v}")))
        .unwrap()
        .to_utc()
}

#[tokio::test]
async fn the_case_list_and_the_overdue_list_filter_by_the_childs_home_or_current_area() {
    let (
        w,
        common::areas::AreaCases {
            north,
            south,
            moved,
            south_sw,
        },
    ) = common::areas::area_cases().await;
    let ig = common::audit::partnership_ig(&w.server);
    let listed = |query: &'static str| {
        let ig = &ig;
        async move {
            let r = ig.get(&format!("/v1/cases{query}")).await;
            assert_eq!(r.status, 200, "{query}: {}", r.text());
            let mut got = ids(&r.json());
            got.sort();
            got
        }
    };
    let sorted = |mut v: Vec<&String>| {
        v.sort();
        v.into_iter().cloned().collect::<Vec<String>>()
    };
    assert_eq!(listed("").await, sorted(vec![&north, &south, &moved]));
    assert_eq!(listed("?area=north").await, sorted(vec![&north, &moved]));
    assert_eq!(listed("?area=south").await, sorted(vec![&south, &moved]));
    assert_eq!(
        listed("?area=south&overdue=true&status=open").await,
        sorted(vec![&south, &moved]),
        "the overdue list of Southshire"
    );
    // an agency's own list stays its own, within the area
    assert_eq!(
        ids(&w.list("?area=south&overdue=true").await),
        vec![moved.clone()]
    );
    let r = south_sw.get("/v1/cases?area=north").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ids(&r.json()), Vec::<String>::new());

    let r = ig.get("/v1/cases?area=east").await;
    common::flows::problem_naming(&r, 422, "unknown_area", &["area", "east"]);
    w.stop().await;
}
