//! The case process of `broker demo` (PROCESS.md): both children's cases opened and linked,
//! the strategy discussion and meeting held, the minutes circulated late, an outcome with its
//! rationale, the duties carried out, a notice acknowledged, and the timeliness report.

use anyhow::Context;
use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use serde_json::{Value, json};

use crate::vocab::Role;

use super::*;

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn clocks(v: &Value) -> String {
    v["clocks"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let nth = c["occurrence"].as_u64().filter(|n| *n > 1);
                    format!(
                        "{}{} {}",
                        c["clock"].as_str().unwrap_or("?"),
                        nth.map(|n| format!(" ({n})")).unwrap_or_default(),
                        c["status"].as_str().unwrap_or("?")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn duties(v: &Value) -> String {
    let told: Vec<String> = v["duties"]
        .as_array()
        .map(|ds| {
            ds.iter()
                .map(|d| {
                    format!(
                        "{} -> {}: {}",
                        d["duty"].as_str().unwrap_or("?"),
                        d["recipient_agency"].as_str().unwrap_or("?"),
                        d["decision"].as_str().unwrap_or("?")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if told.is_empty() {
        "none".into()
    } else {
        told.join("; ")
    }
}

/// Plays the case of `child` (who displayed the behaviour) and `younger` (the child harmed).
pub(super) async fn play(demo: &mut Demo, child: &str, younger: &str) -> anyhow::Result<()> {
    let sw = ("csc", "sw.okafor", Role::SocialWorker);
    let her_sw = ("csc", "sw.achebe", Role::SocialWorker);
    let tm = ("csc", "tm.reid", Role::TeamManager);
    // the referral came in twenty days ago (so the minutes are late whatever the holidays); the steps are recorded as they happened
    let referral = (Utc::now() - Duration::days(20)).trunc_subsecs(0);

    step(
        "11. Children's social care opens a case for each child, with different social workers, linked.",
    );
    let his = demo.call(sw.0, sw.1, sw.2, "POST", "/v1/cases", json!({"subject_id": child, "subject_role": "harmful_behaviour", "referral_received_at": at(referral), "referred_by_agency": "police"}), 201).await?;
    let his_id = his["id"].as_str().context("case id")?.to_owned();
    println!("  case {his_id} (lead {}): {}", sw.1, clocks(&his));
    println!("  duties carried out: {}", duties(&his));
    let hers = demo.call(her_sw.0, her_sw.1, her_sw.2, "POST", "/v1/cases", json!({"subject_id": younger, "subject_role": "victim", "referral_received_at": at(referral), "linked_case_ids": [his_id]}), 201).await?;
    let her_id = hers["id"].as_str().context("case id")?.to_owned();
    println!("  case {her_id} (lead {}), linked to {his_id}", her_sw.1);
    println!("  duties carried out: {}", duties(&hers));

    step("12. The strategy discussion and meeting are held; the minutes go round late.");
    for (kind, after, extra) in [
        ("strategy_discussion_held", Duration::hours(20), json!({})),
        ("strategy_meeting_held", Duration::days(4), json!({})),
        (
            "minutes_circulated",
            Duration::days(20) - Duration::hours(1),
            json!({"note": "typed up after the chair's leave"}),
        ),
        (
            "outcome_recorded",
            Duration::days(20) - Duration::minutes(30),
            json!({"outcome": "hsb_intervention", "rationale": "Strategy meeting agreed an AIM assessment and a safety plan at home and at school; no prosecution."}),
        ),
        (
            "plan_agreed",
            Duration::days(20) - Duration::minutes(20),
            json!({}),
        ),
    ] {
        let mut body = json!({"kind": kind, "occurred_at": at(referral + after)});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let r = demo
            .call(
                sw.0,
                sw.1,
                sw.2,
                "POST",
                &format!("/v1/cases/{his_id}/events"),
                body,
                201,
            )
            .await?;
        println!("  {kind}: duties {}", duties(&r));
        if kind == "minutes_circulated" {
            println!("    {}", clocks(&r));
        }
    }

    step(
        "12a. Her case takes the single-assessment route: screened amber, no strategy meeting is needed, and none shows as overdue.",
    );
    for (kind, after, extra) in [
        ("strategy_discussion_held", Duration::hours(22), json!({})),
        (
            "screening_completed",
            Duration::days(1),
            json!({"tool": "brook_traffic_light", "level": "amber", "rationale": "Amber: the behaviour was directed at her by an older child; she is safe at home and at school."}),
        ),
        (
            "route_decided",
            Duration::days(1) + Duration::hours(1),
            json!({"route": "single_assessment", "rationale": "She is the child harmed, safe at home: a single assessment of her needs, no section 47 enquiry."}),
        ),
        ("initial_assessment_completed", Duration::days(5), json!({})),
    ] {
        let mut body = json!({"kind": kind, "occurred_at": at(referral + after)});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let r = demo
            .call(
                her_sw.0,
                her_sw.1,
                her_sw.2,
                "POST",
                &format!("/v1/cases/{her_id}/events"),
                body,
                201,
            )
            .await?;
        if kind == "initial_assessment_completed" {
            println!("  case {her_id}: {}", clocks(&r));
        }
    }

    step(
        "13. Hillside's DSL reads and acknowledges the notice that children's social care is involved.",
    );
    let dsl = ("school-hillside", "dsl.jones", Role::Dsl);
    let notice = his["duties"]
        .as_array()
        .and_then(|ds| {
            ds.iter()
                .find(|d| d["recipient_agency"] == "school-hillside")
        })
        .and_then(|d| d["disclosure_id"].as_str())
        .context("the school's notice")?
        .to_owned();
    let token = demo.token(dsl.0, dsl.1, dsl.2)?;
    let r = demo
        .client(dsl.0)?
        .get(&format!("/v1/inbox/{notice}"), &token)
        .await?;
    anyhow::ensure!(
        r.status.as_u16() == 200,
        "fetching the notice: {}",
        r.text()
    );
    let ack = demo
        .call(
            dsl.0,
            dsl.1,
            dsl.2,
            "POST",
            &format!("/v1/inbox/{notice}/ack"),
            json!({}),
            200,
        )
        .await?;
    println!(
        "  notice {notice}: first read {}, acknowledged {}",
        ack["first_read_at"].as_str().unwrap_or("?"),
        ack["acknowledged_at"].as_str().unwrap_or("?")
    );

    step(
        "13a. At lunchtime a pupil tells Hillside's DSL something about Child A. She writes an incident report; it reaches his social worker, who leads his case, with what was said; he reads it, and she sees that it was read.",
    );
    let concern = demo.call(dsl.0, dsl.1, dsl.2, "POST", "/v1/records", json!({"subject_id": child, "kind": "incident_report", "subject_role": "harmful_behaviour", "sections": {
        "summary": "A Year 6 pupil said Child A tried to follow her into the toilets at lunch.",
        "risk_management": "Child A kept in sight of staff at break and lunch until his social worker calls."}}), 201).await?;
    println!("  duties carried out: {}", duties(&concern));
    let delivered = concern["duties"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["duty"] == "concern_incident_report"))
        .and_then(|d| d["disclosure_id"].as_str())
        .context("the concern delivered to the case lead")?
        .to_owned();
    let token = demo.token(sw.0, sw.1, sw.2)?;
    let r = demo
        .client(sw.0)?
        .get(&format!("/v1/inbox/{delivered}"), &token)
        .await?;
    anyhow::ensure!(
        r.status.as_u16() == 200,
        "the lead worker fetching the concern: {}",
        r.text()
    );
    demo.call(
        sw.0,
        sw.1,
        sw.2,
        "POST",
        &format!("/v1/inbox/{delivered}/ack"),
        json!({}),
        200,
    )
    .await?;
    let record = concern["id"].as_str().context("record id")?;
    let seen = demo
        .call(
            dsl.0,
            dsl.1,
            dsl.2,
            "GET",
            &format!("/v1/records/{record}/disclosures"),
            json!({}),
            200,
        )
        .await?;
    let read = seen["decisions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["detail"]["disclosure_id"] == delivered.as_str())
        .context("the concern among the record's decisions")?;
    println!(
        "  concern {delivered} → {} ({}), first read {}, acknowledged {}",
        read["recipient"]["agency"].as_str().unwrap_or("?"),
        read["recipient"]["sub"].as_str().unwrap_or("?"),
        read["first_read_at"].as_str().unwrap_or("?"),
        read["acknowledged_at"].as_str().unwrap_or("?")
    );

    step(
        "13b. A professionals meeting on Child A's case: the police and health attend; Hillside sends its apologies with the DSL's incident report as its written report.",
    );
    let meeting = demo.call(sw.0, sw.1, sw.2, "POST", &format!("/v1/cases/{his_id}/meetings"), json!({"kind": "professionals_meeting", "scheduled_for": at(referral + Duration::days(12)), "invitees": ["police", "health", "school-hillside"]}), 201).await?;
    let meeting_id = meeting["id"].as_str().context("meeting id")?.to_owned();
    println!("  invitations: {}", duties(&meeting));
    for (agency, attended, report) in [
        ("police", true, None),
        ("health", true, None),
        ("school-hillside", false, Some(record)),
    ] {
        demo.call(
            sw.0,
            sw.1,
            sw.2,
            "POST",
            &format!("/v1/cases/{his_id}/meetings/{meeting_id}/attendance"),
            json!({"agency": agency, "attended": attended, "written_report_record_id": report}),
            201,
        )
        .await?;
    }
    let case = demo
        .call(
            tm.0,
            tm.1,
            tm.2,
            "GET",
            &format!("/v1/cases/{his_id}"),
            json!({}),
            200,
        )
        .await?;
    let attendance: Vec<String> = case["meetings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["id"] == meeting_id.as_str())
        .flat_map(|m| m["attendance"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            let agency = a["agency"].as_str().unwrap_or("?").to_owned();
            match (
                a["attended"].as_bool(),
                a["written_report_record_id"].as_str(),
            ) {
                (Some(true), _) => format!("{agency} attended"),
                (_, Some(_)) => format!("{agency} sent apologies with a written report"),
                _ => format!("{agency} sent apologies"),
            }
        })
        .collect();
    println!("  professionals_meeting: {}", attendance.join(", "));

    step(
        "13c. The meeting agrees an action owned by Hillside: its DSL sees the action (not the case) and marks it done.",
    );
    let agreed = demo.call(sw.0, sw.1, sw.2, "POST", &format!("/v1/cases/{his_id}/actions"), json!({"description": "Keep Child A in sight of staff at break and lunch, and tell his social worker of any incident.", "owner_agency": "school-hillside", "due_at": at(Utc::now().trunc_subsecs(0) + Duration::days(7))}), 201).await?;
    let action = agreed["id"].as_str().context("action id")?.to_owned();
    let ours = demo
        .call(dsl.0, dsl.1, dsl.2, "GET", "/v1/actions", json!({}), 200)
        .await?;
    let listed = ours["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["id"] == action.as_str() && a["case_id"] == his_id.as_str());
    let token = demo.token(dsl.0, dsl.1, dsl.2)?;
    let hidden = demo
        .client(dsl.0)?
        .get(&format!("/v1/cases/{his_id}"), &token)
        .await?
        .status
        .as_u16();
    let done = demo
        .call(
            dsl.0,
            dsl.1,
            dsl.2,
            "POST",
            &format!("/v1/cases/{his_id}/actions/{action}/done"),
            json!({"note": "Lunchtime supervision rota agreed with the head teacher."}),
            200,
        )
        .await?;
    println!(
        "  action owned by school-hillside: on the DSL's list {listed}, the case itself answers {hidden}, now {}",
        done["status"].as_str().unwrap_or("?")
    );

    step(
        "13d. For her single assessment, her social worker asks health for information, due within seconds; health answers after it is due, by a disclosure naming the request.",
    );
    let nurse = ("health", "nurse.ali", Role::HealthPractitioner);
    let asked = demo.call(her_sw.0, her_sw.1, her_sw.2, "POST", "/v1/requests", json!({"subject_id": younger, "to_agency": "health", "purpose": "assessment", "sections": ["summary", "health_clinical"], "due_at": at(Utc::now().trunc_subsecs(0) + Duration::seconds(3)), "note": "For the single assessment: anything the school nurse has seen."}), 201).await?;
    let request = asked["id"].as_str().context("request id")?.to_owned();
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let waiting = demo
        .call(
            nurse.0,
            nurse.1,
            nurse.2,
            "GET",
            "/v1/requests?direction=to",
            json!({}),
            200,
        )
        .await?;
    let overdue = waiting["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["id"] == request.as_str() && r["overdue"] == true);
    demo.call(nurse.0, nurse.1, nurse.2, "POST", &format!("/v1/subjects/{younger}/consents"), json!({"given_by": "parent", "purposes": ["assessment"], "recipient_kinds": ["children_social_care"]}), 201).await?;
    let note = demo.call(nurse.0, nurse.1, nurse.2, "POST", "/v1/records", json!({"subject_id": younger, "kind": "incident_report", "subject_role": "victim", "sections": {
        "summary": "Seen twice at the school nurse's drop-in since the incident, anxious and sleeping poorly.",
        "health_clinical": "No injuries; referred to the GP and to CAMHS for a review."}}), 201).await?;
    let note_id = note["id"].as_str().context("record id")?.to_owned();
    demo.disclose(
        nurse,
        &note_id,
        ("csc", Some(Role::SocialWorker), None),
        "assessment",
        "consent",
        json!({"request_id": request}),
        &["permit"],
    )
    .await?;
    let mine = demo
        .call(
            her_sw.0,
            her_sw.1,
            her_sw.2,
            "GET",
            "/v1/requests?direction=from",
            json!({}),
            200,
        )
        .await?;
    let answered = mine["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == request.as_str())
        .context("the request among children's social care's")?;
    println!(
        "  request to health: overdue before the answer {overdue}, now {}, answered late {}",
        answered["status"].as_str().unwrap_or("?"),
        answered["answered_late"]
    );

    step("14. The team manager's morning list and the partnership's timeliness report.");
    let overdue = demo
        .call(
            tm.0,
            tm.1,
            tm.2,
            "GET",
            "/v1/cases?overdue=true",
            json!({}),
            200,
        )
        .await?;
    for c in overdue["cases"].as_array().into_iter().flatten() {
        let late: Vec<&str> = c["clocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["status"] == "overdue")
            .filter_map(|k| k["clock"].as_str())
            .collect();
        println!(
            "  overdue: case {} ({}): {}",
            c["id"].as_str().unwrap_or("?"),
            c["lead_sub"].as_str().unwrap_or("?"),
            late.join(", ")
        );
    }
    let report = demo
        .call(
            "partnership",
            "ig.patel",
            Role::IgOfficer,
            "GET",
            "/v1/reports/timeliness",
            json!({}),
            200,
        )
        .await?;
    println!(
        "  {:<20} {:>7} {:>7} {:>5} {:>7} {:>7} {:>8} {:>8}",
        "clock", "started", "on time", "late", "overdue", "pending", "median h", "not req."
    );
    for l in report["clocks"].as_array().into_iter().flatten() {
        println!(
            "  {:<20} {:>7} {:>7} {:>5} {:>7} {:>7} {:>8} {:>8}",
            l["clock"].as_str().unwrap_or("?"),
            n(&l["started"]),
            n(&l["met_on_time"]),
            n(&l["met_late"]),
            n(&l["overdue_now"]),
            n(&l["pending"]),
            l["median_hours"]
                .as_f64()
                .map_or("-".to_owned(), |m| format!("{m:.1}")),
            n(&l["not_required"]),
        );
    }
    println!(
        "  duties: {} delivered, {} denied",
        report["duties"]["delivered"], report["duties"]["denied"]
    );
    Ok(())
}
