//! The case pages (PROCESS.md): the overdue list a team manager starts the day with, and a case
//! with its clocks, events and duties (the timeliness report is `report`). Each calls the API's
//! own handler (`GET /v1/cases`, `GET /v1/cases/{id}`) with the session's person, so what a
//! page shows, whom it refuses and the audit entry it writes (`case.list`, `case.read`) are
//! exactly the API's.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::ig::text;
use super::query::{self, Pairs};
use super::session::Session;
use super::view::{Frame, PageResult, page, refused};
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::cases;
use crate::routes::extract::{Params, Path};
use crate::state::AppState;

/// An instant as the pages show it.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| shown(t.to_utc()))
        .unwrap_or_default()
}

pub(super) fn shown(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y %H:%M UTC").to_string()
}

/// A vocabulary word as the pages show it (`strategy_discussion` → `strategy discussion`).
fn words(v: &Value) -> String {
    text(v).replace('_', " ")
}

/// How long past its due time a clock has run: `2 days 3 hours`, `5 hours`, `40 minutes`.
pub fn late_by(d: chrono::Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let (days, hours, minutes) = (d.num_days(), d.num_hours() % 24, d.num_minutes() % 60);
    match (days, hours) {
        (0, 0) => plural(minutes.max(1), "minute"),
        (0, h) => plural(h, "hour"),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

/// The agency's name where it is configured, else its id.
pub(super) fn agency_name(state: &AppState, v: &Value) -> String {
    let id = text(v);
    state.agencies.get(&id).map_or(id, |a| a.name.clone())
}

/// A clock as the pages show it, with its GOV.UK tag.
pub struct ClockLine {
    pub clock: String,
    pub name: String,
    pub started: String,
    pub due: String,
    pub stopped: String,
    pub status: &'static str,
    pub tag: &'static str,
    pub tag_class: &'static str,
    /// How late, for an overdue clock.
    pub late: String,
}

fn clock_line(c: &Value, at: DateTime<Utc>, closed: bool) -> ClockLine {
    let status = match c["status"].as_str() {
        Some("met") => "met",
        Some("late") => "late",
        Some("overdue") => "overdue",
        _ => "pending",
    };
    let (tag, tag_class) = match status {
        "met" => ("Met on time", "govuk-tag--green"),
        "late" => ("Met late", "govuk-tag--orange"),
        // the report's "unmet, case closed"
        "overdue" if closed => ("Not met: case closed", "govuk-tag--red"),
        "overdue" => ("Overdue", "govuk-tag--red"),
        _ => ("Running", "govuk-tag--blue"),
    };
    let due = c["due_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc());
    ClockLine {
        clock: text(&c["clock"]),
        name: words(&c["clock"]),
        started: when(&c["started_at"]),
        due: when(&c["due_at"]),
        stopped: when(&c["stopped_at"]),
        status,
        tag,
        tag_class,
        late: match due {
            Some(due) if status == "overdue" => late_by(at - due),
            _ => String::new(),
        },
    }
}

/// The instant a case's clocks are judged at, as the API judges them: now, or when the case
/// closed (a clock a closed case left unmet does not grow later).
fn judged(case: &Value) -> DateTime<Utc> {
    let closed = case["closed_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc());
    crate::cases::judged_at(closed, crate::db::now())
}

/// The clocks of `case`, judged as the API judges them.
fn clock_lines(case: &Value) -> Vec<ClockLine> {
    let (at, closed) = (judged(case), !case["closed_at"].is_null());
    case["clocks"]
        .as_array()
        .map(|all| all.iter().map(|c| clock_line(c, at, closed)).collect())
        .unwrap_or_default()
}

/// `clocks` in the order of `policies/timescales.csv` (the order of the protocol's steps).
fn in_policy_order(state: &AppState, mut clocks: Vec<ClockLine>) -> Vec<ClockLine> {
    let timescales = state.policy.timescales();
    clocks.sort_by_key(|k| {
        timescales
            .iter()
            .position(|t| t.clock == k.clock)
            .unwrap_or(usize::MAX)
    });
    clocks
}

/// A case in the list.
pub struct Listed {
    pub id: String,
    pub subject: String,
    pub referral: String,
    pub lead: String,
    pub status: String,
    pub overdue: Vec<ClockLine>,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct List {
    frame: Frame,
    cases: Vec<Listed>,
    pairs: Pairs,
    next: Option<String>,
    overdue_only: bool,
}

impl List {
    fn value(&self, name: &str) -> &str {
        query::value(&self.pairs, name)
    }
}

/// `GET /ui/cases`: the cases the person may list, by default those with a clock overdue.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let mut pairs = query::clean(raw.as_deref(), &[])?;
    if !pairs.iter().any(|(k, _)| k == "overdue") {
        pairs.push(("overdue".into(), "true".into()));
    }
    let f: cases::Filters = query::parse(&pairs)?;
    let axum::Json(body) = cases::list(session.principal.clone(), State(state.clone()), Params(f))
        .await
        .map_err(refused)?;
    let listed = body["cases"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|c| Listed {
                    id: text(&c["id"]),
                    subject: text(&c["subject_id"]),
                    referral: when(&c["referral_received_at"]),
                    lead: format!(
                        "{} / {}",
                        agency_name(&state, &c["lead_agency"]),
                        text(&c["lead_sub"])
                    ),
                    status: words(&c["status"]),
                    overdue: clock_lines(c)
                        .into_iter()
                        .filter(|k| k.status == "overdue")
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let next = body["next_after"]
        .as_str()
        .map(|after| query::with(&pairs, &["after"], Some(("after", after.to_owned()))));
    let overdue_only = query::value(&pairs, "overdue") == "true";
    Ok(page(
        StatusCode::OK,
        &List {
            frame: Frame::of(
                &session,
                if overdue_only {
                    "Overdue cases"
                } else {
                    "Cases"
                },
            ),
            cases: listed,
            pairs,
            next,
            overdue_only,
        },
    ))
}

/// An event of a case, as the API gives it to this person.
pub struct EventLine {
    pub seq: String,
    pub kind: String,
    pub at: String,
    pub by: String,
    pub outcome: String,
    pub rationale: String,
    pub note: String,
}

/// A duty to notify, with its decision and reasons.
pub struct DutyLine {
    /// As `duties.csv` names it (the rows' `data-duty`).
    pub name: String,
    pub duty: String,
    pub trigger: String,
    pub recipient: String,
    pub decision: String,
    pub reasons: String,
    pub at: String,
}

/// The duties of a case or a record, as the API lists them.
pub(super) fn duty_lines(state: &AppState, duties: &Value) -> Vec<DutyLine> {
    duties
        .as_array()
        .map(|all| {
            all.iter()
                .map(|d| DutyLine {
                    name: text(&d["duty"]),
                    duty: words(&d["duty"]),
                    trigger: words(&d["trigger"]),
                    recipient: agency_name(state, &d["recipient_agency"]),
                    decision: text(&d["decision"]),
                    reasons: text(&d["reasons"]),
                    at: when(&d["created_at"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    frame: Frame,
    id: String,
    subject: String,
    subject_role: String,
    lead_agency: String,
    lead_sub: String,
    status: String,
    outcome: String,
    referral: String,
    referred_by: String,
    opened: String,
    closed: String,
    linked: Vec<String>,
    clocks: Vec<ClockLine>,
    events: Vec<EventLine>,
    duties: Vec<DutyLine>,
    record_duties: Vec<DutyLine>,
}

/// `GET /ui/cases/{id}`: one case, as `GET /v1/cases/{id}` gives it (the API's refusal: 403 to
/// a role that reads no case, 404 to anyone else who may not
/// see it, as to a case that does not exist).
pub async fn case(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let axum::Json(c) = cases::get(session.principal.clone(), State(state.clone()), Path(id))
        .await
        .map_err(refused)?;
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let events = list(&c["events"])
        .iter()
        .map(|e| EventLine {
            seq: text(&e["seq"]),
            kind: words(&e["kind"]),
            at: when(&e["occurred_at"]),
            by: format!(
                "{} / {}",
                agency_name(&state, &e["agency"]),
                text(&e["sub"])
            ),
            outcome: words(&e["outcome"]),
            rationale: text(&e["rationale"]),
            note: text(&e["note"]),
        })
        .collect();
    let duties = duty_lines(&state, &c["duties"]);
    let record_duties = duty_lines(&state, &c["record_duties"]);
    Ok(page(
        StatusCode::OK,
        &CasePage {
            frame: Frame::of(&session, "Case"),
            id: text(&c["id"]),
            subject: text(&c["subject_id"]),
            subject_role: words(&c["subject_role"]),
            lead_agency: agency_name(&state, &c["lead_agency"]),
            lead_sub: text(&c["lead_sub"]),
            status: words(&c["status"]),
            outcome: words(&c["outcome"]),
            referral: when(&c["referral_received_at"]),
            referred_by: if c["referred_by_agency"].is_string() {
                agency_name(&state, &c["referred_by_agency"])
            } else {
                String::new()
            },
            opened: when(&c["opened_at"]),
            closed: when(&c["closed_at"]),
            linked: list(&c["linked_case_ids"]).iter().map(text).collect(),
            clocks: in_policy_order(&state, clock_lines(&c)),
            events,
            duties,
            record_duties,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    #[test]
    fn how_late_reads_in_days_hours_or_minutes() {
        for (d, expected) in [
            (Duration::seconds(5), "1 minute"),
            (Duration::minutes(40), "40 minutes"),
            (Duration::minutes(61), "1 hour"),
            (Duration::hours(5), "5 hours"),
            (Duration::hours(24), "1 day"),
            (Duration::hours(51), "2 days 3 hours"),
            (Duration::days(17), "17 days"),
        ] {
            assert_eq!(late_by(d), expected, "{d}");
        }
    }

    #[test]
    fn a_clock_a_closed_case_left_unmet_is_judged_at_the_closure_and_tagged_so() {
        let ago = |days| crate::db::ts(crate::db::now() - Duration::days(days));
        let clock = json!({"clock": "assessment", "status": "overdue", "started_at": ago(40),
                           "due_at": ago(5), "stopped_at": null});
        let closed = json!({"closed_at": ago(3), "clocks": [clock.clone()]});
        let open = json!({"closed_at": null, "clocks": [clock]});
        let [closed] = &clock_lines(&closed)[..] else {
            panic!("one clock")
        };
        assert_eq!(closed.tag, "Not met: case closed");
        assert_eq!(closed.late, "2 days", "late by the closure, not by now");
        let [open] = &clock_lines(&open)[..] else {
            panic!("one clock")
        };
        assert_eq!(open.tag, "Overdue");
        assert_eq!(open.late, "5 days");
    }
}
