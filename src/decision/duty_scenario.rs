//! Duty scenarios (`policies/tests/duties/*.json`), run by `broker policy test` beside the
//! decision and clock scenarios, so an IG officer who edits `duties.csv` sees who would be
//! told without a server. A file is `{"duties": [...]}`; each scenario names a trigger, what
//! the broker knows (`world`: the child's school, the agencies that have received a disclosure
//! about the child, the configured agencies, the agency acting), and the notifications
//! expected, in order. Whether each is then permitted is the decision scenarios' business
//! (`notification: true` in a request).

use std::path::Path;

use serde::Deserialize;

use super::Policy;
use super::duties::{Planned, Trigger, World, plan};
use super::policy_test::{ScenarioError, TestReport, parsed_files};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    duties: Vec<DutyScenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DutyScenario {
    name: String,
    trigger: Trigger,
    world: World,
    expect: Vec<Planned>,
}

impl DutyScenario {
    fn check(&self, policy: &Policy) -> Vec<String> {
        let got = plan(policy.duties(), self.trigger, &self.world);
        if got == self.expect {
            return Vec::new();
        }
        let show = |p: &[Planned]| {
            p.iter()
                .map(|p| {
                    format!(
                        "{} -> {} ({})",
                        p.duty,
                        p.agency,
                        p.role.map_or("any role".to_owned(), |r| r.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        vec![format!(
            "notifications: expected [{}], got [{}]",
            show(&self.expect),
            show(&got)
        )]
    }
}

/// Runs every `*.json` file in `dir` (when it exists) into `report`.
pub fn run_dir(policy: &Policy, dir: &Path, report: &mut TestReport) -> Result<(), ScenarioError> {
    for (file, parsed) in parsed_files::<File>(dir)? {
        report.files += 1;
        for scenario in parsed.duties {
            let wrong = scenario.check(policy);
            report.record(&file, &scenario.name, &wrong);
        }
    }
    Ok(())
}
