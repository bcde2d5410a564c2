//! A page's query string as the filters of the API handler it calls: a submitted form's blank
//! fields are dropped, a bare date (`2026-12-01`) in a time field is midnight UTC, and the rest
//! is parsed and checked exactly as the API's query extractor (`extract::Params`) does. The
//! cleaned pairs come back too, to build the paging and export links from.

use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::view::{Refusal, refused};
use crate::error::ApiError;

/// The query's name and value pairs, cleaned as the page sends them on.
pub type Pairs = Vec<(String, String)>;

/// `raw` as the filters `T`, where the fields named in `times` take a bare date for midnight.
pub fn filters<T: DeserializeOwned>(
    raw: Option<&str>,
    times: &[&str],
) -> Result<(T, Pairs), Refusal> {
    let pairs = clean(raw, times)?;
    Ok((parse(&pairs)?, pairs))
}

/// `raw` checked as the API checks a query, its blanks dropped and its bare dates in `times`
/// made midnight UTC.
pub fn clean(raw: Option<&str>, times: &[&str]) -> Result<Pairs, Refusal> {
    let raw = raw.unwrap_or_default();
    crate::routes::extract::check_query(raw).map_err(refused)?;
    let pairs: Pairs = url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| {
            let v = v.trim().to_owned();
            let dated = times.contains(&k.as_str()) && v.len() == 10;
            (k, if dated { format!("{v}T00:00:00Z") } else { v })
        })
        .collect();
    Ok(pairs)
}

/// `pairs` as the filters `T`, checked as the API's query extractor checks them.
pub fn parse<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, Refusal> {
    let uri: axum::http::Uri = format!("/?{}", encode(pairs)).parse().map_err(|_| {
        refused(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "the query is not valid",
        ))
    })?;
    let axum::extract::Query(f) = axum::extract::Query::<T>::try_from_uri(&uri).map_err(|e| {
        refused(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            crate::text::escape(&e.body_text()),
        ))
    })?;
    Ok(f)
}

/// Pairs as a query string (form encoding).
pub fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `pairs` without the names in `drop`, then `add`, as a query string: a paging or export link.
pub fn with(pairs: &[(String, String)], drop: &[&str], add: Option<(&str, String)>) -> String {
    let mut kept: Pairs = pairs
        .iter()
        .filter(|(k, _)| !drop.contains(&k.as_str()))
        .cloned()
        .collect();
    if let Some((k, v)) = add {
        kept.push((k.to_owned(), v));
    }
    encode(&kept)
}

/// The value of `name` among `pairs` (empty when absent), to fill a form field back in.
pub fn value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}
