//! `broker loadgen`: drives a broker over real mTLS with N keep-alive connections for a fixed
//! duration or request count and prints one JSON summary line. It seeds its own data through
//! the API. Loopback only; bounded in time and count.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use crate::client::Client;
use crate::config::Config;
use crate::devinit::{DevWorld, dev_token};
use crate::vocab::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// full path: auth, facts, decision, age encryption, audit entry, commit (permits and denials)
    Disclose,
    /// dry run decisions
    Decide,
    /// packet fetch
    Inbox,
    /// the cheapest authenticated endpoint: the transport + authentication limit
    Ceiling,
    /// single-row durable commits, one after another, straight to the configured database
    /// (a probe table or file beside the broker's): the durable commit limit
    Commit,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub scenario: Scenario,
    pub connections: usize,
    /// Requests the broker answered (any status); latencies and `throughput_rps` count these.
    pub requests: u64,
    /// Answered requests with another status than the scenario expects.
    pub errors: u64,
    /// Requests never answered: connection refused or reset, TLS or transport failure.
    pub transport_errors: u64,
    pub throughput_rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    /// The broker's CPU time (user + system) per answered request over the timed run, in µs
    /// (with `--server-pid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us: Option<f64>,
    /// Of which user time, in µs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_user_us: Option<f64>,
}

pub struct Options {
    pub scenario: Scenario,
    pub connections: usize,
    pub duration: Duration,
    pub max_requests: u64,
    pub children: usize,
    /// Records sampled from those `bench-seed` stored, disclosed beside the seeded ones.
    pub stored: usize,
    /// The broker's process, whose CPU time the summary reports per request.
    pub server_pid: Option<u32>,
}

/// What the workers use: records to disclose (and packets to read) for many children.
struct Seed {
    records: Vec<String>,
    packets: Vec<String>,
}

fn client(addr: SocketAddr, world: &DevWorld, agency: &str) -> anyhow::Result<Client> {
    Client::from_files(
        addr,
        &world.ca(),
        &world.client_cert(agency),
        &world.client_key(agency),
    )
}

async fn seed(
    addr: SocketAddr,
    world: &DevWorld,
    config: &Config,
    children: usize,
    packets: bool,
) -> anyhow::Result<Seed> {
    let csc = client(addr, world, "csc")?;
    let sw = dev_token(
        config,
        "csc",
        "loadgen.sw",
        &[Role::SocialWorker],
        Duration::from_secs(3600),
    )?;
    let dob = (chrono::Utc::now() - chrono::Duration::days(365 * 13)).date_naive();
    let mut seed = Seed {
        records: Vec::new(),
        packets: Vec::new(),
    };
    for i in 0..children {
        let r = csc
            .post(
                "/v1/subjects",
                &sw,
                &json!({"date_of_birth": dob, "school_agency": "school-hillside"}),
            )
            .await?;
        if r.status != 201 {
            bail!("seeding a child: {} {}", r.status, r.text());
        }
        let child = r.json()["id"].as_str().context("child id")?.to_owned();
        let r = csc
            .post("/v1/records", &sw, &json!({"subject_id": child, "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
                "sections": {"summary": format!("plan {i}"), "risk_management": "supervision at break and lunch", "allegation_details": "withheld from schools"}}))
            .await?;
        if r.status != 201 {
            bail!("seeding a record: {} {}", r.status, r.text());
        }
        let record = r.json()["id"].as_str().context("record id")?.to_owned();
        // every other child has a parent's consent: their disclosures permit, the others deny
        if i % 2 == 0 {
            let r = csc
                .post(&format!("/v1/subjects/{child}/consents"), &sw, &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}))
                .await?;
            if r.status != 201 {
                bail!("seeding a consent: {} {}", r.status, r.text());
            }
            if packets {
                let r = csc
                    .post("/v1/disclosures", &sw, &disclosure(&record))
                    .await?;
                if r.status != 201 {
                    bail!("seeding a packet: {} {}", r.status, r.text());
                }
                seed.packets.push(
                    r.json()["disclosure_id"]
                        .as_str()
                        .context("disclosure id")?
                        .to_owned(),
                );
            }
        }
        seed.records.push(record);
    }
    Ok(seed)
}

fn disclosure(record: &str) -> serde_json::Value {
    json!({"record_ids": [record], "recipient_agency": "school-hillside", "recipient_role": "dsl", "purpose": "safeguarding", "basis": "consent"})
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Runs one scenario against the broker at `addr`, using the dev world beside `config_path`.
pub async fn run(addr: SocketAddr, config_path: &Path, opts: Options) -> anyhow::Result<Summary> {
    if !addr.ip().is_loopback() {
        bail!("loadgen drives loopback addresses only, not {addr}");
    }
    let config = Config::load(config_path)?;
    if opts.scenario == Scenario::Commit {
        return commit_probe(&config.database.url, &opts).await;
    }
    let dir = config_path.parent().unwrap_or(Path::new(".")).to_owned();
    let world = DevWorld {
        certs: dir.join("certs").join("dev"),
        config: config_path.to_owned(),
        dir,
    };
    let seed = match opts.scenario {
        Scenario::Ceiling | Scenario::Commit => Seed {
            records: Vec::new(),
            packets: Vec::new(),
        },
        Scenario::Inbox => seed(addr, &world, &config, opts.children.max(2), true).await?,
        _ => seed(addr, &world, &config, opts.children.max(2), false).await?,
    };
    let mut seed = seed;
    if opts.stored > 0 && matches!(opts.scenario, Scenario::Disclose | Scenario::Decide) {
        let sampled = sample_stored(&config.database.url, opts.stored).await?;
        if sampled.is_empty() {
            bail!("--stored: the database holds no records written by bench-seed");
        }
        seed.records.extend(sampled);
    }
    let seed = Arc::new(seed);
    let (agency, token) = match opts.scenario {
        Scenario::Inbox | Scenario::Ceiling | Scenario::Commit => (
            "school-hillside",
            dev_token(
                &config,
                "school-hillside",
                "loadgen.dsl",
                &[Role::Dsl],
                Duration::from_secs(3600),
            )?,
        ),
        _ => (
            "csc",
            dev_token(
                &config,
                "csc",
                "loadgen.sw",
                &[Role::SocialWorker],
                Duration::from_secs(3600),
            )?,
        ),
    };
    let token = Arc::new(token);
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let transport_errors = Arc::new(AtomicU64::new(0));
    let cpu_before = opts.server_pid.map(cpu_ticks).transpose()?;
    let start = Instant::now();
    let deadline = start + opts.duration;
    let mut workers = Vec::new();
    for w in 0..opts.connections {
        let c = client(addr, &world, agency)?;
        let (seed, token, issued, errors, transport_errors) = (
            seed.clone(),
            token.clone(),
            issued.clone(),
            errors.clone(),
            transport_errors.clone(),
        );
        let (scenario, max) = (opts.scenario, opts.max_requests);
        workers.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(4096);
            let mut i = w;
            while Instant::now() < deadline {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                if n >= max {
                    break;
                }
                i = i.wrapping_add(7919);
                let t = Instant::now();
                let result = match scenario {
                    Scenario::Disclose => {
                        c.post(
                            "/v1/disclosures",
                            &token,
                            &disclosure(&seed.records[i % seed.records.len()]),
                        )
                        .await
                    }
                    Scenario::Decide => {
                        c.post(
                            "/v1/decisions",
                            &token,
                            &disclosure(&seed.records[i % seed.records.len()]),
                        )
                        .await
                    }
                    Scenario::Inbox => {
                        c.get(
                            &format!("/v1/inbox/{}", seed.packets[i % seed.packets.len()]),
                            &token,
                        )
                        .await
                    }
                    Scenario::Ceiling | Scenario::Commit => c.get("/v1/whoami", &token).await,
                };
                let Ok(r) = &result else {
                    // not an answer: counted apart, and kept out of the latencies and the rate;
                    // a short pause so a refusing server is not spun against
                    transport_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let expected = match scenario {
                    Scenario::Disclose => r.status == 201 || r.status == 403,
                    _ => r.status == 200,
                };
                if !expected {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await?);
    }
    let elapsed = start.elapsed();
    let cpu = match (opts.server_pid, cpu_before) {
        (Some(pid), Some(before)) => Some((cpu_ticks(pid)?, before)),
        _ => None,
    };
    let mut summary = summary(
        opts.scenario,
        opts.connections,
        all,
        Errors {
            answered: errors.load(Ordering::Relaxed),
            transport: transport_errors.load(Ordering::Relaxed),
        },
        elapsed,
    );
    if let Some(((user, system), (user0, system0))) = cpu
        && summary.requests > 0
    {
        let per = |ticks: u64| {
            (ticks as f64 * 1e6 / ticks_per_second() / summary.requests as f64).round()
        };
        summary.server_cpu_us = Some(per(user + system - user0 - system0));
        summary.server_user_us = Some(per(user - user0));
    }
    Ok(summary)
}

/// A process's (user, system) CPU time so far, in clock ticks (`/proc/<pid>/stat` fields 14
/// and 15).
fn cpu_ticks(pid: u32) -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("--server-pid {pid}: reading /proc/{pid}/stat"))?;
    // the command name (field 2) is in parentheses and may hold spaces: count after it
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("/proc/<pid>/stat has no command name")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (the state): fields 14 and 15 are at 11 and 12
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .context("/proc/<pid>/stat is shorter than expected")
    };
    Ok((field(11)?, field(12)?))
}

/// Clock ticks per second (`getconf CLK_TCK`: 100 on Linux).
fn ticks_per_second() -> f64 {
    100.0
}

/// Record ids sampled at random from those `bench-seed` wrote (its children have no consent,
/// so their disclosures are refused after the full fact lookup).
async fn sample_stored(url: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let db = crate::db::Db::connect(url, 1).await?;
    let ids = crate::with_db!(&db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT id FROM records WHERE deposited_by = $1 ORDER BY random() LIMIT $2",
        )
        .bind(crate::benchseed::SEEDER)
        .bind(n as i64)
        .fetch_all(pool)
        .await?
    });
    db.close().await;
    Ok(ids)
}

/// Requests answered with an unexpected status, and requests never answered.
#[derive(Debug, Clone, Copy, Default)]
struct Errors {
    answered: u64,
    transport: u64,
}

/// `latencies` holds answered requests only.
fn summary(
    scenario: Scenario,
    connections: usize,
    mut latencies: Vec<u32>,
    errors: Errors,
    elapsed: Duration,
) -> Summary {
    latencies.sort_unstable();
    Summary {
        scenario,
        connections,
        requests: latencies.len() as u64,
        errors: errors.answered,
        transport_errors: errors.transport,
        throughput_rps: (latencies.len() as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        server_cpu_us: None,
        server_user_us: None,
    }
}

/// The durable single-row commit rate of the broker's database, measured the way the broker
/// commits: SQLite in WAL mode with `synchronous=FULL` (a probe file beside the broker's, on
/// the same file system), PostgreSQL with its defaults (`synchronous_commit=on`, a probe
/// table dropped afterwards). One connection, one row per transaction.
async fn commit_probe(url: &str, opts: &Options) -> anyhow::Result<Summary> {
    use sqlx::Connection;
    let deadline = Instant::now() + opts.duration;
    let mut latencies = Vec::with_capacity(65536);
    let start = Instant::now();
    macro_rules! drive {
        ($conn:expr, $insert:expr) => {
            while Instant::now() < deadline && (latencies.len() as u64) < opts.max_requests {
                let t = Instant::now();
                sqlx::query($insert)
                    .bind(crate::db::ts(crate::db::now()))
                    .execute(&mut $conn)
                    .await?;
                latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
        };
    }
    if url.starts_with("sqlite:") {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        let broker = SqliteConnectOptions::from_str(url)?;
        let probe = Path::new(broker.get_filename()).with_file_name("commit-probe.db");
        if let Some(dir) = probe.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&probe)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at TEXT NOT NULL)")
            .execute(&mut conn)
            .await?;
        drive!(conn, "INSERT INTO probe (at) VALUES ($1)");
        conn.close().await?;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", probe.display()));
        }
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("CREATE TABLE IF NOT EXISTS broker_commit_probe (id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL)")
            .execute(&mut conn)
            .await?;
        drive!(conn, "INSERT INTO broker_commit_probe (at) VALUES ($1)");
        sqlx::query("DROP TABLE broker_commit_probe")
            .execute(&mut conn)
            .await?;
    }
    Ok(summary(
        Scenario::Commit,
        1,
        latencies,
        Errors::default(),
        start.elapsed(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_counts_answered_requests_and_transport_errors_are_apart() {
        let s = summary(
            Scenario::Ceiling,
            2,
            vec![1000; 50],
            Errors {
                answered: 5,
                transport: 1000,
            },
            Duration::from_secs(10),
        );
        assert_eq!(s.requests, 50);
        assert_eq!(s.errors, 5);
        assert_eq!(s.transport_errors, 1000);
        assert_eq!(s.throughput_rps, 5.0);
        let json = serde_json::to_value(&s).unwrap();
        for field in [
            "requests",
            "errors",
            "transport_errors",
            "throughput_rps",
            "p99_ms",
        ] {
            assert!(json.get(field).is_some(), "{field} in {json}");
        }
    }
}
