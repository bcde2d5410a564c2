//! The timeliness report page (PROCESS.md): per clock, how the cases started in a window kept
//! their timescales, as a table and as a chart of on-time rates (`chart`), with a link to the
//! CSV. It calls the API's application function (`app::reports::timeliness`) with the session's person, so its
//! scope (a team manager their agency's cases, the partnership's IG officers any agency's),
//! its refusals and its audit entry (`report.timeliness`) are exactly the API's.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::cases::{agency_name, area_choices};
use super::chart::{self, Chart};
use super::query::{self, Pairs};
use super::session::Session;
use super::time::uk;
use super::view::{Frame, PageResult, Refusal, error_page, page, refused};
use crate::access::may;
use crate::app::places;
use crate::app::reports::{self, Filters};
use crate::cases::report::{Line, Report};
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind};

/// A line of the report's table, with its on-time rate.
pub struct ReportLine {
    pub line: Line,
    pub name: String,
    pub rate: String,
    pub median: String,
}

#[derive(Template)]
#[template(path = "timeliness.html")]
struct Timeliness {
    frame: Frame,
    report: Report,
    lines: Vec<ReportLine>,
    chart: Chart,
    pairs: Pairs,
    agencies: Vec<(String, String)>,
    own_agency: String,
    /// The lead agency the report is about (its name), if one.
    agency_shown: Option<String>,
    /// The partnership's areas (id, name), to filter by; none configured: no filter.
    areas: Vec<(String, String)>,
    /// The area the report is about (its name), if one.
    area_shown: Option<String>,
    csv: String,
    from: String,
    to: String,
    as_of: String,
}

impl Timeliness {
    fn value(&self, name: &str) -> &str {
        query::value(&self.pairs, name)
    }
}

/// The report's filters that take a bare date for midnight UTC.
const TIMES: &[&str] = &["from", "to", "as_of"];

/// The report's query: the page's own, its format set (or dropped for JSON).
fn report_query(raw: Option<&str>, format: Option<&str>) -> Result<(Filters, Pairs), Refusal> {
    let mut pairs = query::clean(raw, TIMES)?;
    pairs.retain(|(k, _)| k != "format");
    let mut asked = pairs.clone();
    if let Some(format) = format {
        asked.push(("format".into(), format.into()));
    }
    let filters: Filters = query::parse(&asked)?;
    if filters.reversed() {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "There is a problem",
            "The report's \u{201c}From\u{201d} must be before its \u{201c}Before\u{201d}: it counts the clocks \
             started from the first instant to before the second. Go back and change the dates.",
        ));
    }
    Ok((filters, pairs))
}

/// `GET /ui/reports/timeliness`: the report, as a table and as a chart of on-time rates.
pub async fn timeliness(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let (f, pairs) = report_query(raw.as_deref(), None)?;
    let report: Report = reports::timeliness(&state, &session.principal, &f)
        .await
        .map_err(refused)?
        .report;
    let lines = report
        .clocks
        .iter()
        .map(|l| ReportLine {
            name: super::labels::clock(&l.clock).into_owned(),
            rate: chart::rate(l).map_or_else(|| "no data".to_owned(), |r| r.text()),
            median: l.median_hours.map(|m| m.to_string()).unwrap_or_default(),
            line: l.clone(),
        })
        .collect();
    // the agencies whose report this person may ask for: any children's social care agency
    // for the partnership (read_all_cases), else only their own (the API refuses the rest)
    let mut agencies: Vec<(String, String)> =
        if may(&state, &session.principal, Action::ReadAllCases) {
            state
                .agencies
                .values()
                .filter(|a| a.kind == AgencyKind::ChildrenSocialCare)
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect()
        } else {
            Vec::new()
        };
    agencies.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(page(
        StatusCode::OK,
        &Timeliness {
            frame: Frame::of(&session, "Timeliness report"),
            chart: chart::chart(&report.clocks),
            from: uk(&report.from),
            to: uk(&report.to),
            as_of: uk(&report.as_of),
            csv: query::encode(&pairs),
            own_agency: session.agency_name.clone(),
            agency_shown: report.agency.as_ref().map(|a| agency_name(&state, a)),
            areas: area_choices(&state),
            area_shown: report
                .area
                .as_deref()
                .map(|a| places::area_name(&state, a).to_owned()),
            report,
            lines,
            pairs,
            agencies,
        },
    ))
}

/// `GET /ui/reports/timeliness.csv`: the report as the API's CSV (`?format=csv`).
pub async fn timeliness_csv(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let (f, _) = report_query(raw.as_deref(), Some("csv"))?;
    let answer = reports::timeliness(&state, &session.principal, &f)
        .await
        .map_err(refused)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"timeliness.csv\"",
            ),
        ],
        answer.csv(),
    )
        .into_response())
}
