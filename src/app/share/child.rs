//! Whom a packet is about, as a person reads it (API.md, Packets: `child`), and as the owner's
//! view of a record and the inbox name the child too.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// Whom a record or a packet is about, as a person reads it: the child's name (unsealed from
/// `subjects.display_name_enc`; null when none was given) and date of birth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Child {
    pub display_name: Option<String>,
    pub date_of_birth: NaiveDate,
}

impl Child {
    /// The child born on `date_of_birth` whose name is sealed as `display_name_enc`.
    pub fn unseal(
        state: &AppState,
        date_of_birth: NaiveDate,
        display_name_enc: Option<&[u8]>,
    ) -> Result<Child, ApiError> {
        let display_name = display_name_enc
            .map(|sealed| {
                state
                    .at_rest
                    .decrypt(sealed)
                    .map(|plain| String::from_utf8_lossy(&plain).into_owned())
                    .map_err(ApiError::internal)
            })
            .transpose()?;
        Ok(Child {
            display_name,
            date_of_birth,
        })
    }

    /// The child of a `subjects` row: its stored date of birth (`YYYY-MM-DD`) and sealed name.
    pub fn of_row(
        state: &AppState,
        date_of_birth: &str,
        display_name_enc: Option<&[u8]>,
    ) -> Result<Child, ApiError> {
        let born = date_of_birth
            .parse()
            .map_err(|e| ApiError::internal(format!("stored date of birth: {e}")))?;
        Child::unseal(state, born, display_name_enc)
    }
}
