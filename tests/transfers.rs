//! PROCESS.md, Places P4 and P5 over mTLS: a case transferred to another council's children's
//! social care (asked by the lead's team manager, accepted by the receiving team manager, who
//! then leads; the former lead reads only what was recorded before the acceptance; clocks run
//! on into the new lead's overdue list and timeliness report; audited), and different lead
//! workers for linked cases (at opening, at `worker_allocated`, at a transfer's acceptance).
//! The second children's social care agency is the test's own: the dev world's adult social
//! care renamed and re-kinded in its broker.toml.

mod common;

use broker::client::Response;
use broker::vocab::Role;
use chrono::Duration;
use common::cases::*;
use common::flows::{count, head_seq, problem, problem_naming};
use common::world::short_plan;
use common::{TestServer, fresh_world};
use serde_json::{Value, json};

/// The receiving council's children's social care, in this test's own configuration.
const SOUTH: &str = "adult-social-care";

/// A dev world whose `adult-social-care` agency is a second children's social care
/// ("Southshire Children's Social Care"), with the Hillside pupil of [`World`].
async fn two_councils() -> World {
    let (dir, world) = fresh_world().await;
    let text = std::fs::read_to_string(&world.config).expect("the dev broker.toml");
    let dev = "id = \"adult-social-care\"\nkind = \"adult_social_care\"\nname = \"Northshire Adult Social Care\"";
    assert!(text.contains(dev), "the dev world has adult social care");
    let edited = text.replace(
        dev,
        "id = \"adult-social-care\"\nkind = \"children_social_care\"\nname = \"Southshire Children's Social Care\"",
    );
    std::fs::write(&world.config, edited).expect("writing broker.toml");
    World::on(TestServer::start_in(dir, world).await, short_plan()).await
}

/// Someone of `agency` with `role`.
struct Who {
    agency: &'static str,
    token: String,
}

impl Who {
    fn new(w: &World, agency: &'static str, sub: &str, role: Role) -> Who {
        Who {
            agency,
            token: w.server.token(agency, sub, &[role]),
        }
    }

    async fn get(&self, w: &World, path: &str) -> Response {
        w.server
            .client(self.agency)
            .get(path, &self.token)
            .await
            .expect("an answer")
    }

    async fn post(&self, w: &World, path: &str, body: Value) -> Response {
        w.server
            .client(self.agency)
            .post(path, &self.token, &body)
            .await
            .expect("an answer")
    }
}

fn kinds(case: &Value) -> Vec<String> {
    case["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_case_moves_to_the_receiving_council_which_leads_from_its_acceptance() {
    let w = two_councils().await;
    let referral = ago(Duration::days(3));
    let case = w.opened(&w.child, referral).await;
    w.step(&case, "strategy_discussion_held", ago(Duration::days(2)))
        .await;
    let before = w.read(&case).await;

    let north_tm = Who::new(&w, "csc", "tm.reid", Role::TeamManager);
    let north_sw = Who::new(&w, "csc", "sw.amara", Role::SocialWorker);
    let south_tm = Who::new(&w, SOUTH, "tm.south", Role::TeamManager);
    let south_sw = Who::new(&w, SOUTH, "sw.south", Role::SocialWorker);
    let transfers = format!("/v1/cases/{case}/transfers");
    let path = format!("/v1/cases/{case}");

    // nobody outside the lead reads the case before a transfer is asked
    problem(&south_tm.get(&w, &path).await, 404, "not_found");

    // refused, writing nothing: a social worker, another council, a wrong destination
    let rows = count(&w.server, "case_transfers").await;
    let seq = head_seq(&w.server).await;
    problem(
        &north_sw
            .post(&w, &transfers, json!({"to_agency": SOUTH}))
            .await,
        403,
        "role_not_permitted",
    );
    problem(
        &south_tm
            .post(&w, &transfers, json!({"to_agency": SOUTH}))
            .await,
        404,
        "not_found",
    );
    for to in ["police", "csc", "nowhere"] {
        problem_naming(
            &north_tm
                .post(&w, &transfers, json!({"to_agency": to}))
                .await,
            422,
            "invalid_field",
            &["to_agency"],
        );
    }
    assert_eq!(count(&w.server, "case_transfers").await, rows);
    assert_eq!(head_seq(&w.server).await, seq, "a refusal audits nothing");

    // asked
    let r = north_tm
        .post(
            &w,
            &transfers,
            json!({"to_agency": SOUTH, "note": "The family moved to Southshire on 1 December."}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let tid = r.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.json()["to_agency"], SOUTH);
    problem(
        &north_tm
            .post(&w, &transfers, json!({"to_agency": SOUTH}))
            .await,
        409,
        "transfer_pending",
    );

    // while it waits the old lead leads and records; the receiving team manager reads the case
    // (not its links), its social workers do not
    let pending = south_tm.get(&w, &path).await;
    assert_eq!(pending.status, 200, "{}", pending.text());
    let pending = pending.json();
    assert_eq!(pending["lead_agency"], "csc");
    assert_eq!(pending["transfers"][0]["id"], tid.as_str());
    assert_eq!(pending["transfers"][0]["accepted_at"], Value::Null);
    assert_eq!(
        pending["transfers"][0]["note"],
        "The family moved to Southshire on 1 December."
    );
    problem(&south_sw.get(&w, &path).await, 404, "not_found");
    w.step(&case, "strategy_meeting_held", ago(Duration::days(1)))
        .await;
    problem(
        &south_tm
            .post(
                &w,
                &format!("{path}/events"),
                json!({"kind": "review_held", "occurred_at": at(ago(Duration::hours(1)))}),
            )
            .await,
        403,
        "not_lead_agency",
    );

    // only the receiving council's team manager accepts, naming the lead worker
    let accept = format!("{transfers}/{tid}/accept");
    problem(
        &north_tm
            .post(&w, &accept, json!({"lead_sub": "sw.south"}))
            .await,
        403,
        "not_transfer_recipient",
    );
    problem(
        &south_sw
            .post(&w, &accept, json!({"lead_sub": "sw.south"}))
            .await,
        403,
        "role_not_permitted",
    );
    problem_naming(
        &south_tm.post(&w, &accept, json!({"lead_sub": "  "})).await,
        422,
        "invalid_field",
        &["lead_sub"],
    );
    let r = south_tm
        .post(&w, &accept, json!({"lead_sub": "sw.south"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["lead_agency"], SOUTH);
    problem(
        &south_tm
            .post(&w, &accept, json!({"lead_sub": "sw.south"}))
            .await,
        409,
        "transfer_accepted",
    );

    // the new lead leads: its worker reads and records; the clocks ran on, not restarted
    let now_led = south_sw.get(&w, &path).await;
    assert_eq!(now_led.status, 200, "{}", now_led.text());
    let now_led = now_led.json();
    assert_eq!(now_led["lead_agency"], SOUTH);
    assert_eq!(now_led["lead_sub"], "sw.south");
    for name in ["strategy_discussion", "initial_assessment", "assessment"] {
        let (was, is) = (clock(&before, name), clock(&now_led, name));
        assert_eq!(was["started_at"], is["started_at"], "{name} runs on");
        assert_eq!(was["due_at"], is["due_at"], "{name} keeps its due time");
        assert_eq!(was["stopped_at"], is["stopped_at"], "{name}");
    }
    assert_eq!(now_led["transfers"][0]["lead_sub"], "sw.south");
    assert_eq!(now_led["transfers"][0]["accepted_by"], "tm.south");
    let r = south_sw
        .post(
            &w,
            &format!("{path}/events"),
            json!({"kind": "initial_assessment_completed", "occurred_at": at(ago(Duration::hours(2)))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());

    // the former lead reads what was recorded up to the acceptance, and nothing later, and no
    // longer records
    let r = north_sw.get(&w, &path).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let former = r.json();
    assert_eq!(
        kinds(&former),
        ["strategy_discussion_held", "strategy_meeting_held"],
        "{former}"
    );
    assert_eq!(former["lead_agency"], SOUTH, "not listed as lead");
    assert_eq!(
        clock(&former, "initial_assessment")["stopped_at"],
        Value::Null,
        "no later step shows through the clocks"
    );
    assert_eq!(
        kinds(&w.read_as_lead(&south_sw, &path).await),
        [
            "strategy_discussion_held",
            "strategy_meeting_held",
            "initial_assessment_completed"
        ]
    );
    let r = north_sw
        .post(
            &w,
            &format!("{path}/events"),
            json!({"kind": "review_held", "occurred_at": at(ago(Duration::hours(1)))}),
        )
        .await;
    problem(&r, 403, "not_lead_agency");

    // the new lead's overdue list and timeliness report hold the case; the old lead's do not
    let south_list = south_tm.get(&w, "/v1/cases").await.json();
    assert!(
        south_list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == case.as_str()),
        "{south_list}"
    );
    let north_list = north_tm.get(&w, "/v1/cases").await.json();
    assert!(
        !north_list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == case.as_str()),
        "{north_list}"
    );
    let started = |report: &Value| {
        report["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["clock"] == "strategy_discussion")
            .map(|c| c["started"].clone())
    };
    let south_report = south_tm.get(&w, "/v1/reports/timeliness").await;
    assert_eq!(south_report.status, 200, "{}", south_report.text());
    assert_eq!(started(&south_report.json()), Some(json!(1)));
    let north_report = north_tm.get(&w, "/v1/reports/timeliness").await.json();
    assert_eq!(started(&north_report), Some(json!(0)));

    // audited
    let actions = w.audit_actions(&w.child).await;
    let asked = actions.iter().position(|a| a == "case.transfer");
    let accepted = actions.iter().position(|a| a == "case.transfer_accept");
    assert!(
        asked.is_some() && accepted > asked,
        "both audited, in order: {actions:?}"
    );
    w.stop().await;
}

impl World {
    /// The case at `path` as the lead's worker `who` reads it; insists on 200.
    async fn read_as_lead(&self, who: &Who, path: &str) -> Value {
        let r = who.get(self, path).await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

#[tokio::test]
async fn linked_cases_have_different_lead_workers_at_opening_reallocation_and_transfer() {
    let w = two_councils().await;
    let referral = ago(Duration::days(2));
    let harmer = w.opened(&w.child, referral).await;
    let victim_child = w.another_child().await;

    // opening: the caller leads by default, and leads the linked case already
    let cases = count(&w.server, "cases").await;
    problem_naming(
        &w.open(&victim_child, "victim", referral, &[&harmer]).await,
        409,
        "same_worker_linked",
        &["sw.amara"],
    );
    assert_eq!(count(&w.server, "cases").await, cases, "nothing opened");
    let victim = w
        .caseworker()
        .opened_victim_led_by(&victim_child, referral, &harmer, "sw.bello")
        .await;

    // reallocation: lead_sub with worker_allocated only, never the linked case's worker
    let when = at(ago(Duration::hours(3)));
    let events = count(&w.server, "case_events").await;
    problem_naming(
        &w.event(
            &victim,
            json!({"kind": "worker_allocated", "occurred_at": when}),
        )
        .await,
        422,
        "invalid_field",
        &["lead_sub"],
    );
    problem_naming(
        &w.event(
            &victim,
            json!({"kind": "review_held", "occurred_at": when, "lead_sub": "sw.chen"}),
        )
        .await,
        422,
        "invalid_field",
        &["lead_sub"],
    );
    problem(
        &w.event(
            &victim,
            json!({"kind": "worker_allocated", "occurred_at": when, "lead_sub": "sw.amara"}),
        )
        .await,
        409,
        "same_worker_linked",
    );
    assert_eq!(count(&w.server, "case_events").await, events);
    let before = w.read(&victim).await;
    let r = w
        .event(
            &victim,
            json!({"kind": "worker_allocated", "occurred_at": when, "lead_sub": "sw.chen",
                "note": "sw.bello is on leave"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let after = w.read(&victim).await;
    assert_eq!(after["lead_sub"], "sw.chen");
    let event = &after["events"][0];
    assert_eq!(event["kind"], "worker_allocated");
    assert_eq!(
        event["lead_sub"], "sw.chen",
        "the event shows the new worker"
    );
    assert_eq!(
        before["clocks"], after["clocks"],
        "a reallocation moves no clock"
    );
    assert!(
        w.audit_actions(&victim_child)
            .await
            .contains(&"case.event".to_owned())
    );
    // the harmer's worker may not now take the victim's case back either way round
    problem(
        &w.event(
            &harmer,
            json!({"kind": "worker_allocated", "occurred_at": when, "lead_sub": "sw.chen"}),
        )
        .await,
        409,
        "same_worker_linked",
    );

    // a transfer's acceptance: the receiving council names a worker other than the one who
    // leads the linked case there
    let north_tm = Who::new(&w, "csc", "tm.reid", Role::TeamManager);
    let south_tm = Who::new(&w, SOUTH, "tm.south", Role::TeamManager);
    for (case, sub, status) in [
        (&victim, "sw.south", 200),
        (&harmer, "sw.south", 409),
        (&harmer, "sw.other", 200),
    ] {
        let pending = north_tm.get(&w, &format!("/v1/cases/{case}")).await.json()["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["accepted_at"].is_null())
            .map(|t| t["id"].as_str().unwrap().to_owned());
        let tid = match pending {
            Some(t) => t,
            None => {
                let r = north_tm
                    .post(
                        &w,
                        &format!("/v1/cases/{case}/transfers"),
                        json!({"to_agency": SOUTH}),
                    )
                    .await;
                assert_eq!(r.status, 201, "{}", r.text());
                r.json()["id"].as_str().unwrap().to_owned()
            }
        };
        let r = south_tm
            .post(
                &w,
                &format!("/v1/cases/{case}/transfers/{tid}/accept"),
                json!({"lead_sub": sub}),
            )
            .await;
        if status == 409 {
            problem(&r, 409, "same_worker_linked");
        } else {
            assert_eq!(r.status, status, "{}", r.text());
        }
    }
    w.stop().await;
}

#[tokio::test]
async fn a_case_closed_while_its_transfer_waits_is_not_moved() {
    let w = two_councils().await;
    let case = w.opened(&w.child, ago(Duration::days(2))).await;
    let north_tm = Who::new(&w, "csc", "tm.reid", Role::TeamManager);
    let south_tm = Who::new(&w, SOUTH, "tm.south", Role::TeamManager);
    let r = north_tm
        .post(
            &w,
            &format!("/v1/cases/{case}/transfers"),
            json!({"to_agency": SOUTH}),
        )
        .await;
    let tid = common::flows::created(&r);
    w.close_with_outcome(&case, ago(Duration::hours(1))).await;
    problem(
        &south_tm
            .post(
                &w,
                &format!("/v1/cases/{case}/transfers/{tid}/accept"),
                json!({"lead_sub": "sw.south"}),
            )
            .await,
        409,
        "case_closed",
    );
    assert_eq!(w.read(&case).await["lead_agency"], "csc", "the lead stays");
    // and a closed case is not asked to move
    problem(
        &north_tm
            .post(
                &w,
                &format!("/v1/cases/{case}/transfers"),
                json!({"to_agency": SOUTH}),
            )
            .await,
        409,
        "case_closed",
    );
    w.stop().await;
}
