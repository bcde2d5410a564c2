//! The policy as audited, versioned state (issue 24). Every version of the policy that came
//! into force is a row of `policy_versions` (migration 0022) holding its files, written in the
//! same transaction as its `policy_in_force` audit entry (`in_force.rs`). The newest row is
//! the version in force: every process on the database loads the stored files and swaps to it
//! (`app::policy::watch`), so replicas converge on one version whatever files each started
//! with. `changes.rs` says which rows a version added and removed.
//!
//! Below `state` (which records the version a process starts with) and above `writer` and
//! `audit` (a version is recorded through either).

pub mod changes;
mod in_force;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

pub use changes::FileChange;
pub use in_force::{
    Brought, Candidate, FAILURES_SHOWN, Loader, Outcome, Refusal, Via, bring_into_force,
    loaded_at_start,
};

use crate::db::{Db, parse_ts};
use crate::decision::Policy;
use crate::decision::policy::Files;
use crate::with_db;

/// A stored version, without its files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Version {
    /// 1, 2, ... in the order the versions came into force.
    pub number: i64,
    /// The policy's version (`sha256:` over its files), as every decision's audit entry names it.
    pub version: String,
    /// The timescale profile in force (`[process] timescales`); null: `timescales.csv`.
    pub profile: Option<String>,
    /// Who or what brought it into force: `cli <user>@<host>`, `SIGHUP to broker on <host>
    /// pid <n>`, `start of broker on <host> pid <n>`.
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
    /// The `policy_in_force` audit entry that recorded it.
    pub audit_seq: i64,
    /// Per file, the rows added and removed since the version before (none for the first
    /// version recorded, which has nothing to be compared with).
    pub changes: Vec<FileChange>,
}

/// The newest version's identity: what a process compares with the policy it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub number: i64,
    pub hash: String,
    pub profile: Option<String>,
}

impl Head {
    /// Is `policy` this version (the same files and the same timescale profile)?
    pub fn is(&self, policy: &Policy) -> bool {
        self.hash == policy.version() && self.profile.as_deref() == policy.profile()
    }
}

#[derive(sqlx::FromRow)]
struct VersionText {
    number: i64,
    hash: String,
    profile: Option<String>,
    loaded_by: String,
    loaded_at: String,
    audit_seq: i64,
    changes: String,
}

impl TryFrom<VersionText> for Version {
    type Error = sqlx::Error;
    fn try_from(r: VersionText) -> Result<Version, sqlx::Error> {
        Ok(Version {
            number: r.number,
            version: r.hash,
            profile: r.profile,
            loaded_by: r.loaded_by,
            loaded_at: parse_ts(&r.loaded_at)?,
            audit_seq: r.audit_seq,
            changes: serde_json::from_str(&r.changes)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        })
    }
}

const VERSION: &str = "SELECT number, hash, profile, loaded_by, loaded_at, audit_seq, changes \
     FROM policy_versions";

/// The most versions [`history`] lists.
pub const HISTORY_LIMIT: i64 = 100;

/// The version in force: the newest row, if any.
pub async fn newest(db: &Db) -> Result<Option<Head>, sqlx::Error> {
    let row: Option<(i64, String, Option<String>)> = with_db!(db, pool => sqlx::query_as(
        "SELECT number, hash, profile FROM policy_versions ORDER BY number DESC LIMIT 1")
        .fetch_optional(pool)
        .await)?;
    Ok(row.map(|(number, hash, profile)| Head {
        number,
        hash,
        profile,
    }))
}

/// The newest stored version that is `policy` (what a process running it shows).
pub async fn of_policy(db: &Db, policy: &Policy) -> Result<Option<Version>, sqlx::Error> {
    let sql = format!("{VERSION} WHERE hash = $1 ORDER BY number DESC");
    let rows: Vec<VersionText> = with_db!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(policy.version())
        .fetch_all(pool)
        .await)?;
    rows.into_iter()
        .find(|r| r.profile.as_deref() == policy.profile())
        .map(Version::try_from)
        .transpose()
}

/// The versions, newest first, at most [`HISTORY_LIMIT`].
pub async fn history(db: &Db) -> Result<Vec<Version>, sqlx::Error> {
    let sql = format!("{VERSION} ORDER BY number DESC LIMIT {HISTORY_LIMIT}");
    let rows: Vec<VersionText> = with_db!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await)?;
    rows.into_iter().map(Version::try_from).collect()
}

/// The files of version `number`, as stored.
pub async fn files_of(db: &Db, number: i64) -> Result<Option<Files>, sqlx::Error> {
    let text: Option<(String,)> = with_db!(db, pool => sqlx::query_as(
        "SELECT files FROM policy_versions WHERE number = $1")
        .bind(number)
        .fetch_optional(pool)
        .await)?;
    text.map(|(json,)| {
        let map: BTreeMap<String, String> =
            serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
        Ok(Files::from_map(
            format!("(policy version {number} as stored)"),
            map,
        ))
    })
    .transpose()
}

/// Loads version `head` from its stored files, with its profile, checking that the files
/// still hash to it. A version stored by another process may not load here (a bank-holiday
/// calendar that has run out since, a binary that does not know a term): the error says why.
pub async fn load(db: &Db, head: &Head) -> anyhow::Result<Policy> {
    use anyhow::Context;
    let files = files_of(db, head.number)
        .await?
        .with_context(|| format!("policy version {} is not stored", head.number))?;
    anyhow::ensure!(
        files.version() == head.hash,
        "policy version {}: the stored files do not hash to {}",
        head.number,
        head.hash
    );
    let mut policy = Policy::from_files(&files).await?;
    if let Some(profile) = &head.profile {
        policy = policy.with_profile(profile)?;
    }
    Ok(policy)
}
