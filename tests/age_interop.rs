//! A packet is standard `age`: the recipient agency opens it with the `age` command-line tool
//! and its own identity file (API.md, Packets), and another agency's identity does not open it.
//! The `age` binary is a test dependency (Debian package `age`); without it these tests fail.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::TestServer;
use flows::*;
use serde_json::json;

mod flows {
    use std::path::Path;

    use broker::vocab::Role;
    use chrono::{Days, Months, Utc};
    use serde_json::json;

    use super::common::TestServer;

    pub fn born_years_ago(years: u32) -> String {
        let today = broker::decision::facts::london_date(Utc::now());
        (today - Months::new(years * 12) - Days::new(60)).to_string()
    }

    /// A Hillside pupil's risk plan disclosed by a social worker to Hillside's DSL; the
    /// armoured packet as the DSL fetched it is written to `dir`. Returns (disclosure, file).
    pub async fn packet_for_hillside_dsl(
        server: &TestServer,
        dir: &Path,
    ) -> (String, std::path::PathBuf) {
        let csc = server.client("csc");
        let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
        let r = csc
            .post(
                "/v1/subjects",
                &sw,
                &json!({"date_of_birth": born_years_ago(10), "school_agency": "school-hillside"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let child = r.json()["id"].as_str().unwrap().to_owned();
        let r = csc
            .post(
                "/v1/records",
                &sw,
                &json!({"subject_id": child, "kind": "risk_management_plan",
                        "subject_role": "harmful_behaviour",
                        "sections": {"summary": "plan summary",
                                     "risk_management": {"supervision": "at break"},
                                     "allegation_details": "secret detail"}}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let record = r.json()["id"].as_str().unwrap().to_owned();
        let r = csc
            .post(
                &format!("/v1/subjects/{child}/consents"),
                &sw,
                &json!({"given_by": "parent", "purposes": ["safeguarding"],
                        "recipient_kinds": ["school"]}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let r = csc
            .post(
                "/v1/disclosures",
                &sw,
                &json!({"record_ids": [record], "recipient_agency": "school-hillside",
                        "recipient_role": "dsl", "purpose": "safeguarding", "basis": "consent"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let disclosure = r.json()["disclosure_id"].as_str().unwrap().to_owned();
        let dsl = server.token("school-hillside", "dsl.jones", &[Role::Dsl]);
        let r = server
            .client("school-hillside")
            .get(&format!("/v1/inbox/{disclosure}"), &dsl)
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.content_type(), "application/age");
        let file = dir.join(format!("{disclosure}.age"));
        std::fs::write(&file, &r.body).expect("writing the packet");
        (disclosure, file)
    }
}

/// Runs `age -d -i identity file`; a missing `age` binary fails the test with how to get it.
fn age_decrypt(identity: &Path, file: &Path) -> Output {
    match Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(identity)
        .arg(file)
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!(
            "could not run the `age` command-line tool ({e}); it is a test dependency: \
             install it with `apt-get install -y age`"
        ),
    }
}

#[tokio::test]
async fn the_recipient_decrypts_its_packet_with_the_standard_age_tool() {
    let server = TestServer::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let (disclosure, file) = packet_for_hillside_dsl(&server, scratch.path()).await;

    let out = age_decrypt(&server.world.age_identity("school-hillside"), &file);
    assert!(
        out.status.success(),
        "age -d failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let packet: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the plaintext is JSON");
    assert_eq!(packet["disclosure_id"], disclosure.as_str());
    assert_eq!(packet["to_agency"], "school-hillside");
    assert_eq!(packet["to_role"], "dsl");
    assert_eq!(packet["view"], "limited_summary");
    assert_eq!(
        packet["sections"],
        json!({"summary": "plan summary", "risk_management": {"supervision": "at break"}})
    );
    assert_eq!(packet["sections_withheld"], json!(["allegation_details"]));
    server.stop().await;
}

#[tokio::test]
async fn another_agencys_age_identity_cannot_decrypt_the_packet() {
    let server = TestServer::start().await;
    let scratch = tempfile::tempdir().unwrap();
    let (_, file) = packet_for_hillside_dsl(&server, scratch.path()).await;

    for other in ["police", "school-riverside", "csc"] {
        let out = age_decrypt(&server.world.age_identity(other), &file);
        assert!(
            !out.status.success(),
            "{other}'s identity opened a packet for school-hillside"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("plan summary"),
            "{other}'s identity revealed the content"
        );
        assert!(
            !out.stderr.is_empty(),
            "age says why it could not decrypt for {other}"
        );
    }
    // The same file still opens with the right identity, so the refusals above are the keys'.
    let out = age_decrypt(&server.world.age_identity("school-hillside"), &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
}
