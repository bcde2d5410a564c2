//! PROCESS.md, Actions, over mTLS on the real server: the lead agency agrees an action owned by
//! another agency; the case lists it; the owner lists its own actions across cases (the action
//! and its case's id, never the case, which it cannot read) and marks it done, once; nobody
//! else may; `overdue=true` lists the open ones past due; the timeliness report's `action` line
//! counts them in its scope; bad input is 422 naming the field and writes nothing.

mod common;

use broker::vocab::Role;
use chrono::Duration;
use common::World;
use common::actions::{action, ids};
use common::cases::{ago, at};
use common::flows::{count, head_seq, problem, problem_naming};
use serde_json::{Value, json};

const SCHOOL: &str = "school-hillside";

fn find<'a>(actions: &'a [Value], id: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no action {id} in {actions:?}"))
}

#[tokio::test]
async fn the_owner_sees_and_completes_an_action_without_reading_its_case() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let sw = w.social_worker();
    let dsl = w.server.person(SCHOOL, "dsl.jones", Role::Dsl);
    let south = w.server.person("csc-south", "sw.south", Role::SocialWorker);
    let police = w.server.person("police", "pc.hale", Role::PoliceOfficer);

    let what = "Share the autumn attendance record with the social worker.";
    let r = sw
        .agree(&case, &action(what, SCHOOL, ago(-Duration::days(7))))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let agreed = r.json();
    let aid = agreed["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        (&agreed["case_id"], &agreed["seq"], &agreed["status"]),
        (&json!(case), &json!(1), &json!("open"))
    );
    // another, owned by another council's children's social care, which may read cases
    let theirs = sw
        .agreed(
            &case,
            &action(
                "Check the family's address history.",
                "csc-south",
                ago(-Duration::days(2)),
            ),
        )
        .await;

    // the case lists its actions, in the order agreed
    let listed = w.read(&case).await["actions"].as_array().unwrap().clone();
    assert_eq!(ids(&listed), [aid.as_str(), theirs.as_str()]);
    let first = find(&listed, &aid);
    assert_eq!(first["description"], what);
    assert_eq!(first["owner_agency"], SCHOOL);
    assert_eq!(first["status"], "open");
    assert_eq!(first["overdue"], false);

    // the owner lists it with its case's id, and nothing of the case
    let mine = dsl.own_actions("").await;
    assert_eq!(ids(&mine), [aid.as_str()], "only the school's own");
    let shown = find(&mine, &aid);
    assert_eq!(shown["case_id"], case.as_str());
    assert_eq!(shown["description"], what);
    for absent in ["subject_id", "events", "child", "clocks", "display_name"] {
        assert!(shown.get(absent).is_none(), "{absent} in {shown}");
    }
    assert_eq!(ids(&south.own_actions("").await), [theirs.as_str()]);
    // neither reads the case: an agency that reads cases is answered as for no case; a role
    // that reads none is refused as a role, as for any case
    problem(
        &south.get(&format!("/v1/cases/{case}")).await,
        404,
        "not_found",
    );
    problem(
        &dsl.get(&format!("/v1/cases/{case}")).await,
        403,
        "role_not_permitted",
    );

    // nobody but the owner marks it done: the lead, who reads the case, is told why; an agency
    // that cannot read the case learns nothing of the action
    let seq = head_seq(&w.server).await;
    problem(
        &sw.complete(&case, &aid, "done").await,
        403,
        "not_action_owner",
    );
    problem(
        &police.complete(&case, &aid, "done").await,
        404,
        "not_found",
    );
    problem(&south.complete(&case, &aid, "done").await, 404, "not_found");
    let unknown = "01a204f3-0000-7000-8000-000000000000";
    problem(
        &dsl.complete(&case, unknown, "done").await,
        404,
        "not_found",
    );
    problem(&dsl.complete(unknown, &aid, "done").await, 404, "not_found");
    assert_eq!(head_seq(&w.server).await, seq, "a refusal audits nothing");

    // the owner's staff mark it done, once
    let note = "Attendance record sent to sw.amara on the secure portal.";
    let r = dsl.complete(&case, &aid, note).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "done");
    assert_eq!(r.json()["on_time"], true);
    problem(
        &dsl.complete(&case, &aid, "again").await,
        409,
        "action_done",
    );
    let done = w.read(&case).await;
    let done = find(done["actions"].as_array().unwrap(), &aid);
    assert_eq!(
        (&done["status"], &done["note"], &done["done_by"]),
        (&json!("done"), &json!(note), &json!("dsl.jones"))
    );
    assert!(done["done_at"].is_string(), "{done}");

    // audited, with neither the description nor the note
    let actions = w.audit_actions(&w.child).await;
    for expected in ["case.action", "case.action_done"] {
        assert!(actions.iter().any(|a| a == expected), "{actions:?}");
    }
    let audit = w.audit_text().await;
    assert!(audit.contains("action.list"), "listing is audited");
    for secret in [what, note] {
        assert!(!audit.contains(secret), "{secret} in the audit log");
    }
    // sealed at rest
    let stored: Vec<Vec<u8>> = broker::with_db!(&w.server.state.db, pool => {
        sqlx::query_scalar("SELECT description_enc FROM case_actions")
            .fetch_all(pool)
            .await
            .expect("reading case_actions")
    });
    assert_eq!(stored.len(), 2);
    for bytes in stored {
        assert!(!String::from_utf8_lossy(&bytes).contains("attendance"));
    }
    w.server.stop().await;
}

#[tokio::test]
async fn overdue_actions_are_listed_and_counted_in_the_timeliness_report() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let other = w.another_child().await;
    let closing = w.opened(&other, ago(Duration::days(3))).await;
    let sw = w.social_worker();
    let dsl = w.server.person(SCHOOL, "dsl.jones", Role::Dsl);
    let past = ago(Duration::seconds(60)); // a minute ago: "now", for a caller's clock
    let week = ago(-Duration::days(7));

    let overdue = sw.agreed(&case, &action("Overdue.", SCHOOL, past)).await;
    let pending = sw.agreed(&case, &action("Pending.", SCHOOL, week)).await;
    let on_time = sw.agreed(&case, &action("On time.", SCHOOL, week)).await;
    let late = sw.agreed(&case, &action("Late.", SCHOOL, past)).await;
    let unmet = sw
        .agreed(&closing, &action("Never done.", SCHOOL, week))
        .await;
    for aid in [&on_time, &late] {
        assert_eq!(dsl.complete(&case, aid, "").await.status, 200);
    }
    w.close_with_outcome(&closing, ago(Duration::seconds(1)))
        .await;

    // the owner's lists
    assert_eq!(
        ids(&dsl.own_actions("?overdue=true").await),
        [overdue.as_str()]
    );
    assert_eq!(
        ids(&dsl.own_actions("?status=done").await),
        [on_time.as_str(), late.as_str()]
    );
    assert_eq!(
        ids(&dsl.own_actions("?status=open").await),
        [overdue.as_str(), pending.as_str(), unmet.as_str()]
    );
    let all = dsl.own_actions("").await;
    assert_eq!(all.len(), 5);
    assert_eq!(find(&all, &overdue)["overdue"], true);
    assert_eq!(find(&all, &late)["overdue"], false, "done is never overdue");
    // paged
    let first = dsl.get("/v1/actions?limit=2").await.json();
    assert_eq!(
        ids(first["actions"].as_array().unwrap()),
        [overdue.as_str(), pending.as_str()]
    );
    let after = first["next_after"].as_str().expect("a next page");
    let rest = dsl.own_actions(&format!("?after={after}")).await;
    assert_eq!(
        ids(&rest),
        [on_time.as_str(), late.as_str(), unmet.as_str()]
    );
    // the lead's own list holds none of them: they are the school's
    assert!(sw.own_actions("").await.is_empty());

    // the report's action line, in its scope
    let tm = w.server.person("csc", "tm.reid", Role::TeamManager);
    let line = |report: &Value| {
        report["clocks"]
            .as_array()
            .expect("clocks")
            .iter()
            .find(|l| l["clock"] == "action")
            .unwrap_or_else(|| panic!("no action line: {report}"))
            .clone()
    };
    let r = tm.get("/v1/reports/timeliness").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let l = line(&r.json());
    let n = |k: &str| l[k].as_i64().unwrap_or_else(|| panic!("{k} in {l}"));
    assert_eq!(
        [
            n("started"),
            n("met_on_time"),
            n("met_late"),
            n("overdue_now"),
            n("pending"),
            n("closed_unmet")
        ],
        [5, 1, 1, 1, 1, 1],
        "{l}"
    );
    assert_eq!(l["median_hours"], 0.0, "{l}");
    // another area's, another agency's: none
    let south = line(&tm.get("/v1/reports/timeliness?area=south").await.json());
    assert_eq!(south["started"], 0, "{south}");
    let ig = w.server.person("partnership", "ig.patel", Role::IgOfficer);
    let r = ig.get("/v1/reports/timeliness?agency=csc-south").await;
    assert_eq!(line(&r.json())["started"], 0);
    // a window that starts after they were agreed: none
    let later = at(ago(-Duration::seconds(5)));
    let r = ig
        .get(&format!(
            "/v1/reports/timeliness?from={later}&to={}",
            at(ago(-Duration::days(1)))
        ))
        .await;
    assert_eq!(line(&r.json())["started"], 0, "{}", r.text());
    // CSV
    let csv = tm.get("/v1/reports/timeliness?format=csv").await.text();
    assert!(
        csv.lines().any(|l| l.starts_with("action,5,1,1,1,1,1,")),
        "{csv}"
    );
    w.server.stop().await;
}

#[tokio::test]
async fn bad_input_and_wrong_callers_are_refused_and_write_nothing() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let sw = w.social_worker();
    let week = ago(-Duration::days(7));
    let rows = count(&w.server, "case_actions").await;
    let seq = head_seq(&w.server).await;

    for (body, field) in [
        (action("x", "nowhere", week), "owner_agency"),
        (action("x", "NOT AN ID", week), "owner_agency"),
        (action("x", SCHOOL, ago(Duration::hours(1))), "due_at"),
        (action("   ", SCHOOL, week), "description"),
        (
            json!({"owner_agency": SCHOOL, "due_at": at(week)}),
            "description",
        ),
        (
            json!({"description": "x", "due_at": at(week)}),
            "owner_agency",
        ),
        (
            json!({"description": "x", "owner_agency": SCHOOL}),
            "due_at",
        ),
        (
            json!({"description": "x", "owner_agency": SCHOOL, "due_at": "tomorrow"}),
            "due_at",
        ),
        (
            json!({"description": "x", "owner_agency": SCHOOL, "due_at": at(week), "child": "x"}),
            "child",
        ),
    ] {
        problem_naming(
            &sw.agree(&case, &body).await,
            422,
            "invalid_field",
            &[field],
        );
    }
    let long = "x".repeat(20_001);
    problem_naming(
        &sw.agree(&case, &action(&long, SCHOOL, week)).await,
        422,
        "invalid_field",
        &["description"],
    );

    // who may agree one: the lead's social worker or team manager only
    let body = action("Share the plan.", SCHOOL, week);
    let dsl = w.server.person(SCHOOL, "dsl.jones", Role::Dsl);
    problem(&dsl.agree(&case, &body).await, 403, "role_not_permitted");
    let south = w.server.person("csc-south", "sw.south", Role::SocialWorker);
    problem(&south.agree(&case, &body).await, 404, "not_found");
    let unknown = "01a204f3-0000-7000-8000-000000000000";
    problem(&sw.agree(unknown, &body).await, 404, "not_found");
    problem(&dsl.get("/v1/actions?limit=0").await, 400, "invalid_query");
    assert_eq!(count(&w.server, "case_actions").await, rows);
    assert_eq!(head_seq(&w.server).await, seq, "a refusal audits nothing");

    let tm = w.server.person("csc", "tm.reid", Role::TeamManager);
    tm.agreed(&case, &body).await;
    // a closed case takes no new action
    w.close_with_outcome(&case, ago(Duration::seconds(1))).await;
    problem(&sw.agree(&case, &body).await, 409, "case_closed");
    assert_eq!(count(&w.server, "case_actions").await, rows + 1);
    w.server.stop().await;
}

#[tokio::test]
async fn an_accepted_transfer_moves_the_actions_into_the_new_leads_report() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let sw = w.social_worker();
    let aid = sw
        .agreed(
            &case,
            &action("Share the plan.", SCHOOL, ago(-Duration::days(7))),
        )
        .await;
    let north = w.server.person("csc", "tm.reid", Role::TeamManager);
    let south = w.server.person("csc-south", "tm.south", Role::TeamManager);
    let r = north
        .post(
            &format!("/v1/cases/{case}/transfers"),
            &json!({"to_agency": "csc-south"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let tid = r.json()["id"].as_str().unwrap().to_owned();
    let r = south
        .post(
            &format!("/v1/cases/{case}/transfers/{tid}/accept"),
            &json!({"lead_sub": "sw.south"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    let ig = w.server.person("partnership", "ig.patel", Role::IgOfficer);
    let started = |agency: &'static str| {
        let ig = &ig;
        async move {
            let r = ig
                .get(&format!("/v1/reports/timeliness?agency={agency}"))
                .await;
            assert_eq!(r.status, 200, "{}", r.text());
            let report = r.json();
            report["clocks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["clock"] == "action")
                .expect("the action line")["started"]
                .clone()
        }
    };
    assert_eq!(started("csc-south").await, 1, "the new lead's");
    assert_eq!(started("csc").await, 0, "no longer the former lead's");
    // the new lead reads it on the case, and the owner still completes it
    let read = south.get(&format!("/v1/cases/{case}")).await;
    assert_eq!(read.status, 200, "{}", read.text());
    assert_eq!(read.json()["actions"][0]["lead_agency"], "csc-south");
    let dsl = w.server.person(SCHOOL, "dsl.jones", Role::Dsl);
    assert_eq!(dsl.complete(&case, &aid, "").await.status, 200);
    w.server.stop().await;
}
