//! Faults under load: the database failing mid-load (SQLite: the disk fills; PostgreSQL: the
//! broker's connections are terminated, then refused), the database stalling (PostgreSQL: a
//! network partition, then its port refusing connections; SQLite: another process holding the
//! write lock), and the broker killed with SIGKILL.
//! Whatever happens, the broker answers a disclosure only 201 (and then it is stored, packet
//! and audit entry, with an `audit_seq` given to no other acknowledged action) or 503; the
//! chain verifies; and service resumes without a restart once the fault is gone.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use broker::client::Client;
use broker::config::Config;
use broker::db::Db;
use broker::devinit::{DevWorld, dev_init, dev_token};
use broker::vocab::Role;
use hyper::Method;
use serde_json::{Value, json};
use sqlx::Row;

// ---- the load --------------------------------------------------------------------------------

/// One disclosure's answer.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    disclosure_id: Option<String>,
    audit_seq: Option<i64>,
    code: Option<String>,
    /// From the request to its answer.
    took: Duration,
}

/// What the clients were told, by status.
#[derive(Debug, Default)]
struct Tally {
    answers: Vec<Answer>,
    /// Requests that got no HTTP answer at all (connection refused or cut).
    unanswered: usize,
}

impl Tally {
    fn count(&self, status: u16) -> usize {
        self.answers.iter().filter(|a| a.status == status).count()
    }

    fn acknowledged(&self) -> impl Iterator<Item = &Answer> {
        self.answers.iter().filter(|a| a.status == 201)
    }

    /// Under a fault: every answer a 201 or a 503, some 503, and none slower than `limit`.
    fn assert_refused_within(&self, phase: &str, limit: Duration) {
        self.assert_only_201_or_503(phase);
        assert!(
            self.count(503) > 0,
            "{phase}: no disclosure was answered 503: {:?}",
            self.statuses()
        );
        let slowest = self.slowest();
        assert!(
            slowest <= limit,
            "{phase}: a disclosure took {slowest:?} (at most {limit:?})"
        );
    }

    /// The longest any request of the load waited for its answer.
    fn slowest(&self) -> Duration {
        self.answers
            .iter()
            .map(|a| a.took)
            .max()
            .unwrap_or_default()
    }

    fn statuses(&self) -> BTreeMap<u16, usize> {
        let mut by = BTreeMap::new();
        for a in &self.answers {
            *by.entry(a.status).or_default() += 1;
        }
        by
    }

    fn merge(&mut self, other: Tally) {
        self.answers.extend(other.answers);
        self.unanswered += other.unanswered;
    }

    /// Only 201 and 503 (with its `code`) are acceptable answers to a well-formed disclosure.
    fn assert_only_201_or_503(&self, phase: &str) {
        for a in &self.answers {
            assert!(
                a.status == 201 || a.status == 503,
                "{phase}: a disclosure was answered {} ({:?}); only 201 or 503 may be",
                a.status,
                a.code
            );
            if a.status == 503 {
                assert!(a.code.is_some(), "{phase}: a 503 without a problem code");
            }
        }
    }
}

fn disclosure_body(record: &str) -> Value {
    json!({"record_ids": [record], "recipient_agency": "school-hillside", "recipient_role": "dsl",
        "purpose": "safeguarding", "basis": "consent"})
}

async fn disclose(client: &Client, token: &str, record: &str) -> Option<Answer> {
    let started = Instant::now();
    let r = client
        .post("/v1/disclosures", token, &disclosure_body(record))
        .await
        .ok()?;
    let body = r.json();
    Some(Answer {
        status: r.status.as_u16(),
        disclosure_id: body["disclosure_id"].as_str().map(str::to_owned),
        audit_seq: body["audit_seq"].as_i64(),
        code: body["code"].as_str().map(str::to_owned),
        took: started.elapsed(),
    })
}

/// `clients` tasks disclose `record` one after another until `stop` is set.
async fn load(clients: Vec<Client>, token: String, record: String, stop: Arc<AtomicBool>) -> Tally {
    let mut tasks = Vec::new();
    for client in clients {
        let (token, record, stop) = (token.clone(), record.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            while !stop.load(Ordering::Relaxed) {
                match disclose(&client, &token, &record).await {
                    Some(answer) => tally.answers.push(answer),
                    None => {
                        tally.unanswered += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            tally
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await.expect("a load task"));
    }
    tally
}

/// Runs the load for `duration`.
async fn load_for(clients: Vec<Client>, token: &str, record: &str, duration: Duration) -> Tally {
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(load(
        clients,
        token.to_owned(),
        record.to_owned(),
        stop.clone(),
    ));
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    running.await.expect("the load")
}

// ---- the world -------------------------------------------------------------------------------

fn social_worker(config: &Config) -> String {
    dev_token(
        config,
        "csc",
        "sw.amara",
        &[Role::SocialWorker],
        Duration::from_secs(600),
    )
    .expect("a dev token")
}

/// A child at Hillside with a risk plan and a parent's consent to share it with schools:
/// every disclosure of the plan to the DSL is a permit. Returns the record id.
async fn seed(csc: &Client, sw: &str) -> String {
    common::hillside_pupil(csc, sw).await.record
}

// ---- what is stored ----------------------------------------------------------------------------

/// Checks every acknowledged disclosure against the database: its packet is stored, its
/// audit entry is stored at the `audit_seq` it was given and names it, no `audit_seq` was
/// given to two acknowledged actions, and the chain verifies. Returns the entries stored.
async fn assert_every_acknowledgement_stored(url: &str, tally: &Tally, phase: &str) -> i64 {
    let db = Db::connect(url, 2)
        .await
        .expect("connecting to the database");
    let mut seqs = BTreeSet::new();
    for a in tally.acknowledged() {
        let id = a
            .disclosure_id
            .as_deref()
            .unwrap_or_else(|| panic!("{phase}: a 201 without a disclosure_id"));
        let seq = a
            .audit_seq
            .unwrap_or_else(|| panic!("{phase}: a 201 without an audit_seq"));
        assert!(
            seqs.insert(seq),
            "{phase}: audit_seq {seq} was given to two acknowledged disclosures"
        );
        let (packets, entry): (i64, Option<String>) = broker::with_db!(&db, pool => {
            let packets = sqlx::query("SELECT COUNT(*) AS n FROM packets WHERE disclosure_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .expect("reading packets")
                .get::<i64, _>("n");
            let entry = sqlx::query("SELECT detail FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(pool)
                .await
                .expect("reading audit_log")
                .map(|r| r.get::<String, _>("detail"));
            (packets, entry)
        });
        assert_eq!(
            packets,
            1,
            "{phase}: disclosure {id} was acknowledged (201, audit_seq {seq}) but its packet is \
             not stored (its audit entry {}; acknowledged seqs {:?})",
            if entry.is_some() {
                "is stored"
            } else {
                "is not stored either"
            },
            tally
                .acknowledged()
                .map(|a| a.audit_seq)
                .collect::<Vec<_>>()
        );
        let detail: Value = serde_json::from_str(
            &entry.unwrap_or_else(|| {
                panic!("{phase}: disclosure {id} was acknowledged with audit_seq {seq}, which is not stored")
            }),
        )
        .expect("a JSON detail");
        assert_eq!(
            detail["disclosure_id"], id,
            "{phase}: audit entry {seq} is not the acknowledged disclosure {id}"
        );
    }
    let verified = broker::audit::verify(&db)
        .await
        .expect("verifying the chain");
    db.close().await;
    let report = serde_json::to_value(&verified).expect("a verification report");
    assert_eq!(
        report["ok"], true,
        "{phase}: the chain does not verify: {report}"
    );
    report["entries"].as_i64().expect("a count of entries")
}

// ---- SQLite: the disk fills ----------------------------------------------------------------------

/// A tmpfs of `size` mounted on `dir`, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("a mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "the disk-full test mounts a small tmpfs for the SQLite database and needs root \
             (CI runs as root): mount said {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }

    /// Fills the file system with `filler`, leaving no byte free.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).expect("a filler file");
        let chunk = vec![0u8; 4096];
        loop {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Once the fault is gone: a disclosure succeeds within 20 s without a restart, then every
/// disclosure of a short load succeeds and `/readyz` says ready. Returns the first success,
/// how long it took, and the load.
async fn resumes(
    csc: &Client,
    clients: Vec<Client>,
    sw: &str,
    record: &str,
    when: &str,
) -> (Answer, Duration, Tally) {
    let since = Instant::now();
    let resumed = loop {
        if let Some(a) = disclose(csc, sw, record).await
            && a.status == 201
        {
            break a;
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "no disclosure succeeded within 20 s after {when}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = since.elapsed();
    let after = load_for(clients, sw, record, Duration::from_millis(800)).await;
    assert_eq!(
        after.statuses().keys().copied().collect::<Vec<_>>(),
        vec![201],
        "after {when} every disclosure must succeed: {:?}",
        after.statuses()
    );
    let (status, body) = readyz(csc).await;
    assert_eq!(status, 200, "/readyz after {when}: {body}");
    (resumed, took, after)
}

async fn readyz(client: &Client) -> (u16, Value) {
    let r = client
        .send(Method::GET, "/readyz", None, None)
        .await
        .expect("/readyz answers");
    (r.status.as_u16(), r.json())
}

async fn sqlite_disk_fills_mid_load() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mnt = Tmpfs::mount(&dir.path().join("db"), "16m");
    let url = format!("sqlite://{}/broker.db", mnt.0.display());
    let world = dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
    let server = common::TestServer::start_in(dir, world).await;
    let sw = social_worker(&server.config);
    let csc = server.client("csc");
    let record = seed(&csc, &sw).await;
    let clients = || (0..8).map(|_| server.client("csc")).collect::<Vec<_>>();

    let before = load_for(clients(), &sw, &record, Duration::from_millis(500)).await;
    before.assert_only_201_or_503("before the disk fills");
    assert!(
        before.count(201) > 0,
        "no disclosure succeeded before the fault"
    );

    let filler = mnt.fill();
    let full = load_for(clients(), &sw, &record, Duration::from_secs(3)).await;
    full.assert_only_201_or_503("while the disk is full");
    assert!(
        full.count(503) > 0,
        "the disk filled but no disclosure was refused: the fault was not reached ({:?})",
        full.statuses()
    );
    // once a write has failed and the disk is still full, the broker is not ready for writes
    for _ in 0..5 {
        if disclose(&csc, &sw, &record).await.map(|a| a.status) == Some(503) {
            break;
        }
    }
    let (status, body) = readyz(&csc).await;
    assert_eq!(status, 503, "/readyz while the disk is full: {body}");
    assert_eq!(body["failing"], "write", "{body}");
    // reads that write nothing still work
    let school = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let inbox = school.get("/v1/inbox", &dsl).await.expect("the inbox");
    assert_eq!(
        inbox.status,
        200,
        "reading the inbox while the disk is full: {}",
        inbox.text()
    );

    std::fs::remove_file(&filler).expect("freeing the disk");
    let (resumed, took, after) = resumes(&csc, clients(), &sw, &record, "the disk was freed").await;

    let failed_batches = server.state.writer.stats().failed_batches();
    let mut all = Tally::default();
    all.merge(before);
    all.merge(full);
    all.merge(after);
    all.answers.push(resumed);
    let url = server.config.database.url.clone();
    let entries = assert_every_acknowledgement_stored(&url, &all, "disk full").await;
    println!(
        "disk full (SQLite, 16 MiB tmpfs, 8 clients): {} answered {:?}, {} unanswered; \
         {} failed batches; resumed {:?} after the disk was freed; every one of {} \
         acknowledgements stored; chain of {entries} entries verified",
        all.answers.len(),
        all.statuses(),
        all.unanswered,
        failed_batches,
        took,
        all.count(201),
    );
    // the server's temp dir holds the mount point: stop it (removing the files) before unmounting
    server.stop().await;
    drop(mnt);
}

// ---- PostgreSQL: connections terminated, then refused ------------------------------------------

async fn admin(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    let admin_url = std::env::var("BROKER_TEST_DATABASE_URL").unwrap_or_else(|_| url.to_owned());
    sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("an admin connection to PostgreSQL")
}

async fn terminate_backends(admin: &mut sqlx::PgConnection, database: &str) -> u64 {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(database)
    .execute(&mut *admin)
    .await
    .expect("terminating the broker's connections")
    .rows_affected()
}

async fn allow_connections(admin: &mut sqlx::PgConnection, database: &str, allow: bool) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {database} ALLOW_CONNECTIONS {allow}"
    )))
    .execute(&mut *admin)
    .await
    .expect("changing ALLOW_CONNECTIONS");
}

async fn postgres_connections_fail_mid_load() {
    let server = common::TestServer::start().await;
    let url = server.config.database.url.clone();
    let database = url.rsplit_once('/').expect("a database name").1.to_owned();
    let sw = social_worker(&server.config);
    let csc = server.client("csc");
    let record = seed(&csc, &sw).await;
    let clients = || (0..8).map(|_| server.client("csc")).collect::<Vec<_>>();
    let mut admin = admin(&url).await;

    // every 150 ms for 3 s, the broker's connections are terminated under load
    let stop = Arc::new(AtomicBool::new(false));
    let running = tokio::spawn(load(clients(), sw.clone(), record.clone(), stop.clone()));
    let mut terminated = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        terminated += terminate_backends(&mut admin, &database).await;
    }
    stop.store(true, Ordering::Relaxed);
    let killed = running.await.expect("the load");
    killed.assert_only_201_or_503("while connections are terminated");
    assert!(terminated > 0, "no connection of the broker was terminated");

    // then for 2 s no connection is accepted at all
    allow_connections(&mut admin, &database, false).await;
    terminate_backends(&mut admin, &database).await;
    let refused = load_for(clients(), &sw, &record, Duration::from_secs(2)).await;
    // each refusal within seconds: not after the pool's whole wait for a connection
    refused.assert_refused_within("while connections are refused", STALLED_ANSWER);
    let (status, body) = readyz(&csc).await;
    assert_eq!(status, 503, "/readyz while connections are refused: {body}");
    // reads are 503 too, never 500
    let school = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let inbox = school
        .get("/v1/inbox", &dsl)
        .await
        .expect("the inbox answers");
    assert_eq!(
        inbox.status,
        503,
        "reading while connections are refused: {}",
        inbox.text()
    );
    allow_connections(&mut admin, &database, true).await;
    let (resumed, took, after) = resumes(
        &csc,
        clients(),
        &sw,
        &record,
        "connections were accepted again",
    )
    .await;

    let mut all = Tally::default();
    all.merge(killed);
    all.merge(refused);
    all.merge(after);
    all.answers.push(resumed);
    let db_url = url.clone();
    let statuses = all.statuses();
    let entries = assert_every_acknowledgement_stored(&db_url, &all, "postgres faults").await;
    println!(
        "postgres faults (8 clients; {terminated} connections terminated over 3 s, then 2 s \
         refused): {} answered {statuses:?}, {} unanswered; resumed {took:?} after; every one of \
         {} acknowledgements stored; chain of {entries} entries verified",
        all.answers.len(),
        all.unanswered,
        all.count(201),
    );
    server.stop().await;
}

/// The configured database fails under load, in the way each fails in the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_database_failing_mid_load_acknowledges_only_what_is_stored_and_recovers_without_a_restart()
 {
    match std::env::var("BROKER_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => postgres_connections_fail_mid_load().await,
        _ => sqlite_disk_fills_mid_load().await,
    }
}

// ---- a stalled database: a partition, refused connections, another process's lock -------------

/// The longest a request may wait for its answer while the database stalls.
const STALLED_ANSWER: Duration = Duration::from_secs(5);
/// The longest `/readyz` may take to say so.
const STALLED_READYZ: Duration = Duration::from_secs(3);

/// Who acts while the database stalls.
struct Actors<'a> {
    server: &'a common::TestServer,
    csc: Client,
    sw: String,
    school: Client,
    dsl: String,
    record: String,
}

impl<'a> Actors<'a> {
    async fn seed(server: &'a common::TestServer) -> Actors<'a> {
        let sw = social_worker(&server.config);
        let csc = server.client("csc");
        let record = seed(&csc, &sw).await;
        Actors {
            server,
            csc,
            sw,
            school: server.client("school-hillside"),
            dsl: server.token("school-hillside", "dsl.jones", &[Role::Dsl]),
            record,
        }
    }

    fn clients(&self) -> Vec<Client> {
        (0..8).map(|_| self.server.client("csc")).collect()
    }

    /// While the database stalls (`fault`): a disclosure is answered 503 within 5 s, then an
    /// inbox read `read_status` (503, or 200 where reads do not stall) within 5 s and `/readyz`
    /// 503 within 3 s; then under a load of 8 clients every disclosure is answered 201 or 503,
    /// each within 5 s. Returns the load's answers with the first disclosure's.
    async fn stalled(&self, fault: &str, read_status: u16) -> Tally {
        let write = disclose(&self.csc, &self.sw, &self.record)
            .await
            .unwrap_or_else(|| panic!("{fault}: a disclosure got no HTTP answer"));
        assert_eq!(write.status, 503, "{fault}: a disclosure: {write:?}");
        assert!(write.code.is_some(), "{fault}: a 503 without a code");
        assert!(
            write.took <= STALLED_ANSWER,
            "{fault}: a disclosure took {:?} to be refused (at most {STALLED_ANSWER:?})",
            write.took
        );

        let started = Instant::now();
        let inbox = self
            .school
            .get("/v1/inbox", &self.dsl)
            .await
            .expect("the inbox answers");
        let read_took = started.elapsed();
        assert_eq!(
            inbox.status,
            read_status,
            "{fault}: reading the inbox: {}",
            inbox.text()
        );
        if read_status == 503 {
            assert_eq!(inbox.json()["code"], "unavailable", "{}", inbox.text());
        }
        assert!(
            read_took <= STALLED_ANSWER,
            "{fault}: reading the inbox took {read_took:?} (at most {STALLED_ANSWER:?})"
        );

        let started = Instant::now();
        let (status, body) = readyz(&self.csc).await;
        let ready_took = started.elapsed();
        assert_eq!(status, 503, "{fault}: /readyz: {body}");
        assert!(
            ready_took <= STALLED_READYZ,
            "{fault}: /readyz took {ready_took:?} (at most {STALLED_READYZ:?}): {body}"
        );

        let load = load_for(
            self.clients(),
            &self.sw,
            &self.record,
            Duration::from_secs(3),
        )
        .await;
        load.assert_refused_within(fault, STALLED_ANSWER);
        let slowest = load.slowest();
        println!(
            "{fault}: a disclosure refused in {:?}, the inbox answered {read_status} in \
             {read_took:?}, /readyz 503 in {ready_took:?} ({body}); a load of 8 clients got \
             {:?}, the slowest answer in {slowest:?}",
            write.took,
            load.statuses()
        );
        let mut tally = load;
        tally.answers.push(write);
        tally
    }
}

async fn postgres_partitioned_then_refusing() {
    let admin = std::env::var("BROKER_TEST_DATABASE_URL")
        .expect("the PostgreSQL half of the fault suite needs BROKER_TEST_DATABASE_URL");
    let url = common::fresh_postgres_database(&admin).await;
    let (proxy, through) = common::partition::Proxy::in_front_of(&url).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let world = dev_init(dir.path(), false, "127.0.0.1:0", &through).expect("dev-init");
    let server = common::TestServer::start_in(dir, world).await;
    let actors = Actors::seed(&server).await;
    let mut all = load_for(
        actors.clients(),
        &actors.sw,
        &actors.record,
        Duration::from_millis(500),
    )
    .await;
    all.assert_only_201_or_503("before the partition");
    assert!(
        all.count(201) > 0,
        "no disclosure succeeded before the fault"
    );

    let mut served_again = Vec::new();
    for (fault, cleared) in [
        ("a partition", "the partition healed"),
        ("connections refused", "connections were accepted again"),
    ] {
        if fault == "a partition" {
            proxy.partition();
        } else {
            proxy.refuse();
        }
        all.merge(actors.stalled(fault, 503).await);
        proxy.heal();
        let (resumed, after_heal, after) = resumes(
            &actors.csc,
            actors.clients(),
            &actors.sw,
            &actors.record,
            cleared,
        )
        .await;
        all.merge(after);
        all.answers.push(resumed);
        served_again.push(after_heal);
    }
    let (healed_after, accepted_after) = (served_again[0], served_again[1]);

    let entries = assert_every_acknowledgement_stored(&url, &all, "postgres stalls").await;
    println!(
        "postgres stalls (8 clients): {} answered {:?}, {} unanswered; served again {healed_after:?} \
         after the partition healed and {accepted_after:?} after connections were accepted; \
         every one of {} acknowledgements stored; chain of {entries} entries verified",
        all.answers.len(),
        all.statuses(),
        all.unanswered,
        all.count(201),
    );
    server.stop().await;
    drop(proxy);
}

async fn sqlite_locked_by_another_process() {
    use sqlx::Connection;
    let server = common::TestServer::start().await;
    let url = server.config.database.url.clone();
    let actors = Actors::seed(&server).await;
    let mut all = load_for(
        actors.clients(),
        &actors.sw,
        &actors.record,
        Duration::from_millis(500),
    )
    .await;
    assert!(
        all.count(201) > 0,
        "no disclosure succeeded before the fault"
    );

    // another process's connection takes the write lock and keeps it
    let mut other = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("a second connection to the SQLite file");
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .expect("taking the write lock");
    // reads go on beside another writer (WAL): only writes, and /readyz's write, stall
    all.merge(
        actors
            .stalled("another process holds the write lock", 200)
            .await,
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut other)
        .await
        .expect("releasing the write lock");
    other.close().await.expect("closing the second connection");
    let (resumed, took, after) = resumes(
        &actors.csc,
        actors.clients(),
        &actors.sw,
        &actors.record,
        "the lock was released",
    )
    .await;
    all.merge(after);
    all.answers.push(resumed);
    let entries = assert_every_acknowledgement_stored(&url, &all, "sqlite locked").await;
    println!(
        "sqlite locked by another process (8 clients): {} answered {:?}; served again {took:?} \
         after the lock was released; every one of {} acknowledgements stored; chain of \
         {entries} entries verified",
        all.answers.len(),
        all.statuses(),
        all.count(201),
    );
    server.stop().await;
}

/// The configured database stalls, in the way each stalls in the field: requests and
/// `/readyz` are answered 503 within seconds, and the broker serves again once it clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_database_is_answered_503_within_seconds_and_served_again_once_it_clears() {
    match std::env::var("BROKER_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => postgres_partitioned_then_refusing().await,
        _ => sqlite_locked_by_another_process().await,
    }
}

// ---- kill -9 under load ----------------------------------------------------------------------------

/// A `broker serve` process, killed when dropped.
struct Process {
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(world: &DevWorld, addr: SocketAddr, n: usize) -> Process {
        let log = world.dir.join(format!("serve-{n}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_broker"))
            .args(["serve", "--config"])
            .arg(&world.config)
            .env_remove("BROKER_DATABASE_URL")
            .env("BROKER_SERVER_LISTEN", addr.to_string())
            .stdout(Stdio::from(file.try_clone().expect("a log file")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("starting broker serve");
        Process { child, log }
    }

    async fn wait_ready(&mut self, client: &Client) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the process") {
                panic!(
                    "broker serve exited {status}:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = client.send(Method::GET, "/readyz", None, None).await
                && r.status == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "broker serve was not ready within 60 s:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill_9(&mut self) {
        // std's kill is SIGKILL on Unix: no shutdown, no flush, no drain
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaping the process");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_killed_under_load_has_stored_every_disclosure_it_acknowledged() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = common::test_database_url(dir.path()).await;
    let world = dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
    let config = Config::load(&world.config).expect("the dev config loads");
    let sw = social_worker(&config);
    let addr = free_addr();
    let mut process = Process::start(&world, addr, 0);
    process
        .wait_ready(&common::world_client(&world, addr, "csc"))
        .await;
    let record = seed(&common::world_client(&world, addr, "csc"), &sw).await;

    let mut all = Tally::default();
    let mut recoveries = Vec::new();
    for round in 0..3 {
        let clients = (0..8)
            .map(|_| common::world_client(&world, addr, "csc"))
            .collect::<Vec<_>>();
        let stop = Arc::new(AtomicBool::new(false));
        let running = tokio::spawn(load(clients, sw.clone(), record.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(700)).await;
        process.kill_9();
        stop.store(true, Ordering::Relaxed);
        let tally = running.await.expect("the load");
        tally.assert_only_201_or_503(&format!("before kill {round}"));
        assert!(
            tally.count(201) > 0,
            "round {round}: nothing was acknowledged before the kill"
        );
        all.merge(tally);
        let restarted = Instant::now();
        process = Process::start(&world, addr, round + 1);
        process
            .wait_ready(&common::world_client(&world, addr, "csc"))
            .await;
        recoveries.push(restarted.elapsed());
    }
    drop(process);
    let entries = assert_every_acknowledgement_stored(&url, &all, "kill -9").await;
    println!(
        "kill -9 under load ({}, 8 clients, 3 kills): {} answered {:?}, {} cut off; ready again \
         after {recoveries:?}; every one of {} acknowledgements stored; chain of {entries} \
         entries verified",
        if url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        all.answers.len(),
        all.statuses(),
        all.unanswered,
        all.count(201),
    );
    common::drop_postgres_database(&url).await;
}
