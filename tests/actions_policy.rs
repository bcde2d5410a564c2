//! Who may act, and on which relation, is `policies/actions.csv`: an IG officer who edits a row
//! changes what the broker allows, with no change to the broker.

mod common;

use broker::vocab::Role;
use common::TestServer;
use common::flows::problem;
use serde_json::json;

/// The shipped `designate_staff` row with its `childs_school` relation replaced by `*`.
fn designate_for_any_child(policies: &std::path::Path) {
    let path = policies.join("actions.csv");
    let text = std::fs::read_to_string(&path).expect("the shipped actions.csv");
    let shipped = "p, designate_staff, school, head_teacher, childs_school, allow";
    assert!(text.contains(shipped), "actions.csv has no row {shipped}");
    let edited = text.replace(
        shipped,
        "p, designate_staff, school, head_teacher, *, allow",
    );
    std::fs::write(&path, edited).expect("writing actions.csv");
}

async fn designate_as_riverside_head(server: &TestServer) -> broker::client::Response {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let head = server.token("school-riverside", "head.okoro", &[Role::HeadTeacher]);
    server
        .client("school-riverside")
        .post(
            &format!("/v1/subjects/{}/staff-designations", pupil.child),
            &head,
            &json!({"staff_sub": "t.smith", "reason": "covers the class"}),
        )
        .await
        .expect("the designation answers")
}

#[tokio::test]
async fn a_relation_required_by_an_actions_row_is_checked_and_an_edited_row_lifts_it() {
    // shipped: the head teacher designates only for a child of their own school
    let server = TestServer::start().await;
    problem(
        &designate_as_riverside_head(&server).await,
        403,
        "not_childs_school",
    );
    // a teacher's role no row allows is refused as a role, whatever the relation
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let teacher = server.token("school-hillside", "t.smith", &[Role::SchoolStaff]);
    let r = server
        .client("school-hillside")
        .post(
            &format!("/v1/subjects/{}/staff-designations", pupil.child),
            &teacher,
            &json!({"staff_sub": "t.jones", "reason": "covers the class"}),
        )
        .await
        .expect("the designation answers");
    problem(&r, 403, "role_not_permitted");
    server.stop().await;

    // the same request once an IG officer has dropped the relation from the row
    let server = TestServer::start_with_policy(designate_for_any_child).await;
    let r = designate_as_riverside_head(&server).await;
    assert_eq!(r.status, 201, "with the edited row: {}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn an_actions_row_with_an_unknown_relation_refuses_the_whole_policy() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let policies = dir.path().join("policies");
    broker::decision::policy::Files::embedded()
        .write_to(&policies)
        .expect("writing the policy");
    let path = policies.join("actions.csv");
    let text = std::fs::read_to_string(&path).expect("actions.csv");
    std::fs::write(
        &path,
        format!("{text}p, designate_staff, school, dsl, childs_mum, allow\n"),
    )
    .expect("writing actions.csv");
    let err = match broker::decision::Policy::load(&policies).await {
        Ok(_) => panic!("a policy with an unknown relation loaded"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("actions.csv") && err.contains("childs_mum"),
        "the refusal names the file and the term: {err}"
    );
}

/// The partnership's IG officer asks for every decision about csc's record.
async fn ig_reads_csc_record_decisions(server: &TestServer) -> broker::client::Response {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let pupil = common::hillside_pupil(&csc, &sw).await;
    let owner = csc
        .get(&format!("/v1/records/{}/disclosures", pupil.record), &sw)
        .await
        .expect("the owner's read answers");
    assert_eq!(owner.status, 200, "the owner reads: {}", owner.text());
    let ig = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    server
        .client("partnership")
        .get(&format!("/v1/records/{}/disclosures", pupil.record), &ig)
        .await
        .expect("the IG officer's read answers")
}

#[tokio::test]
async fn a_records_decisions_are_its_owners_by_an_actions_row_an_ig_officer_can_widen() {
    // shipped: only the owner agency (relation `owner`); anyone else as for an unknown record
    let server = TestServer::start().await;
    problem(
        &ig_reads_csc_record_decisions(&server).await,
        404,
        "not_found",
    );
    server.stop().await;

    let server = TestServer::start_with_policy(|policies| {
        let path = policies.join("actions.csv");
        let text = std::fs::read_to_string(&path).expect("the shipped actions.csv");
        assert!(text.contains("p, read_record_disclosures, *, *, owner, allow"));
        std::fs::write(
            &path,
            format!("{text}p, read_record_disclosures, partnership, ig_officer, *, allow\n"),
        )
        .expect("writing actions.csv");
    })
    .await;
    let r = ig_reads_csc_record_decisions(&server).await;
    assert_eq!(r.status, 200, "with the added row: {}", r.text());
    assert!(r.json()["decisions"].is_array(), "{}", r.text());
    server.stop().await;
}
