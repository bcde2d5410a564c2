//! Evidence an outsider can check (issue 24), end to end over mTLS against SQLite or
//! PostgreSQL: IG officers of any agency fetch the broker's signed checkpoint and its verifier
//! key (as witnesses do); inclusion and consistency proofs from the API verify with the broker's
//! own checks, `broker audit witness` and the shipped offline script; an export verifies
//! offline against a checkpoint; and a log cut short, or cut and written on again with a
//! consistent chain, passes `broker audit verify` on the chain alone but fails
//! `broker audit verify --checkpoint`, the export check and the script.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use broker::audit::Verifier;
use broker::vocab::Role;
use common::TestServer;
use common::flows::head_seq;
use common::processes::says;
use common::world::Person;
use serde_json::Value;

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

/// `broker <args>`.
fn broker(args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_broker")).args(args))
}

/// `python3 tools/audit_verify.py <args>`; fails plainly if Python is not there.
fn script(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new("python3")
        .arg(root.join("tools/audit_verify.py"))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is needed for the offline verifier (and pip's `cryptography`): {e}")
        })
}

fn holds(out: Output, what: &str) {
    assert!(out.status.success(), "{what} should hold: {}", says(&out));
}

fn fails(out: Output, what: &str, mentions: &str) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what} should fail: {}",
        says(&out)
    );
    let text = says(&out);
    assert!(
        text.contains(mentions),
        "{what} should say {mentions:?}: {text}"
    );
}

struct Evidence {
    dir: PathBuf,
    key: PathBuf,
    config: String,
}

impl Evidence {
    /// `broker audit verify` on the database: the chain alone, or against `checkpoint`.
    fn verify(&self, checkpoint: Option<&str>) -> Output {
        let mut args = vec!["audit", "verify", "--config", &self.config];
        args.extend(
            checkpoint
                .map(|c| ["--checkpoint", c])
                .into_iter()
                .flatten(),
        );
        broker(&args)
    }

    /// `broker audit verify --export` against `checkpoint`, offline.
    fn verify_export(&self, export: &str, checkpoint: &str) -> Output {
        let key = self.key.display().to_string();
        broker(&[
            "audit",
            "verify",
            "--key",
            &key,
            "--export",
            export,
            "--checkpoint",
            checkpoint,
        ])
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("writing a file");
        path.display().to_string()
    }

    fn export(&self, name: &str) -> String {
        let path = self.dir.join(name).display().to_string();
        holds(
            broker(&[
                "audit",
                "export",
                "--jsonl",
                "--config",
                &self.config,
                "--out",
                &path,
            ]),
            "the export",
        );
        path
    }
}

async fn text(ig: &Person, path: &str) -> String {
    let r = ig.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.text()
}

/// `POST /v1/audit/checkpoint/verify` with `note`, as the console's form asks it.
async fn check_through_api(ig: &Person, note: &str) -> broker::client::Response {
    ig.post(
        "/v1/audit/checkpoint/verify",
        &serde_json::json!({"checkpoint": note}),
    )
    .await
}

async fn json(ig: &Person, path: &str) -> Value {
    let r = ig.get(path).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

/// Registers `n` children as csc's social worker: `n` audit entries.
async fn activity(server: &TestServer, n: usize) {
    let sw = server.person("csc", "sw.okafor", Role::SocialWorker);
    for _ in 0..n {
        sw.register(12, Some("school-hillside")).await;
    }
}

fn start_evidence(server: &TestServer, vkey: &str) -> Evidence {
    let dir = server.dir.path().join("evidence");
    std::fs::create_dir_all(&dir).expect("a directory");
    let key = dir.join("broker.vkey");
    std::fs::write(&key, vkey).expect("writing the key");
    Evidence {
        dir,
        key,
        config: server.world.config.display().to_string(),
    }
}

#[tokio::test]
async fn checkpoints_and_proofs_verify_through_the_api_the_cli_and_offline() {
    let server = TestServer::start().await;
    let ig = common::audit::partnership_ig(&server);
    activity(&server, 3).await;

    let vkey = text(&ig, "/v1/audit/log-key").await;
    let verifier = Verifier::parse(vkey.trim()).expect("a verifier key");
    let note1 = text(&ig, "/v1/audit/checkpoint").await;
    let cp1 = verifier.open(&note1).expect("the checkpoint verifies");
    let head = head_seq(&server).await;
    assert_eq!(cp1.size as i64, head, "the checkpoint covers the whole log");
    assert_eq!(
        text(&ig, "/v1/audit/checkpoint").await,
        note1,
        "the same tree, the same note"
    );
    assert_eq!(
        head_seq(&server).await,
        head,
        "fetching a checkpoint is not audited"
    );

    activity(&server, 4).await;
    let note2 = text(&ig, "/v1/audit/checkpoint").await;
    let cp2 = verifier.open(&note2).expect("the checkpoint verifies");
    assert!(cp2.size >= cp1.size + 4, "{} then {}", cp1.size, cp2.size);

    // a witness: the newer checkpoint extends the older
    let proof = json(
        &ig,
        &format!(
            "/v1/audit/proof/consistency?from={}&to={}",
            cp1.size, cp2.size
        ),
    )
    .await;
    let typed: broker::audit::ConsistencyProof =
        serde_json::from_value(proof.clone()).expect("a consistency proof");
    broker::audit::verify_witness((cp1.size, &cp1.root), (cp2.size, &cp2.root), &typed)
        .expect("the newer checkpoint extends the older");

    let e = start_evidence(&server, &vkey);
    let (old, new) = (
        e.file("old.checkpoint", &note1),
        e.file("new.checkpoint", &note2),
    );
    let proof_file = e.file("consistency.json", &proof.to_string());
    let key = e.key.display().to_string();
    holds(
        broker(&[
            "audit",
            "witness",
            "--key",
            &key,
            "--checkpoint",
            &old,
            "--checkpoint",
            &new,
            "--proof",
            &proof_file,
        ]),
        "broker audit witness",
    );
    holds(
        script(&["--key", &key, "consistency", &old, &new, &proof_file]),
        "the script's witness check",
    );
    fails(
        broker(&[
            "audit",
            "witness",
            "--key",
            &key,
            "--checkpoint",
            &new,
            "--checkpoint",
            &old,
            "--proof",
            &proof_file,
        ]),
        "the checkpoints swapped",
        "from",
    );

    // an inclusion proof of an early entry in the newer tree
    let inclusion = json(
        &ig,
        &format!("/v1/audit/proof/inclusion?seq=2&size={}", cp2.size),
    )
    .await;
    assert_eq!(inclusion["leaf_index"], 1);
    let inclusion_file = e.file("inclusion.json", &inclusion.to_string());
    let export = e.export("audit.jsonl");
    holds(
        script(&[
            "--key",
            &key,
            "inclusion",
            &new,
            &inclusion_file,
            "--export",
            &export,
        ]),
        "the script's inclusion check",
    );
    // the export verifies offline against both checkpoints, in Python and in the broker
    holds(
        script(&["--key", &key, "export", &export, &old]),
        "the export against the older",
    );
    holds(
        script(&["--key", &key, "export", &export, &new]),
        "the export against the newer",
    );
    holds(
        e.verify_export(&export, &old),
        "broker audit verify --export",
    );
    // and the database still extends the older one
    holds(e.verify(Some(&old)), "broker audit verify --checkpoint");

    // the same check through the API, as the console's form asks it
    let r = check_through_api(&ig, &note1).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    let forged = note1.replacen(
        &format!("\n{}\n", cp1.size),
        &format!("\n{}\n", cp1.size + 1),
        1,
    );
    let r = check_through_api(&ig, &forged).await;
    common::flows::problem(&r, 422, "invalid_checkpoint");

    // a proof past the tree, or of nothing, is a clear 400
    for bad in [
        format!("/v1/audit/proof/inclusion?seq=1&size={}", cp2.size + 1000),
        "/v1/audit/proof/inclusion?seq=0&size=1".to_owned(),
        format!(
            "/v1/audit/proof/consistency?from={}&to={}",
            cp2.size, cp1.size
        ),
    ] {
        let r = ig.get(&bad).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    server.stop().await;
}

#[tokio::test]
async fn every_agency_ig_officer_is_a_witness_and_sees_proofs_only_of_its_own_entries() {
    let server = TestServer::start().await;
    // after what the start recorded (the policy version in force), csc's first registration
    let first = head_seq(&server).await + 1;
    activity(&server, 2).await;
    let police_ig = server.person("police", "ig.jones", Role::IgOfficer);
    let note = text(&police_ig, "/v1/audit/checkpoint").await;
    let vkey = text(&police_ig, "/v1/audit/log-key").await;
    let cp = Verifier::parse(vkey.trim())
        .expect("a key")
        .open(&note)
        .expect("a checkpoint");
    // that entry is csc's: not police's to see
    let r = police_ig
        .get(&format!(
            "/v1/audit/proof/inclusion?seq={first}&size={}",
            cp.size
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let csc_ig = server.person("csc", "ig.khan", Role::IgOfficer);
    json(
        &csc_ig,
        &format!("/v1/audit/proof/inclusion?seq={first}&size={}", cp.size),
    )
    .await;
    json(
        &police_ig,
        &format!("/v1/audit/proof/consistency?from=1&to={}", cp.size),
    )
    .await;
    let sw = server.person("csc", "sw.okafor", Role::SocialWorker);
    let r = sw.get("/v1/audit/checkpoint").await;
    assert!(
        r.status == 403 || r.status == 404,
        "a social worker is not a witness: {} {}",
        r.status,
        r.text()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_log_cut_short_or_rewritten_is_caught_against_an_earlier_checkpoint_not_by_the_chain() {
    let server = TestServer::start().await;
    let ig = common::audit::partnership_ig(&server);
    activity(&server, 6).await;
    let vkey = text(&ig, "/v1/audit/log-key").await;
    let note = text(&ig, "/v1/audit/checkpoint").await;
    let e = start_evidence(&server, &vkey);
    let saved = e.file("saved.checkpoint", &note);
    let key = e.key.display().to_string();
    let size = Verifier::parse(vkey.trim())
        .expect("a key")
        .open(&note)
        .expect("a checkpoint")
        .size as i64;

    // cut the log short, moving the head back with it
    common::tree::truncate(&server.state.db, size - 3).await;
    holds(e.verify(None), "the chain alone");
    fails(
        e.verify(Some(&saved)),
        "verify against the saved checkpoint",
        "cut short",
    );
    let r = check_through_api(&ig, &note).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], false, "{}", r.text());
    assert_eq!(r.json()["first_bad_seq"], size - 2, "{}", r.text());
    let export = e.export("cut.jsonl");
    fails(
        script(&["--key", &key, "export", &export, &saved]),
        "the script",
        "truncated",
    );
    fails(
        e.verify_export(&export, &saved),
        "broker audit verify --export",
        "cut short",
    );

    // the log written on from there: a consistent chain and tree, past the checkpoint's size
    activity(&server, 5).await;
    holds(e.verify(None), "the chain alone");
    fails(
        e.verify(Some(&saved)),
        "verify against the saved checkpoint",
        "rewritten",
    );
    let export = e.export("rewritten.jsonl");
    fails(
        script(&["--key", &key, "export", &export, &saved]),
        "the script",
        "",
    );
    // and a witness holding the saved checkpoint refuses the new one
    let newer = text(&ig, "/v1/audit/checkpoint").await;
    let newer_size = Verifier::parse(vkey.trim())
        .expect("a key")
        .open(&newer)
        .expect("a checkpoint")
        .size;
    let proof = json(
        &ig,
        &format!("/v1/audit/proof/consistency?from={size}&to={newer_size}"),
    )
    .await;
    let proof_file = e.file("consistency.json", &proof.to_string());
    let newer_file = e.file("newer.checkpoint", &newer);
    fails(
        broker(&[
            "audit",
            "witness",
            "--key",
            &key,
            "--checkpoint",
            &saved,
            "--checkpoint",
            &newer_file,
            "--proof",
            &proof_file,
        ]),
        "the witness",
        "rewritten",
    );
    server.stop().await;
}
