//! The audit log (RULES.md 8) over the real API and a real database (SQLite, or PostgreSQL when
//! `BROKER_TEST_DATABASE_URL` is set): one entry per action and never record content; fail
//! closed when the audit write fails; one linear chain under concurrency.

mod common;

use std::collections::BTreeSet;

use broker::client::Response;
use broker::vocab::Role;
use common::TestServer;
use common::audit::{actions, all as audit_all, page as audit_page, seqs};
use common::audited::*;
use common::db::*;
use common::flows::{born_years_ago, created, problem};
use serde_json::{Value, json};

// ---- one entry per action, and no content ----------------------------------------------------

#[tokio::test]
async fn every_action_leaves_exactly_one_audit_entry_naming_the_action() {
    let server = TestServer::start().await;
    let db = server.state.db.clone();
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let hillside = server.client("school-hillside");
    let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
    let mappa = server.client("mappa");
    let coordinator = server.token("mappa", "coord.byrne", &[Role::MappaCoordinator]);
    let mut steps: Vec<&str> = Vec::new();
    let mut last = head(&db).await.0;
    assert_eq!(
        last, 1,
        "a new broker's chain holds one entry: the policy version its start brought into force"
    );
    let started = common::db::stored_row(&db, 1).await;
    assert_eq!(started.action, "policy_in_force");
    assert_eq!(
        started.policy_version.as_deref(),
        Some(server.state.policy().version())
    );

    // After each call the head has risen by exactly one, to the seq the answer reports.
    macro_rules! step {
        ($action:expr, $response:expr) => {{
            let r: Response = $response;
            let now = head(&db).await.0;
            assert_eq!(now, last + 1, "{} left {} entries", $action, now - last);
            if let Some(reported) = r.json()["audit_seq"].as_i64() {
                assert_eq!(reported, now, "{}: {}", $action, r.text());
            }
            last = now;
            steps.push($action);
            r
        }};
    }

    let r = step!(
        "subject.register",
        post(
            &csc,
            "/v1/subjects",
            &sw,
            &json!({"date_of_birth": born_years_ago(10), "school_agency": "school-hillside"})
        )
        .await
    );
    let child = created(&r);
    let r = step!("consent.record", post(&csc, &format!("/v1/subjects/{child}/consents"), &sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]})).await);
    let consent = created(&r);
    let r = step!(
        "record.deposit",
        post(
            &csc,
            "/v1/records",
            &sw,
            &json!({"subject_id": child,
        "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
        "sections": {"summary": "plan summary", "risk_management": "supervised at break",
                     "allegation_details": "not for schools"}})
        )
        .await
    );
    let plan = created(&r);
    let permit = disclosure(&plan, "school-hillside", "dsl", "safeguarding", "consent");
    let r = step!(
        "disclosure",
        post(&csc, "/v1/disclosures", &sw, &permit).await
    );
    let packet = expect(&r, 201, "the permitted disclosure")["disclosure_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut refused = disclosure(
        &plan,
        "school-hillside",
        "school_staff",
        "safeguarding",
        "consent",
    );
    refused["recipient_sub"] = json!("t.smith");
    let r = step!(
        "disclosure",
        post(&csc, "/v1/disclosures", &sw, &refused).await
    );
    expect(&r, 403, "the denied disclosure");
    let r = step!(
        "decision.check",
        post(&csc, "/v1/decisions", &sw, &permit).await
    );
    assert_eq!(expect(&r, 200, "the dry run")["decision"], "permit");
    let r = step!(
        "packet.read",
        get(&hillside, &format!("/v1/inbox/{packet}"), &dsl).await
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = step!(
        "consent.withdraw",
        post(
            &csc,
            &format!("/v1/subjects/{child}/consents/{consent}/withdraw"),
            &sw,
            &json!({})
        )
        .await
    );
    expect(&r, 200, "withdrawing");
    let r = step!(
        "mappa.status",
        put(
            &mappa,
            &format!("/v1/subjects/{child}/mappa"),
            &coordinator,
            &json!({"active": true, "category": 2, "level": 2})
        )
        .await
    );
    expect(&r, 200, "the MAPPA status");

    let partnership = server.client("partnership");
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let page = audit_page(&partnership, &ig, "limit=1000").await;
    let mut entries = page["entries"].as_array().unwrap().clone();
    assert_eq!(seqs(&entries), (1..=last).collect::<Vec<_>>());
    // the start's entry, then one per step
    let started = entries.remove(0);
    assert_eq!(started["action"], "policy_in_force", "{started}");
    assert_eq!(started["actor"]["agency"], "broker", "{started}");
    assert_eq!(actions(&entries), steps);
    assert_eq!(entries[3]["decision"], "permit");
    assert_eq!(entries[4]["decision"], "deny");
    assert_eq!(
        entries[4]["reasons"],
        json!(["recipient_role_not_permitted"])
    );
    assert_eq!(entries[5]["decision"], "permit");
    assert_eq!(entries[6]["actor"]["agency"], "school-hillside");
    assert_eq!(
        entries[6]["packet_sha256"], entries[3]["packet_sha256"],
        "the read names the packet that was stored"
    );

    // The audit query is audited too, and after it is answered.
    assert_eq!(head(&db).await.0, last + 1);
    assert_eq!(page["audit_seq"], last + 1);
    let again = audit_page(&partnership, &ig, &format!("after_seq={last}")).await;
    let query = &again["entries"][0];
    assert_eq!(query["action"], "audit.query", "{again}");
    assert_eq!(query["actor"]["agency"], "partnership");
    server.stop().await;
}

#[tokio::test]
async fn no_audit_entry_or_export_holds_the_content_of_a_record() {
    let case = Case::start().await;
    let markers = [
        "quokka7781summary",
        "quokka7781risk",
        "quokka7781allegation",
        "quokka7781name",
    ];
    let r = post(
        &case.csc,
        "/v1/subjects",
        &case.sw,
        &json!({"date_of_birth": born_years_ago(9), "school_agency": "school-hillside",
                "display_name": markers[3]}),
    )
    .await;
    let child = created(&r);
    let r = post(
        &case.csc,
        &format!("/v1/subjects/{child}/consents"),
        &case.sw,
        &json!({"given_by": "parent", "purposes": ["safeguarding"], "recipient_kinds": ["school"]}),
    )
    .await;
    created(&r);
    let r = post(
        &case.csc,
        "/v1/records",
        &case.sw,
        &json!({"subject_id": child,
        "kind": "risk_management_plan", "subject_role": "harmful_behaviour",
        "sections": {"summary": markers[0], "risk_management": {"note": markers[1]},
                     "allegation_details": markers[2]}}),
    )
    .await;
    let record = created(&r);
    let d = case
        .disclose(
            &disclosure(&record, "school-hillside", "dsl", "safeguarding", "consent"),
            201,
        )
        .await;
    let r = get(
        &case.hillside,
        &format!("/v1/inbox/{}", d["disclosure_id"].as_str().unwrap()),
        &case.dsl,
    )
    .await;
    assert_eq!(r.status, 200);
    // The content did travel: the DSL decrypts the released sections.
    let identity =
        broker::crypto::load_age_identity(&case.server.world.age_identity("school-hillside"))
            .unwrap();
    let packet =
        String::from_utf8(broker::crypto::decrypt_with(&identity, &r.body).unwrap()).unwrap();
    assert!(packet.contains(markers[0]) && packet.contains(markers[1]));

    let r = get(&case.partnership, "/v1/audit/export.csv", &case.ig).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let csv = r.text();
    assert!(csv.contains(&record), "the export names the record by id");
    let listed = audit_all(&case.partnership, &case.ig, "").await;
    let table = format!("{:?}", stored_rows(case.db()).await);
    assert!(table.contains(&record));
    for marker in markers {
        assert!(!csv.contains(marker), "{marker} is in the CSV export");
        assert!(
            !Value::Array(listed.clone()).to_string().contains(marker),
            "{marker} is in GET /v1/audit"
        );
        assert!(
            !table.contains(marker),
            "{marker} is in the audit_log table"
        );
    }
    case.stop().await;
}

// ---- fail closed -----------------------------------------------------------------------------
#[tokio::test]
async fn when_the_audit_write_fails_the_action_does_not_happen_and_the_caller_gets_503() {
    let case = Case::start().await;
    let before = head(case.db()).await;
    break_the_audit_log(case.db()).await;

    let r = post(&case.csc, "/v1/disclosures", &case.sw, &case.permit()).await;
    let refusal = problem(&r, 503, "unavailable");
    assert!(
        !refusal.to_string().contains("disk full"),
        "a 5xx says nothing internal: {refusal}"
    );
    assert_eq!(count(case.db(), "packets").await, 0, "no packet is stored");
    let inbox = get(&case.hillside, "/v1/inbox", &case.dsl).await;
    assert_eq!(expect(&inbox, 200, "the inbox"), json!([]));

    let r = post(
        &case.csc,
        "/v1/records",
        &case.sw,
        &json!({"subject_id": case.child,
        "kind": "referral", "subject_role": "harmful_behaviour",
        "sections": {"summary": "a referral"}}),
    )
    .await;
    problem(&r, 503, "unavailable");
    assert_eq!(
        count(case.db(), "records").await,
        1,
        "only the plan is stored"
    );
    assert_eq!(head(case.db()).await, before, "the head did not move");

    mend_the_audit_log(case.db()).await;
    let d = case.disclose(&case.permit(), 201).await;
    assert_eq!(d["audit_seq"], before.0 + 1);
    let inbox = get(&case.hillside, "/v1/inbox", &case.dsl).await;
    assert_eq!(
        expect(&inbox, 200, "the inbox").as_array().unwrap().len(),
        1
    );
    assert_eq!(case.verify().await["ok"], true);
    case.stop().await;
}

// ---- linear under concurrency ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_disclosures_and_checks_leave_one_gap_free_chain() {
    let case = Case::start().await;
    let pc = case.server.person("police", "pc.khan", Role::PoliceOfficer);
    let park = json!({"summary": "incident at a park"});
    let notification = pc.deposit(&case.child, "police_notification", park).await;
    let before = head(case.db()).await.0;

    let mut tasks = Vec::new();
    for i in 0..40 {
        let (agency, token, path, body, status) = match i % 4 {
            0 => ("csc", &case.sw, "/v1/disclosures", case.permit(), 201),
            1 => ("csc", &case.sw, "/v1/decisions", case.permit(), 200),
            2 => ("csc", &case.sw, "/v1/disclosures", case.deny(), 403),
            _ => (
                "police",
                &pc.token,
                "/v1/disclosures",
                override_to_csc(&notification),
                201,
            ),
        };
        let client = case.server.client(agency);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let r = post(&client, path, &token, &body).await;
            expect(&r, status, path)["audit_seq"]
                .as_i64()
                .expect("an audit_seq")
        }));
    }
    let mut reported = BTreeSet::new();
    for task in tasks {
        assert!(reported.insert(task.await.unwrap()), "an audit_seq twice");
    }
    let last = head(case.db()).await.0;
    assert_eq!(last, before + 40);
    assert_eq!(reported, (before + 1..=last).collect::<BTreeSet<_>>());
    assert_eq!(stored_seqs(case.db()).await, (1..=last).collect::<Vec<_>>());
    let v = case.verify().await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["entries"], last);
    case.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verifying_while_disclosures_are_made_never_reports_a_sound_chain_as_broken() {
    let case = Case::start().await;
    let mut writers = Vec::new();
    for _ in 0..6 {
        let client = case.server.client("csc");
        let token = case.sw.clone();
        let body = case.permit();
        writers.push(tokio::spawn(async move {
            for _ in 0..60 {
                let r = post(&client, "/v1/disclosures", &token, &body).await;
                expect(&r, 201, "a disclosure");
            }
        }));
    }
    let mut alarms = Vec::new();
    let mut checks = 0;
    while writers.iter().any(|w| !w.is_finished()) || checks < 40 {
        let api = case.verify().await;
        if api["ok"] != true {
            alarms.push(format!("GET /v1/audit/verify: {api}"));
        }
        let direct = broker::audit::verify(case.db()).await.unwrap();
        if !direct.ok {
            alarms.push(format!(
                "broker::audit::verify (as the command): {direct:?}"
            ));
        }
        checks += 1;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(
        alarms.is_empty(),
        "{} false alarms in {checks} rounds of verification (API and direct) during appends:\n{}",
        alarms.len(),
        alarms.join("\n")
    );
    assert_eq!(case.verify().await["ok"], true);
    case.stop().await;
}
