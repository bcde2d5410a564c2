//! A packet is standard `age`: the recipient agency opens it with the `age` command-line tool
//! and its own identity file (API.md, Packets), and another agency's identity does not open it.
//! The `age` binary is a test dependency (Debian package `age`); without it these tests fail.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use broker::vocab::Role;
use common::World;
use common::flows::permitted;
use serde_json::json;

/// A Hillside pupil's risk plan disclosed by a social worker to Hillside's DSL; the armoured
/// packet as the DSL fetched it is written to `dir`. Returns (the world, disclosure, file).
async fn packet_for_hillside_dsl(dir: &Path) -> (World, String, std::path::PathBuf) {
    let w = World::with_plan(json!({"summary": "plan summary",
                                    "risk_management": {"supervision": "at break"},
                                    "allegation_details": "secret detail"}))
    .await;
    let r = w.disclose(&w.to_dsl()).await;
    let released = ["summary", "risk_management"];
    let disclosure = permitted(
        &r,
        "limited_summary",
        &released,
        &["allegation_details"],
        &[],
    );
    let dsl = w.server.person("school-hillside", "dsl.jones", Role::Dsl);
    let r = dsl.get(&format!("/v1/inbox/{disclosure}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type(), "application/age");
    let file = dir.join(format!("{disclosure}.age"));
    std::fs::write(&file, &r.body).expect("writing the packet");
    (w, disclosure, file)
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
    let scratch = tempfile::tempdir().unwrap();
    let (w, disclosure, file) = packet_for_hillside_dsl(scratch.path()).await;
    let server = &w.server;

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
    assert_eq!(packet["from_agency"], "csc");
    assert_eq!(packet["record_id"], w.record.as_str());
    assert_eq!(packet["subject_id"], w.child.as_str());
    assert_eq!(packet["basis"], "consent");
    assert_eq!(
        packet["sections"],
        json!({"summary": "plan summary", "risk_management": {"supervision": "at break"}})
    );
    assert_eq!(packet["sections_withheld"], json!(["allegation_details"]));
    w.stop().await;
}

#[tokio::test]
async fn another_agencys_age_identity_cannot_decrypt_the_packet() {
    let scratch = tempfile::tempdir().unwrap();
    let (w, _, file) = packet_for_hillside_dsl(scratch.path()).await;
    let server = &w.server;

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
    w.stop().await;
}

/// An agency's `age_recipient` is read at start, and a packet is encrypted when it is made: a
/// new recipient in broker.toml (and a restart) applies to the packets made from then on, and
/// the packets made before stay encrypted to the key they were made for.
#[tokio::test]
async fn a_changed_age_recipient_applies_to_new_packets_and_earlier_ones_keep_the_old_key() {
    let scratch = tempfile::tempdir().unwrap();
    let (w, _, before) = packet_for_hillside_dsl(scratch.path()).await;
    let (identity_text, recipient) = broker::crypto::generate_age_identity();
    let new_identity = scratch.path().join("hillside-2027.age");
    std::fs::write(&new_identity, identity_text).unwrap();
    let old_identity = w.server.world.age_identity("school-hillside");
    let World {
        server, sw, record, ..
    } = w;
    let server = server
        .restart_with(|toml| {
            common::idp::edit_agency(toml, "school-hillside", |entry| {
                let line = entry
                    .lines()
                    .find(|l| l.starts_with("age_recipient = "))
                    .expect("hillside's age_recipient");
                entry.replacen(line, &format!("age_recipient = \"{recipient}\""), 1)
            })
        })
        .await;
    let ask = common::flows::ask(&[&record], "school-hillside/dsl", "safeguarding", "consent");
    let r = common::flows::disclose(&server.client("csc"), &sw, &ask).await;
    let disclosure = permitted(
        &r,
        "limited_summary",
        &["summary", "risk_management"],
        &["allegation_details"],
        &[],
    );
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let r = dsl.get(&format!("/v1/inbox/{disclosure}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let after = scratch.path().join("after.age");
    std::fs::write(&after, &r.body).unwrap();

    for (file, opens, not) in [
        (&after, &new_identity, &old_identity),
        (&before, &old_identity, &new_identity),
    ] {
        let out = age_decrypt(opens, file);
        assert!(
            out.status.success(),
            "{} opens {}: {}",
            opens.display(),
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("plan summary"));
        assert!(
            !age_decrypt(not, file).status.success(),
            "{} must not open {}",
            not.display(),
            file.display()
        );
    }
    server.stop().await;
}
