//! The child a case is about, as the pages name it (CONSOLE.md, "What a person reads"): by
//! name and date of birth, never a bare id. Only from a case or a list the caller was given
//! (`CaseView`, `CaseList`), so it names no child the caller could not already see a case of,
//! or for the form that opens a case, to those the policy lets open one (`open_case`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;
use sqlx::Row;

use super::{CaseList, CaseView};
use crate::access::require;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::with_db;

/// A child by name (null where none was registered) and date of birth.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ChildNamed {
    pub subject_id: String,
    pub display_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
}

/// The children `ids` names, as the pages show them; an id with no row is named by nothing.
async fn named(state: &AppState, ids: &[&str]) -> Result<BTreeMap<String, ChildNamed>, ApiError> {
    let mut out = BTreeMap::new();
    for id in ids {
        if out.contains_key(*id) {
            continue;
        }
        let row: Option<(String, Option<Vec<u8>>)> = with_db!(&state.db, pool => {
            sqlx::query("SELECT date_of_birth, display_name_enc FROM subjects WHERE id = $1")
                .bind(*id)
                .fetch_optional(pool)
                .await?
                .map(|r| -> Result<_, sqlx::Error> {
                    Ok((r.try_get("date_of_birth")?, r.try_get("display_name_enc")?))
                })
                .transpose()?
        });
        let (born, sealed) = row.unwrap_or_default();
        let (display_name, date_of_birth) = match born.parse::<NaiveDate>() {
            Ok(born) => {
                let child = crate::app::share::Child::unseal(state, born, sealed.as_deref())?;
                (child.display_name, Some(child.date_of_birth))
            }
            Err(_) => (None, None),
        };
        out.insert(
            (*id).to_owned(),
            ChildNamed {
                subject_id: (*id).to_owned(),
                display_name,
                date_of_birth,
            },
        );
    }
    Ok(out)
}

impl CaseView {
    /// The child this case is about.
    pub async fn child(&self, state: &AppState) -> Result<ChildNamed, ApiError> {
        let mut found = named(state, &[&self.subject_id]).await?;
        Ok(found
            .remove(&self.subject_id)
            .unwrap_or_else(|| ChildNamed {
                subject_id: self.subject_id.clone(),
                display_name: None,
                date_of_birth: None,
            }))
    }
}

impl CaseList {
    /// The children of the listed cases, by subject id.
    pub async fn children(
        &self,
        state: &AppState,
    ) -> Result<BTreeMap<String, ChildNamed>, ApiError> {
        let ids: Vec<&str> = self.cases.iter().map(|c| c.subject_id.as_str()).collect();
        named(state, &ids).await
    }
}

/// The child a case would be opened for, named on the form that opens it: only to those the
/// policy lets open a case (`open_case`), and named only as the policy lets them read the child
/// (`read_subject`, through `app::child::view`, audited as the API's read); to anyone else the
/// child is named by nothing, as the API would tell them nothing of it.
pub async fn to_open(
    state: &AppState,
    principal: &Principal,
    subject: &SubjectId,
) -> Result<ChildNamed, ApiError> {
    require(state, principal, Action::OpenCase)?;
    let unnamed = ChildNamed {
        subject_id: subject.to_string(),
        display_name: None,
        date_of_birth: None,
    };
    match crate::app::child::view(state, principal, subject.clone()).await {
        Ok(child) => Ok(ChildNamed {
            display_name: child.display_name,
            date_of_birth: Some(child.date_of_birth),
            ..unnamed
        }),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => Ok(unnamed),
        Err(e) => Err(e),
    }
}
