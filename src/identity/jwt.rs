//! Bearer JWT verification against the calling agency's key (API.md, Identity).

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode};
use serde::Deserialize;

use crate::error::ApiError;
use crate::server::Agency;
use crate::vocab::Role;

/// Accepted clock skew for `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

#[derive(Debug, Deserialize)]
struct RawClaims {
    sub: String,
    agency: String,
    roles: Vec<String>,
}

/// The verified person.
#[derive(Debug)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
}

/// The `alg` a token declares, read before verification so that a wrong algorithm is
/// reported as such (`none`, HMAC, or another than the agency's key).
fn declared_algorithm(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("alg")?.as_str().map(str::to_owned)
}

/// Verifies signature, `iss`, `aud`, `exp` (60 s leeway), `sub`, `agency` and `roles`.
pub fn verify(token: &str, agency: &Agency, audience: &str) -> Result<Claims, ApiError> {
    let expected = agency.jwt.algorithm;
    let declared = declared_algorithm(token).ok_or_else(|| {
        ApiError::unauthorized("token_malformed", "the bearer token is not a JWT")
    })?;
    if declared != format!("{expected:?}") {
        return Err(ApiError::unauthorized(
            "token_algorithm",
            format!(
                "the token is signed with \"{declared}\"; agency {} tokens must use {expected:?}",
                agency.id
            ),
        ));
    }
    let mut validation = Validation::new(expected);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&agency.jwt_issuer]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let data = decode::<RawClaims>(token, &agency.jwt.key, &validation).map_err(|e| {
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
                "the token needs string claims sub and agency and an array claim roles".into(),
            ),
            _ => (
                "token_malformed",
                "the bearer token is not a valid JWT".into(),
            ),
        };
        ApiError::unauthorized(code, detail)
    })?;
    let claims = data.claims;
    if claims.agency != agency.id {
        return Err(ApiError::unauthorized(
            "token_agency_mismatch",
            format!(
                "the token's agency \"{}\" is not the certificate's agency \"{}\"",
                claims.agency, agency.id
            ),
        ));
    }
    if claims.sub.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "token_claims",
            "the token's sub is empty",
        ));
    }
    if claims.roles.is_empty() {
        return Err(ApiError::unauthorized(
            "token_role_invalid",
            "the token names no role",
        ));
    }
    let mut roles = Vec::with_capacity(claims.roles.len());
    for name in &claims.roles {
        let role: Role = name.parse().map_err(|e: crate::vocab::UnknownTerm| {
            ApiError::unauthorized("token_role_invalid", e.to_string())
        })?;
        if !role.valid_for(agency.kind) {
            return Err(ApiError::unauthorized(
                "token_role_invalid",
                format!("a {} agency cannot hold the role {role}", agency.kind),
            ));
        }
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    Ok(Claims {
        sub: claims.sub,
        roles,
    })
}
