//! The policy as audited, versioned state (issue 24): what an IG officer reads of it
//! (`GET /v1/policy`, `GET /v1/policy/versions`, the console's policy page; `read_policy`),
//! and how a running server follows the version in force (`watch`): it polls
//! `policy_versions` every `[policy] poll_seconds` and swaps to a newer version, and on SIGHUP
//! brings its own `[policy] dir` into force (loaded, tested, recorded, audited) and swaps at
//! once. Reading the policy is not audited: it holds nothing about a child or a person.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::access::require;
use crate::decision::policy::{PROFILE_DIR, columns_of, table_rows};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::policy_versions::{
    self, Candidate, Head, Loader, Outcome, Version, Via, bring_into_force,
};
use crate::state::AppState;
use crate::vocab::Action;

/// The version this process decides with, and its rules.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyInForce {
    /// Its number in the history (`GET /v1/policy/versions`).
    pub number: i64,
    /// `sha256:` over its files: every decision's audit entry names it as `policy_version`.
    pub version: String,
    /// The timescale profile in force (`[process] timescales`); null: `timescales.csv`.
    pub profile: Option<String>,
    pub loaded_by: String,
    pub loaded_at: DateTime<Utc>,
    /// The `policy_in_force` audit entry that recorded it.
    pub audit_seq: i64,
    /// The newest version in the database; above `number` for at most `[policy]
    /// poll_seconds`, while this process has not yet swapped to it.
    pub newest_number: i64,
    /// Its `.csv` files, each as a table (the `.conf` files are casbin's models, not rules).
    pub files: Vec<PolicyFile>,
}

/// One policy file as a table.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyFile {
    /// Its name in the policy directory (`actions.csv`, `timescales/wales.csv`).
    pub name: String,
    /// The columns' names (a family's fields and `effect`; else its `# columns:` comment).
    pub columns: Vec<String>,
    /// Its rows, comments left out, each its fields in column order.
    pub rows: Vec<Vec<String>>,
}

/// The versions that came into force, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PolicyVersions {
    /// At most 100, newest first, each with the rows it added and removed per file.
    pub versions: Vec<Version>,
}

/// The version this process runs, with its rules (`read_policy`).
pub async fn in_force(state: &AppState, principal: &Principal) -> Result<PolicyInForce, ApiError> {
    require(state, principal, Action::ReadPolicy)?;
    let policy = state.policy();
    let version = policy_versions::of_policy(&state.db, &policy)
        .await?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "the policy in force here ({}) has no policy_versions row",
                policy.version()
            ))
        })?;
    let newest = policy_versions::newest(&state.db)
        .await?
        .map_or(version.number, |h| h.number);
    let files = policy_versions::files_of(&state.db, version.number)
        .await?
        .ok_or_else(|| ApiError::internal("a policy version without its files"))?;
    let texts = files.texts();
    let timescale_columns = texts
        .get("timescales.csv")
        .map(|t| columns_of("timescales.csv", t))
        .unwrap_or_default();
    let files = texts
        .iter()
        .filter(|(name, _)| name.ends_with(".csv"))
        .map(|(name, text)| {
            let mut columns = columns_of(name, text);
            if columns.is_empty() && name.starts_with(&format!("{PROFILE_DIR}/")) {
                // a profile is a timescales.csv of its own, which names its columns
                columns = timescale_columns.clone();
            }
            PolicyFile {
                name: name.clone(),
                columns,
                rows: table_rows(name, text),
            }
        })
        .collect();
    Ok(PolicyInForce {
        number: version.number,
        version: version.version,
        profile: version.profile,
        loaded_by: version.loaded_by,
        loaded_at: version.loaded_at,
        audit_seq: version.audit_seq,
        newest_number: newest,
        files,
    })
}

/// The history of versions, newest first (`read_policy`).
pub async fn versions(state: &AppState, principal: &Principal) -> Result<PolicyVersions, ApiError> {
    require(state, principal, Action::ReadPolicy)?;
    Ok(PolicyVersions {
        versions: policy_versions::history(&state.db).await?,
    })
}

/// The SIGHUPs a server receives: taken over from the default (which ends the process) as
/// soon as this is made.
pub struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

/// Takes SIGHUP over for [`watch`].
pub fn hangups() -> anyhow::Result<Hangups> {
    Ok(Hangups {
        #[cfg(unix)]
        signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| anyhow::anyhow!("taking over SIGHUP: {e}"))?,
    })
}

impl Hangups {
    async fn next(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_some() {
            return;
        }
        std::future::pending::<()>().await;
    }
}

/// Follows the version in force for as long as the server runs: polls `policy_versions`
/// every `[policy] poll_seconds`, and reloads `[policy] dir` on each SIGHUP.
pub async fn watch(state: AppState, mut hangups: Hangups) {
    let mut poll = tokio::time::interval(state.config.policy.poll_interval());
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unloadable = None;
    loop {
        tokio::select! {
            _ = poll.tick() => follow(&state, &mut unloadable).await,
            () = hangups.next() => {
                reload_on_hangup(&state).await;
                follow(&state, &mut unloadable).await;
            }
        }
    }
}

/// Swaps to the newest version if this process runs another. A version that does not load
/// here is logged once and not tried again (the process keeps the policy it has) until a
/// newer one comes.
async fn follow(state: &AppState, unloadable: &mut Option<Head>) {
    let newest = match policy_versions::newest(&state.db).await {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "reading the policy version in force failed; trying again at the next poll");
            return;
        }
    };
    if newest.is(&state.policy()) || unloadable.as_ref() == Some(&newest) {
        return;
    }
    match policy_versions::load(&state.db, &newest).await {
        Ok(policy) => {
            let was = state.policy().version().to_owned();
            state.swap_policy(Arc::new(policy));
            tracing::info!(
                number = newest.number,
                version = %newest.hash,
                previous = %was,
                "policy version in force swapped in"
            );
        }
        Err(e) => {
            tracing::error!(
                number = newest.number,
                version = %newest.hash,
                error = %crate::text::escape(&format!("{e:#}")),
                "the policy version in force does not load here; keeping the policy this process has"
            );
            *unloadable = Some(newest);
        }
    }
}

/// SIGHUP: brings the server's own `[policy] dir` into force, as `broker policy reload`
/// would, and swaps to it at once; a refusal is logged and the policy stays.
async fn reload_on_hangup(state: &AppState) {
    let Some(dir) = &state.config.policy.dir else {
        tracing::warn!(
            "SIGHUP: no [policy] dir to reload (the embedded policy is in use); the policy stays"
        );
        return;
    };
    let profile = state.config.process.timescales.clone();
    let outcome = match Candidate::tested(dir, profile) {
        Ok(candidate) => {
            bring_into_force(Via::Writer(&state.writer), candidate, Loader::Sighup).await
        }
        Err(refused) => Err(refused),
    };
    match outcome {
        Ok(Outcome::InForce(brought)) => {
            state.swap_policy(brought.policy);
            tracing::info!(
                number = brought.version.number,
                version = %brought.version.version,
                "SIGHUP: the policy directory is in force"
            );
        }
        Ok(Outcome::Already(number)) => {
            tracing::info!(
                number,
                "SIGHUP: the policy directory is already the version in force"
            );
        }
        Err(refused) => {
            // the refusal names the file, line and problem, or the failing scenarios: never
            // a file's content
            tracing::warn!(
                reason = %crate::text::escape(&refused.to_string()),
                "SIGHUP: the policy directory was refused; the policy stays"
            );
        }
    }
}
