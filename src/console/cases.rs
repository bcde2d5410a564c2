//! The case pages (PROCESS.md): the cases a person may list (overdue by default, theirs or
//! all), and a case with its clocks, events and duties and a form for its next step (opening a
//! case is `case_new`; the timeliness report is `report`). Each calls the same application
//! function as the API (`app::cases::list`, `read`, `record`) with the session's person, so
//! what a page shows, whom it refuses and the audit entry it writes (`case.list`, `case.read`,
//! `case.event`) are exactly the API's. The child is named, never shown by id; every code is a
//! label (`labels`), every time UK time (`time`).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Utc};

use super::Posted;
use super::form::{Errors, Field, Form, FormFields, Labels, fields, parse};
use super::labels::{self, Choice, Label, choices, of};
use super::query::{self, Pairs};
use super::session::{Session, check_csrf};
use super::time::{uk, uk_date, uk_text};
use super::view::{Frame, PageResult, page, refused};
use crate::app::cases::{self as app, CaseView, ChildNamed, Filters, NewEvent};
use crate::app::views::DutyView;
use crate::cases::ClockView;
use crate::decision::clocks::Status;
use crate::error::ApiError;
use crate::ids::CaseId;
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::{CaseOutcome, EventKind, ReasonCode, RecordKind};

/// An instant that may not have happened, as the pages show it (blank if not).
fn shown_opt(t: Option<DateTime<Utc>>) -> String {
    t.as_ref().map(uk).unwrap_or_default()
}

/// A child as the pages name it: (name, date of birth in words).
pub(super) fn child_named(c: &ChildNamed) -> (String, String) {
    let name = match (&c.display_name, c.date_of_birth) {
        (Some(n), _) if !n.trim().is_empty() => n.clone(),
        // not a child the caller may read (app::child::view): named by nothing
        (_, None) => "A child your agency has not yet recorded anything about".to_owned(),
        _ => "A child with no name recorded".to_owned(),
    };
    let born = c.date_of_birth.as_ref().map(uk_date).unwrap_or_default();
    (name, born)
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

/// The partnership's areas as a filter offers them, (id, name) by name; none when the
/// partnership is one area (PROCESS.md, Places).
pub(super) fn area_choices(state: &AppState) -> Vec<(String, String)> {
    let mut areas: Vec<(String, String)> = crate::app::places::areas(state)
        .iter()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    areas.sort_by(|a, b| a.1.cmp(&b.1));
    areas
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
        Status::NotRequired => ("not_required", "Not required", "govuk-tag--grey"),
    };
    let name = labels::clock(&c.clock);
    ClockLine {
        clock: c.clock.clone(),
        name: if c.occurrence > 1 {
            format!("{name} ({})", ordinal(c.occurrence))
        } else {
            name.into_owned()
        },
        started: uk(&c.started_at),
        due: uk(&c.due_at),
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

/// 2nd, 3rd, 11th, 21st: which occurrence of a repeating clock.
fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
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
    let policy = state.policy();
    let timescales = policy.timescales();
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
    pub child: String,
    pub born: String,
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
    /// Only the person's own cases (`lead_sub` is theirs).
    mine: bool,
    /// The switch's links: the person's own cases, and all they may list.
    mine_link: String,
    all_link: String,
    /// The partnership's areas (id, name), to filter by; none configured: no filter.
    areas: Vec<(String, String)>,
    /// The area asked for (its name), if one.
    area_shown: Option<String>,
}

impl List {
    fn value(&self, name: &str) -> &str {
        query::value(&self.pairs, name)
    }
}

/// `GET /ui/cases`: the cases the person may list, by default those with a clock overdue; a
/// switch between their own cases (`lead_sub`: them) and all.
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
    let children = body.children(&state).await.map_err(refused)?;
    let listed = body
        .cases
        .iter()
        .map(|c| {
            let (child, born) = children
                .get(&c.subject_id)
                .map(child_named)
                .unwrap_or_default();
            Listed {
                id: c.id.clone(),
                child,
                born,
                referral: uk(&c.referral_received_at),
                lead: format!("{} / {}", agency_name(&state, &c.lead_agency), c.lead_sub),
                status: c.status.label().to_owned(),
                overdue: clock_lines(c.closed_at, &c.clocks)
                    .into_iter()
                    .filter(|k| k.status == "overdue")
                    .collect(),
            }
        })
        .collect();
    let next = body
        .next_after
        .map(|after| query::with(&pairs, &["after"], Some(("after", after))));
    let overdue_only = query::value(&pairs, "overdue") == "true";
    let me = session.principal.sub.clone();
    let mine = query::value(&pairs, "lead_sub") == me;
    let mine_link = query::with(&pairs, &["after", "lead_sub"], Some(("lead_sub", me)));
    let all_link = query::with(&pairs, &["after", "lead_sub"], None);
    let title = match (overdue_only, mine) {
        (true, true) => "Your overdue cases",
        (true, false) => "Overdue cases",
        (false, true) => "Your cases",
        (false, false) => "Cases",
    };
    Ok(page(
        StatusCode::OK,
        &List {
            frame: Frame::of(&session, title),
            cases: listed,
            pairs,
            next,
            overdue_only,
            mine,
            mine_link,
            all_link,
            areas: area_choices(&state),
            area_shown: f
                .area
                .as_deref()
                .map(|a| crate::app::places::area_name(&state, a).to_owned()),
        },
    ))
}

/// An event of a case, as the API gives it to this person.
pub struct EventLine {
    pub seq: String,
    /// The kind's code (`data-kind`, for scripts and tests).
    pub code: String,
    pub kind: String,
    pub at: String,
    pub by: String,
    pub outcome: String,
    /// The route, screening or timescale the step names, in words.
    pub detail: String,
    pub rationale: String,
    pub note: String,
    pub record: String,
}

/// A duty to notify, with its decision and reasons.
pub struct DutyLine {
    /// As `duties.csv` names it (the rows' `data-duty`).
    pub name: String,
    pub duty: String,
    pub trigger: String,
    pub recipient: String,
    /// `permit` or `deny` (the rows' `data-decision`).
    pub decision: String,
    /// The decision in words.
    pub outcome: String,
    pub reasons: String,
    pub at: String,
}

/// What set a duty off, in words: a step, the opening, or a record deposited.
fn trigger_words(trigger: &str) -> String {
    if trigger == "case_opened" {
        return "Case opened".to_owned();
    }
    if let Ok(kind) = trigger.parse::<EventKind>() {
        return kind.label().to_owned();
    }
    if let Ok(kind) = trigger.parse::<RecordKind>() {
        return format!("{} deposited", kind.label());
    }
    labels::humanise(trigger)
}

/// The duties of a case or a record, as the API lists them.
pub(super) fn duty_lines(state: &AppState, duties: &[DutyView]) -> Vec<DutyLine> {
    duties
        .iter()
        .map(|d| DutyLine {
            name: d.duty.clone(),
            duty: labels::duty(&d.duty).into_owned(),
            trigger: trigger_words(&d.trigger),
            recipient: agency_name(state, &d.recipient_agency),
            decision: d.decision.clone(),
            outcome: match d.decision.as_str() {
                "permit" => "Sent".to_owned(),
                "deny" => "Not sent: the rules refused it".to_owned(),
                other => labels::humanise(other),
            },
            reasons: d
                .reasons
                .iter()
                .map(|r| of::<ReasonCode>(r))
                .collect::<Vec<_>>()
                .join("; "),
            at: uk_text(&d.created_at),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    frame: Frame,
    id: String,
    child: String,
    born: String,
    subject_role: String,
    lead_agency: String,
    lead_sub: String,
    /// The agencies involved besides the lead, by name (PROCESS.md P3).
    involved: String,
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
    /// The form for the next step, when the person may record one.
    may_record: bool,
    form: Form,
    csrf: String,
    kinds: Vec<Choice>,
    outcomes: Vec<Choice>,
    rationale_hint: String,
    /// What was just done (a banner): "opened", "transferred", "accepted", "action_agreed", or
    /// the number of the step recorded.
    done: String,
    /// The case's transfers and what the person may do about them (`transfers`).
    moves: super::case_moves::OnCase,
    /// The actions agreed on the case (`actions`).
    actions: super::case_actions::OnCase,
    /// The case's requests for information and whether the person may ask one.
    asks: super::case_requests::OnCase,
    /// Its route and screening, and the links to record them (`case_route`).
    pathway: super::case_pathway::OnCase,
    /// The case's meetings and what the person may do about them (`meetings`).
    meetings: super::case_meetings::OnCase,
}

/// The step form's fields as the API's body members, and what a person calls each.
const EVENT_LABELS: Labels<'static> = &[
    ("kind", "Step"),
    ("occurred_at", "When it happened"),
    ("record_id", "Record"),
    ("outcome", "Outcome"),
    ("rationale", "Rationale"),
    ("note", "Note"),
];

const EVENT_FIELDS: &[Field<'static>] = &[
    Field::Trimmed("kind"),
    Field::DateTime("occurred_at", "When it happened"),
    Field::Trimmed("record_id"),
    Field::Trimmed("outcome"),
    Field::Text("rationale"),
    Field::Text("note"),
];

/// A case's page: the case as `app::cases::read` gave it, the step form as `form` holds it.
async fn case_page(
    state: &AppState,
    session: &Session,
    c: CaseView,
    form: Form,
    done: String,
    status: StatusCode,
) -> PageResult {
    let named = c.child(state).await.map_err(refused)?;
    let (child, born) = child_named(&named);
    let events = c
        .events
        .iter()
        .map(|e| EventLine {
            seq: e.seq.to_string(),
            code: e.kind.as_str().to_owned(),
            kind: e.kind.label().to_owned(),
            at: uk(&e.occurred_at),
            by: format!("{} / {}", agency_name(state, &e.agency), e.sub),
            outcome: e.outcome.map(|o| o.label().to_owned()).unwrap_or_default(),
            detail: super::case_pathway::detail(e),
            rationale: e.rationale.clone().unwrap_or_default(),
            note: e.note.clone().unwrap_or_default(),
            record: e.record_id.clone().unwrap_or_default(),
        })
        .collect();
    let may_record = c.may_record(state, &session.principal);
    let moves = super::case_moves::on_case(state, &session.principal, &c);
    let actions = super::case_actions::on_case(state, &session.principal, &c);
    let asks = super::case_requests::on_case(state, &session.principal, &c);
    let pathway = super::case_pathway::on_case(state, session, &c);
    let meetings = super::case_meetings::on_case(state, &session.principal, &c);
    Ok(page(
        status,
        &CasePage {
            frame: Frame::of(session, &format!("Case: {child}")),
            id: c.id.clone(),
            child,
            born,
            subject_role: c.subject_role.label().to_owned(),
            lead_agency: agency_name(state, &c.lead_agency),
            lead_sub: c.lead_sub.clone(),
            involved: c
                .involved_agencies
                .iter()
                .map(|a| agency_name(state, a))
                .collect::<Vec<_>>()
                .join(", "),
            status: c.status.label().to_owned(),
            outcome: c.outcome.map(|o| o.label().to_owned()).unwrap_or_default(),
            referral: uk(&c.referral_received_at),
            referred_by: c
                .referred_by_agency
                .as_deref()
                .map(|a| agency_name(state, a))
                .unwrap_or_default(),
            opened: uk(&c.opened_at),
            closed: shown_opt(c.closed_at),
            linked: c.linked_case_ids.clone(),
            clocks: in_policy_order(state, clock_lines(c.closed_at, &c.clocks)),
            events,
            duties: duty_lines(state, &c.duties),
            record_duties: duty_lines(state, &c.record_duties),
            may_record,
            form,
            csrf: session.csrf.clone(),
            // a reallocation names its worker, on its own page (`transfers`); a route, a
            // screening and a clock not required have theirs (`case_route`)
            kinds: choices::<EventKind>()
                .into_iter()
                .filter(|k| {
                    !super::case_pathway::OWN_PAGE
                        .iter()
                        .any(|o| k.value == o.as_str())
                })
                .collect(),
            outcomes: choices::<CaseOutcome>(),
            rationale_hint: format!(
                "Why: needed with an outcome, at least {} characters.",
                state.policy().rationale_min_chars()
            ),
            done,
            moves,
            actions,
            asks,
            pathway,
            meetings,
        },
    ))
}

/// What the page that follows a write says was done.
#[derive(serde::Deserialize)]
pub struct Done {
    opened: Option<String>,
    recorded: Option<i64>,
    transferred: Option<String>,
    accepted: Option<String>,
    action_agreed: Option<i64>,
    meeting: Option<String>,
    attendance: Option<String>,
}

/// `GET /ui/cases/{id}`: one case, as `GET /v1/cases/{id}` gives it (the API's refusal: 403 to
/// a role that reads no case, 404 to anyone else who may not see it, as to a case that does
/// not exist), with the form for its next step.
pub async fn case(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    done: Result<axum::extract::Query<Done>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let c = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    let done = match done {
        Ok(axum::extract::Query(Done {
            opened: Some(_), ..
        })) => "opened".to_owned(),
        Ok(axum::extract::Query(Done {
            recorded: Some(seq),
            ..
        })) => seq.to_string(),
        Ok(axum::extract::Query(Done {
            transferred: Some(_),
            ..
        })) => "transferred".to_owned(),
        Ok(axum::extract::Query(Done {
            accepted: Some(_), ..
        })) => "accepted".to_owned(),
        Ok(axum::extract::Query(Done {
            action_agreed: Some(_),
            ..
        })) => "action_agreed".to_owned(),
        Ok(axum::extract::Query(Done {
            meeting: Some(_), ..
        })) => "meeting".to_owned(),
        Ok(axum::extract::Query(Done {
            attendance: Some(_),
            ..
        })) => "attendance".to_owned(),
        _ => String::new(),
    };
    case_page(&state, &session, c, Form::default(), done, StatusCode::OK).await
}

/// A case rule's refusal in a person's words, beside the field it is about; `None` for a
/// refusal the kit words from the API's detail.
pub(super) fn plain_refusal(
    e: &ApiError,
    state: &AppState,
    referral: Option<DateTime<Utc>>,
) -> Option<(&'static str, String)> {
    let field = e.detail.split_once(": ").map(|(f, _)| f);
    Some(match e.code {
        "event_in_future" if field == Some("referral_received_at") => (
            "referral_received_at",
            "When the referral was received must be now or in the past".to_owned(),
        ),
        "event_in_future" => (
            "occurred_at",
            "When it happened must be now or in the past".to_owned(),
        ),
        "event_before_referral" => (
            "occurred_at",
            match referral {
                Some(r) => format!(
                    "When it happened must be after the referral was received ({})",
                    uk(&r)
                ),
                None => "When it happened must be after the referral was received".to_owned(),
            },
        ),
        "rationale_too_short" => (
            "rationale",
            format!(
                "Give the rationale for the outcome: at least {} characters",
                state.policy().rationale_min_chars()
            ),
        ),
        "outcome_missing" => ("outcome", "Choose the outcome".to_owned()),
        "outcome_not_expected" => (
            "outcome",
            "Leave the outcome blank: only the step \u{201c}Outcome recorded\u{201d} has one"
                .to_owned(),
        ),
        "outcome_required" => (
            "kind",
            "Record the outcome, with its rationale, before closing the case".to_owned(),
        ),
        "case_closed" => (
            "",
            "This case is closed: open a new case if the child is referred again".to_owned(),
        ),
        "duplicate_open_case" => (
            "",
            "Your agency already has a case open for this child: record its steps on that case"
                .to_owned(),
        ),
        "case_led_elsewhere" => (
            "",
            "Another agency leads an open case for this child, and one agency leads a child's \
             case at a time (the partnership's IG officers can say which)"
                .to_owned(),
        ),
        "transfer_pending" => (
            "",
            "A transfer of this case already waits for the receiving council to accept it"
                .to_owned(),
        ),
        "transfer_accepted" => ("", "This transfer has been accepted already".to_owned()),
        "same_worker_linked" => (
            "lead_sub",
            "Choose another lead worker: this one leads the linked case of the other child, and \
             different social workers should be allocated to the victim and the alleged abuser"
                .to_owned(),
        ),
        "unknown_record" => (
            "record_id",
            "There is no record with that reference".to_owned(),
        ),
        "record_not_about_child" => ("record_id", "That record is about another child".to_owned()),
        _ => return None,
    })
}

/// A refusal of a form as its errors: a case rule in a person's words, else the kit's.
pub(super) fn form_errors(
    e: &ApiError,
    state: &AppState,
    referral: Option<DateTime<Utc>>,
    labels: Labels<'_>,
) -> Errors {
    match plain_refusal(e, state, referral) {
        Some((field, message)) => {
            let mut errors = Errors::default();
            errors.add(field, &message);
            errors
        }
        None => Errors::from_api(e, labels),
    }
}

/// Whether a refusal belongs on an error page (the person may not, the case is not there, the
/// service failed) rather than beside the form's fields. A route below the screening's
/// threshold is a choice the person can change: it stays by the route.
pub(super) fn dead_end(e: &ApiError) -> bool {
    (matches!(e.status.as_u16(), 401 | 403 | 404) && e.code != "route_below_threshold")
        || e.status.is_server_error()
}

/// `POST /ui/cases/{id}/events`: records a step through `app::cases::record`, as
/// `POST /v1/cases/{id}/events` does; refused, the case page again with the form as typed, an
/// error summary and each message by its field.
pub async fn record(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<CaseId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    let form: FormFields = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let (value, mut errors) = form.to_json(EVENT_FIELDS);
    let refusal = match parse::<NewEvent>(value, EVENT_LABELS) {
        Ok(body) if errors.is_empty() => {
            match app::record(&state, &session.principal, id.clone(), body).await {
                Ok(done) => {
                    return Ok(Redirect::to(&format!(
                        "/ui/cases/{id}?recorded={}#case-events",
                        done.seq
                    ))
                    .into_response());
                }
                Err(e) if dead_end(&e) => return Err(refused(e)),
                Err(e) => Some(e),
            }
        }
        Ok(_) => None,
        Err(e) => {
            errors.extend(e);
            None
        }
    };
    // the page again, as the person may now read it
    let c = app::read(&state, &session.principal, id)
        .await
        .map_err(refused)?;
    if let Some(e) = &refusal {
        errors.extend(form_errors(
            e,
            &state,
            Some(c.referral_received_at),
            EVENT_LABELS,
        ));
    }
    let status = refusal
        .as_ref()
        .map_or(StatusCode::UNPROCESSABLE_ENTITY, |e| e.status);
    case_page(
        &state,
        &session,
        c,
        Form::refused(form, errors),
        String::new(),
        status,
    )
    .await
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
            occurrence: 1,
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
