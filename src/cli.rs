//! The `broker` command line (API.md, Command line).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::decision::policy::Files;
use crate::decision::{Policy, scenario};
use crate::vocab::Role;

#[derive(Debug, Parser)]
#[command(
    name = "broker",
    version,
    about = "Multi-agency information-sharing gateway for child safeguarding"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway
    Serve {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Apply the database migrations
    Migrate {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Write a ready local world: CA, certificates, keys and a broker.toml
    DevInit {
        /// Where to write broker.toml and certs/dev/
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Replace an existing dev world
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        #[arg(long, default_value = "sqlite://data/broker.db")]
        database_url: String,
    },
    /// Print a JWT for a person of a dev agency
    DevToken {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        sub: String,
        /// A role; repeat for several
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long, default_value = "1h")]
        ttl: String,
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Play a full multi-agency case end to end over mTLS against SQLite, in a temp directory
    Demo,
    /// Drive a running broker over mTLS and print one JSON summary line (loopback only)
    Loadgen {
        /// The broker's address (loopback)
        #[arg(long, default_value = "127.0.0.1:8443")]
        addr: std::net::SocketAddr,
        /// The dev world's broker.toml (its certs/dev/ holds the client certificates and keys)
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "disclose")]
        scenario: crate::loadgen::Scenario,
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// How long to drive, e.g. 10s (at most 10m)
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Stop after this many requests
        #[arg(long, default_value_t = 1_000_000)]
        requests: u64,
        /// Children (each with a record) to seed through the API first
        #[arg(long, default_value_t = 200)]
        children: usize,
        /// Also disclose this many records sampled at random from those `bench-seed` stored
        /// (read straight from the configured database), so lookups range over all of them
        #[arg(long, default_value_t = 0)]
        stored: usize,
        /// The broker's process id: also report the CPU it used per answered request over the
        /// timed run (user and system, from /proc/<pid>/stat; Linux)
        #[arg(long)]
        server_pid: Option<u32>,
    },
    /// Write synthetic children, records and chained audit entries straight to the database,
    /// for measurements at scale (refuses a database holding anything it did not write)
    BenchSeed {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// Children to write, each with one record
        #[arg(long)]
        records: u64,
        /// Audit entries to chain onto the head (default: as many as records)
        #[arg(long)]
        audit_entries: Option<u64>,
        /// Required: says you mean to write synthetic data into the configured database
        #[arg(long = "i-understand-this-writes-synthetic-data")]
        confirmed: bool,
    },
    /// Audit log tools
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Evaluate a scenario file with the decision code the server uses
    Decide {
        #[arg(long)]
        scenarios: PathBuf,
        /// The policy directory (default: ./policies if present, else the embedded policy)
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Policy tools
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Key tools
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy the database to FILE while brokers run: SQLite by VACUUM INTO, PostgreSQL by
    /// pg_dump --format=custom. Keys are not in it: back up the key files with the configuration
    Backup {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// The backup file to write (must not exist)
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup in place of the configured database, then check its audit chain and that
    /// it extends its newest checkpoint; non-zero exit if the check fails (a SQLite backup
    /// that fails is not put in place)
    Restore {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// The backup file (`broker backup --to`)
        #[arg(long)]
        from: PathBuf,
        /// Replace a database that is already there (stop every broker using it first)
        #[arg(long)]
        force: bool,
        /// The verifier key file of the log's checkpoints; default: the key of --config
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new at-rest key, re-encrypt every stored ciphertext to it in batches, then retire
    /// the old key to a file of its own. Brokers keep reading throughout; a run stopped
    /// part-way resumes when run again
    RotateAtRest {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// Rows read and committed together
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Seconds to wait after adding the new key, for running brokers to take it up
        /// (they re-read the key file every 2 s)
        #[arg(long, default_value_t = 5)]
        settle_seconds: u64,
        /// A pause after each batch, in milliseconds, to spare a busy database
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit chain straight from the database; non-zero exit if it does not hold.
    /// With --checkpoint: that the log still extends a checkpoint saved earlier, reading only
    /// the checkpoint's last entry and those after it; with --export as well: that the export
    /// (`broker audit export --jsonl`) extends it, without the database
    Verify {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// A signed checkpoint saved earlier (`GET /v1/audit/checkpoint`)
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Check this export against --checkpoint instead of the database
        #[arg(long, requires = "checkpoint")]
        export: Option<PathBuf>,
        /// The verifier key file (`GET /v1/audit/log-key`); default: the key of --config
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// A witness's check: the newer checkpoint extends the older, by the consistency proof
    /// between them (`GET /v1/audit/proof/consistency?from=OLD&to=NEW`)
    Witness {
        /// The older checkpoint, then the newer: give it twice
        #[arg(long = "checkpoint", required = true, num_args = 1)]
        checkpoints: Vec<PathBuf>,
        /// The consistency proof (JSON)
        #[arg(long)]
        proof: PathBuf,
        /// The verifier key file (`GET /v1/audit/log-key`); default: the key of --config
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
    /// Write every audit entry's canonical line, in seq order, for the offline verifier
    /// (tools/audit_verify.py)
    Export {
        /// JSON Lines: each entry exactly as the chain hashed it, one per line
        #[arg(long, required = true)]
        jsonl: bool,
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// Write to FILE (whole or not at all) instead of standard output
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the verifier key of the log's checkpoints (what agencies keep to check them)
    LogKey {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every scenario file in DIR and compare with each `expect`
    Test {
        #[arg(default_value = "policies/tests")]
        dir: PathBuf,
        /// The policy directory (default: ./policies if present, else the embedded policy)
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Bring a policy directory into force for every broker on the configured database, once
    /// it loads and its own tests (DIR/tests) pass; running servers swap to it within
    /// [policy] poll_seconds. Non-zero exit, and nothing changed, if it is refused
    Reload {
        #[arg(long, default_value = "broker.toml")]
        config: PathBuf,
        /// The policy directory (default: the configuration's [policy] dir)
        #[arg(long)]
        policy: Option<PathBuf>,
    },
}

/// The policy named on the command line, else `./policies`, else the embedded default.
async fn load_policy(dir: Option<&Path>) -> anyhow::Result<Policy> {
    let policy = match dir {
        Some(dir) => Policy::load(dir).await?,
        None if Path::new("policies").is_dir() => Policy::load("policies").await?,
        None => Policy::from_files(&Files::embedded()).await?,
    };
    Ok(policy)
}

fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(Config::load(path)?)
}

/// `broker audit export --jsonl`: to standard output, or to `out` through a file beside it
/// renamed into place once complete, so a failed export never leaves a partial file that
/// looks whole.
async fn export_jsonl(
    db: &crate::db::Db,
    out: Option<&Path>,
) -> anyhow::Result<crate::audit::Exported> {
    let Some(path) = out else {
        let mut stdout = tokio::io::BufWriter::with_capacity(1 << 20, tokio::io::stdout());
        return crate::audit::export_jsonl(db, &mut stdout).await;
    };
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = tokio::fs::File::create(&partial)
        .await
        .with_context(|| format!("cannot write {}", partial.display()))?;
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let written = async {
        let exported = crate::audit::export_jsonl(db, &mut writer).await?;
        writer.get_mut().sync_all().await?;
        tokio::fs::rename(&partial, path)
            .await
            .with_context(|| format!("cannot write {}", path.display()))?;
        anyhow::Ok(exported)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    written
}

/// The verifier key in `key` (a vkey file), else the one of the config's `[audit] log_key`.
fn verifier(key: Option<&Path>, config: &Path) -> anyhow::Result<crate::audit::Verifier> {
    match key {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            crate::audit::Verifier::parse(text.trim())
                .with_context(|| format!("{} is not a verifier key", path.display()))
        }
        None => Ok(crate::state::load_log_key(&load_config(config)?)?.verifier()),
    }
}

/// The checkpoint in the signed note at `path`, if `verifier` accepts its signature.
fn read_checkpoint(
    verifier: &crate::audit::Verifier,
    path: &Path,
) -> anyhow::Result<crate::audit::Checkpoint> {
    let note =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    verifier
        .open(&note)
        .with_context(|| format!("{} is not a checkpoint signed by this key", path.display()))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            let config = load_config(&config)?;
            crate::telemetry::init(config.log.format);
            let listen = config.server.listen;
            let state = crate::state::AppState::build(config).await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            tracing::info!(
                listen = %listener.local_addr()?,
                database = state.db.kind(),
                policy = state.policy().version(),
                agencies = state.agencies.len(),
                "broker serving"
            );
            let db = state.db.clone();
            crate::server::serve(listener, state, crate::server::shutdown_signal()).await?;
            db.close().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { config } => {
            let config = load_config(&config)?;
            let db = crate::db::Db::connect(&config.database.url, 1).await?;
            db.migrate().await?;
            let added = crate::audit::catch_up(&db).await?;
            println!("migrations applied ({})", db.kind());
            if added > 0 {
                println!("audit tree built for {added} earlier entries");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::DevInit {
            dir,
            force,
            listen,
            database_url,
        } => {
            let world = crate::devinit::dev_init(&dir, force, &listen, &database_url)?;
            println!(
                "dev world written: {} and {}/\nstart it with: broker serve --config {}",
                world.config.display(),
                world.certs.display(),
                world.config.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::DevToken {
            agency,
            sub,
            roles,
            ttl,
            config,
        } => {
            let config = load_config(&config)?;
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            let ttl = crate::devinit::parse_ttl(&ttl)?;
            println!(
                "{}",
                crate::devinit::dev_token(&config, &agency, &sub, &roles, ttl)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadgen {
            addr,
            config,
            scenario,
            connections,
            duration,
            requests,
            children,
            stored,
            server_pid,
        } => {
            let duration =
                crate::devinit::parse_ttl(&duration)?.min(std::time::Duration::from_secs(600));
            let opts = crate::loadgen::Options {
                scenario,
                connections: connections.clamp(1, 1024),
                duration,
                max_requests: requests,
                children,
                stored,
                server_pid,
            };
            let summary = crate::loadgen::run(addr, &config, opts).await?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchSeed {
            config,
            records,
            audit_entries,
            confirmed,
        } => {
            let config = load_config(&config)?;
            let options = crate::benchseed::Options {
                records,
                audit_entries: audit_entries.unwrap_or(records),
                confirmed,
            };
            let summary = crate::benchseed::run(&config, &options).await?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            crate::demo::run().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    config,
                    checkpoint: Some(checkpoint),
                    export,
                    key,
                },
        } => {
            let verifier = verifier(key.as_deref(), &config)?;
            let checkpoint = read_checkpoint(&verifier, &checkpoint)?;
            let (ok, problem) = match export {
                Some(export) => {
                    let file = std::fs::File::open(&export)
                        .with_context(|| format!("reading {}", export.display()))?;
                    let verdict = crate::audit::verify_export(
                        std::io::BufReader::with_capacity(1 << 20, file),
                        checkpoint.size,
                        &checkpoint.root,
                    )
                    .with_context(|| format!("reading {}", export.display()))?;
                    println!("{}", serde_json::to_string(&verdict)?);
                    (verdict.ok, verdict.problem)
                }
                None => {
                    let config = load_config(&config)?;
                    let db = crate::db::Db::connect(&config.database.url, 2).await?;
                    let verdict =
                        crate::audit::verify_extends(&db, checkpoint.size, &checkpoint.root).await;
                    db.close().await;
                    let verdict = verdict?;
                    println!("{}", serde_json::to_string(&verdict)?);
                    (verdict.ok, verdict.problem)
                }
            };
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "broker: the log does not extend the checkpoint of {} entries: {}",
                    checkpoint.size,
                    problem.unwrap_or_default()
                );
                ExitCode::FAILURE
            })
        }
        Command::Audit {
            command:
                AuditCommand::Witness {
                    checkpoints,
                    proof,
                    key,
                    config,
                },
        } => {
            let [older, newer] = checkpoints.as_slice() else {
                anyhow::bail!("give --checkpoint twice: the older checkpoint, then the newer");
            };
            let verifier = verifier(key.as_deref(), &config)?;
            let (older, newer) = (
                read_checkpoint(&verifier, older)?,
                read_checkpoint(&verifier, newer)?,
            );
            let text = std::fs::read_to_string(&proof)
                .with_context(|| format!("reading {}", proof.display()))?;
            let proof: crate::audit::ConsistencyProof = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a consistency proof", proof.display()))?;
            match crate::audit::verify_witness(
                (older.size, &older.root),
                (newer.size, &newer.root),
                &proof,
            ) {
                Ok(()) => {
                    println!(
                        "ok: the checkpoint of {} entries extends the checkpoint of {}",
                        newer.size, older.size
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    eprintln!("broker: {why}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Audit {
            command: AuditCommand::Verify { config, .. },
        } => {
            let config = load_config(&config)?;
            let db = crate::db::Db::connect(&config.database.url, 2).await?;
            let result = crate::audit::verify(&db).await?;
            db.close().await;
            println!("{}", serde_json::to_string(&result)?);
            Ok(if result.ok {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "broker: the audit chain does not verify; first bad entry: seq {}",
                    result.first_bad_seq.unwrap_or(0)
                );
                ExitCode::FAILURE
            })
        }
        Command::Audit {
            command:
                AuditCommand::Export {
                    jsonl: _,
                    config,
                    out,
                },
        } => {
            let config = load_config(&config)?;
            let db = crate::db::Db::connect(&config.database.url, 2).await?;
            let exported = export_jsonl(&db, out.as_deref()).await;
            db.close().await;
            let exported = exported?;
            eprintln!(
                "broker: exported {} audit entries (to seq {}){}",
                exported.entries,
                exported.last_seq,
                out.map(|p| format!(" to {}", p.display()))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::LogKey { config },
        } => {
            let config = load_config(&config)?;
            let key = crate::state::load_log_key(&config)?;
            println!("{}", key.verifier().vkey());
            Ok(ExitCode::SUCCESS)
        }
        Command::Decide { scenarios, policy } => {
            let policy = load_policy(policy.as_deref()).await?;
            let items = scenario::load_file(&scenarios)?;
            for s in &items {
                let d = s.decide(&policy);
                println!(
                    "{}",
                    serde_json::to_string(&scenario::DecideLine::new(&s.name, &d))?
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys {
            command:
                KeysCommand::RotateAtRest {
                    config,
                    batch_size,
                    settle_seconds,
                    pause_ms,
                },
        } => {
            let config = load_config(&config)?;
            let options = crate::rotation::Options {
                batch: batch_size.clamp(1, 100_000),
                settle: std::time::Duration::from_secs(settle_seconds),
                pause: std::time::Duration::from_millis(pause_ms),
            };
            let summary = crate::rotation::rotate(&config, &options).await?;
            println!("{}", serde_json::to_string(&summary)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { config, to } => {
            let config = load_config(&config)?;
            let done = crate::backup::backup(&config, &to).await?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            config,
            from,
            force,
            key,
        } => {
            let verifier = verifier(key.as_deref(), &config)?;
            let config = load_config(&config)?;
            let done = crate::backup::restore(&config, &from, &verifier, force).await?;
            println!("{}", serde_json::to_string(&done)?);
            Ok(if done.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Policy {
            command: PolicyCommand::Reload { config, policy },
        } => reload(&config, policy).await,
        Command::Policy {
            command: PolicyCommand::Test { dir, policy },
        } => {
            let policy = load_policy(policy.as_deref()).await?;
            let report = scenario::run_dir(&policy, &dir)
                .with_context(|| format!("running the scenarios in {}", dir.display()))?;
            for failure in &report.failures {
                println!("FAIL {failure}");
            }
            println!(
                "policy {} ({} rows), {} scenario files: {} passed, {} failed",
                policy.version(),
                policy.rows(),
                report.files,
                report.passed,
                report.failures.len()
            );
            Ok(if report.failures.is_empty() && report.passed > 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// `broker policy reload`: the directory brought into force through the configuration's
/// database (`policy_versions::bring_into_force`), or the reason it was refused.
async fn reload(config: &Path, dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use crate::policy_versions::{Candidate, Loader, Outcome, Via, bring_into_force};
    let config = load_config(config)?;
    let Some(dir) = dir.or_else(|| config.policy.dir.clone()) else {
        eprintln!(
            "broker: no policy directory to reload: give --policy DIR, or set [policy] dir in \
             the configuration (the embedded policy cannot be reloaded)"
        );
        return Ok(ExitCode::FAILURE);
    };
    let db = crate::db::Db::connect(&config.database.url, 2).await?;
    db.migrate().await.context("applying migrations")?;
    let outcome = match Candidate::tested(&dir, config.process.timescales.clone()) {
        Ok(candidate) => bring_into_force(Via::Db(&db), candidate, Loader::Cli).await,
        Err(refused) => Err(refused),
    };
    db.close().await;
    match outcome {
        Ok(Outcome::InForce(brought)) => {
            let v = &brought.version;
            println!(
                "policy version {} in force: {} (was {}), brought by {}; audit entry {}",
                v.number,
                v.version,
                brought.previous.as_deref().unwrap_or("none"),
                v.loaded_by,
                v.audit_seq
            );
            for change in &v.changes {
                println!(
                    "  {}: {} row(s) added, {} removed",
                    change.file,
                    change.added.len(),
                    change.removed.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::Already(number)) => {
            println!(
                "policy version {number} is already in force with these files; nothing changed"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(refused) => {
            eprintln!(
                "broker: the policy in {} was refused, and the version in force stays: {refused}",
                dir.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}
