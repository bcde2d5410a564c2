//! The console's POST forms (`application/x-www-form-urlencoded`), decoded strictly: a name or
//! value that is not UTF-8 once percent-decoded, or a field sent twice, is refused with a 400
//! page naming it (`invalid_form`), as the API refuses such a query or JSON body; nothing is
//! replaced by U+FFFD and no field silently wins. Handlers then apply the text rule (`check`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};

use super::view::{Refusal, error_page, refused};
use crate::error::ApiError;
use crate::routes::extract::form_decode;

/// A POST form as the handlers take it. A body that is not a form counts as an empty one, so
/// its missing CSRF token is what refuses it (403); a form that does not decode is refused
/// (400) when the handler asks for its [`fields`].
pub struct Posted(Result<FormFields, Refusal>);

/// The fields of a [`Posted`] form (none when the body was not a form), or the page refusing a
/// form that does not decode.
pub fn fields(posted: Posted) -> Result<FormFields, Refusal> {
    posted.0
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Ok(Posted(Ok(FormFields::default())));
        }
        let decoded = match Bytes::from_request(req, state).await {
            Ok(body) => FormFields::decode(&body).map_err(refused),
            Err(e) => Err(error_page(
                e.status(),
                "There is a problem",
                &format!(
                    "The form could not be read: {}",
                    crate::text::escape(&e.body_text())
                ),
            )),
        };
        Ok(Posted(decoded))
    }
}

/// `application/x-www-form-urlencoded`, parameters allowed.
fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A form's fields as sent, each name once.
#[derive(Debug, Default)]
pub struct FormFields(HashMap<String, String>);

impl FormFields {
    /// `body` as fields: UTF-8 once percent-decoded (`+` a space), no name twice.
    pub fn decode(body: &[u8]) -> Result<FormFields, ApiError> {
        let refuse =
            |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_form", detail);
        let text =
            std::str::from_utf8(body).map_err(|_| refuse("the form is not UTF-8".to_owned()))?;
        let mut fields = HashMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(raw_name).ok_or_else(|| {
                refuse(format!(
                    "the field name \"{}\" is not UTF-8 once percent-decoded",
                    crate::text::escape(raw_name)
                ))
            })?;
            let shown = crate::text::escape(&name);
            let value = form_decode(raw_value).ok_or_else(|| {
                refuse(format!(
                    "the field {shown} is not UTF-8 once percent-decoded"
                ))
            })?;
            if fields.insert(name, value).is_some() {
                return Err(refuse(format!("the field {shown} is sent more than once")));
            }
        }
        Ok(FormFields(fields))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The text rule of the API (`crate::text`): free text for `free`, one line for the rest.
    pub fn check(&self, free: &[&str]) -> Result<(), Refusal> {
        for (name, value) in &self.0 {
            let kind = if free.contains(&name.as_str()) {
                crate::text::Kind::FreeText
            } else {
                crate::text::Kind::SingleLine
            };
            if let Some(why) = crate::text::problem(value, kind) {
                return Err(error_page(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "There is a problem",
                    &format!("The field {} {why}.", crate::text::escape(name)),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_decodes_plus_as_a_space_and_percent_escapes_as_utf8() {
        let f = FormFields::decode(b"note=caf%C3%A9+au+lait&outcome=upheld&empty=").unwrap();
        assert_eq!(f.get("note"), Some("café au lait"));
        assert_eq!(f.get("outcome"), Some("upheld"));
        assert_eq!(f.get("empty"), Some(""));
    }

    #[test]
    fn a_value_or_name_that_is_not_utf8_once_decoded_is_refused_naming_it() {
        for (body, mentions) in [
            (&b"sub=dsl.%FF&role=dsl"[..], "sub"),
            (b"%C0%AF=x", "C0"),
            (b"note=\xff", "not UTF-8"),
        ] {
            let e = FormFields::decode(body).expect_err("refused");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.code, "invalid_form");
            assert!(e.detail.contains(mentions), "{}", e.detail);
        }
    }

    #[test]
    fn a_field_sent_twice_is_refused_naming_it() {
        let e = FormFields::decode(b"role=dsl&sub=a&role=ig_officer").expect_err("refused");
        assert_eq!(e.code, "invalid_form");
        assert!(e.detail.contains("role"), "{}", e.detail);
    }
}
