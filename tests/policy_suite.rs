//! The shipped policy and its scenario suite: `broker policy test` passes, every reason code is
//! expected somewhere, a broken policy is refused with its file and line, and `broker decide`
//! answers in the contract's shape.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use broker::decision::Policy;
use broker::decision::policy::{EMBEDDED, Files};
use broker::decision::scenario::{self, load_file};
use broker::vocab::{Obligation, ReasonCode, SubjectRole};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_broker"))
}

#[tokio::test]
async fn every_shipped_scenario_passes() {
    let policy = Policy::load("policies").await.unwrap();
    let report = scenario::run_dir(&policy, Path::new("policies/tests")).unwrap();
    assert!(report.failures.is_empty(), "{}", report.failures.join("\n"));
    assert!(report.passed >= 80, "only {} scenarios", report.passed);
}

#[test]
fn broker_policy_test_exits_zero_on_the_shipped_suite() {
    let out = bin().args(["policy", "test"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

#[test]
fn every_reason_code_is_expected_by_at_least_two_scenarios() {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for entry in std::fs::read_dir("policies/tests").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        for s in load_file(&path).unwrap() {
            for code in s.expect.and_then(|e| e.reasons).unwrap_or_default() {
                *seen.entry(code.to_string()).or_default() += 1;
            }
        }
    }
    let thin: Vec<_> = ReasonCode::ALL
        .iter()
        .filter(|c| seen.get(c.as_str()).copied().unwrap_or(0) < 2)
        .collect();
    assert!(
        thin.is_empty(),
        "codes with fewer than two scenarios: {thin:?}"
    );
}

/// Every scenario of the shipped suite, with its file.
fn shipped() -> Vec<scenario::Scenario> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("policies/tests").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            all.extend(load_file(&path).unwrap());
        }
    }
    all
}

#[test]
fn every_obligation_is_expected_by_at_least_two_scenarios() {
    let mut seen = std::collections::BTreeMap::<Obligation, usize>::new();
    for s in shipped() {
        for o in s.expect.and_then(|e| e.obligations).unwrap_or_default() {
            *seen.entry(o).or_default() += 1;
        }
    }
    let thin: Vec<_> = Obligation::ALL
        .iter()
        .filter(|o| seen.get(o).copied().unwrap_or(0) < 2)
        .collect();
    assert!(
        thin.is_empty(),
        "obligations with fewer than two scenarios: {thin:?}"
    );
}

#[test]
fn every_subject_role_is_disclosed_by_a_permit_and_by_a_deny() {
    for role in SubjectRole::ALL {
        let mut outcomes = BTreeSet::new();
        for s in shipped() {
            if s.records.iter().any(|r| r.subject_role == *role)
                && let Some(e) = &s.expect
            {
                outcomes.insert(format!("{:?}", e.decision));
            }
        }
        assert_eq!(outcomes.len(), 2, "{role}: only {outcomes:?}");
    }
}

#[tokio::test]
async fn a_policy_row_naming_an_unknown_subject_role_or_mappa_consequence_is_refused() {
    let (third_party, mappa) = ("third_party.csv", "mappa_bases.csv");
    let bystander = "p, victim_details, bystander, consent, allow";
    refused_row(third_party, bystander, "unknown subject role \"bystander\"").await;
    refused_row(
        mappa,
        "p, consent, maybe, allow",
        "unknown MAPPA consequence \"maybe\"",
    )
    .await;
    let academy = "p, academy, dsl, referral, allow";
    refused_row("deposit.csv", academy, "unknown agency kind \"academy\"").await;
}

#[tokio::test]
async fn the_embedded_policy_is_the_shipped_directory() {
    let on_disk = Files::from_dir(Path::new("policies")).unwrap();
    let disk: BTreeSet<&str> = on_disk.names().collect();
    let embedded: BTreeSet<&str> = EMBEDDED.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        disk, embedded,
        "list every policy file in policy.rs `embedded!`"
    );
    let a = Policy::from_files(&Files::embedded()).await.unwrap();
    let b = Policy::load("policies").await.unwrap();
    assert_eq!(a.version(), b.version());
    assert!(a.version().starts_with("sha256:"));
}

/// The shipped policy with `row` appended to `file` is refused, naming the file and `term`.
async fn refused_row(file: &str, row: &str, term: &str) {
    let e = load_with(file, |t| format!("{t}{row}\n")).await;
    assert!(
        e.contains(&format!("{file}:")) && e.contains(term),
        "{file}: {e}"
    );
}

async fn load_with(file: &str, edit: impl Fn(&str) -> String) -> String {
    let dir = tempfile::tempdir().unwrap();
    Files::embedded().write_to(dir.path()).unwrap();
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(&text)).unwrap();
    Policy::load(dir.path()).await.unwrap_err().to_string()
}

#[tokio::test]
async fn a_policy_row_naming_an_unknown_role_is_refused_with_file_and_line() {
    let e = load_with("initiate.csv", |t| format!("{t}p, janitor, allow\n")).await;
    let lines = std::fs::read_to_string("policies/initiate.csv")
        .unwrap()
        .lines()
        .count();
    assert!(e.contains(&format!("initiate.csv:{}", lines + 1)), "{e}");
    assert!(e.contains("unknown role \"janitor\""), "{e}");
}

#[tokio::test]
async fn a_policy_row_naming_an_unknown_section_purpose_basis_or_kind_is_refused() {
    let sections = "p, police, *, diary, *, allow";
    refused_row("sections.csv", sections, "unknown section \"diary\"").await;
    let by_purpose = "p, camhs, *, allegation_details, therapy, allow";
    refused_row("sections.csv", by_purpose, "unknown purpose \"therapy\"").await;
    let purposes = "p, gossip, police, allow";
    refused_row("purposes.csv", purposes, "unknown purpose \"gossip\"").await;
    let overrides = "p, hunch, dsl, allow";
    refused_row("overrides.csv", overrides, "unknown basis \"hunch\"").await;
    let bases = "p, consent, *, academy, allow";
    refused_row("bases.csv", bases, "unknown agency kind \"academy\"").await;
    let givers = "p, teen, *, *, child, allow";
    refused_row("consent_givers.csv", givers, "unknown age band \"teen\"").await;
}

#[tokio::test]
async fn a_policy_row_with_the_wrong_number_of_fields_or_effect_is_refused() {
    let e = load_with("purposes.csv", |t| format!("{t}p, court, police\n")).await;
    assert!(
        e.contains("purposes.csv:") && e.contains("expected 4 fields"),
        "{e}"
    );
    let e = load_with("purposes.csv", |t| format!("{t}p, court, police, maybe\n")).await;
    assert!(e.contains("allow or deny"), "{e}");
}

#[tokio::test]
async fn a_model_whose_request_does_not_fit_its_family_is_refused() {
    let e = load_with("views.conf", |t| {
        t.replace("r = recipient_kind, recipient_role, view", "r = kind, view")
    })
    .await;
    assert!(
        e.contains("views.conf") && e.contains("request definition"),
        "{e}"
    );
}

#[tokio::test]
async fn a_bank_holiday_calendar_that_ends_within_a_year_is_refused_naming_the_file() {
    // the shipped calendar cut back to this year and next: less than a year ahead by the end
    let today = broker::decision::facts::london_date(chrono::Utc::now());
    let keep = [today.format("%Y-").to_string()];
    let e = load_with("bank_holidays.csv", |t| {
        t.lines()
            .filter(|l| l.starts_with('#') || keep.iter().any(|y| l.starts_with(y.as_str())))
            .map(|l| format!("{l}\n"))
            .collect()
    })
    .await;
    assert!(
        e.contains("bank_holidays.csv") && e.contains("less than a year after today"),
        "{e}"
    );
    // as of a day it does reach a year past, the same files load
    let files = Files::embedded();
    let then = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    assert!(Policy::from_files_on(&files, then).await.is_ok());
    let late = chrono::NaiveDate::from_ymd_opt(2028, 1, 2).unwrap();
    let e = Policy::from_files_on(&files, late)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("bank_holidays.csv"), "{e}");
}

#[tokio::test]
async fn a_timescale_row_with_an_unknown_unit_or_event_is_refused_with_file_and_line() {
    let lines = std::fs::read_to_string("policies/timescales.csv")
        .unwrap()
        .lines()
        .count();
    for (row, says) in [
        (
            "family_review, plan_agreed, review_held, 6, weeks",
            "unit \"weeks\"",
        ),
        (
            "family_review, plan_agreed, tea_taken, 6, days",
            "unknown event kind \"tea_taken\"",
        ),
    ] {
        let e = load_with("timescales.csv", |t| format!("{t}{row}\n")).await;
        assert!(
            e.contains(&format!("timescales.csv:{}", lines + 1)) && e.contains(says),
            "{row}: {e}"
        );
    }
}

#[tokio::test]
async fn changing_a_timescale_or_a_bank_holiday_changes_the_policy_version() {
    let before = Policy::from_files(&Files::embedded()).await.unwrap();
    let dir = strategy_meeting_within("3, working_days");
    let after = Policy::load(dir.path()).await.unwrap();
    assert_ne!(before.version(), after.version());
    let meeting = |p: &Policy| {
        p.timescales()
            .iter()
            .find(|t| t.clock == "strategy_meeting")
            .map(|t| t.amount)
    };
    assert_eq!((meeting(&before), meeting(&after)), (Some(8), Some(3)));
    let path = dir.path().join("bank_holidays.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}2027-06-03, A one-off bank holiday\n")).unwrap();
    let holiday = Policy::load(dir.path()).await.unwrap();
    assert_ne!(after.version(), holiday.version());
    let day = chrono::NaiveDate::from_ymd_opt(2027, 6, 3).unwrap();
    assert_eq!(after.calendar().is_working_day(day), Ok(true));
    assert_eq!(holiday.calendar().is_working_day(day), Ok(false));
}

/// The shipped policy in a temporary directory, with the strategy meeting due `within`.
fn strategy_meeting_within(within: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    Files::embedded().write_to(dir.path()).unwrap();
    let path = dir.path().join("timescales.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "strategy_meeting_held, 8, working_days",
        &format!("strategy_meeting_held, {within}"),
    );
    assert_ne!(edited, text, "the shipped strategy meeting row moved");
    std::fs::write(&path, edited).unwrap();
    dir
}

#[test]
fn the_shipped_clock_scenarios_cover_every_clock_and_every_status() {
    let text = std::fs::read_to_string("policies/tests/clocks/timescales.json").unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let items = doc["clocks"].as_array().expect("a clocks list");
    let seen = |key: &dyn Fn(&serde_json::Value) -> String| -> BTreeSet<String> {
        items.iter().map(key).collect()
    };
    let statuses = seen(&|c| c["expect"]["status"].as_str().unwrap().to_owned());
    let expected: BTreeSet<String> = ["pending", "met", "late", "overdue"]
        .map(String::from)
        .into();
    assert_eq!(statuses, expected);
    let clocks = seen(&|c| c["clock"].as_str().unwrap().to_owned());
    let timescales = std::fs::read_to_string("policies/timescales.csv").unwrap();
    for row in timescales
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let name = row.split(',').next().unwrap().trim();
        assert!(clocks.contains(name), "no clock scenario for {name}");
    }
}

#[tokio::test]
async fn a_timescale_change_fails_the_clock_scenarios_naming_expected_and_actual() {
    let dir = strategy_meeting_within("3, days");
    let policy = Policy::load(dir.path()).await.unwrap();
    let report = scenario::run_dir(&policy, Path::new("policies/tests")).unwrap();
    let meeting: Vec<&String> = report
        .failures
        .iter()
        .filter(|f| f.contains("clocks/timescales.json") && f.contains("strategy meeting"))
        .collect();
    assert_eq!(meeting.len(), 3, "{:#?}", report.failures);
    assert!(
        meeting
            .iter()
            .all(|f| f.contains("due_at: expected") && f.contains(", got ")),
        "{meeting:#?}"
    );
    // and the case scenario that pins the strategy meeting's due time (clocks/routes.json)
    let routes: Vec<&String> = report
        .failures
        .iter()
        .filter(|f| f.contains("clocks/routes.json"))
        .collect();
    assert_eq!(routes.len(), 1, "{:#?}", report.failures);
    assert!(
        routes[0].contains("strategy_meeting 1: due_at expected"),
        "{routes:#?}"
    );
    assert_eq!(report.failures.len(), 4, "{:#?}", report.failures);
    // the shipped policy passes them all
    let shipped = Policy::load("policies").await.unwrap();
    let report = scenario::run_dir(&shipped, Path::new("policies/tests")).unwrap();
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
}

#[tokio::test]
async fn changing_a_policy_row_changes_the_decision_and_the_version() {
    let dir = tempfile::tempdir().unwrap();
    Files::embedded().write_to(dir.path()).unwrap();
    let before = Policy::load(dir.path()).await.unwrap();
    let path = dir.path().join("purposes.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("p, court, police, allow\n", "")).unwrap();
    let after = Policy::load(dir.path()).await.unwrap();
    assert_ne!(before.version(), after.version());
    use broker::decision::Family;
    assert!(before.allows(Family::Purposes, &["court", "police"]));
    assert!(!after.allows(Family::Purposes, &["court", "police"]));
}

/// `broker {args} {path}` as a process, which must fail; its output.
fn fails(args: &[&str], path: impl AsRef<std::ffi::OsStr>) -> std::process::Output {
    let out = bin().args(args).arg(path).output().unwrap();
    assert!(!out.status.success(), "broker {args:?} succeeded");
    out
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn broker_decide_prints_one_json_line_per_scenario_in_the_contract_shape() {
    let out = bin()
        .args(["decide", "--scenarios", "policies/tests/schools.json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    let keys: BTreeSet<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "name",
            "decision",
            "view",
            "sections_released",
            "sections_withheld",
            "reasons",
            "obligations"
        ])
    );
    let count = load_file(Path::new("policies/tests/schools.json"))
        .unwrap()
        .len();
    assert_eq!(stdout.lines().count(), count);
}

#[test]
fn the_contract_example_scenario_gives_the_dsl_the_limited_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "example.json",
        r#"{"scenarios": [{"name": "DSL gets the limited summary of a risk plan, parent consent, child aged 10",
 "at": "2026-03-01T10:00:00Z",
 "requester": {"agency": "csc-a", "agency_kind": "children_social_care", "sub": "sw1", "roles": ["social_worker"]},
 "recipient": {"agency": "school-a", "agency_kind": "school", "role": "dsl", "sub": null},
 "subject": {"id": "c1", "date_of_birth": "2015-06-01", "school": "school-a",
             "gillick_competent": null, "lacks_capacity": null, "mappa_active": false},
 "records": [{"id": "r1", "subject_id": "c1", "kind": "risk_management_plan", "owner": "csc-a",
              "sections": ["summary", "risk_management", "allegation_details"],
              "chair": null, "chair_permissions": []}],
 "consents": [{"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"],
               "expires_at": null, "withdrawn_at": null}],
 "mappa_decisions": [], "staff_designations": [],
 "request": {"purpose": "safeguarding", "basis": "consent", "justification": null,
             "legal_reference": null, "mappa_decision_id": null},
 "expect": {"decision": "permit", "view": "limited_summary",
            "sections_released": ["summary", "risk_management"], "reasons": []}}]}"#,
    );
    let out = bin()
        .args(["decide", "--scenarios"])
        .arg(&file)
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["decision"], "permit");
    assert_eq!(line["view"], "limited_summary");
    assert_eq!(
        line["sections_released"],
        serde_json::json!(["summary", "risk_management"])
    );
    assert_eq!(
        line["sections_withheld"],
        serde_json::json!(["allegation_details"])
    );
    let test = bin()
        .args(["policy", "test"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "{}",
        String::from_utf8_lossy(&test.stdout)
    );
}

#[test]
fn a_malformed_scenario_is_reported_with_its_name_and_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("policies/tests/schools.json").unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["scenarios"][1]["subject"]["date_of_birth"] = "2015-02-30".into();
    let name = doc["scenarios"][1]["name"].as_str().unwrap().to_owned();
    let file = write(dir.path(), "bad.json", &doc.to_string());
    let out = fails(&["decide", "--scenarios"], &file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&name), "{stderr}");
    assert!(
        stderr.contains("scenarios[1].subject.date_of_birth"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_out_of_vocabulary_role_in_a_scenario_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.json",
        r#"{"scenarios": [{"name": "x", "at": "2026-01-01T00:00:00Z"}]}"#,
    );
    let out = fails(&["policy", "test"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scenario 0 (x)"), "{stderr}");
    let _ = file;
    let file = write(dir.path(), "bad.json", "not json at all");
    let out = fails(&["decide", "--scenarios"], &file);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.json"));
}

#[test]
fn policy_test_fails_on_a_wrong_expectation_and_shows_expected_and_actual() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string("policies/tests/schools.json").unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let first = &mut doc["scenarios"][0]["expect"];
    first["decision"] = if first["decision"] == "permit" {
        "deny".into()
    } else {
        "permit".into()
    };
    write(dir.path(), "wrong.json", &doc.to_string());
    let out = fails(&["policy", "test"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL") && stdout.contains("decision: expected"),
        "{stdout}"
    );
}

/// Who may disclose or deposit a record it does not own is `ownership.csv`, not the broker:
/// with a row allowing `not_owner`, the shipped `not_record_owner` scenarios lose that code
/// (and only that code), on disclosure and on deposit alike.
#[tokio::test]
async fn ownership_is_a_policy_row_an_ig_officer_can_change() {
    let dir = tempfile::tempdir().unwrap();
    Files::embedded().write_to(dir.path()).unwrap();
    let path = dir.path().join("ownership.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}p, disclose, not_owner, allow\np, deposit, not_owner, allow\n"),
    )
    .unwrap();
    let shipped_policy = Policy::load("policies").await.unwrap();
    let edited = Policy::load(dir.path()).await.unwrap();
    let owner_scenarios: Vec<_> = shipped()
        .into_iter()
        .filter(|s| {
            s.expect
                .as_ref()
                .and_then(|e| e.reasons.as_ref())
                .is_some_and(|r| r.contains(&ReasonCode::NotRecordOwner))
        })
        .collect();
    let deposits = owner_scenarios
        .iter()
        .filter(|s| s.action == scenario::Action::Deposit)
        .count();
    assert!(
        deposits >= 2 && owner_scenarios.len() - deposits >= 2,
        "not_record_owner needs scenarios on disclosure and deposit: {} of {} are deposits",
        deposits,
        owner_scenarios.len()
    );
    for s in &owner_scenarios {
        let before = s.decide(&shipped_policy).codes();
        let after = s.decide(&edited).codes();
        assert!(before.contains(&ReasonCode::NotRecordOwner), "{}", s.name);
        let expected: Vec<_> = before
            .into_iter()
            .filter(|c| *c != ReasonCode::NotRecordOwner)
            .collect();
        assert_eq!(after, expected, "{}", s.name);
    }
}
