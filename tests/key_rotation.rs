//! The at-rest key rotates (issue 25): `broker keys rotate-at-rest` adds a new key, re-encrypts
//! every stored ciphertext to it in batches and retires the old one, while the broker keeps
//! serving. Killed part-way (`kill -9`), it leaves a key file of two identities and content
//! under either key, all of it readable; run again, it resumes and finishes. On SQLite and,
//! with BROKER_TEST_DATABASE_URL, on PostgreSQL.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker::crypto::KeyFile;
use broker::db::Db;
use broker::rotation::TABLES;
use broker::vocab::Role;
use common::TestServer;
use common::processes::broker_command;
use common::world::{Pupil, hillside_pupil_with};
use serde_json::{Value, json};

const PUPILS: usize = 24;

fn rotate(config: &Path, extra: &[&str]) -> Command {
    let mut args = vec!["keys", "rotate-at-rest"];
    args.extend_from_slice(extra);
    broker_command(config, &args)
}

/// Every stored ciphertext as (table, column, bytes).
async fn ciphertexts(db: &Db) -> Vec<(String, String, Vec<u8>)> {
    let mut all = Vec::new();
    for table in TABLES {
        for column in table.columns {
            let sql = format!(
                "SELECT {column} FROM {} WHERE {column} IS NOT NULL",
                table.name
            );
            let cells: Vec<Vec<u8>> =
                broker::with_db!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await)
                .expect("reading ciphertexts");
            all.extend(
                cells
                    .into_iter()
                    .map(|c| (table.name.to_owned(), column.to_string(), c)),
            );
        }
    }
    all
}

/// How many ciphertexts `key` alone opens, of how many.
async fn opened_by(db: &Db, key: &age::x25519::Identity) -> (usize, usize) {
    let only = KeyFile::of(vec![key.clone()]).unwrap();
    let all = ciphertexts(db).await;
    let opened = all
        .iter()
        .filter(|(_, _, c)| only.decrypt(c).is_ok())
        .count();
    (opened, all.len())
}

/// Each pupil's plan, disclosed to Hillside's DSL and opened: the broker decrypts the record
/// at rest to build the packet.
async fn every_plan_reads(server: &TestServer, pupils: &[(Pupil, String)], when: &str) {
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    for (pupil, summary) in pupils {
        let r = csc
            .post(
                "/v1/disclosures",
                &sw,
                &common::flows::ask(
                    &[&pupil.record],
                    "school-hillside/dsl",
                    "safeguarding",
                    "consent",
                ),
            )
            .await
            .expect("a disclosure");
        assert_eq!(r.status, 201, "{when}: disclosing a plan: {}", r.text());
        let id = r.json()["disclosure_id"].as_str().unwrap().to_owned();
        let packet = server.open(&dsl, &id).await;
        assert!(
            packet.to_string().contains(summary.as_str()),
            "{when}: the packet holds the plan's summary {summary:?}: {packet}"
        );
    }
}

fn identity_path(server: &TestServer) -> std::path::PathBuf {
    server.config.storage.age_identity.clone()
}

#[tokio::test]
async fn a_rotation_killed_part_way_resumes_with_nothing_unreadable() {
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let mut pupils = Vec::new();
    for i in 0..PUPILS {
        let summary = format!("plan summary {i}");
        let pupil = hillside_pupil_with(
            &csc,
            &sw,
            json!({"summary": summary, "risk_management": "r"}),
        )
        .await;
        pupils.push((pupil, summary));
    }
    let path = identity_path(&server);
    let old = KeyFile::read(&path).unwrap().current().clone();
    let db = &server.state.db;
    let (by_old, total) = opened_by(db, &old).await;
    assert!(total >= PUPILS, "the plans are stored encrypted: {total}");
    assert_eq!(by_old, total, "before: the one key opens everything");

    // a slow run (4 rows a batch, a pause after each), killed once it has re-encrypted plans
    let mut child = rotate(
        &server.world.config,
        &[
            "--batch-size",
            "4",
            "--pause-ms",
            "150",
            "--settle-seconds",
            "3",
        ],
    )
    .stderr(Stdio::piped())
    .stdout(Stdio::null())
    .spawn()
    .expect("running broker keys rotate-at-rest");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("the rotation ended before it was killed: {said:#?}"))
            .expect("reading its progress");
        said.push(line.clone());
        // a batch of plans committed: re-encrypted under the new key, progress saved
        if line.contains("records:") && !line.contains(" 0 ciphertext(s)") {
            break;
        }
        assert!(Instant::now() < deadline, "no progress: {said:#?}");
    }
    child.kill().expect("kill -9");
    child.wait().unwrap();

    let file = KeyFile::read(&path).unwrap();
    assert_eq!(
        file.identities().len(),
        2,
        "mid-way the key file holds the new key and the old"
    );
    let new = file.current().clone();
    assert_ne!(new.to_public().to_string(), old.to_public().to_string());
    let (by_new, total) = opened_by(db, &new).await;
    assert!(
        by_new > 0 && by_new < total,
        "killed part-way: some content under the new key, some not ({by_new} of {total})"
    );
    every_plan_reads(&server, &pupils, "mid-way, after kill -9").await;

    // run again: it resumes, checks and retires the old key
    let out = rotate(
        &server.world.config,
        &["--batch-size", "4", "--settle-seconds", "3"],
    )
    .output()
    .expect("running it again");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the resumed rotation: {err}");
    assert!(
        err.contains("resuming the rotation"),
        "it says it resumes: {err}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(summary["resumed"], true);
    assert_eq!(summary["recipient"], new.to_public().to_string());
    assert_eq!(summary["retired"], json!([old.to_public().to_string()]));
    assert!(
        summary["rows"].as_u64().unwrap() < total as u64,
        "the resumed run started where the killed one stopped, not from the start: {summary}"
    );

    let file = KeyFile::read(&path).unwrap();
    assert_eq!(file.identities().len(), 1, "the old key is retired");
    assert_eq!(
        file.recipient().to_string(),
        new.to_public().to_string(),
        "the new key encrypts"
    );
    let retired = KeyFile::read(Path::new(summary["retired_file"].as_str().unwrap())).unwrap();
    assert_eq!(
        retired.recipient().to_string(),
        old.to_public().to_string(),
        "the retired key is kept in a file of its own, for old backups"
    );
    let (by_new, total) = opened_by(db, &new).await;
    assert_eq!(by_new, total, "after: the new key alone opens everything");
    assert_eq!(
        opened_by(db, &old).await.0,
        0,
        "after: the old key opens nothing"
    );
    assert_eq!(
        common::flows::count(&server, "at_rest_rotation").await,
        0,
        "the progress rows go when the rotation ends"
    );
    // the running broker has dropped the old key and still reads everything, old and new
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.state.at_rest.identities(), 1);
    every_plan_reads(&server, &pupils, "after the rotation").await;
    let fresh = hillside_pupil_with(
        &csc,
        &sw,
        json!({"summary": "after", "risk_management": "r"}),
    )
    .await;
    every_plan_reads(
        &server,
        &[(fresh, "after".into())],
        "a plan deposited after",
    )
    .await;
    let only_new = KeyFile::of(vec![new.clone()]).unwrap();
    assert!(
        ciphertexts(db)
            .await
            .iter()
            .all(|(_, _, c)| only_new.decrypt(c).is_ok()),
        "new content is encrypted to the new key"
    );

    // both ends are in the audit log, naming keys by their public recipients only
    let actions: Vec<(String, String)> = broker::with_db!(db, pool => sqlx::query_as(
        "SELECT action, detail FROM audit_log WHERE action LIKE 'at_rest_key%' ORDER BY seq")
        .fetch_all(pool)
        .await)
    .unwrap();
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        ["at_rest_key_rotation_started", "at_rest_key_rotated"]
    );
    for (_, detail) in &actions {
        assert!(
            !detail.contains("AGE-SECRET-KEY"),
            "no secret key in the audit log: {detail}"
        );
    }
    let chain = broker::audit::verify(db).await.unwrap();
    assert!(chain.ok, "the chain holds: {chain:?}");
    server.stop().await;
}

#[tokio::test]
async fn every_encrypted_column_is_rotated() {
    let server = TestServer::start().await;
    let db = &server.state.db;
    let sql = match db {
        Db::Sqlite { .. } => {
            "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name LIKE '%\\_enc' ESCAPE '\\'"
        }
        Db::Postgres(_) => {
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND column_name LIKE '%\\_enc' ESCAPE '\\'"
        }
    };
    let schema: BTreeSet<(String, String)> = broker::with_db!(db, pool => sqlx::query_as(sql)
        .fetch_all(pool)
        .await)
    .expect("reading the schema")
    .into_iter()
    .collect();
    let rotated: BTreeSet<(String, String)> = TABLES
        .iter()
        .flat_map(|t| t.columns.iter().map(|c| (t.name.to_owned(), c.to_string())))
        .collect();
    assert!(
        schema.len() >= 10,
        "the schema's encrypted columns: {schema:?}"
    );
    assert_eq!(
        schema, rotated,
        "every *_enc column of the schema is in broker::rotation::TABLES, and no other"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_key_file_that_cannot_open_stored_content_stops_the_rotation_before_it_changes_anything()
{
    let server = TestServer::start().await;
    let csc = server.client("csc");
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    hillside_pupil_with(
        &csc,
        &sw,
        json!({"summary": "kept", "risk_management": "r"}),
    )
    .await;
    server.state.db.close().await;
    let config = server.world.config.clone();
    let path = identity_path(&server);
    let TestServer { dir, world, .. } = server;
    // the operator points the broker at the wrong key file
    let stranger = KeyFile::of(vec![age::x25519::Identity::generate()]).unwrap();
    stranger
        .write(&path, &["not the key the content was encrypted to"])
        .unwrap();
    let out = rotate(&config, &["--settle-seconds", "0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a rotation that cannot read content fails"
    );
    assert!(
        err.contains("opens with no key of the file"),
        "it says what is wrong: {err}"
    );
    let db_url = broker::config::Config::load(&config).unwrap().database.url;
    let db = Db::connect(&db_url, 1).await.unwrap();
    let added = KeyFile::read(&path).unwrap();
    assert_eq!(
        added.identities().len(),
        2,
        "the new key was added before the sweep"
    );
    let under_new = opened_by(&db, added.current()).await;
    assert_eq!(under_new.0, 0, "nothing was re-encrypted: {under_new:?}");
    db.close().await;
    common::drop_postgres_database(&db_url).await;
    drop((dir, world));
}
