//! The case process (PROCESS.md): a case per child's episode, its events, its clocks and its
//! duties to notify. This module holds what a case *is* and how its clocks follow from its
//! events (pure, table-tested); `rules` what an event may do to a case (pure); `store` reads
//! and writes it; the routes compose them with the permission checks and the audit.
//!
//! A clock is derived, never edited: from the referral and the events recorded so far, each
//! timescale whose start has happened has one clock, started at the referral or at the
//! earliest event of its start kind, and stopped by the earliest event of its stop kind at or
//! after that start. Its due time is fixed when it starts (a later edit of `timescales.csv`
//! applies to clocks that start after it), so a deadline a worker has been told never moves.

pub mod actions;
pub mod involved;
pub mod report;
pub mod rows;
pub mod rules;
pub mod store;
pub mod transfers;
pub mod writes;

pub use rules::{History, Proposed, Refusal, Transition, record};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::decision::clocks::{self, BeyondCalendar, Calendar, Start, Status, Timescale};
use crate::vocab::EventKind;

/// How far ahead of the broker's clock an event's `occurred_at` may be and still be "now"
/// (the caller's clock may run a little fast); beyond it the event is in the future.
pub const CLOCK_SKEW_SECONDS: i64 = 120;

/// One clock of a case, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub clock: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// A clock as a case shows it (PROCESS.md, Clocks), with its status at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClockView {
    pub clock: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    #[schemars(with = "String")]
    pub status: Status,
}

impl Clock {
    /// The clock's status at `at`.
    pub fn view(&self, at: DateTime<Utc>) -> ClockView {
        ClockView {
            clock: self.clock.clone(),
            started_at: self.started_at,
            due_at: self.due_at,
            stopped_at: self.stopped_at,
            status: clocks::status(self.due_at, self.stopped_at, at),
        }
    }
}

/// An event as the clocks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Happened {
    pub kind: EventKind,
    pub at: DateTime<Utc>,
}

/// The clocks of a case whose referral was received at `referral` and that has had `events`
/// (in any order), under `timescales` (file order kept). A clock in `stored` with the same
/// start keeps its stored due time.
pub fn derive(
    referral: DateTime<Utc>,
    events: &[Happened],
    timescales: &[Timescale],
    calendar: &Calendar,
    stored: &[Clock],
) -> Result<Vec<Clock>, BeyondCalendar> {
    let earliest = |kind: EventKind, not_before: DateTime<Utc>| {
        events
            .iter()
            .filter(|e| e.kind == kind && e.at >= not_before)
            .map(|e| e.at)
            .min()
    };
    let mut out = Vec::new();
    for t in timescales {
        let started_at = match t.start {
            Start::Referral => referral,
            Start::Event(kind) => match earliest(kind, DateTime::<Utc>::MIN_UTC) {
                Some(at) => at,
                None => continue,
            },
        };
        let due_at = match stored
            .iter()
            .find(|c| c.clock == t.clock && c.started_at == started_at)
        {
            Some(kept) => kept.due_at,
            None => clocks::due_at(started_at, t.amount, t.unit, calendar)?,
        };
        out.push(Clock {
            clock: t.clock.clone(),
            started_at,
            due_at,
            stopped_at: earliest(t.stop, started_at),
        });
    }
    Ok(out)
}

/// The instant a case's clocks are judged at: now while it is open, the moment it closed
/// once it is closed (a step a closed case never took is not overdue for ever).
pub fn judged_at(closed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    closed_at.map_or(now, |c| c.min(now))
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
        Happened { kind, at: utc(at) }
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
        let review = c.iter().find(|c| c.clock == "first_review").unwrap();
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
    fn a_closed_case_is_judged_when_it_closed() {
        let closed = utc("2026-11-03T09:00:00Z");
        let now = utc("2026-12-01T09:00:00Z");
        assert_eq!(judged_at(Some(closed), now), closed);
        assert_eq!(judged_at(None, now), now);
    }
}
