//! Request extraction that answers every problem with problem+json naming the field.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::connection::BodyTimedOut;

use crate::error::ApiError;
use crate::state::AppState;

/// Top-level body fields holding free text a person writes or pastes (tab, line feed and
/// carriage return allowed): every other string in a body is single-line (crate::text).
pub const FREE_TEXT_FIELDS: &[&str] = &[
    "checkpoint",
    "description",
    "justification",
    "legal_reference",
    "note",
    "rationale",
    "reason",
    "sections",
];

/// A JSON body: malformed JSON is 400, an unknown field, wrong type, out-of-vocabulary value or
/// a refused character (crate::text) 422 naming the field, a body over `max_body_bytes` 413,
/// a body still arriving after `body_read_timeout_ms` 408, a missing content type 415.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(Body(value))
    }
}

/// The bytes of a JSON body that passes the text rule.
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !json_content_type(req.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(body_rejection)?;
    // the text rule first, over the whole document, so that it holds for every field of
    // every request type alike; a syntax error is left to the typed parse to report
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        crate::text::check_json(&value, FREE_TEXT_FIELDS)
            .map_err(|(path, why)| invalid(&path, why))?;
    }
    Ok(bytes)
}

/// A request type some of whose fields the contract refuses with a code of their own when
/// their text is not a term it knows (PROCESS.md: `unknown_event_kind`, `unknown_outcome`);
/// any other refusal is `invalid_field`, as [`Body`] answers.
pub trait FieldCodes {
    /// (top-level field, code) pairs.
    const FIELD_CODES: &'static [(&'static str, &'static str)];
}

/// A JSON body read exactly as [`Body`] reads it, except that a string in a field `T` names in
/// [`FieldCodes`] that does not parse is refused (422) with that field's own code.
pub struct CodedBody<T>(pub T);

impl<T: DeserializeOwned + FieldCodes, S: Send + Sync> FromRequest<S> for CodedBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(CodedBody(value)),
            Err(refusal) => Err(coded::<T>(&bytes).unwrap_or_else(|| refusal.into())),
        }
    }
}

/// The refusal with its own code of a body whose first failing field is one `T` codes and
/// holds a string; `None` for any other failure.
fn coded<T: DeserializeOwned + FieldCodes>(bytes: &[u8]) -> Option<ApiError> {
    let document: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let failed = serde_path_to_error::deserialize::<_, T>(&document).err()?;
    let field = failed.path().to_string();
    let (_, code) = T::FIELD_CODES.iter().find(|(f, _)| *f == field)?;
    document.get(&field)?.as_str()?;
    Some(ApiError::invalid(
        code,
        format!("{field}: {}", failed.inner()),
    ))
}

/// `application/json` or `application/<anything>+json`, parameters allowed.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    let timed_out = std::iter::successors(
        Some(&rejection as &(dyn std::error::Error + 'static)),
        |e| e.source(),
    )
    .find_map(|e| e.downcast_ref::<BodyTimedOut>());
    if let Some(t) = timed_out {
        return ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} ms (server.body_read_timeout_ms)",
                t.0.as_millis()
            ),
        );
    }
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "body_too_large", rejection.body_text());
    }
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "unreadable_body",
        rejection.body_text(),
    )
}

/// Query parameters: anything malformed or unknown, a value that is not UTF-8 once
/// percent-decoded or holds a control character (crate::text), is a 400 problem+json naming it.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        check_query(parts.uri.query().unwrap_or(""))?;
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Params(value))
    }
}

/// Every name and value of a query string, decoded as a form (`+` is a space), must be UTF-8
/// single-line text.
pub fn check_query(query: &str) -> Result<(), ApiError> {
    let refuse = |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = form_decode(name).ok_or_else(|| {
            refuse(format!(
                "the query parameter name \"{}\" is not UTF-8 once percent-decoded",
                crate::text::escape(name)
            ))
        })?;
        let shown = crate::text::escape(&name);
        if let Some(why) = crate::text::problem(&name, crate::text::Kind::SingleLine) {
            return Err(refuse(format!(
                "the query parameter name \"{shown}\" {why}"
            )));
        }
        let value = form_decode(value).ok_or_else(|| {
            refuse(format!(
                "the query parameter {shown} is not UTF-8 once percent-decoded"
            ))
        })?;
        if let Some(why) = crate::text::problem(&value, crate::text::Kind::SingleLine) {
            return Err(refuse(format!("the query parameter {shown} {why}")));
        }
    }
    Ok(())
}

/// A name or value of a query string or form, percent-decoded with `+` as a space; `None` when
/// the result is not UTF-8 (never replaced by U+FFFD).
pub fn form_decode(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

pub use crate::text::QUERY_TEXT;

/// An identifier from the path (or a query value naming one), parsed as its type (a UUID, or
/// an agency id); anything else is 400 `invalid_id`.
pub fn path_id<T: crate::ids::Id>(text: &str) -> Result<T, ApiError> {
    crate::ids::parse(text)
}

/// Typed identifiers from the path: `Path<CaseId>` for one segment, `Path<(SubjectId,
/// ConsentId)>` for two. A segment that is not an id of its type is 400 `invalid_id`, before
/// the handler runs.
pub struct Path<T>(pub T);

impl<T: crate::ids::Id + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state).await?;
        path_id(&text).map(Path)
    }
}

impl<A, B, S> axum::extract::FromRequestParts<S> for Path<(A, B)>
where
    A: crate::ids::Id + Send,
    B: crate::ids::Id + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state).await?;
        Ok(Path((path_id(&a)?, path_id(&b)?)))
    }
}

/// A new identifier (time-ordered UUID v7).
pub use crate::ids::new_id;

// The permission check lives below the routes and the console, which both ask it.
pub use crate::access::{Relation, may, may_as, may_somewhere, not_permitted, require, require_as};

/// 422 naming a body field.
pub fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, message)
}

/// A write or its audit entry failed: nothing was done (fail closed). Classified once, as every
/// database error is (`db::is_unavailable`): a database that cannot take the write is 503, any
/// other failure is a bug and 500, never hidden as a fault.
pub fn store_failed(e: sqlx::Error) -> ApiError {
    ApiError::from(e)
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
) -> Result<&'a crate::state::Agency, ApiError> {
    state.configured_agency(field, id)
}
