//! The clocks of one case (PROCESS.md, Clocks and Routes), derived, never edited: from the
//! referral and the events recorded so far, each timescale whose start has happened has one
//! clock (one per occurrence of a repeating clock), started at the referral or at the earliest
//! event of its start kind. Its due time is fixed when it starts (a later edit of the timescales
//! applies to clocks that start after it), so a deadline a worker has been told never moves.
//! Pure; `cases` stores what this derives, and the clock scenarios run it without a server.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::clocks::{self, BeyondCalendar, Calendar, Start, Status, Timescale};
use crate::vocab::{EventKind, Route};

/// One clock of a case (one occurrence of a repeating clock), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub clock: String,
    /// 1, 2, ... (a clock that does not repeat has occurrence 1 only).
    pub occurrence: u32,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// Running on a route the case did not take, or said not required by a team manager.
    pub not_required: bool,
}

/// A clock as a case shows it (PROCESS.md, Clocks and Routes), with its status at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClockView {
    pub clock: String,
    /// 1, 2, ... of a repeating clock (the review every 6 months).
    pub occurrence: u32,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// `pending`, `met`, `late`, `overdue` or `not_required`.
    #[schemars(with = "String")]
    pub status: Status,
}

impl Clock {
    /// The clock's status at `at`; a clock not required is never late nor overdue.
    pub fn view(&self, at: DateTime<Utc>) -> ClockView {
        ClockView {
            clock: self.clock.clone(),
            occurrence: self.occurrence,
            started_at: self.started_at,
            due_at: self.due_at,
            stopped_at: self.stopped_at,
            status: if self.not_required {
                Status::NotRequired
            } else {
                clocks::status(self.due_at, self.stopped_at, at)
            },
        }
    }
}

/// What an event says beyond its kind that the clocks follow (PROCESS.md, Routes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// `route_decided`: the route the case now follows.
    Route(Route),
    /// `clock_not_required`: this clock is not required.
    NotRequired(String),
}

/// An event as the clocks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Happened {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
    pub mark: Option<Mark>,
}

impl Happened {
    /// An event of `kind` at `at` that marks nothing.
    pub fn new(kind: EventKind, at: DateTime<Utc>) -> Happened {
        Happened {
            kind,
            at,
            mark: None,
        }
    }
}

/// The route a case follows after `events`: the latest `route_decided` (by when it happened;
/// of two at the same instant, the one recorded later). None before any is decided.
pub fn route_of(events: &[Happened]) -> Option<Route> {
    let mut latest: Option<(DateTime<Utc>, Route)> = None;
    for e in events {
        if let Some(Mark::Route(r)) = &e.mark
            && latest.is_none_or(|(at, _)| e.at >= at)
        {
            latest = Some((e.at, *r));
        }
    }
    latest.map(|(_, r)| r)
}

/// The clocks of a case whose referral was received at `referral` and that has had `events`
/// (in any order), under `timescales` (file order kept, each clock's occurrences in order). A
/// clock in `stored` with the same occurrence and start keeps its stored due time.
///
/// A clock starts at the referral or the earliest event of its start kind, and its n-th
/// occurrence is stopped by the n-th event of its stop kind at or after that start; a
/// repeating clock (`then`) starts its next occurrence when one stops. A running occurrence is
/// `not_required` once the case's route is one its `applies` does not name, or a
/// `clock_not_required` names it.
pub fn derive(
    referral: DateTime<Utc>,
    events: &[Happened],
    timescales: &[Timescale],
    calendar: &Calendar,
    stored: &[Clock],
) -> Result<Vec<Clock>, BeyondCalendar> {
    let route = route_of(events);
    let not_required = |clock: &str| {
        events
            .iter()
            .any(|e| matches!(&e.mark, Some(Mark::NotRequired(c)) if c == clock))
    };
    let mut out = Vec::new();
    for t in timescales {
        let started_at = match t.start {
            Start::Referral => referral,
            Start::Event(kind) => {
                match events.iter().filter(|e| e.kind == kind).map(|e| e.at).min() {
                    Some(at) => at,
                    None => continue,
                }
            }
        };
        let mut stops: Vec<DateTime<Utc>> = events
            .iter()
            .filter(|e| e.kind == t.stop && e.at >= started_at)
            .map(|e| e.at)
            .collect();
        stops.sort();
        let required = t.applies.required_on(route) && !not_required(&t.clock);
        let mut start = started_at;
        let mut interval = (t.amount, t.unit);
        for occurrence in 1u32.. {
            let due_at = match stored
                .iter()
                .find(|c| c.clock == t.clock && c.occurrence == occurrence && c.started_at == start)
            {
                Some(kept) => kept.due_at,
                None => clocks::due_at(start, interval.0, interval.1, calendar)?,
            };
            let stopped_at = stops.get(occurrence as usize - 1).copied();
            out.push(Clock {
                clock: t.clock.clone(),
                occurrence,
                started_at: start,
                due_at,
                stopped_at,
                not_required: stopped_at.is_none() && !required,
            });
            match (stopped_at, t.then) {
                (Some(stop), Some(then)) => {
                    start = stop;
                    interval = (then.amount, then.unit);
                }
                _ => break,
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn shipped() -> (Vec<Timescale>, Calendar) {
        let root = env!("CARGO_MANIFEST_DIR");
        let t = std::fs::read_to_string(format!("{root}/policies/timescales.csv")).unwrap();
        let c = std::fs::read_to_string(format!("{root}/policies/bank_holidays.csv")).unwrap();
        (
            Timescale::parse_all(&t).unwrap(),
            Calendar::parse(&c, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).unwrap(),
        )
    }

    fn ev(kind: EventKind, at: &str) -> Happened {
        Happened::new(kind, utc(at))
    }

    fn route(r: Route, at: &str) -> Happened {
        Happened {
            mark: Some(Mark::Route(r)),
            ..ev(EventKind::RouteDecided, at)
        }
    }

    fn status_of(clocks: &[Clock], name: &str, at: &str) -> Vec<(u32, Status)> {
        clocks
            .iter()
            .filter(|c| c.clock == name)
            .map(|c| (c.occurrence, c.view(utc(at)).status))
            .collect()
    }

    fn names(clocks: &[Clock]) -> Vec<&str> {
        clocks.iter().map(|c| c.clock.as_str()).collect()
    }

    #[test]
    fn a_new_case_runs_the_clocks_that_start_at_the_referral_only() {
        let (t, cal) = shipped();
        let c = derive(utc("2026-11-02T09:00:00Z"), &[], &t, &cal, &[]).unwrap();
        assert_eq!(
            names(&c),
            [
                "strategy_discussion",
                "initial_assessment",
                "strategy_meeting",
                "assessment"
            ]
        );
        assert!(c.iter().all(|c| c.stopped_at.is_none()));
        assert_eq!(c[0].due_at, utc("2026-11-04T09:00:00Z"));
    }

    #[test]
    fn an_event_starts_and_another_stops_a_clock_in_any_order_of_recording() {
        let (t, cal) = shipped();
        let referral = utc("2026-11-02T09:00:00Z");
        // minutes recorded before the meeting they follow: the clock still starts at the
        // meeting and is stopped by the minutes
        let events = [
            ev(EventKind::MinutesCirculated, "2026-11-12T10:00:00Z"),
            ev(EventKind::StrategyMeetingHeld, "2026-11-10T10:00:00Z"),
        ];
        let c = derive(referral, &events, &t, &cal, &[]).unwrap();
        let minutes = c.iter().find(|c| c.clock == "minutes").unwrap();
        assert_eq!(minutes.started_at, utc("2026-11-10T10:00:00Z"));
        assert_eq!(minutes.stopped_at, Some(utc("2026-11-12T10:00:00Z")));
        let meeting = c.iter().find(|c| c.clock == "strategy_meeting").unwrap();
        assert_eq!(meeting.stopped_at, Some(utc("2026-11-10T10:00:00Z")));
    }

    #[test]
    fn a_stop_before_its_start_does_not_stop_the_clock() {
        let (t, cal) = shipped();
        let events = [
            ev(EventKind::ReviewHeld, "2026-11-03T10:00:00Z"),
            ev(EventKind::PlanAgreed, "2026-11-05T10:00:00Z"),
        ];
        let c = derive(utc("2026-11-02T09:00:00Z"), &events, &t, &cal, &[]).unwrap();
        let review = c.iter().find(|c| c.clock == "review").unwrap();
        assert_eq!(review.stopped_at, None);
        assert_eq!(review.due_at, utc("2027-02-05T10:00:00Z"));
    }

    #[test]
    fn a_stored_due_time_is_kept_when_the_timescale_changes_later() {
        let (mut t, cal) = shipped();
        let referral = utc("2026-11-02T09:00:00Z");
        let first = derive(referral, &[], &t, &cal, &[]).unwrap();
        t[0].amount = 24;
        let again = derive(referral, &[], &t, &cal, &first).unwrap();
        assert_eq!(again[0].due_at, first[0].due_at);
        let fresh = derive(referral, &[], &t, &cal, &[]).unwrap();
        assert_eq!(fresh[0].due_at, utc("2026-11-03T09:00:00Z"));
    }

    #[test]
    fn a_clock_of_a_route_not_taken_is_not_required_and_runs_again_if_the_route_changes() {
        let (t, cal) = shipped();
        let referral = "2026-11-02T09:00:00Z";
        let late = "2026-12-20T09:00:00Z";
        // no route yet: the strategy meeting runs, and is overdue a month on
        let none = derive(utc(referral), &[], &t, &cal, &[]).unwrap();
        assert_eq!(
            status_of(&none, "strategy_meeting", late),
            [(1, Status::Overdue)]
        );
        // a single assessment: the strategy meeting and its minutes are not required, the
        // assessment still runs
        let single = [route(Route::SingleAssessment, "2026-11-03T09:00:00Z")];
        let c = derive(utc(referral), &single, &t, &cal, &[]).unwrap();
        assert_eq!(
            status_of(&c, "strategy_meeting", late),
            [(1, Status::NotRequired)]
        );
        assert_eq!(status_of(&c, "assessment", late), [(1, Status::Overdue)]);
        // early help: the assessment is not required either; the review applies always
        let help = [route(Route::EarlyHelp, "2026-11-03T09:00:00Z")];
        let c = derive(utc(referral), &help, &t, &cal, &[]).unwrap();
        assert_eq!(
            status_of(&c, "assessment", late),
            [(1, Status::NotRequired)]
        );
        // a later route replaces the earlier one: back to s47, the meeting is overdue again
        let back = [
            route(Route::SingleAssessment, "2026-11-03T09:00:00Z"),
            route(Route::S47Enquiry, "2026-11-05T09:00:00Z"),
        ];
        let c = derive(utc(referral), &back, &t, &cal, &[]).unwrap();
        assert_eq!(
            status_of(&c, "strategy_meeting", late),
            [(1, Status::Overdue)]
        );
        // a clock stopped before the route was decided keeps its result
        let held = [
            ev(EventKind::StrategyMeetingHeld, "2026-11-04T09:00:00Z"),
            route(Route::SingleAssessment, "2026-11-05T09:00:00Z"),
        ];
        let c = derive(utc(referral), &held, &t, &cal, &[]).unwrap();
        assert_eq!(status_of(&c, "strategy_meeting", late), [(1, Status::Met)]);
        assert_eq!(
            status_of(&c, "minutes", late),
            [(1, Status::NotRequired)],
            "minutes of an s47 meeting on a case that left the s47 route"
        );
    }

    #[test]
    fn a_team_managers_word_makes_a_clock_not_required() {
        let (t, cal) = shipped();
        let word = Happened {
            mark: Some(Mark::NotRequired("initial_assessment".into())),
            ..ev(EventKind::ClockNotRequired, "2026-11-03T09:00:00Z")
        };
        let c = derive(utc("2026-11-02T09:00:00Z"), &[word], &t, &cal, &[]).unwrap();
        let late = "2026-12-20T09:00:00Z";
        assert_eq!(
            status_of(&c, "initial_assessment", late),
            [(1, Status::NotRequired)]
        );
        assert_eq!(
            status_of(&c, "strategy_discussion", late),
            [(1, Status::Overdue)]
        );
    }

    #[test]
    fn the_review_repeats_three_months_after_the_plan_then_every_six_months() {
        let (t, cal) = shipped();
        let events = [
            ev(EventKind::PlanAgreed, "2026-11-05T10:00:00Z"),
            ev(EventKind::ReviewHeld, "2027-02-01T10:00:00Z"),
            ev(EventKind::ReviewHeld, "2027-08-10T09:00:00Z"),
        ];
        let c = derive(utc("2026-11-02T09:00:00Z"), &events, &t, &cal, &[]).unwrap();
        type Occurrence = (u32, DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);
        let reviews: Vec<Occurrence> = c
            .iter()
            .filter(|c| c.clock == "review")
            .map(|c| (c.occurrence, c.started_at, c.due_at, c.stopped_at))
            .collect();
        assert_eq!(
            reviews,
            [
                (
                    1,
                    utc("2026-11-05T10:00:00Z"),
                    utc("2027-02-05T10:00:00Z"),
                    Some(utc("2027-02-01T10:00:00Z"))
                ),
                // 6 months on, same London wall-clock time (BST in August)
                (
                    2,
                    utc("2027-02-01T10:00:00Z"),
                    utc("2027-08-01T09:00:00Z"),
                    Some(utc("2027-08-10T09:00:00Z"))
                ),
                (
                    3,
                    utc("2027-08-10T09:00:00Z"),
                    utc("2028-02-10T10:00:00Z"),
                    None
                ),
            ]
        );
        assert_eq!(
            status_of(&c, "review", "2027-09-01T00:00:00Z"),
            [(1, Status::Met), (2, Status::Late), (3, Status::Pending)]
        );
    }
}
