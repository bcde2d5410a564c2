//! The case `broker demo` plays, step by step: each agency acting as it would, every answer
//! checked, the timeline printed as it goes.

use anyhow::{Context, bail};
use chrono::{Months, Utc};
use serde_json::{Value, json};

use crate::vocab::Role;

use super::*;

pub(super) async fn play(demo: &mut Demo) -> anyhow::Result<()> {
    let today = Utc::now().date_naive();
    let dob = today
        .checked_sub_months(Months::new(14 * 12 + 3))
        .context("a date")?;
    let police = ("police", "pc.khan", Role::PoliceOfficer);
    let sw = ("csc", "sw.okafor", Role::SocialWorker);
    let tm = ("csc", "tm.reid", Role::TeamManager);

    step(&format!(
        "1. Police notify: a child born {dob} (aged 14), pupil at Hillside, is alleged to have harmed a younger child."
    ));
    let child = demo.call(police.0, police.1, police.2, "POST", "/v1/subjects", json!({"date_of_birth": dob, "school_agency": "school-hillside", "local_authority": "north", "display_name": "Child A"}), 201).await?["id"].as_str().context("child id")?.to_owned();
    let deposited = demo.call(police.0, police.1, police.2, "POST", "/v1/records", json!({"subject_id": child, "kind": "police_notification", "subject_role": "harmful_behaviour", "sections": {
        "summary": "Report of sexualised behaviour towards a younger child at a park.",
        "allegation_details": "Details as given by the younger child's parent.",
        "police_intelligence": "No previous police contact.",
        "victim_details": "Younger child, aged 8, known to Riverside Academy."}}), 201).await?;
    let notification = deposited["id"].as_str().context("record id")?.to_owned();
    println!(
        "  police_notification {notification} deposited for child {child} (a Northshire child)"
    );
    // the MERLIN notice (Camden 6.2) reaches the child's own council only (RULES 10.1)
    let told: Vec<&str> = deposited["duties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["recipient_agency"].as_str())
        .collect();
    if told != ["yos", "csc"] {
        bail!(
            "the MERLIN notice should reach Northshire's youth offending service and front door only, not {told:?}"
        );
    }
    println!(
        "  MERLIN notice → yos (Northshire Youth Offending Service) and csc (Northshire Children's Social Care); Southshire's services are not told"
    );
    demo.disclose(police, &notification, ("csc", Some(Role::SocialWorker), None), "safeguarding", "significant_harm",
        json!({"justification": "Reasonable cause to believe a younger child is likely to suffer significant harm; parents not told yet so as not to alert."}), &["permit"]).await?;

    step(
        "2. Children's social care refer, and the parents consent to sharing for safeguarding and the strategy meeting.",
    );
    let referral = demo.call(sw.0, sw.1, sw.2, "POST", "/v1/records", json!({"subject_id": child, "kind": "referral", "subject_role": "harmful_behaviour", "sections": {
        "summary": "Referral following the police notification.", "family_background": "Lives with mother and a younger sibling.",
        "assessment_findings": "AIM3 assessment to be arranged.",
        "victim_details": "The younger child, aged 8, has her own social worker and her own record."}}), 201).await?["id"].as_str().context("id")?.to_owned();
    println!("  referral {referral} deposited");
    let consent = demo.call(sw.0, sw.1, sw.2, "POST", &format!("/v1/subjects/{child}/consents"), json!({"given_by": "parent", "purposes": ["safeguarding", "strategy_meeting", "education_support", "assessment"], "recipient_kinds": ["school", "police", "health", "hsb_service"]}), 201).await?["id"].as_str().context("id")?.to_owned();
    println!("  parent's consent {consent} recorded (child not assessed as Gillick competent)");

    step(
        "3. His referral goes to the HSB service on his parent's consent: the details of the younger child are withheld, because his parent cannot consent for her.",
    );
    let hsb = demo
        .disclose(
            sw,
            &referral,
            ("hsb-service", Some(Role::HsbPractitioner), None),
            "assessment",
            "consent",
            json!({}),
            &["permit"],
        )
        .await?;
    if !names(&hsb["sections_withheld"]).contains(&"victim_details") {
        bail!("victim_details was not named as withheld from the HSB service: {hsb}");
    }
    println!("  withheld: [{}]", list(&hsb["sections_withheld"]));

    step(
        "4. The younger child (aged 8) has her own record with her own social worker; her own mother consents, and it goes to the police for their investigation of the older child.",
    );
    let her_sw = ("csc", "sw.achebe", Role::SocialWorker);
    let younger_dob = today
        .checked_sub_months(Months::new(8 * 12 + 5))
        .context("a date")?;
    let younger = demo.call(her_sw.0, her_sw.1, her_sw.2, "POST", "/v1/subjects", json!({"date_of_birth": younger_dob, "school_agency": "school-riverside", "local_authority": "north", "display_name": "Child B"}), 201).await?["id"].as_str().context("child id")?.to_owned();
    let her_record = demo.call(her_sw.0, her_sw.1, her_sw.2, "POST", "/v1/records", json!({"subject_id": younger, "kind": "initial_assessment", "subject_role": "victim", "sections": {
        "summary": "Initial assessment of the younger child after the incident at the park.",
        "victim_details": "Her account, given with her mother present; no injuries.",
        "family_background": "Lives with both parents; no previous involvement."}}), 201).await?["id"].as_str().context("record id")?.to_owned();
    demo.call(her_sw.0, her_sw.1, her_sw.2, "POST", &format!("/v1/subjects/{younger}/consents"), json!({"given_by": "parent", "purposes": ["criminal_investigation"], "recipient_kinds": ["police"]}), 201).await?;
    println!(
        "  child {younger} registered, her initial_assessment {her_record} (subject_role victim) deposited, her mother's consent recorded"
    );
    demo.disclose(
        her_sw,
        &her_record,
        ("police", Some(Role::PoliceOfficer), None),
        "criminal_investigation",
        "consent",
        json!({}),
        &["permit"],
    )
    .await?;

    step("5. Strategy-meeting minutes go to the police only with the chair's permission.");
    let minutes = demo.call(tm.0, tm.1, tm.2, "POST", "/v1/records", json!({"subject_id": child, "kind": "strategy_meeting_minutes", "subject_role": "harmful_behaviour", "sections": {
        "summary": "Strategy meeting held; s47 enquiry agreed.", "risk_management": "Supervised contact with younger children only.",
        "allegation_details": "As reported by police."}}), 201).await?["id"].as_str().context("id")?.to_owned();
    demo.disclose(
        tm,
        &minutes,
        ("police", Some(Role::PoliceOfficer), None),
        "strategy_meeting",
        "consent",
        json!({}),
        &["chair_permission_required"],
    )
    .await?;
    demo.call(
        tm.0,
        tm.1,
        tm.2,
        "POST",
        &format!("/v1/records/{minutes}/chair-permissions"),
        json!({"recipient_agency": "police"}),
        201,
    )
    .await?;
    println!(
        "  the chair ({}) permits the police to receive the minutes",
        tm.1
    );
    demo.disclose(
        tm,
        &minutes,
        ("police", Some(Role::PoliceOfficer), None),
        "strategy_meeting",
        "consent",
        json!({}),
        &["permit"],
    )
    .await?;

    step(
        "6. The school: the DSL gets the limited summary; a teacher who has not been designated gets nothing.",
    );
    let plan = demo.call(sw.0, sw.1, sw.2, "POST", "/v1/records", json!({"subject_id": child, "kind": "risk_management_plan", "subject_role": "harmful_behaviour", "sections": {
        "summary": "Risk management plan agreed at the strategy meeting.", "risk_management": "No unsupervised time with younger pupils; separate toilets at break.",
        "allegation_details": "Not for school staff.", "family_background": "Not for school staff."}}), 201).await?["id"].as_str().context("id")?.to_owned();
    demo.disclose(
        sw,
        &plan,
        ("school-hillside", Some(Role::Dsl), None),
        "safeguarding",
        "consent",
        json!({}),
        &["permit"],
    )
    .await?;
    demo.disclose(
        sw,
        &plan,
        ("school-hillside", Some(Role::SchoolStaff), Some("t.smith")),
        "safeguarding",
        "consent",
        json!({}),
        &["recipient_role_not_permitted"],
    )
    .await?;

    step("7. The parent withdraws consent; it takes effect at once.");
    demo.call(
        sw.0,
        sw.1,
        sw.2,
        "POST",
        &format!("/v1/subjects/{child}/consents/{consent}/withdraw"),
        json!({}),
        200,
    )
    .await?;
    demo.disclose(
        sw,
        &plan,
        ("school-hillside", Some(Role::HeadTeacher), None),
        "safeguarding",
        "consent",
        json!({}),
        &["consent_not_current"],
    )
    .await?;

    step(
        "7a. Child A goes to stay with his aunt in Southshire. His social worker sends his referral to Southshire's duty team: on crime prevention it is refused, because Southshire serves neither of his areas and that basis opens no exception; on significant harm, with the reason written down, it goes, and waits for the IG officer's review.",
    );
    let southshire = ("csc-south", Some(Role::SocialWorker), None);
    let emergency = "Child A is staying in Southshire from tonight; its duty team must know the safety plan now.";
    demo.disclose(
        sw,
        &referral,
        southshire,
        "safeguarding",
        "crime_prevention",
        json!({"justification": emergency}),
        &["recipient_outside_child_area"],
    )
    .await?;
    demo.disclose(
        sw,
        &referral,
        southshire,
        "safeguarding",
        "significant_harm",
        json!({"justification": emergency}),
        &["permit"],
    )
    .await?;

    step(
        "8. MAPPA: once the forum manages the case, its decisions are the basis; an emergency still goes ahead, and the forum is told at once.",
    );
    demo.call(
        "mappa",
        "coord.byrne",
        Role::MappaCoordinator,
        "PUT",
        &format!("/v1/subjects/{child}/mappa"),
        json!({"active": true, "category": 2, "level": 2}),
        200,
    )
    .await?;
    demo.disclose(
        sw,
        &plan,
        ("probation", Some(Role::ProbationOfficer), None),
        "risk_management",
        "consent",
        json!({}),
        &["consent_not_found", "mappa_forum_decides"],
    )
    .await?;
    let expires = Utc::now()
        .checked_add_months(Months::new(3))
        .context("a date")?;
    let decision = demo.call("mappa", "chair.osei", Role::MappaChair, "POST", "/v1/mappa/decisions", json!({"subject_id": child, "recipient_agency": "probation", "recipient_role": "probation_officer",
        "purposes": ["risk_management"], "sections": ["summary", "risk_management"], "decided_on": today, "expires_at": expires}), 201).await?["id"].as_str().context("id")?.to_owned();
    println!(
        "  MAPPA forum decision {decision} (chaired by chair.osei) releases summary and risk_management to probation"
    );
    demo.disclose(
        sw,
        &plan,
        ("probation", Some(Role::ProbationOfficer), None),
        "risk_management",
        "mappa_decision",
        json!({"mappa_decision_id": decision}),
        &["permit"],
    )
    .await?;
    let coordinator = ("mappa", "coord.byrne", Role::MappaCoordinator);
    let before = demo.inbox(coordinator).await?.len();
    let emergency = demo.disclose(sw, &plan, ("police", Some(Role::PoliceOfficer), None), "safeguarding", "significant_harm",
        json!({"justification": "He has been seen waiting outside the younger child's school; the police must act today."}), &["permit"]).await?;
    if !names(&emergency["obligations"]).contains(&"notify_mappa") {
        bail!("the emergency override under MAPPA does not carry notify_mappa: {emergency}");
    }
    let after = demo.inbox(coordinator).await?;
    let notice = after
        .iter()
        .find(|p| p["view"] == "notification" && p["from_agency"] == "csc")
        .context("the notification in the MAPPA coordinator's inbox")?;
    println!(
        "  the MAPPA coordinator's inbox: {before} → {} packet(s); notification {} from {} on {}",
        after.len(),
        notice["disclosure_id"].as_str().unwrap_or(""),
        notice["from_agency"].as_str().unwrap_or(""),
        notice["basis"].as_str().unwrap_or("")
    );
    let notice_id = notice["disclosure_id"]
        .as_str()
        .context("a notification id")?
        .to_owned();
    demo.packets
        .push(("mappa".into(), "mappa_coordinator".into(), notice_id));

    step("9. What each recipient decrypted with its own age key:");
    let packets = demo.packets.clone();
    for (agency, role, id) in packets {
        let sub = match role.as_str() {
            "social_worker" => "sw.lee",
            "police_officer" => "dc.ahmed",
            "dsl" => "dsl.jones",
            "hsb_practitioner" => "hsb.moss",
            "mappa_coordinator" => "coord.byrne",
            _ => "po.grant",
        };
        let role_enum: Role = role.parse()?;
        let token = demo.token(&agency, sub, role_enum)?;
        let r = demo
            .client(&agency)?
            .get(&format!("/v1/inbox/{id}"), &token)
            .await?;
        if r.status != 200 || r.content_type() != "application/age" {
            bail!("{agency} could not fetch its packet {id}: {}", r.status);
        }
        let identity = crate::crypto::load_age_identity(&demo.world.age_identity(&agency))?;
        let packet: Value =
            serde_json::from_slice(&crate::crypto::decrypt_with(&identity, &r.body)?)?;
        println!(
            "  {agency} {role} ({} bytes armoured) view={} kind={} withheld=[{}]",
            r.body.len(),
            packet["view"].as_str().unwrap_or(""),
            packet["record_kind"].as_str().unwrap_or(""),
            list(&packet["sections_withheld"])
        );
        if let Some(about) = packet.get("notifies") {
            println!(
                "      notifies: disclosure {} to {} on {} ({})",
                about["disclosure_id"].as_str().unwrap_or(""),
                about["to_agency"].as_str().unwrap_or(""),
                about["basis"].as_str().unwrap_or(""),
                list(&about["sections_released"])
            );
        }
        for (section, content) in packet["sections"].as_object().into_iter().flatten() {
            println!(
                "      {section}: {}",
                content
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| content.to_string())
            );
        }
    }

    step("10. The partnership's IG officer reviews the override queue.");
    let queue = demo
        .call(
            "partnership",
            "ig.patel",
            Role::IgOfficer,
            "GET",
            "/v1/audit/reviews",
            json!({}),
            200,
        )
        .await?;
    let waiting = queue["awaiting_review"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!("  {} override(s) awaiting review", waiting.len());
    if waiting.is_empty() {
        bail!("the significant-harm override is not on the review queue");
    }
    for entry in waiting {
        let seq = entry["seq"].as_i64().context("seq")?;
        println!(
            "  #{seq} {} → {} on {}: \"{}\"",
            entry["actor"]["agency"].as_str().unwrap_or(""),
            entry["recipient"]["agency"].as_str().unwrap_or(""),
            entry["basis"].as_str().unwrap_or(""),
            entry["justification"].as_str().unwrap_or("")
        );
        let told = &entry["detail"]["notify_mappa"];
        if !told.is_null() {
            println!(
                "      MAPPA forum {} told: {}",
                told["mappa_agency"].as_str().unwrap_or(""),
                told["notified"]
            );
        }
        demo.call(
            "partnership",
            "ig.patel",
            Role::IgOfficer,
            "POST",
            &format!("/v1/audit/reviews/{seq}"),
            json!({"outcome": "upheld", "note": "Threshold met; proportionate."}),
            201,
        )
        .await?;
        println!("      reviewed: upheld");
    }
    let history = demo
        .call(
            "partnership",
            "ig.patel",
            Role::IgOfficer,
            "GET",
            &format!("/v1/subjects/{child}/history"),
            json!({}),
            200,
        )
        .await?;
    println!(
        "  subject access report for child {child}: {} entries (disclosure decisions and packet reads)",
        history["disclosures"].as_array().map_or(0, Vec::len)
    );
    let verify = demo
        .call(
            "partnership",
            "ig.patel",
            Role::IgOfficer,
            "GET",
            "/v1/audit/verify",
            json!({}),
            200,
        )
        .await?;
    println!(
        "  GET /v1/audit/verify: ok={} entries={}",
        verify["ok"], verify["entries"]
    );
    super::case::play(demo, &child, &younger).await?;
    Ok(())
}
