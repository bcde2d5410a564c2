//! PROCESS.md, Meetings, over mTLS: the lead agency schedules a meeting of a case and each
//! invitee is told by a `notification` duty (decided, audited, listed on the case, a denied one
//! with its reasons); it records who attended and the written report of an agency that could
//! not; a strategy meeting is held by recording its attendance (the `strategy_meeting_held`
//! step at the meeting's time, which stops the strategy meeting clock); and its minutes are
//! circulated only once disclosed to every agency that attended. Anyone but the lead is
//! answered as for no case.

mod common;

use broker::vocab::Role;
use chrono::{DateTime, Duration, Utc};
use common::cases::*;
use common::flows::{count, duty_rows, head_seq, open_packet, problem, problem_naming};
use serde_json::{Value, json};

fn meetings_of(case: &str) -> String {
    format!("/v1/cases/{case}/meetings")
}

fn attendance_of(case: &str, meeting: &str) -> String {
    format!("/v1/cases/{case}/meetings/{meeting}/attendance")
}

impl World {
    /// Schedules a meeting as csc's social worker; the answer as it came.
    async fn schedule(
        &self,
        case: &str,
        kind: &str,
        when: DateTime<Utc>,
        invitees: &[&str],
    ) -> broker::client::Response {
        let body = json!({"kind": kind, "scheduled_for": at(when), "invitees": invitees});
        self.csc
            .post(&meetings_of(case), &self.sw, &body)
            .await
            .expect("scheduling a meeting")
    }

    /// Schedules a meeting; insists on 201 and answers its id.
    async fn scheduled(
        &self,
        case: &str,
        kind: &str,
        when: DateTime<Utc>,
        invitees: &[&str],
    ) -> String {
        let r = self.schedule(case, kind, when, invitees).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()["id"].as_str().expect("an id").to_owned()
    }

    /// Records an attendance as csc's social worker; the answer as it came.
    async fn attend(&self, case: &str, meeting: &str, body: Value) -> broker::client::Response {
        self.csc
            .post(&attendance_of(case, meeting), &self.sw, &body)
            .await
            .expect("recording attendance")
    }

    /// Records an attendance; insists on 201 and answers the body.
    async fn attended(&self, case: &str, meeting: &str, body: Value) -> Value {
        let r = self.attend(case, meeting, body).await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json()
    }
}

/// The one meeting of `case` with this id, as the case lists it.
fn meeting(case: &Value, id: &str) -> Value {
    case["meetings"]
        .as_array()
        .unwrap_or_else(|| panic!("meetings is a list: {case}"))
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no meeting {id} in {case}"))
        .clone()
}

#[tokio::test]
async fn each_agency_invited_to_a_meeting_is_told_by_a_duty_listed_on_the_case() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(2))).await;
    let when = ago(Duration::hours(2));
    // Riverside serves the south: the child's own area is the north (RULES 10.1)
    let invitees = ["police", "health", "school-riverside"];
    let r = w.schedule(&case, "strategy_meeting", when, &invitees).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let answer = r.json();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(answer["kind"], "strategy_meeting");
    assert_eq!(answer["invitees"], json!(invitees));
    let rows = duty_rows(&answer);
    let told: Vec<(&str, &str)> = rows
        .iter()
        .map(|(d, a, _)| (d.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        told,
        [
            ("meeting_invitation", "police"),
            ("meeting_invitation", "health"),
            ("meeting_invitation", "school-riverside"),
        ],
        "one invitation per invitee, in order: {answer}"
    );
    assert_eq!(rows[0].2, "permit", "{answer}");
    assert_eq!(rows[1].2, "permit", "{answer}");
    // denied by the rules, the invitation is listed with its reasons, never dropped
    let riverside = &answer["duties"][2];
    assert_eq!(riverside["decision"], "deny", "{answer}");
    assert!(riverside["disclosure_id"].is_null(), "{answer}");
    assert!(
        riverside["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{answer}"
    );

    // the police open the invitation: which meeting, when, who leads; no record content
    let officer = w.server.token("police", "pc.jones", &[Role::PoliceOfficer]);
    let disclosure = answer["duties"][0]["disclosure_id"].as_str().unwrap();
    let notice = open_packet(&w.server, "police", &officer, disclosure).await;
    assert_eq!(notice["view"], "notification", "{notice}");
    assert_eq!(notice["notifies"]["duty"], "meeting_invitation", "{notice}");
    assert_eq!(
        notice["notifies"]["trigger"], "meeting_scheduled",
        "{notice}"
    );
    assert_eq!(notice["notifies"]["meeting"]["id"], id.as_str(), "{notice}");
    assert_eq!(
        notice["notifies"]["meeting"]["kind"], "strategy_meeting",
        "{notice}"
    );
    assert_eq!(notice["notifies"]["lead_agency"], "csc", "{notice}");

    // the case lists the meeting and the invitations among its duties
    let read = w.read(&case).await;
    let m = meeting(&read, &id);
    assert_eq!(m["kind"], "strategy_meeting");
    assert_eq!(m["invitees"], json!(invitees));
    assert_eq!(m["attendance"], json!([]));
    assert!(m["held_event_seq"].is_null());
    let listed: Vec<_> = duty_rows(&read)
        .into_iter()
        .filter(|(d, _, _)| d == "meeting_invitation")
        .collect();
    assert_eq!(listed, rows, "{read}");
    // scheduling is no step of the case: the strategy meeting clock still runs
    assert!(clock(&read, "strategy_meeting")["stopped_at"].is_null());
    let actions = w.audit_actions(&w.child).await;
    assert!(actions.contains(&"case.meeting".to_owned()), "{actions:?}");
    w.stop().await;
}

#[tokio::test]
async fn an_agency_that_cannot_attend_sends_apologies_and_a_written_report() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(5))).await;
    let id = w
        .scheduled(
            &case,
            "professionals_meeting",
            ago(Duration::hours(3)),
            &["police", "health"],
        )
        .await;
    let nurse = w
        .server
        .person("health", "nurse.ali", Role::HealthPractitioner);
    let report = nurse
        .deposit_as(
            &w.child,
            "incident_report",
            "harmful_behaviour",
            json!({"summary": "s"}),
        )
        .await;
    assert_eq!(report.status, 201, "{}", report.text());
    let report = report.json()["id"].as_str().unwrap().to_owned();
    let other_child = w.another_child().await;
    let elsewhere = nurse
        .deposit_as(
            &other_child,
            "incident_report",
            "victim",
            json!({"summary": "s"}),
        )
        .await;
    let elsewhere = elsewhere.json()["id"].as_str().unwrap().to_owned();

    // refused, writing nothing
    let rows = count(&w.server, "case_meeting_attendance").await;
    let seq = head_seq(&w.server).await;
    let apologies = |record: &str| json!({"agency": "health", "attended": false, "written_report_record_id": record});
    problem_naming(
        &w.attend(&case, &id, apologies(&elsewhere)).await,
        422,
        "record_not_about_child",
        &["written_report_record_id"],
    );
    problem(
        &w.attend(
            &case,
            &id,
            apologies("00000000-0000-4000-8000-000000000000"),
        )
        .await,
        422,
        "unknown_record",
    );
    problem_naming(
        &w.attend(
            &case,
            &id,
            json!({"agency": "health", "attended": true, "written_report_record_id": report}),
        )
        .await,
        422,
        "invalid_field",
        &["written_report_record_id"],
    );
    problem_naming(
        &w.attend(&case, &id, json!({"agency": "camhs", "attended": true}))
            .await,
        422,
        "invalid_field",
        &["agency", "camhs"],
    );
    assert_eq!(count(&w.server, "case_meeting_attendance").await, rows);
    assert_eq!(head_seq(&w.server).await, seq, "a refusal audits nothing");

    let sent = w.attended(&case, &id, apologies(&report)).await;
    assert_eq!(sent["attended"], false);
    assert_eq!(sent["written_report_record_id"], report.as_str());
    assert!(sent["event_seq"].is_null(), "{sent}");
    let came = w
        .attended(&case, &id, json!({"agency": "police", "attended": true}))
        .await;
    // a professionals' meeting is no step of the case
    assert!(came["event_seq"].is_null(), "{came}");
    let lead = w
        .attended(&case, &id, json!({"agency": "csc", "attended": true}))
        .await;
    assert!(lead["event_seq"].is_null(), "{lead}");
    problem(
        &w.attend(&case, &id, json!({"agency": "police", "attended": false}))
            .await,
        409,
        "attendance_recorded",
    );

    let read = w.read(&case).await;
    let m = meeting(&read, &id);
    let attendance = m["attendance"].as_array().unwrap();
    let by = |agency: &str| {
        attendance
            .iter()
            .find(|a| a["agency"] == agency)
            .unwrap_or_else(|| panic!("{agency} in {m}"))
            .clone()
    };
    assert_eq!(by("health")["attended"], false);
    assert_eq!(by("health")["written_report_record_id"], report.as_str());
    assert_eq!(by("police")["attended"], true);
    assert!(by("police")["written_report_record_id"].is_null());
    assert_eq!(by("csc")["recorded_by"], "sw.amara");
    assert!(
        !read["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "strategy_meeting_held"),
        "{read}"
    );
    let actions = w.audit_actions(&w.child).await;
    let recorded = actions
        .iter()
        .filter(|a| *a == "case.meeting_attendance")
        .count();
    assert_eq!(recorded, 3, "{actions:?}");
    w.stop().await;
}

#[tokio::test]
async fn holding_a_strategy_meeting_is_recording_its_attendance_which_stops_its_clock() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(2))).await;
    let running = w.read(&case).await;
    assert!(clock(&running, "strategy_meeting")["stopped_at"].is_null());

    // a meeting yet to come is not attended
    let later = w
        .scheduled(
            &case,
            "strategy_meeting",
            Utc::now() + Duration::days(2),
            &["police"],
        )
        .await;
    problem(
        &w.attend(&case, &later, json!({"agency": "police", "attended": true}))
            .await,
        409,
        "meeting_not_held_yet",
    );
    // apologies sent ahead are no attendance: the meeting is not held by them
    let when = ago(Duration::hours(5));
    let id = w
        .scheduled(&case, "strategy_meeting", when, &["police", "health"])
        .await;
    let apologies = w
        .attended(&case, &id, json!({"agency": "health", "attended": false}))
        .await;
    assert!(apologies["event_seq"].is_null(), "{apologies}");

    let held = w
        .attended(&case, &id, json!({"agency": "police", "attended": true}))
        .await;
    let seq = held["event_seq"].as_i64().expect("the step it recorded");
    let meeting_clock = clock(&held, "strategy_meeting");
    let stopped = meeting_clock["stopped_at"].as_str().expect("stopped");
    assert_eq!(
        DateTime::parse_from_rfc3339(stopped).unwrap(),
        when,
        "{held}"
    );
    assert_eq!(meeting_clock["status"], "met", "{held}");
    // the minutes clock starts at the meeting
    assert!(clock(&held, "minutes")["stopped_at"].is_null(), "{held}");

    let read = w.read(&case).await;
    let step = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["seq"] == seq)
        .unwrap_or_else(|| panic!("step {seq} in {read}"))
        .clone();
    assert_eq!(step["kind"], "strategy_meeting_held");
    assert_eq!(step["sub"], "sw.amara");
    assert_eq!(
        DateTime::parse_from_rfc3339(step["occurred_at"].as_str().unwrap()).unwrap(),
        when
    );
    assert_eq!(meeting(&read, &id)["held_event_seq"], seq);
    // the step's own duties were carried out: the agencies that received about the child (the
    // invitations were notices to them) are told the strategy meeting was held
    let convened: Vec<String> = duty_rows(&held)
        .into_iter()
        .filter(|(d, _, _)| d == "strategy_meeting_convened")
        .map(|(_, a, _)| a)
        .collect();
    assert!(convened.contains(&"police".to_owned()), "{held}");
    let listed = duty_rows(&read);
    assert!(
        listed
            .iter()
            .any(|(d, a, _)| d == "strategy_meeting_convened" && a == "police"),
        "{read}"
    );
    let actions = w.audit_actions(&w.child).await;
    assert!(actions.contains(&"case.event".to_owned()), "{actions:?}");

    // a later attendance does not hold it again
    let again = w
        .attended(&case, &id, json!({"agency": "csc", "attended": true}))
        .await;
    assert!(again["event_seq"].is_null(), "{again}");
    let read = w.read(&case).await;
    let held_steps = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "strategy_meeting_held")
        .count();
    assert_eq!(held_steps, 1, "{read}");
    w.stop().await;
}

#[tokio::test]
async fn the_minutes_are_circulated_once_disclosed_to_every_agency_that_attended() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(3))).await;
    let when = ago(Duration::days(1));
    let id = w
        .scheduled(
            &case,
            "strategy_meeting",
            when,
            &["police", "health", "camhs"],
        )
        .await;
    for (agency, came) in [
        ("police", true),
        ("health", true),
        ("camhs", false),
        ("csc", true),
    ] {
        w.attended(&case, &id, json!({"agency": agency, "attended": came}))
            .await;
    }
    // the minutes, chaired by csc's team manager, may go to the police and health
    let chair = w.server.person("csc", "tm.osei", Role::TeamManager);
    chair
        .consent(
            &w.child,
            "parent",
            &["strategy_meeting"],
            &["police", "health"],
        )
        .await;
    let r = chair
        .post(
            "/v1/records",
            &json!({"subject_id": w.child, "kind": "strategy_meeting_minutes",
                    "subject_role": "harmful_behaviour", "sections": {"summary": "s"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let minutes = r.json()["id"].as_str().unwrap().to_owned();
    let circulated = |record: Option<&str>| {
        json!({"kind": "minutes_circulated", "occurred_at": at(ago(Duration::hours(1))),
               "record_id": record})
    };

    // a self-declared step is not enough once agencies attended
    let events = count(&w.server, "case_events").await;
    problem_naming(
        &w.event(&case, circulated(None)).await,
        422,
        "minutes_record_required",
        &["record_id"],
    );
    let detail = problem_naming(
        &w.event(&case, circulated(Some(&minutes))).await,
        409,
        "minutes_not_sent",
        &["police", "health"],
    );
    assert!(!detail.contains("camhs"), "camhs sent apologies: {detail}");
    assert!(
        !detail.contains("csc"),
        "the lead holds its own minutes: {detail}"
    );

    // disclosed to the police (with the chair's permission): health still waits
    let send = |to: &str, recipient: &str| {
        let permission = format!("/v1/records/{minutes}/chair-permissions");
        let chair = &chair;
        let minutes = minutes.clone();
        let (to, recipient) = (to.to_owned(), recipient.to_owned());
        async move {
            let r = chair
                .post(&permission, &json!({"recipient_agency": to}))
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
            let r = chair
                .disclose(&common::flows::ask(
                    &[&minutes],
                    &recipient,
                    "strategy_meeting",
                    "consent",
                ))
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
    };
    send("police", "police/police_officer").await;
    let detail = problem_naming(
        &w.event(&case, circulated(Some(&minutes))).await,
        409,
        "minutes_not_sent",
        &["health"],
    );
    assert!(!detail.contains("police"), "{detail}");
    assert_eq!(count(&w.server, "case_events").await, events);

    send("health", "health/health_practitioner").await;
    let r = w.event(&case, circulated(Some(&minutes))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let minutes_clock = clock(&r.json(), "minutes");
    assert!(minutes_clock["stopped_at"].is_string(), "{}", r.text());
    assert_eq!(minutes_clock["status"], "met");

    // a case with no meeting recorded keeps the self-declared step
    let other = w.another_child().await;
    let plain = w.opened(&other, ago(Duration::days(3))).await;
    w.step(&plain, "strategy_meeting_held", ago(Duration::days(2)))
        .await;
    let r = w
        .event(
            &plain,
            json!({"kind": "minutes_circulated", "occurred_at": at(ago(Duration::days(1)))}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    w.stop().await;
}

#[tokio::test]
async fn only_the_lead_agency_schedules_and_records_and_anyone_else_is_answered_as_for_no_case() {
    let w = World::start().await;
    let case = w.opened(&w.child, ago(Duration::days(2))).await;
    let id = w
        .scheduled(
            &case,
            "review_meeting",
            ago(Duration::hours(1)),
            &["police"],
        )
        .await;
    let meetings = count(&w.server, "case_meetings").await;
    let seq = head_seq(&w.server).await;
    let schedule = json!({"kind": "review_meeting", "scheduled_for": at(ago(Duration::hours(1))),
                          "invitees": ["health"]});
    let attend = json!({"agency": "police", "attended": true});
    // another council's children's social care, whose roles may schedule for its own cases,
    // learns nothing of this one
    for (sub, role) in [
        ("sw.south", Role::SocialWorker),
        ("tm.south", Role::TeamManager),
    ] {
        let who = w.server.person("csc-south", sub, role);
        problem(
            &who.post(&meetings_of(&case), &schedule).await,
            404,
            "not_found",
        );
        problem(
            &who.post(&attendance_of(&case, &id), &attend).await,
            404,
            "not_found",
        );
    }
    // a role that schedules no meeting anywhere is told so, whatever the case (nothing of it)
    let officer = w.server.person("police", "pc.jones", Role::PoliceOfficer);
    problem(
        &officer.post(&meetings_of(&case), &schedule).await,
        403,
        "role_not_permitted",
    );
    problem(
        &officer.post(&attendance_of(&case, &id), &attend).await,
        403,
        "role_not_permitted",
    );
    // nor does the lead's own IRO, which the policy does not let
    let iro = w
        .server
        .person("csc", "iro.west", Role::IndependentReviewingOfficer);
    problem(
        &iro.post(&meetings_of(&case), &schedule).await,
        403,
        "role_not_permitted",
    );
    assert_eq!(count(&w.server, "case_meetings").await, meetings);
    assert_eq!(count(&w.server, "case_meeting_attendance").await, 0);
    assert_eq!(head_seq(&w.server).await, seq, "a refusal audits nothing");
    // a meeting of another case, or none, is not found
    problem(
        &w.attend(
            &case,
            "00000000-0000-4000-8000-000000000000",
            attend.clone(),
        )
        .await,
        404,
        "not_found",
    );
    w.stop().await;
}

#[tokio::test]
async fn a_bad_kind_an_unknown_agency_or_a_meeting_before_the_referral_is_refused_naming_its_field()
{
    let w = World::start().await;
    let referral = ago(Duration::days(2));
    let case = w.opened(&w.child, referral).await;
    let when = ago(Duration::hours(1));
    let meetings = count(&w.server, "case_meetings").await;
    let post = |body: Value| {
        let (csc, sw, path) = (&w.csc, &w.sw, meetings_of(&case));
        async move { csc.post(&path, sw, &body).await.expect("an answer") }
    };
    let detail = problem_naming(
        &post(json!({"kind": "tea_party", "scheduled_for": at(when), "invitees": ["police"]}))
            .await,
        422,
        "invalid_field",
        &["kind"],
    );
    assert!(detail.contains("tea_party"), "{detail}");
    problem_naming(
        &w.schedule(&case, "strategy_meeting", when, &["police", "nowhere"])
            .await,
        422,
        "invalid_field",
        &["invitees", "nowhere"],
    );
    for invitees in [&[][..], &["police", "police"][..], &["csc"][..]] {
        problem_naming(
            &w.schedule(&case, "strategy_meeting", when, invitees).await,
            422,
            "invalid_field",
            &["invitees"],
        );
    }
    problem_naming(
        &w.schedule(
            &case,
            "strategy_meeting",
            referral - Duration::days(1),
            &["police"],
        )
        .await,
        422,
        "invalid_field",
        &["scheduled_for"],
    );
    assert_eq!(count(&w.server, "case_meetings").await, meetings);

    let id = w
        .scheduled(&case, "pre_release_meeting", when, &["probation"])
        .await;
    problem_naming(
        &w.attend(&case, &id, json!({"agency": "nowhere", "attended": true}))
            .await,
        422,
        "invalid_field",
        &["agency", "nowhere"],
    );
    problem_naming(
        &w.attend(&case, &id, json!({"agency": "probation"})).await,
        422,
        "invalid_field",
        &["attended"],
    );
    w.stop().await;
}
