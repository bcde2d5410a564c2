//! An agency's identity provider as it is (issue 25): several JWT keys by `kid`, a JWKS URL,
//! and `[agencies.identity]`, the mapping from the provider's claims to the broker's person,
//! modelled on Vault's JWT/OIDC auth roles. One mapping serves both the API's bearer tokens and
//! the console's ID tokens.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Deserialize;

use super::AgencyConfig;
use crate::vocab::Role;

/// `jwt_public_keys = [{kid = "2026-01", path = "keys/2026-01.pem"}]`: one of an agency's
/// verification keys, chosen by the token header's `kid`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    pub kid: String,
    pub path: PathBuf,
}

/// One accepted value of a bound claim, or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Bound {
    One(String),
    Any(Vec<String>),
}

impl Bound {
    /// The accepted values.
    pub fn values(&self) -> &[String] {
        match self {
            Bound::One(v) => std::slice::from_ref(v),
            Bound::Any(v) => v,
        }
    }
}

/// `[agencies.identity]`: how the provider's tokens name the person and the roles.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The claim holding the roles or groups (a string or an array of strings); unset:
    /// `roles` (the console: `[agencies.oidc] roles_claim` if that is set).
    #[serde(default)]
    pub roles_claim: Option<String>,
    /// The provider's role or group values to the broker's roles; values not listed are
    /// ignored. Empty: the claim holds the broker's role names themselves.
    #[serde(default)]
    pub role_map: BTreeMap<String, Role>,
    /// The claim naming the person (the broker's `sub`); unset: `sub`.
    #[serde(default)]
    pub user_claim: Option<String>,
    /// Claims the token must carry with one of the given values (`tid` = the council's tenant).
    #[serde(default)]
    pub bound_claims: BTreeMap<String, Bound>,
}

impl IdentityConfig {
    pub fn user_claim(&self) -> &str {
        self.user_claim.as_deref().unwrap_or("sub")
    }
}

impl AgencyConfig {
    /// The claim holding roles in the API's bearer tokens.
    pub fn api_roles_claim(&self) -> &str {
        self.identity
            .as_ref()
            .and_then(|i| i.roles_claim.as_deref())
            .unwrap_or("roles")
    }

    /// The claim holding roles in the console's ID tokens.
    pub fn console_roles_claim(&self) -> &str {
        self.identity
            .as_ref()
            .and_then(|i| i.roles_claim.as_deref())
            .or_else(|| self.oidc.as_ref().and_then(|o| o.roles_claim.as_deref()))
            .unwrap_or("roles")
    }

    /// The key settings and `[agencies.identity]` are coherent.
    pub(super) fn check_identity(&self) -> Result<(), String> {
        let id = &self.id;
        if self.jwt_public_key.is_none()
            && self.jwt_public_keys.is_empty()
            && self.jwks_url.is_none()
        {
            return Err(format!(
                "agency \"{id}\": no JWT key: set jwt_public_key, jwt_public_keys or jwks_url"
            ));
        }
        let mut kids = HashSet::new();
        for k in &self.jwt_public_keys {
            if k.kid.trim().is_empty() {
                return Err(format!(
                    "agency \"{id}\": a jwt_public_keys entry has an empty kid"
                ));
            }
            if !kids.insert(k.kid.as_str()) {
                return Err(format!(
                    "agency \"{id}\": jwt_public_keys names kid \"{}\" twice",
                    k.kid
                ));
            }
        }
        if let Some(url) = &self.jwks_url {
            check_jwks_url(url).map_err(|why| format!("agency \"{id}\": jwks_url {why}"))?;
        }
        let Some(identity) = &self.identity else {
            return Ok(());
        };
        if let (Some(a), Some(b)) = (
            identity.roles_claim.as_deref(),
            self.oidc.as_ref().and_then(|o| o.roles_claim.as_deref()),
        ) && a != b
        {
            return Err(format!(
                "agency \"{id}\": [agencies.identity] roles_claim \"{a}\" and [agencies.oidc] \
                 roles_claim \"{b}\" differ; set it once, in [agencies.identity]"
            ));
        }
        for (name, value) in [
            ("roles_claim", identity.roles_claim.as_deref()),
            ("user_claim", identity.user_claim.as_deref()),
        ] {
            if value.is_some_and(|v| v.trim().is_empty()) {
                return Err(format!(
                    "agency \"{id}\": [agencies.identity] {name} is empty"
                ));
            }
        }
        for (value, role) in &identity.role_map {
            if !role.valid_for(self.kind) {
                return Err(format!(
                    "agency \"{id}\": [agencies.identity] role_map maps \"{value}\" to {role}, \
                     a role a {} agency cannot hold",
                    self.kind
                ));
            }
        }
        for (claim, bound) in &identity.bound_claims {
            if bound.values().is_empty() || bound.values().iter().any(|v| v.is_empty()) {
                return Err(format!(
                    "agency \"{id}\": [agencies.identity] bound_claims.{claim} needs a value \
                     or a list of non-empty values"
                ));
            }
        }
        Ok(())
    }
}

/// A JWKS is fetched over HTTPS; plain HTTP only from this host (a provider beside the broker,
/// or a test).
fn check_jwks_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("is not a URL ({e})"))?;
    let host = parsed.host_str().ok_or("has no host")?;
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        other => Err(format!(
            "must be https:// (http:// only on loopback), not {other}://"
        )),
    }
}
