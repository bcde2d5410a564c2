//! Clock scenarios (`policies/tests/clocks/*.json`), run by `broker policy test` beside the
//! decision scenarios, so an IG officer who edits `timescales.csv`, a profile
//! (`timescales/<profile>.csv`), `thresholds.csv` or `bank_holidays.csv` sees the effect without
//! a server. A file is `{"clocks": [...], "cases": [...], "thresholds": [...]}` (each optional):
//! - a clock scenario names a clock of the policy (or of a `profile`), when it started, when it
//!   stopped (or null), the `now` to judge it at, and the expected `due_at` and `status`;
//! - a case scenario gives a referral and its events (with the `route` of a `route_decided`, the
//!   `clock` of a `clock_not_required`), a `now`, and the clocks expected (by name and
//!   occurrence, with status and, if given, due time) and those expected `absent`;
//! - a threshold scenario says whether a screening `level` permits a `route`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Policy;
use super::case_clocks::{Happened, Mark, derive};
use super::clocks::{Status, Timescale, due_at, status};
use super::policy_test::{ScenarioError, TestReport, parsed_files};
use crate::vocab::{EventKind, Route, ScreeningLevel};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    clocks: Vec<ClockScenario>,
    #[serde(default)]
    cases: Vec<CaseScenario>,
    #[serde(default)]
    thresholds: Vec<ThresholdScenario>,
}

/// The timescales of `profile` (None: those in force), or why there are none.
fn timescales_of<'p>(policy: &'p Policy, profile: Option<&str>) -> Result<&'p [Timescale], String> {
    match profile {
        None => Ok(policy.timescales()),
        Some(p) => policy
            .profile_timescales(p)
            .ok_or_else(|| format!("no timescale profile \"{p}\" in policies/timescales/")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockScenario {
    name: String,
    #[serde(default)]
    profile: Option<String>,
    clock: String,
    started_at: DateTime<Utc>,
    #[serde(default)]
    stopped_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    expect: Expect,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    due_at: DateTime<Utc>,
    status: Status,
}

impl ClockScenario {
    /// What differs from the expectation, one line each; empty when it passes.
    fn check(&self, policy: &Policy) -> Vec<String> {
        let timescales = match timescales_of(policy, self.profile.as_deref()) {
            Ok(t) => t,
            Err(e) => return vec![e],
        };
        let Some(t) = timescales.iter().find(|t| t.clock == self.clock) else {
            return vec![format!("no clock \"{}\" in the timescales", self.clock)];
        };
        let due = match due_at(self.started_at, t.amount, t.unit, policy.calendar()) {
            Ok(due) => due,
            Err(e) => return vec![e.to_string()],
        };
        let mut out = Vec::new();
        if due != self.expect.due_at {
            out.push(format!(
                "due_at: expected {}, got {}",
                self.expect.due_at.to_rfc3339(),
                due.to_rfc3339()
            ));
        }
        let got = status(due, self.stopped_at, self.now);
        if got != self.expect.status {
            out.push(format!(
                "status: expected {:?}, got {:?}",
                self.expect.status, got
            ));
        }
        out
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseScenario {
    name: String,
    #[serde(default)]
    profile: Option<String>,
    referral: DateTime<Utc>,
    #[serde(default)]
    events: Vec<CaseEvent>,
    now: DateTime<Utc>,
    expect: Vec<ExpectClock>,
    /// Clocks the case must not list at all (not in the profile, or never started).
    #[serde(default)]
    absent: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseEvent {
    kind: EventKind,
    at: DateTime<Utc>,
    #[serde(default)]
    route: Option<Route>,
    #[serde(default)]
    clock: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectClock {
    clock: String,
    #[serde(default = "first")]
    occurrence: u32,
    status: Status,
    #[serde(default)]
    due_at: Option<DateTime<Utc>>,
}

fn first() -> u32 {
    1
}

impl CaseScenario {
    fn check(&self, policy: &Policy) -> Vec<String> {
        let timescales = match timescales_of(policy, self.profile.as_deref()) {
            Ok(t) => t,
            Err(e) => return vec![e],
        };
        let events: Vec<Happened> = self
            .events
            .iter()
            .map(|e| Happened {
                mark: match (&e.route, &e.clock) {
                    (Some(r), _) => Some(Mark::Route(*r)),
                    (None, Some(c)) => Some(Mark::NotRequired(c.clone())),
                    (None, None) => None,
                },
                ..Happened::new(e.kind, e.at)
            })
            .collect();
        let clocks = match derive(self.referral, &events, timescales, policy.calendar(), &[]) {
            Ok(c) => c,
            Err(e) => return vec![e.to_string()],
        };
        let mut out = Vec::new();
        for want in &self.expect {
            let Some(got) = clocks
                .iter()
                .find(|c| c.clock == want.clock && c.occurrence == want.occurrence)
            else {
                out.push(format!("{} {}: not listed", want.clock, want.occurrence));
                continue;
            };
            let view = got.view(self.now);
            if view.status != want.status {
                out.push(format!(
                    "{} {}: status expected {:?}, got {:?}",
                    want.clock, want.occurrence, want.status, view.status
                ));
            }
            if let Some(due) = want.due_at
                && due != view.due_at
            {
                out.push(format!(
                    "{} {}: due_at expected {}, got {}",
                    want.clock,
                    want.occurrence,
                    due.to_rfc3339(),
                    view.due_at.to_rfc3339()
                ));
            }
        }
        for name in &self.absent {
            if clocks.iter().any(|c| &c.clock == name) {
                out.push(format!("{name}: listed, expected absent"));
            }
        }
        out
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdScenario {
    name: String,
    level: ScreeningLevel,
    route: Route,
    permitted: bool,
}

impl ThresholdScenario {
    fn check(&self, policy: &Policy) -> Vec<String> {
        let got = policy.thresholds().permits(self.level, self.route);
        if got == self.permitted {
            return Vec::new();
        }
        vec![format!(
            "a {} screening {} {}, expected the opposite",
            self.level,
            if got { "permits" } else { "does not permit" },
            self.route
        )]
    }
}

/// Runs every `*.json` file in `dir` (when it exists) into `report`.
pub fn run_dir(policy: &Policy, dir: &Path, report: &mut TestReport) -> Result<(), ScenarioError> {
    for (file, parsed) in parsed_files::<File>(dir)? {
        report.files += 1;
        for scenario in parsed.clocks {
            let wrong = scenario.check(policy);
            report.record(&file, &scenario.name, &wrong);
        }
        for scenario in parsed.cases {
            let wrong = scenario.check(policy);
            report.record(&file, &scenario.name, &wrong);
        }
        for scenario in parsed.thresholds {
            let wrong = scenario.check(policy);
            report.record(&file, &scenario.name, &wrong);
        }
    }
    Ok(())
}
