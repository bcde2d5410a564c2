//! `broker demo` plays the whole case over mTLS and exits 0 only if every answer was the one
//! it expected; its output shows the corrected rules (RULES 2.3, 5, 7).

use std::process::Command;

#[test]
fn broker_demo_plays_the_case_and_shows_the_corrected_rules() {
    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .arg("demo")
        .output()
        .expect("running broker demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shown in [
        // his record to the HSB service on his parent's consent, without her details
        "hsb-service hsb_practitioner: referral for assessment on consent: PERMIT [partial: summary, assessment_findings, family_background]",
        "withheld: [victim_details]",
        // her own record, aged 8, to the police on her own mother's consent
        "police police_officer: initial_assessment for criminal_investigation on consent: PERMIT [full: summary, family_background, victim_details]",
        // places: the MERLIN notice reaches the child's own council only (RULES 10.1), and another
        // council's duty team is told only on an emergency basis, then reviewed
        "MERLIN notice → yos (Northshire Youth Offending Service) and csc (Northshire Children's Social Care); Southshire's services are not told",
        "csc-south social_worker: referral for safeguarding on crime_prevention: DENY because recipient_outside_child_area",
        "csc-south social_worker: referral for safeguarding on significant_harm: PERMIT",
        "csc → csc-south on significant_harm",
        // the emergency under MAPPA, and the forum told
        "on significant_harm: PERMIT",
        "+ig_review, notify_mappa",
        "the MAPPA coordinator's inbox: 0 → 1 packet(s)",
        "mappa mappa_coordinator",
        "view=notification",
        "MAPPA forum mappa told: true",
        // the case process: clocks, a late set of minutes, duties, an acknowledgement, the report
        "involvement_school -> school-hillside: permit",
        "strategy_meeting_convened -> school-hillside: permit",
        "strategy_discussion met, initial_assessment overdue, strategy_meeting met, minutes late",
        // her case on the single-assessment route: no strategy meeting shows as overdue
        "strategy_discussion met, initial_assessment met, strategy_meeting not_required, assessment pending",
        "acknowledged 20",
        // a concern from the school reaches the social worker who leads the case, and is read
        "concern_incident_report -> csc: permit",
        " → csc (sw.okafor), first read 20",
        // a meeting with apologies and a written report; a request answered late
        "professionals_meeting: police attended, health attended, school-hillside sent apologies with a written report",
        "request to health: overdue before the answer true, now answered, answered late true",
        "action owned by school-hillside: on the DSL's list true, the case itself answers 403, now done",
        "overdue: case",
        "minutes                    1       0     1       0       0",
        "ok=true",
        "demo complete",
    ] {
        assert!(stdout.contains(shown), "missing {shown:?} in:\n{stdout}");
    }
}
