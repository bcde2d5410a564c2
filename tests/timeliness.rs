//! `GET /v1/reports/timeliness` (PROCESS.md) against a hand-counted fixture of four cases, in
//! JSON and CSV, judged now and at a chosen `as_of`, scoped as the policy says.

mod common;

use broker::vocab::Role;
use chrono::Duration;
use common::cases::*;
use common::flows::problem;
use serde_json::{Value, json};

/// Four cases, every instant relative to now (no bank holiday falls in the 20 days before
/// 1 December 2026 or any day this suite runs near, and the windows below are generous):
/// - A, referred 20 days ago: discussion after 24 h (met), initial assessment after 8 days
///   (late), meeting after 3 days (met, well within 8 working days), minutes never
///   circulated (overdue: 5 working days from 17 days ago), assessment pending (35 days).
/// - B, referred 3 days ago, nothing done: discussion overdue (48 h), the rest pending.
/// - C, referred 20 days ago, closed after 5 days with no step taken: four clocks unmet.
/// - D, referred 20 days ago: discussion after 72 h (late); initial assessment and meeting
///   overdue; assessment pending.
async fn fixture() -> World {
    let w = World::start().await;
    let a = ago(Duration::days(20));
    let case_a = w.opened(&w.child, a).await;
    w.step(&case_a, "strategy_discussion_held", a + Duration::hours(24))
        .await;
    w.step(
        &case_a,
        "initial_assessment_completed",
        a + Duration::days(8),
    )
    .await;
    w.step(&case_a, "strategy_meeting_held", a + Duration::days(3))
        .await;

    let b = w.another_child().await;
    w.opened(&b, ago(Duration::days(3))).await;

    let c = w.another_child().await;
    let case_c = w.opened(&c, a).await;
    w.close_with_outcome(&case_c, a + Duration::days(5)).await;

    let d = w.another_child().await;
    let case_d = w.opened(&d, a).await;
    w.step(&case_d, "strategy_discussion_held", a + Duration::hours(72))
        .await;
    w
}

fn line(report: &Value, clock: &str) -> Value {
    report["clocks"]
        .as_array()
        .unwrap_or_else(|| panic!("clocks is a list: {report}"))
        .iter()
        .find(|l| l["clock"] == clock)
        .unwrap_or_else(|| panic!("no line for {clock}: {report}"))
        .clone()
}

/// `[started, met_on_time, met_late, overdue_now, pending, closed_unmet]` and the median.
fn counts(report: &Value, clock: &str) -> ([i64; 6], Value) {
    let l = line(report, clock);
    let n = |k: &str| l[k].as_i64().unwrap_or_else(|| panic!("{k} in {l}"));
    (
        [
            n("started"),
            n("met_on_time"),
            n("met_late"),
            n("overdue_now"),
            n("pending"),
            n("closed_unmet"),
        ],
        l["median_hours"].clone(),
    )
}

#[tokio::test]
async fn the_report_counts_each_clock_as_counted_by_hand() {
    let w = fixture().await;
    let tm = w.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = w.csc.get("/v1/reports/timeliness", &tm).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!(
        report["agency"], "csc",
        "a team manager sees their own agency's: {report}"
    );
    assert_eq!(
        counts(&report, "strategy_discussion"),
        ([4, 1, 1, 1, 0, 1], json!(48.0)),
        "A met at 24 h, D late at 72 h (median 48), B overdue, C closed: {report}"
    );
    assert_eq!(
        counts(&report, "initial_assessment"),
        ([4, 0, 1, 1, 1, 1], json!(192.0)),
        "A late at 8 days, D overdue, B pending, C closed: {report}"
    );
    assert_eq!(
        counts(&report, "strategy_meeting"),
        ([4, 1, 0, 1, 1, 1], json!(72.0)),
        "A met at 3 days, D overdue, B pending, C closed: {report}"
    );
    assert_eq!(
        counts(&report, "minutes"),
        ([1, 0, 0, 1, 0, 0], Value::Null),
        "{report}"
    );
    assert_eq!(
        counts(&report, "assessment"),
        ([4, 0, 0, 0, 3, 1], Value::Null),
        "{report}"
    );
    for never in ["first_review", "end_summary"] {
        assert_eq!(counts(&report, never), ([0; 6], Value::Null), "{report}");
    }
    // each opening told the child's school (duties.csv involvement_school), and A's strategy
    // meeting told that school again, as an agency that has received a disclosure
    assert_eq!(
        report["duties"],
        json!({"delivered": 5, "denied": 0}),
        "{report}"
    );

    // the same numbers as CSV
    let r = w
        .csc
        .get("/v1/reports/timeliness?format=csv", &tm)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.content_type().starts_with("text/csv"),
        "{}",
        r.content_type()
    );
    let csv = r.text();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "clock,started,met_on_time,met_late,overdue_now,pending,closed_unmet,median_hours,not_required"
    );
    assert!(
        lines.contains(&"strategy_discussion,4,1,1,1,0,1,48,0"),
        "{csv}"
    );
    assert!(lines.contains(&"minutes,1,0,0,1,0,0,,0"), "{csv}");
    assert!(lines.contains(&"duties_denied,0"), "{csv}");
}

#[tokio::test]
async fn the_report_is_judged_at_as_of_and_windowed_by_start() {
    let w = fixture().await;
    let ig = w
        .server
        .token("partnership", "ig.patel", &[Role::IgOfficer]);
    let partnership = w.server.client("partnership");
    let get = |query: String| {
        let (p, ig) = (&partnership, &ig);
        async move {
            let r = p
                .get(&format!("/v1/reports/timeliness{query}"), ig)
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{query}: {}", r.text());
            r.json()
        }
    };
    // B's discussion was still within its 48 hours a day after B's referral
    let as_of = at(ago(Duration::days(2)));
    let then = get(format!("?as_of={as_of}")).await;
    assert_eq!(
        counts(&then, "strategy_discussion").0,
        [4, 1, 1, 0, 1, 1],
        "{then}"
    );
    // the window selects clocks by when they started: only B's started in the last 5 days
    let from = at(ago(Duration::days(5)));
    let recent = get(format!("?from={from}")).await;
    assert_eq!(
        counts(&recent, "strategy_discussion").0,
        [1, 0, 0, 1, 0, 0],
        "{recent}"
    );
    assert_eq!(
        recent["agency"],
        Value::Null,
        "the partnership sees every agency"
    );
    let police = get("?agency=police".into()).await;
    assert_eq!(counts(&police, "strategy_discussion").0, [0; 6], "{police}");
    let csc = get("?agency=csc&from=2020-01-01T00:00:00Z".into()).await;
    assert_eq!(counts(&csc, "strategy_discussion").0[0], 4, "{csc}");
}

#[tokio::test]
async fn the_report_is_for_managers_and_the_partnership_and_is_audited() {
    let w = World::start().await;
    let r = w.csc.get("/v1/reports/timeliness", &w.sw).await.unwrap();
    problem(&r, 403, "role_not_permitted");
    let tm = w.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = w
        .csc
        .get("/v1/reports/timeliness?agency=police", &tm)
        .await
        .unwrap();
    problem(&r, 403, "not_your_agency");
    for (query, code) in [
        ("?format=pdf", "invalid_query"),
        ("?from=last-tuesday", "invalid_query"),
        ("?as_of=tomorrow", "invalid_query"),
        ("?colour=blue", "invalid_query"),
    ] {
        let r = w
            .csc
            .get(&format!("/v1/reports/timeliness{query}"), &tm)
            .await
            .unwrap();
        problem(&r, 400, code);
    }
    // a window that ends before it starts holds no clock
    let r = w
        .csc
        .get(
            "/v1/reports/timeliness?from=2026-06-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            &tm,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["clocks"][0]["started"], 0, "{}", r.text());
    let before = common::flows::head_seq(&w.server).await;
    let r = w.csc.get("/v1/reports/timeliness", &tm).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        common::flows::head_seq(&w.server).await,
        before + 1,
        "reading it is audited"
    );
    assert!(w.audit_text().await.contains("report.timeliness"));
}

/// The strategy discussions the report counts for `query`, as the partnership's IG officer.
async fn discussions(w: &World, query: &str) -> [i64; 6] {
    let ig = common::audit::partnership_ig(&w.server);
    let r = ig.get(&format!("/v1/reports/timeliness{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    counts(&r.json(), "strategy_discussion").0
}

#[tokio::test]
async fn the_report_filtered_by_area_counts_the_cases_of_children_of_that_area_home_or_current() {
    let (w, _) = common::areas::area_cases().await;
    // started, met on time, met late, overdue now, pending, closed unmet
    assert_eq!(discussions(&w, "").await, [3, 0, 0, 3, 0, 0]);
    assert_eq!(
        discussions(&w, "?area=north").await,
        [2, 0, 0, 2, 0, 0],
        "the Northshire child, and the Northshire child placed in Southshire"
    );
    assert_eq!(
        discussions(&w, "?area=south").await,
        [2, 0, 0, 2, 0, 0],
        "the Southshire child, and the child placed there"
    );
    assert_eq!(
        discussions(&w, "?area=south&agency=csc").await,
        [1, 0, 0, 1, 0, 0],
        "Northshire's case of the child placed in Southshire"
    );

    let ig = common::audit::partnership_ig(&w.server);
    let r = ig.get("/v1/reports/timeliness?area=south").await;
    assert_eq!(r.json()["area"], "south", "{}", r.text());
    // the CSV honours it
    let r = ig
        .get("/v1/reports/timeliness?area=south&agency=csc&format=csv")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let discussion = text
        .lines()
        .find(|l| l.starts_with("strategy_discussion,"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(discussion, "strategy_discussion,1,0,0,1,0,0,,0", "{text}");

    // a team manager's report is of their agency's cases, within the area
    let tm = w.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = w
        .csc
        .get("/v1/reports/timeliness?area=north", &tm)
        .await
        .unwrap();
    assert_eq!(
        counts(&r.json(), "strategy_discussion").0[0],
        2,
        "{}",
        r.text()
    );

    // an area the partnership does not have is refused, naming the parameter
    let r = ig.get("/v1/reports/timeliness?area=east").await;
    let detail = common::flows::problem_naming(&r, 422, "unknown_area", &["area", "east"]);
    assert!(
        detail.contains("north") && detail.contains("south"),
        "{detail}"
    );
    let r = ig.get("/v1/reports/timeliness?area=east&format=csv").await;
    common::flows::problem(&r, 422, "unknown_area");
    // the filter is audited with the report
    assert!(
        w.audit_text().await.contains("\"area\":\"south\""),
        "the report's audit entry names its area"
    );
    w.stop().await;
}
