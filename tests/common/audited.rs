//! The world the audit tests share: a Hillside pupil with a risk plan and a parent's consent,
//! the people who act on it and the IG officer who reads the log, with the request helpers
//! those tests speak in; a chain of nine known entries for tamper tests; a busy log involving
//! four agencies for query tests; and `broker audit verify` run as the command.

use std::time::Duration;

use broker::client::{Client, Response};
use broker::db::Db;
use broker::vocab::Role;
use serde_json::{Value, json};

use super::TestServer;
use super::db::head;
use super::flows::{born_years_ago, consent, deposit, register};
use super::world::World;

pub async fn post(client: &Client, path: &str, token: &str, body: &Value) -> Response {
    client
        .post(path, token, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e:#}"))
}

pub async fn put(client: &Client, path: &str, token: &str, body: &Value) -> Response {
    client
        .put(path, token, body)
        .await
        .unwrap_or_else(|e| panic!("PUT {path}: {e:#}"))
}

pub async fn get(client: &Client, path: &str, token: &str) -> Response {
    client
        .get(path, token)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
}

/// The JSON body of a response that must have `status`.
pub fn expect(r: &Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text());
    r.json()
}

/// A disclosure (or decision) request for one record.
pub fn disclosure(record: &str, agency: &str, role: &str, purpose: &str, basis: &str) -> Value {
    json!({"record_ids": [record], "recipient_agency": agency, "recipient_role": role,
           "purpose": purpose, "basis": basis})
}

/// A police officer's significant-harm override to a social worker: a permit with `ig_review`.
pub fn override_to_csc(record: &str) -> Value {
    let mut body = disclosure(
        record,
        "csc",
        "social_worker",
        "safeguarding",
        "significant_harm",
    );
    body["justification"] =
        json!("Reasonable cause to believe a younger child is likely to suffer significant harm.");
    body
}

/// `broker audit verify --config` as a process: its exit status and its JSON stdout.
pub async fn verify_command(server: &TestServer) -> (std::process::ExitStatus, Value) {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_broker"))
            .args(["audit", "verify", "--config"])
            .arg(&server.world.config)
            .env_remove("BROKER_DATABASE_URL")
            .output(),
    )
    .await
    .expect("broker audit verify finishes within 60 s")
    .expect("running broker audit verify");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "broker audit verify printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status, report)
}

// ---- a case to audit -------------------------------------------------------------------------

/// A Hillside pupil aged 10 registered by a social worker, a risk plan about them, and a
/// parent's consent to sharing it with schools for safeguarding (three audit entries); the
/// Hillside DSL and the partnership's IG officer.
pub struct Case {
    pub server: TestServer,
    pub csc: Client,
    pub sw: String,
    pub hillside: Client,
    pub dsl: String,
    pub partnership: Client,
    pub ig: String,
    pub child: String,
    pub plan: String,
    /// The head before the case's first entry: what the broker's start recorded (the policy
    /// version it brought into force). The case's entries are numbered from here.
    pub base: i64,
}

impl Case {
    pub async fn start() -> Case {
        let plan = json!({"summary": "plan summary", "risk_management": "supervised at break",
                          "allegation_details": "not for schools"});
        let server = TestServer::start().await;
        let base = head(&server.state.db).await.0;
        let World {
            server,
            csc,
            sw,
            child,
            record: plan,
            ..
        } = World::on(server, plan).await;
        Case {
            base,
            hillside: server.client("school-hillside"),
            dsl: server.token("school-hillside", "dsl.jones", &[Role::Dsl]),
            partnership: server.client("partnership"),
            ig: server.token("partnership", "ig.patel", &[Role::IgOfficer]),
            server,
            csc,
            sw,
            child,
            plan,
        }
    }

    /// The seq of the case's `n`-th entry (1: the child's registration).
    pub fn seq(&self, n: i64) -> i64 {
        self.base + n
    }

    pub fn db(&self) -> &Db {
        &self.server.state.db
    }

    /// The plan to the Hillside DSL with the parent's consent: a permit.
    pub fn permit(&self) -> Value {
        disclosure(
            &self.plan,
            "school-hillside",
            "dsl",
            "safeguarding",
            "consent",
        )
    }

    /// The plan to an undesignated Hillside teacher: a deny.
    pub fn deny(&self) -> Value {
        let mut body = disclosure(
            &self.plan,
            "school-hillside",
            "school_staff",
            "safeguarding",
            "consent",
        );
        body["recipient_sub"] = json!("t.smith");
        body
    }

    pub async fn disclose(&self, body: &Value, status: u16) -> Value {
        let r = post(&self.csc, "/v1/disclosures", &self.sw, body).await;
        expect(&r, status, "a disclosure")
    }

    /// `GET /v1/audit/verify` as the partnership's IG officer.
    pub async fn verify(&self) -> Value {
        let r = get(&self.partnership, "/v1/audit/verify", &self.ig).await;
        expect(&r, 200, "GET /v1/audit/verify")
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A case with nine entries after the start's: the three of [`Case::start`], three permits, a
/// deny, a dry run and another permit. Its entry 5 (`case.seq(5)`) is a permit.
pub async fn nine_entries() -> Case {
    let case = Case::start().await;
    for _ in 0..3 {
        case.disclose(&case.permit(), 201).await;
    }
    case.disclose(&case.deny(), 403).await;
    let r = post(&case.csc, "/v1/decisions", &case.sw, &case.permit()).await;
    expect(&r, 200, "a dry run");
    case.disclose(&case.permit(), 201).await;
    assert_eq!(head(case.db()).await.0, case.seq(9));
    let clean = broker::audit::verify(case.db()).await.unwrap();
    assert!(
        clean.ok,
        "the chain holds before it is tampered with: {clean:?}"
    );
    case
}

/// Both verifiers name `bad` as the first bad seq of the tampered chain, and the API counts
/// `entries` rows.
pub async fn both_verifiers_name(case: &Case, bad: i64, entries: i64) {
    let api = case.verify().await;
    assert_eq!(api["ok"], false, "{api}");
    assert_eq!(api["first_bad_seq"], bad, "GET /v1/audit/verify: {api}");
    assert_eq!(api["entries"], entries, "{api}");
    // The API's verification was itself audited, appended to the tampered chain: one more row.
    let (status, cli) = verify_command(&case.server).await;
    assert!(
        !status.success(),
        "broker audit verify exited {status}: {cli}"
    );
    assert_eq!(cli["ok"], false, "{cli}");
    assert_eq!(cli["first_bad_seq"], bad, "broker audit verify: {cli}");
    assert_eq!(cli["entries"], entries + 1, "{cli}");
}

/// A case plus a second child at Riverside, whose records and packets involve Riverside.
pub struct Busy {
    pub case: Case,
    pub riverside: Client,
    pub riverside_ig: String,
    pub riverside_child: String,
    /// seqs of: the plan to the Hillside DSL, the deny to a teacher, the DSL's read of the packet,
    /// the police override, the MERLIN notices, the plan to the Riverside DSL, its read, Riverside's own deposit, and
    /// the social worker's refused disclosure of Riverside's record
    pub permit: i64,
    pub deny: i64,
    pub read: i64,
    pub override_seq: i64,
    /// the MERLIN notices the police's deposit set off (to youth support, the Contact Service)
    pub merlin: Vec<i64>,
    pub riverside_permit: i64,
    pub riverside_read: i64,
    pub riverside_deposit: i64,
    /// Riverside's incident report delivered to the Northshire front door (PROCESS.md P2: a
    /// concern reaches someone), on legal_obligation: an override awaiting review
    pub riverside_concern: i64,
    pub riverside_owned_deny: i64,
    /// the head after all of it
    pub last: i64,
}

/// Every kind of entry, involving Hillside, Riverside, CSC and the police.
pub async fn busy() -> Busy {
    let case = Case::start().await;
    let permit = case.disclose(&case.permit(), 201).await;
    let disclosure_id = permit["disclosure_id"].as_str().unwrap().to_owned();
    let deny = case.disclose(&case.deny(), 403).await;
    let r = get(
        &case.hillside,
        &format!("/v1/inbox/{disclosure_id}"),
        &case.dsl,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let read = head(case.db()).await.0;

    let pc = case.server.person("police", "pc.khan", Role::PoliceOfficer);
    let park = json!({"summary": "incident at a park"});
    let before = head(case.db()).await.0;
    let notification = pc.deposit(&case.child, "police_notification", park).await;
    // the deposit sets off the MERLIN notices (policies/duties.csv): disclosures of the child on
    // legal_obligation, overrides awaiting review like the police's own
    let merlin: Vec<i64> = broker::with_db!(case.db(), pool => {
        sqlx::query_scalar("SELECT seq FROM audit_log WHERE seq > $1 AND action = 'disclosure' ORDER BY seq")
            .bind(before)
            .fetch_all(pool)
            .await
            .expect("reading the audit log")
    });
    assert_eq!(
        merlin.len(),
        2,
        "the MERLIN notices to youth support and the Contact Service"
    );
    let r = pc.disclose(&override_to_csc(&notification)).await;
    let overridden = expect(&r, 201, "the police override");
    assert_eq!(overridden["obligations"], json!(["ig_review"]));

    let (csc, sw) = (&case.csc, case.sw.as_str());
    let riverside = Some("school-riverside");
    let riverside_child = register(csc, sw, &born_years_ago(12), riverside).await;
    let plan = json!({"summary": "riverside plan", "risk_management": "separate lunch"});
    let kind = "risk_management_plan";
    let riverside_plan = deposit(csc, sw, &riverside_child, kind, plan).await;
    consent(
        csc,
        sw,
        &riverside_child,
        "parent",
        &["safeguarding"],
        &["school"],
    )
    .await;
    let to_riverside = disclosure(
        &riverside_plan,
        "school-riverside",
        "dsl",
        "safeguarding",
        "consent",
    );
    let riverside_permit = case.disclose(&to_riverside, 201).await;
    let riverside = case.server.client("school-riverside");
    let riverside_dsl = case
        .server
        .person("school-riverside", "dsl.okoro", Role::Dsl);
    let id = riverside_permit["disclosure_id"].as_str().unwrap();
    let r = riverside_dsl.get(&format!("/v1/inbox/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let riverside_read = head(case.db()).await.0;
    let head_teacher = case
        .server
        .person("school-riverside", "ht.adeyemi", Role::HeadTeacher);
    let playground = json!({"summary": "incident in the playground"});
    let r = head_teacher
        .deposit_as(
            &riverside_child,
            "incident_report",
            "harmful_behaviour",
            playground,
        )
        .await;
    let incident = expect(&r, 201, "Riverside's incident report");
    let riverside_owned_deny = case
        .disclose(
            &disclosure(
                incident["id"].as_str().unwrap(),
                "police",
                "police_officer",
                "safeguarding",
                "consent",
            ),
            403,
        )
        .await;
    let last = head(case.db()).await.0;
    Busy {
        riverside_ig: case
            .server
            .token("school-riverside", "ig.riverside", &[Role::IgOfficer]),
        permit: permit["audit_seq"].as_i64().unwrap(),
        deny: deny["audit_seq"].as_i64().unwrap(),
        read,
        override_seq: overridden["audit_seq"].as_i64().unwrap(),
        merlin,
        riverside_permit: riverside_permit["audit_seq"].as_i64().unwrap(),
        riverside_read,
        riverside_deposit: incident["audit_seq"].as_i64().unwrap(),
        riverside_concern: incident["duties"][0]["audit_seq"].as_i64().unwrap(),
        riverside_owned_deny: riverside_owned_deny["audit_seq"].as_i64().unwrap(),
        riverside,
        riverside_child,
        last,
        case,
    }
}
