//! schemathesis (PyPI, pinned in `tests/requirements.txt`) against the live broker: real mTLS
//! with the agency's dev client certificate, the dev CA, a bearer token, the suite's database
//! (SQLite, or PostgreSQL per `BROKER_TEST_DATABASE_URL`). It reads `GET /openapi.json` and
//! runs its examples, coverage and fuzzing phases with every check; `schemathesis.toml` says
//! which statuses count as what for this API, and why. Any failure, any unresolvable `$ref` and
//! any 5xx fails the test with schemathesis's report.

mod common;

use std::process::Command;
use std::time::Instant;

use broker::vocab::Role;

/// The version `tests/requirements.txt` pins; its flags and config keys are the ones used here.
const PINNED: &str = "4.32.5";

/// Test cases per operation and phase: about a minute per database on two cores.
const MAX_EXAMPLES: &str = "100";

/// The seed, so that a failure in CI reproduces locally (`--seed` in the report); change it
/// to explore other inputs.
const SEED: &str = "20261201";

fn installed_version() -> String {
    let how = format!(
        "install it with `python3 -m pip install -r tests/requirements.txt` (schemathesis=={PINNED}); \
         .ci/run does this"
    );
    let out = Command::new("schemathesis")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("schemathesis is not installed or not on PATH ({e}): {how}"));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && text.ends_with(&format!("version {PINNED}")),
        "schemathesis {PINNED} is required, found `{text}` {}: {how}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The lines of schemathesis's SUMMARY section (operations, phases, failures, test cases).
fn summary(report: &str) -> String {
    report
        .lines()
        .skip_while(|l| !l.contains(" SUMMARY "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The number after `label` in the summary (`Tested: 23`).
fn count(summary: &str, label: &str) -> Option<usize> {
    summary
        .lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.split('/').next())
        .and_then(|n| n.parse().ok())
}

#[tokio::test]
async fn schemathesis_finds_no_failure_no_unresolvable_reference_and_no_server_error() {
    let version = installed_version();
    let server = common::TestServer::start().await;
    let agency = "csc";
    // a children's social care worker who also manages the team and is its IG officer: the
    // roles (policies/actions.csv) that may call the most routes from one agency
    let token = server.token(
        agency,
        "schemathesis",
        &[Role::SocialWorker, Role::TeamManager, Role::IgOfficer],
    );
    // the principals schemathesis.toml gives the routes only other roles may call
    let mappa = server.token(
        "mappa",
        "schemathesis",
        &[Role::MappaChair, Role::MappaCoordinator, Role::IgOfficer],
    );
    let school = server.token(
        "school-hillside",
        "schemathesis",
        &[Role::HeadTeacher, Role::IgOfficer],
    );
    let certs = server.world.ca().parent().unwrap().display().to_string();
    // run in the test's directory: schemathesis keeps its example database there
    let workdir = server.dir.path().to_path_buf();
    let root = env!("CARGO_MANIFEST_DIR");
    let args: Vec<String> = vec![
        "--config-file".into(),
        format!("{root}/schemathesis.toml"),
        "run".into(),
        format!("https://127.0.0.1:{}/openapi.json", server.addr.port()),
        "--tls-verify".into(),
        server.world.ca().display().to_string(),
        "--request-cert".into(),
        server.world.client_cert(agency).display().to_string(),
        "--request-cert-key".into(),
        server.world.client_key(agency).display().to_string(),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        "--phases".into(),
        "examples,coverage,fuzzing".into(),
        "--checks".into(),
        "all".into(),
        "--max-examples".into(),
        MAX_EXAMPLES.into(),
        "--seed".into(),
        SEED.into(),
        // one worker: with several, schemathesis's run is not reproducible from the seed
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "30".into(),
        "--no-color".into(),
    ];
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.starts_with("Authorization:") {
                "'Authorization: Bearer <token>'".to_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("schemathesis")
            .args(&args)
            .env("BROKER_DEV_CERTS", certs)
            .env("BROKER_MAPPA_TOKEN", mappa)
            .env("BROKER_SCHOOL_TOKEN", school)
            .current_dir(workdir)
            .output()
    })
    .await
    .expect("the schemathesis task")
    .expect("schemathesis runs");
    let took = started.elapsed();
    let report = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let database = server.state.db.kind();
    let summary = summary(&report);
    eprintln!(
        "{version} on {database}, {:.1} s:\nschemathesis {}\n{summary}",
        took.as_secs_f64(),
        shown.join(" ")
    );
    assert!(
        out.status.success(),
        "schemathesis found problems on {database} (exit {:?}):\n{report}",
        out.status.code()
    );
    let operations = broker::routes::routes().len();
    assert_eq!(
        count(&summary, "Tested:"),
        Some(operations),
        "schemathesis must test every one of the {operations} documented operations:\n{report}"
    );
    let generated: usize = summary
        .lines()
        .find_map(|l| l.trim().split_once(" generated, "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0);
    assert!(
        generated >= operations * 10,
        "schemathesis reported {generated} test cases for {operations} operations:\n{report}"
    );
    assert!(
        !report.to_lowercase().contains("unresolvable"),
        "an unresolvable reference:\n{report}"
    );

    // everything the fuzzing wrote is chained: the audit log still verifies
    let client = server.client(agency);
    let verify = client.get("/v1/audit/verify", &token).await.unwrap();
    assert_eq!(verify.status, 200, "{}", verify.text());
    let verify = verify.json();
    assert_eq!(verify["ok"], true, "{verify}");
    assert!(verify["entries"].as_i64().unwrap() > 0, "{verify}");
    server.stop().await;
}
