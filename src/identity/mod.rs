//! Who is calling: the agency from the verified client certificate (set per connection by the
//! accept loop) and the person from the bearer JWT, combined into a typed [`Principal`].

mod busy;
pub mod jwt;
pub mod person;

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::state::AppState;
use crate::vocab::{AgencyKind, Role};

pub use busy::{People, PersonHold};

/// What the TLS layer established about the connection: the agency its certificate names.
/// Inserted into every request by the accept loop; a header cannot forge it.
#[derive(Debug, Clone)]
pub enum PeerAgency {
    /// The certificate names a configured agency.
    Known(Arc<str>),
    /// The certificate names an agency that is not configured.
    Unknown(String),
    /// The certificate has no `urn:broker:agency:` SAN URI.
    Unnamed,
    /// The certificate names more than one agency (how many).
    Ambiguous(usize),
}

/// An authenticated caller: a configured agency (by certificate) and a person of it (by JWT).
#[derive(Debug, Clone)]
pub struct Principal {
    pub agency: Arc<str>,
    pub agency_kind: AgencyKind,
    pub sub: String,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The caller as the decision engine sees a requester.
    pub fn requester(&self) -> crate::decision::Requester {
        crate::decision::Requester {
            agency: self.agency.to_string(),
            agency_kind: self.agency_kind,
            sub: self.sub.clone(),
            roles: self.roles.clone(),
        }
    }

    pub fn roles_text(&self) -> Vec<&'static str> {
        self.roles.iter().map(|r| r.as_str()).collect()
    }
}

impl crate::audit::Actor for Principal {
    fn agency(&self) -> &str {
        &self.agency
    }

    fn sub(&self) -> &str {
        &self.sub
    }

    fn roles(&self) -> Vec<&str> {
        self.roles_text()
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let result = authenticate(parts, state).await;
        if let Err(e) = &result {
            state.metrics.refused_authentication(e.code);
            // the detail can quote the token's own strings: escaped (crate::text::escape)
            tracing::warn!(code = e.code, detail = %crate::text::escape(&e.detail), "authentication refused");
        }
        let principal = result?;
        hold_person(parts, &principal)?;
        Ok(principal)
    }
}

/// Counts the request against its person's `max_connections_per_person` (the accept loop
/// gives every request a [`PersonHold`]; a router driven without it counts nothing).
fn hold_person(parts: &Parts, principal: &Principal) -> Result<(), ApiError> {
    let Some(hold) = parts.extensions.get::<PersonHold>() else {
        return Ok(());
    };
    hold.claim(&principal.agency, &principal.sub).map_err(|cap| {
        tracing::debug!(agency = %principal.agency, "request over the person's connection cap refused");
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests_in_flight",
            format!(
                "you already have requests in flight on {cap} connections \
                 (server.max_connections_per_person); wait for one to finish"
            ),
        )
    })
}

async fn authenticate(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let agency_id = match parts.extensions.get::<PeerAgency>() {
        Some(PeerAgency::Known(id)) => id.clone(),
        Some(PeerAgency::Unknown(id)) => {
            return Err(ApiError::unauthorized(
                "certificate_agency_unknown",
                format!(
                    "the client certificate names agency \"{}\", which is not configured",
                    crate::text::escape(id)
                ),
            ));
        }
        Some(PeerAgency::Ambiguous(n)) => {
            return Err(ApiError::unauthorized(
                "certificate_agency_ambiguous",
                format!(
                    "the client certificate names {n} agencies in urn:broker:agency: SAN URIs; \
                     it must name exactly one"
                ),
            ));
        }
        Some(PeerAgency::Unnamed) => {
            return Err(ApiError::unauthorized(
                "certificate_agency_missing",
                "the client certificate has no urn:broker:agency:<id> SAN URI",
            ));
        }
        None => {
            return Err(ApiError::unauthorized(
                "certificate_required",
                "a client certificate is required",
            ));
        }
    };
    let agency = state
        .agencies
        .get(&*agency_id)
        .ok_or_else(|| ApiError::unauthorized("certificate_agency_unknown", "unknown agency"))?;
    let token = bearer(parts)?;
    let server = &state.config.server;
    let claims = jwt::verify(
        token,
        agency,
        &server.audience,
        server.max_token_lifetime_secs,
    )
    .await?;
    Ok(Principal {
        agency: agency_id,
        agency_kind: agency.kind,
        sub: claims.sub,
        roles: claims.roles,
    })
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "token_missing",
                "an Authorization: Bearer token is required",
            )
        })?;
    let text = value.to_str().map_err(|_| {
        ApiError::unauthorized("token_malformed", "the Authorization header is not text")
    })?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "token_missing",
                "the Authorization header must be `Bearer <JWT>`",
            )
        })?;
    Ok(token)
}
