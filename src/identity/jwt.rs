//! Bearer JWT verification against the calling agency's key (API.md, Identity).

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde_json::{Map, Value};

use crate::crypto::NoKey;
use crate::error::ApiError;
use crate::state::Agency;

/// Accepted clock skew for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

/// A token's JOSE header, read before verification so that a wrong algorithm or an unknown
/// critical header is reported as such.
fn declared_header(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    part(token, 0)
}

/// Part `index` of a compact JWT (0 the header, 1 the claims) as a JSON object; not verified
/// here.
pub fn part(token: &str, index: usize) -> Option<serde_json::Map<String, serde_json::Value>> {
    let text = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// RFC 7515 4.1.11: a recipient must refuse a token whose `crit` names a header extension it
/// does not understand. The broker understands none, so a `crit` of any kind is refused: one
/// naming extensions, and one that is not a non-empty array of names (malformed, which the
/// RFC forbids as well).
fn check_critical(header: &serde_json::Map<String, serde_json::Value>) -> Result<(), ApiError> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let names: Option<Vec<&str>> = crit
        .as_array()
        .filter(|a| !a.is_empty())
        .and_then(|a| a.iter().map(serde_json::Value::as_str).collect());
    let detail = match names {
        Some(names) => format!(
            "the token marks {} critical (crit); the broker understands no critical header \
             extension (RFC 7515 4.1.11)",
            names
                .iter()
                .map(|n| format!("\"{}\"", crate::text::escape(n)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None => "the token's crit header is not a non-empty array of header names \
                 (RFC 7515 4.1.11)"
            .to_owned(),
    };
    Err(ApiError::unauthorized("token_critical_header", detail))
}

/// Refuses a `crit` header (RFC 7515 4.1.11), picks the agency's key by the header's `kid`
/// (crypto::AgencyKeys), then verifies signature, `iss`, `aud`, `exp` (60 s leeway), `iat`
/// (present, not in the future, `exp - iat` at most `max_lifetime_secs`), and the person the
/// claims name (`person`: `[agencies.identity]`, `sub`, `agency`, roles). Every string claim
/// is single-line text (crate::text).
pub async fn verify(
    token: &str,
    agency: &Agency,
    audience: &str,
    max_lifetime_secs: u64,
) -> Result<super::person::Claims, ApiError> {
    let now = chrono::Utc::now().timestamp();
    if let Some(kept) = agency.verified.get(token, now)
        // the key that verified it is still the agency's for its kid (a published key set
        // past its max-age is fetched again first)
        && let Ok(key) = agency.jwt.key_for(kept.kid.as_deref()).await
        && std::sync::Arc::ptr_eq(&key, &kept.key)
    {
        return Ok(super::person::Claims {
            sub: kept.sub,
            roles: kept.roles,
        });
    }
    let header = declared_header(token).ok_or_else(|| {
        ApiError::unauthorized("token_malformed", "the bearer token is not a JWT")
    })?;
    let declared = header
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            ApiError::unauthorized("token_malformed", "the bearer token is not a JWT")
        })?;
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => {
            return Err(ApiError::unauthorized(
                "token_malformed",
                "the token's kid header is not a string",
            ));
        }
    };
    let key = agency.jwt.key_for(kid).await.map_err(|why| match why {
        NoKey::KidRequired(n) => ApiError::unauthorized(
            "token_kid_required",
            format!(
                "the token names no key (kid header); agency {} has {n} keys",
                agency.id
            ),
        ),
        NoKey::UnknownKid => ApiError::unauthorized(
            "token_key_unknown",
            format!("no key of agency {} has the token's kid", agency.id),
        ),
        NoKey::Unavailable => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "identity_provider_unavailable",
            format!(
                "agency {}'s published keys (jwks_url) cannot be fetched now; try again",
                agency.id
            ),
        ),
    })?;
    let expected = key.algorithm;
    if declared != format!("{expected:?}") {
        return Err(ApiError::unauthorized(
            "token_algorithm",
            format!(
                "the token is signed with \"{}\"; agency {} tokens must use {expected:?}",
                crate::text::escape(declared),
                agency.id
            ),
        ));
    }
    check_critical(&header)?;
    let mut validation = Validation::new(expected);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&agency.jwt_issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = decode::<Map<String, Value>>(token, &key.key, &validation).map_err(|e| {
        let (code, detail) = match e.kind() {
            ErrorKind::InvalidSignature => (
                "token_signature",
                format!("the token is not signed by agency {}'s key", agency.id),
            ),
            ErrorKind::ExpiredSignature => ("token_expired", "the token has expired".into()),
            ErrorKind::ImmatureSignature => {
                ("token_not_yet_valid", "the token is not valid yet".into())
            }
            ErrorKind::InvalidAudience => (
                "token_audience",
                format!("the token's aud is not \"{audience}\""),
            ),
            ErrorKind::InvalidIssuer => (
                "token_issuer",
                format!("the token's iss is not agency {}'s issuer", agency.id),
            ),
            ErrorKind::MissingRequiredClaim(claim) => (
                "token_claims",
                format!("the token has no \"{claim}\" claim"),
            ),
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => (
                "token_algorithm",
                format!("agency {} tokens must use {expected:?}", agency.id),
            ),
            ErrorKind::Json(_) => (
                "token_claims",
                "the token needs numeric exp, nbf and iat claims".into(),
            ),
            _ => (
                "token_malformed",
                "the bearer token is not a valid JWT".into(),
            ),
        };
        ApiError::unauthorized(code, detail)
    })?;
    let claims = data.claims;
    check_lifetime(&claims, max_lifetime_secs)?;
    let person = super::person::person(agency, &claims, super::person::Via::Api)?;
    if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
        let expires = exp.floor() as i64 + LEEWAY_SECONDS as i64;
        agency.verified.keep(
            token,
            (&person.sub, &person.roles),
            kid,
            key.clone(),
            now,
            expires,
        );
    }
    Ok(person)
}

/// `iat` is required and not in the future (beyond the leeway), and the token lives at most
/// `max_secs` (`exp - iat`).
fn check_lifetime(claims: &Map<String, Value>, max_secs: u64) -> Result<(), ApiError> {
    let Some(iat) = claims.get("iat") else {
        return Err(ApiError::unauthorized(
            "token_claims",
            "the token has no \"iat\" claim",
        ));
    };
    let (Some(iat), Some(exp)) = (iat.as_f64(), claims.get("exp").and_then(Value::as_f64)) else {
        return Err(ApiError::unauthorized(
            "token_claims",
            "the token's exp and iat claims must be numbers",
        ));
    };
    let now = chrono::Utc::now().timestamp() as f64;
    if iat > now + LEEWAY_SECONDS as f64 {
        return Err(ApiError::unauthorized(
            "token_not_yet_valid",
            "the token's iat is in the future",
        ));
    }
    if exp - iat > max_secs as f64 {
        return Err(ApiError::unauthorized(
            "token_lifetime",
            format!(
                "the token is valid for {} s (exp - iat); the broker accepts at most {max_secs} s",
                (exp - iat).round()
            ),
        ));
    }
    Ok(())
}
