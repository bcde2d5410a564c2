//! Decision scenarios (API.md, Decision scenarios): files of facts with an optional expected
//! outcome, run by `broker decide` and `broker policy test`.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::policy_test::json_files;
pub use super::policy_test::{ScenarioError, TestReport};
use super::{
    ConsentFacts, Decision, Facts, MappaDecisionFacts, Outcome, Policy, Recipient, RecordFacts,
    RequestFacts, Requester, StaffDesignation, Subject, decide, decide_deposit,
};
use crate::vocab::{Obligation, ReasonCode, Section, View};

/// The expected outcome; only the members present are compared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub decision: Outcome,
    #[serde(default, deserialize_with = "present")]
    pub view: Option<Option<View>>,
    #[serde(default)]
    pub sections_released: Option<Vec<Section>>,
    #[serde(default)]
    pub sections_withheld: Option<Vec<Section>>,
    #[serde(default)]
    pub reasons: Option<Vec<ReasonCode>>,
    #[serde(default)]
    pub obligations: Option<Vec<Obligation>>,
}

/// Distinguishes `"view": null` (expect no view) from an absent member (do not compare).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<View>>, D::Error> {
    Option::<View>::deserialize(d).map(Some)
}

/// What a scenario asks about: a disclosure (the default) or a deposit of its records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Disclose,
    Deposit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub action: Action,
    pub at: DateTime<Utc>,
    pub requester: Requester,
    /// Required for a disclosure.
    #[serde(default)]
    pub recipient: Option<Recipient>,
    pub subject: Subject,
    pub records: Vec<RecordFacts>,
    #[serde(default)]
    pub consents: Vec<ConsentFacts>,
    #[serde(default)]
    pub mappa_decisions: Vec<MappaDecisionFacts>,
    #[serde(default)]
    pub staff_designations: Vec<StaffDesignation>,
    /// Required for a disclosure.
    #[serde(default)]
    pub request: Option<RequestFacts>,
    #[serde(default)]
    pub expect: Option<Expect>,
}

impl Scenario {
    /// The decision this scenario asks for, with the decision code the server uses.
    pub fn decide(&self, policy: &Policy) -> Decision {
        match (self.action, &self.recipient, &self.request) {
            (Action::Deposit, _, _) => decide_deposit(policy, &self.requester, &self.records),
            (Action::Disclose, Some(recipient), Some(request)) => {
                decide(policy, &self.facts(recipient, request))
            }
            _ => unreachable!("load_file refuses a disclosure without recipient and request"),
        }
    }

    fn facts(&self, recipient: &Recipient, request: &RequestFacts) -> Facts {
        Facts {
            at: self.at,
            requester: self.requester.clone(),
            recipient: recipient.clone(),
            subject: self.subject.clone(),
            records: self.records.clone(),
            consents: self.consents.clone(),
            mappa_decisions: self.mappa_decisions.clone(),
            staff_designations: self.staff_designations.clone(),
            request: request.clone(),
        }
    }
}

/// Reads `{"scenarios": [...]}` (one JSON document), or one scenario per line (JSON lines).
pub fn load_file(file: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    let text = std::fs::read_to_string(file).map_err(|source| ScenarioError::Io {
        file: file.to_owned(),
        source,
    })?;
    let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut doc)) if doc.contains_key("scenarios") => {
            match doc.remove("scenarios") {
                Some(serde_json::Value::Array(items)) => items,
                _ => {
                    return Err(ScenarioError::Shape {
                        file: file.to_owned(),
                        message: "at scenarios: expected an array of scenarios".into(),
                    });
                }
            }
        }
        Ok(single @ serde_json::Value::Object(_)) => vec![single],
        Ok(_) => {
            return Err(ScenarioError::Shape {
                file: file.to_owned(),
                message: "expected {\"scenarios\": [...]} or one scenario object per line".into(),
            });
        }
        Err(whole) => {
            let mut items = Vec::new();
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match serde_json::from_str(line) {
                    Ok(v) => items.push(v),
                    Err(source) if i == 0 => {
                        let _ = source;
                        return Err(ScenarioError::Json {
                            file: file.to_owned(),
                            source: whole,
                        });
                    }
                    Err(source) => {
                        return Err(ScenarioError::Shape {
                            file: file.to_owned(),
                            message: format!("line {}: not JSON: {source}", i + 1),
                        });
                    }
                }
            }
            items
        }
    };
    values
        .into_iter()
        .enumerate()
        .map(|(index, value)| {
            let name = value
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("unnamed")
                .to_owned();
            let fail = |path: String, message: String| ScenarioError::Scenario {
                file: file.to_owned(),
                index,
                name: name.clone(),
                path: format!("scenarios[{index}].{path}"),
                message,
            };
            let scenario = serde_path_to_error::deserialize::<_, Scenario>(value)
                .map_err(|e| fail(e.path().to_string(), e.into_inner().to_string()))?;
            if scenario.action == Action::Disclose {
                if scenario.recipient.is_none() {
                    return Err(fail(
                        "recipient".into(),
                        "a disclosure needs a recipient".into(),
                    ));
                }
                if scenario.request.is_none() {
                    return Err(fail(
                        "request".into(),
                        "a disclosure needs a request".into(),
                    ));
                }
            }
            Ok(scenario)
        })
        .collect()
}

/// The line `broker decide` prints for a scenario.
#[derive(Debug, Serialize)]
pub struct DecideLine<'a> {
    pub name: &'a str,
    pub decision: Outcome,
    pub view: Option<View>,
    pub sections_released: &'a [Section],
    pub sections_withheld: &'a [Section],
    pub reasons: Vec<ReasonCode>,
    pub obligations: &'a [Obligation],
}

impl<'a> DecideLine<'a> {
    pub fn new(name: &'a str, d: &'a Decision) -> Self {
        DecideLine {
            name,
            decision: d.decision,
            view: d.view,
            sections_released: &d.sections_released,
            sections_withheld: &d.sections_withheld,
            reasons: d.codes(),
            obligations: &d.obligations,
        }
    }
}

/// Every way a decision differs from what was expected, as `member: expected X, got Y`.
pub fn mismatches(expect: &Expect, d: &Decision) -> Vec<String> {
    fn show<T: Serialize>(v: &T) -> String {
        serde_json::to_string(v).unwrap_or_default()
    }
    fn set<T: Ord + Clone>(v: &[T]) -> BTreeSet<T> {
        v.iter().cloned().collect()
    }
    let mut out = Vec::new();
    let mut check = |member: &str, same: bool, expected: String, actual: String| {
        if !same {
            out.push(format!("{member}: expected {expected}, got {actual}"));
        }
    };
    check(
        "decision",
        expect.decision == d.decision,
        show(&expect.decision),
        show(&d.decision),
    );
    if let Some(view) = &expect.view {
        check("view", *view == d.view, show(view), show(&d.view));
    }
    if let Some(s) = &expect.sections_released {
        check(
            "sections_released",
            set(s) == set(&d.sections_released),
            show(s),
            show(&d.sections_released),
        );
    }
    if let Some(s) = &expect.sections_withheld {
        check(
            "sections_withheld",
            set(s) == set(&d.sections_withheld),
            show(s),
            show(&d.sections_withheld),
        );
    }
    if let Some(r) = &expect.reasons {
        let got = d.codes();
        check("reasons", set(r) == set(&got), show(r), show(&got));
    }
    if let Some(o) = &expect.obligations {
        check(
            "obligations",
            set(o) == set(&d.obligations),
            show(o),
            show(&d.obligations),
        );
    }
    out
}

/// Runs every `*.json` scenario file in `dir` against the policy, then the clock scenarios in
/// `dir/clocks/` (`clock_scenario`) and the duty scenarios in `dir/duties/` (`duty_scenario`).
pub fn run_dir(policy: &Policy, dir: &Path) -> Result<TestReport, ScenarioError> {
    let files = json_files(dir)?;
    let mut report = TestReport::default();
    for file in files {
        report.files += 1;
        for scenario in load_file(&file)? {
            let Some(expect) = &scenario.expect else {
                report.failures.push(format!(
                    "{}: \"{}\": no `expect`; policy test needs one",
                    file.display(),
                    scenario.name
                ));
                continue;
            };
            let decision = scenario.decide(policy);
            let wrong = mismatches(expect, &decision);
            report.record(&file, &scenario.name, &wrong);
        }
    }
    super::clock_scenario::run_dir(policy, &dir.join("clocks"), &mut report)?;
    super::duty_scenario::run_dir(policy, &dir.join("duties"), &mut report)?;
    Ok(report)
}
