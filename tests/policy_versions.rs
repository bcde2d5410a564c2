//! The policy as audited, versioned state (issue 24): `broker policy reload` refuses a policy
//! that does not load and one whose own tests fail, changing nothing; it brings a good one into
//! force with a `policy_in_force` audit entry, which running brokers swap to (the next decision
//! names the new version); a SIGHUP makes a running `broker serve` reload its own directory; and
//! two `broker serve` processes on one database converge on the version the reload wrote.

mod common;

use std::time::Duration;

use broker::decision::policy::Files;
use broker::vocab::Role;
use common::flows::request;
use common::policy::{
    PARTNERSHIP_ROW, READ_POLICY_ROW, break_actions, configure_policy, in_force, nobody_initiates,
    only_the_partnership_reads_the_policy, policy_dir, reload, until_number, versions,
};
use common::processes::{Servers, broker_command, free_addr};
use common::world::Person;
use common::{TestServer, fresh_world, hillside_pupil, world_client};
use serde_json::Value;

/// A fresh world served in-process, following the version in force every second.
async fn polling_server() -> TestServer {
    let (dir, world) = fresh_world().await;
    configure_policy(&world.config, "poll_seconds = 1");
    TestServer::start_in(dir, world).await
}

fn partnership_ig(server: &TestServer) -> Person {
    server.person("partnership", "ig.patel", Role::IgOfficer)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a refused reload must leave as it was: the audit head, the versions stored, and the
/// version the broker runs.
async fn unchanged_by(server: &TestServer, ig: &Person) -> (i64, i64, Value) {
    let db = &server.state.db;
    (
        common::db::head_seq(db).await,
        common::db::count(db, "policy_versions").await,
        in_force(ig).await["version"].clone(),
    )
}

#[tokio::test]
async fn reload_refuses_a_policy_that_does_not_load_and_changes_nothing() {
    let server = polling_server().await;
    let ig = partnership_ig(&server);
    let before = unchanged_by(&server, &ig).await;
    assert_eq!(before.1, 1, "the start recorded the version it loaded");
    let broken = policy_dir(server.dir.path(), "broken", break_actions);

    let out = reload(&server.world.config, &broken).await;
    assert!(
        !out.status.success(),
        "a broken policy was accepted: {}",
        stdout(&out)
    );
    let why = stderr(&out);
    assert!(
        why.contains("does not load") && why.contains("actions.csv:") && why.contains("wizard"),
        "the refusal names the file, the line and the problem: {why}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(unchanged_by(&server, &ig).await, before);
    server.stop().await;
}

#[tokio::test]
async fn reload_refuses_a_policy_whose_own_tests_fail_and_changes_nothing() {
    let server = polling_server().await;
    let ig = partnership_ig(&server);
    let before = unchanged_by(&server, &ig).await;
    let failing = policy_dir(server.dir.path(), "failing", nobody_initiates);
    // it loads: only its scenarios fail
    Files::from_dir(&failing).expect("the files read");
    broker::decision::Policy::load(&failing)
        .await
        .expect("the failing policy loads");

    let out = reload(&server.world.config, &failing).await;
    assert!(
        !out.status.success(),
        "a failing policy was accepted: {}",
        stdout(&out)
    );
    let why = stderr(&out);
    assert!(
        why.contains("of its own scenarios fail"),
        "the refusal says its tests fail: {why}"
    );
    let listed = why.matches("failing/tests/").count();
    assert!(
        (1..=10).contains(&listed),
        "the refusal lists the failing scenarios, at most ten ({listed}): {why}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(unchanged_by(&server, &ig).await, before);

    // a policy without its own tests is refused too
    let untested = policy_dir(server.dir.path(), "untested", |d| {
        std::fs::remove_dir_all(d.join("tests")).expect("removing the tests")
    });
    let out = reload(&server.world.config, &untested).await;
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(stderr(&out).contains("no scenarios"), "{}", stderr(&out));
    assert_eq!(unchanged_by(&server, &ig).await, before);
    server.stop().await;
}

#[tokio::test]
async fn reload_brings_a_good_policy_into_force_audited_and_the_next_decision_names_it() {
    let server = polling_server().await;
    let ig = partnership_ig(&server);
    let school_ig = server.person("school-hillside", "ig.hill", Role::IgOfficer);
    let first = in_force(&school_ig).await;
    assert_eq!(first["number"], 1, "{first}");
    assert!(
        first["loaded_by"]
            .as_str()
            .is_some_and(|b| b.starts_with("start of broker on ")),
        "{first}"
    );
    let old = first["version"].as_str().expect("a version").to_owned();
    assert_eq!(
        old,
        Files::embedded().version(),
        "the server started with the shipped policy"
    );
    assert_eq!(first["profile"], "wales", "{first}");
    let actions = first["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["name"] == "actions.csv")
        .expect("actions.csv among the files")
        .clone();
    assert_eq!(actions["columns"][0], "action", "{actions}");
    assert!(
        actions["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r[0] == "read_policy" && r[2] == "ig_officer"),
        "{actions}"
    );

    let good = policy_dir(
        server.dir.path(),
        "good",
        only_the_partnership_reads_the_policy,
    );
    let new = Files::from_dir(&good).expect("the files read").version();
    let head = common::db::head_seq(&server.state.db).await;
    let out = reload(&server.world.config, &good).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains(&format!("policy version 2 in force: {new} (was {old})")),
        "{}",
        stdout(&out)
    );

    // one audit entry, by the broker, naming the versions, who loaded it and what changed
    assert_eq!(common::db::head_seq(&server.state.db).await, head + 1);
    let entry = common::audit::at(
        &common::audit::all(&ig.client, &ig.token, "action=policy_in_force").await,
        head + 1,
    );
    assert_eq!(entry["action"], "policy_in_force", "{entry}");
    assert_eq!(entry["policy_version"], new.as_str(), "{entry}");
    let detail = &entry["detail"];
    assert_eq!(detail["version"], new.as_str(), "{entry}");
    assert_eq!(detail["previous"], old.as_str(), "{entry}");
    assert_eq!(detail["number"], 2, "{entry}");
    assert!(
        detail["loaded_by"]
            .as_str()
            .is_some_and(|b| b.starts_with("cli ") && b.contains('@')),
        "{entry}"
    );
    assert_eq!(
        detail["changes"],
        serde_json::json!([{"file": "actions.csv", "added": 1, "removed": 1}]),
        "only counts, never the rows, in the audit entry: {entry}"
    );

    // the running server swaps to it within its poll
    let now = until_number(&ig, 2, Duration::from_secs(15)).await;
    assert_eq!(now["version"], new.as_str(), "{now}");
    assert_eq!(now["newest_number"], 2, "{now}");
    assert_eq!(now["audit_seq"], head + 1, "{now}");
    let history = versions(&ig).await;
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0]["number"], 2);
    assert_eq!(history[1]["number"], 1);
    let change = &history[0]["changes"][0];
    assert_eq!(change["file"], "actions.csv", "{change}");
    let row = |line: &str| -> Value {
        line.trim_start_matches("p, ")
            .split(", ")
            .collect::<Vec<_>>()
            .into()
    };
    assert_eq!(
        change["added"],
        Value::Array(vec![row(PARTNERSHIP_ROW)]),
        "{change}"
    );
    assert_eq!(
        change["removed"],
        Value::Array(vec![row(READ_POLICY_ROW)]),
        "{change}"
    );

    // the console's policy page shows the same: version 2, and its changed rows in words
    let who = common::console::principal(&server, "partnership", "ig.patel", Role::IgOfficer);
    let session = server.console_session(&who).await;
    let get = format!(
        "GET /ui/policy HTTP/1.1\r\nhost: localhost\r\ncookie: {}\r\nconnection: close\r\n\r\n",
        session.cookie
    );
    let page = server.raw_exchange("partnership", get.as_bytes()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let html = &page.body;
    assert!(html.contains(r#"id="policy-number">2<"#), "{html}");
    assert!(html.contains(&format!(r#"data-version="{new}""#)), "{html}");
    let role = "Role: Information governance officer";
    for line in [
        format!("Kind of agency: Safeguarding partnership; {role}; Only where: No condition"),
        format!("Kind of agency: Any; {role}; Only where: No condition"),
    ] {
        assert!(
            html.contains(&line),
            "the changed rows in words ({line}): {html}"
        );
    }
    assert!(html.contains(r#"data-rows="added""#) && html.contains(r#"data-rows="removed""#));

    // the new rules are the ones in force: a school's IG officer may no longer read the policy
    let r = school_ig.get("/v1/policy").await;
    assert_eq!(r.status, 403, "{}", r.text());

    // and a decision made now names the new version, in its answer and its audit entry
    let sw = server.social_worker();
    let pupil = hillside_pupil(&sw.client, &sw.token).await;
    let body = request(
        &pupil.record,
        "school-hillside",
        Some("dsl"),
        "safeguarding",
        "consent",
    );
    let r = sw.disclose(&body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let decided = r.json();
    assert_eq!(decided["policy_version"], new.as_str(), "{decided}");
    let seq = decided["audit_seq"].as_i64().expect("an audit seq");
    let row = common::db::stored_row(&server.state.db, seq).await;
    assert_eq!(row.policy_version.as_deref(), Some(new.as_str()));

    // reloading the version in force changes nothing
    let head = common::db::head_seq(&server.state.db).await;
    let out = reload(&server.world.config, &good).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("already in force"),
        "{}",
        stdout(&out)
    );
    assert_eq!(common::db::head_seq(&server.state.db).await, head);
    assert_eq!(versions(&ig).await.len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn a_running_broker_serve_reloads_its_policy_directory_on_sighup_and_keeps_its_policy_when_refused()
 {
    let (_dir, world) = fresh_world().await;
    let policies = policy_dir(&world.dir, "policies", |_| {});
    // a poll far longer than the test: only the SIGHUP can bring the new version in
    configure_policy(&world.config, "poll_seconds = 600");
    let config = broker::config::Config::load(&world.config).expect("the config loads");
    assert_eq!(config.policy.dir.as_deref(), Some(policies.as_path()));
    let addr = free_addr();
    let mut servers = Servers::new();
    let i = servers.serve(&world, addr);
    servers
        .wait_healthy(i, &world_client(&world, addr, "partnership"))
        .await;
    let token = broker::devinit::dev_token(
        &config,
        "partnership",
        "ig.patel",
        &[Role::IgOfficer],
        Duration::from_secs(600),
    )
    .expect("a dev token");
    let ig = Person {
        agency: "partnership".into(),
        client: world_client(&world, addr, "partnership"),
        token,
    };
    let first = in_force(&ig).await;
    assert_eq!(first["number"], 1, "{first}");

    // a broken directory: refused, logged, and the process goes on with its policy
    break_actions(&policies);
    servers.hang_up(i);
    let started = std::time::Instant::now();
    while !servers
        .log(i)
        .contains("SIGHUP: the policy directory was refused")
    {
        servers.assert_running(i);
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no refusal logged:\n{}",
            servers.log(i)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = servers.log(i);
    assert!(log.contains("wizard"), "the log names the problem:\n{log}");
    assert!(
        !log.contains("p, read_policy"),
        "the log holds no policy content:\n{log}"
    );
    servers.assert_running(i);
    assert_eq!(in_force(&ig).await["version"], first["version"]);
    assert_eq!(versions(&ig).await.len(), 1);

    // mended, and changed: in force at once
    Files::embedded()
        .write_to(&policies)
        .expect("writing the policy again");
    only_the_partnership_reads_the_policy(&policies);
    let new = Files::from_dir(&policies).expect("the files").version();
    servers.hang_up(i);
    let now = until_number(&ig, 2, Duration::from_secs(15)).await;
    assert_eq!(now["version"], new.as_str(), "{now}");
    assert!(
        now["loaded_by"]
            .as_str()
            .is_some_and(|b| b.starts_with("SIGHUP to broker on ")),
        "{now}"
    );
    servers.assert_running(i);
    drop(servers);
    common::drop_postgres_database(&config.database.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_broker_serve_processes_on_one_database_converge_on_the_version_reload_wrote() {
    let (_dir, world) = fresh_world().await;
    configure_policy(&world.config, "poll_seconds = 1");
    let migrated = broker_command(&world.config, &["migrate"])
        .output()
        .expect("running broker migrate");
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let config = broker::config::Config::load(&world.config).expect("the config loads");
    let token = broker::devinit::dev_token(
        &config,
        "partnership",
        "ig.patel",
        &[Role::IgOfficer],
        Duration::from_secs(600),
    )
    .expect("a dev token");
    let mut servers = Servers::new();
    let mut igs = Vec::new();
    for _ in 0..2 {
        let addr = free_addr();
        let i = servers.serve(&world, addr);
        servers
            .wait_healthy(i, &world_client(&world, addr, "partnership"))
            .await;
        igs.push(Person {
            agency: "partnership".into(),
            client: world_client(&world, addr, "partnership"),
            token: token.clone(),
        });
    }
    // both started with the same files: one version, recorded by the first
    for ig in &igs {
        let v = in_force(ig).await;
        assert_eq!(v["number"], 1, "{v}");
        assert_eq!(versions(ig).await.len(), 1);
    }

    let good = policy_dir(&world.dir, "good", only_the_partnership_reads_the_policy);
    let new = Files::from_dir(&good).expect("the files").version();
    let out = reload(&world.config, &good).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for (i, ig) in igs.iter().enumerate() {
        let v = until_number(ig, 2, Duration::from_secs(10)).await;
        assert_eq!(v["version"], new.as_str(), "process {i}: {v}");
        servers.assert_running(i);
    }
    drop(servers);
    common::drop_postgres_database(&config.database.url).await;
}
