//! The identifiers that cross the edge, as types: a broker id (a UUID, shown hyphenated and in
//! lower case) per kind of thing, and a configured agency's id. Each is parsed once, where it
//! enters (a body field, a path segment), so past the edge an id is known to be well formed
//! and cannot be passed as another kind. Each declares its JSON Schema (`format: uuid`, or the
//! agency id's pattern), so the OpenAPI document says what is accepted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string that is not a valid id of its kind, e.g. `"x" is not a valid record id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{}\" is not a valid {what} id", crate::text::escape(text))]
pub struct InvalidId {
    pub what: &'static str,
    pub text: String,
}

/// What every id type offers: its name in messages and its parse.
pub trait Id: FromStr<Err = InvalidId> {
    const WHAT: &'static str;
}

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal, $schema:tt, $parse:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, sqlx::Type)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Id for $name {
            const WHAT: &'static str = $what;
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(text: &str) -> Result<Self, InvalidId> {
                let parse: fn(&str) -> Option<String> = $parse;
                parse(text).map($name).ok_or_else(|| InvalidId {
                    what: $what,
                    text: text.to_owned(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Read-only: an id reads as its text wherever text is wanted (a query, an entry).
        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

/// A broker identifier: any UUID, kept hyphenated and in lower case.
fn uuid(text: &str) -> Option<String> {
    uuid::Uuid::parse_str(text)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

macro_rules! uuid_ids {
    ($($(#[$meta:meta])* $name:ident, $what:literal;)+) => {
        $(
            id_type!($(#[$meta])* $name, $what, {"type": "string", "format": "uuid"}, uuid);

            impl $name {
                /// A new identifier (time-ordered UUID v7).
                pub fn new() -> Self {
                    $name(uuid::Uuid::now_v7().hyphenated().to_string())
                }
            }

            impl Default for $name {
                fn default() -> Self {
                    Self::new()
                }
            }
        )+
    };
}

uuid_ids! {
    /// A child (`subjects.id`).
    SubjectId, "subject";
    /// A deposited record (`records.id`).
    RecordId, "record";
    /// A disclosure and its packet (`packets.disclosure_id`).
    DisclosureId, "disclosure";
    /// A consent (`consents.id`).
    ConsentId, "consent";
    /// A MAPPA forum decision (`mappa_decisions.id`).
    MappaDecisionId, "MAPPA decision";
    /// A case (PROCESS.md).
    CaseId, "case";
    /// A request for information (PROCESS.md, `info_requests.id`).
    RequestId, "request for information";
}

/// Is this a valid agency id (`[a-z0-9-]`, 1 to 64 characters)?
pub fn valid_agency_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

id_type!(
    /// An agency's id as the configuration names it (`[a-z0-9-]`, 1 to 64 characters). Well
    /// formed is not configured: whether it names a configured agency is asked of the state.
    AgencyId,
    "agency",
    {"type": "string", "pattern": "^[a-z0-9-]{1,64}$"},
    |text| valid_agency_id(text).then(|| text.to_owned())
);

/// An identifier from a path segment or a query value, parsed as its type (a UUID, or an agency
/// id); anything else is 400 `invalid_id`.
pub fn parse<T: Id>(text: &str) -> Result<T, crate::error::ApiError> {
    text.parse::<T>().map_err(|e| {
        crate::error::ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_id",
            e.to_string(),
        )
    })
}

/// A new identifier: a UUID v7 (time-ordered), hyphenated, in lower case.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_id_is_kept_hyphenated_in_lower_case_and_anything_else_is_refused() {
        let id: RecordId = "0190F0C2-7A3B-7C4D-8E5F-0123456789AB".parse().unwrap();
        assert_eq!(id.as_str(), "0190f0c2-7a3b-7c4d-8e5f-0123456789ab");
        let e = "x".parse::<RecordId>().unwrap_err();
        assert_eq!(e.to_string(), "\"x\" is not a valid record id");
        let e = serde_json::from_str::<SubjectId>("\"forum-7\"").unwrap_err();
        assert!(e.to_string().contains("is not a valid subject id"), "{e}");
    }

    #[test]
    fn an_agency_id_is_lower_case_letters_digits_and_hyphens() {
        assert!("school-hillside".parse::<AgencyId>().is_ok());
        for bad in ["", "School", "csc a", "csc_a", &"a".repeat(65)] {
            assert!(bad.parse::<AgencyId>().is_err(), "{bad}");
        }
    }
}
