//! The person a verified token names, read the way the agency's identity provider writes its
//! tokens (`[agencies.identity]`, modelled on Vault's JWT/OIDC auth roles): the API's bearer
//! tokens and the console's ID tokens both come through here.
//!
//! - `bound_claims`: each named claim must hold one of the accepted values (a string claim, or
//!   an array of strings with one accepted member); a token without it, or with another value,
//!   is refused naming the claim and never quoting the value.
//! - `user_claim` (default `sub`): the claim whose string is the person's `sub` at the broker.
//! - `roles_claim` (default `roles`; a string or an array of strings) and `role_map`: with a
//!   map, each value it lists gives its broker role and the others are ignored, and a person
//!   left with no role is refused (403); without one, the values are broker role names.
//! - `agency`: when present it must be the certificate's agency. It may be left out by an
//!   agency with `[agencies.identity]` whose issuer is its own (no other agency has it) or
//!   whose `role_map` gives the roles (the map holds that agency's own groups): the certificate
//!   and the issuer already name the agency.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::Agency;
use crate::vocab::Role;

/// Where the token came from: the issuer and roles claim differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A bearer token of the API (`jwt_issuer`).
    Api,
    /// A console sign-in's ID token (`[agencies.oidc] issuer`).
    Console,
}

/// The person `claims` (already verified: signature, issuer, audience, expiry) name for
/// `agency`.
pub fn person(agency: &Agency, claims: &Map<String, Value>, via: Via) -> Result<Claims, ApiError> {
    let identity = agency.identity.as_ref();
    if let Some(identity) = identity {
        for (claim, bound) in &identity.bound_claims {
            if !bound_holds(claims.get(claim), bound.values()) {
                let claim = crate::text::escape(claim);
                return Err(ApiError::unauthorized(
                    "token_bound_claim",
                    match via {
                        Via::Api => format!(
                            "the token's {claim} claim is not one agency {} accepts \
                             ([agencies.identity] bound_claims)",
                            agency.id
                        ),
                        Via::Console => format!(
                            "Your account is not one {} accepts here: the identity provider \
                             says it belongs elsewhere (its {claim} claim). Sign in with your \
                             account at {}, or ask its administrator.",
                            agency.name, agency.name
                        ),
                    },
                ));
            }
        }
    }
    let user_claim = identity.map_or("sub", |i| i.user_claim());
    let sub = match claims.get(user_claim) {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(ApiError::unauthorized(
                "token_claims",
                format!(
                    "the token has no string \"{}\" claim, which names the person{}",
                    crate::text::escape(user_claim),
                    if identity.is_some() {
                        " ([agencies.identity] user_claim)"
                    } else {
                        ""
                    }
                ),
            ));
        }
    };
    let claimed_agency = match claims.get("agency") {
        Some(Value::String(a)) => a.as_str(),
        None if agency_named_without_claim(agency, via) => agency.id.as_str(),
        _ => {
            return Err(ApiError::unauthorized(
                "token_claims",
                "the token has no string \"agency\" claim",
            ));
        }
    };
    let roles_claim = match via {
        Via::Api => &agency.api_roles_claim,
        Via::Console => &agency.console_roles_claim,
    };
    let values = match claims.get(roles_claim.as_str()) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| not_strings(roles_claim))?,
        Some(_) => return Err(not_strings(roles_claim)),
    };
    let map = identity.map(|i| &i.role_map).filter(|m| !m.is_empty());
    let Some(map) = map else {
        return check_person(agency, sub, claimed_agency, &values);
    };
    let mut roles: Vec<String> = Vec::new();
    for role in values.iter().filter_map(|v| map.get(v)) {
        let name = role.as_str().to_owned();
        if !roles.contains(&name) {
            roles.push(name);
        }
    }
    if roles.is_empty() {
        let claim = crate::text::escape(roles_claim);
        return Err(ApiError::forbidden(
            "token_no_mapped_role",
            match via {
                Via::Api => format!(
                    "none of the token's {claim} values is mapped to a broker role for agency \
                     {} ([agencies.identity] role_map)",
                    agency.id
                ),
                Via::Console => format!(
                    "None of your {claim} at the identity provider gives you a role at the \
                     broker for {}. Ask its administrator to add you to one.",
                    agency.name
                ),
            },
        ));
    }
    check_person(agency, sub, claimed_agency, &roles)
}

fn not_strings(claim: &str) -> ApiError {
    ApiError::unauthorized(
        "token_claims",
        format!(
            "the token's {} claim is not a string or an array of strings",
            crate::text::escape(claim)
        ),
    )
}

/// May a token of `agency` leave out the `agency` claim?
fn agency_named_without_claim(agency: &Agency, via: Via) -> bool {
    let Some(identity) = &agency.identity else {
        return false;
    };
    let shared = match via {
        Via::Api => agency.api_issuer_shared,
        Via::Console => agency.console_issuer_shared,
    };
    !shared || !identity.role_map.is_empty()
}

/// Does `value` (a string, or an array of strings) hold one of `accepted`?
fn bound_holds(value: Option<&Value>, accepted: &[String]) -> bool {
    let ok = |v: &Value| v.as_str().is_some_and(|s| accepted.iter().any(|a| a == s));
    match value {
        Some(Value::Array(items)) => items.iter().any(ok),
        Some(v) => ok(v),
        None => false,
    }
}

/// The longest `sub` accepted.
pub const MAX_SUB_CHARS: usize = 256;

/// The verified person.
#[derive(Debug, Clone)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
}

/// The checks on the person a verified token names, the same for an API token, a console
/// sign-in's ID token (both after `person` has read them) and the dev sign-in: `sub`, `agency`
/// and each role are single-line text, `sub` is not empty
/// nor too long, `agency` is the certificate's agency, and every role is one the agency's kind
/// can hold.
pub fn check_person(
    agency: &Agency,
    sub: String,
    claimed_agency: &str,
    claimed_roles: &[String],
) -> Result<Claims, ApiError> {
    for (name, value) in std::iter::once(("sub", sub.as_str()))
        .chain(std::iter::once(("agency", claimed_agency)))
        .chain(claimed_roles.iter().map(|r| ("roles", r.as_str())))
    {
        if let Some(why) = crate::text::problem(value, crate::text::Kind::SingleLine) {
            return Err(ApiError::unauthorized(
                "token_claims",
                format!("the token's {name} claim {why}"),
            ));
        }
    }
    if sub.chars().count() > MAX_SUB_CHARS {
        return Err(ApiError::unauthorized(
            "token_claims",
            format!("the token's sub is longer than {MAX_SUB_CHARS} characters"),
        ));
    }
    if claimed_agency != agency.id {
        return Err(ApiError::unauthorized(
            "token_agency_mismatch",
            format!(
                "the token's agency \"{}\" is not the certificate's agency \"{}\"",
                crate::text::escape(claimed_agency),
                agency.id
            ),
        ));
    }
    if sub.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "token_claims",
            "the token's sub is empty",
        ));
    }
    if claimed_roles.is_empty() {
        return Err(ApiError::unauthorized(
            "token_role_invalid",
            "the token names no role",
        ));
    }
    let mut roles = Vec::with_capacity(claimed_roles.len());
    for name in claimed_roles {
        let role: Role = name.parse().map_err(|e: crate::vocab::UnknownTerm| {
            ApiError::unauthorized("token_role_invalid", crate::text::escape(&e.to_string()))
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
    Ok(Claims { sub, roles })
}
