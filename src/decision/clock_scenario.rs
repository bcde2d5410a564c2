//! Clock scenarios (`policies/tests/clocks/*.json`), run by `broker policy test` beside the
//! decision scenarios, so an IG officer who edits `timescales.csv` or `bank_holidays.csv` sees
//! the effect without a server. A file is `{"clocks": [...]}`; each scenario names a clock of
//! the policy, when it started, when it stopped (or null), the `now` to judge it at, and the
//! expected `due_at` and `status`.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::Policy;
use super::clocks::{Status, due_at, status};
use super::policy_test::{ScenarioError, TestReport, parsed_files};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    clocks: Vec<ClockScenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockScenario {
    name: String,
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
        let Some(t) = policy.timescales().iter().find(|t| t.clock == self.clock) else {
            return vec![format!("no clock \"{}\" in timescales.csv", self.clock)];
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

/// Runs every `*.json` file in `dir` (when it exists) into `report`.
pub fn run_dir(policy: &Policy, dir: &Path, report: &mut TestReport) -> Result<(), ScenarioError> {
    for (file, parsed) in parsed_files::<File>(dir)? {
        report.files += 1;
        for scenario in parsed.clocks {
            let wrong = scenario.check(policy);
            report.record(&file, &scenario.name, &wrong);
        }
    }
    Ok(())
}
