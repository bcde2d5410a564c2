//! The rules of a case's events (PROCESS.md, Event kinds and Outcomes), as pure functions:
//! an event is checked on its own when it arrives ([`Proposed::new`]: it has happened, an
//! outcome comes with `outcome_recorded` only and with its rationale), then against the case
//! it would join ([`record`]: a closed case takes no event, nothing happens before the
//! referral, a case closes only after its outcome), which says how the case changes
//! ([`Transition`]). The routes read the case, call these, and store what they answer; a
//! [`Refusal`] writes nothing.

use chrono::{DateTime, Utc};

use super::{CLOCK_SKEW_SECONDS, Happened};
use crate::vocab::{CaseOutcome, CaseStatus, EventKind};

/// Why an event (or an instant a caller says has happened) is refused. Each has its own code
/// (API.md); the message is the problem's detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An instant later than now (beyond the allowed clock skew).
    #[error("{field}: {at} is in the future; record what has happened")]
    InFuture {
        field: &'static str,
        at: DateTime<Utc>,
    },
    /// `outcome_recorded` without its outcome.
    #[error("outcome: an outcome_recorded event names its outcome")]
    OutcomeMissing,
    /// An outcome whose rationale is shorter than `rationale_min_chars`.
    #[error(
        "rationale: an outcome needs its rationale clearly recorded, at least {min} characters \
         (policies/parameters.csv rationale_min_chars); {given} given"
    )]
    RationaleTooShort { min: usize, given: usize },
    /// An outcome on an event of another kind.
    #[error("outcome: only an outcome_recorded event carries an outcome, not {0}")]
    OutcomeNotExpected(EventKind),
    /// Any event on a closed case.
    #[error("case {0} is closed; open a new case if the child is referred again")]
    CaseClosed(String),
    /// An event dated before the case's referral was received.
    #[error("occurred_at: {at} is before the referral was received ({referral})")]
    BeforeReferral {
        at: DateTime<Utc>,
        referral: DateTime<Utc>,
    },
    /// `case_closed` before any outcome was recorded.
    #[error("a case is closed only after its outcome has been recorded with its rationale")]
    OutcomeRequired,
}

impl Refusal {
    /// The problem's code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InFuture { .. } => "event_in_future",
            Refusal::OutcomeMissing => "outcome_missing",
            Refusal::RationaleTooShort { .. } => "rationale_too_short",
            Refusal::OutcomeNotExpected(_) => "outcome_not_expected",
            Refusal::CaseClosed(_) => "case_closed",
            Refusal::BeforeReferral { .. } => "event_before_referral",
            Refusal::OutcomeRequired => "outcome_required",
        }
    }

    /// Whether the event conflicts with the case as it stands (409), rather than being wrong
    /// in itself (422).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Refusal::CaseClosed(_) | Refusal::OutcomeRequired)
    }
}

/// An instant a caller gives for something that has happened: not after `now` (with the
/// allowed clock skew).
pub fn happened(field: &'static str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    if at > now + chrono::Duration::seconds(CLOCK_SKEW_SECONDS) {
        return Err(Refusal::InFuture { field, at });
    }
    Ok(())
}

/// An event that is sound on its own, before the case it would join is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposed {
    kind: EventKind,
    occurred_at: DateTime<Utc>,
    outcome: Option<CaseOutcome>,
}

impl Proposed {
    /// The event of `kind` at `occurred_at` with its `outcome` and `rationale`, checked at `now`
    /// against `rationale_min_chars` (policies/parameters.csv).
    pub fn new(
        kind: EventKind,
        occurred_at: DateTime<Utc>,
        outcome: Option<CaseOutcome>,
        rationale: Option<&str>,
        rationale_min_chars: usize,
        now: DateTime<Utc>,
    ) -> Result<Proposed, Refusal> {
        happened("occurred_at", occurred_at, now)?;
        match (kind, outcome) {
            (EventKind::OutcomeRecorded, None) => return Err(Refusal::OutcomeMissing),
            (EventKind::OutcomeRecorded, Some(_)) => {
                let given = rationale.map_or(0, |r| r.trim().chars().count());
                if given < rationale_min_chars {
                    return Err(Refusal::RationaleTooShort {
                        min: rationale_min_chars,
                        given,
                    });
                }
            }
            (_, Some(_)) => return Err(Refusal::OutcomeNotExpected(kind)),
            (_, None) => {}
        }
        Ok(Proposed {
            kind,
            occurred_at,
            outcome,
        })
    }

    pub fn kind(&self) -> EventKind {
        self.kind
    }

    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }

    pub fn outcome(&self) -> Option<CaseOutcome> {
        self.outcome
    }
}

/// What the rules need of the case an event would join.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub case_id: &'a str,
    pub status: CaseStatus,
    pub referral_received_at: DateTime<Utc>,
    /// The events recorded so far, in any order.
    pub events: &'a [Happened],
}

/// How the case changes when the event is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The case's status after the event (`closed` by `case_closed`).
    pub status: CaseStatus,
    /// When the case closed, if this event closed it.
    pub closed_at: Option<DateTime<Utc>>,
    /// The outcome this event records, if any (the case's latest outcome).
    pub outcome: Option<CaseOutcome>,
    /// Every event of the case with this one, from which its clocks are derived.
    pub steps: Vec<Happened>,
}

/// Records `event` on the case of `history`, or says why it may not be: a closed case takes
/// no event, an event cannot precede the referral, and a case closes only after an outcome
/// has been recorded (checked in that order).
pub fn record(event: &Proposed, history: &History<'_>) -> Result<Transition, Refusal> {
    if history.status == CaseStatus::Closed {
        return Err(Refusal::CaseClosed(history.case_id.to_owned()));
    }
    if event.occurred_at < history.referral_received_at {
        return Err(Refusal::BeforeReferral {
            at: event.occurred_at,
            referral: history.referral_received_at,
        });
    }
    let closes = event.kind == EventKind::CaseClosed;
    if closes
        && !history
            .events
            .iter()
            .any(|e| e.kind == EventKind::OutcomeRecorded)
    {
        return Err(Refusal::OutcomeRequired);
    }
    let mut steps = history.events.to_vec();
    steps.push(Happened::new(event.kind, event.occurred_at));
    Ok(Transition {
        status: if closes {
            CaseStatus::Closed
        } else {
            history.status
        },
        closed_at: closes.then_some(event.occurred_at),
        outcome: event.outcome,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    const NOW: &str = "2026-11-20T12:00:00Z";
    const REFERRAL: &str = "2026-11-02T09:00:00Z";
    const RATIONALE: &str = "No concerns were found after the visit and the school's account.";

    fn proposed(kind: EventKind, at: &str, outcome: Option<CaseOutcome>) -> Proposed {
        Proposed::new(kind, utc(at), outcome, Some(RATIONALE), 20, utc(NOW)).unwrap()
    }

    fn history<'a>(status: CaseStatus, events: &'a [Happened]) -> History<'a> {
        History {
            case_id: "0192f0c4-0000-7000-8000-000000000001",
            status,
            referral_received_at: utc(REFERRAL),
            events,
        }
    }

    fn ev(kind: EventKind, at: &str) -> Happened {
        Happened::new(kind, utc(at))
    }

    #[test]
    fn an_event_in_the_future_is_refused_beyond_the_clock_skew_only() {
        let skewed = utc(NOW) + chrono::Duration::seconds(CLOCK_SKEW_SECONDS);
        assert!(
            Proposed::new(EventKind::ReviewHeld, skewed, None, None, 20, utc(NOW)).is_ok(),
            "a caller's clock a little fast is still now"
        );
        let later = skewed + chrono::Duration::seconds(1);
        let refused = Proposed::new(EventKind::ReviewHeld, later, None, None, 20, utc(NOW));
        assert_eq!(
            refused,
            Err(Refusal::InFuture {
                field: "occurred_at",
                at: later
            })
        );
        assert_eq!(refused.unwrap_err().code(), "event_in_future");
    }

    #[test]
    fn an_outcome_comes_with_outcome_recorded_only_and_with_its_rationale() {
        let at = utc("2026-11-10T10:00:00Z");
        let now = utc(NOW);
        // kind, outcome, rationale: accepted, or the refusal's code
        type Row<'a> = (
            EventKind,
            Option<CaseOutcome>,
            Option<&'a str>,
            Result<(), &'a str>,
        );
        let cases: [Row; 6] = [
            (
                EventKind::OutcomeRecorded,
                None,
                Some(RATIONALE),
                Err("outcome_missing"),
            ),
            (
                EventKind::OutcomeRecorded,
                Some(CaseOutcome::EarlyHelp),
                None,
                Err("rationale_too_short"),
            ),
            (
                EventKind::OutcomeRecorded,
                Some(CaseOutcome::EarlyHelp),
                Some("   short, padded                   "),
                Err("rationale_too_short"),
            ),
            (
                EventKind::OutcomeRecorded,
                Some(CaseOutcome::EarlyHelp),
                Some(RATIONALE),
                Ok(()),
            ),
            (
                EventKind::ReviewHeld,
                Some(CaseOutcome::EarlyHelp),
                Some(RATIONALE),
                Err("outcome_not_expected"),
            ),
            (EventKind::ReviewHeld, None, None, Ok(())),
        ];
        for (kind, outcome, rationale, expected) in cases {
            let got = Proposed::new(kind, at, outcome, rationale, 20, now)
                .map(drop)
                .map_err(|r| r.code());
            assert_eq!(got, expected, "{kind} {outcome:?} {rationale:?}");
        }
        assert_eq!(
            Proposed::new(
                EventKind::OutcomeRecorded,
                at,
                Some(CaseOutcome::EarlyHelp),
                Some(" twelve chars "),
                20,
                now
            )
            .unwrap_err()
            .to_string(),
            "rationale: an outcome needs its rationale clearly recorded, at least 20 characters \
             (policies/parameters.csv rationale_min_chars); 12 given"
        );
    }

    #[test]
    fn a_closed_case_refuses_every_event_as_a_conflict() {
        let events = [
            ev(EventKind::OutcomeRecorded, "2026-11-05T10:00:00Z"),
            ev(EventKind::CaseClosed, "2026-11-06T10:00:00Z"),
        ];
        let refused = record(
            &proposed(EventKind::ReviewHeld, "2026-11-10T10:00:00Z", None),
            &history(CaseStatus::Closed, &events),
        )
        .unwrap_err();
        assert_eq!(refused.code(), "case_closed");
        assert!(refused.is_conflict());
        assert_eq!(
            refused.to_string(),
            "case 0192f0c4-0000-7000-8000-000000000001 is closed; open a new case if the child \
             is referred again"
        );
    }

    #[test]
    fn an_event_before_the_referral_is_refused() {
        let refused = record(
            &proposed(EventKind::ReviewHeld, "2026-11-02T08:59:59Z", None),
            &history(CaseStatus::Open, &[]),
        )
        .unwrap_err();
        assert_eq!(refused.code(), "event_before_referral");
        assert!(!refused.is_conflict());
        let at_referral = record(
            &proposed(EventKind::ReviewHeld, REFERRAL, None),
            &history(CaseStatus::Open, &[]),
        );
        assert!(at_referral.is_ok(), "{at_referral:?}");
    }

    #[test]
    fn a_case_closes_only_after_an_outcome_and_closing_changes_its_status() {
        let close = proposed(EventKind::CaseClosed, "2026-11-12T10:00:00Z", None);
        let none = [ev(EventKind::StrategyMeetingHeld, "2026-11-05T10:00:00Z")];
        let refused = record(&close, &history(CaseStatus::Open, &none)).unwrap_err();
        assert_eq!(refused.code(), "outcome_required");
        assert!(refused.is_conflict());

        let with_outcome = [
            ev(EventKind::StrategyMeetingHeld, "2026-11-05T10:00:00Z"),
            ev(EventKind::OutcomeRecorded, "2026-11-11T10:00:00Z"),
        ];
        let t = record(&close, &history(CaseStatus::Open, &with_outcome)).unwrap();
        assert_eq!(t.status, CaseStatus::Closed);
        assert_eq!(t.closed_at, Some(utc("2026-11-12T10:00:00Z")));
        assert_eq!(t.outcome, None);
        assert_eq!(t.steps.len(), 3);
        assert_eq!(
            t.steps[2],
            ev(EventKind::CaseClosed, "2026-11-12T10:00:00Z")
        );
    }

    #[test]
    fn any_other_event_keeps_the_case_open_and_carries_its_outcome() {
        let outcome = proposed(
            EventKind::OutcomeRecorded,
            "2026-11-11T10:00:00Z",
            Some(CaseOutcome::ChildInNeed),
        );
        let t = record(&outcome, &history(CaseStatus::Open, &[])).unwrap();
        assert_eq!(t.status, CaseStatus::Open);
        assert_eq!(t.closed_at, None);
        assert_eq!(t.outcome, Some(CaseOutcome::ChildInNeed));
        assert_eq!(
            t.steps,
            [ev(EventKind::OutcomeRecorded, "2026-11-11T10:00:00Z")]
        );
    }
}
