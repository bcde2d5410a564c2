//! Bearer tokens an agency's key verified lately (`identity::jwt` keeps and takes them), so that a client reusing its token (as
//! OAuth clients do until it expires) is not verified again on every request: signature
//! verification (Ed25519 or RSA) is most of the CPU of an authenticated request that does no
//! other work.
//!
//! A token is kept under the SHA-256 of its text (the token itself is not kept), per agency
//! (the certificate's), with the person its claims named. It is taken from here only while it
//! would still verify: until its `exp` plus the leeway `identity::jwt::verify` allows, for at
//! most [`KEEP_SECONDS`] after it was verified, and only while the key that verified it is
//! still the agency's key for the token's `kid` (the caller asks `AgencyKeys::key_for` again,
//! which also refetches a published key set past its max-age): a key withdrawn from an
//! agency's `jwks_url` stops its tokens here as it does everywhere. Every other check is a
//! function of the token's text and the agency's configuration, which does not change while
//! the broker runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::JwtKey;
use crate::vocab::Role;

/// The longest a verified token is taken from here before it is verified again.
pub const KEEP_SECONDS: i64 = 60;
/// The tokens kept at most per agency; a full cache first lets go of those past their time.
const TOKENS: usize = 4096;

/// One agency's verified tokens.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    tokens: Mutex<HashMap<[u8; 32], Kept>>,
}

/// A token verified lately: the person it named (`sub` and roles, as the identity layer read
/// them), the `kid` its header named and the key that verified it.
#[derive(Clone)]
pub struct Kept {
    pub sub: String,
    pub roles: Vec<Role>,
    pub kid: Option<String>,
    pub key: Arc<JwtKey>,
    /// Unix seconds from which the token is verified again.
    until: i64,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("sub", &self.sub)
            .field("roles", &self.roles)
            .field("kid", &self.kid)
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
}

fn token_id(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// What `token` was verified as, if that was lately enough and it is still within its
    /// lifetime (the caller checks the key is still the agency's).
    pub fn get(&self, token: &str, now: i64) -> Option<Kept> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(&token_id(token))
            .filter(|k| now < k.until)
            .cloned()
    }

    /// Keeps `token`, verified at `now` by `key` (chosen by the header's `kid`), with the
    /// person it names, until `expires` (its `exp` plus the leeway) or [`KEEP_SECONDS`] from
    /// now, whichever is sooner.
    pub fn keep(
        &self,
        token: &str,
        (sub, roles): (&str, &[Role]),
        kid: Option<&str>,
        key: Arc<JwtKey>,
        now: i64,
        expires: i64,
    ) {
        let until = expires.min(now + KEEP_SECONDS);
        if until <= now {
            return;
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= TOKENS {
            tokens.retain(|_, k| now < k.until);
            if tokens.len() >= TOKENS {
                tokens.clear();
            }
        }
        tokens.insert(
            token_id(token),
            Kept {
                sub: sub.to_owned(),
                roles: roles.to_vec(),
                kid: kid.map(str::to_owned),
                key,
                until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> (&'static str, &'static [Role]) {
        ("sw.1", &[Role::SocialWorker])
    }

    fn a_key() -> Arc<JwtKey> {
        Arc::new(JwtKey {
            kid: None,
            algorithm: jsonwebtoken::Algorithm::EdDSA,
            key: jsonwebtoken::DecodingKey::from_ed_der(&[7u8; 32]),
        })
    }

    #[test]
    fn a_kept_token_is_taken_until_it_expires_or_has_been_kept_a_minute() {
        let cache = VerifiedTokens::default();
        cache.keep("t1", claims(), None, a_key(), 1_000, 1_030);
        assert_eq!(cache.get("t1", 1_029).map(|k| k.sub), Some("sw.1".into()));
        assert!(cache.get("t1", 1_030).is_none(), "past its exp and leeway");
        cache.keep("t2", claims(), Some("k1"), a_key(), 1_000, 5_000);
        assert_eq!(
            cache.get("t2", 1_059).and_then(|k| k.kid),
            Some("k1".into())
        );
        assert!(cache.get("t2", 1_060).is_none(), "kept at most a minute");
        assert!(cache.get("t3", 1_001).is_none(), "never verified");
    }

    #[test]
    fn an_expired_token_is_not_kept_and_a_full_cache_lets_go_of_the_stale_first() {
        let cache = VerifiedTokens::default();
        cache.keep("old", claims(), None, a_key(), 1_000, 999);
        assert!(cache.get("old", 1_000).is_none());
        for i in 0..TOKENS {
            cache.keep(&format!("t{i}"), claims(), None, a_key(), 1_000, 1_010);
        }
        cache.keep("fresh", claims(), None, a_key(), 1_020, 2_000);
        assert!(cache.get("fresh", 1_021).is_some());
        assert!(
            cache.get("t0", 1_005).is_none(),
            "the stale ones were let go"
        );
    }
}
