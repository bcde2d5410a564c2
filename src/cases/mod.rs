//! The case process (PROCESS.md): a case per child's episode, its events, its clocks and its
//! duties to notify. Its clocks follow from its events by `decision::case_clocks` (pure,
//! table-tested, re-exported here); `rules` says what an event may do to a case and `routes`
//! what a route, a clock's release or a screening adds to it (pure); `store` reads and writes
//! it; the app layer composes them with the permission checks and the audit.

pub mod actions;
pub mod involved;
pub mod meetings;
pub mod report;
pub mod requests;
pub mod routes;
pub mod rows;
pub mod rules;
pub mod store;
pub mod transfers;
pub mod writes;

pub use rules::{History, Proposed, Refusal, Transition, record};

use chrono::{DateTime, Utc};

pub use crate::decision::case_clocks::{Clock, ClockView, Happened, Mark, derive, route_of};

/// How far ahead of the broker's clock an event's `occurred_at` may be and still be "now"
/// (the caller's clock may run a little fast); beyond it the event is in the future.
pub const CLOCK_SKEW_SECONDS: i64 = 120;

/// The instant a case's clocks are judged at: now while it is open, the moment it closed
/// once it is closed (a step a closed case never took is not overdue for ever).
pub fn judged_at(closed_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    closed_at.map_or(now, |c| c.min(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_closed_case_is_judged_when_it_closed() {
        let closed = utc("2026-11-03T09:00:00Z");
        let now = utc("2026-12-01T09:00:00Z");
        assert_eq!(judged_at(Some(closed), now), closed);
        assert_eq!(judged_at(None, now), now);
    }
}
