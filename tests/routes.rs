//! Routes, screening and repeating clocks over mTLS (PROCESS.md, Routes and Screening): a
//! clock of a route the case did not take is `not_required` and never makes the case overdue;
//! a team manager releases a clock; a route below the latest screening's threshold is a team
//! manager's; the review repeats; the timeliness report counts `not_required` apart and keeps
//! `first_review`. Each refusal writes nothing.

mod common;

use broker::client::Response;
use broker::vocab::Role;
use chrono::Duration;
use common::cases::*;
use common::flows::{head_seq, problem};
use serde_json::{Value, json};

const WHY: &str = "Agreed with the police at the strategy discussion: no significant harm.";

async fn post(w: &World, token: &str, path: &str, body: Value) -> Response {
    w.server
        .client("csc")
        .post(path, token, &body)
        .await
        .expect("an answer")
}

fn statuses(case: &Value, name: &str) -> Vec<(u64, String)> {
    case["clocks"]
        .as_array()
        .expect("clocks")
        .iter()
        .filter(|c| c["clock"] == name)
        .map(|c| {
            (
                c["occurrence"].as_u64().expect("an occurrence"),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A case referred 20 days ago whose strategy discussion and initial assessment are done: only
/// the strategy meeting (8 working days, All Wales) is overdue.
async fn a_case_overdue_for_its_strategy_meeting(w: &World) -> String {
    let case = w.opened(&w.child, ago(Duration::days(20))).await;
    w.step(&case, "strategy_discussion_held", ago(Duration::days(19)))
        .await;
    w.step(
        &case,
        "initial_assessment_completed",
        ago(Duration::days(15)),
    )
    .await;
    let read = w.read(&case).await;
    assert_eq!(
        statuses(&read, "strategy_meeting"),
        [(1, "overdue".to_owned())],
        "{read}"
    );
    case
}

fn overdue_ids(list: &Value) -> Vec<String> {
    list["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_single_assessment_releases_the_strategy_meeting_and_the_case_is_no_longer_overdue() {
    let w = World::start().await;
    let case = a_case_overdue_for_its_strategy_meeting(&w).await;
    assert_eq!(
        overdue_ids(&w.list("?overdue=true").await),
        std::slice::from_ref(&case),
        "overdue for its strategy meeting"
    );
    let before = head_seq(&w.server).await;
    let r = w
        .event(
            &case,
            json!({"kind": "route_decided", "occurred_at": at(ago(Duration::days(14))),
                   "route": "single_assessment", "rationale": WHY}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(head_seq(&w.server).await, before + 1, "audited once");
    let read = w.read(&case).await;
    assert_eq!(
        statuses(&read, "strategy_meeting"),
        [(1, "not_required".to_owned())]
    );
    assert_eq!(statuses(&read, "assessment"), [(1, "pending".to_owned())]);
    let event = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "route_decided")
        .expect("the route's step")
        .clone();
    assert_eq!(event["route"], "single_assessment", "{event}");
    assert_eq!(event["rationale"], WHY);
    assert_eq!(
        overdue_ids(&w.list("?overdue=true").await),
        Vec::<String>::new(),
        "a clock of a route not taken never makes the case overdue"
    );
    let audit = w.audit_text().await;
    assert!(audit.contains("\"route\":\"single_assessment\""), "{audit}");
    assert!(
        !audit.contains(WHY),
        "the rationale stays out of the audit log"
    );

    // back to an s47 enquiry: the meeting is overdue again
    let r = w
        .event(
            &case,
            json!({"kind": "route_decided", "occurred_at": at(ago(Duration::days(10))),
                   "route": "s47_enquiry", "rationale": WHY}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        statuses(&r.json(), "strategy_meeting"),
        [(1, "overdue".to_owned())]
    );
}

#[tokio::test]
async fn a_route_needs_its_route_and_rationale_and_refusals_write_nothing() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(2))).await;
    let before = head_seq(&w.server).await;
    let when = at(ago(Duration::days(1)));
    let cases = [
        (
            json!({"kind": "route_decided", "occurred_at": when, "route": "early_help",
                   "rationale": "short"}),
            422,
            "rationale_too_short",
        ),
        (
            json!({"kind": "route_decided", "occurred_at": when, "rationale": WHY}),
            422,
            "invalid_field",
        ),
        (
            json!({"kind": "plan_agreed", "occurred_at": when, "route": "early_help"}),
            422,
            "invalid_field",
        ),
        (
            json!({"kind": "route_decided", "occurred_at": when, "route": "arrest",
                   "rationale": WHY}),
            422,
            "unknown_term",
        ),
        (
            json!({"kind": "screening_completed", "occurred_at": when,
                   "tool": "brook_traffic_light", "rationale": WHY}),
            422,
            "invalid_field",
        ),
    ];
    for (body, status, code) in cases {
        let r = w.event(&case, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let got = r.json();
        assert!(
            got["code"] == code || (code == "unknown_term" && r.status == 422),
            "{body}: {got}"
        );
    }
    assert_eq!(head_seq(&w.server).await, before, "no refusal is written");
    assert_eq!(w.read(&case).await["events"], json!([]));
}

#[tokio::test]
async fn a_route_below_a_red_screening_is_a_team_managers_with_its_rationale() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let r = w
        .event(
            &case,
            json!({"kind": "screening_completed", "occurred_at": at(ago(Duration::days(2))),
                   "tool": "brook_traffic_light", "level": "red", "rationale": WHY}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let single = json!({"kind": "route_decided", "occurred_at": at(ago(Duration::days(1))),
                        "route": "single_assessment", "rationale": WHY});
    let before = head_seq(&w.server).await;
    let refused = problem(
        &w.event(&case, single.clone()).await,
        403,
        "route_below_threshold",
    );
    assert!(
        refused["detail"].as_str().unwrap().contains("red"),
        "{refused}"
    );
    assert_eq!(
        head_seq(&w.server).await,
        before,
        "a refusal writes nothing"
    );
    // the s47 enquiry the red screening permits is the social worker's to decide
    let s47 = json!({"kind": "route_decided", "occurred_at": at(ago(Duration::days(1))),
                     "route": "s47_enquiry", "rationale": WHY});
    assert_eq!(w.event(&case, s47).await.status, 201);
    // a team manager of the lead agency decides the route below the threshold
    let tm = w.server.token("csc", "tm.reid", &[Role::TeamManager]);
    let r = post(&w, &tm, &format!("/v1/cases/{case}/events"), single).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let audit = w.audit_text().await;
    assert!(audit.contains("\"below_threshold\":\"red\""), "{audit}");
    let read = w.read(&case).await;
    let screening = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "screening_completed")
        .expect("the screening")
        .clone();
    assert_eq!(screening["tool"], "brook_traffic_light");
    assert_eq!(screening["level"], "red");
}

#[tokio::test]
async fn only_a_team_manager_says_a_clock_is_not_required_and_only_a_clock_in_force() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(10))).await;
    let body = |clock: &str| {
        json!({"kind": "clock_not_required", "occurred_at": at(ago(Duration::days(1))),
               "clock": clock, "rationale": WHY})
    };
    let before = head_seq(&w.server).await;
    problem(
        &w.event(&case, body("initial_assessment")).await,
        403,
        "role_not_permitted",
    );
    let tm = w.server.token("csc", "tm.reid", &[Role::TeamManager]);
    let path = format!("/v1/cases/{case}/events");
    let unknown = problem(
        &post(&w, &tm, &path, body("lunch")).await,
        422,
        "unknown_clock",
    );
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .contains("strategy_discussion"),
        "names the clocks there are: {unknown}"
    );
    assert_eq!(head_seq(&w.server).await, before);
    let r = post(&w, &tm, &path, body("initial_assessment")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let clocks = r.json();
    assert_eq!(
        statuses(&clocks, "initial_assessment"),
        [(1, "not_required".to_owned())]
    );
    assert_eq!(
        statuses(&clocks, "strategy_discussion"),
        [(1, "overdue".to_owned())],
        "the others run on"
    );
}

#[tokio::test]
async fn the_review_repeats_and_the_report_counts_not_required_apart() {
    let w = World::start().await;
    let case = a_case_overdue_for_its_strategy_meeting(&w).await;
    w.step(&case, "plan_agreed", ago(Duration::days(12))).await;
    w.step(&case, "review_held", ago(Duration::days(5))).await;
    let read = w.read(&case).await;
    assert_eq!(
        statuses(&read, "review"),
        [(1, "met".to_owned()), (2, "pending".to_owned())],
        "{read}"
    );
    let second = read["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "review" && c["occurrence"] == 2)
        .expect("the second review")
        .clone();
    let first_stopped = read["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "review" && c["occurrence"] == 1)
        .expect("the first review")["stopped_at"]
        .clone();
    assert_eq!(
        second["started_at"], first_stopped,
        "it starts when the first stops"
    );

    let r = w
        .event(
            &case,
            json!({"kind": "route_decided", "occurred_at": at(ago(Duration::days(4))),
                   "route": "single_assessment", "rationale": WHY}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let tm = w.server.token("csc", "tm.reid", &[Role::TeamManager]);
    let report = w
        .server
        .client("csc")
        .get("/v1/reports/timeliness", &tm)
        .await
        .expect("the report");
    assert_eq!(report.status, 200, "{}", report.text());
    let report = report.json();
    let line = |name: &str| {
        report["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["clock"] == name)
            .unwrap_or_else(|| panic!("no line {name}: {report}"))
            .clone()
    };
    let meeting = line("strategy_meeting");
    assert_eq!(meeting["not_required"], 1, "{meeting}");
    assert_eq!(meeting["overdue_now"], 0, "{meeting}");
    let review = line("review");
    assert_eq!(
        (
            review["started"].as_i64(),
            review["met_on_time"].as_i64(),
            review["pending"].as_i64()
        ),
        (Some(2), Some(1), Some(1)),
        "{review}"
    );
    let first = line("first_review");
    assert_eq!(
        (
            first["started"].as_i64(),
            first["met_on_time"].as_i64(),
            first["pending"].as_i64()
        ),
        (Some(1), Some(1), Some(0)),
        "{first}"
    );
    let csv = w
        .server
        .client("csc")
        .get("/v1/reports/timeliness?format=csv", &tm)
        .await
        .expect("the CSV")
        .text();
    assert!(
        csv.starts_with(
            "clock,started,met_on_time,met_late,overdue_now,pending,closed_unmet,median_hours,not_required\n"
        ),
        "{csv}"
    );
    assert!(csv.contains("\nstrategy_meeting,1,0,0,0,0,0,,1\n"), "{csv}");
}
