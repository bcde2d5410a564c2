//! Request extraction that answers every problem with problem+json naming the field.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::decision::Family;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::server::AppState;

/// A JSON body: malformed JSON is 400, an unknown field, wrong type or out-of-vocabulary value
/// 422 naming the field, a body over `max_body_bytes` 413, a missing content type 415.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Body(value))
    }
}

/// Query parameters: anything malformed or unknown is a 400 problem+json naming it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

/// A broker identifier from the path (a UUID); anything else is 400.
pub fn id(text: &str, what: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(text)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_id",
                format!("\"{text}\" is not a valid {what} id"),
            )
        })
}

/// A new identifier (time-ordered UUID v7).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// Does the policy (`policies/actions.csv`) let any of the caller's roles do `action`?
pub fn may(state: &AppState, principal: &Principal, action: &str) -> bool {
    principal.roles.iter().any(|r| {
        let request = [action, principal.agency_kind.as_str(), r.as_str()];
        state.policy.allows(Family::Actions, &request)
    })
}

/// 403 for an action the caller's roles may not perform.
pub fn not_permitted(principal: &Principal, action: &str) -> ApiError {
    ApiError::forbidden(
        "role_not_permitted",
        format!(
            "none of your roles ({}) may {} (policies/actions.csv)",
            principal.roles_text().join(", "),
            action.replace('_', " ")
        ),
    )
}

/// 403 unless the policy lets one of the caller's roles do `action`.
pub fn require(state: &AppState, principal: &Principal, action: &str) -> Result<(), ApiError> {
    if may(state, principal, action) {
        Ok(())
    } else {
        Err(not_permitted(principal, action))
    }
}

/// 422 naming a body field.
pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("invalid_field", format!("{field}: {message}"))
}

/// A write or its audit entry failed: nothing was done (fail closed), 503.
pub fn store_failed(e: sqlx::Error) -> ApiError {
    ApiError::unavailable(format!("write or audit failed: {e}"))
}

/// Appends the action's audit entry and commits the action with it; a failure of either
/// undoes both and answers 503.
pub async fn commit_with(
    tx: crate::writer::WriteTx,
    entry: crate::audit::Entry,
) -> Result<i64, ApiError> {
    tx.commit(entry).await
}

/// The configured agency a body field names, or 422 naming the field.
pub fn configured_agency<'a>(
    state: &'a AppState,
    field: &str,
    id: &str,
) -> Result<&'a crate::server::Agency, ApiError> {
    state
        .agencies
        .get(id)
        .ok_or_else(|| invalid(field, format!("no configured agency \"{id}\"")))
}
