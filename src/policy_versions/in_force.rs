//! Bringing a version of the policy into force: the one path for `broker policy reload`, a
//! server's SIGHUP and a server's start. The files must load (a refusal names the file, the
//! line and the problem) and, except at a start, pass their own scenarios (`<dir>/tests`, as
//! `broker policy test` runs them); then, in one transaction that holds the audit head's lock
//! (so two processes cannot both number a version), the `policy_versions` row and its
//! `policy_in_force` audit entry are written. A policy the database already has in force is
//! not recorded again. A refusal changes nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::json;

use super::{FileChange, Head, Version, changes};
use crate::audit::{self, Chain, Entry, System, host, user};
use crate::db::{Db, Tx, ts};
use crate::decision::policy::Files;
use crate::decision::scenario::{self, ScenarioError};
use crate::decision::{Policy, PolicyError};
use crate::on_tx;
use crate::writer::{WriteTx, Writer};

/// Files that may come into force, with the timescale profile to run them with.
pub struct Candidate {
    files: Files,
    profile: Option<String>,
    /// The scenarios they must pass first; none at a start (the operator chose the files).
    tests: Option<PathBuf>,
}

impl Candidate {
    /// The files of `dir`, to come into force once the scenarios of `dir/tests` pass.
    pub fn tested(dir: &Path, profile: Option<String>) -> Result<Candidate, Refusal> {
        Ok(Candidate {
            files: Files::from_dir(dir).map_err(Refusal::Load)?,
            profile,
            tests: Some(dir.join("tests")),
        })
    }
}

/// Who or what brings a version into force (its `loaded_by`, and the audit entry's actor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loader {
    /// `broker policy reload`, by the user running it.
    Cli,
    /// A running server told to reload its `[policy] dir`.
    Sighup,
    /// A server starting with files the database does not have in force.
    Start,
}

impl Loader {
    /// As `policy_versions.loaded_by` and the audit entry's `actor_sub` say it.
    pub fn describe(self) -> String {
        let pid = std::process::id();
        let host = host();
        match self {
            Loader::Cli => format!("cli {}@{host}", user()),
            Loader::Sighup => format!("SIGHUP to broker on {host} pid {pid}"),
            Loader::Start => format!("start of broker on {host} pid {pid}"),
        }
    }
}

/// A version brought into force: as recorded, and loaded, ready to swap in.
pub struct Brought {
    pub version: Version,
    /// The version in force before it, if any.
    pub previous: Option<String>,
    pub policy: Arc<Policy>,
}

pub enum Outcome {
    InForce(Brought),
    /// The database already has these files and profile in force as this number.
    Already(i64),
}

/// Why a policy did not come into force; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the policy does not load: {0}")]
    Load(PolicyError),
    #[error(
        "no scenarios in {0}: a policy comes into force only once its own tests (policies/tests) pass"
    )]
    NoTests(PathBuf),
    #[error("its tests cannot be read: {0}")]
    TestsUnreadable(ScenarioError),
    #[error("{count} of its own scenarios fail ({passed} pass):\n{}", .failures.join("\n"))]
    TestsFail {
        /// The first failures (at most [`FAILURES_SHOWN`]), each naming the file and scenario.
        failures: Vec<String>,
        count: usize,
        passed: usize,
    },
    #[error("[process] timescales: {0}")]
    Profile(PolicyError),
    #[error("the database: {0:#}")]
    Store(anyhow::Error),
}

/// The most failing scenarios a refusal lists.
pub const FAILURES_SHOWN: usize = 10;

/// Loads `candidate`, runs its tests and, if all pass, records it as the version in force
/// through `via`'s database: the `policy_versions` row and its audit entry in one transaction.
pub async fn bring_into_force(
    via: Via<'_>,
    candidate: Candidate,
    loader: Loader,
) -> Result<Outcome, Refusal> {
    let Candidate {
        files,
        profile,
        tests,
    } = candidate;
    let mut policy = Policy::from_files(&files).await.map_err(Refusal::Load)?;
    if let Some(dir) = tests {
        policy = passes(policy, dir).await?;
    }
    if let Some(profile) = &profile {
        policy = policy.with_profile(profile).map_err(Refusal::Profile)?;
    }
    record(via, &files, Arc::new(policy), loader).await
}

/// At a start: records the files a process loaded (`policy`, with its profile) as a new
/// version unless the database already has them in force. No tests are run: the operator
/// chose these files, and a start keeps its behaviour of serving what it was given.
pub async fn loaded_at_start(
    writer: &Writer,
    files: &Files,
    policy: Arc<Policy>,
) -> anyhow::Result<Option<Version>> {
    match record(Via::Writer(writer), files, policy, Loader::Start).await {
        Ok(Outcome::InForce(brought)) => Ok(Some(brought.version)),
        Ok(Outcome::Already(_)) => Ok(None),
        Err(e) => Err(anyhow::anyhow!(
            "recording the policy version in force: {e}"
        )),
    }
}

/// Runs the scenarios of `dir` against `policy` (on a blocking thread: they are pure CPU).
async fn passes(policy: Policy, dir: PathBuf) -> Result<Policy, Refusal> {
    if !dir.is_dir() {
        return Err(Refusal::NoTests(dir));
    }
    let (policy, report) = tokio::task::spawn_blocking(move || {
        let report = scenario::run_dir(&policy, &dir).map(|r| (r, dir));
        (policy, report)
    })
    .await
    .map_err(|e| Refusal::Store(anyhow::anyhow!("running the scenarios: {e}")))?;
    let (report, dir) = report.map_err(Refusal::TestsUnreadable)?;
    if !report.failures.is_empty() {
        return Err(Refusal::TestsFail {
            count: report.failures.len(),
            passed: report.passed,
            failures: report.failures.into_iter().take(FAILURES_SHOWN).collect(),
        });
    }
    if report.passed == 0 {
        return Err(Refusal::NoTests(dir));
    }
    Ok(policy)
}

/// Where a version is written: through a server's writer (group commit), or straight to the
/// database in a transaction of its own (`broker policy reload`).
#[derive(Clone, Copy)]
pub enum Via<'a> {
    Writer(&'a Writer),
    Db(&'a Db),
}

/// A write under way through either path.
enum Open {
    Action(Box<WriteTx>),
    Tx(Tx),
}

fn store(e: impl std::fmt::Display) -> Refusal {
    Refusal::Store(anyhow::anyhow!("{e}"))
}

fn api(e: crate::error::ApiError) -> Refusal {
    let cause = e.cause().map(|c| format!(" ({})", c.0)).unwrap_or_default();
    Refusal::Store(anyhow::anyhow!("{}: {}{cause}", e.code, e.detail))
}

impl Open {
    /// Starts the write holding the audit head's lock, so the newest version read next is
    /// still the newest when the new one is numbered after it.
    async fn begin(via: Via<'_>) -> Result<Open, Refusal> {
        Ok(match via {
            Via::Writer(writer) => Open::Action(Box::new(writer.begin().await.map_err(api)?)),
            Via::Db(db) => {
                let mut tx = db.begin().await.map_err(store)?;
                Chain::lock(&mut tx).await.map_err(store)?;
                Open::Tx(tx)
            }
        })
    }

    fn tx(&mut self) -> &mut Tx {
        match self {
            Open::Action(action) => action.tx(),
            Open::Tx(tx) => tx,
        }
    }

    async fn append(&mut self, entry: Entry) -> Result<i64, Refusal> {
        match self {
            Open::Action(action) => action.append(entry).await.map_err(api),
            Open::Tx(tx) => audit::append(tx, entry).await.map_err(store),
        }
    }

    async fn commit(self) -> Result<(), Refusal> {
        match self {
            Open::Action(action) => action.finish().await.map_err(api),
            Open::Tx(tx) => tx.commit().await.map_err(store),
        }
    }

    async fn undo(self) {
        match self {
            // dropping an action undoes it
            Open::Action(action) => drop(action),
            Open::Tx(tx) => {
                let _ = tx.rollback().await;
            }
        }
    }
}

/// The newest version with its files, read inside the write.
async fn newest_in(tx: &mut Tx) -> Result<Option<(Head, String)>, sqlx::Error> {
    let row: Option<(i64, String, Option<String>, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT number, hash, profile, files FROM policy_versions ORDER BY number DESC LIMIT 1")
        .fetch_optional(&mut **c)
        .await)?;
    Ok(row.map(|(number, hash, profile, files)| {
        (
            Head {
                number,
                hash,
                profile,
            },
            files,
        )
    }))
}

/// Writes `policy` (loaded from `files`) as the next version with its audit entry, unless the
/// newest version already is it.
async fn record(
    via: Via<'_>,
    files: &Files,
    policy: Arc<Policy>,
    loader: Loader,
) -> Result<Outcome, Refusal> {
    let mut open = Open::begin(via).await?;
    let newest = match newest_in(open.tx()).await {
        Ok(newest) => newest,
        Err(e) => {
            open.undo().await;
            return Err(store(e));
        }
    };
    if let Some((head, _)) = &newest
        && head.is(&policy)
    {
        open.undo().await;
        return Ok(Outcome::Already(head.number));
    }
    let before = match newest.as_ref().map(|(_, text)| serde_json::from_str(text)) {
        Some(Err(e)) => {
            open.undo().await;
            return Err(store(format!(
                "the stored files of the version in force: {e}"
            )));
        }
        Some(Ok(map)) => Some(map),
        None => None,
    };
    // the first version recorded has nothing to be compared with: no change is listed
    let changes = before.map_or_else(Vec::new, |b| changes::between(&b, files.texts()));
    let previous = newest.as_ref().map(|(head, _)| head.hash.clone());
    let number = newest.as_ref().map_or(1, |(head, _)| head.number + 1);
    let loaded_by = loader.describe();
    let loaded_at = crate::db::now();
    let mut entry = Entry::new(&System(loaded_by.clone()), "policy_in_force").detail(json!({
        "number": number,
        "version": policy.version(),
        "previous": previous,
        "profile": policy.profile(),
        "loaded_by": loaded_by,
        "changes": counts(&changes),
    }));
    entry.policy_version = Some(policy.version().to_owned());
    let written = async {
        let audit_seq = open.append(entry).await?;
        let stored = serde_json::to_string(files.texts()).map_err(store)?;
        let changed = serde_json::to_string(&changes).map_err(store)?;
        on_tx!(open.tx(), c => sqlx::query(
            "INSERT INTO policy_versions \
             (number, hash, files, profile, loaded_by, loaded_at, audit_seq, changes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(number)
            .bind(policy.version())
            .bind(&stored)
            .bind(policy.profile())
            .bind(&loaded_by)
            .bind(ts(loaded_at))
            .bind(audit_seq)
            .bind(&changed)
            .execute(&mut **c)
            .await
            .map(drop))
        .map_err(store)?;
        Ok::<_, Refusal>(audit_seq)
    }
    .await;
    let audit_seq = match written {
        Ok(seq) => seq,
        Err(e) => {
            open.undo().await;
            return Err(e);
        }
    };
    open.commit().await?;
    Ok(Outcome::InForce(Brought {
        version: Version {
            number,
            version: policy.version().to_owned(),
            profile: policy.profile().map(str::to_owned),
            loaded_by,
            loaded_at,
            audit_seq,
            changes,
        },
        previous,
        policy,
    }))
}

/// Per file, how many rows were added and removed: what the audit entry says of a change (the
/// rows themselves are in `policy_versions.changes`).
fn counts(changes: &[FileChange]) -> serde_json::Value {
    changes
        .iter()
        .map(|c| json!({"file": c.file, "added": c.added.len(), "removed": c.removed.len()}))
        .collect()
}
