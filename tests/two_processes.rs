//! Two `broker serve` processes on one PostgreSQL database append to one linear audit chain:
//! the head's row lock orders appends across processes, so concurrent disclosures through both
//! leave seqs 1..n with no gap and a chain `broker audit verify` accepts. And a process that
//! keeps a child's facts in memory (`store::cache`) still decides on a change another process
//! made to them.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use broker::client::Client;
use broker::config::Config;
use broker::devinit::{DevWorld, dev_token};
use broker::vocab::Role;
use serde_json::{Value, json};

// ---- request helpers -------------------------------------------------------------------------

use common::processes::{Servers, broker_command, free_addr};
use common::{born_years_ago, world_client as client};

/// POSTs and insists on `status`; returns the body.
async fn post(client: &Client, path: &str, token: &str, body: &Value, status: u16) -> Value {
    let r = client
        .post(path, token, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e:#}"));
    assert_eq!(r.status.as_u16(), status, "POST {path}: {}", r.text());
    r.json()
}

fn id(body: &Value) -> String {
    body["id"].as_str().expect("an id").to_owned()
}

async fn stored_seqs(url: &str) -> Vec<i64> {
    let db = broker::db::Db::connect(url, 1).await.expect("connecting");
    let seqs = common::db::stored_seqs(&db).await;
    db.close().await;
    seqs
}

// ---- the shared setting ----------------------------------------------------------------------

/// A fresh dev world on the test database, migrated by `broker migrate`, with as many
/// `broker serve` processes as the database can share, each healthy: two on PostgreSQL, one on
/// SQLite (the single-process embedded store, where one process takes both halves).
struct Running {
    _dir: tempfile::TempDir,
    url: String,
    world: DevWorld,
    config: Config,
    servers: Servers,
    addrs: Vec<SocketAddr>,
}

impl Running {
    async fn start() -> Running {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = common::test_database_url(dir.path()).await;
        let world =
            broker::devinit::dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
        let migrated = broker_command(&world.config, &["migrate"])
            .output()
            .expect("running broker migrate");
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        let config = Config::load(&world.config).expect("the dev config loads");
        let processes = if url.starts_with("postgres") { 2 } else { 1 };
        let mut servers = Servers::new();
        let mut addrs = Vec::new();
        for _ in 0..processes {
            let addr = free_addr();
            let i = servers.serve(&world, addr);
            servers.wait_healthy(i, &client(&world, addr, "csc")).await;
            addrs.push(addr);
        }
        Running {
            _dir: dir,
            url,
            world,
            config,
            servers,
            addrs,
        }
    }

    /// A dev token for `sub` at `agency` with `role`.
    fn token(&self, agency: &str, sub: &str, role: Role) -> String {
        dev_token(&self.config, agency, sub, &[role], Duration::from_secs(600))
            .expect("a dev token")
    }

    /// A csc client of process `i` (the last one if there are fewer).
    fn csc(&self, i: usize) -> Client {
        client(&self.world, self.addrs[i.min(self.addrs.len() - 1)], "csc")
    }

    /// Stops the processes and drops the PostgreSQL database, if the test made one.
    async fn end(mut self) {
        self.servers.kill();
        common::drop_postgres_database(&self.url).await;
    }
}

/// Through `csc`, as the social worker `sw`: a ten-year-old at Hillside, a risk management plan
/// about them with `sections`, and a parent's consent to share with schools for safeguarding.
/// Their ids: (child, plan, consent).
async fn child_with_plan_and_consent(
    csc: &Client,
    sw: &str,
    sections: Value,
) -> (String, String, String) {
    let child = id(&post(
        csc,
        "/v1/subjects",
        sw,
        &json!({"date_of_birth": born_years_ago(10), "school_agency": "school-hillside"}),
        201,
    )
    .await);
    let plan = id(&post(
        csc,
        "/v1/records",
        sw,
        &json!({"subject_id": child, "kind": "risk_management_plan",
        "subject_role": "harmful_behaviour", "sections": sections}),
        201,
    )
    .await);
    let consent = id(&post(
        csc,
        &format!("/v1/subjects/{child}/consents"),
        sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}),
        201,
    )
    .await);
    (child, plan, consent)
}

// ---- the test --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_broker_processes_on_one_database_keep_one_gap_free_verified_chain() {
    let mut running = Running::start().await;
    let (world, addrs, url) = (&running.world, &running.addrs, &running.url);
    let processes = addrs.len();
    // what the starts recorded (the policy version in force): the chain goes on from there
    let started = stored_seqs(url).await.len() as i64;

    let sw = running.token("csc", "sw.amara", Role::SocialWorker);
    let (_, plan, _) = child_with_plan_and_consent(
        &running.csc(0),
        &sw,
        json!({"summary": "plan summary", "risk_management": "supervised at break",
            "allegation_details": "not for schools"}),
    )
    .await;
    let setup = 3;

    // 2 × 30 disclosures at once, half to each process (all to the one on SQLite), from six
    // clients per half; every other one is a deny, so both kinds of transaction interleave.
    let mut tasks = Vec::new();
    for half in 0..2 {
        let addr = addrs[half % processes];
        for c in 0..6 {
            let client = client(world, addr, "csc");
            let sw = sw.clone();
            let plan = plan.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..5 {
                    let permit = (c + i) % 2 == 0;
                    let mut body = json!({"record_ids": [plan], "recipient_agency": "school-hillside",
                        "recipient_role": "dsl", "purpose": "safeguarding", "basis": "consent"});
                    if !permit {
                        body["recipient_role"] = json!("school_staff");
                        body["recipient_sub"] = json!("t.smith");
                    }
                    let d = post(
                        &client,
                        "/v1/disclosures",
                        &sw,
                        &body,
                        if permit { 201 } else { 403 },
                    )
                    .await;
                    seqs.push(d["audit_seq"].as_i64().expect("an audit_seq"));
                }
                seqs
            }));
        }
    }
    let mut reported = BTreeSet::new();
    for task in tasks {
        for seq in task.await.expect("a disclosing task") {
            assert!(reported.insert(seq), "audit_seq {seq} was given twice");
        }
    }
    let actions = started + setup + 60;
    assert_eq!(
        reported,
        (started + setup + 1..=actions).collect::<BTreeSet<_>>()
    );

    running.servers.kill();
    let verified = broker_command(&running.world.config, &["audit", "verify"])
        .output()
        .expect("running broker audit verify");
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "broker audit verify exited {}: {stdout}{}",
        verified.status,
        String::from_utf8_lossy(&verified.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["entries"], actions, "{report}");
    assert_eq!(report["first_bad_seq"], Value::Null, "{report}");
    assert_eq!(
        stored_seqs(&running.url).await,
        (1..=actions).collect::<Vec<i64>>()
    );
    running.end().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_consent_withdrawn_through_one_process_stops_the_next_disclosure_through_the_other() {
    let running = Running::start().await;
    let sw = running.token("csc", "sw.amara", Role::SocialWorker);
    // on SQLite (one process only) the same process does both
    let (a, b) = (running.csc(0), running.csc(1));
    let (child, plan, consent) = child_with_plan_and_consent(
        &a,
        &sw,
        json!({"summary": "plan summary", "risk_management": "supervised at break"}),
    )
    .await;
    let to_dsl = json!({"record_ids": [plan], "recipient_agency": "school-hillside",
        "recipient_role": "dsl", "purpose": "safeguarding", "basis": "consent"});
    // the first disclosure reads the child's facts and keeps them; the second is decided on
    // the kept facts
    for _ in 0..2 {
        post(&a, "/v1/disclosures", &sw, &to_dsl, 201).await;
    }
    // the other process withdraws the consent
    post(
        &b,
        &format!("/v1/subjects/{child}/consents/{consent}/withdraw"),
        &sw,
        &json!({}),
        200,
    )
    .await;
    // the first process's next decision is made on the withdrawal, not on what it kept
    let refused = post(&a, "/v1/disclosures", &sw, &to_dsl, 403).await;
    let reasons: Vec<&str> = refused["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(reasons.contains(&"consent_not_current"), "{refused}");
    running.end().await;
}
