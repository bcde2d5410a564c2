//! The application state every handler is given: the configuration, the configured agencies
//! with their keys, the database and its writer, the policy, the at-rest key, the audit log's
//! signing key and the process's metrics. It sits below identity and the routes, which read
//! it, and below the server, which builds it and serves it.
//!
//! The policy can change while the process runs (`broker policy reload`, SIGHUP, another
//! replica): it is held behind an [`ArcSwap`], and [`AppState::policy`] gives the snapshot a
//! request decides with. The edge pins one snapshot for the whole of a request
//! ([`AppState::pinned`]), so a request never sees two versions.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use arc_swap::ArcSwap;

use crate::config::Config;
use crate::config::IdentityConfig;
use crate::crypto::{self, AgencyKeys, AtRestKey};
use crate::db::Db;
use crate::decision::Policy;
use crate::vocab::AgencyKind;

/// A configured agency with its verification key and packet recipient.
pub struct Agency {
    pub id: String,
    pub kind: AgencyKind,
    pub name: String,
    pub jwt_issuer: String,
    pub jwt: AgencyKeys,
    /// Packets disclosed to the agency are encrypted to it when they are made: a new
    /// `age_recipient` (and a restart) applies to the packets made from then on.
    pub age_recipient: age::x25519::Recipient,
    /// How its provider's tokens name the person and the roles (`[agencies.identity]`).
    pub identity: Option<IdentityConfig>,
    /// The claim holding roles in API tokens, and in console ID tokens.
    pub api_roles_claim: String,
    pub console_roles_claim: String,
    /// Does another agency have the same `jwt_issuer` (the API) or `[agencies.oidc] issuer`
    /// (the console)? Then the issuer alone does not name the agency.
    pub api_issuer_shared: bool,
    pub console_issuer_shared: bool,
    /// The areas it serves (PROCESS.md, Places); `None`: every area.
    pub areas: Option<Vec<String>>,
    /// Its bearer tokens verified lately (`crypto::verified`).
    pub verified: crypto::VerifiedTokens,
}

impl Agency {
    /// The agency as a decision's recipient, addressed to `role` (and `sub`).
    pub fn recipient(
        &self,
        role: Option<crate::vocab::Role>,
        sub: Option<String>,
    ) -> crate::decision::Recipient {
        crate::decision::Recipient {
            agency: self.id.clone(),
            agency_kind: self.kind,
            role,
            sub,
            areas: self.areas.clone(),
        }
    }

    /// Does it serve `area`?
    pub fn serves(&self, area: &str) -> bool {
        self.areas
            .as_ref()
            .is_none_or(|served| served.iter().any(|s| s == area))
    }
}

pub use crate::metrics::Metrics;

/// Everything a handler needs; cheap to clone: one reference count, however many parts it
/// has (the router clones it several times per request, and a clone of each part's `Arc`
/// was about 3% of a disclosure's CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What an [`AppState`] shares.
pub struct Shared {
    pub config: Arc<Config>,
    pub agencies: Arc<HashMap<String, Agency>>,
    pub db: Db,
    /// The policy in force in this process; read through [`AppState::policy`].
    policy: ArcSwap<Policy>,
    pub at_rest: Arc<AtRestKey>,
    /// The facts of recent disclosures (`store::cache`): decisions on them are still committed
    /// only on current facts.
    pub facts_cache: crate::store::cache::FactsCache,
    /// The key that signs the audit log's checkpoints (`[audit] log_key`), named for their
    /// origin.
    pub log_key: Arc<crate::audit::LogKey>,
    pub metrics: Arc<Metrics>,
    /// Every write goes through it (group commit).
    pub writer: crate::writer::Writer,
    /// Does the database answer within a short deadline (`/readyz`, the stall check)?
    pub probe: crate::db::Probe,
    /// The rate-limited log of 503s.
    pub unavailable: Arc<crate::telemetry::Unavailable>,
}

/// Loads every key the configuration names; refuses with the file and the problem.
pub fn load_agencies(config: &Config) -> anyhow::Result<HashMap<String, Agency>> {
    let mut agencies = HashMap::new();
    let shared = |issuer: &str, of: fn(&crate::config::AgencyConfig) -> Option<&str>| {
        config
            .agencies
            .iter()
            .filter(|other| of(other) == Some(issuer))
            .count()
            > 1
    };
    for a in &config.agencies {
        let mut fixed = Vec::new();
        if let Some(path) = &a.jwt_public_key {
            fixed.push(
                crypto::load_jwt_public_key(path)
                    .with_context(|| format!("agency \"{}\": jwt_public_key", a.id))?,
            );
        }
        for k in &a.jwt_public_keys {
            let mut key = crypto::load_jwt_public_key(&k.path).with_context(|| {
                format!("agency \"{}\": jwt_public_keys, kid \"{}\"", a.id, k.kid)
            })?;
            key.kid = Some(k.kid.clone());
            fixed.push(key);
        }
        let jwt = AgencyKeys::new(fixed, a.jwks_url.as_deref())
            .with_context(|| format!("agency \"{}\": jwks_url", a.id))?;
        let age_recipient = crypto::parse_age_recipient(&a.age_recipient)
            .with_context(|| format!("agency \"{}\": age_recipient", a.id))?;
        agencies.insert(
            a.id.clone(),
            Agency {
                id: a.id.clone(),
                kind: a.kind,
                name: a.name.clone(),
                jwt_issuer: a.jwt_issuer.clone(),
                jwt,
                age_recipient,
                identity: a.identity.clone(),
                api_roles_claim: a.api_roles_claim().to_owned(),
                console_roles_claim: a.console_roles_claim().to_owned(),
                api_issuer_shared: shared(&a.jwt_issuer, |o| Some(o.jwt_issuer.as_str())),
                console_issuer_shared: a.oidc.as_ref().is_some_and(|oidc| {
                    shared(&oidc.issuer, |o| o.oidc.as_ref().map(|x| x.issuer.as_str()))
                }),
                areas: a.areas.clone(),
                verified: Default::default(),
            },
        );
    }
    Ok(agencies)
}

/// The audit log's signing key named by `[audit]`; refuses naming `[audit] log_key` and the
/// file when it is missing, unreadable or not an Ed25519 key. A key no `[audit] log_key` names
/// is made beside broker.toml (0600) the first time, and used from then on.
pub fn load_log_key(config: &Config) -> anyhow::Result<crate::audit::LogKey> {
    let path = config.audit.log_key();
    if config.audit.log_key_made_here && !path.exists() {
        make_log_key(path)
            .with_context(|| format!("making the audit log key {}", path.display()))?;
        tracing::info!(
            path = %crate::text::escape(&path.display().to_string()),
            "made a new audit log key: give agencies its verifier key (broker audit log-key)"
        );
    }
    crate::audit::LogKey::load(path, config.audit.origin()).context("[audit] log_key")
}

/// Writes a new log key to `path`, readable by its owner only, never over an existing file.
fn make_log_key(path: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let pem = crate::crypto::generate_log_key()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(pem.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

impl AppState {
    /// The configured agency a body field names, or 422 `invalid_field` naming the field.
    pub fn configured_agency(
        &self,
        field: &str,
        id: &str,
    ) -> Result<&Agency, crate::error::ApiError> {
        self.agencies.get(id).ok_or_else(|| {
            crate::error::ApiError::invalid_field(field, format!("no configured agency \"{id}\""))
        })
    }
}

tokio::task_local! {
    /// The policy snapshot of the request being served (set by [`AppState::pinned`]).
    static PINNED: Arc<Policy>;
}

impl AppState {
    /// The policy to decide with: the snapshot pinned for the request being served, else the
    /// version in force now. Take it once per action and use that one throughout.
    pub fn policy(&self) -> Arc<Policy> {
        PINNED
            .try_with(Arc::clone)
            .unwrap_or_else(|_| self.policy.load_full())
    }

    /// Runs `request` with the version in force now pinned for all of it (the edge does this
    /// for every request), so a swap in the middle of a request does not reach it.
    pub async fn pinned<F: std::future::Future>(&self, request: F) -> F::Output {
        PINNED.scope(self.policy.load_full(), request).await
    }

    /// Puts `policy` in force in this process; requests already under way keep theirs.
    pub fn swap_policy(&self, policy: Arc<Policy>) {
        self.policy.store(policy);
    }
}

impl AppState {
    /// Everything but the TLS listener: keys, policy, database (migrated). The policy's files
    /// are recorded as the version in force unless the database already has them
    /// (`policy_versions::loaded_at_start`: a start with new files brings them into force for
    /// every replica).
    pub async fn build(config: Config) -> anyhow::Result<AppState> {
        let agencies = load_agencies(&config)?;
        let at_rest =
            AtRestKey::load(&config.storage.age_identity).context("storage.age_identity")?;
        let log_key = load_log_key(&config)?;
        let files = match &config.policy.dir {
            Some(dir) => crate::decision::policy::Files::from_dir(dir),
            None => Ok(crate::decision::policy::Files::embedded()),
        }
        .context("loading the policy")?;
        let mut policy = Policy::from_files(&files)
            .await
            .context("loading the policy")?;
        if let Some(profile) = &config.process.timescales {
            policy = policy
                .with_profile(profile)
                .context("[process] timescales")?;
        }
        let bounds = crate::db::Bounds::of(&config.database);
        let db = Db::connect_bounded(
            &config.database.url,
            config.database.max_connections,
            &bounds,
        )
        .await?;
        db.migrate().await.context("applying migrations")?;
        crate::audit::catch_up(&db)
            .await
            .context("building the audit tree for entries written before it")?;
        let writer = crate::writer::Writer::start_with(db.clone(), bounds);
        let metrics = Arc::new(Metrics::new(writer.stats().timings().clone()));
        let policy = Arc::new(policy);
        crate::policy_versions::loaded_at_start(&writer, &files, policy.clone()).await?;
        Ok(AppState(Arc::new(Shared {
            writer,
            probe: crate::db::Probe::new(db.clone(), bounds.probe),
            unavailable: crate::telemetry::Unavailable::new(
                config.database.unavailable_log_interval(),
            ),
            config: Arc::new(config),
            agencies: Arc::new(agencies),
            db,
            policy: ArcSwap::new(policy),
            at_rest: Arc::new(at_rest),
            facts_cache: crate::store::cache::FactsCache::new(),
            log_key: Arc::new(log_key),
            metrics,
        })))
    }
}
