//! Console sign-in with OpenID Connect: the authorization code flow with PKCE against the
//! identity provider of the client certificate's agency (`[agencies.oidc]`). The login under way
//! is kept server-side (`console_logins`) under the digest of its `state`, bound to the browser
//! that began it by a login cookie and to the certificate's agency; the verified ID token's
//! claims name the person as an API token's do (`identity::person`, `[agencies.identity]`).

use std::collections::HashMap;

use axum::http::StatusCode;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::back::ReturnTo;
use crate::config::OidcConfig;
use crate::db::{now, parse_ts, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::on_tx;
use crate::state::{Agency, AppState};

/// The login cookie: the browser that began a sign-in. `SameSite=Lax`, because the identity
/// provider sends the browser back from another site.
pub const LOGIN_COOKIE: &str = "__Host-broker_login";
/// A login not completed within this long is void.
const LOGIN_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// The claims beyond the standard ones, kept as sent (the person is read from the whole
/// payload by `identity::person`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Extra(HashMap<String, serde_json::Value>);
impl AdditionalClaims for Extra {}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type OidcClient = Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// An error with its causes, for the log.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A refused sign-in: what the person is told (no secret, no token).
fn refused(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "sign_in_refused", detail.into())
}

fn http_client() -> Result<reqwest::Client, ApiError> {
    // never follow redirects: a token endpoint that redirects could send the code elsewhere
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(ApiError::internal)
}

async fn client(
    oidc: &OidcConfig,
    redirect_uri: &str,
    http: &reqwest::Client,
) -> Result<OidcClient, ApiError> {
    let issuer = IssuerUrl::new(oidc.issuer.clone())
        .map_err(|_| refused("the agency's identity provider issuer is not a URL"))?;
    let metadata = CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %crate::text::escape(&chain(&e)), "identity provider discovery failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "identity_provider_unavailable",
                "the agency's identity provider cannot be reached; try again",
            )
        })?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| ApiError::internal("the console's callback address is not a URL"))?;
    Ok(
        OidcClient::from_provider_metadata(metadata, ClientId::new(oidc.client_id.clone()), None)
            .set_redirect_uri(redirect),
    )
}

/// What a login under way keeps beside its secrets: where the person goes once signed in, and
/// the session the browser held when it began (ended by the sign-in).
pub struct Carried {
    pub return_to: ReturnTo,
    /// The digest of the earlier session's cookie, if the browser sent one.
    pub replaces_sha256: Option<String>,
}

/// Where the sign-in of `agency` goes: the identity provider's authorization URL. Stores the
/// login (its `state`'s digest, the PKCE verifier, the nonce, what it carries) bound to
/// `login_cookie`.
pub async fn begin(
    state: &AppState,
    agency: &Agency,
    oidc: &OidcConfig,
    redirect_uri: &str,
    login_cookie: &str,
    carried: &Carried,
) -> Result<String, ApiError> {
    let http = http_client()?;
    let client = client(oidc, redirect_uri, &http).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in &oidc.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM console_logins WHERE created_at < $1")
            .bind(ts(now() - LOGIN_LIFETIME))
            .execute(&mut **c)
            .await?;
        sqlx::query(
            "INSERT INTO console_logins (state_sha256, cookie_sha256, agency, pkce_verifier, nonce, \
             redirect_uri, created_at, return_to, replaces_sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(super::session::digest(csrf.secret()))
            .bind(super::session::digest(login_cookie))
            .bind(&agency.id)
            .bind(verifier.secret())
            .bind(nonce.secret())
            .bind(redirect_uri)
            .bind(ts(now()))
            .bind(carried.return_to.as_str())
            .bind(carried.replaces_sha256.as_deref())
            .execute(&mut **c)
            .await
            .map(drop)
    })?;
    tx.finish().await?;
    Ok(url.to_string())
}

/// Completes a sign-in: the login named by `state_param` must be this browser's
/// (`login_cookie`), for the certificate's `agency`, and recent; the code is exchanged with its
/// PKCE verifier, the ID token verified (signature, issuer, audience, expiry, nonce) and its
/// person checked as an API token's. The login is deleted whatever the outcome. Returns the
/// person and what the login carried (its return path checked again).
pub async fn complete(
    state: &AppState,
    agency: &Agency,
    oidc: &OidcConfig,
    state_param: &str,
    code: &str,
    login_cookie: Option<&str>,
) -> Result<(Principal, Carried), ApiError> {
    let key = super::session::digest(state_param);
    let mut tx = state.writer.begin().await?;
    let login = on_tx!(&mut tx, c => {
        let row = sqlx::query(
            "SELECT cookie_sha256, agency, pkce_verifier, nonce, redirect_uri, created_at, \
             return_to, replaces_sha256 FROM console_logins WHERE state_sha256 = $1")
            .bind(&key)
            .fetch_optional(&mut **c)
            .await?;
        sqlx::query("DELETE FROM console_logins WHERE state_sha256 = $1")
            .bind(&key)
            .execute(&mut **c)
            .await?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get::<String, _>("cookie_sha256")?,
                r.try_get::<String, _>("agency")?,
                r.try_get::<String, _>("pkce_verifier")?,
                r.try_get::<String, _>("nonce")?,
                r.try_get::<String, _>("redirect_uri")?,
                parse_ts(&r.try_get::<String, _>("created_at")?)?,
                Carried {
                    return_to: ReturnTo::or_start(
                        r.try_get::<Option<String>, _>("return_to")?.as_deref(),
                    ),
                    replaces_sha256: r.try_get("replaces_sha256")?,
                },
            ))
        })
        .transpose()
    })?;
    tx.finish().await?;
    let (cookie_sha, login_agency, verifier, nonce, redirect_uri, created, carried) =
        login.ok_or_else(|| refused("this sign-in is unknown or already used; start again"))?;
    let this_browser = login_cookie
        .is_some_and(|c| super::session::same_secret(&super::session::digest(c), &cookie_sha));
    if !this_browser {
        return Err(refused(
            "this sign-in was begun in another browser; start again",
        ));
    }
    if login_agency != agency.id {
        return Err(refused(
            "this sign-in was begun with another agency's certificate",
        ));
    }
    if now() - created > LOGIN_LIFETIME {
        return Err(refused("this sign-in took too long; start again"));
    }
    let http = http_client()?;
    let client = client(oidc, &redirect_uri, &http).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| refused("the identity provider has no token endpoint"))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %crate::text::escape(&chain(&e)), "the identity provider refused the code");
            refused("the identity provider did not accept the sign-in; start again")
        })?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| refused("the identity provider sent no ID token"))?;
    id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce))
        .map_err(|e| {
            tracing::warn!(error = %crate::text::escape(&e.to_string()), "ID token refused");
            refused("the identity provider's ID token did not verify")
        })?;
    // verified above; its payload read whole, so that any claim can be mapped
    // ([agencies.identity]: a groups claim, a tenant, another user claim)
    let payload = crate::identity::jwt::part(&id_token.to_string(), 1)
        .ok_or_else(|| refused("the identity provider's ID token did not verify"))?;
    let person =
        crate::identity::person::person(agency, &payload, crate::identity::person::Via::Console)?;
    let principal = Principal {
        agency: std::sync::Arc::from(agency.id.as_str()),
        agency_kind: agency.kind,
        sub: person.sub,
        roles: person.roles,
    };
    Ok((principal, carried))
}
