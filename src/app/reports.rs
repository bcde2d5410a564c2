//! The timeliness report (PROCESS.md; `GET /v1/reports/timeliness`, the console's report
//! page): for the partnership, per clock, how the cases started in a window kept their
//! timescales. A team manager of children's social care sees their own agency's cases; the
//! partnership's IG officers any agency's or all (policy `read_timeliness`, `read_all_cases`).
//! Audited as `report.timeliness`, with the format asked for.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use crate::access::{may, require};
use crate::audit::Entry;
use crate::cases::report::{self, Report, Scope};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// The filters of the report.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Clocks started at or after this instant. Default: a year before `to`.
    pub from: Option<DateTime<Utc>>,
    /// Clocks started before this instant. Default: now.
    pub to: Option<DateTime<Utc>>,
    /// Only this agency's: the cases it leads, and the duties it carried out (on its cases, or
    /// on records it deposited about a child with no case open).
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub agency: Option<String>,
    /// Only the cases of children whose home area or current area (where they live) is this
    /// area id (PROCESS.md, Places); an unknown one is 422 `unknown_area`.
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub area: Option<String>,
    /// The instant running clocks are judged at (overdue or pending). Default: now.
    pub as_of: Option<DateTime<Utc>>,
    /// `csv` for CSV; default JSON.
    #[schemars(extend("enum" = ["json", "csv"]))]
    pub format: Option<String>,
}

/// How the report is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl Filters {
    /// A window that ends where or before it starts (`from` at or after `to`, which is now when
    /// not given): the API answers it with zeros (a schema-valid request is not refused); the
    /// console asks the person to correct it.
    pub fn reversed(&self) -> bool {
        self.from
            .is_some_and(|from| from >= self.to.unwrap_or_else(now))
    }

    /// The format asked for; 400 `invalid_query` for one that is neither.
    fn format(&self) -> Result<Format, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!(
                    "format: \"{}\" is not json or csv",
                    crate::text::escape(other)
                ),
            )),
        }
    }
}

/// The report and the format it was asked in.
#[derive(Debug)]
pub struct Timeliness {
    pub report: Report,
    pub format: Format,
}

impl Timeliness {
    /// The report as CSV (one line per clock).
    pub fn csv(&self) -> String {
        report::csv(&self.report)
    }
}

/// The report of the clocks `f` selects that the caller may see; audited as
/// `report.timeliness`.
pub async fn timeliness(
    state: &AppState,
    principal: &Principal,
    f: &Filters,
) -> Result<Timeliness, ApiError> {
    require(state, principal, Action::ReadTimeliness)?;
    let format = f.format()?;
    let at = now();
    let to = f.to.unwrap_or(at);
    // a window that ends before it starts holds no clock: the report is all zeros
    let from = f.from.unwrap_or(to - chrono::Duration::days(365));
    let as_of = f.as_of.unwrap_or(at);
    let all = may(state, principal, Action::ReadAllCases);
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
    let area = f
        .area
        .as_deref()
        .map(|a| crate::app::places::known_area(state, "area", a))
        .transpose()?;
    let clocks = report::Target::of(state.policy().timescales());
    let scope = Scope {
        agency: agency.as_deref(),
        area: area.as_deref(),
    };
    let report = report::timeliness(&state.db, &clocks, from, to, as_of, scope).await?;
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(principal, "report.timeliness").detail(json!({
        "from": from, "to": to, "as_of": as_of, "agency": agency, "area": area,
        "format": if format == Format::Csv { "csv" } else { "json" },
    })))
    .await?;
    Ok(Timeliness { report, format })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: Option<&str>, to: Option<&str>) -> Filters {
        let at = |t: &str| t.parse::<DateTime<Utc>>().expect("an instant");
        Filters {
            from: from.map(at),
            to: to.map(at),
            ..Filters::default()
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

    #[test]
    fn a_format_is_json_by_default_csv_when_asked_and_anything_else_refused() {
        let asked = |format: Option<&str>| Filters {
            format: format.map(str::to_owned),
            ..Filters::default()
        };
        assert_eq!(asked(None).format().unwrap(), Format::Json);
        assert_eq!(asked(Some("json")).format().unwrap(), Format::Json);
        assert_eq!(asked(Some("csv")).format().unwrap(), Format::Csv);
        let e = asked(Some("xml")).format().unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "invalid_query")
        );
    }
}
