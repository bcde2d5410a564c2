//! The audit log (RULES.md 8) over the real API and a real database (SQLite, or PostgreSQL when
//! `BROKER_TEST_DATABASE_URL` is set): one entry per action and never record content; tampering
//! named at its first bad seq by `GET /v1/audit/verify` and by `broker audit verify` alike; fail
//! closed when the audit write fails; one linear chain under concurrency; and what IG officers
//! can list, filter, page, export, review and report.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use broker::audit::AuditRow;
use broker::client::{Client, Response};
use broker::db::Db;
use broker::vocab::Role;
use chrono::{Days, Months, NaiveDate, Utc};
use common::TestServer;
use serde_json::{Value, json};
use sqlx::Row;

// ---- request helpers -------------------------------------------------------------------------

/// Today's date in Europe/London, the calendar the rules count ages in.
fn today() -> NaiveDate {
    broker::decision::facts::london_date(Utc::now())
}

/// A date of birth that makes a child `years` old today, two months past a birthday.
fn born_years_ago(years: u32) -> String {
    (today() - Months::new(years * 12) - Days::new(60)).to_string()
}

async fn post(client: &Client, path: &str, token: &str, body: &Value) -> Response {
    client
        .post(path, token, body)
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e:#}"))
}

async fn put(client: &Client, path: &str, token: &str, body: &Value) -> Response {
    client
        .put(path, token, body)
        .await
        .unwrap_or_else(|e| panic!("PUT {path}: {e:#}"))
}

async fn get(client: &Client, path: &str, token: &str) -> Response {
    client
        .get(path, token)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
}

/// The JSON body of a response that must have `status`.
fn expect(r: &Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text());
    r.json()
}

/// The id in a `201 {id}` answer.
fn created(r: &Response, what: &str) -> String {
    expect(r, 201, what)["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no id in {}", r.text()))
        .to_owned()
}

/// An RFC 9457 problem with `status` and a `code`.
fn assert_problem(r: &Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text());
    assert_eq!(
        r.content_type(),
        "application/problem+json",
        "{what}: {}",
        r.text()
    );
    let body = r.json();
    assert_eq!(body["status"], status, "{what}: {body}");
    assert!(body["code"].is_string(), "{what}: no code in {body}");
    body
}

/// A disclosure (or decision) request for one record.
fn disclosure(record: &str, agency: &str, role: &str, purpose: &str, basis: &str) -> Value {
    json!({"record_ids": [record], "recipient_agency": agency, "recipient_role": role,
           "purpose": purpose, "basis": basis})
}

/// A police officer's significant-harm override to a social worker: a permit with `ig_review`.
fn override_to_csc(record: &str) -> Value {
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

fn seq(entry: &Value) -> i64 {
    entry["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {entry}"))
}

fn seqs(entries: &[Value]) -> Vec<i64> {
    entries.iter().map(seq).collect()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Is `agency` the requester, an owner of the records or the recipient of this entry?
fn involves(entry: &Value, agency: &str) -> bool {
    entry["actor"]["agency"] == agency
        || entry["recipient"]["agency"] == agency
        || entry["owner_agencies"]
            .as_array()
            .is_some_and(|owners| owners.iter().any(|o| o == agency))
}

/// One page of `GET /v1/audit?{query}`.
async fn audit_page(client: &Client, token: &str, query: &str) -> Value {
    let r = get(client, &format!("/v1/audit?{query}"), token).await;
    expect(&r, 200, &format!("GET /v1/audit?{query}"))
}

/// Every entry `GET /v1/audit` shows this caller with `filters`, following the cursor.
async fn audit_all(client: &Client, token: &str, filters: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = audit_page(
            client,
            token,
            &format!("{filters}&after_seq={after}&limit=1000"),
        )
        .await;
        entries.extend(page["entries"].as_array().expect("entries").iter().cloned());
        match page["next_after_seq"].as_i64() {
            Some(next) => after = next,
            None => return entries,
        }
    }
}

/// Only the entries up to `last` (later ones are the audit queries of the test itself).
fn upto(entries: &[Value], last: i64) -> Vec<Value> {
    entries.iter().filter(|e| seq(e) <= last).cloned().collect()
}

// ---- database helpers ------------------------------------------------------------------------

/// The chain's head: `(seq, hash)` of `audit_head`.
async fn head(db: &Db) -> (i64, String) {
    broker::with_db!(db, pool => {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await
            .expect("reading audit_head");
        (row.get::<i64, _>("seq"), row.get::<String, _>("hash"))
    })
}

/// Every seq of `audit_log`, in order.
async fn stored_seqs(db: &Db) -> Vec<i64> {
    broker::with_db!(db, pool => {
        sqlx::query("SELECT seq FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reading audit_log")
            .iter()
            .map(|r| r.get::<i64, _>("seq"))
            .collect()
    })
}

async fn stored_rows(db: &Db) -> Vec<AuditRow> {
    broker::with_db!(db, pool => {
        sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reading audit_log")
    })
}

async fn stored_row(db: &Db, seq: i64) -> AuditRow {
    broker::with_db!(db, pool => {
        sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("reading audit entry {seq}: {e}"))
    })
}

async fn count(db: &Db, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("counting {table}: {e}"))
            .get::<i64, _>("n")
    })
}

/// Runs one statement behind the broker's back (on SQLite through the read pool, which can
/// write too: the writer's idle connection does not block it in WAL mode).
async fn exec(db: &Db, sql: &str) {
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    })
}

/// Writes `row`'s stored values (all but its seq) as the entry at `seq`: an UPDATE, or an INSERT
/// when `insert`.
async fn write_row(db: &Db, seq: i64, row: &AuditRow, insert: bool) {
    let columns = broker::audit::columns();
    let sql = if insert {
        let params: Vec<String> = (1..=broker::audit::ROW_COLUMNS)
            .map(|i| format!("${i}"))
            .collect();
        format!(
            "INSERT INTO audit_log ({columns}) VALUES ({})",
            params.join(", ")
        )
    } else {
        let set: Vec<String> = columns
            .split(", ")
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        format!("UPDATE audit_log SET {} WHERE seq = $1", set.join(", "))
    };
    let mut cells = row.cells();
    cells[0] = broker::audit::Cell::Int(seq);
    broker::with_db!(db, pool => {
        cells
            .into_iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, cell| cell.bind(q))
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("writing audit entry {seq}: {e}"));
    })
}

/// `broker audit verify --config` as a process: its exit status and its JSON stdout.
async fn verify_command(server: &TestServer) -> (std::process::ExitStatus, Value) {
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
/// parent's consent to sharing it with schools for safeguarding (three audit entries).
struct Case {
    server: TestServer,
    csc: Client,
    sw: String,
    hillside: Client,
    dsl: String,
    partnership: Client,
    ig: String,
    child: String,
    plan: String,
}

impl Case {
    async fn start() -> Case {
        let server = TestServer::start().await;
        let csc = server.client("csc");
        let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
        let r = post(
            &csc,
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born_years_ago(10), "school_agency": "school-hillside"}),
        )
        .await;
        let child = created(&r, "registering the child");
        let r = post(
            &csc,
            "/v1/records",
            &sw,
            &json!({"subject_id": child, "kind": "risk_management_plan",
            "subject_role": "harmful_behaviour", "sections": {"summary": "plan summary",
            "risk_management": "supervised at break", "allegation_details": "not for schools"}}),
        )
        .await;
        let plan = created(&r, "depositing the plan");
        let r = post(&csc, &format!("/v1/subjects/{child}/consents"), &sw,
            &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}))
        .await;
        created(&r, "recording the consent");
        Case {
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

    fn db(&self) -> &Db {
        &self.server.state.db
    }

    /// The plan to the Hillside DSL with the parent's consent: a permit.
    fn permit(&self) -> Value {
        disclosure(
            &self.plan,
            "school-hillside",
            "dsl",
            "safeguarding",
            "consent",
        )
    }

    /// The plan to an undesignated Hillside teacher: a deny.
    fn deny(&self) -> Value {
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

    async fn disclose(&self, body: &Value, status: u16) -> Value {
        let r = post(&self.csc, "/v1/disclosures", &self.sw, body).await;
        expect(&r, status, "a disclosure")
    }

    /// `GET /v1/audit/verify` as the partnership's IG officer.
    async fn verify(&self) -> Value {
        let r = get(&self.partnership, "/v1/audit/verify", &self.ig).await;
        expect(&r, 200, "GET /v1/audit/verify")
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

/// A case with nine entries: the three of [`Case::start`], three permits, a deny, a dry run and
/// another permit. Entry 5 is a permit.
async fn nine_entries() -> Case {
    let case = Case::start().await;
    for _ in 0..3 {
        case.disclose(&case.permit(), 201).await;
    }
    case.disclose(&case.deny(), 403).await;
    let r = post(&case.csc, "/v1/decisions", &case.sw, &case.permit()).await;
    expect(&r, 200, "a dry run");
    case.disclose(&case.permit(), 201).await;
    assert_eq!(head(case.db()).await.0, 9);
    let clean = broker::audit::verify(case.db()).await.unwrap();
    assert!(
        clean.ok,
        "the chain holds before it is tampered with: {clean:?}"
    );
    case
}

/// Both verifiers name `bad` as the first bad seq of the tampered chain, and the API counts
/// `entries` rows.
async fn both_verifiers_name(case: &Case, bad: i64, entries: i64) {
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
struct Busy {
    case: Case,
    riverside: Client,
    riverside_ig: String,
    riverside_child: String,
    /// seqs of: the plan to the Hillside DSL, the deny to a teacher, the DSL's read of the packet,
    /// the police override, the plan to the Riverside DSL, its read, Riverside's own deposit, and
    /// the social worker's refused disclosure of Riverside's record
    permit: i64,
    deny: i64,
    read: i64,
    override_seq: i64,
    riverside_permit: i64,
    riverside_read: i64,
    riverside_deposit: i64,
    riverside_owned_deny: i64,
    /// the head after all of it
    last: i64,
}

/// Every kind of entry, involving Hillside, Riverside, CSC and the police.
async fn busy() -> Busy {
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

    let police = case.server.client("police");
    let pc = case
        .server
        .token("police", "pc.khan", &[Role::PoliceOfficer]);
    let r = post(
        &police,
        "/v1/records",
        &pc,
        &json!({"subject_id": case.child, "kind": "police_notification",
        "subject_role": "harmful_behaviour", "sections": {"summary": "incident at a park"}}),
    )
    .await;
    let notification = created(&r, "the police notification");
    let r = post(
        &police,
        "/v1/disclosures",
        &pc,
        &override_to_csc(&notification),
    )
    .await;
    let overridden = expect(&r, 201, "the police override");
    assert_eq!(overridden["obligations"], json!(["ig_review"]));

    let r = post(
        &case.csc,
        "/v1/subjects",
        &case.sw,
        &json!({"date_of_birth": born_years_ago(12), "school_agency": "school-riverside"}),
    )
    .await;
    let riverside_child = created(&r, "the Riverside child");
    let r = post(
        &case.csc,
        "/v1/records",
        &case.sw,
        &json!({"subject_id": riverside_child,
        "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
        "sections": {"summary": "riverside plan", "risk_management": "separate lunch"}}),
    )
    .await;
    let riverside_plan = created(&r, "the Riverside plan");
    let r = post(
        &case.csc,
        &format!("/v1/subjects/{riverside_child}/consents"),
        &case.sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}),
    )
    .await;
    created(&r, "the Riverside consent");
    let riverside_permit = case
        .disclose(
            &disclosure(
                &riverside_plan,
                "school-riverside",
                "dsl",
                "safeguarding",
                "consent",
            ),
            201,
        )
        .await;
    let riverside = case.server.client("school-riverside");
    let riverside_dsl = case
        .server
        .token("school-riverside", "dsl.okoro", &[Role::Dsl]);
    let r = get(
        &riverside,
        &format!(
            "/v1/inbox/{}",
            riverside_permit["disclosure_id"].as_str().unwrap()
        ),
        &riverside_dsl,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let riverside_read = head(case.db()).await.0;
    let head_teacher = case
        .server
        .token("school-riverside", "ht.adeyemi", &[Role::HeadTeacher]);
    let r = post(
        &riverside,
        "/v1/records",
        &head_teacher,
        &json!({"subject_id": riverside_child,
        "kind": "incident_report", "subject_role": "harmful_behaviour",
        "sections": {"summary": "incident in the playground"}}),
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
        riverside_permit: riverside_permit["audit_seq"].as_i64().unwrap(),
        riverside_read,
        riverside_deposit: incident["audit_seq"].as_i64().unwrap(),
        riverside_owned_deny: riverside_owned_deny["audit_seq"].as_i64().unwrap(),
        riverside,
        riverside_child,
        last,
        case,
    }
}

// ---- one entry per action, and no content ----------------------------------------------------

#[tokio::test]
async fn every_action_leaves_exactly_one_audit_entry_naming_the_action() {
    let server = TestServer::start().await;
    let db = server.state.db.clone();
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let hillside = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let mappa = server.client("mappa");
    let coordinator = server.token("mappa", "coord.byrne", &[Role::MappaCoordinator]);
    let mut steps: Vec<&str> = Vec::new();
    let mut last = head(&db).await.0;
    assert_eq!(last, 0, "a new broker has an empty chain");

    // After each call the head has risen by exactly one, to the seq the answer reports.
    macro_rules! step {
        ($action:expr, $response:expr) => {{
            let r: Response = $response;
            let now = head(&db).await.0;
            assert_eq!(now, last + 1, "{} left {} entries", $action, now - last);
            if let Some(reported) = r.json()["audit_seq"].as_i64() {
                assert_eq!(reported, now, "{}: {}", $action, r.text());
            }
            last = now;
            steps.push($action);
            r
        }};
    }

    let r = step!(
        "subject.register",
        post(
            &csc,
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born_years_ago(10), "school_agency": "school-hillside"})
        )
        .await
    );
    let child = created(&r, "registering");
    let r = step!("consent.record", post(&csc, &format!("/v1/subjects/{child}/consents"), &sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]})).await);
    let consent = created(&r, "consenting");
    let r = step!(
        "record.deposit",
        post(
            &csc,
            "/v1/records",
            &sw,
            &json!({"subject_id": child,
        "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
        "sections": {"summary": "plan summary", "risk_management": "supervised at break",
                     "allegation_details": "not for schools"}})
        )
        .await
    );
    let plan = created(&r, "depositing");
    let permit = disclosure(&plan, "school-hillside", "dsl", "safeguarding", "consent");
    let r = step!(
        "disclosure",
        post(&csc, "/v1/disclosures", &sw, &permit).await
    );
    let packet = expect(&r, 201, "the permitted disclosure")["disclosure_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut refused = disclosure(
        &plan,
        "school-hillside",
        "school_staff",
        "safeguarding",
        "consent",
    );
    refused["recipient_sub"] = json!("t.smith");
    let r = step!(
        "disclosure",
        post(&csc, "/v1/disclosures", &sw, &refused).await
    );
    expect(&r, 403, "the denied disclosure");
    let r = step!(
        "decision.check",
        post(&csc, "/v1/decisions", &sw, &permit).await
    );
    assert_eq!(expect(&r, 200, "the dry run")["decision"], "permit");
    let r = step!(
        "packet.read",
        get(&hillside, &format!("/v1/inbox/{packet}"), &dsl).await
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = step!(
        "consent.withdraw",
        post(
            &csc,
            &format!("/v1/subjects/{child}/consents/{consent}/withdraw"),
            &sw,
            &json!({})
        )
        .await
    );
    expect(&r, 200, "withdrawing");
    let r = step!(
        "mappa.status",
        put(
            &mappa,
            &format!("/v1/subjects/{child}/mappa"),
            &coordinator,
            &json!({"active": true, "category": 2, "level": 2})
        )
        .await
    );
    expect(&r, 200, "the MAPPA status");

    let partnership = server.client("partnership");
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let page = audit_page(&partnership, &ig, "limit=1000").await;
    let entries = page["entries"].as_array().unwrap().clone();
    assert_eq!(actions(&entries), steps);
    assert_eq!(seqs(&entries), (1..=last).collect::<Vec<_>>());
    assert_eq!(entries[3]["decision"], "permit");
    assert_eq!(entries[4]["decision"], "deny");
    assert_eq!(
        entries[4]["reasons"],
        json!(["recipient_role_not_permitted"])
    );
    assert_eq!(entries[5]["decision"], "permit");
    assert_eq!(entries[6]["actor"]["agency"], "school-hillside");
    assert_eq!(
        entries[6]["packet_sha256"], entries[3]["packet_sha256"],
        "the read names the packet that was stored"
    );

    // The audit query is audited too, and after it is answered.
    assert_eq!(head(&db).await.0, last + 1);
    assert_eq!(page["audit_seq"], last + 1);
    let again = audit_page(&partnership, &ig, &format!("after_seq={last}")).await;
    let query = &again["entries"][0];
    assert_eq!(query["action"], "audit.query", "{again}");
    assert_eq!(query["actor"]["agency"], "partnership");
    server.stop().await;
}

#[tokio::test]
async fn no_audit_entry_or_export_holds_the_content_of_a_record() {
    let case = Case::start().await;
    let markers = [
        "quokka7781summary",
        "quokka7781risk",
        "quokka7781allegation",
        "quokka7781name",
    ];
    let r = post(
        &case.csc,
        "/v1/subjects",
        &case.sw,
        &json!({"date_of_birth": born_years_ago(9), "school_agency": "school-hillside",
                "display_name": markers[3]}),
    )
    .await;
    let child = created(&r, "registering");
    let r = post(
        &case.csc,
        &format!("/v1/subjects/{child}/consents"),
        &case.sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}),
    )
    .await;
    created(&r, "consenting");
    let r = post(
        &case.csc,
        "/v1/records",
        &case.sw,
        &json!({"subject_id": child,
        "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
        "sections": {"summary": markers[0], "risk_management": {"note": markers[1]},
                     "allegation_details": markers[2]}}),
    )
    .await;
    let record = created(&r, "depositing");
    let d = case
        .disclose(
            &disclosure(&record, "school-hillside", "dsl", "safeguarding", "consent"),
            201,
        )
        .await;
    let r = get(
        &case.hillside,
        &format!("/v1/inbox/{}", d["disclosure_id"].as_str().unwrap()),
        &case.dsl,
    )
    .await;
    assert_eq!(r.status, 200);
    // The content did travel: the DSL decrypts the released sections.
    let identity =
        broker::crypto::load_age_identity(&case.server.world.age_identity("school-hillside"))
            .unwrap();
    let packet =
        String::from_utf8(broker::crypto::decrypt_with(&identity, &r.body).unwrap()).unwrap();
    assert!(packet.contains(markers[0]) && packet.contains(markers[1]));

    let r = get(&case.partnership, "/v1/audit/export.csv", &case.ig).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let csv = r.text();
    assert!(csv.contains(&record), "the export names the record by id");
    let listed = audit_all(&case.partnership, &case.ig, "").await;
    let table = format!("{:?}", stored_rows(case.db()).await);
    assert!(table.contains(&record));
    for marker in markers {
        assert!(!csv.contains(marker), "{marker} is in the CSV export");
        assert!(
            !Value::Array(listed.clone()).to_string().contains(marker),
            "{marker} is in GET /v1/audit"
        );
        assert!(
            !table.contains(marker),
            "{marker} is in the audit_log table"
        );
    }
    case.stop().await;
}

// ---- tamper evidence -------------------------------------------------------------------------

#[tokio::test]
async fn a_clean_chain_verifies_by_api_and_by_command_with_the_last_hash_as_head() {
    let case = nine_entries().await;
    let last = stored_row(case.db(), 9).await;
    let api = case.verify().await;
    assert_eq!(api["ok"], true, "{api}");
    assert_eq!(api["first_bad_seq"], Value::Null, "{api}");
    assert_eq!(api["entries"], 9, "{api}");
    assert_eq!(api["head_hash"], last.hash.as_str(), "{api}");
    // The command sees the API's own audit.verify entry as the tenth.
    let (status, cli) = verify_command(&case.server).await;
    let tenth = stored_row(case.db(), 10).await;
    assert_eq!(tenth.action, "audit.verify");
    assert!(
        status.success(),
        "broker audit verify exited {status}: {cli}"
    );
    assert_eq!(cli["ok"], true, "{cli}");
    assert_eq!(cli["first_bad_seq"], Value::Null, "{cli}");
    assert_eq!(cli["entries"], 10, "{cli}");
    assert_eq!(cli["head_hash"], tenth.hash.as_str(), "{cli}");
    assert_eq!(head(case.db()).await, (10, tenth.hash));
    case.stop().await;
}

#[tokio::test]
async fn an_edited_entry_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    exec(
        case.db(),
        "UPDATE audit_log SET purpose = 'court' WHERE seq = 5",
    )
    .await;
    both_verifiers_name(&case, 5, 9).await;
    case.stop().await;
}

#[tokio::test]
async fn a_deleted_entry_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    exec(case.db(), "DELETE FROM audit_records WHERE seq = 5").await;
    exec(case.db(), "DELETE FROM audit_log WHERE seq = 5").await;
    both_verifiers_name(&case, 5, 8).await;
    case.stop().await;
}

/// The forger appends a copy of entry 5 as entry 10 and moves the head to it, so that the
/// broker keeps appending after the forgery; the copy's prev_hash is not entry 9's hash.
#[tokio::test]
async fn an_inserted_entry_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    let copy = stored_row(case.db(), 5).await;
    write_row(case.db(), 10, &copy, true).await;
    exec(
        case.db(),
        &format!(
            "UPDATE audit_head SET seq = 10, hash = '{}' WHERE id = 1",
            copy.hash
        ),
    )
    .await;
    both_verifiers_name(&case, 10, 10).await;
    case.stop().await;
}

#[tokio::test]
async fn two_reordered_entries_are_named_by_both_verifiers() {
    let case = nine_entries().await;
    let fifth = stored_row(case.db(), 5).await;
    let sixth = stored_row(case.db(), 6).await;
    write_row(case.db(), 5, &sixth, false).await;
    write_row(case.db(), 6, &fifth, false).await;
    both_verifiers_name(&case, 5, 9).await;
    case.stop().await;
}

/// The head still says 9: the missing last entry is named.
#[tokio::test]
async fn a_truncated_last_entry_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    exec(case.db(), "DELETE FROM audit_records WHERE seq = 9").await;
    exec(case.db(), "DELETE FROM audit_log WHERE seq = 9").await;
    both_verifiers_name(&case, 9, 8).await;
    case.stop().await;
}

/// Entry 5 is a permit, stored with `reasons = '[]'`. Text that is not a JSON list there (here
/// a reason code as a bare JSON string) is a change to the stored entry, and it shows: the CSV
/// export prints the column as stored.
#[tokio::test]
async fn a_list_column_overwritten_with_text_that_is_not_a_list_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    assert_eq!(stored_row(case.db(), 5).await.reasons, "[]");
    exec(
        case.db(),
        "UPDATE audit_log SET reasons = '\"consent_not_found\"' WHERE seq = 5",
    )
    .await;
    let r = get(&case.partnership, "/v1/audit/export.csv?limit=5", &case.ig).await;
    assert!(
        r.text().contains("consent_not_found"),
        "the export shows the forged reason: {}",
        r.text()
    );
    // the export above was itself audited: the chain now has ten entries
    both_verifiers_name(&case, 5, 10).await;
    case.stop().await;
}

/// The same hole, put to use: an empty `owner_agencies` of the child's registration becomes a
/// JSON string naming Riverside, and Riverside's IG officer is shown the entry.
#[tokio::test]
async fn an_owner_list_overwritten_to_widen_who_sees_an_entry_is_named_by_both_verifiers() {
    let case = nine_entries().await;
    assert_eq!(stored_row(case.db(), 1).await.owner_agencies, "[]");
    exec(
        case.db(),
        "UPDATE audit_log SET owner_agencies = '\"school-riverside\"' WHERE seq = 1",
    )
    .await;
    let riverside = case.server.client("school-riverside");
    let riverside_ig = case
        .server
        .token("school-riverside", "ig.riverside", &[Role::IgOfficer]);
    let seen = audit_page(&riverside, &riverside_ig, "limit=1").await;
    assert_eq!(
        seqs(seen["entries"].as_array().unwrap()),
        vec![1],
        "the forged owner lets Riverside see the registration: {seen}"
    );
    // Riverside's query above was itself audited: the chain now has ten entries
    both_verifiers_name(&case, 1, 10).await;
    case.stop().await;
}

// ---- fail closed -----------------------------------------------------------------------------

/// A trigger that refuses every audit insert, as a full disk would.
async fn break_the_audit_log(db: &Db) {
    match db {
        Db::Sqlite { .. } => {
            exec(
                db,
                "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
                 BEGIN SELECT RAISE(ABORT, 'audit disk full'); END;",
            )
            .await
        }
        Db::Postgres(_) => {
            exec(
                db,
                "CREATE FUNCTION audit_full() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'audit disk full'; END $$",
            )
            .await;
            exec(
                db,
                "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log \
                 FOR EACH ROW EXECUTE FUNCTION audit_full()",
            )
            .await;
        }
    }
}

async fn mend_the_audit_log(db: &Db) {
    match db {
        Db::Sqlite { .. } => exec(db, "DROP TRIGGER audit_full").await,
        Db::Postgres(_) => {
            exec(db, "DROP TRIGGER audit_full ON audit_log").await;
            exec(db, "DROP FUNCTION audit_full()").await;
        }
    }
}

#[tokio::test]
async fn when_the_audit_write_fails_the_action_does_not_happen_and_the_caller_gets_503() {
    let case = Case::start().await;
    let before = head(case.db()).await;
    break_the_audit_log(case.db()).await;

    let r = post(&case.csc, "/v1/disclosures", &case.sw, &case.permit()).await;
    let problem = assert_problem(&r, 503, "a permitted disclosure without its audit entry");
    assert!(
        !problem.to_string().contains("disk full"),
        "a 5xx says nothing internal: {problem}"
    );
    assert_eq!(count(case.db(), "packets").await, 0, "no packet is stored");
    let inbox = get(&case.hillside, "/v1/inbox", &case.dsl).await;
    assert_eq!(expect(&inbox, 200, "the inbox"), json!([]));

    let r = post(
        &case.csc,
        "/v1/records",
        &case.sw,
        &json!({"subject_id": case.child,
        "kind": "referral", "subject_role": "harmful_behaviour",
        "sections": {"summary": "a referral"}}),
    )
    .await;
    assert_problem(&r, 503, "a deposit without its audit entry");
    assert_eq!(
        count(case.db(), "records").await,
        1,
        "only the plan is stored"
    );
    assert_eq!(head(case.db()).await, before, "the head did not move");

    mend_the_audit_log(case.db()).await;
    let d = case.disclose(&case.permit(), 201).await;
    assert_eq!(d["audit_seq"], before.0 + 1);
    let inbox = get(&case.hillside, "/v1/inbox", &case.dsl).await;
    assert_eq!(
        expect(&inbox, 200, "the inbox").as_array().unwrap().len(),
        1
    );
    assert_eq!(case.verify().await["ok"], true);
    case.stop().await;
}

// ---- linear under concurrency ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_disclosures_and_checks_leave_one_gap_free_chain() {
    let case = Case::start().await;
    let police = case.server.client("police");
    let pc = case
        .server
        .token("police", "pc.khan", &[Role::PoliceOfficer]);
    let r = post(
        &police,
        "/v1/records",
        &pc,
        &json!({"subject_id": case.child, "kind": "police_notification",
        "subject_role": "harmful_behaviour", "sections": {"summary": "incident at a park"}}),
    )
    .await;
    let notification = created(&r, "the police notification");
    let before = head(case.db()).await.0;

    let mut tasks = Vec::new();
    for i in 0..40 {
        let (agency, token, path, body, status) = match i % 4 {
            0 => ("csc", &case.sw, "/v1/disclosures", case.permit(), 201),
            1 => ("csc", &case.sw, "/v1/decisions", case.permit(), 200),
            2 => ("csc", &case.sw, "/v1/disclosures", case.deny(), 403),
            _ => (
                "police",
                &pc,
                "/v1/disclosures",
                override_to_csc(&notification),
                201,
            ),
        };
        let client = case.server.client(agency);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let r = post(&client, path, &token, &body).await;
            expect(&r, status, path)["audit_seq"]
                .as_i64()
                .expect("an audit_seq")
        }));
    }
    let mut reported = BTreeSet::new();
    for task in tasks {
        assert!(reported.insert(task.await.unwrap()), "an audit_seq twice");
    }
    let last = head(case.db()).await.0;
    assert_eq!(last, before + 40);
    assert_eq!(reported, (before + 1..=last).collect::<BTreeSet<_>>());
    assert_eq!(stored_seqs(case.db()).await, (1..=last).collect::<Vec<_>>());
    let v = case.verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], last);
    case.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verifying_while_disclosures_are_made_never_reports_a_sound_chain_as_broken() {
    let case = Case::start().await;
    let mut writers = Vec::new();
    for _ in 0..6 {
        let client = case.server.client("csc");
        let token = case.sw.clone();
        let body = case.permit();
        writers.push(tokio::spawn(async move {
            for _ in 0..60 {
                let r = post(&client, "/v1/disclosures", &token, &body).await;
                expect(&r, 201, "a disclosure");
            }
        }));
    }
    let mut alarms = Vec::new();
    let mut checks = 0;
    while writers.iter().any(|w| !w.is_finished()) || checks < 40 {
        let api = case.verify().await;
        if api["ok"] != true {
            alarms.push(format!("GET /v1/audit/verify: {api}"));
        }
        let direct = broker::audit::verify(case.db()).await.unwrap();
        if !direct.ok {
            alarms.push(format!(
                "broker::audit::verify (as the command): {direct:?}"
            ));
        }
        checks += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        alarms.is_empty(),
        "{} false alarms in {checks} rounds of verification (API and direct) during appends:\n{}",
        alarms.len(),
        alarms.join("\n")
    );
    assert_eq!(case.verify().await["ok"], true);
    case.stop().await;
}

// ---- for IG officers -------------------------------------------------------------------------

#[tokio::test]
async fn each_audit_filter_narrows_the_list_to_exactly_the_matching_entries() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let all = upto(&audit_all(c, ig, "").await, b.last);
    assert_eq!(seqs(&all), (1..=b.last).collect::<Vec<_>>());
    let middle = all[all.len() / 2].clone();
    let at = middle["at"].as_str().unwrap().to_owned();
    let child = b.case.child.clone();
    type Filter = Box<dyn Fn(&Value) -> bool>;
    let cases: Vec<(String, Filter)> = vec![
        (
            format!("subject_id={child}"),
            Box::new(move |e: &Value| e["subject_id"] == child.as_str()),
        ),
        (
            "agency=police".into(),
            Box::new(|e: &Value| involves(e, "police")),
        ),
        (
            "decision=deny".into(),
            Box::new(|e: &Value| e["decision"] == "deny"),
        ),
        (
            "decision=permit".into(),
            Box::new(|e: &Value| e["decision"] == "permit"),
        ),
        (
            "basis=significant_harm".into(),
            Box::new(|e: &Value| e["basis"] == "significant_harm"),
        ),
        (
            "basis=consent".into(),
            Box::new(|e: &Value| e["basis"] == "consent"),
        ),
        (format!("from={at}"), {
            let at = at.clone();
            Box::new(move |e: &Value| e["at"].as_str().unwrap() >= at.as_str())
        }),
        (format!("to={at}"), {
            let at = at.clone();
            Box::new(move |e: &Value| e["at"].as_str().unwrap() < at.as_str())
        }),
        (format!("after_seq={}", seq(&middle)), {
            let m = seq(&middle);
            Box::new(move |e: &Value| seq(e) > m)
        }),
        (
            format!(
                "decision=permit&agency=school-riverside&subject_id={}",
                b.riverside_child
            ),
            {
                let child = b.riverside_child.clone();
                Box::new(move |e: &Value| {
                    e["decision"] == "permit"
                        && involves(e, "school-riverside")
                        && e["subject_id"] == child.as_str()
                })
            },
        ),
    ];
    for (query, matches) in cases {
        let expected: Vec<i64> = all.iter().filter(|e| matches(e)).map(seq).collect();
        assert!(
            !expected.is_empty() && expected.len() < all.len(),
            "{query} should narrow the list: {expected:?}"
        );
        let got = upto(
            &audit_page(c, ig, &format!("{query}&limit=1000")).await["entries"]
                .as_array()
                .unwrap()
                .clone(),
            b.last,
        );
        assert_eq!(seqs(&got), expected, "GET /v1/audit?{query}");
    }
    let page = audit_page(c, ig, "limit=3").await;
    assert_eq!(seqs(page["entries"].as_array().unwrap()), vec![1, 2, 3]);
    assert_eq!(page["next_after_seq"], 3);
    b.case.stop().await;
}

#[tokio::test]
async fn cursor_paging_walks_every_entry_exactly_once() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let mut walked = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = audit_page(c, ig, &format!("after_seq={after}&limit=4")).await;
        let entries = page["entries"].as_array().unwrap().clone();
        assert!(entries.len() <= 4);
        walked.extend(seqs(&entries));
        pages += 1;
        assert!(pages < 100, "the walk does not end");
        match page["next_after_seq"].as_i64() {
            Some(next) => {
                assert_eq!(entries.len(), 4, "a short page has no next cursor");
                assert_eq!(next, seq(entries.last().unwrap()));
                after = next;
            }
            None => break,
        }
    }
    // Each page's query is itself an entry, so the walk ends past b.last; no seq is skipped
    // or repeated.
    assert!(*walked.last().unwrap() >= b.last);
    assert_eq!(walked, (1..=*walked.last().unwrap()).collect::<Vec<_>>());
    b.case.stop().await;
}

#[tokio::test]
async fn a_partnership_ig_officer_sees_everything_and_a_school_ig_officer_only_its_own_entries() {
    let b = busy().await;
    let all = upto(
        &audit_all(&b.case.partnership, &b.case.ig, "").await,
        b.last,
    );
    assert_eq!(seqs(&all), (1..=b.last).collect::<Vec<_>>());

    let seen = audit_all(&b.riverside, &b.riverside_ig, "").await;
    for entry in &seen {
        assert!(
            involves(entry, "school-riverside"),
            "a Riverside IG officer sees an entry not involving Riverside: {entry}"
        );
    }
    let expected: Vec<i64> = all
        .iter()
        .filter(|e| involves(e, "school-riverside"))
        .map(seq)
        .collect();
    assert_eq!(seqs(&upto(&seen, b.last)), expected);
    for own in [
        b.riverside_permit,
        b.riverside_read,
        b.riverside_deposit,
        b.riverside_owned_deny,
    ] {
        assert!(expected.contains(&own), "entry {own} involves Riverside");
    }
    for other in [b.permit, b.deny, b.read, b.override_seq] {
        assert!(
            !expected.contains(&other),
            "entry {other} is not Riverside's"
        );
    }
    // The same scope applies to the export, the history and the review queue.
    let r = get(&b.riverside, "/v1/audit/export.csv", &b.riverside_ig).await;
    let exported: Vec<i64> = r
        .text()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .filter(|s| *s <= b.last)
        .collect();
    assert_eq!(exported, expected, "the Riverside export");
    // A child Riverside has no entry about is answered as an unknown id would be (issue 10),
    // so the answer does not tell Riverside that the child exists.
    let r = get(
        &b.riverside,
        &format!("/v1/subjects/{}/history", b.case.child),
        &b.riverside_ig,
    )
    .await;
    assert_problem(&r, 404, "another agency's child");
    let ghost = uuid::Uuid::new_v4().to_string();
    let unknown = get(
        &b.riverside,
        &format!("/v1/subjects/{ghost}/history"),
        &b.riverside_ig,
    )
    .await;
    assert_eq!(
        r.text().replace(b.case.child.as_str(), "ID"),
        unknown.text().replace(&ghost, "ID"),
        "another agency's child and an unknown id get the same answer"
    );
    // A child registered by another agency that Riverside received a packet about is known.
    let r = get(
        &b.riverside,
        &format!("/v1/subjects/{}/history", b.riverside_child),
        &b.riverside_ig,
    )
    .await;
    let own = expect(
        &r,
        200,
        "the history of a child Riverside was sent a packet about",
    );
    assert!(
        seqs(own["disclosures"].as_array().unwrap()).contains(&b.riverside_permit),
        "{own}"
    );
    let r = get(&b.riverside, "/v1/audit/reviews", &b.riverside_ig).await;
    assert_eq!(expect(&r, 200, "the queue")["awaiting_review"], json!([]));
    b.case.stop().await;
}

#[tokio::test]
async fn roles_other_than_ig_officer_are_refused_every_audit_endpoint() {
    let case = Case::start().await;
    let head_teacher = case
        .server
        .token("school-hillside", "ht.brown", &[Role::HeadTeacher]);
    let child = case.child.clone();
    for (client, token) in [(&case.csc, &case.sw), (&case.hillside, &head_teacher)] {
        for path in [
            "/v1/audit".to_owned(),
            "/v1/audit/export.csv".to_owned(),
            "/v1/audit/verify".to_owned(),
            "/v1/audit/reviews".to_owned(),
            format!("/v1/subjects/{child}/history"),
        ] {
            let r = get(client, &path, token).await;
            assert_problem(&r, 403, &path);
        }
        let r = post(
            client,
            "/v1/audit/reviews/1",
            token,
            &json!({"outcome": "upheld", "note": "fine"}),
        )
        .await;
        assert_problem(&r, 403, "POST /v1/audit/reviews/1");
    }
    case.stop().await;
}

#[tokio::test]
async fn the_csv_export_has_a_header_and_the_same_rows_as_the_json_list() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let csv_seqs = |text: &str| -> Vec<i64> {
        text.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().parse().unwrap())
            .collect()
    };
    let filter = format!("subject_id={}", b.case.child);
    let listed = audit_all(c, ig, &filter).await;
    let r = get(c, &format!("/v1/audit/export.csv?{filter}"), ig).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.content_type().starts_with("text/csv"),
        "{}",
        r.content_type()
    );
    let text = r.text();
    assert!(
        text.starts_with("seq,at,actor_agency,"),
        "a header line: {text}"
    );
    assert_eq!(text.lines().count(), listed.len() + 1);
    assert_eq!(csv_seqs(&text), seqs(&listed));

    // Unfiltered, the export also holds the list's own entry and its own.
    let page = audit_page(c, ig, "limit=1000").await;
    let listed = page["entries"].as_array().unwrap().clone();
    let r = get(c, "/v1/audit/export.csv", ig).await;
    let mut expected = seqs(&listed);
    let query = page["audit_seq"].as_i64().unwrap();
    expected.extend([query, query + 1]);
    assert_eq!(csv_seqs(&r.text()), expected);
    b.case.stop().await;
}

#[tokio::test]
async fn an_override_waits_for_review_until_an_ig_officer_reviews_it_once() {
    let b = busy().await;
    let (c, ig) = (&b.case.partnership, &b.case.ig);
    let queue = |r: Response| -> Vec<i64> {
        seqs(
            expect(&r, 200, "the review queue")["awaiting_review"]
                .as_array()
                .unwrap(),
        )
    };
    assert_eq!(
        queue(get(c, "/v1/audit/reviews", ig).await),
        vec![b.override_seq]
    );
    let review = json!({"outcome": "upheld", "note": "Threshold met; proportionate."});
    let path = format!("/v1/audit/reviews/{}", b.override_seq);
    let r = post(c, &path, ig, &review).await;
    let done = expect(&r, 201, "the review");
    assert_eq!(done["override_seq"], b.override_seq);
    assert_eq!(done["outcome"], "upheld");
    assert!(queue(get(c, "/v1/audit/reviews", ig).await).is_empty());
    let again = post(c, &path, ig, &review).await;
    assert_problem(&again, 409, "a second review");
    let not_override = post(c, &format!("/v1/audit/reviews/{}", b.permit), ig, &review).await;
    assert_problem(&not_override, 404, "a review of a consent permit");
    let review_entry = stored_row(b.case.db(), done["audit_seq"].as_i64().unwrap()).await;
    assert_eq!(review_entry.action, "audit.review");
    b.case.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_simultaneous_reviews_of_one_override_one_is_accepted_and_nine_are_409() {
    let b = busy().await;
    let path = format!("/v1/audit/reviews/{}", b.override_seq);
    // Every reviewer connects first, then all send at once.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(10));
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = b.case.server.client("partnership");
        let token = b
            .case
            .server
            .token("partnership", &format!("ig.{i}"), &[Role::IgOfficer]);
        let path = path.clone();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            let warm = client
                .send(hyper::Method::GET, "/healthz", None, None)
                .await
                .expect("connecting");
            assert_eq!(warm.status, 200);
            start.wait().await;
            let review = json!({"outcome": "upheld", "note": "Threshold met; proportionate."});
            let r = post(&client, &path, &token, &review).await;
            (r.status.as_u16(), r.text())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    answers.sort();
    let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    let mut expected = vec![409; 9];
    expected.insert(0, 201);
    assert_eq!(statuses, expected, "{answers:#?}");
    assert_eq!(count(b.case.db(), "audit_reviews").await, 1);
    b.case.stop().await;
}

#[tokio::test]
async fn a_subject_history_lists_the_childs_disclosures_and_packet_reads() {
    let b = busy().await;
    let r = get(
        &b.case.partnership,
        &format!("/v1/subjects/{}/history", b.case.child),
        &b.case.ig,
    )
    .await;
    let history = expect(&r, 200, "the history");
    let entries = history["disclosures"].as_array().unwrap();
    assert_eq!(
        seqs(entries),
        vec![b.permit, b.deny, b.read, b.override_seq]
    );
    assert_eq!(
        actions(entries),
        ["disclosure", "disclosure", "packet.read", "disclosure"]
    );
    assert_eq!(entries[0]["recipient"]["agency"], "school-hillside");
    assert_eq!(entries[0]["basis"], "consent");
    assert_eq!(entries[2]["actor"]["agency"], "school-hillside");
    assert_eq!(entries[3]["basis"], "significant_harm");
    assert!(entries[3]["justification"].is_string());
    let unknown = get(
        &b.case.partnership,
        &format!("/v1/subjects/{}/history", uuid::Uuid::new_v4()),
        &b.case.ig,
    )
    .await;
    assert_problem(&unknown, 404, "the history of an unknown child");
    b.case.stop().await;
}

#[tokio::test]
async fn bad_audit_filter_values_are_400_problem_json() {
    let case = Case::start().await;
    let mut wrong = Vec::new();
    for query in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "decision=maybe",
        "subject_id=x",
        "basis=hunch",
        "from=yesterday",
        "after_seq=last",
        "colour=red",
    ] {
        for endpoint in ["/v1/audit", "/v1/audit/export.csv"] {
            let path = format!("{endpoint}?{query}");
            let r = get(&case.partnership, &path, &case.ig).await;
            let body = r.json();
            if r.status != 400
                || r.content_type() != "application/problem+json"
                || body["status"] != 400
                || !body["code"].is_string()
            {
                wrong.push(format!(
                    "{path}: {} {} {}",
                    r.status,
                    r.content_type(),
                    r.text()
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not a 400 problem+json:\n{}",
        wrong.join("\n")
    );
    case.stop().await;
}

#[tokio::test]
async fn control_characters_in_audit_text_filters_are_400_naming_the_filter() {
    let case = Case::start().await;
    for (query, name) in [
        ("agency=%00", "agency"),
        ("agency=csc%1B%5B2J", "agency"),
        ("action=disclosure%0Aforged", "action"),
        ("action=x%C2%85", "action"),
        ("agency=%E2%80%AEcsc", "agency"),
    ] {
        for endpoint in ["/v1/audit", "/v1/audit/export.csv"] {
            let path = format!("{endpoint}?{query}");
            let r = get(&case.partnership, &path, &case.ig).await;
            let body = expect(&r, 400, &path);
            assert_eq!(r.content_type(), "application/problem+json", "{path}");
            assert_eq!(body["code"], "invalid_query", "{path}: {body}");
            assert!(
                body["detail"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("parameter {name} ")),
                "the refusal names the parameter {name}: {path}: {body}"
            );
        }
    }
    // ordinary text still filters
    let r = get(
        &case.partnership,
        "/v1/audit?agency=csc&action=disclosure",
        &case.ig,
    )
    .await;
    expect(&r, 200, "plain text filters");
    case.stop().await;
}
