//! Bearer tokens an agency's key verified lately, so that a client reusing its token (as
//! OAuth clients do until it expires) is not verified again on every request: signature
//! verification (Ed25519 or RSA) is most of the CPU of an authenticated request that does no
//! other work.
//!
//! A token is kept under the SHA-256 of its text (the token itself is not kept), per agency
//! (the certificate's), with the person its claims named. It is taken from here only while it
//! would still verify: until its `exp` plus the leeway [`super::jwt::verify`] allows, and for
//! at most [`KEEP_SECONDS`] after it was verified, so an agency's key withdrawn from its
//! published keys (`jwks_url`) stops being honoured through here within that time, as it does
//! through the JWKS cache. Every other check is a function of the token's text and the
//! agency's configuration, which does not change while the broker runs.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::person::Claims;

/// The longest a verified token is taken from here before it is verified again.
pub const KEEP_SECONDS: i64 = 60;
/// The tokens kept at most per agency; a full cache first lets go of those past their time.
const TOKENS: usize = 4096;

/// One agency's verified tokens.
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    tokens: Mutex<HashMap<[u8; 32], Kept>>,
}

#[derive(Debug)]
struct Kept {
    claims: Claims,
    /// Unix seconds from which the token is verified again.
    until: i64,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// The person `token` named when it was verified, if that was lately enough and it is
    /// still within its lifetime.
    pub fn get(&self, token: &str, now: i64) -> Option<Claims> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(&key(token))
            .filter(|k| now < k.until)
            .map(|k| k.claims.clone())
    }

    /// Keeps `token`, verified at `now`, with the person it names, until `expires` (its `exp`
    /// plus the leeway) or [`KEEP_SECONDS`] from now, whichever is sooner.
    pub fn keep(&self, token: &str, claims: &Claims, now: i64, expires: i64) {
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
            key(token),
            Kept {
                claims: claims.clone(),
                until,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Role;

    fn claims() -> Claims {
        Claims {
            sub: "sw.1".into(),
            roles: vec![Role::SocialWorker],
        }
    }

    #[test]
    fn a_kept_token_is_taken_until_it_expires_or_has_been_kept_a_minute() {
        let cache = VerifiedTokens::default();
        cache.keep("t1", &claims(), 1_000, 1_030);
        assert_eq!(cache.get("t1", 1_029).map(|c| c.sub), Some("sw.1".into()));
        assert!(cache.get("t1", 1_030).is_none(), "past its exp and leeway");
        cache.keep("t2", &claims(), 1_000, 5_000);
        assert!(cache.get("t2", 1_059).is_some());
        assert!(cache.get("t2", 1_060).is_none(), "kept at most a minute");
        assert!(cache.get("t3", 1_001).is_none(), "never verified");
    }

    #[test]
    fn an_expired_token_is_not_kept_and_a_full_cache_lets_go_of_the_stale_first() {
        let cache = VerifiedTokens::default();
        cache.keep("old", &claims(), 1_000, 999);
        assert!(cache.get("old", 1_000).is_none());
        for i in 0..TOKENS {
            cache.keep(&format!("t{i}"), &claims(), 1_000, 1_010);
        }
        cache.keep("fresh", &claims(), 1_020, 2_000);
        assert!(cache.get("fresh", 1_021).is_some());
        assert!(
            cache.get("t0", 1_005).is_none(),
            "the stale ones were let go"
        );
    }
}
