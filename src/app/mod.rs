//! The application layer: the actions the API offers, below the routes and the console and
//! above the layers they compose (state, identity, writer, store, decision, audit, cases).
//! Each action is a function taking the caller (`Principal`, an audit `Actor` and a decision
//! `Requester`) and typed input, returning a typed result or a typed refusal, and writing its
//! own audit entries, so the API and the console cannot differ in what they permit, show or
//! audit. A route only parses the request, calls the action and serialises its answer; a
//! console page renders the same typed result.
//!
//! - [`audit`]: the audit log, the chain's verification, the override reviews and a child's
//!   subject access report, for IG officers.
//! - [`audit_csv`]: the audit log as CSV, streamed.
//! - [`cases`]: a case opened, its steps recorded, a case and the list of cases read.
//! - [`child`]: a child read (details, consents, assessments, MAPPA status, designations, the
//!   caller's records and cases about it) and the children the caller may read.
//! - [`consents`]: a child's consents, recorded and withdrawn.
//! - [`disclosures`]: a disclosure and its dry run.
//! - [`duties`]: the duties to notify a step sets off, carried out in its write action.
//! - [`inbox`]: a practitioner's packets: listed, fetched, acknowledged.
//! - [`mappa`]: a child's MAPPA status and the forum's decisions.
//! - [`places`]: the partnership's areas, a child's home area and where it lives (residence).
//! - [`mail`]: "a packet waits", the e-mail to the addressee's inbox address after commit.
//! - [`records`]: what the owner agency is told of its record's disclosures.
//! - [`reports`]: the timeliness report.
//! - [`requests`]: requests for information, asked, listed, answered by a disclosure, declined.
//! - `share`: the one sharing pipeline, through which a disclosure, a duty's notice and the
//!   forum's notification of either (RULES 5) go out: sealed, stored if the child's facts are
//!   current, audited.
//! - [`subjects`]: a child registered, its school changed, a competence assessment and a staff
//!   designation recorded.
//! - [`views`]: how an audit entry and a duty are shown, and what a creating action answers.
//! - [`waiting`]: what waits for a person (the console's start page), counted.

pub mod audit;
pub mod audit_csv;
pub mod cases;
pub mod child;
pub mod consents;
pub mod disclosures;
pub mod duties;
pub mod evidence;
pub mod inbox;
pub mod mail;
pub mod mappa;
pub mod places;
pub mod policy;
pub mod records;
pub mod reports;
pub mod requests;
mod share;
pub mod subjects;
pub mod views;
pub mod waiting;

/// A required member of a body that may be `null` (`#[serde(deserialize_with = ...)]`): a
/// school or an area that is explicitly none.
pub(crate) fn present_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(d)
}

/// The `limit` of a listing's query: 1 to 1000, 100 when absent; otherwise 400 `invalid_query`.
pub(crate) fn page_limit(limit: Option<i64>) -> Result<i64, crate::error::ApiError> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(crate::error::ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit: 1 to 1000",
        ));
    }
    Ok(limit)
}

/// The longest free text (a rationale, a note, a reason), in characters.
pub const MAX_TEXT_CHARS: usize = 20_000;

/// Free text (a rationale, a note, a reason) sealed at rest; blank is none; 422 naming `field`
/// if too long.
pub(crate) fn sealed_text(
    state: &crate::state::AppState,
    field: &str,
    text: Option<&str>,
) -> Result<Option<Vec<u8>>, crate::error::ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(crate::error::ApiError::invalid_field(
            field,
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    state
        .at_rest
        .encrypt(text.as_bytes())
        .map(Some)
        .map_err(crate::error::ApiError::internal)
}

/// Free text sealed by [`sealed_text`], opened.
pub(crate) fn unsealed_text(
    state: &crate::state::AppState,
    sealed: &Option<Vec<u8>>,
) -> Result<Option<String>, crate::error::ApiError> {
    sealed
        .as_deref()
        .map(|b| {
            state
                .at_rest
                .decrypt(b)
                .map(|p| String::from_utf8_lossy(&p).into_owned())
                .map_err(crate::error::ApiError::internal)
        })
        .transpose()
}
