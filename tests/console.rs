//! The web console in a real browser: Debian's Chromium driven by Playwright
//! (`console/tests/browser.mjs`), presenting each agency's client certificate to a real broker
//! over mTLS, signing in through a real OpenID Connect provider (`console/tests/idp.mjs`,
//! oidc-provider), with axe-core on every page. Each flow checks what the pages show (in the
//! browser) and what the audit log gained (here), and saves screenshots under
//! `target/console-screenshots/<test>/`. Needs `chromium` (apt) and `npm ci` in `console/`
//! (`.ci/run` does both); without them the tests fail, saying what is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use broker::vocab::Role;
use common::TestServer;
use common::cases;
use common::flows::{self, head_seq};
use serde_json::{Value, json};
use sqlx::Row;

/// Every line the broker logs while these tests run (one subscriber per process).
fn log() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,h2=info,rustls=info,sqlx=info,reqwest=info")
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        log
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&log().lock().unwrap()).into_owned()
}

fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console")
}

/// The browser and the node packages the tests need, or a failure saying how to get them.
fn tools() -> PathBuf {
    let chromium = std::env::var_os("BROKER_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.exists(),
        "{} is missing: the console tests drive Debian's Chromium (apt-get install chromium, or \
         set BROKER_TEST_CHROMIUM); bash .ci/run installs it",
        chromium.display()
    );
    for package in ["playwright-core", "oidc-provider", "axe-core"] {
        assert!(
            console_dir().join("node_modules").join(package).exists(),
            "console/node_modules/{package} is missing: run `npm ci` in console/ (bash .ci/run does)"
        );
    }
    chromium
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The identity provider, killed when dropped.
struct Idp {
    child: tokio::process::Child,
    issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A console world: the dev world with `[agencies.oidc]` for the agencies in `people`, served,
/// and the identity provider they name, knowing `people` (login → agency and roles).
struct World {
    server: TestServer,
    idp: Idp,
    chromium: PathBuf,
    out: PathBuf,
}

async fn world(name: &str, people: Value) -> World {
    world_with(name, people, |toml, _| toml).await
}

/// [`world`], with `edit` making broker.toml what the test needs before the broker starts
/// (given the port the broker will listen on).
async fn world_with(name: &str, people: Value, edit: impl FnOnce(String, u16) -> String) -> World {
    log();
    let chromium = tools();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let agencies: Vec<String> = people
        .as_object()
        .expect("people by login")
        .values()
        .map(|p| {
            // the agency claim, or for a provider that sends none the agency signed in to
            p.get("agency")
                .or_else(|| p.get("signs_in_at"))
                .and_then(Value::as_str)
                .expect("an agency")
                .to_owned()
        })
        .collect();
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = common::test_database_url(dir.path()).await;
    let dev = broker::devinit::dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
    let mut toml = std::fs::read_to_string(&dev.config).expect("the dev broker.toml");
    for agency in &agencies {
        let line = format!("id = \"{agency}\"\n");
        let oidc = format!(
            "{line}oidc = {{ issuer = \"{issuer}\", client_id = \"broker-{agency}\", scopes = [\"broker\"] }}\n"
        );
        if !toml.contains(&oidc) {
            assert!(toml.contains(&line), "the dev world has agency {agency}");
            toml = toml.replacen(&line, &oidc, 1);
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let toml = edit(toml, listener.local_addr().expect("an address").port());
    std::fs::write(&dev.config, toml).expect("writing broker.toml");
    let server = TestServer::start_on(dir, dev, listener).await;
    let redirect = format!(
        "https://localhost:{}/ui/signin/callback",
        server.addr.port()
    );
    let mut clients: Vec<Value> = agencies
        .iter()
        .map(|a| json!({"client_id": format!("broker-{a}"), "redirect_uris": [redirect]}))
        .collect();
    clients.dedup();
    let mut child = tokio::process::Command::new("node")
        .arg(console_dir().join("tests/idp.mjs"))
        .env("IDP_PORT", port.to_string())
        .env("IDP_CLIENTS", Value::from(clients).to_string())
        .env("IDP_PEOPLE", people.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs console/tests/idp.mjs (is node 20 installed?)");
    let stdout = child.stdout.take().expect("the provider's stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("idp listening") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        started,
        Ok(true),
        "the OpenID Connect provider (console/tests/idp.mjs) did not start"
    );
    // keep reading what it prints, so it never writes to a closed pipe
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/console-screenshots")
        .join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).expect("the screenshot directory");
    World {
        server,
        idp: Idp { child, issuer },
        chromium,
        out,
    }
}

impl World {
    /// Runs `scenario` of browser.mjs with `extra` parameters; its JSON result, or a failure
    /// with what the browser said.
    async fn browse(&self, scenario: &str, extra: Value) -> Value {
        let w = &self.server.world;
        let mut agencies = serde_json::Map::new();
        for a in broker::devinit::WORLD {
            agencies.insert(
                a.id.to_owned(),
                json!({"cert": w.client_cert(a.id), "key": w.client_key(a.id),
                       "p12": w.client_p12(a.id),
                       "p12_password": broker::crypto::DEV_P12_PASSWORD,
                       "identity": w.age_identity(a.id)}),
            );
        }
        let mut params = json!({
            "broker": format!("https://localhost:{}", self.server.addr.port()),
            "idp": self.idp.issuer,
            "chromium": self.chromium,
            "out": self.out,
            "agencies": agencies,
        });
        for (k, v) in extra.as_object().expect("parameters").clone() {
            params[k] = v;
        }
        let run = tokio::process::Command::new("node")
            .arg(console_dir().join("tests/browser.mjs"))
            .arg(scenario)
            .env("BROWSER_PARAMS", params.to_string())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(Duration::from_secs(180), run)
            .await
            .unwrap_or_else(|_| panic!("the browser scenario {scenario} ran over 3 minutes"))
            .expect("node runs console/tests/browser.mjs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let log = log_text();
            let warnings: Vec<&str> = log
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .collect();
            panic!(
                "the browser scenario {scenario} failed:\n{stderr}\n{stdout}\nthe broker's warnings:\n{}",
                warnings[warnings.len().saturating_sub(20)..].join("\n")
            );
        }
        let result: Value = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_else(|| panic!("no result line from {scenario}: {stdout}"));
        println!("{scenario}: {result}");
        result
    }

    /// The audit entries after `after`, in order: (action, actor sub, detail).
    async fn entries_after(&self, after: i64) -> Vec<(String, String, Value)> {
        broker::with_db!(&self.server.state.db, pool => {
            sqlx::query("SELECT action, actor_sub, detail FROM audit_log WHERE seq > $1 ORDER BY seq")
                .bind(after)
                .fetch_all(pool)
                .await
                .expect("reading the audit log")
                .iter()
                .map(|r| {
                    let detail: String = r.try_get("detail").expect("a detail");
                    (
                        r.try_get("action").expect("an action"),
                        r.try_get("actor_sub").expect("an actor"),
                        serde_json::from_str(&detail).unwrap_or(Value::Null),
                    )
                })
                .collect()
        })
    }

    async fn exec(&self, sql: &str) {
        broker::with_db!(&self.server.state.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(drop)
                .expect("changing the database")
        });
    }

    async fn stop(self) {
        let World { server, idp, .. } = self;
        drop(idp);
        server.stop().await;
    }
}

fn actions_of(entries: &[(String, String, Value)], sub: &str) -> Vec<String> {
    entries
        .iter()
        .filter(|(_, s, _)| s == sub)
        .map(|(a, _, _)| a.clone())
        .collect()
}

fn assert_screenshots(result: &Value, at_least: usize) {
    let shots = result["screenshots"].as_array().expect("screenshots");
    assert!(shots.len() >= at_least, "{result}");
    for s in shots {
        let path = Path::new(s.as_str().expect("a path"));
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 1000, "the screenshot {} is saved", path.display());
    }
}

const SUMMARY: &str = "Console summary 5f1c: the child has disclosed harmful behaviour at school.";
const RISK: &str = "Console risk 9a7e: supervise unstructured time; no unsupervised contact.";
const ALLEGATION: &str = "Console allegation 3d2b: withheld from schools.";

/// A Hillside pupil's risk management plan (summary, risk management, allegation details),
/// disclosed to Hillside's DSL on consent: (child, record, disclosure).
async fn limited_summary_for_the_dsl(server: &TestServer) -> (String, String, String) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let child = flows::register(
        &csc,
        &sw,
        &flows::born_years_ago(10),
        Some("school-hillside"),
    )
    .await;
    let record = flows::deposit(
        &csc,
        &sw,
        &child,
        "risk_management_plan",
        json!({"summary": SUMMARY, "risk_management": RISK, "allegation_details": ALLEGATION}),
    )
    .await;
    flows::consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    let r = flows::disclose(
        &csc,
        &sw,
        &flows::request(
            &record,
            "school-hillside",
            Some("dsl"),
            "safeguarding",
            "consent",
        ),
    )
    .await;
    let disclosure = flows::permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details"],
        &[],
    );
    (child, record, disclosure)
}

/// Strings that must never reach a log line or an audit page: record content and key material.
fn secrets(world: &World) -> Vec<String> {
    let mut s = vec![SUMMARY.to_owned(), RISK.to_owned(), ALLEGATION.to_owned()];
    s.push("AGE-SECRET-KEY-".to_owned());
    for a in ["school-hillside", "partnership"] {
        let key = std::fs::read_to_string(world.server.world.client_key(a)).expect("a key");
        let line = key.lines().nth(1).expect("a PEM body line").to_owned();
        s.push(line);
    }
    s
}

#[tokio::test]
async fn a_dsl_signs_in_decrypts_a_limited_summary_in_the_browser_and_acknowledges_it() {
    let world = world(
        "dsl",
        json!({
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
            "sw.amara": {"agency": "csc", "roles": ["social_worker"]},
        }),
    )
    .await;
    let (_, record, disclosure) = limited_summary_for_the_dsl(&world.server).await;
    let before = head_seq(&world.server).await;
    let result = world
        .browse(
            "dsl",
            json!({
                "agency": "school-hillside", "other_agency": "school-riverside",
                "login": "dsl.jones", "disclosure": disclosure,
                "sections": {"summary": SUMMARY, "risk_management": RISK},
                "withheld": ["allegation_details"],
                "secrets": [SUMMARY, RISK, ALLEGATION],
            }),
        )
        .await;
    assert_screenshots(&result, 4);

    // the audit log gained the sign-in, the read, one acknowledgement (the forms without their
    // token did nothing) and the sign-out, in that order, all by the DSL
    let entries = world.entries_after(before).await;
    let mine = actions_of(&entries, "dsl.jones");
    let first = |action: &str| {
        mine.iter()
            .position(|a| a == action)
            .unwrap_or_else(|| panic!("no {action} in {mine:?}"))
    };
    assert!(first("console.sign_in") < first("packet.read"), "{mine:?}");
    assert!(first("packet.read") < first("packet.ack"), "{mine:?}");
    assert!(first("packet.ack") < first("console.sign_out"), "{mine:?}");
    assert_eq!(
        mine.iter().filter(|a| *a == "packet.ack").count(),
        1,
        "only the form with its token acknowledged: {mine:?}"
    );
    let signed_in = entries
        .iter()
        .find(|(a, _, _)| a == "console.sign_in")
        .expect("a sign-in entry");
    assert_eq!(signed_in.2["method"], "oidc", "{:?}", signed_in.2);
    let r = world
        .server
        .client("school-hillside")
        .get(
            "/v1/inbox",
            &world
                .server
                .token("school-hillside", "dsl.jones", &[Role::Dsl]),
        )
        .await
        .expect("the inbox");
    let item = r
        .json()
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|i| i["disclosure_id"] == disclosure.as_str())
                .cloned()
        })
        .unwrap_or_else(|| panic!("the packet in {}", r.text()));
    assert!(item["acknowledged_at"].is_string(), "{item}");

    // the sending social worker sees when the DSL read and acknowledged it
    let before = head_seq(&world.server).await;
    let shown = world
        .browse(
            "owner",
            json!({"agency": "csc", "login": "sw.amara", "record": record}),
        )
        .await;
    assert_screenshots(&shown, 1);
    let theirs = actions_of(&world.entries_after(before).await, "sw.amara");
    assert_eq!(
        theirs,
        ["console.sign_in", "record.disclosures.read"],
        "the owner's page is audited as the API's read is"
    );

    // no record content, key or session token in the broker's log
    let cookie = result["session_cookie"]
        .as_str()
        .expect("the session cookie");
    let log = log_text();
    assert!(log.contains("request"), "the log was captured");
    for secret in secrets(&world).iter().map(String::as_str).chain([cookie]) {
        assert!(!log.contains(secret), "the log holds {secret:.20}…");
    }
    world.stop().await;
}

#[tokio::test]
async fn a_teacher_without_a_designation_sees_nothing() {
    let world = world(
        "teacher",
        json!({"staff.li": {"agency": "school-hillside", "roles": ["school_staff"]}}),
    )
    .await;
    let (_, _, disclosure) = limited_summary_for_the_dsl(&world.server).await;
    let before = head_seq(&world.server).await;
    let result = world
        .browse(
            "teacher",
            json!({"agency": "school-hillside", "login": "staff.li", "disclosure": disclosure}),
        )
        .await;
    assert_screenshots(&result, 1);
    let mine = actions_of(&world.entries_after(before).await, "staff.li");
    assert_eq!(mine, ["console.sign_in"], "the teacher read nothing");
    world.stop().await;
}

/// How many of the child's audit entries `GET /v1/audit` gives the IG officer `sub` of `agency`.
async fn api_audit_entries(server: &TestServer, agency: &str, sub: &str, child: &str) -> usize {
    let token = server.token(agency, sub, &[Role::IgOfficer]);
    let r = server
        .client(agency)
        .get(&format!("/v1/audit?subject_id={child}"), &token)
        .await
        .expect("the API's audit search");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_ig_officer_searches_the_audit_reviews_an_override_prints_a_report_and_sees_a_tampered_chain()
 {
    let world = world(
        "ig",
        json!({
            "ig.patel": {"agency": "partnership", "roles": ["ig_officer"]},
            "ig.river": {"agency": "school-riverside", "roles": ["ig_officer"]},
            "pc.okafor": {"agency": "police", "roles": ["police_officer"]},
        }),
    )
    .await;
    let server = &world.server;
    let (child, _, _) = limited_summary_for_the_dsl(server).await;
    // a police officer's significant-harm override about the same child: awaits review
    let police = server.client("police");
    let pc = server.token("police", "pc.okafor", &[Role::PoliceOfficer]);
    let notification = flows::deposit(
        &police,
        &pc,
        &child,
        "police_notification",
        json!({"summary": SUMMARY}),
    )
    .await;
    let mut body = flows::request(
        &notification,
        "csc",
        Some("social_worker"),
        "safeguarding",
        "significant_harm",
    );
    body["justification"] =
        json!("Reasonable cause to believe a younger child is likely to suffer significant harm.");
    let r = flows::disclose(&police, &pc, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let override_seq = r.json()["audit_seq"].as_i64().expect("the override's seq");

    // what the API gives this officer for the child: the page must show the same
    let api_entries = api_audit_entries(server, "partnership", "ig.patel", &child).await;
    assert!(api_entries >= 4, "{api_entries} entries");
    let before = head_seq(server).await;
    let note = "Console review: the override was justified.";
    let result = world
        .browse(
            "ig",
            json!({
                "agency": "partnership", "login": "ig.patel", "child": child,
                "override_seq": override_seq, "review_note": note, "api_entries": api_entries,
                "policy_version": server.state.policy().version(),
                "secrets": secrets(&world),
            }),
        )
        .await;
    assert_screenshots(&result, 5);
    let entries = world.entries_after(before).await;
    let mine = actions_of(&entries, "ig.patel");
    for action in [
        "console.sign_in",
        "audit.query",
        "audit.export",
        "audit.verify",
        "audit.reviews",
        "audit.review",
        "audit.subject_history",
    ] {
        assert!(
            mine.contains(&action.to_owned()),
            "every page reading the audit is audited as the API is: no {action} in {mine:?}"
        );
    }
    let review = entries
        .iter()
        .find(|(a, _, _)| a == "audit.review")
        .expect("the review entry");
    assert_eq!(review.2["override_seq"], override_seq, "{:?}", review.2);
    assert_eq!(review.2["outcome"], "upheld", "{:?}", review.2);

    // an IG officer of an agency not involved: the page shows what the API gives them
    let api_entries = api_audit_entries(server, "school-riverside", "ig.river", &child).await;
    assert_eq!(api_entries, 0, "Riverside is not involved");
    world
        .browse(
            "ig-scoped",
            json!({"agency": "school-riverside", "login": "ig.river", "child": child,
                   "api_entries": api_entries}),
        )
        .await;

    // the police officer's notification set off its MERLIN notices with no case open: the
    // record's page lists them, and reading it is audited as the API's read is
    let before = head_seq(server).await;
    let shown = world
        .browse(
            "owner-duties",
            json!({"agency": "police", "login": "pc.okafor", "record": notification,
                   "duties": ["merlin_youth_support:permit", "merlin_contact_service:permit"]}),
        )
        .await;
    assert_screenshots(&shown, 1);
    assert_eq!(
        actions_of(&world.entries_after(before).await, "pc.okafor"),
        ["console.sign_in", "record.disclosures.read"]
    );

    // children's social care opens a case for the child: the IG officer's case page shows the
    // MERLIN notices carried out before it
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let case = cases::Caseworker {
        client: &csc,
        token: &sw,
    }
    .opened(&child, chrono::Utc::now() - chrono::Duration::hours(1))
    .await;
    let shown = world
        .browse(
            "case-record-duties",
            json!({"agency": "partnership", "login": "ig.patel", "case": case,
                   "duties": ["merlin_youth_support:permit", "merlin_contact_service:permit"]}),
        )
        .await;
    assert_screenshots(&shown, 1);

    // a checkpoint kept before the tampering, as a witness keeps it
    let kept_checkpoint = server
        .client("partnership")
        .get(
            "/v1/audit/checkpoint",
            &server.token("partnership", "ig.patel", &[Role::IgOfficer]),
        )
        .await
        .expect("GET /v1/audit/checkpoint")
        .text();
    // tamper with one entry: the chain page names it
    let target = override_seq;
    world
        .exec(&format!(
            "UPDATE audit_log SET purpose = 'court' WHERE seq = {target}"
        ))
        .await;
    let result = world
        .browse(
            "tampered",
            json!({"agency": "partnership", "login": "ig.patel", "first_bad_seq": target,
                   "kept_checkpoint": kept_checkpoint}),
        )
        .await;
    assert_screenshots(&result, 1);
    let log = log_text();
    for secret in secrets(&world) {
        assert!(!log.contains(&secret), "the log holds {secret:.20}…");
    }
    world.stop().await;
}

/// Three Hillside pupils' cases led by csc, opened by `sw.amara` through the API, every instant
/// relative to now: one whose strategy discussion (48 hours) is overdue, one held on time and
/// one held late. (overdue, on time, late).
async fn three_cases(server: &TestServer) -> (String, String, String) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let steps = cases::Caseworker {
        client: &csc,
        token: &sw,
    };
    let (client, token) = (&csc, sw.as_str());
    let child = move || async move {
        flows::register(
            client,
            token,
            &flows::born_years_ago(10),
            Some("school-hillside"),
        )
        .await
    };
    let overdue = steps
        .opened(&child().await, cases::ago(chrono::Duration::days(3)))
        .await;
    let referred = cases::ago(chrono::Duration::days(1));
    let on_time = steps.opened(&child().await, referred).await;
    steps
        .step(
            &on_time,
            "strategy_discussion_held",
            referred + chrono::Duration::hours(2),
        )
        .await;
    let referred = cases::ago(chrono::Duration::days(5));
    let late = steps.opened(&child().await, referred).await;
    steps
        .step(
            &late,
            "strategy_discussion_held",
            referred + chrono::Duration::hours(72),
        )
        .await;
    (overdue, on_time, late)
}

#[tokio::test]
async fn a_team_manager_and_an_ig_officer_see_the_overdue_cases_a_case_and_the_timeliness_chart() {
    let world = world(
        "cases",
        json!({
            "tm.okafor": {"agency": "csc", "roles": ["team_manager"]},
            "ig.patel": {"agency": "partnership", "roles": ["ig_officer"]},
            "sw.amara": {"agency": "csc", "roles": ["social_worker"]},
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
    )
    .await;
    let server = &world.server;
    let (overdue, on_time, late) = three_cases(server).await;

    // the report as the API gives the team manager, counted by hand for the discussion clock
    let tm = server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = server
        .client("csc")
        .get("/v1/reports/timeliness", &tm)
        .await
        .expect("the API's report");
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    let lines = report["clocks"]
        .as_array()
        .expect("the report's clocks")
        .clone();
    // a line per clock of timescales.csv (and the first occurrence of a repeating one), and the
    // agreed actions' line
    let targets = broker::cases::report::Target::of(server.state.policy().timescales());
    assert_eq!(lines.len(), targets.len() + 1);
    let discussion = lines
        .iter()
        .find(|l| l["clock"] == "strategy_discussion")
        .expect("the discussion clock");
    for (count, expected) in [
        ("started", 3),
        ("met_on_time", 1),
        ("met_late", 1),
        ("overdue_now", 1),
        ("pending", 0),
        ("closed_unmet", 0),
    ] {
        assert_eq!(discussion[count], expected, "{count}: {discussion}");
    }
    let unknown = "01a204f3-0000-7000-8000-000000000000";
    let params = |agency: &str, login: &str| {
        json!({"agency": agency, "login": login, "overdue_case": overdue,
               "on_time_case": on_time, "late_case": late, "unknown_case": unknown,
               "lines": lines, "discussion_rate": "33% (1 of 3)"})
    };

    for (scenario, agency, login) in [
        ("cases", "csc", "tm.okafor"),
        ("cases-ig", "partnership", "ig.patel"),
    ] {
        let before = head_seq(server).await;
        let result = world.browse(scenario, params(agency, login)).await;
        assert_screenshots(&result, 4);
        let entries = world.entries_after(before).await;
        let theirs = actions_of(&entries, login);
        for action in ["case.list", "case.read", "report.timeliness"] {
            assert!(
                theirs.contains(&action.to_owned()),
                "the case pages are audited as the API's reads are: no {action} in {theirs:?}"
            );
        }
        let read: Vec<&Value> = entries
            .iter()
            .filter(|(a, s, _)| a == "case.read" && s == login)
            .map(|(_, _, d)| d)
            .collect();
        for case in [&overdue, &on_time, &late] {
            assert!(
                read.iter().any(|d| d["case_id"] == case.as_str()),
                "{login} read case {case}: {read:?}"
            );
        }
        let csv = entries
            .iter()
            .any(|(a, s, d)| a == "report.timeliness" && s == login && d["format"] == "csv");
        assert!(csv, "the CSV link is the API's CSV, audited: {entries:?}");
        if scenario == "cases" {
            let shot = world.out.join("cases-timeliness.png");
            assert!(shot.exists(), "the report's screenshot is saved");
        }
    }

    // a social worker may list cases but not read the report, and a school's DSL may see no
    // case at all: the API's refusal, nothing read
    let before = head_seq(server).await;
    let result = world
        .browse(
            "report-refused",
            json!({"agency": "csc", "login": "sw.amara",
                   "school": {"agency": "school-hillside", "login": "dsl.jones", "case": overdue}}),
        )
        .await;
    assert_screenshots(&result, 2);
    let entries = world.entries_after(before).await;
    for login in ["sw.amara", "dsl.jones"] {
        assert_eq!(
            actions_of(&entries, login),
            ["console.sign_in"],
            "a refused page reads and audits nothing"
        );
    }
    world.stop().await;
}

#[tokio::test]
async fn the_dev_sign_in_works_on_the_dev_world_and_an_idle_session_expires_audited() {
    let world = world(
        "expiry",
        json!({"dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]}}),
    )
    .await;
    let state_file = world.out.join("state.json");
    let before = head_seq(&world.server).await;
    world
        .browse(
            "dev-sign-in",
            json!({"agency": "school-hillside", "login": "dsl.dev", "role": "dsl",
                   "state_file": state_file}),
        )
        .await;
    let entries = world.entries_after(before).await;
    let signed_in = entries
        .iter()
        .find(|(a, s, _)| a == "console.sign_in" && s == "dsl.dev")
        .unwrap_or_else(|| panic!("a dev sign-in entry in {entries:?}"));
    assert_eq!(signed_in.2["method"], "dev");
    // sixteen minutes without a request
    let idle = broker::db::ts(broker::db::now() - chrono::Duration::minutes(16));
    world
        .exec(&format!(
            "UPDATE console_sessions SET last_seen_at = '{idle}' WHERE sub = 'dsl.dev'"
        ))
        .await;
    let before = head_seq(&world.server).await;
    world
        .browse(
            "expired",
            json!({"agency": "school-hillside", "state_file": state_file}),
        )
        .await;
    let entries = world.entries_after(before).await;
    assert!(
        entries
            .iter()
            .any(|(a, s, d)| a == "console.session_expired"
                && s == "dsl.dev"
                && d["reason"] == "idle"),
        "the expiry is audited: {entries:?}"
    );
    world.stop().await;
}

#[tokio::test]
async fn the_identity_providers_word_gets_the_api_tokens_checks_another_agency_or_a_wrong_role_is_refused()
 {
    let world = world(
        "refused",
        json!({
            "dsl.elsewhere": {"agency": "school-riverside", "roles": ["dsl"]},
            "pc.at.school": {"agency": "school-hillside", "roles": ["police_officer"]},
            "nobody.much": {"agency": "school-hillside", "roles": []},
        }),
    )
    .await;
    let before = head_seq(&world.server).await;
    // Hillside's provider vouches for each; the broker checks them as it checks API tokens
    for (login, code) in [
        ("dsl.elsewhere", "token_agency_mismatch"),
        ("pc.at.school", "token_role_invalid"),
        ("nobody.much", "token_role_invalid"),
    ] {
        world
            .browse(
                "refused",
                json!({"agency": "school-hillside", "login": login, "code": code}),
            )
            .await;
    }
    assert_eq!(
        head_seq(&world.server).await,
        before,
        "a refused sign-in writes no audit entry and opens no session"
    );
    let open: i64 = broker::with_db!(&world.server.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM console_sessions")
            .fetch_one(pool)
            .await
            .expect("counting sessions")
    });
    assert_eq!(open, 0, "no session was opened");
    world.stop().await;
}

/// csc's provider configured like an Entra ID tenant: `groups` of GUIDs, the person in `oid`,
/// the tenant in `tid`, no `agency` claim; `[agencies.identity]` maps them.
#[tokio::test]
async fn an_entra_like_person_with_only_groups_signs_in_with_the_mapped_role_and_another_tenant_is_refused()
 {
    const TENANT: &str = "9b0c2a4e-3d1f-4e8a-b6c7-5d2e1f0a9c8b";
    const TM_GROUP: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";
    let person = |tid: &str, oid: &str| {
        json!({"signs_in_at": "csc", "tid": tid, "oid": oid,
               "groups": [TM_GROUP, "0f0f0f0f-not-mapped"]})
    };
    let world = world_with(
        "entra",
        json!({
            "tm.okafor": person(TENANT, "5e4d3c2b-oid-of-okafor"),
            "tm.elsewhere": person("0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b", "1a2b3c4d-oid-else"),
        }),
        |toml, _| {
            common::idp::edit_agency(&toml, "csc", |entry| {
                format!(
                    "{entry}identity = {{ roles_claim = \"groups\", user_claim = \"oid\", \
                     role_map = {{ \"{TM_GROUP}\" = \"team_manager\" }}, \
                     bound_claims = {{ tid = \"{TENANT}\" }} }}\n"
                )
            })
        },
    )
    .await;
    let result = world
        .browse(
            "entra",
            json!({"agency": "csc", "login": "tm.okafor", "oid": "5e4d3c2b-oid-of-okafor",
                   "refused": "tm.elsewhere", "code": "token_bound_claim"}),
        )
        .await;
    assert_screenshots(&result, 2);
    let entries = world.entries_after(0).await;
    assert!(
        actions_of(&entries, "5e4d3c2b-oid-of-okafor").contains(&"console.sign_in".to_owned()),
        "the sign-in is audited as the oid: {entries:?}"
    );
    assert!(
        actions_of(&entries, "1a2b3c4d-oid-else").is_empty(),
        "the other tenant's person did nothing"
    );
    world.stop().await;
}

#[tokio::test]
async fn no_console_page_answers_without_a_session_and_every_answer_carries_the_security_headers() {
    let server = TestServer::start().await;
    let client = server.client("school-hillside");
    let id = "01a204f3-0000-7000-8000-000000000000";
    let before = head_seq(&server).await;
    let get = [
        "/ui/".to_owned(),
        "/ui/inbox".into(),
        format!("/ui/inbox/{id}"),
        "/ui/audit".into(),
        "/ui/audit?decision=permit".into(),
        "/ui/audit/export.csv".into(),
        "/ui/audit/verify".into(),
        "/ui/audit/reviews".into(),
        format!("/ui/subjects?subject_id={id}"),
        format!("/ui/subjects/{id}/history"),
        "/ui/policy".into(),
        format!("/ui/records?record_id={id}"),
        format!("/ui/records/{id}"),
        "/ui/cases".into(),
        "/ui/cases?overdue=false&status=open".into(),
        format!("/ui/cases/{id}"),
        "/ui/reports/timeliness".into(),
        "/ui/reports/timeliness.csv".into(),
        // cases and the review queue (issue 21)
        format!("/ui/cases/new?subject_id={id}"),
        "/ui/audit/reviews?kind=duty&basis=legal_obligation".into(),
        // the child's pages
        "/ui/children".into(),
        "/ui/children/new".into(),
        format!("/ui/children/{id}"),
        format!("/ui/children/{id}/history"),
        format!("/ui/mappa/decisions/new?subject_id={id}"),
    ];
    let post = [
        "/ui/signout".to_owned(),
        format!("/ui/inbox/{id}/ack"),
        "/ui/audit/reviews/1".into(),
        // cases and the review queue (issue 21)
        "/ui/cases/new".into(),
        format!("/ui/cases/{id}/events"),
        "/ui/audit/reviews".into(),
        // the child's forms
        "/ui/children/new".into(),
        format!("/ui/children/{id}/consents"),
        format!("/ui/children/{id}/consents/{id}/withdraw"),
        format!("/ui/children/{id}/competence"),
        format!("/ui/children/{id}/school"),
        format!("/ui/children/{id}/mappa"),
        format!("/ui/children/{id}/staff-designations"),
        "/ui/mappa/decisions/new".into(),
    ];
    let requests = get
        .iter()
        .map(|p| (hyper::Method::GET, p))
        .chain(post.iter().map(|p| (hyper::Method::POST, p)));
    for (method, path) in requests {
        let r = client
            .send_raw(
                method.clone(),
                path,
                None,
                Some("application/x-www-form-urlencoded"),
                axum::body::Bytes::from_static(b"csrf=x"),
            )
            .await
            .expect("a console request");
        assert_eq!(
            r.status,
            303,
            "{method} {path} without a session: {}",
            r.text()
        );
        let to = r.headers["location"].to_str().expect("a location");
        assert!(
            to.starts_with("/ui/signin"),
            "{method} {path} goes to sign-in: {to}"
        );
        assert_eq!(
            r.headers["content-security-policy"],
            broker::console::CSP,
            "{method} {path}"
        );
    }
    let r = client
        .send_raw(
            hyper::Method::GET,
            "/ui/signin",
            None,
            None,
            axum::body::Bytes::new(),
        )
        .await
        .expect("the sign-in page");
    assert_eq!(r.status, 200, "{}", r.text());
    for (header, value) in [
        ("content-security-policy", broker::console::CSP),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(r.headers[header], value, "{header}");
    }
    let html = r.text();
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline script or style: {html}"
    );
    // the dev world's sign-in form carries its CSRF token, and a post without it is refused
    assert!(html.contains("name=\"csrf\""), "{html}");
    let r = client
        .send_raw(
            hyper::Method::POST,
            "/ui/signin/dev",
            None,
            Some("application/x-www-form-urlencoded"),
            axum::body::Bytes::from_static(b"sub=dsl.jones&role=dsl"),
        )
        .await
        .expect("a dev sign-in without its token");
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.headers.get("set-cookie").is_none(),
        "no session without the token"
    );
    assert_eq!(
        head_seq(&server).await,
        before,
        "nothing was audited or written without a session"
    );
    server.stop().await;
}

/// A session nobody presents again is ended by the broker's own sweep (every
/// `[console] session_sweep_seconds`), with its audit entry, not only at the next sign-in.
#[tokio::test]
async fn an_abandoned_session_is_ended_and_audited_by_the_brokers_sweep() {
    let server = TestServer::start_with_section("console", "session_sweep_seconds = 1").await;
    let dsl = broker::identity::Principal {
        agency: "school-hillside".into(),
        agency_kind: broker::vocab::AgencyKind::School,
        sub: "dsl.walker".into(),
        roles: vec![Role::Dsl],
    };
    broker::console::session::open(&server.state, &dsl, "dev")
        .await
        .expect("a session");
    let before = head_seq(&server).await;
    let idle = broker::db::ts(broker::db::now() - chrono::Duration::minutes(16));
    broker::with_db!(&server.state.db, pool => {
        sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE sub = 'dsl.walker'")
            .bind(&idle)
            .execute(pool)
            .await
            .map(drop)
            .expect("backdating the session")
    });
    // the sweep runs every second: wait for it, at most ten
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ended = loop {
        let row: Option<(String, String)> = broker::with_db!(&server.state.db, pool => {
            sqlx::query_as("SELECT action, detail FROM audit_log WHERE seq > $1 AND actor_sub = 'dsl.walker'")
                .bind(before)
                .fetch_optional(pool)
                .await
                .expect("reading the audit log")
        });
        if let Some(row) = row {
            break row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the abandoned session was not ended within ten seconds"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ended.0, "console.session_expired");
    let detail: Value = serde_json::from_str(&ended.1).expect("JSON detail");
    assert_eq!(detail["reason"], "idle", "{detail}");
    let reason: Option<String> = broker::with_db!(&server.state.db, pool => {
        sqlx::query_scalar("SELECT end_reason FROM console_sessions WHERE sub = 'dsl.walker'")
            .fetch_one(pool)
            .await
            .expect("the session")
    });
    assert_eq!(reason.as_deref(), Some("idle"));
    server.stop().await;
}

// --- cases, the start page and the IG officer's queue (issue 21) ---

/// An instant as a person types it in the forms: its UK date and 24-hour time.
fn typed(at: chrono::DateTime<chrono::Utc>) -> Value {
    use chrono::{Datelike, Timelike};
    let local = at.with_timezone(&chrono_tz::Europe::London);
    json!({"day": local.day(), "month": local.month(), "year": local.year(),
           "hour": local.hour(), "minute": local.minute()})
}

#[tokio::test]
async fn a_team_manager_opens_a_case_and_records_the_strategy_discussion_through_the_forms() {
    let world = world(
        "case-work",
        json!({"tm.okafor": {"agency": "csc", "roles": ["team_manager"]}}),
    )
    .await;
    let server = &world.server;
    // one case of another child overdue, led by a social worker: the start page counts it
    three_cases(server).await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = csc
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": "2014-06-01", "school_agency": "school-hillside",
                    "display_name": "Sam Okoro"}),
        )
        .await
        .expect("registering a child");
    let child = flows::created(&r);
    let referral = cases::ago(chrono::Duration::hours(3));
    let before = head_seq(server).await;
    let result = world
        .browse(
            "case-work",
            json!({
                "agency": "csc", "login": "tm.okafor", "child": child,
                "child_name": "Sam Okoro", "child_born": "1 June 2014",
                "referral": typed(referral),
                "before_referral": typed(referral - chrono::Duration::days(1)),
                "discussion": typed(referral + chrono::Duration::hours(1)),
                "overdue": 1, "my_overdue": 0,
            }),
        )
        .await;
    assert_screenshots(&result, 9);
    let case = result["case_id"]
        .as_str()
        .expect("the case opened")
        .to_owned();

    // each accepted form is one action of the API, audited as the team manager's; the refused
    // ones wrote nothing
    let entries = world.entries_after(before).await;
    let writes: Vec<&(String, String, Value)> = entries
        .iter()
        .filter(|(a, s, _)| s == "tm.okafor" && (a == "case.open" || a == "case.event"))
        .collect();
    assert_eq!(writes.len(), 2, "one opening and one step: {writes:?}");
    assert_eq!(writes[0].0, "case.open");
    assert_eq!(writes[0].2["case_id"], case.as_str());
    assert_eq!(writes[1].0, "case.event");
    assert_eq!(writes[1].2["case_id"], case.as_str());
    assert_eq!(writes[1].2["kind"], "strategy_discussion_held");

    // the API gives the same case: opened at the referral typed, the discussion on time
    let tm = server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let r = csc
        .get(&format!("/v1/cases/{case}"), &tm)
        .await
        .expect("the API's case");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    assert_eq!(got["subject_id"], child.as_str());
    assert_eq!(got["lead_sub"], "tm.okafor");
    assert_eq!(got["subject_role"], "harmful_behaviour");
    let typed_referral = referral
        .with_timezone(&chrono::Utc)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    assert!(
        got["referral_received_at"]
            .as_str()
            .is_some_and(|t| t.starts_with(&typed_referral)),
        "the referral as typed, to the minute: {} vs {typed_referral}",
        got["referral_received_at"]
    );
    assert_eq!(got["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(cases::clock(&got, "strategy_discussion")["status"], "met");
    world.stop().await;
}

#[tokio::test]
async fn an_ig_officer_filters_the_review_queue_and_upholds_three_duty_notices_with_one_note() {
    let world = world(
        "review-queue",
        json!({
            "ig.patel": {"agency": "partnership", "roles": ["ig_officer"]},
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
    )
    .await;
    let server = &world.server;
    // a packet for Hillside's DSL; two police notifications (each sets off two MERLIN notices,
    // legal_obligation duties awaiting review) and a significant-harm override
    let (child, _, _) = limited_summary_for_the_dsl(server).await;
    let police = server.client("police");
    let pc = server.token("police", "pc.okafor", &[Role::PoliceOfficer]);
    let mut notification = String::new();
    for _ in 0..2 {
        notification = flows::deposit(
            &police,
            &pc,
            &child,
            "police_notification",
            json!({"summary": SUMMARY}),
        )
        .await;
    }
    let mut body = flows::request(
        &notification,
        "csc",
        Some("social_worker"),
        "safeguarding",
        "significant_harm",
    );
    body["justification"] =
        json!("Reasonable cause to believe a younger child is likely to suffer significant harm.");
    let r = flows::disclose(&police, &pc, &body).await;
    assert_eq!(r.status, 201, "{}", r.text());

    // the queue as the API gives the officer
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let queue = |server: &TestServer| {
        let client = server.client("partnership");
        let ig = ig.clone();
        async move {
            let r = client
                .get("/v1/audit/reviews", &ig)
                .await
                .expect("the API's queue");
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()["awaiting_review"]
                .as_array()
                .expect("the queue")
                .clone()
        }
    };
    let awaiting = queue(server).await;
    let duties = awaiting
        .iter()
        .filter(|e| e["detail"]["duty"].is_object())
        .count();
    assert_eq!((awaiting.len(), duties), (5, 4), "{awaiting:?}");

    let shown = world
        .browse(
            "start-page",
            json!({"agency": "school-hillside", "login": "dsl.jones", "new_packets": 1}),
        )
        .await;
    assert_screenshots(&shown, 1);

    let before = head_seq(server).await;
    let note = "Routine MERLIN notices under the Crime and Disorder Act: upheld.";
    let result = world
        .browse(
            "review-queue",
            json!({"agency": "partnership", "login": "ig.patel", "child": child,
                   "awaiting": awaiting.len(), "duties": duties, "note": note}),
        )
        .await;
    assert_screenshots(&result, 5);
    let ticked: std::collections::BTreeSet<i64> = result["reviewed"]
        .as_array()
        .expect("the entries ticked")
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(ticked.len(), 3, "{result}");

    // three reviews, each its own audit entry, each of a duty notice the officer ticked
    let entries = world.entries_after(before).await;
    let reviews: Vec<&Value> = entries
        .iter()
        .filter(|(a, s, _)| a == "audit.review" && s == "ig.patel")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(reviews.len(), 3, "{reviews:?}");
    let reviewed: std::collections::BTreeSet<i64> = reviews
        .iter()
        .filter_map(|d| d["override_seq"].as_i64())
        .collect();
    assert_eq!(reviewed, ticked, "each ticked entry reviewed once");
    assert!(
        reviews.iter().all(|d| d["outcome"] == "upheld"),
        "{reviews:?}"
    );
    for seq in &ticked {
        let entry = awaiting
            .iter()
            .find(|e| e["seq"] == *seq)
            .expect("a ticked entry was awaiting review");
        assert!(
            entry["detail"]["duty"].is_object(),
            "a duty notice: {entry}"
        );
    }
    let left = queue(server).await;
    assert_eq!(
        left.len(),
        2,
        "the override and one notice still wait: {left:?}"
    );
    world.stop().await;
}

// ---- Links that work (issue 21, items 6 and 7): "a packet waits" by e-mail, a link from
// another site, the sign-in that returns to the page asked for, signing in again, the console's
// 404 and error pages in the person's frame ----

/// A real SMTP server (`tests/smtp_sink.py`, aiosmtpd) and the messages it has received.
struct Smtp {
    _child: tokio::process::Child,
    port: u16,
    messages: Arc<Mutex<Vec<Value>>>,
}

async fn smtp() -> Smtp {
    let port = free_port();
    let mut child = tokio::process::Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py"))
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs tests/smtp_sink.py (pip install -r tests/requirements.txt)");
    let stdout = child.stdout.take().expect("the SMTP server's stdout");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let started = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with("smtp listening") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        started,
        Ok(true),
        "the SMTP server (tests/smtp_sink.py, aiosmtpd from tests/requirements.txt) did not start"
    );
    let messages = Arc::new(Mutex::new(Vec::new()));
    let received = messages.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(message) = serde_json::from_str::<Value>(&line) {
                received.lock().unwrap().push(message);
            }
        }
    });
    Smtp {
        _child: child,
        port,
        messages,
    }
}

impl Smtp {
    /// The first message received, waiting at most ten seconds.
    async fn message(&self) -> Value {
        for _ in 0..100 {
            if let Some(m) = self.messages.lock().unwrap().first().cloned() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no message reached the SMTP server within ten seconds")
    }
}

/// broker.toml with `[notify]` through `smtp_url` (three tries, `retry_ms` apart and doubling)
/// and Hillside's inbox addresses by role.
fn with_mail(toml: &str, smtp_url: &str, retry_ms: u64) -> String {
    let hillside = "id = \"school-hillside\"\n";
    assert!(toml.contains(hillside), "the dev world has Hillside");
    let toml = toml.replacen(
        hillside,
        &format!(
            "{hillside}inbox_email = {{ dsl = \"dsl@hillside.example\", default = \"office@hillside.example\" }}\n"
        ),
        1,
    );
    format!(
        "{toml}\n[notify]\nsmtp_url = \"{smtp_url}\"\nfrom = \"broker@partnership.example\"\n\
         attempts = 3\nretry_ms = {retry_ms}\n"
    )
}

/// The audit entries of `action` after `after`, waiting at most ten seconds for the first.
async fn entries_of(world: &TestServer, after: i64, action: &str) -> Vec<Value> {
    for _ in 0..100 {
        let found: Vec<Value> = broker::with_db!(&world.state.db, pool => {
            sqlx::query("SELECT detail FROM audit_log WHERE seq > $1 AND action = $2 ORDER BY seq")
                .bind(after)
                .bind(action)
                .fetch_all(pool)
                .await
                .expect("reading the audit log")
                .iter()
                .map(|r| serde_json::from_str(&r.get::<String, _>("detail")).unwrap_or(Value::Null))
                .collect()
        });
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test]
async fn a_packet_waits_by_email_and_its_link_followed_from_another_site_opens_the_packet() {
    let mail = smtp().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", mail.port);
    let world = world_with(
        "mail-link",
        json!({"dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]}}),
        |toml, port| {
            let toml = toml.replacen(
                "[console]\n",
                &format!("[console]\npublic_url = \"https://localhost:{port}\"\n"),
                1,
            );
            with_mail(&toml, &smtp_url, 200)
        },
    )
    .await;
    let before = head_seq(&world.server).await;
    let (child, _, disclosure) = limited_summary_for_the_dsl(&world.server).await;

    // the message: to the DSL's address, naming the sender, linking to the packet, no more
    let message = mail.message().await;
    let link = format!(
        "https://localhost:{}/ui/inbox/{disclosure}",
        world.server.addr.port()
    );
    assert_eq!(
        message["rcpt_tos"],
        json!(["dsl@hillside.example"]),
        "{message}"
    );
    assert_eq!(
        message["mail_from"], "broker@partnership.example",
        "{message}"
    );
    let subject = message["subject"].as_str().expect("a subject");
    let body = message["body"].as_str().expect("a body");
    assert!(
        subject.contains("Northshire Children's Social Care"),
        "{subject}"
    );
    assert!(body.contains("Northshire Children's Social Care"), "{body}");
    assert!(
        body.lines().any(|l| l.trim() == link),
        "the link {link} in {body}"
    );
    let raw = message["raw"].as_str().expect("the raw message");
    for never in [
        SUMMARY,
        RISK,
        ALLEGATION,
        child.as_str(),
        "safeguarding",
        "consent",
    ] {
        assert!(
            !raw.contains(never) && !body.contains(never),
            "the message carries no content, child or purpose: {never:.20} in {raw}"
        );
    }
    let sent = entries_of(&world.server, before, "mail.sent").await;
    assert_eq!(sent.len(), 1, "one message, audited: {sent:?}");
    assert_eq!(sent[0]["disclosure_id"], disclosure.as_str());
    assert_eq!(sent[0]["recipient_role"], "dsl");
    assert_eq!(sent[0]["attempts"], 1);

    // the DSL, signed in, follows it from another site; a signed-out browser signs in first;
    // both land on the packet. Then: an unknown page and an error page keep the navigation,
    // and signing in again ends the earlier session.
    let before = head_seq(&world.server).await;
    let result = world
        .browse(
            "mail-link",
            json!({"agency": "school-hillside", "login": "dsl.jones", "link": link,
                   "disclosure": disclosure}),
        )
        .await;
    assert_screenshots(&result, 4);
    let entries = world.entries_after(before).await;
    let mine = actions_of(&entries, "dsl.jones");
    assert!(
        mine.iter().filter(|a| *a == "packet.read").count() >= 2,
        "both browsers read the packet: {mine:?}"
    );
    let replaced = entries
        .iter()
        .find(|(a, _, d)| a == "console.sign_out" && d["reason"] == "signed_in_again")
        .unwrap_or_else(|| panic!("signing in again ended the earlier session: {entries:?}"));
    let earlier = replaced.2["session_id"].as_str().expect("a session id");
    let ended: (Option<String>, Option<String>) = broker::with_db!(&world.server.state.db, pool => {
        sqlx::query_as("SELECT ended_at, end_reason FROM console_sessions WHERE id = $1")
            .bind(earlier)
            .fetch_one(pool)
            .await
            .expect("the earlier session")
    });
    assert!(ended.0.is_some(), "the earlier session is ended");
    assert_eq!(ended.1.as_deref(), Some("signed_in_again"));
    let signed_in: Vec<&Value> = entries
        .iter()
        .filter(|(a, _, _)| a == "console.sign_in")
        .map(|(_, _, d)| d)
        .collect();
    assert!(
        signed_in.iter().any(|d| d["session_id"] != earlier),
        "and opened a new one: {signed_in:?}"
    );
    let log = log_text();
    assert!(
        !log.contains("dsl@hillside.example") && !log.contains("office@hillside.example"),
        "no address in the log"
    );
    world.stop().await;
}

#[tokio::test]
async fn an_unreachable_smtp_server_never_blocks_a_disclosure_and_its_failure_is_audited() {
    // a port nobody listens on
    let closed = free_port();
    let world = world_with("mail-unreachable", json!({}), |toml, _| {
        with_mail(&toml, &format!("smtp://127.0.0.1:{closed}"), 500)
    })
    .await;
    let before = head_seq(&world.server).await;
    let started = std::time::Instant::now();
    let (_, _, disclosure) = limited_summary_for_the_dsl(&world.server).await;
    // three tries 500 ms then 1 s apart: the disclosure (201) was answered before they ended
    assert!(
        entries_of_now(&world.server, before, "mail.failed").await == 0,
        "the disclosure did not wait for its e-mail"
    );
    let failed = entries_of(&world.server, before, "mail.failed").await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the tries waited between them"
    );
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["disclosure_id"], disclosure.as_str());
    assert_eq!(
        failed[0]["attempts"], 3,
        "given up after the tries: {:?}",
        failed[0]
    );
    assert_eq!(
        failed[0]["reason"], "the SMTP server could not be reached",
        "{:?}",
        failed[0]
    );
    assert!(
        entries_of_now(&world.server, before, "mail.sent").await == 0,
        "nothing was sent"
    );
    let log = log_text();
    assert!(
        !log.contains("dsl@hillside.example"),
        "no address in the log"
    );
    world.stop().await;
}

/// How many audit entries of `action` follow `after`, now.
async fn entries_of_now(server: &TestServer, after: i64, action: &str) -> i64 {
    broker::with_db!(&server.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE seq > $1 AND action = $2")
            .bind(after)
            .bind(action)
            .fetch_one(pool)
            .await
            .expect("counting audit entries")
    })
}

/// A GET of `path` over Hillside's certificate, with `extra` header lines.
async fn get_raw(server: &TestServer, path: &str, extra: &str) -> common::RawAnswer {
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{extra}connection: close\r\n\r\n");
    server
        .raw_exchange("school-hillside", request.as_bytes())
        .await
}

const CROSS_SITE: &str =
    "sec-fetch-site: cross-site\r\nsec-fetch-mode: navigate\r\nsec-fetch-dest: document\r\n";

#[tokio::test]
async fn a_link_from_another_site_keeps_the_session_and_the_sign_in_returns_to_the_page_asked_for()
{
    let server = TestServer::start().await;
    let id = "01a204f3-0000-7000-8000-000000000000";
    let page = format!("/ui/inbox/{id}");

    // a cross-site navigation carries no Strict cookie: the page sends the browser on to the
    // same address from the broker's own site, and clears nothing
    let r = get_raw(&server, &page, CROSS_SITE).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.head.contains("set-cookie"),
        "nothing cleared: {}",
        r.head
    );
    assert!(
        r.body.contains(&format!(
            "<meta http-equiv=\"refresh\" content=\"0;url={page}\">"
        )),
        "{}",
        r.body
    );
    // the same request from the broker's own site, still without a session: to the sign-in,
    // carrying the page, clearing nothing
    let r = get_raw(&server, &page, "sec-fetch-site: same-origin\r\n").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let next = format!("/ui/signin?why=signed_out&next=%2Fui%2Finbox%2F{id}");
    let location = |r: &common::RawAnswer| {
        r.head
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(location(&r), next.to_ascii_lowercase(), "{}", r.head);
    assert!(
        !r.head.contains("set-cookie"),
        "nothing cleared: {}",
        r.head
    );
    // a cookie that opens nothing is cleared
    let r = get_raw(
        &server,
        &page,
        "cookie: __Host-broker_session=0123\r\nsec-fetch-site: same-origin\r\n",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(
        r.head.contains("set-cookie: __host-broker_session=;"),
        "{}",
        r.head
    );
    // a form posted from another site is not sent on
    let r = server
        .post_form("school-hillside", &format!("{page}/ack"), None, b"csrf=x")
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(location(&r), "/ui/signin?why=signed_out", "{}", r.head);

    // the sign-in page carries the page on, through the identity provider and the dev form
    let r = get_raw(&server, &next, "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("name=\"next\" value=\"/ui/inbox/{id}\"")),
        "{}",
        r.body
    );
    // a path that is not a console page is dropped for the start page
    for evil in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "%2Fui%2Fsignin",
    ] {
        let r = get_raw(&server, &format!("/ui/signin?next={evil}"), "").await;
        assert!(
            r.body.contains("name=\"next\" value=\"/ui/\""),
            "{evil}: {}",
            r.body
        );
    }

    // the dev sign-in returns to the page asked for, and ends the session the browser held
    let dsl = common::console::principal(&server, "school-hillside", "dsl.walker", Role::Dsl);
    let earlier = server.console_session(&dsl).await;
    let before = head_seq(&server).await;
    let (answer, pre) = dev_sign_in(&server, &earlier.cookie, &page).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains(&format!("content=\"0;url={page}\"")),
        "{}",
        answer.body
    );
    let entries: Vec<(String, Value)> = broker::with_db!(&server.state.db, pool => {
        sqlx::query("SELECT action, detail FROM audit_log WHERE seq > $1 ORDER BY seq")
            .bind(before)
            .fetch_all(pool)
            .await
            .expect("the audit log")
            .iter()
            .map(|r| (r.get::<String, _>("action"), serde_json::from_str(&r.get::<String, _>("detail")).unwrap()))
            .collect()
    });
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0].0, "console.sign_out", "{entries:?}");
    assert_eq!(entries[0].1["reason"], "signed_in_again", "{entries:?}");
    assert_eq!(entries[1].0, "console.sign_in", "{entries:?}");
    let r = get_raw(
        &server,
        "/ui/inbox",
        &format!("cookie: {}\r\n", earlier.cookie),
    )
    .await;
    assert_eq!(r.status, 303, "the earlier session opens nothing now");
    // a path that is not a console page: the start page
    let (answer, _) = dev_sign_in(&server, &pre, "//evil.example/x").await;
    assert!(
        answer.body.contains("content=\"0;url=/ui/\""),
        "{}",
        answer.body
    );
    server.stop().await;
}

/// The dev sign-in of `dsl.walker` posted with `cookie` (and the form's token cookie), asking
/// to return to `next`: the answer and the session cookie it set.
async fn dev_sign_in(server: &TestServer, cookie: &str, next: &str) -> (common::RawAnswer, String) {
    let page = get_raw(server, "/ui/signin", "").await;
    let pre = page
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: __host-broker_pre="))
        .and_then(|v| v.split(';').next())
        .expect("the sign-in form's token cookie")
        .to_owned();
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let body = format!("csrf={pre}&sub=dsl.walker&role=dsl&next={next}");
    let answer = server
        .post_form(
            "school-hillside",
            "/ui/signin/dev",
            Some(&format!("__Host-broker_pre={pre}; {cookie}")),
            body.as_bytes(),
        )
        .await;
    let set = answer
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: __host-broker_session="))
        .and_then(|v| v.split(';').next())
        .map(|t| format!("__Host-broker_session={t}"))
        .unwrap_or_default();
    (answer, set)
}

#[tokio::test]
async fn an_unknown_console_page_is_a_404_page_with_the_headers_and_the_navigation_when_signed_in()
{
    let server = TestServer::start().await;
    let headers = [
        ("content-security-policy", broker::console::CSP),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    let dsl = common::console::principal(&server, "school-hillside", "dsl.walker", Role::Dsl);
    let session = server.console_session(&dsl).await;
    let signed_in = format!("cookie: {}\r\n", session.cookie);
    let unknown = "01a204f3-0000-7000-8000-000000000000";
    for (path, extra, nav) in [
        ("/ui/nope", "", false),
        ("/ui/nope/deeper?x=1", "", false),
        ("/ui/nope", signed_in.as_str(), true),
        // the API's 404 for a packet that is not theirs, in the person's frame
        (&*format!("/ui/inbox/{unknown}"), signed_in.as_str(), true),
    ] {
        let r = get_raw(&server, path, extra).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        for (name, value) in headers {
            assert!(
                r.head
                    .contains(&format!("{name}: {}", value.to_ascii_lowercase())),
                "{path}: {name} in {}",
                r.head
            );
        }
        assert!(r.body.contains("Page not found"), "{path}: {}", r.body);
        assert!(
            r.body.contains("govuk-template"),
            "a console page: {}",
            r.body
        );
        assert_eq!(
            r.body.contains("action=\"/ui/signout\""),
            nav,
            "{path}: the sign-out form when signed in"
        );
        assert_eq!(
            r.body.contains("aria-label=\"Menu\""),
            nav,
            "{path}: the navigation when signed in"
        );
        if nav {
            assert!(
                r.body.contains(&session.csrf),
                "the sign-out form carries its token"
            );
        }
    }
    // a refused form, in the person's frame too
    let r = server
        .post_form(
            "school-hillside",
            &format!("/ui/inbox/{unknown}/ack"),
            Some(&session.cookie),
            b"csrf=wrong",
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("aria-label=\"Menu\""), "{}", r.body);
    server.stop().await;
}

/// A date as the browser types it into a GOV.UK date input.
fn date_parts(d: chrono::NaiveDate) -> Value {
    use chrono::Datelike;
    json!({"day": d.day(), "month": d.month(), "year": d.year()})
}

/// How many times `sub` did `action` among `entries`.
fn times(entries: &[(String, String, Value)], sub: &str, action: &str) -> usize {
    actions_of(entries, sub)
        .iter()
        .filter(|a| *a == action)
        .count()
}

#[tokio::test]
async fn a_social_worker_registers_a_child_and_records_a_consent_a_head_teacher_designates_staff_and_a_mappa_chair_records_a_decision()
 {
    let world = world(
        "children",
        json!({
            "sw.amara": {"agency": "csc", "roles": ["social_worker"]},
            "head.okoro": {"agency": "school-hillside", "roles": ["head_teacher"]},
            "chair.wells": {"agency": "mappa", "roles": ["mappa_chair"]},
        }),
    )
    .await;
    let server = &world.server;
    let today = broker::decision::facts::london_date(chrono::Utc::now());
    let born = today - chrono::Months::new(10 * 12) - chrono::Days::new(40);
    let name = "Jordan Ellis";

    // the social worker: a date of birth in the future refused, then the child registered; a
    // consent with no purpose refused, then recorded; each once in the audit log
    let before = head_seq(server).await;
    let result = world
        .browse(
            "child-social-worker",
            json!({"agency": "csc", "login": "sw.amara", "name": name,
                   "future": date_parts(today + chrono::Days::new(400)),
                   "born": date_parts(born), "born_text": born.format("%-d %B %Y").to_string()}),
        )
        .await;
    assert_screenshots(&result, 6);
    let child = result["child"].as_str().expect("the child's id").to_owned();
    let entries = world.entries_after(before).await;
    for action in [
        "subject.list",
        "subject.register",
        "subject.read",
        "consent.record",
    ] {
        assert!(
            times(&entries, "sw.amara", action) >= 1,
            "{action} under sw.amara: {entries:?}"
        );
    }
    for action in ["subject.register", "consent.record"] {
        assert_eq!(
            times(&entries, "sw.amara", action),
            1,
            "a refused form writes nothing: {action} once"
        );
    }
    // the API reads what the pages wrote
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let r = server
        .client("csc")
        .get(&format!("/v1/subjects/{child}"), &sw)
        .await
        .expect("the API's read of the child");
    assert_eq!(r.status, 200, "{}", r.text());
    let view = r.json();
    assert_eq!(view["display_name"], name);
    assert_eq!(view["date_of_birth"], born.to_string());
    assert_eq!(view["school_agency"], "school-hillside");
    assert_eq!(view["consents"][0]["given_by"], "parent");
    assert_eq!(view["consents"][0]["purposes"], json!(["safeguarding"]));
    assert_eq!(view["consents"][0]["recipient_kinds"], json!(["school"]));

    // the head teacher of the child's school: a designation without a reason refused, then made
    let before = head_seq(server).await;
    let result = world
        .browse(
            "child-head-teacher",
            json!({"agency": "school-hillside", "login": "head.okoro", "child": child,
                   "name": name, "staff": "t.smith"}),
        )
        .await;
    assert_screenshots(&result, 3);
    let entries = world.entries_after(before).await;
    assert_eq!(times(&entries, "head.okoro", "designation.record"), 1);
    assert!(times(&entries, "head.okoro", "subject.read") >= 1);

    // a child under MAPPA management (its coordinator sets the status through the API); the
    // chair: a decision with nothing to share refused, then recorded
    let coordinator = server.token("mappa", "coord.reid", &[Role::MappaCoordinator]);
    let r = server
        .client("mappa")
        .put(
            &format!("/v1/subjects/{child}/mappa"),
            &coordinator,
            &json!({"active": true, "category": 2, "level": 2}),
        )
        .await
        .expect("setting the MAPPA status");
    assert_eq!(r.status, 200, "{}", r.text());
    let before = head_seq(server).await;
    let result = world
        .browse(
            "child-mappa-chair",
            json!({"agency": "mappa", "login": "chair.wells", "child": child, "name": name,
                   "today": date_parts(today),
                   "next_year": date_parts(today + chrono::Days::new(365))}),
        )
        .await;
    assert_screenshots(&result, 4);
    let entries = world.entries_after(before).await;
    assert_eq!(times(&entries, "chair.wells", "mappa.decision"), 1);
    let decision = entries
        .iter()
        .find(|(a, _, _)| a == "mappa.decision")
        .map(|(_, _, d)| d.clone())
        .expect("the decision's entry");
    assert_eq!(decision["sections"], json!(["summary"]), "{decision}");
    assert_eq!(decision["purposes"], json!(["safeguarding"]), "{decision}");
    world.stop().await;
}

// ---- records and sharing ----

const REFERRAL_SUMMARY: &str =
    "Referral summary 7c41: harmful sexual behaviour reported at school.";
const REFERRAL_RISK: &str = "Referral risk 2e90: no unsupervised time with younger pupils.";
const REFERRAL_ALLEGATION: &str = "Referral allegation 6b13: withheld from schools.";

#[tokio::test]
async fn a_social_worker_deposits_previews_and_sends_a_referral_and_the_dsl_reads_the_childs_name()
{
    let world = world(
        "records-share",
        json!({
            "sw.amara": {"agency": "csc", "roles": ["social_worker"]},
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
    )
    .await;
    // the child, registered and consented over the API
    let csc = world.server.client("csc");
    let sw = world.server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let born = flows::born_years_ago(10);
    let r = csc
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born, "school_agency": "school-hillside",
                    "display_name": "Sam Rivers"}),
        )
        .await
        .expect("registering a child");
    let child = flows::created(&r);
    flows::consent(&csc, &sw, &child, "parent", &["safeguarding"], &["school"]).await;
    let born_words = born
        .parse::<chrono::NaiveDate>()
        .expect("a date")
        .format("%-d %B %Y")
        .to_string();
    let packets = flows::count(&world.server, "packets").await;
    let before = head_seq(&world.server).await;
    let result = world
        .browse(
            "records-share",
            json!({
                "agency": "csc", "login": "sw.amara", "other_agency": "school-riverside",
                "recipient": {"agency": "school-hillside", "login": "dsl.jones",
                              "name": "Hillside Primary School"},
                "child": child, "child_name": "Sam Rivers", "born_words": born_words,
                "sections": {"summary": REFERRAL_SUMMARY, "risk_management": REFERRAL_RISK,
                             "allegation_details": REFERRAL_ALLEGATION},
                "released": ["summary", "risk_management"],
                "withheld": ["allegation_details"],
                "justification": "The school must plan supervision for tomorrow morning.",
            }),
        )
        .await;
    assert_screenshots(&result, 6);
    for name in ["share-preview", "dsl-packet-decrypted"] {
        let shot = world.out.join(format!("records-share-{name}.png"));
        assert!(
            shot.exists(),
            "the {name} screenshot is saved for the README"
        );
    }

    // one packet went out, the one the outcome named: the preview and the refusal sent nothing
    assert_eq!(flows::count(&world.server, "packets").await, packets + 1);
    let disclosure = result["disclosure"].as_str().expect("the disclosure id");
    let record = result["record"].as_str().expect("the record id");

    // every action is in the audit log, in order: the refused deposit wrote nothing, the
    // refused send is a denied disclosure, the preview a check
    let entries = world.entries_after(before).await;
    let theirs: Vec<(String, Value)> = entries
        .iter()
        .filter(|(a, s, _)| {
            s == "sw.amara"
                && !a.starts_with("console.")
                && a != "record.disclosures.read"
                && a != "subject.read"
        })
        .map(|(a, _, d)| (a.clone(), d.clone()))
        .collect();
    let actions: Vec<&str> = theirs.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "record.deposit",
            "disclosure",
            "decision.check",
            "disclosure"
        ],
        "{theirs:?}"
    );
    assert_eq!(
        theirs[1].1["disclosure_id"],
        Value::Null,
        "the refused send shared nothing: {:?}",
        theirs[1]
    );
    assert_eq!(
        theirs[2].1["disclosure_id"],
        Value::Null,
        "the preview shared nothing: {:?}",
        theirs[2]
    );
    assert_eq!(theirs[3].1["disclosure_id"], disclosure, "{:?}", theirs[3]);
    assert!(
        actions_of(&entries, "sw.amara").contains(&"record.disclosures.read".to_owned()),
        "the record's page is audited as the API's read"
    );
    let read: Vec<&Value> = entries
        .iter()
        .filter(|(a, s, _)| a == "packet.read" && s == "dsl.jones")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(read.len(), 1, "the DSL read the packet once: {entries:?}");
    assert_eq!(read[0]["disclosure_id"], disclosure);

    // the owner's record, as the API gives it, is the one deposited through the form
    let owned = csc
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .expect("the record")
        .json();
    assert_eq!(owned["kind"], "referral", "{owned}");
    assert_eq!(owned["subject_role"], "harmful_behaviour", "{owned}");
    assert_eq!(owned["child"]["display_name"], "Sam Rivers", "{owned}");

    // no record content or key in the broker's log
    let log = log_text();
    for secret in [
        REFERRAL_SUMMARY,
        REFERRAL_RISK,
        REFERRAL_ALLEGATION,
        "AGE-SECRET-KEY-",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:.20}…");
    }
    world.stop().await;
}

#[tokio::test]
async fn the_chair_permits_an_agency_through_the_records_page_and_the_dsl_reads_what_a_notice_notifies()
 {
    let world = world(
        "chair-notice",
        json!({
            "tm.okafor": {"agency": "csc", "roles": ["team_manager"]},
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
    )
    .await;
    let csc = world.server.client("csc");
    let tm = world.server.token("csc", "tm.okafor", &[Role::TeamManager]);
    let born = flows::born_years_ago(11);
    let r = csc
        .post(
            "/v1/subjects",
            &tm,
            &json!({"date_of_birth": born, "school_agency": "school-hillside",
                    "display_name": "Alex Moor"}),
        )
        .await
        .expect("registering a child");
    let child = flows::created(&r);
    // the team manager chairs the minutes they deposit
    let minutes = flows::deposit(
        &csc,
        &tm,
        &child,
        "strategy_meeting_minutes",
        json!({"summary": "Minutes 4c1d: the meeting agreed a plan."}),
    )
    .await;
    // opening a case tells the child's school (a duty): the notice the DSL reads
    let steps = cases::Caseworker {
        client: &csc,
        token: &tm,
    };
    let opened = steps
        .open(
            &child,
            "harmful_behaviour",
            cases::ago(chrono::Duration::hours(1)),
            &[],
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text());
    let notice = opened.json()["duties"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["duty"] == "involvement_school"))
        .and_then(|d| d["disclosure_id"].as_str())
        .unwrap_or_else(|| panic!("the school is told: {}", opened.text()))
        .to_owned();
    let born_words = born
        .parse::<chrono::NaiveDate>()
        .expect("a date")
        .format("%-d %B %Y")
        .to_string();
    let before = head_seq(&world.server).await;
    let result = world
        .browse(
            "chair-notice",
            json!({
                "agency": "csc", "login": "tm.okafor", "minutes": minutes,
                "permit": "school-hillside", "permit_name": "Hillside Primary School",
                "recipient": {"agency": "school-hillside", "login": "dsl.jones"},
                "notice": notice, "child_name": "Alex Moor", "born_words": born_words,
                "duty_words": "Tell the child's school that children's social care is involved",
                "lead_name": "Northshire Children's Social Care", "lead_sub": "tm.okafor",
            }),
        )
        .await;
    assert_screenshots(&result, 3);

    // one permission, granted by the chair through the form (the refused one wrote nothing)
    let entries = world.entries_after(before).await;
    let granted: Vec<&Value> = entries
        .iter()
        .filter(|(a, s, _)| a == "chair.permission" && s == "tm.okafor")
        .map(|(_, _, d)| d)
        .collect();
    assert_eq!(granted.len(), 1, "{entries:?}");
    let permitted: Vec<String> = broker::with_db!(&world.server.state.db, pool => {
        sqlx::query_scalar("SELECT recipient_agency FROM chair_permissions WHERE record_id = $1")
            .bind(&minutes)
            .fetch_all(pool)
            .await
            .expect("the chair's permissions")
    });
    assert_eq!(permitted, ["school-hillside"]);
    assert!(
        actions_of(&entries, "dsl.jones").contains(&"packet.read".to_owned()),
        "the DSL's read of the notice is audited"
    );
    world.stop().await;
}

// ---- the whole journey through the forms (issue 21) ----

/// A social worker registers a child, records the parent's consent, deposits a referral,
/// previews and sends it to the school's DSL, all through the console's forms; the DSL gets the
/// e-mail, follows its link from another site, signs in, lands on the packet, decrypts it (the
/// child named) and acknowledges; the social worker's record shows it read and acknowledged.
#[tokio::test]
async fn a_referral_goes_from_a_social_workers_forms_to_a_dsl_who_follows_the_emails_link() {
    let mail = smtp().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", mail.port);
    let world = world_with(
        "journey",
        json!({
            "sw.amara": {"agency": "csc", "roles": ["social_worker"]},
            "dsl.jones": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
        |toml, port| {
            let toml = toml.replacen(
                "[console]\n",
                &format!("[console]\npublic_url = \"https://localhost:{port}\"\n"),
                1,
            );
            with_mail(&toml, &smtp_url, 200)
        },
    )
    .await;
    let born = flows::born_years_ago(11)
        .parse::<chrono::NaiveDate>()
        .expect("a date");
    let before = head_seq(&world.server).await;
    let sections = json!({"summary": REFERRAL_SUMMARY, "risk_management": REFERRAL_RISK,
                          "allegation_details": REFERRAL_ALLEGATION});
    let shared = world
        .browse(
            "journey-share",
            json!({
                "agency": "csc", "login": "sw.amara",
                "recipient": {"agency": "school-hillside"},
                "child_name": "Robin Ashdown",
                "born": {"day": born.format("%-d").to_string(),
                         "month": born.format("%-m").to_string(),
                         "year": born.format("%Y").to_string()},
                "sections": sections,
                "released": ["summary", "risk_management"],
            }),
        )
        .await;
    let disclosure = shared["disclosure"].as_str().expect("the disclosure sent");
    let record = shared["record"].as_str().expect("the record deposited");

    // each form was one action of the API, audited as the social worker's, in order
    let entries = world.entries_after(before).await;
    let done: Vec<String> = actions_of(&entries, "sw.amara")
        .into_iter()
        .filter(|a| {
            !a.starts_with("console.")
                && !a.starts_with("mail.")
                && !a.ends_with(".read")
                && a != "subject.list"
        })
        .collect();
    assert_eq!(
        done,
        [
            "subject.register",
            "consent.record",
            "record.deposit",
            "decision.check",
            "disclosure"
        ],
        "{entries:?}"
    );

    // the e-mail: names the sender, links to the packet, carries nothing of the child
    let message = mail.message().await;
    let link = format!(
        "https://localhost:{}/ui/inbox/{disclosure}",
        world.server.addr.port()
    );
    let body = message["body"].as_str().expect("a body");
    assert!(body.lines().any(|l| l.trim() == link), "{body}");
    assert!(body.contains("Northshire Children's Social Care"), "{body}");
    let raw = message["raw"].as_str().expect("the raw message");
    for never in [
        REFERRAL_SUMMARY,
        REFERRAL_RISK,
        "Robin",
        "Ashdown",
        "safeguarding",
    ] {
        assert!(!raw.contains(never), "the e-mail carries no {never:.20}");
    }

    let result = world
        .browse(
            "journey-dsl",
            json!({
                "agency": "school-hillside", "login": "dsl.jones", "link": link,
                "child_name": "Robin Ashdown", "born_words": broker_date(born),
                "sections": sections, "released": ["summary", "risk_management"],
            }),
        )
        .await;
    assert!(result["axe"]["journey-packet"].is_object(), "{result}");

    // the sender sees it read and acknowledged, as the API tells the record's owner
    let sw = world.server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let seen = world
        .server
        .client("csc")
        .get(&format!("/v1/records/{record}/disclosures"), &sw)
        .await
        .expect("the record's disclosures")
        .json();
    let receipt = seen["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .find(|d| d["action"] == "disclosure" && d["detail"]["disclosure_id"] == disclosure)
        .cloned()
        .unwrap_or_else(|| panic!("the disclosure is listed: {seen}"));
    assert!(
        receipt["first_read_at"].is_string() && receipt["acknowledged_at"].is_string(),
        "read and acknowledged: {receipt}"
    );
    world.stop().await;
}

/// A date as the console writes it: "1 June 2015".
fn broker_date(date: chrono::NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

// --- transfers and different workers (PROCESS.md, Places P4 and P5) ---

#[tokio::test]
async fn a_case_is_reallocated_transferred_and_accepted_through_the_forms_and_the_former_lead_sees_only_earlier_steps()
 {
    // the receiving council: the dev world's adult social care, made a second children's social
    // care in this test's own broker.toml
    let world = world_with(
        "case-transfer",
        json!({
            "tm.north": {"agency": "csc", "roles": ["team_manager"]},
            "sw.north": {"agency": "csc", "roles": ["social_worker"]},
            "tm.south": {"agency": "adult-social-care", "roles": ["team_manager"]},
        }),
        |toml, _| {
            let dev = "kind = \"adult_social_care\"\nname = \"Northshire Adult Social Care\"";
            assert!(toml.contains(dev), "the dev world has adult social care");
            toml.replace(
                dev,
                "kind = \"children_social_care\"\nname = \"Southshire Children's Social Care\"",
            )
        },
    )
    .await;
    let server = &world.server;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.north", &[Role::SocialWorker]);
    let steps = cases::Caseworker {
        client: &csc,
        token: &sw,
    };
    let register = |name: &'static str| {
        let csc = &csc;
        let sw = &sw;
        async move {
            flows::created(
                &csc.post(
                    "/v1/subjects",
                    sw,
                    &json!({"date_of_birth": "2013-03-01", "school_agency": "school-hillside",
                            "display_name": name}),
                )
                .await
                .expect("registering a child"),
            )
        }
    };
    let child = register("Alex Moreno").await;
    let other = register("Billie Moreno").await;
    let referral = cases::ago(chrono::Duration::hours(5));
    let case = steps.opened(&child, referral).await;
    steps
        .step(
            &case,
            "strategy_discussion_held",
            referral + chrono::Duration::hours(1),
        )
        .await;
    // the other child's case, linked, led by sw.bello
    steps
        .opened_victim_led_by(&other, referral, &case, "sw.bello")
        .await;
    let before = head_seq(server).await;
    let result = world
        .browse(
            "case-transfer",
            json!({
                "case_id": case, "child_name": "Alex Moreno",
                "north_tm": "tm.north", "north_sw": "sw.north", "south_tm": "tm.south",
                "south": "adult-social-care",
                "north_name": "Northshire Children's Social Care",
                "south_name": "Southshire Children's Social Care",
                "linked_worker": "sw.bello", "new_worker": "sw.chen", "south_worker": "sw.south",
                "reallocated": typed(referral + chrono::Duration::hours(2)),
                "later": typed(referral + chrono::Duration::hours(4)),
            }),
        )
        .await;
    assert_eq!(result["done"], true, "{result}");
    assert_screenshots(&result, 7);

    // each accepted form one action of the API, as its person's; the refused one wrote nothing
    let entries = world.entries_after(before).await;
    let writes: Vec<(&str, &str)> = entries
        .iter()
        .filter(|(a, _, d)| {
            a.starts_with("case.") && a != "case.read" && d["case_id"] == case.as_str()
        })
        .map(|(a, s, _)| (a.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        writes,
        [
            ("case.event", "tm.north"),
            ("case.transfer", "tm.north"),
            ("case.transfer_accept", "tm.south"),
            ("case.event", "tm.south"),
        ],
        "{entries:?}"
    );
    let tm = server.token("adult-social-care", "tm.south", &[Role::TeamManager]);
    let r = server
        .client("adult-social-care")
        .get(&format!("/v1/cases/{case}"), &tm)
        .await
        .expect("the API's case");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    assert_eq!(got["lead_agency"], "adult-social-care");
    assert_eq!(got["lead_sub"], "sw.south");
    assert_eq!(
        got["transfers"][0]["note"],
        "The family moved to Southshire."
    );
    world.stop().await;
}

#[tokio::test]
async fn the_lead_agrees_an_action_and_the_schools_dsl_marks_it_done_without_seeing_the_case() {
    let world = world(
        "actions",
        json!({
            "sw.north": {"agency": "csc", "roles": ["social_worker"]},
            "dsl.hill": {"agency": "school-hillside", "roles": ["dsl"]},
        }),
    )
    .await;
    let server = &world.server;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.north", &[Role::SocialWorker]);
    let child = flows::created(
        &csc.post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": "2014-05-01", "school_agency": "school-hillside",
                    "display_name": "Sam Rivers"}),
        )
        .await
        .expect("registering a child"),
    );
    let steps = cases::Caseworker {
        client: &csc,
        token: &sw,
    };
    let case = steps
        .opened(&child, cases::ago(chrono::Duration::hours(5)))
        .await;
    let description = "Send the attendance record for this term to the social worker.";
    let note = "Sent through the secure portal on Friday.";
    let before = head_seq(server).await;
    let result = world
        .browse(
            "actions",
            json!({
                "case_id": case, "child_name": "Sam Rivers", "sw": "sw.north", "dsl": "dsl.hill",
                "school": "school-hillside", "school_name": "Hillside Primary School",
                "description": description, "note": note,
                "yesterday": typed(cases::ago(chrono::Duration::days(1))),
                "next_week": typed(cases::ago(-chrono::Duration::days(7))),
            }),
        )
        .await;
    assert_eq!(result["done"], true, "{result}");
    assert_screenshots(&result, 6);

    // each accepted form one action of the API, as its person's; the refused one wrote nothing
    let entries = world.entries_after(before).await;
    let writes: Vec<(&str, &str)> = entries
        .iter()
        .filter(|(a, _, d)| a.starts_with("case.action") && d["case_id"] == case.as_str())
        .map(|(a, s, _)| (a.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        writes,
        [
            ("case.action", "sw.north"),
            ("case.action_done", "dsl.hill")
        ],
        "{entries:?}"
    );
    let r = csc
        .get(&format!("/v1/cases/{case}"), &sw)
        .await
        .expect("the API's case");
    assert_eq!(r.status, 200, "{}", r.text());
    let got = r.json();
    let action = &got["actions"][0];
    assert_eq!(
        (
            &action["description"],
            &action["owner_agency"],
            &action["status"],
            &action["note"]
        ),
        (
            &json!(description),
            &json!("school-hillside"),
            &json!("done"),
            &json!(note)
        ),
        "{got}"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_dsl_deposits_a_concern_in_the_console_sees_it_delivered_and_the_front_door_reads_it() {
    let world = world(
        "concern",
        json!({
            "dsl.okafor": {"agency": "school-riverside", "roles": ["dsl"]},
            "sw.patel": {"agency": "csc-south", "roles": ["social_worker"]},
        }),
    )
    .await;
    // a Southshire child at Riverside Academy, registered by Southshire's front door
    let front = world.server.client("csc-south");
    let sw = world
        .server
        .token("csc-south", "sw.patel", &[Role::SocialWorker]);
    let r = front
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": flows::born_years_ago(11), "school_agency": "school-riverside",
                    "local_authority": "south", "display_name": "Jo Brook"}),
        )
        .await
        .expect("registering a child");
    let child = flows::created(&r);
    let sections = json!({
        "summary": "Jo told her teacher an older boy at home touches her.",
        "allegation_details": "Twice last week, after school, in the bedroom.",
    });
    let result = world
        .browse(
            "concern",
            json!({
                "child": child, "child_name": "Jo Brook", "sections": sections,
                "school": {"agency": "school-riverside", "login": "dsl.okafor",
                           "name": "Riverside Academy"},
                "front": {"agency": "csc-south", "login": "sw.patel",
                          "name": "Southshire Children's Social Care"},
            }),
        )
        .await;
    assert_screenshots(&result, 4);
    let disclosure = result["disclosure"].as_str().expect("the disclosure id");
    // the packet the front door read is the duty's, addressed to its social workers, acknowledged
    let (to, role, acked): (String, Option<String>, Option<String>) = broker::with_db!(&world.server.state.db, pool => {
        sqlx::query_as("SELECT to_agency, to_role, acknowledged_at FROM packets WHERE disclosure_id = $1")
            .bind(disclosure)
            .fetch_one(pool)
            .await
            .expect("the packet")
    });
    assert_eq!(
        (to.as_str(), role.as_deref()),
        ("csc-south", Some("social_worker"))
    );
    assert!(acked.is_some(), "acknowledged through the console");
    let duty: String = broker::with_db!(&world.server.state.db, pool => {
        sqlx::query_scalar("SELECT duty FROM record_duties WHERE disclosure_id = $1")
            .bind(disclosure)
            .fetch_one(pool)
            .await
            .expect("the duty listed on the record")
    });
    assert_eq!(duty, "concern_referral");
    // no record content in the broker's log
    let log = log_text();
    for content in sections.as_object().unwrap().values() {
        assert!(!log.contains(content.as_str().unwrap()));
    }
    world.stop().await;
}

// ---- places: a looked-after child (PROCESS.md P3) ----

#[tokio::test]
async fn the_placing_authority_records_where_a_child_lives_through_the_form_and_reads_the_case_the_host_leads()
 {
    let world = world(
        "looked-after",
        json!({"sw.amara": {"agency": "csc", "roles": ["social_worker"]}}),
    )
    .await;
    let server = &world.server;
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let csc = server.client("csc");
    let child = flows::register(&csc, &sw, &flows::born_years_ago(11), None).await;
    // another child of Northshire, placed in Southshire, whose case Southshire opens
    let placed = flows::register(&csc, &sw, &flows::born_years_ago(13), None).await;
    let r = csc
        .put(
            &format!("/v1/subjects/{placed}/residence"),
            &sw,
            &json!({"area": "south", "looked_after": true, "placed_by": "csc"}),
        )
        .await
        .expect("placing the child");
    assert_eq!(r.status, 200, "{}", r.text());
    let south = server.token("csc-south", "sw.bea", &[Role::SocialWorker]);
    let r = server
        .client("csc-south")
        .post(
            "/v1/cases",
            &south,
            &json!({"subject_id": placed, "subject_role": "harmful_behaviour",
                    "referral_received_at": cases::at(chrono::Utc::now() - chrono::Duration::hours(1))}),
        )
        .await
        .expect("the host opens the case");
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().expect("a case id").to_owned();

    let before = head_seq(server).await;
    let result = world
        .browse(
            "looked-after",
            json!({"agency": "csc", "login": "sw.amara", "child": child, "case": case}),
        )
        .await;
    assert_screenshots(&result, 3);
    let entries = world.entries_after(before).await;
    assert_eq!(
        times(&entries, "sw.amara", "subject.residence"),
        1,
        "the refused form wrote nothing: {entries:?}"
    );
    assert!(times(&entries, "sw.amara", "case.read") >= 1, "{entries:?}");
    // the API reads what the page wrote
    let r = csc
        .get(&format!("/v1/subjects/{child}"), &sw)
        .await
        .expect("the API's read of the child");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["residence"],
        json!({"area": "south", "looked_after": true, "placed_by": "csc"})
    );
    world.stop().await;
}

#[tokio::test]
async fn an_ig_officer_and_a_team_manager_filter_the_overdue_cases_and_the_report_by_area() {
    let world = world(
        "cases-area",
        json!({
            "ig.patel": {"agency": "partnership", "roles": ["ig_officer"]},
            "tm.okafor": {"agency": "csc", "roles": ["team_manager"]},
        }),
    )
    .await;
    let server = &world.server;
    let common::areas::AreaCases {
        north,
        south,
        moved,
        ..
    } = common::areas::open_area_cases(server).await;
    let names = ["Northshire", "Southshire"];
    for (scenario, agency, login, every, in_south) in [
        (
            "cases-area",
            "partnership",
            "ig.patel",
            vec![&north, &south, &moved],
            vec![&south, &moved],
        ),
        // a team manager's cases are their agency's: Northshire's, one of them placed south
        (
            "cases-area-tm",
            "csc",
            "tm.okafor",
            vec![&north, &moved],
            vec![&moved],
        ),
    ] {
        let before = head_seq(server).await;
        let result = world
            .browse(
                scenario,
                json!({"agency": agency, "login": login, "area_names": names,
                       "every_case": every, "south_cases": in_south,
                       "report_every": every.len(), "report_south": in_south.len()}),
            )
            .await;
        assert_screenshots(&result, 2);
        let entries = world.entries_after(before).await;
        for action in ["case.list", "report.timeliness"] {
            assert!(
                entries
                    .iter()
                    .any(|(a, s, d)| a == action && s == login && d["area"] == "south"),
                "{login}'s {action} of Southshire is audited with its area: {entries:?}"
            );
        }
    }
    world.stop().await;
}

#[tokio::test]
async fn a_lead_asks_for_information_and_the_addressee_answers_through_the_share_form_and_declines_another()
 {
    let world = world(
        "requests",
        json!({
            "sw.north": {"agency": "csc", "roles": ["social_worker"]},
            "hp.jones": {"agency": "health", "roles": ["health_practitioner"]},
        }),
    )
    .await;
    let server = &world.server;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.north", &[Role::SocialWorker]);
    let child = flows::created(
        &csc.post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": "2013-03-01", "school_agency": "school-hillside",
                    "display_name": "Alex Moreno"}),
        )
        .await
        .expect("registering a child"),
    );
    let case = cases::Caseworker {
        client: &csc,
        token: &sw,
    }
    .opened(&child, cases::ago(chrono::Duration::hours(5)))
    .await;
    // health holds an incident report about the child, and the parent consents to share it with
    // children's social care for an assessment
    let health = server.client("health");
    let hp = server.token("health", "hp.jones", &[Role::HealthPractitioner]);
    flows::consent(
        &health,
        &hp,
        &child,
        "parent",
        &["assessment"],
        &["children_social_care"],
    )
    .await;
    flows::deposit(
        &health,
        &hp,
        &child,
        "incident_report",
        json!({"summary": "Seen in A&E after an incident at school."}),
    )
    .await;
    // an earlier request, now overdue
    let r = csc
        .post(
            "/v1/requests",
            &sw,
            &json!({"subject_id": child, "to_agency": "health", "purpose": "safeguarding",
                    "sections": ["family_background"],
                    "due_at": cases::at(chrono::Utc::now() + chrono::Duration::days(1))}),
        )
        .await
        .expect("asking");
    let overdue = flows::created(&r);
    let past = broker::db::ts(chrono::Utc::now() - chrono::Duration::hours(2));
    world
        .exec(&format!(
            "UPDATE info_requests SET due_at = '{past}' WHERE id = '{overdue}'"
        ))
        .await;
    let before = head_seq(server).await;
    let note = "Strategy meeting on Friday: what do you know of the family?";
    let reason = "Our records of the family were transferred to another trust.";
    let result = world
        .browse(
            "requests",
            json!({
                "case_id": case, "child_name": "Alex Moreno", "sw": "sw.north", "hp": "hp.jones",
                "csc_name": "Northshire Children's Social Care",
                "health_name": "Northshire Community Health",
                "overdue_id": overdue, "note": note, "reason": reason,
                "due": typed(chrono::Utc::now() + chrono::Duration::days(3)),
            }),
        )
        .await;
    assert_eq!(result["done"], true, "{result}");
    assert_screenshots(&result, 8);

    // each accepted form one action of the API, as its person's; the refused ones wrote nothing
    let entries = world.entries_after(before).await;
    let writes: Vec<(&str, &str)> = entries
        .iter()
        .filter(|(a, _, _)| {
            matches!(
                a.as_str(),
                "request.create" | "request.answer" | "request.decline"
            )
        })
        .map(|(a, s, _)| (a.as_str(), s.as_str()))
        .collect();
    assert_eq!(
        writes,
        [
            ("request.create", "sw.north"),
            ("request.answer", "hp.jones"),
            ("request.decline", "hp.jones"),
        ],
        "{entries:?}"
    );
    let r = csc
        .get("/v1/requests?direction=from", &sw)
        .await
        .expect("the API's list");
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json();
    let all = listed["requests"].as_array().expect("a list");
    let asked = all
        .iter()
        .find(|r| r["id"] != overdue.as_str())
        .expect("the new request");
    assert_eq!(asked["status"], "answered", "{asked}");
    assert_eq!(asked["note"], note);
    assert_eq!(asked["sections"], json!(["summary", "health_clinical"]));
    let declined = all
        .iter()
        .find(|r| r["id"] == overdue.as_str())
        .expect("the overdue one");
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["reason"], reason);
    world.stop().await;
}

#[tokio::test]
async fn a_case_is_screened_its_route_decided_by_a_team_manager_and_a_clock_released_through_the_forms()
 {
    let world = world(
        "case-route",
        json!({"sw.route": {"agency": "csc", "roles": ["social_worker"]},
               "tm.route": {"agency": "csc", "roles": ["team_manager"]}}),
    )
    .await;
    let server = &world.server;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.route", &[Role::SocialWorker]);
    let r = csc
        .post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": "2014-06-01", "school_agency": "school-hillside",
                    "display_name": "Sam Okoro", "local_authority": "north"}),
        )
        .await
        .expect("registering a child");
    let child = flows::created(&r);
    let referral = cases::ago(chrono::Duration::days(20));
    let r = csc
        .post(
            "/v1/cases",
            &sw,
            &json!({"subject_id": child, "subject_role": "harmful_behaviour",
                    "referral_received_at": cases::at(referral)}),
        )
        .await
        .expect("opening the case");
    assert_eq!(r.status, 201, "{}", r.text());
    let case = r.json()["id"].as_str().expect("a case id").to_owned();
    let before = head_seq(server).await;
    let result = world
        .browse(
            "case-route",
            json!({"sw": "sw.route", "tm": "tm.route", "case_id": case,
                   "when": typed(referral + chrono::Duration::days(1))}),
        )
        .await;
    assert_screenshots(&result, 4);
    // three steps written, each the API's action under the person's name; the refusals none
    let entries = world.entries_after(before).await;
    let steps: Vec<(String, Value)> = entries
        .iter()
        .filter(|(a, _, _)| a == "case.event")
        .map(|(_, s, d)| (s.clone(), d.clone()))
        .collect();
    let kinds: Vec<(&str, &str)> = steps
        .iter()
        .map(|(s, d)| (s.as_str(), d["kind"].as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        kinds,
        [
            ("sw.route", "screening_completed"),
            ("tm.route", "route_decided"),
            ("tm.route", "clock_not_required")
        ]
    );
    assert_eq!(steps[1].1["below_threshold"], "red", "{:?}", steps[1]);
    let tm = server.token("csc", "tm.route", &[Role::TeamManager]);
    let got = csc
        .get(&format!("/v1/cases/{case}"), &tm)
        .await
        .expect("the case")
        .json();
    assert_eq!(
        cases::clock(&got, "strategy_meeting")["status"],
        "not_required"
    );
    assert_eq!(
        cases::clock(&got, "initial_assessment")["status"],
        "not_required"
    );
    world.stop().await;
}

// --- meetings (PROCESS.md, Meetings) ---

#[tokio::test]
async fn a_strategy_meeting_is_scheduled_and_held_by_recording_its_attendance_through_the_forms() {
    let world = world(
        "meeting",
        json!({"sw.meet": {"agency": "csc", "roles": ["social_worker"]}}),
    )
    .await;
    let server = &world.server;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.meet", &[Role::SocialWorker]);
    let child = flows::created(
        &csc.post(
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": "2013-03-01", "school_agency": "school-hillside",
                    "display_name": "Sam Okafor"}),
        )
        .await
        .expect("registering a child"),
    );
    let referral = cases::ago(chrono::Duration::hours(6));
    let case = cases::Caseworker {
        client: &csc,
        token: &sw,
    }
    .opened(&child, referral)
    .await;
    // health's written report, delivered to the case's lead worker as a concern (PROCESS.md P2)
    let nurse = server.person("health", "nurse.ali", Role::HealthPractitioner);
    let report = nurse
        .deposit_as(
            &child,
            "incident_report",
            "harmful_behaviour",
            json!({"summary": "s"}),
        )
        .await;
    let report = flows::created(&report);
    let when = referral + chrono::Duration::hours(3);
    let before = head_seq(server).await;
    let result = world
        .browse(
            "meeting",
            json!({
                "case_id": case, "login": "sw.meet", "report_id": report,
                "when": typed(when), "when_words": uk_words(when),
                "lead_name": "Northshire Children's Social Care",
                "police_name": "Northshire Police",
                "health_name": "Northshire Community Health",
            }),
        )
        .await;
    assert_eq!(result["done"], true, "{result}");
    assert_screenshots(&result, 6);

    // each accepted form one action of the API, as its person's; the refused ones wrote nothing
    let entries = world.entries_after(before).await;
    let writes: Vec<&str> = entries
        .iter()
        .filter(|(a, _, d)| {
            a.starts_with("case.") && a != "case.read" && d["case_id"] == case.as_str()
        })
        .map(|(a, _, _)| a.as_str())
        .collect();
    assert_eq!(
        writes,
        [
            "case.meeting",
            "case.meeting_attendance",
            "case.event",
            "case.meeting_attendance",
        ],
        "{entries:?}"
    );
    let r = csc
        .get(&format!("/v1/cases/{case}"), &sw)
        .await
        .expect("the API's case");
    let got = r.json();
    let meeting = &got["meetings"][0];
    assert_eq!(meeting["invitees"], json!(["health", "police"]), "{got}");
    assert_eq!(meeting["attendance"][0]["agency"], "health", "{got}");
    assert_eq!(
        meeting["attendance"][0]["written_report_record_id"],
        report.as_str()
    );
    assert_eq!(meeting["attendance"][1]["agency"], "police", "{got}");
    world.stop().await;
}

/// An instant as the console writes it in UK time: "6 December 2026 at 4:19pm".
fn uk_words(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike;
    let local = at.with_timezone(&chrono_tz::Europe::London);
    let clock = match (local.hour(), local.minute()) {
        (12, 0) => "midday".to_owned(),
        (0, 0) => "midnight".to_owned(),
        _ => local.format("%-I:%M%P").to_string(),
    };
    format!("{} at {clock}", local.format("%-d %B %Y"))
}
