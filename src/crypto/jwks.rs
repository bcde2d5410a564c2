//! An agency's JWT verification keys: the files `broker.toml` names (`jwt_public_key`, one key
//! whose `kid` is not looked at; `jwt_public_keys`, each with its `kid`) and the keys its
//! identity provider publishes at `jwks_url`, cached as the provider's `Cache-Control:
//! max-age` says and fetched again when a token names a `kid` the cache lacks, at most once a
//! minute.
//!
//! A token without `kid` is verified only when the agency has exactly one key: trying each
//! key in turn would cost a signature check per key for every forged token and blur which key
//! was meant; every provider that publishes a JWKS puts the `kid` in its tokens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use arc_swap::ArcSwap;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::JwtKey;

/// An unknown `kid` fetches the JWKS again at most this often.
pub const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(60);
/// A JWKS is kept at least this long whatever its `max-age` (`no-cache` included), so that a
/// busy agency does not fetch it for every request.
pub const MIN_FRESH: Duration = Duration::from_secs(5);
/// ... and at most this long.
pub const MAX_FRESH: Duration = Duration::from_secs(86_400);
/// Without `max-age`, a JWKS is kept this long.
pub const DEFAULT_FRESH: Duration = Duration::from_secs(3_600);
/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Why no key verifies a token.
#[derive(Debug, PartialEq, Eq)]
pub enum NoKey {
    /// The token has no `kid` and the agency has this many keys.
    KidRequired(usize),
    /// No key of the agency has the token's `kid`.
    UnknownKid,
    /// The agency's keys are only at its `jwks_url`, which cannot be fetched now.
    Unavailable,
}

/// The keys of one agency.
pub struct AgencyKeys {
    fixed: Vec<Arc<JwtKey>>,
    remote: Option<Jwks>,
}

/// A provider's published key set and what the broker has of it.
struct Jwks {
    url: String,
    http: reqwest::Client,
    held: ArcSwap<Held>,
    /// Held while fetching, so that concurrent requests fetch once.
    fetching: tokio::sync::Mutex<Fetches>,
}

#[derive(Default)]
struct Held {
    keys: Vec<Arc<JwtKey>>,
    /// `None`: never fetched.
    fresh_until: Option<Instant>,
}

#[derive(Default)]
struct Fetches {
    last: Option<Instant>,
    last_for_unknown_kid: Option<Instant>,
    count: u64,
}

impl AgencyKeys {
    /// The files' keys and, with `jwks_url`, the provider's (fetched when first needed).
    pub fn new(fixed: Vec<JwtKey>, jwks_url: Option<&str>) -> anyhow::Result<AgencyKeys> {
        let remote = match jwks_url {
            Some(url) => Some(Jwks {
                url: url.to_owned(),
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_secs(10))
                    .build()
                    .context("building the JWKS client")?,
                held: ArcSwap::from_pointee(Held::default()),
                fetching: tokio::sync::Mutex::new(Fetches::default()),
            }),
            None => None,
        };
        Ok(AgencyKeys {
            fixed: fixed.into_iter().map(Arc::new).collect(),
            remote,
        })
    }

    /// How many times the JWKS has been fetched (tests and diagnostics).
    pub async fn jwks_fetches(&self) -> u64 {
        match &self.remote {
            Some(r) => r.fetching.lock().await.count,
            None => 0,
        }
    }

    /// The key that verifies a token with header `kid`.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<JwtKey>, NoKey> {
        if let Some(remote) = &self.remote {
            remote.refresh_if_stale().await;
        }
        let all = self.all();
        let Some(kid) = kid else {
            return match &*all {
                [one] => Ok(one.clone()),
                [] => Err(NoKey::Unavailable),
                many => Err(NoKey::KidRequired(many.len())),
            };
        };
        if let Some(key) = find(&all, kid) {
            return Ok(key);
        }
        if let Some(remote) = &self.remote {
            remote.refresh_for_unknown_kid().await;
            if let Some(key) = find(&self.all(), kid) {
                return Ok(key);
            }
            if remote.held.load().fresh_until.is_none() && self.fixed.is_empty() {
                return Err(NoKey::Unavailable);
            }
        }
        // the one key of `jwt_public_key`: a token's kid was never looked at
        match &*self.all() {
            [one] if one.kid.is_none() => Ok(one.clone()),
            _ => Err(NoKey::UnknownKid),
        }
    }

    /// The keys held: the files' alone (borrowed: no allocation on the path of every token),
    /// or with the provider's.
    fn all(&self) -> std::borrow::Cow<'_, [Arc<JwtKey>]> {
        match &self.remote {
            None => std::borrow::Cow::Borrowed(&self.fixed),
            Some(remote) => {
                let mut all = self.fixed.clone();
                all.extend(remote.held.load().keys.iter().cloned());
                std::borrow::Cow::Owned(all)
            }
        }
    }
}

fn find(keys: &[Arc<JwtKey>], kid: &str) -> Option<Arc<JwtKey>> {
    keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned()
}

impl Jwks {
    async fn refresh_if_stale(&self) {
        let stale = |held: &Held| held.fresh_until.is_none_or(|t| Instant::now() >= t);
        if !stale(&self.held.load()) {
            return;
        }
        let mut fetches = self.fetching.lock().await;
        // another request may have fetched while this one waited
        if !stale(&self.held.load()) {
            return;
        }
        if fetches.last.is_some_and(|t| t.elapsed() < MIN_FRESH) {
            return;
        }
        self.fetch(&mut fetches).await;
    }

    async fn refresh_for_unknown_kid(&self) {
        let mut fetches = self.fetching.lock().await;
        if fetches
            .last_for_unknown_kid
            .is_some_and(|t| t.elapsed() < UNKNOWN_KID_REFETCH)
        {
            return;
        }
        fetches.last_for_unknown_kid = Some(Instant::now());
        self.fetch(&mut fetches).await;
    }

    /// Fetches the JWKS; on failure the keys held are kept and the failure logged (without
    /// the document, which is the provider's).
    async fn fetch(&self, fetches: &mut Fetches) {
        fetches.last = Some(Instant::now());
        fetches.count += 1;
        match self.get().await {
            Ok((keys, fresh_for)) => {
                tracing::info!(
                    url = %crate::text::escape(&self.url),
                    keys = keys.len(),
                    fresh_secs = fresh_for.as_secs(),
                    "fetched an agency's JWKS"
                );
                self.held.store(Arc::new(Held {
                    keys: keys.into_iter().map(Arc::new).collect(),
                    fresh_until: Some(Instant::now() + fresh_for),
                }));
            }
            Err(e) => {
                tracing::warn!(
                    url = %crate::text::escape(&self.url),
                    error = %crate::text::escape(&format!("{e:#}")),
                    "cannot fetch an agency's JWKS; keeping the keys held"
                );
            }
        }
    }

    async fn get(&self) -> anyhow::Result<(Vec<JwtKey>, Duration)> {
        let mut response = self
            .http
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("the JWKS URL answered {}", response.status());
        }
        let fresh_for = fresh_for(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                bail!("the JWKS is larger than {MAX_JWKS_BYTES} bytes");
            }
        }
        Ok((parse_jwks(&body)?, fresh_for))
    }
}

/// How long a response may be kept: its `max-age` (`no-cache`, `no-store`: none), within
/// [`MIN_FRESH`] and [`MAX_FRESH`]; without either, [`DEFAULT_FRESH`].
pub fn fresh_for(cache_control: Option<&str>) -> Duration {
    let mut fresh = DEFAULT_FRESH;
    for directive in cache_control.unwrap_or_default().split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return MIN_FRESH;
        }
        if let Some(secs) = directive.strip_prefix("max-age=") {
            fresh = secs
                .trim_matches('"')
                .parse::<u64>()
                .map(Duration::from_secs)
                .unwrap_or(Duration::ZERO);
        }
    }
    fresh.clamp(MIN_FRESH, MAX_FRESH)
}

/// The signing keys of a JWKS document (RFC 7517) the broker can verify with: RSA of 2048
/// bits or more (RS256), P-256 (ES256), Ed25519 (EdDSA), each with a `kid`. Encryption keys,
/// symmetric keys and other kinds are left out; a document with none usable is refused.
pub fn parse_jwks(body: &[u8]) -> anyhow::Result<Vec<JwtKey>> {
    let doc: Value = serde_json::from_slice(body).context("the JWKS is not JSON")?;
    let entries = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the JWKS has no \"keys\" array"))?;
    let mut keys = Vec::new();
    let mut skipped = 0;
    for entry in entries {
        match jwk(entry) {
            Ok(Some(key)) => keys.push(key),
            Ok(None) => skipped += 1,
            Err(e) => {
                skipped += 1;
                tracing::debug!(error = %e, "a JWKS key left out");
            }
        }
    }
    if keys.is_empty() {
        bail!("the JWKS has no usable signing key ({skipped} left out)");
    }
    Ok(keys)
}

/// One JWK as a verification key; `None` for a key that is not for signing.
fn jwk(entry: &Value) -> anyhow::Result<Option<JwtKey>> {
    let text = |name: &str| entry.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    let kid = text("kid").ok_or_else(|| anyhow!("a key without kid"))?;
    let need = |name: &str| text(name).ok_or_else(|| anyhow!("key {kid}: no \"{name}\""));
    let (algorithm, key) = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => {
            let n = need("n")?;
            let bits = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(n.trim_end_matches('='))
                .map(|b| b.iter().skip_while(|x| **x == 0).count() * 8)
                .context("a malformed modulus")?;
            if bits < 2048 {
                bail!("key {kid}: RSA of {bits} bits is too weak");
            }
            (
                Algorithm::RS256,
                DecodingKey::from_rsa_components(n, need("e")?)?,
            )
        }
        (Some("EC"), Some("P-256")) => (
            Algorithm::ES256,
            DecodingKey::from_ec_components(need("x")?, need("y")?)?,
        ),
        (Some("OKP"), Some("Ed25519")) => (
            Algorithm::EdDSA,
            DecodingKey::from_ed_components(need("x")?)?,
        ),
        _ => return Ok(None),
    };
    if let Some(alg) = text("alg")
        && alg != format!("{algorithm:?}")
    {
        return Ok(None);
    }
    Ok(Some(JwtKey {
        kid: Some(kid.to_owned()),
        algorithm,
        key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_honoured_within_the_bounds() {
        assert_eq!(
            fresh_for(Some("public, max-age=300")),
            Duration::from_secs(300)
        );
        assert_eq!(fresh_for(Some("max-age=0")), MIN_FRESH);
        assert_eq!(fresh_for(Some("no-cache")), MIN_FRESH);
        assert_eq!(fresh_for(Some("max-age=99999999")), MAX_FRESH);
        assert_eq!(fresh_for(None), DEFAULT_FRESH);
    }

    #[test]
    fn a_jwks_keeps_its_signing_keys_and_leaves_the_rest_out() {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
        let doc = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed25519", "kid": "a", "x": x, "use": "sig"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "b", "x": x, "use": "enc"},
            {"kty": "oct", "kid": "c", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "d", "n": "AQAB", "e": "AQAB"},
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("a"));
        assert_eq!(keys[0].algorithm, Algorithm::EdDSA);
        assert!(parse_jwks(br#"{"keys": []}"#).is_err());
    }
}
