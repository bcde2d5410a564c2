//! What a route, a clock's release or a screening adds to an event (PROCESS.md, Routes and
//! Screening), as pure functions: [`Marks::new`] checks the fields an event kind carries (a
//! `route_decided` names its route, a `clock_not_required` a clock of the timescales in force,
//! a `screening_completed` its tool and level; each with its rationale), and
//! [`below_threshold`] says whether a route is below the latest screening's threshold.

use super::rows::Event;
use crate::decision::clocks::Timescale;
use crate::decision::thresholds::Thresholds;
use crate::vocab::{EventKind, Route, ScreeningLevel, ScreeningTool};

/// Why an event's route, clock or screening is refused: the field and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarkRefusal {
    /// A field the kind needs is absent, or one it does not take is given.
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// A clock the timescales in force do not have.
    #[error("clock: no clock \"{given}\" in the timescales in force; the clocks are: {known}")]
    UnknownClock { given: String, known: String },
    /// A rationale shorter than `rationale_min_chars`.
    #[error(
        "rationale: a {kind} event needs its rationale clearly recorded, at least {min} characters \
         (policies/parameters.csv rationale_min_chars); {given} given"
    )]
    RationaleTooShort {
        kind: EventKind,
        min: usize,
        given: usize,
    },
}

impl MarkRefusal {
    /// The problem's code.
    pub fn code(&self) -> &'static str {
        match self {
            MarkRefusal::Field { .. } => "invalid_field",
            MarkRefusal::UnknownClock { .. } => "unknown_clock",
            MarkRefusal::RationaleTooShort { .. } => "rationale_too_short",
        }
    }
}

/// The route, clock and screening an event carries, as it arrives.
#[derive(Debug, Clone, Default)]
pub struct Given<'a> {
    pub route: Option<Route>,
    pub clock: Option<&'a str>,
    pub tool: Option<ScreeningTool>,
    pub level: Option<ScreeningLevel>,
    pub rationale: Option<&'a str>,
}

/// What an event carries for the clocks, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    pub route: Option<Route>,
    pub clock: Option<String>,
    pub screening: Option<(ScreeningTool, ScreeningLevel)>,
}

fn field(field: &'static str, message: impl Into<String>) -> MarkRefusal {
    MarkRefusal::Field {
        field,
        message: message.into(),
    }
}

impl Marks {
    /// Checks what an event of `kind` carries against the timescales in force and the least
    /// rationale length.
    pub fn new(
        kind: EventKind,
        given: &Given<'_>,
        timescales: &[Timescale],
        rationale_min_chars: usize,
    ) -> Result<Marks, MarkRefusal> {
        let needs_rationale = || {
            let count = given.rationale.map_or(0, |r| r.trim().chars().count());
            if count < rationale_min_chars {
                return Err(MarkRefusal::RationaleTooShort {
                    kind,
                    min: rationale_min_chars,
                    given: count,
                });
            }
            Ok(())
        };
        let only = |name: &'static str, of: EventKind, present: bool| {
            if present && kind != of {
                return Err(field(
                    name,
                    format!("only a {of} event names a {name}, not {kind}"),
                ));
            }
            Ok(())
        };
        only("route", EventKind::RouteDecided, given.route.is_some())?;
        only("clock", EventKind::ClockNotRequired, given.clock.is_some())?;
        only("tool", EventKind::ScreeningCompleted, given.tool.is_some())?;
        only(
            "level",
            EventKind::ScreeningCompleted,
            given.level.is_some(),
        )?;
        let mut marks = Marks::default();
        match kind {
            EventKind::RouteDecided => {
                let route = given
                    .route
                    .ok_or_else(|| field("route", "a route_decided event names its route"))?;
                needs_rationale()?;
                marks.route = Some(route);
            }
            EventKind::ClockNotRequired => {
                let clock = given
                    .clock
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| field("clock", "a clock_not_required event names its clock"))?;
                if !timescales.iter().any(|t| t.clock == clock) {
                    let known: Vec<&str> = timescales.iter().map(|t| t.clock.as_str()).collect();
                    return Err(MarkRefusal::UnknownClock {
                        given: clock.to_owned(),
                        known: known.join(", "),
                    });
                }
                needs_rationale()?;
                marks.clock = Some(clock.to_owned());
            }
            EventKind::ScreeningCompleted => {
                let tool = given
                    .tool
                    .ok_or_else(|| field("tool", "a screening_completed event names its tool"))?;
                let level = given
                    .level
                    .ok_or_else(|| field("level", "a screening_completed event names its level"))?;
                needs_rationale()?;
                marks.screening = Some((tool, level));
            }
            _ => {}
        }
        Ok(marks)
    }
}

/// The level of the case's latest screening (by when it happened; of two at the same instant,
/// the one recorded later) when it does not permit `route`; None when it does, or when the
/// case has not been screened.
pub fn below_threshold(
    events: &[Event],
    route: Route,
    thresholds: &Thresholds,
) -> Option<ScreeningLevel> {
    let latest = events
        .iter()
        .filter_map(|e| e.screening.map(|(_, level)| (e.occurred_at, e.seq, level)))
        .max_by_key(|(at, seq, _)| (*at, *seq))?;
    let level = latest.2;
    (!thresholds.permits(level, route)).then_some(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    const WHY: &str = "Agreed with the police at the strategy discussion.";

    fn shipped() -> (Vec<Timescale>, Thresholds) {
        let root = env!("CARGO_MANIFEST_DIR");
        let read = |f: &str| std::fs::read_to_string(format!("{root}/policies/{f}")).unwrap();
        (
            Timescale::parse_all(&read("timescales.csv")).unwrap(),
            Thresholds::parse(&read("thresholds.csv")).unwrap(),
        )
    }

    fn screened(seq: i64, at: &str, level: ScreeningLevel) -> Event {
        Event {
            seq,
            kind: EventKind::ScreeningCompleted,
            occurred_at: DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
            record_id: None,
            outcome: None,
            rationale_enc: None,
            note_enc: None,
            agency: "csc".into(),
            sub: "sw".into(),
            recorded_at: Utc::now(),
            lead_sub: None,
            route: None,
            clock: None,
            screening: Some((ScreeningTool::BrookTrafficLight, level)),
        }
    }

    #[test]
    fn each_kind_carries_its_own_fields_with_a_rationale() {
        let (t, _) = shipped();
        let ok = |kind, given: Given| Marks::new(kind, &given, &t, 20).map_err(|r| r.code());
        let route = Given {
            route: Some(Route::SingleAssessment),
            rationale: Some(WHY),
            ..Default::default()
        };
        assert_eq!(
            ok(EventKind::RouteDecided, route.clone()).unwrap().route,
            Some(Route::SingleAssessment)
        );
        assert_eq!(
            ok(
                EventKind::RouteDecided,
                Given {
                    rationale: Some("short"),
                    ..route.clone()
                }
            ),
            Err("rationale_too_short")
        );
        assert_eq!(
            ok(
                EventKind::RouteDecided,
                Given {
                    route: None,
                    ..route.clone()
                }
            ),
            Err("invalid_field")
        );
        assert_eq!(
            ok(EventKind::ReviewHeld, route.clone()),
            Err("invalid_field"),
            "a route on another kind"
        );
        let clock = |c| Given {
            clock: Some(c),
            rationale: Some(WHY),
            ..Default::default()
        };
        assert_eq!(
            ok(EventKind::ClockNotRequired, clock("initial_assessment"))
                .unwrap()
                .clock
                .as_deref(),
            Some("initial_assessment")
        );
        let unknown = Marks::new(EventKind::ClockNotRequired, &clock("lunch"), &t, 20).unwrap_err();
        assert_eq!(unknown.code(), "unknown_clock");
        assert!(
            unknown
                .to_string()
                .contains("strategy_discussion, initial_assessment")
        );
        let screening = Given {
            tool: Some(ScreeningTool::Aim),
            level: Some(ScreeningLevel::Amber),
            rationale: Some(WHY),
            ..Default::default()
        };
        assert_eq!(
            ok(EventKind::ScreeningCompleted, screening.clone())
                .unwrap()
                .screening,
            Some((ScreeningTool::Aim, ScreeningLevel::Amber))
        );
        assert_eq!(
            ok(
                EventKind::ScreeningCompleted,
                Given {
                    level: None,
                    ..screening
                }
            ),
            Err("invalid_field")
        );
        assert_eq!(
            ok(EventKind::PlanAgreed, Given::default()),
            Ok(Marks::default())
        );
    }

    #[test]
    fn a_route_is_below_the_latest_screenings_threshold_only() {
        let (_, th) = shipped();
        assert_eq!(
            below_threshold(&[], Route::NoFurtherAction, &th),
            None,
            "not screened: no threshold"
        );
        let red_then_green = [
            screened(1, "2026-11-02T10:00:00Z", ScreeningLevel::Red),
            screened(2, "2026-11-03T10:00:00Z", ScreeningLevel::Green),
        ];
        assert_eq!(
            below_threshold(&red_then_green, Route::EarlyHelp, &th),
            None
        );
        // recorded in the other order: the latest by when it happened counts
        let green_recorded_first = [
            screened(1, "2026-11-03T10:00:00Z", ScreeningLevel::Red),
            screened(2, "2026-11-02T10:00:00Z", ScreeningLevel::Green),
        ];
        assert_eq!(
            below_threshold(&green_recorded_first, Route::SingleAssessment, &th),
            Some(ScreeningLevel::Red)
        );
        let amber = [screened(1, "2026-11-02T10:00:00Z", ScreeningLevel::Amber)];
        assert_eq!(below_threshold(&amber, Route::SingleAssessment, &th), None);
        assert_eq!(
            below_threshold(&amber, Route::EarlyHelp, &th),
            Some(ScreeningLevel::Amber)
        );
    }
}
