//! `broker.toml` (API.md, Configuration) with `BROKER_<SECTION>_<KEY>` overrides.
//!
//! Relative paths (key files and a `sqlite://` database) are resolved against the directory
//! of the configuration file, so the broker starts the same from any working directory.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::vocab::AgencyKind;

mod identity;
pub use identity::{Bound, IdentityConfig, KeyFile};

/// A configuration the broker refuses to start with; the message names the problem.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    /// The audit log's signed checkpoints (`[audit]`). Without the section (a broker.toml of
    /// the contract's example), the broker signs with a key of its own beside broker.toml.
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The case process (`[process]`; PROCESS.md, Routes).
    #[serde(default)]
    pub process: ProcessConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// The web console (`/ui/`).
    #[serde(default)]
    pub console: ConsoleConfig,
    /// "A packet waits" by e-mail (`[notify]`); without it, no e-mail is sent.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    /// The Prometheus scrape listener (`[metrics]`); without it, none.
    #[serde(default)]
    pub metrics: Option<MetricsConfig>,
    /// The partnership's local authority areas (PROCESS.md, Places); none: one area.
    #[serde(default)]
    pub areas: Vec<AreaConfig>,
    #[serde(default)]
    pub agencies: Vec<AgencyConfig>,
}

/// `[process]`: how the case process runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// The timescale profile (`"wales"` or `"england"`: `policies/timescales/<profile>.csv`);
    /// unset: the partnership's own `policies/timescales.csv`.
    #[serde(default)]
    pub timescales: Option<String>,
}

/// `[[areas]]`: a local authority area of the partnership.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaConfig {
    /// `[a-z0-9-]`, unique.
    pub id: String,
    pub name: String,
}

/// `[metrics]`: where `GET /metrics` is served, plain HTTP on a listener of its own (a
/// scraper holds no agency certificate); counts only, no child, record or person in a label.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// e.g. `127.0.0.1:9464`; never `server.listen`.
    pub listen: SocketAddr,
}

/// `[notify]`: the SMTP server through which the broker tells an agency that a packet waits
/// in its inbox (the message names the sender and links to the packet; no content).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// `smtp://host:port` (plain, for a relay on the same host or tests),
    /// `smtp://host:587?tls=required` (STARTTLS) or `smtps://host:465` (TLS); credentials may
    /// be given as `smtps://user:password@host`.
    pub smtp_url: String,
    /// The sender address (`From`).
    pub from: String,
    /// Tries of one message before it is given up (audited as `mail.failed`).
    #[serde(default = "default_mail_attempts")]
    pub attempts: u32,
    /// The wait before the second try, doubled before each later one.
    #[serde(default = "default_mail_retry_ms")]
    pub retry_ms: u64,
    /// The bound on one try (connect, exchange, quit).
    #[serde(default = "default_mail_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_mail_attempts() -> u32 {
    5
}
fn default_mail_retry_ms() -> u64 {
    2_000
}
fn default_mail_timeout_ms() -> u64 {
    10_000
}

/// An agency's `inbox_email`: one address for all its packets, or one per recipient role
/// (`{ dsl = "...", default = "..." }`, where `default` takes the roles not named and the
/// packets addressed to no role).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum InboxEmail {
    One(String),
    ByRole(std::collections::BTreeMap<String, String>),
}

impl InboxEmail {
    /// The address a packet addressed to `role` (or to no role) is announced at, if any.
    pub fn for_role(&self, role: Option<&str>) -> Option<&str> {
        match self {
            InboxEmail::One(address) => Some(address),
            InboxEmail::ByRole(by) => role
                .and_then(|r| by.get(r))
                .or_else(|| by.get("default"))
                .map(String::as_str),
        }
    }

    fn check(&self, agency: &AgencyConfig) -> Result<(), String> {
        let addresses: Vec<(&str, &String)> = match self {
            InboxEmail::One(a) => vec![("", a)],
            InboxEmail::ByRole(by) => by.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        };
        for (key, address) in addresses {
            if !key.is_empty() && key != "default" {
                let role: crate::vocab::Role = key.parse().map_err(|_| {
                    format!(
                        "agency \"{}\": inbox_email names an unknown role \"{key}\"",
                        agency.id
                    )
                })?;
                if !role.valid_for(agency.kind) {
                    return Err(format!(
                        "agency \"{}\": inbox_email names role \"{key}\", which a {} cannot hold",
                        agency.id, agency.kind
                    ));
                }
            }
            if address.parse::<lettre::Address>().is_err() {
                return Err(format!(
                    "agency \"{}\": inbox_email {key} is not an e-mail address",
                    agency.id
                ));
            }
        }
        Ok(())
    }
}

/// `[console]`: the web console's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The dev world's sign-in without an identity provider (`dev-init` sets it); the broker
    /// refuses to start with it unless it listens on loopback.
    #[serde(default)]
    pub dev_sign_in: bool,
    /// The console's address as browsers reach it (`https://broker.example`), from which the
    /// sign-in callback address is made; without it, the request's `Host`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// How often the broker ends, with their audit entries, the sessions that ran out while
    /// nobody presented them (seconds).
    #[serde(default = "default_session_sweep_seconds")]
    pub session_sweep_seconds: u64,
}

fn default_session_sweep_seconds() -> u64 {
    60
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            dev_sign_in: false,
            public_url: None,
            session_sweep_seconds: default_session_sweep_seconds(),
        }
    }
}

/// `[agencies.oidc]`: the agency's OpenID Connect identity provider for console sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    /// Scopes asked for beside `openid`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The ID token claim holding the role names (unset: `roles`, or `[agencies.identity]
    /// roles_claim`, which serves the API's tokens as well).
    #[serde(default)]
    pub roles_claim: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: PathBuf,
    /// Revoked client certificates: a CRL file (PEM or DER) of `client_ca`, re-read when it
    /// changes.
    #[serde(default)]
    pub client_crl: Option<PathBuf>,
    #[serde(default = "default_audience")]
    pub audience: String,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// A request's start line and headers together; larger is 431.
    #[serde(default = "default_max_header")]
    pub max_header_bytes: usize,
    /// From the TCP accept to the end of the TLS handshake.
    #[serde(default = "default_handshake_timeout")]
    pub tls_handshake_timeout_ms: u64,
    /// From the moment the broker waits for a request's head to its last header (HTTP/1).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_ms: u64,
    /// From a request's head to the last byte of its body; a body still arriving is 408.
    #[serde(default = "default_body_read_timeout")]
    pub body_read_timeout_ms: u64,
    /// A connection with no request in flight for this long is closed (after the handshake
    /// and between requests).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_ms: u64,
    /// Open connections per client-certificate agency. One more closes the agency's
    /// connection idle the longest, or, when none is idle, is answered 429 and closed.
    #[serde(default = "default_max_connections_per_agency")]
    pub max_connections_per_agency: usize,
    /// Open connections per client certificate, within its agency's cap; beyond it, the same.
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: usize,
    /// Connections on which one person (agency and `sub`) has a request in flight; a request
    /// on one more is answered 429.
    #[serde(default = "default_max_connections_per_person")]
    pub max_connections_per_person: usize,
    /// The longest a bearer token may be valid for (`exp - iat`).
    #[serde(default = "default_max_token_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// At most one summary line of refused TLS handshakes per this interval.
    #[serde(default = "default_refusal_log_interval")]
    pub refusal_log_interval_ms: u64,
}

impl ServerConfig {
    pub fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.tls_handshake_timeout_ms)
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms)
    }
    pub fn refusal_log_interval(&self) -> Duration {
        Duration::from_millis(self.refusal_log_interval_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    #[serde(default = "default_database")]
    pub url: String,
    /// Connections in the pool.
    #[serde(default = "default_pool")]
    pub max_connections: u32,
    /// The longest a request waits for a pooled connection (opening one included) or for its
    /// turn at the writer; then it is answered 503.
    #[serde(default = "default_acquire_timeout")]
    pub acquire_timeout_ms: u64,
    /// The client's bound on each round trip of the writer (begin, each of its statements,
    /// commit) and SQLite's wait for a lock held by another process (`busy_timeout`). A round
    /// trip past it fails its batch (503) and its connection is closed, never reused.
    #[serde(default = "default_round_trip_timeout")]
    pub round_trip_timeout_ms: u64,
    /// A request still unanswered after this long is checked against a probe of the database
    /// (and again every such interval): if the probe fails, the request is answered 503.
    #[serde(default = "default_stall_timeout")]
    pub stall_timeout_ms: u64,
    /// The deadline of the probe behind `/readyz` and the stall check (`SELECT 1`).
    #[serde(default = "default_probe_timeout")]
    pub probe_timeout_ms: u64,
    /// PostgreSQL's server-side `statement_timeout` for the broker's sessions: a runaway
    /// statement is cancelled by the server (503).
    #[serde(default = "default_statement_timeout")]
    pub statement_timeout_ms: u64,
    /// At most one line for the first 503 of an interval and one summary line (how many, the
    /// last cause) per interval, instead of a line per 503.
    #[serde(default = "default_unavailable_log_interval")]
    pub unavailable_log_interval_ms: u64,
}

impl DatabaseConfig {
    pub fn unavailable_log_interval(&self) -> Duration {
        Duration::from_millis(self.unavailable_log_interval_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub age_identity: PathBuf,
}

/// `[audit]`: the key that signs the audit log's checkpoints and how often they are signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The Ed25519 private key (PKCS#8 PEM) that signs checkpoints; agencies keep its public
    /// half, the verifier key `broker audit log-key` prints. Unset: `audit-log.key` beside
    /// broker.toml, made (0600) the first time it is needed if it is not there; a key that is
    /// named must exist. After loading it is always set.
    #[serde(default)]
    pub log_key: Option<PathBuf>,
    /// The key was not named: it may be made where [`AuditConfig::log_key`] says.
    #[serde(skip)]
    pub log_key_made_here: bool,
    /// The checkpoints' origin, which is also the key's name in the verifier key: a schema-less
    /// URL naming this log, with no spaces and no `+`. It must never change once agencies hold
    /// the verifier key (the key id covers it). Unset: the console's address without its scheme,
    /// then `/audit` (`broker.example/audit`, or `127.0.0.1:8443/audit` from `server.listen`);
    /// after loading it is always set.
    #[serde(default)]
    pub origin: Option<String>,
    /// Seconds between signed checkpoints, from 1 to 86400 (a day).
    #[serde(default = "default_checkpoint_interval")]
    pub checkpoint_interval_seconds: u64,
}

fn default_checkpoint_interval() -> u64 {
    300
}

impl Default for AuditConfig {
    fn default() -> AuditConfig {
        AuditConfig {
            log_key: None,
            log_key_made_here: false,
            origin: None,
            checkpoint_interval_seconds: default_checkpoint_interval(),
        }
    }
}

impl AuditConfig {
    /// The signing key's file (set by loading: the configured one or its default).
    pub fn log_key(&self) -> &Path {
        self.log_key
            .as_deref()
            .unwrap_or(Path::new("audit-log.key"))
    }

    /// The origin (set by loading: the configured one or its default).
    pub fn origin(&self) -> &str {
        self.origin.as_deref().unwrap_or_default()
    }

    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_secs(self.checkpoint_interval_seconds)
    }

    fn check(&self) -> Result<(), String> {
        if !(1..=86_400).contains(&self.checkpoint_interval_seconds) {
            return Err(format!(
                "audit.checkpoint_interval_seconds must be from 1 to 86400 (a day), not {}",
                self.checkpoint_interval_seconds
            ));
        }
        let origin = self.origin();
        if origin.is_empty() {
            return Err("audit.origin is empty".into());
        }
        if let Some(c) = origin
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '+')
        {
            return Err(format!(
                "audit.origin \"{}\" holds {c:?}: an origin (the log key's name) has no spaces \
                 and no +",
                crate::text::escape(origin)
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// The casbin policy directory. When unset: `policies/` beside the configuration file if
    /// there is one, otherwise the default policy compiled into the binary.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// How often a running server reads the version in force from the database and swaps to
    /// it when another process brought a new one into force (`broker policy reload`, another
    /// replica's SIGHUP or start): the bound on how long replicas disagree.
    #[serde(default = "default_policy_poll_seconds")]
    pub poll_seconds: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            dir: None,
            poll_seconds: default_policy_poll_seconds(),
        }
    }
}

fn default_policy_poll_seconds() -> u64 {
    5
}

impl PolicyConfig {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_seconds)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    #[serde(default)]
    pub format: LogFormat,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyConfig {
    pub id: String,
    pub kind: AgencyKind,
    pub name: String,
    pub jwt_issuer: String,
    /// The one verification key, PEM (a token's `kid` is not looked at).
    #[serde(default)]
    pub jwt_public_key: Option<PathBuf>,
    /// Several keys, each chosen by the token's `kid` (a provider rotating its keys).
    #[serde(default)]
    pub jwt_public_keys: Vec<KeyFile>,
    /// The provider's published JWKS, cached by its `Cache-Control: max-age` and fetched again
    /// for an unknown `kid` at most once a minute.
    #[serde(default)]
    pub jwks_url: Option<String>,
    pub age_recipient: String,
    /// How the provider's tokens name the person and the roles, for the API and the console.
    #[serde(default)]
    pub identity: Option<IdentityConfig>,
    /// Console sign-in for the agency's people; without it, they cannot sign in to the console.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
    /// Where the agency is told that a packet waits (`[notify]`).
    #[serde(default)]
    pub inbox_email: Option<InboxEmail>,
    /// The areas it serves; absent: every area (a police force, a health board, the MAPPA
    /// forum, the partnership).
    #[serde(default)]
    pub areas: Option<Vec<String>>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}
fn default_audience() -> String {
    "urn:broker".into()
}
fn default_max_body() -> usize {
    1_048_576
}
fn default_max_header() -> usize {
    65_536
}
fn default_handshake_timeout() -> u64 {
    10_000
}
fn default_header_read_timeout() -> u64 {
    10_000
}
fn default_body_read_timeout() -> u64 {
    30_000
}
fn default_idle_timeout() -> u64 {
    60_000
}
fn default_max_connections_per_agency() -> usize {
    256
}
fn default_max_connections_per_client() -> usize {
    128
}
fn default_max_connections_per_person() -> usize {
    32
}
fn default_max_token_lifetime() -> u64 {
    3_600
}
fn default_refusal_log_interval() -> u64 {
    10_000
}
fn default_database() -> String {
    "sqlite://data/broker.db".into()
}
fn default_pool() -> u32 {
    8
}
fn default_acquire_timeout() -> u64 {
    2_000
}
fn default_round_trip_timeout() -> u64 {
    2_000
}
fn default_stall_timeout() -> u64 {
    2_000
}
fn default_probe_timeout() -> u64 {
    1_000
}
fn default_statement_timeout() -> u64 {
    30_000
}
fn default_unavailable_log_interval() -> u64 {
    10_000
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: default_database(),
            max_connections: default_pool(),
            acquire_timeout_ms: default_acquire_timeout(),
            round_trip_timeout_ms: default_round_trip_timeout(),
            stall_timeout_ms: default_stall_timeout(),
            probe_timeout_ms: default_probe_timeout(),
            statement_timeout_ms: default_statement_timeout(),
            unavailable_log_interval_ms: default_unavailable_log_interval(),
        }
    }
}

pub use crate::ids::valid_agency_id;

impl Config {
    /// Reads, overrides from the environment, resolves paths and validates.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "cannot read the configuration ({e}); `broker dev-init` writes a local one"
            ))
        })?;
        let env: Vec<(String, String)> = std::env::vars().collect();
        Self::parse(&text, path, &env)
    }

    /// Parses `text` as if read from `path`, with `env` as the environment.
    pub fn parse(text: &str, path: &Path, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.to_owned(),
            message,
        };
        let mut doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| fail(e.to_string()))?;
        apply_env(&mut doc, env).map_err(fail)?;
        let mut config: Config = toml::Value::Table(doc)
            .try_into()
            .map_err(|e: toml::de::Error| fail(e.message().to_owned()))?;
        let base = path.parent().unwrap_or(Path::new(".")).to_owned();
        config.resolve(&base);
        config.validate().map_err(fail)?;
        Ok(config)
    }

    fn resolve(&mut self, base: &Path) {
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        at(&mut self.server.tls_cert);
        at(&mut self.server.tls_key);
        at(&mut self.server.client_ca);
        if let Some(crl) = &mut self.server.client_crl {
            at(crl);
        }
        at(&mut self.storage.age_identity);
        match &mut self.audit.log_key {
            Some(key) => at(key),
            None => {
                self.audit.log_key = Some(base.join("audit-log.key"));
                self.audit.log_key_made_here = true;
            }
        }
        if self.audit.origin.is_none() {
            let base = self.console_base();
            let host = base.split_once("://").map_or(base.as_str(), |(_, h)| h);
            self.audit.origin = Some(format!("{host}/audit"));
        }
        match &mut self.policy.dir {
            Some(dir) => at(dir),
            None => {
                let beside = base.join("policies");
                if beside.is_dir() {
                    self.policy.dir = Some(beside);
                }
            }
        }
        for a in &mut self.agencies {
            if let Some(key) = &mut a.jwt_public_key {
                at(key);
            }
            for key in &mut a.jwt_public_keys {
                at(&mut key.path);
            }
        }
        if let Some(rest) = self.database.url.strip_prefix("sqlite://") {
            let (file, query) = rest.split_once('?').map_or((rest, ""), |(f, q)| (f, q));
            if !file.is_empty() && !file.starts_with('/') && file != ":memory:" {
                let joined = base.join(file);
                self.database.url = format!(
                    "sqlite://{}{}{}",
                    joined.display(),
                    if query.is_empty() { "" } else { "?" },
                    query
                );
            }
        }
    }

    fn validate(&self) -> Result<(), String> {
        let mut areas = HashSet::new();
        for area in &self.areas {
            if !valid_agency_id(&area.id) {
                return Err(format!(
                    "area id \"{}\" must be made of a-z, 0-9 and -",
                    area.id
                ));
            }
            if !areas.insert(area.id.as_str()) {
                return Err(format!("duplicate area id \"{}\"", area.id));
            }
            if area.name.trim().is_empty() {
                return Err(format!("area \"{}\": name is empty", area.id));
            }
        }
        let mut ids = HashSet::new();
        for a in &self.agencies {
            if let Some(served) = &a.areas {
                if served.is_empty() {
                    return Err(format!(
                        "agency \"{}\": areas is empty; list the areas it serves, or leave \
                         areas out for an agency that serves every area",
                        a.id
                    ));
                }
                if let Some(unknown) = served.iter().find(|s| !areas.contains(s.as_str())) {
                    return Err(format!(
                        "agency \"{}\": unknown area \"{unknown}\" (the [[areas]] are: {})",
                        a.id,
                        if self.areas.is_empty() {
                            "none".to_owned()
                        } else {
                            self.areas
                                .iter()
                                .map(|x| x.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ));
                }
            }
            if !valid_agency_id(&a.id) {
                return Err(format!(
                    "agency id \"{}\" must be made of a-z, 0-9 and -",
                    a.id
                ));
            }
            if !ids.insert(a.id.as_str()) {
                return Err(format!("duplicate agency id \"{}\"", a.id));
            }
            if a.jwt_issuer.is_empty() {
                return Err(format!("agency \"{}\": jwt_issuer is empty", a.id));
            }
            a.check_identity()?;
            if let Some(inbox) = &a.inbox_email {
                inbox.check(a)?;
            }
        }
        let s = &self.server;
        if s.max_body_bytes == 0 {
            return Err("server.max_body_bytes must be above 0".into());
        }
        if s.max_header_bytes < 4096 {
            return Err("server.max_header_bytes must be at least 4096".into());
        }
        for (key, value) in [
            ("tls_handshake_timeout_ms", s.tls_handshake_timeout_ms),
            ("header_read_timeout_ms", s.header_read_timeout_ms),
            ("body_read_timeout_ms", s.body_read_timeout_ms),
            ("idle_timeout_ms", s.idle_timeout_ms),
            ("max_token_lifetime_secs", s.max_token_lifetime_secs),
            ("refusal_log_interval_ms", s.refusal_log_interval_ms),
            (
                "max_connections_per_agency",
                s.max_connections_per_agency as u64,
            ),
            (
                "max_connections_per_client",
                s.max_connections_per_client as u64,
            ),
            (
                "max_connections_per_person",
                s.max_connections_per_person as u64,
            ),
        ] {
            if value == 0 {
                return Err(format!("server.{key} must be above 0"));
            }
        }
        let d = &self.database;
        for (key, value) in [
            ("acquire_timeout_ms", d.acquire_timeout_ms),
            ("round_trip_timeout_ms", d.round_trip_timeout_ms),
            ("stall_timeout_ms", d.stall_timeout_ms),
            ("probe_timeout_ms", d.probe_timeout_ms),
            ("statement_timeout_ms", d.statement_timeout_ms),
            ("unavailable_log_interval_ms", d.unavailable_log_interval_ms),
        ] {
            if value == 0 {
                return Err(format!("database.{key} must be above 0"));
            }
        }
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return Err("database.url must be sqlite://... or postgres://...".into());
        }
        if let Some(n) = &self.notify {
            n.check()?;
        }
        if self.policy.poll_seconds == 0 {
            return Err("policy.poll_seconds must be above 0".into());
        }
        self.audit.check()?;
        if let Some(m) = &self.metrics
            && m.listen == self.server.listen
            && m.listen.port() != 0
        {
            return Err(format!(
                "metrics.listen is server.listen ({}): the scrape endpoint needs a listener of its own",
                m.listen
            ));
        }
        if self.console.dev_sign_in && !self.server.listen.ip().is_loopback() {
            return Err(format!(
                "console.dev_sign_in is for the dev world only: the broker listens on {}, \
                 not on loopback",
                self.server.listen
            ));
        }
        Ok(())
    }

    pub fn agency(&self, id: &str) -> Option<&AgencyConfig> {
        self.agencies.iter().find(|a| a.id == id)
    }

    /// Where the console is reached: `[console] public_url`, or `https://` and `server.listen`.
    pub fn console_base(&self) -> String {
        match &self.console.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://{}", self.server.listen),
        }
    }
}

impl NotifyConfig {
    fn check(&self) -> Result<(), String> {
        let scheme = self.smtp_url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("smtp" | "smtps")) {
            return Err("notify.smtp_url must be smtp://host:port or smtps://host:port".into());
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err("notify.from is not an e-mail address".into());
        }
        for (key, value) in [
            ("attempts", u64::from(self.attempts)),
            ("retry_ms", self.retry_ms),
            ("timeout_ms", self.timeout_ms),
        ] {
            if value == 0 {
                return Err(format!("notify.{key} must be above 0"));
            }
        }
        if self.attempts > 20 {
            return Err("notify.attempts must be at most 20".into());
        }
        Ok(())
    }

    pub fn retry(&self) -> Duration {
        Duration::from_millis(self.retry_ms)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// `BROKER_<SECTION>_<KEY>=value` sets `[section] key`. Values are parsed as TOML when they
/// can be (numbers), otherwise taken as strings. An unknown section is refused.
fn apply_env(doc: &mut toml::Table, env: &[(String, String)]) -> Result<(), String> {
    const SECTIONS: &[&str] = &[
        "server", "database", "storage", "audit", "policy", "log", "console", "notify", "metrics",
    ];
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("BROKER_") else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        let Some((section, key)) = SECTIONS
            .iter()
            .find_map(|s| lower.strip_prefix(&format!("{s}_")).map(|k| (*s, k)))
        else {
            continue;
        };
        let parsed = match format!("v = {value}").parse::<toml::Table>() {
            Ok(mut t) if !matches!(t.get("v"), Some(toml::Value::String(_))) => {
                t.remove("v").unwrap_or(toml::Value::String(value.clone()))
            }
            _ => toml::Value::String(value.clone()),
        };
        let table = doc
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(table) = table.as_table_mut() else {
            return Err(format!("[{section}] is not a table"));
        };
        table.insert(key.to_owned(), parsed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8443"
tls_cert = "certs/dev/server.pem"
tls_key = "certs/dev/server.key"
client_ca = "certs/dev/ca.pem"
audience = "urn:broker"
max_body_bytes = 1048576

[database]
url = "sqlite://data/broker.db"

[storage]
age_identity = "certs/dev/broker-at-rest.age"

[audit]
log_key = "certs/dev/audit-log.key"

[[agencies]]
id = "school-hillside"
kind = "school"
name = "Hillside Primary School"
jwt_issuer = "https://idp.hillside.example"
jwt_public_key = "certs/dev/school-hillside.jwt.pub.pem"
age_recipient = "age1..."
"#;

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::parse(text, Path::new("/etc/broker/broker.toml"), &env)
    }

    #[test]
    fn the_example_from_the_contract_parses_with_paths_beside_the_file() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(
            c.server.tls_cert,
            Path::new("/etc/broker/certs/dev/server.pem")
        );
        assert_eq!(c.database.url, "sqlite:///etc/broker/data/broker.db");
        assert_eq!(c.agencies[0].kind, AgencyKind::School);
    }

    #[test]
    fn an_environment_variable_overrides_a_setting() {
        let c = parse(
            BASE,
            &[
                ("BROKER_DATABASE_URL", "postgres://u@h/db"),
                ("BROKER_SERVER_MAX_BODY_BYTES", "2048"),
            ],
        )
        .unwrap();
        assert_eq!(c.database.url, "postgres://u@h/db");
        assert_eq!(c.server.max_body_bytes, 2048);
    }

    #[test]
    fn the_policy_poll_has_a_default_and_refuses_zero() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(c.policy.poll_interval(), Duration::from_secs(5));
        let c = parse(BASE, &[("BROKER_POLICY_POLL_SECONDS", "1")]).unwrap();
        assert_eq!(c.policy.poll_seconds, 1);
        let e = parse(BASE, &[("BROKER_POLICY_POLL_SECONDS", "0")]).unwrap_err();
        assert!(e.message.contains("policy.poll_seconds"), "{e}");
    }

    #[test]
    fn the_timeouts_and_caps_have_defaults_and_refuse_zero() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(c.server.idle_timeout(), Duration::from_secs(60));
        assert_eq!(c.server.max_token_lifetime_secs, 3600);
        assert_eq!(c.server.max_connections_per_agency, 256);
        let e = parse(BASE, &[("BROKER_SERVER_IDLE_TIMEOUT_MS", "0")]).unwrap_err();
        assert!(e.message.contains("idle_timeout_ms"), "{e}");
        let e = parse(BASE, &[("BROKER_SERVER_MAX_HEADER_BYTES", "100")]).unwrap_err();
        assert!(e.message.contains("max_header_bytes"), "{e}");
    }

    #[test]
    fn the_database_bounds_have_defaults_and_refuse_zero() {
        let c = parse(BASE, &[]).unwrap();
        let b = crate::db::Bounds::of(&c.database);
        assert_eq!(b.acquire, Duration::from_secs(2));
        assert_eq!(b.round_trip, Duration::from_secs(2));
        assert_eq!(b.stall, Duration::from_secs(2));
        assert_eq!(b.probe, Duration::from_secs(1));
        assert_eq!(b.statement, Duration::from_secs(30));
        assert_eq!(
            c.database.unavailable_log_interval(),
            Duration::from_secs(10)
        );
        let c = parse(BASE, &[("BROKER_DATABASE_PROBE_TIMEOUT_MS", "250")]).unwrap();
        assert_eq!(
            crate::db::Bounds::of(&c.database).probe,
            Duration::from_millis(250)
        );
        let e = parse(BASE, &[("BROKER_DATABASE_ROUND_TRIP_TIMEOUT_MS", "0")]).unwrap_err();
        assert!(e.message.contains("database.round_trip_timeout_ms"), "{e}");
    }

    #[test]
    fn the_client_caps_and_the_crl_have_defaults_and_the_crl_path_is_resolved() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(c.server.max_connections_per_client, 128);
        assert_eq!(c.server.max_connections_per_person, 32);
        assert_eq!(c.server.client_crl, None);
        let c = parse(
            BASE,
            &[("BROKER_SERVER_CLIENT_CRL", "certs/partnership.crl")],
        )
        .unwrap();
        assert_eq!(
            c.server.client_crl.as_deref(),
            Some(Path::new("/etc/broker/certs/partnership.crl"))
        );
        for key in ["MAX_CONNECTIONS_PER_CLIENT", "MAX_CONNECTIONS_PER_PERSON"] {
            let var = format!("BROKER_SERVER_{key}");
            let e = parse(BASE, &[(var.as_str(), "0")]).unwrap_err();
            assert!(e.message.contains(&key.to_ascii_lowercase()), "{e}");
        }
    }

    #[test]
    fn the_dev_sign_in_is_refused_unless_the_broker_listens_on_loopback() {
        let dev = BASE.replace("[database]", "[console]\ndev_sign_in = true\n\n[database]");
        assert!(parse(&dev, &[]).unwrap().console.dev_sign_in);
        for listen in ["0.0.0.0:8443", "192.0.2.10:8443", "[::]:8443"] {
            let e = parse(&dev, &[("BROKER_SERVER_LISTEN", listen)]).unwrap_err();
            assert!(
                e.message.contains("console.dev_sign_in") && e.message.contains("loopback"),
                "{listen}: {e}"
            );
            assert!(
                parse(BASE, &[("BROKER_SERVER_LISTEN", listen)]).is_ok(),
                "{listen}"
            );
        }
        assert!(parse(&dev, &[("BROKER_SERVER_LISTEN", "[::1]:8443")]).is_ok());
    }

    #[test]
    fn an_agency_names_its_identity_provider_for_the_console() {
        let with = BASE.replace(
            "age_recipient = \"age1...\"",
            "age_recipient = \"age1...\"\noidc = { issuer = \"https://login.hillside.example\", client_id = \"broker\" }",
        );
        let c = parse(&with, &[]).unwrap();
        let oidc = c.agencies[0].oidc.as_ref().expect("an identity provider");
        assert_eq!(oidc.issuer, "https://login.hillside.example");
        assert_eq!(c.agencies[0].console_roles_claim(), "roles");
        assert_eq!(oidc.roles_claim, None);
        let e = parse(&with.replace("client_id", "client"), &[]).unwrap_err();
        assert!(e.message.contains("client"), "{e}");
    }

    #[test]
    fn the_metrics_listener_is_optional_and_never_the_gateways_own() {
        assert!(
            parse(BASE, &[]).unwrap().metrics.is_none(),
            "no [metrics], no listener"
        );
        let with = |listen: &str| {
            BASE.replace(
                "[database]",
                &format!("[metrics]\nlisten = \"{listen}\"\n\n[database]"),
            )
        };
        let c = parse(&with("127.0.0.1:9464"), &[]).unwrap();
        assert_eq!(c.metrics.unwrap().listen.port(), 9464);
        let e = parse(&with("127.0.0.1:8443"), &[]).unwrap_err();
        assert!(e.message.contains("metrics.listen is server.listen"), "{e}");
        let e = parse(
            &with("127.0.0.1:9464").replace("9464\"", "9464\"\npath = \"/m\""),
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("path"), "an unknown key is refused: {e}");
        let c = parse(BASE, &[("BROKER_METRICS_LISTEN", "127.0.0.1:9500")]).unwrap();
        assert_eq!(c.metrics.unwrap().listen.port(), 9500);
    }

    #[test]
    fn an_agency_maps_its_providers_claims_and_names_its_keys_by_kid_or_jwks() {
        let key_line = "jwt_public_key = \"certs/dev/school-hillside.jwt.pub.pem\"";
        let entra = BASE.replace(
            key_line,
            "jwks_url = \"https://login.example/keys\"\n\
             jwt_public_keys = [{ kid = \"a\", path = \"keys/a.pem\" }]",
        ) + "[agencies.identity]\nroles_claim = \"groups\"\nuser_claim = \"oid\"\n\
              role_map = { \"1f6e\" = \"dsl\" }\nbound_claims = { tid = \"t1\", amr = [\"mfa\", \"pwd\"] }\n";
        let c = parse(&entra, &[]).unwrap();
        let a = &c.agencies[0];
        assert_eq!(a.jwt_public_key, None);
        assert_eq!(
            a.jwt_public_keys[0].path,
            Path::new("/etc/broker/keys/a.pem")
        );
        assert_eq!(
            (a.api_roles_claim(), a.console_roles_claim()),
            ("groups", "groups")
        );
        let identity = a.identity.as_ref().unwrap();
        assert_eq!(identity.user_claim(), "oid");
        assert_eq!(identity.bound_claims["amr"].values(), ["mfa", "pwd"]);
        for (bad, says) in [
            (entra.replace("\"dsl\"", "\"police_officer\""), "police_officer"),
            (entra.replace("https://login", "http://login"), "jwks_url"),
            (entra.replace("kid = \"a\"", "kid = \"\""), "empty kid"),
            (
                BASE.replace(key_line, ""),
                "set jwt_public_key, jwt_public_keys or jwks_url",
            ),
            (
                entra.replace(
                    "age_recipient = \"age1...\"",
                    "age_recipient = \"age1...\"\noidc = { issuer = \"https://x\", client_id = \"b\", \
                     roles_claim = \"roles\" }",
                ),
                "differ",
            ),
        ] {
            let e = parse(&bad, &[]).unwrap_err();
            assert!(e.message.contains(says), "{says}: {e}");
        }
        // loopback may be plain http (a provider beside the broker)
        assert!(
            parse(
                &entra.replace("https://login.example", "http://127.0.0.1:9"),
                &[]
            )
            .is_ok()
        );
    }

    #[test]
    fn the_mail_of_a_waiting_packet_is_configured_per_agency_or_per_role() {
        let mail = BASE.replace(
            "[database]",
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:2525\"\nfrom = \"broker@partnership.example\"\n\n[database]",
        );
        let one = mail.replace(
            "age_recipient = \"age1...\"",
            "age_recipient = \"age1...\"\ninbox_email = \"office@hillside.example\"",
        );
        let c = parse(&one, &[]).unwrap();
        let n = c.notify.as_ref().expect("[notify]");
        assert_eq!(
            (n.attempts, n.retry(), n.timeout()),
            (5, Duration::from_secs(2), Duration::from_secs(10))
        );
        let inbox = c.agencies[0].inbox_email.as_ref().unwrap();
        assert_eq!(inbox.for_role(Some("dsl")), Some("office@hillside.example"));
        assert_eq!(inbox.for_role(None), Some("office@hillside.example"));

        let by_role = mail.replace(
            "age_recipient = \"age1...\"",
            "age_recipient = \"age1...\"\ninbox_email = { dsl = \"dsl@hillside.example\", default = \"office@hillside.example\" }",
        );
        let c = parse(&by_role, &[("BROKER_NOTIFY_ATTEMPTS", "3")]).unwrap();
        assert_eq!(
            c.notify.as_ref().unwrap().attempts,
            3,
            "overridden from the environment"
        );
        let inbox = c.agencies[0].inbox_email.as_ref().unwrap();
        assert_eq!(inbox.for_role(Some("dsl")), Some("dsl@hillside.example"));
        assert_eq!(
            inbox.for_role(Some("school_staff")),
            Some("office@hillside.example")
        );
        assert_eq!(inbox.for_role(None), Some("office@hillside.example"));
        let dsl_only = by_role.replace(", default = \"office@hillside.example\"", "");
        let c = parse(&dsl_only, &[]).unwrap();
        assert_eq!(
            c.agencies[0].inbox_email.as_ref().unwrap().for_role(None),
            None
        );

        for (text, says) in [
            (by_role.replace("dsl =", "dls ="), "unknown role \"dls\""),
            (by_role.replace("dsl =", "police_officer ="), "cannot hold"),
            (
                one.replace("office@hillside.example", "office"),
                "not an e-mail address",
            ),
            (mail.replace("smtp://", "http://"), "notify.smtp_url"),
            (
                mail.replace("broker@partnership.example", "broker"),
                "notify.from",
            ),
            (mail.replace("from =", "sender ="), "sender"),
        ] {
            let e = parse(&text, &[]).unwrap_err();
            assert!(e.message.contains(says), "{says}: {e}");
        }
        let e = parse(&mail, &[("BROKER_NOTIFY_ATTEMPTS", "0")]).unwrap_err();
        assert!(e.message.contains("notify.attempts"), "{e}");
        assert!(
            parse(BASE, &[]).unwrap().notify.is_none(),
            "no [notify], no mail"
        );
    }

    #[test]
    fn the_audit_section_has_defaults_for_its_key_origin_and_interval() {
        let c = parse(BASE, &[]).unwrap();
        assert_eq!(
            c.audit.log_key(),
            Path::new("/etc/broker/certs/dev/audit-log.key")
        );
        assert_eq!(c.audit.origin(), "127.0.0.1:8443/audit");
        assert_eq!(c.audit.checkpoint_interval(), Duration::from_secs(300));
        let c = parse(
            BASE,
            &[("BROKER_CONSOLE_PUBLIC_URL", "https://broker.example/")],
        )
        .unwrap();
        assert_eq!(c.audit.origin(), "broker.example/audit");
        let c = parse(
            BASE,
            &[
                ("BROKER_AUDIT_ORIGIN", "partnership.example/log"),
                ("BROKER_AUDIT_CHECKPOINT_INTERVAL_SECONDS", "86400"),
            ],
        )
        .unwrap();
        assert_eq!(c.audit.origin(), "partnership.example/log");
        assert_eq!(c.audit.checkpoint_interval_seconds, 86_400);

        for (var, value, says) in [
            (
                "BROKER_AUDIT_CHECKPOINT_INTERVAL_SECONDS",
                "0",
                "from 1 to 86400",
            ),
            (
                "BROKER_AUDIT_CHECKPOINT_INTERVAL_SECONDS",
                "86401",
                "from 1 to 86400",
            ),
            ("BROKER_AUDIT_ORIGIN", "a log", "audit.origin"),
            ("BROKER_AUDIT_ORIGIN", "a+log", "no +"),
            ("BROKER_AUDIT_ORIGIN", "", "audit.origin is empty"),
        ] {
            let e = parse(BASE, &[(var, value)]).unwrap_err();
            assert!(e.message.contains(says), "{var}={value}: {e}");
        }
        assert!(!c.audit.log_key_made_here, "a named key is never made");
        let without = BASE.replace("[audit]\nlog_key = \"certs/dev/audit-log.key\"\n", "");
        assert_ne!(without, BASE);
        let c = parse(&without, &[]).expect("a broker.toml without [audit] loads");
        assert_eq!(c.audit.log_key(), Path::new("/etc/broker/audit-log.key"));
        assert!(c.audit.log_key_made_here);
        assert_eq!(c.audit.origin(), "127.0.0.1:8443/audit");
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        let e = parse(&BASE.replace("audience", "audiense"), &[]).unwrap_err();
        assert!(e.message.contains("audiense"), "{e}");
    }

    #[test]
    fn an_unknown_key_from_the_environment_is_refused() {
        let e = parse(BASE, &[("BROKER_SERVER_LISTN", "x")]).unwrap_err();
        assert!(e.message.contains("listn"), "{e}");
    }

    #[test]
    fn an_unknown_agency_kind_is_refused_by_name() {
        let e = parse(
            &BASE.replace("kind = \"school\"", "kind = \"academy\""),
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("unknown agency kind \"academy\""), "{e}");
    }

    #[test]
    fn areas_and_the_areas_an_agency_serves_are_read_and_checked() {
        let two = format!(
            "[[areas]]\nid = \"north\"\nname = \"Northshire\"\n\n[[areas]]\nid = \"south\"\nname = \"Southshire\"\n{}",
            BASE.replace(
                "age_recipient = \"age1...\"",
                "age_recipient = \"age1...\"\nareas = [\"south\"]"
            )
        );
        let c = parse(&two, &[]).unwrap();
        assert_eq!(c.areas.len(), 2);
        assert_eq!(
            c.agencies[0].areas.as_deref(),
            Some(&["south".to_owned()][..])
        );
        let e = parse(
            &two.replace("areas = [\"south\"]", "areas = [\"east\"]"),
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("unknown area \"east\""), "{e}");
        assert!(e.message.contains("north, south"), "{e}");
        let e = parse(&two.replace("areas = [\"south\"]", "areas = []"), &[]).unwrap_err();
        assert!(e.message.contains("areas is empty"), "{e}");
        let e = parse(&two.replace("id = \"south\"", "id = \"north\""), &[]).unwrap_err();
        assert!(e.message.contains("duplicate area id \"north\""), "{e}");
        let e = parse(&two.replace("id = \"south\"", "id = \"South\""), &[]).unwrap_err();
        assert!(e.message.contains("area id \"South\""), "{e}");
        let one = BASE.replace(
            "age_recipient = \"age1...\"",
            "age_recipient = \"age1...\"\nareas = [\"north\"]",
        );
        let e = parse(&one, &[]).unwrap_err();
        assert!(
            e.message
                .contains("unknown area \"north\" (the [[areas]] are: none)"),
            "{e}"
        );
    }

    #[test]
    fn a_duplicate_agency_id_is_refused() {
        let twice = format!("{BASE}{}", &BASE[BASE.find("[[agencies]]").unwrap()..]);
        let e = parse(&twice, &[]).unwrap_err();
        assert!(
            e.message
                .contains("duplicate agency id \"school-hillside\""),
            "{e}"
        );
    }

    #[test]
    fn an_agency_id_outside_the_alphabet_is_refused() {
        let e = parse(
            &BASE.replace("id = \"school-hillside\"", "id = \"School Hillside\""),
            &[],
        )
        .unwrap_err();
        assert!(e.message.contains("a-z, 0-9"), "{e}");
    }
}
