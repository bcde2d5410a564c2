//! `GET /v1/reports/timeliness` (PROCESS.md): for the partnership, per clock, how the cases
//! started in a window kept their timescales. A team manager of children's social care sees
//! their own agency's cases; the partnership's IG officers any agency's or all (policy
//! `read_timeliness`, `read_all_cases`). Audited like any read.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::extract::{Params, commit_with, may, require};
use crate::audit::Entry;
use crate::cases::report;
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// The filters of the report.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Filters {
    /// Clocks started at or after this instant. Default: a year before `to`.
    from: Option<DateTime<Utc>>,
    /// Clocks started before this instant. Default: now.
    to: Option<DateTime<Utc>>,
    /// Only this agency's: the cases it leads, and the duties it carried out (on its cases, or
    /// on records it deposited about a child with no case open).
    #[schemars(extend("pattern" = super::extract::QUERY_TEXT))]
    agency: Option<String>,
    /// The instant running clocks are judged at (overdue or pending). Default: now.
    as_of: Option<DateTime<Utc>>,
    /// `csv` for CSV; default JSON.
    #[schemars(extend("enum" = ["json", "csv"]))]
    format: Option<String>,
}

impl Filters {
    /// A window that ends where or before it starts (`from` at or after `to`, which is now when
    /// not given): the API answers it with zeros (a schema-valid request is not refused); the
    /// console asks the person to correct it.
    pub(crate) fn reversed(&self) -> bool {
        self.from
            .is_some_and(|from| from >= self.to.unwrap_or_else(crate::db::now))
    }
}

fn bad(detail: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", detail)
}

pub(crate) async fn timeliness(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Response, ApiError> {
    require(&state, &principal, Action::ReadTimeliness)?;
    let csv = match f.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(bad(format!(
                "format: \"{}\" is not json or csv",
                crate::text::escape(other)
            )));
        }
    };
    let at = now();
    let to = f.to.unwrap_or(at);
    let from = f.from.unwrap_or(to - chrono::Duration::days(365));
    // a window that ends before it starts holds no clock: the report is all zeros
    let as_of = f.as_of.unwrap_or(at);
    let all = may(&state, &principal, Action::ReadAllCases);
    let agency = match (&f.agency, all) {
        (Some(a), true) => Some(a.clone()),
        (None, true) => None,
        (None, false) => Some(principal.agency.to_string()),
        (Some(a), false) if *a == *principal.agency => Some(a.clone()),
        (Some(_), false) => {
            return Err(ApiError::forbidden(
                "not_your_agency",
                "you may see the report of your own agency's cases only (policies/actions.csv \
                 read_all_cases)",
            ));
        }
    };
    let clocks: Vec<String> = state
        .policy
        .timescales()
        .iter()
        .map(|t| t.clock.clone())
        .collect();
    let report = report::timeliness(&state.db, &clocks, from, to, as_of, agency.as_deref()).await?;
    let tx = state.writer.begin().await?;
    commit_with(
        tx,
        Entry::new(&principal, "report.timeliness").detail(json!({
            "from": from, "to": to, "as_of": as_of, "agency": agency,
            "format": if csv { "csv" } else { "json" },
        })),
    )
    .await?;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"timeliness.csv\"",
                ),
            ],
            report::csv(&report),
        )
            .into_response());
    }
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: Option<&str>, to: Option<&str>) -> Filters {
        let at = |t: &str| t.parse::<DateTime<Utc>>().expect("an instant");
        Filters {
            from: from.map(at),
            to: to.map(at),
            agency: None,
            as_of: None,
            format: None,
        }
    }

    #[test]
    fn a_window_is_reversed_when_it_ends_where_or_before_it_starts() {
        let (jan, jun) = (Some("2026-01-01T00:00:00Z"), Some("2026-06-01T00:00:00Z"));
        assert!(!window(jan, jun).reversed());
        assert!(window(jun, jan).reversed());
        assert!(window(jan, jan).reversed());
        assert!(
            !window(None, jan).reversed(),
            "from defaults to a year before to"
        );
        assert!(!window(jan, None).reversed(), "to defaults to now");
        assert!(
            window(Some("2999-01-01T00:00:00Z"), None).reversed(),
            "from after now"
        );
    }
}
