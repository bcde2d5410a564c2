//! The case pages (PROCESS.md): the overdue list a team manager starts the day with, and a case
//! with its clocks, events and duties (the timeliness report is `report`). Each calls the same
//! application function as the API (`app::cases::list`, `app::cases::read`) with the session's
//! person, so what a page shows, whom it refuses and the audit entry it writes (`case.list`,
//! `case.read`) are exactly the API's.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use super::query::{self, Pairs};
use super::session::Session;
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{self as app, CaseView, Filters};
use crate::app::views::DutyView;
use crate::cases::ClockView;
use crate::decision::clocks::Status;
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;

/// An instant as the pages show it.
pub(super) fn shown(t: DateTime<Utc>) -> String {
    t.format("%-d %B %Y %H:%M UTC").to_string()
}

/// An instant that may not have happened, as the pages show it (blank if not).
fn shown_opt(t: Option<DateTime<Utc>>) -> String {
    t.map(shown).unwrap_or_default()
}

/// A stored instant (RFC 3339 text) as the pages show it.
fn shown_text(t: &str) -> String {
    DateTime::parse_from_rfc3339(t)
        .map(|t| shown(t.to_utc()))
        .unwrap_or_default()
}

/// A vocabulary word as the pages show it (`strategy_discussion` → `strategy discussion`).
fn words(v: impl std::fmt::Display) -> String {
    v.to_string().replace('_', " ")
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
pub(super) fn agency_name(state: &AppState, id: &str) -> String {
    state
        .agencies
        .get(id)
        .map_or_else(|| id.to_owned(), |a| a.name.clone())
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

fn clock_line(c: &ClockView, at: DateTime<Utc>, closed: bool) -> ClockLine {
    let (status, tag, tag_class) = match c.status {
        Status::Met => ("met", "Met on time", "govuk-tag--green"),
        Status::Late => ("late", "Met late", "govuk-tag--orange"),
        // the report's "unmet, case closed"
        Status::Overdue if closed => ("overdue", "Not met: case closed", "govuk-tag--red"),
        Status::Overdue => ("overdue", "Overdue", "govuk-tag--red"),
        Status::Pending => ("pending", "Running", "govuk-tag--blue"),
    };
    ClockLine {
        clock: c.clock.clone(),
        name: words(&c.clock),
        started: shown(c.started_at),
        due: shown(c.due_at),
        stopped: shown_opt(c.stopped_at),
        status,
        tag,
        tag_class,
        late: if c.status == Status::Overdue {
            late_by(at - c.due_at)
        } else {
            String::new()
        },
    }
}

/// The clocks of a case closed at `closed_at` (if it is), judged as the API judges them: now,
/// or when the case closed (a clock a closed case left unmet does not grow later).
fn clock_lines(closed_at: Option<DateTime<Utc>>, clocks: &[ClockView]) -> Vec<ClockLine> {
    let at = crate::cases::judged_at(closed_at, crate::db::now());
    clocks
        .iter()
        .map(|c| clock_line(c, at, closed_at.is_some()))
        .collect()
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
    let f: Filters = query::parse(&pairs)?;
    let body = app::list(&state, &session.principal, &f)
        .await
        .map_err(refused)?;
    let listed = body
        .cases
        .iter()
        .map(|c| Listed {
            id: c.id.clone(),
            subject: c.subject_id.clone(),
            referral: shown(c.referral_received_at),
            lead: format!("{} / {}", agency_name(&state, &c.lead_agency), c.lead_sub),
            status: words(c.status),
            overdue: clock_lines(c.closed_at, &c.clocks)
                .into_iter()
                .filter(|k| k.status == "overdue")
                .collect(),
        })
        .collect();
    let next = body
        .next_after
        .map(|after| query::with(&pairs, &["after"], Some(("after", after))));
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
pub(super) fn duty_lines(state: &AppState, duties: &[DutyView]) -> Vec<DutyLine> {
    duties
        .iter()
        .map(|d| DutyLine {
            name: d.duty.clone(),
            duty: words(&d.duty),
            trigger: words(&d.trigger),
            recipient: agency_name(state, &d.recipient_agency),
            decision: d.decision.clone(),
            reasons: d.reasons.join(", "),
            at: shown_text(&d.created_at),
        })
        .collect()
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
    let c: CaseView = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    let events = c
        .events
        .iter()
        .map(|e| EventLine {
            seq: e.seq.to_string(),
            kind: words(e.kind),
            at: shown(e.occurred_at),
            by: format!("{} / {}", agency_name(&state, &e.agency), e.sub),
            outcome: e.outcome.map(words).unwrap_or_default(),
            rationale: e.rationale.clone().unwrap_or_default(),
            note: e.note.clone().unwrap_or_default(),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &CasePage {
            frame: Frame::of(&session, "Case"),
            id: c.id.clone(),
            subject: c.subject_id.clone(),
            subject_role: words(c.subject_role),
            lead_agency: agency_name(&state, &c.lead_agency),
            lead_sub: c.lead_sub.clone(),
            status: words(c.status),
            outcome: c.outcome.map(words).unwrap_or_default(),
            referral: shown(c.referral_received_at),
            referred_by: c
                .referred_by_agency
                .as_deref()
                .map(|a| agency_name(&state, a))
                .unwrap_or_default(),
            opened: shown(c.opened_at),
            closed: shown_opt(c.closed_at),
            linked: c.linked_case_ids.clone(),
            clocks: in_policy_order(&state, clock_lines(c.closed_at, &c.clocks)),
            events,
            duties: duty_lines(&state, &c.duties),
            record_duties: duty_lines(&state, &c.record_duties),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

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
        let ago = |days| crate::db::now() - Duration::days(days);
        let clock = ClockView {
            clock: "assessment".into(),
            status: Status::Overdue,
            started_at: ago(40),
            due_at: ago(5),
            stopped_at: None,
        };
        let clocks = [clock];
        let [closed] = &clock_lines(Some(ago(3)), &clocks)[..] else {
            panic!("one clock")
        };
        assert_eq!(closed.tag, "Not met: case closed");
        assert_eq!(closed.late, "2 days", "late by the closure, not by now");
        let [open] = &clock_lines(None, &clocks)[..] else {
            panic!("one clock")
        };
        assert_eq!(open.tag, "Overdue");
        assert_eq!(open.late, "5 days");
    }
}
