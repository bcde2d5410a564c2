//! The offline verifier (`tools/audit_verify.py`) against what the broker writes, on SQLite or
//! PostgreSQL (`BROKER_TEST_DATABASE_URL`): its own unittest suite; a checkpoint signed with
//! the broker's `LogKey` over a root computed here (RFC 9162's tree, by its definition) from
//! the lines `broker audit export --jsonl` wrote (and equal to the broker's stored tree's),
//! accepted as it is and refused tampered, so the Rust and Python sides agree on the note, the
//! key, the export and the tree; a log long enough to
//! be exported in several pages; and a row stored in a non-canonical form, which the export
//! still writes and the verifier refuses.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use broker::audit::{self, Entry, GENESIS, LogKey, Verifier};
use broker::crypto::{LogSigningKey, generate_log_key};
use common::db::{TestDb, exec, head};
use common::{World, audit_head};
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `python3`, checked to import `cryptography`, in the repository.
fn python() -> Command {
    let mut command =
        common::processes::python_with("cryptography", "cryptography", "tools/audit_verify.py");
    command.current_dir(repo());
    command
}

/// `tools/audit_verify.py --key <vkey> ARGS`: its exit code and what it wrote to stderr
/// (stdout appended).
fn offline(vkey: &Path, args: &[&Path]) -> (i32, String) {
    let out = python()
        .arg(repo().join("tools/audit_verify.py"))
        .arg("--key")
        .arg(vkey)
        .args(args)
        .output()
        .expect("running tools/audit_verify.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `broker ARGS` as a process; fails the test unless it succeeds. Its stdout and stderr.
fn broker(args: &[&str], config: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_broker"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("BROKER_DATABASE_URL")
        .output()
        .expect("running broker");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "broker {args:?}: {stderr}");
    (stdout, stderr)
}

/// The chain recomputed over an export's lines: each entry's `sha256:<hex>` hash.
fn chain(export: &[u8]) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    let mut hashes = Vec::new();
    for line in export.split_inclusive(|&b| b == b'\n') {
        let line = line
            .strip_suffix(b"\n")
            .expect("every line ends in a newline");
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(line);
        prev = format!("sha256:{}", hex::encode(h.finalize()));
        hashes.push(prev.clone());
    }
    hashes
}

/// RFC 9162 leaves: SHA-256(0x00 || the 32 bytes of each entry's hash).
fn leaves(export: &[u8]) -> Vec<[u8; 32]> {
    chain(export)
        .iter()
        .map(|h| {
            let digest = hex::decode(&h["sha256:".len()..]).unwrap();
            Sha256::new()
                .chain_update([0u8])
                .chain_update(digest)
                .finalize()
                .into()
        })
        .collect()
}

/// RFC 9162's MTH, by its definition: split at the largest power of two below n.
fn mth(d: &[[u8; 32]]) -> [u8; 32] {
    match d.len() {
        0 => Sha256::digest(b"").into(),
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            Sha256::new()
                .chain_update([1u8])
                .chain_update(mth(&d[..k]))
                .chain_update(mth(&d[k..]))
                .finalize()
                .into()
        }
    }
}

/// Files of one check, in a temp dir.
struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().expect("a temp dir"))
    }

    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, content).expect("writing a file");
        path
    }
}

/// A checkpoint of `key` over the first `size` lines of `export`, signed.
fn signed(key: &LogKey, export: &[u8], size: usize) -> String {
    key.sign(&key.checkpoint(size as u64, mth(&leaves(export)[..size])))
}

#[test]
fn the_offline_verifiers_own_suite_passes() {
    let out = python()
        .args(["-m", "unittest", "-v", "tools/test_audit_verify.py"])
        .output()
        .expect("running python3 -m unittest");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("\nOK"), "{report}");
}

#[tokio::test]
async fn a_checkpoint_the_broker_signs_over_its_own_export_verifies_offline_and_tampered_does_not()
{
    let w = World::start().await;
    let permit = w.disclose(&w.to_dsl()).await;
    assert_eq!(permit.status, 201, "{}", permit.json());
    let state = &w.server.state;
    let config = &w.server.world.config;
    let files = Files::new();
    let out = files.0.path().join("audit.jsonl");

    let (_, said) = broker(
        &["audit", "export", "--jsonl", "--out", out.to_str().unwrap()],
        config,
    );
    let (entries, head_hash) = head(&state.db).await;
    assert_eq!(entries, audit_head(&w.server).await);
    assert!(
        said.contains(&format!("exported {entries} audit entries")),
        "{said}"
    );
    assert!(
        !files.0.path().join("audit.jsonl.partial").exists(),
        "the partial file is renamed into place"
    );
    let export = std::fs::read(&out).unwrap();
    let hashes = chain(&export);
    assert_eq!(hashes.len() as i64, entries);
    assert_eq!(
        hashes.last(),
        Some(&head_hash),
        "the lines are what the chain hashed"
    );

    // the root computed here is the broker's own tree's, and its Rust check agrees
    let root = mth(&leaves(&export));
    assert_eq!(
        audit::root_at(&state.db, entries as u64).await.unwrap(),
        root
    );
    let verdict = audit::verify_export(&export[..], entries as u64, &root).unwrap();
    assert!(verdict.ok, "{verdict:?}");

    let (vkey_text, _) = broker(&["audit", "log-key"], config);
    assert_eq!(vkey_text.trim(), state.log_key.verifier().vkey());
    let vkey = files.write("log.vkey", &vkey_text);
    let n = entries as usize;
    let note = signed(&state.log_key, &export, n);
    let verifier = Verifier::parse(&vkey_text).unwrap();
    assert_eq!(verifier.open(&note).map(|c| c.size), Ok(entries as u64));

    let checkpoint = files.write("checkpoint", &note);
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &checkpoint]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains(&format!("entries: {entries}\n")), "{said}");
    let earlier = files.write("earlier", signed(&state.log_key, &export, n - 2));
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &earlier]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("2 after the checkpoint"), "{said}");

    let bigger = files.write(
        "bigger",
        note.replacen(&format!("\n{n}\n"), &format!("\n{}\n", n + 1), 1),
    );
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &bigger]);
    assert_eq!(
        (code, said.contains("does not verify")),
        (1, true),
        "{said}"
    );

    let text = String::from_utf8(export.clone()).unwrap();
    let second = text.split_inclusive('\n').nth(1).unwrap();
    let altered = files.write(
        "altered.jsonl",
        text.replacen(second, &second.replacen("\"csc\"", "\"cse\"", 1), 1),
    );
    assert_ne!(std::fs::read(&altered).unwrap(), export);
    let (code, said) = offline(&vkey, &[Path::new("export"), &altered, &checkpoint]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("not the log the checkpoint signed"), "{said}");

    let cut = files.write(
        "cut.jsonl",
        &export[..export.len() - 1 - text.lines().last().unwrap().len()],
    );
    let (code, said) = offline(&vkey, &[Path::new("export"), &cut, &checkpoint]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("truncated"), "{said}");

    let other = LogKey::new(
        LogSigningKey::from_pem(generate_log_key().unwrap().as_bytes()).unwrap(),
        state.log_key.name(),
    )
    .unwrap();
    let forged = files.write("forged", signed(&other, &export, n));
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &forged]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("no signature by"), "{said}");
    w.stop().await;
}

/// An entry of a synthetic log (its seq is set when it is chained).
fn entry(i: u64) -> Entry {
    Entry {
        at: format!("2026-11-22T10:{:02}:{:02}.000000Z", (i / 60) % 60, i % 60),
        actor_agency: "csc".into(),
        actor_sub: format!("sw.{}", i % 17),
        actor_roles: vec!["social_worker".into()],
        action: "disclosure".into(),
        record_ids: vec![format!("r{i}")],
        justification: i.is_multiple_of(5).then(|| "a \"quoted\"\nreason".into()),
        detail: serde_json::json!({"n": i, "view": "full"}),
        ..Entry::default()
    }
}

/// A fresh log key (as dev-init makes one) named for the tests' log.
fn log_key() -> LogKey {
    let pem = generate_log_key().unwrap();
    LogKey::new(
        LogSigningKey::from_pem(pem.as_bytes()).unwrap(),
        "broker.test/audit",
    )
    .unwrap()
}

#[tokio::test]
async fn a_long_log_is_exported_page_by_page_exactly_as_the_chain_hashed_it() {
    const N: u64 = 25_000;
    let t = TestDb::migrated().await;
    audit::append_entries(&t.db, (1..=N).map(entry))
        .await
        .expect("appending");
    let mut export = Vec::new();
    let done = audit::export_jsonl(&t.db, &mut export).await.unwrap();
    assert_eq!((done.entries, done.last_seq), (N, N as i64));
    let hashes = chain(&export);
    assert_eq!(hashes.len() as u64, N);
    assert_eq!(hashes.last(), Some(&head(&t.db).await.1));

    assert_eq!(
        audit::root_at(&t.db, N).await.unwrap(),
        mth(&leaves(&export))
    );

    let key = log_key();
    let files = Files::new();
    let vkey = files.write("log.vkey", key.verifier().vkey());
    let out = files.write("audit.jsonl", &export);
    let checkpoint = files.write("checkpoint", signed(&key, &export, N as usize));
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &checkpoint]);
    assert_eq!(code, 0, "{said}");
    t.close().await;
}

#[tokio::test]
async fn a_row_stored_out_of_canonical_form_is_still_exported_and_refused_offline_if_its_value_changed()
 {
    let t = TestDb::migrated().await;
    audit::append_entries(&t.db, (1..=30).map(entry))
        .await
        .expect("appending");
    let mut before = Vec::new();
    audit::export_jsonl(&t.db, &mut before).await.unwrap();
    let key = log_key();
    let files = Files::new();
    let vkey = files.write("log.vkey", key.verifier().vkey());
    let checkpoint = files.write("checkpoint", signed(&key, &before, 30));
    let export_now = |name: &'static str| {
        let db = t.db.clone();
        let files = &files;
        async move {
            let mut after = Vec::new();
            let done = audit::export_jsonl(&db, &mut after).await.unwrap();
            assert_eq!(done.entries, 30, "{name}: the export is whole");
            (files.write(name, &after), after)
        }
    };

    // the same value written with spaces: not what the broker writes, so `audit verify` names
    // the row; its best JSON is the line the chain hashed, so the export still holds what the
    // checkpoint vouches for
    exec(
        &t.db,
        "UPDATE audit_log SET detail = '{\"n\": 7, \"view\": \"full\"}' WHERE seq = 7",
    )
    .await;
    assert_eq!(audit::verify(&t.db).await.unwrap().first_bad_seq, Some(7));
    let (out, after) = export_now("spaced.jsonl").await;
    assert!(
        after == before,
        "the value is unchanged, and so is its line"
    );
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &checkpoint]);
    assert_eq!(code, 0, "{said}");

    // a changed value, written out of the canonical form too (a key twice: serde_json keeps
    // the last): exported as its best JSON, and refused offline
    exec(
        &t.db,
        "UPDATE audit_log SET detail = '{\"n\":7,\"n\":8, \"view\":\"full\"}' WHERE seq = 7",
    )
    .await;
    let (out, after) = export_now("changed.jsonl").await;
    let line7 = after.split(|&b| b == b'\n').nth(6).unwrap();
    let value: serde_json::Value = serde_json::from_slice(line7).expect("line 7 is JSON");
    assert_eq!(value["seq"], 7);
    assert_eq!(value["detail"], serde_json::json!({"n": 8, "view": "full"}));
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &checkpoint]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("not the log the checkpoint signed"), "{said}");

    // a column that is not JSON at all: a JSON string of its text
    exec(
        &t.db,
        "UPDATE audit_log SET reasons = 'not json' WHERE seq = 9",
    )
    .await;
    let (out, after) = export_now("broken.jsonl").await;
    let line9 = after.split(|&b| b == b'\n').nth(8).unwrap();
    let value: serde_json::Value = serde_json::from_slice(line9).expect("line 9 is JSON");
    assert_eq!(value["reasons"], "not json");
    let (code, said) = offline(&vkey, &[Path::new("export"), &out, &checkpoint]);
    assert_eq!(code, 1, "{said}");
    t.close().await;
}
