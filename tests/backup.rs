//! Backup and restore (issue 25): `broker backup` copies the database while the broker serves;
//! `broker restore` puts the copy in place of an empty database, checks its audit chain and
//! that it extends its newest checkpoint, and the broker serves from it: a packet sent before
//! the backup opens, one sent after is not there, and a checkpoint an agency saved before the
//! backup still verifies against the restored log. A restore over a database refuses without
//! --force; a tampered SQLite backup is refused and changes nothing. On SQLite and, with
//! BROKER_TEST_DATABASE_URL, on PostgreSQL (pg_dump and pg_restore, from postgresql-client).

mod common;

use std::path::Path;
use std::process::Output;

use broker::vocab::Role;
use common::processes::{broker_command, says};
use common::world::World;
use common::{TestServer, test_database_url};
use serde_json::Value;

fn broker(config: &Path, args: &[&str]) -> Output {
    broker_command(config, args)
        .output()
        .unwrap_or_else(|e| panic!("running broker {args:?}: {e}"))
}

/// The world's broker.toml with its database url replaced by `url`.
fn point_at(config: &Path, url: &str) {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .expect("a [database] url line")
        .to_owned();
    std::fs::write(config, text.replacen(&line, &format!("url = \"{url}\""), 1)).unwrap();
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_verifies_and_serves() {
    let world = World::start().await;
    let sent = world.disclose(&world.to_dsl()).await;
    assert_eq!(sent.status, 201, "{}", sent.text());
    let before = sent.json()["disclosure_id"].as_str().unwrap().to_owned();
    let ig = world
        .server
        .person("partnership", "ig.patel", Role::IgOfficer);
    let r = ig.get("/v1/audit/checkpoint").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let saved = world.server.dir.path().join("checkpoint.txt");
    std::fs::write(&saved, r.text()).unwrap();

    let config = world.server.world.config.clone();
    let file = world.server.dir.path().join("broker.backup");
    let out = broker(&config, &["backup", "--to", file.to_str().unwrap()]);
    assert!(out.status.success(), "the backup: {}", says(&out));
    let made: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert!(made["bytes"].as_u64().unwrap() > 0, "{made}");
    assert!(made["audit_entries"].as_i64().unwrap() > 0, "{made}");
    let again = broker(&config, &["backup", "--to", file.to_str().unwrap()]);
    assert!(
        !again.status.success() && says(&again).contains("never written over"),
        "a backup is never written over a file: {}",
        says(&again)
    );

    // sent after the backup: not in it
    let sent = world.disclose(&world.to_dsl()).await;
    assert_eq!(sent.status, 201, "{}", sent.text());
    let after = sent.json()["disclosure_id"].as_str().unwrap().to_owned();

    // restoring over the live database is refused without --force
    let over = broker(&config, &["restore", "--from", file.to_str().unwrap()]);
    assert!(
        !over.status.success() && says(&over).contains("--force"),
        "a restore over a database needs --force: {}",
        says(&over)
    );

    let World { mut server, .. } = world;
    let old_url = server.config.database.url.clone();
    let restored_url = test_database_url(&server.dir.path().join("restored")).await;
    server.halt().await;
    point_at(&config, &restored_url);
    let out = broker(&config, &["restore", "--from", file.to_str().unwrap()]);
    assert!(out.status.success(), "the restore: {}", says(&out));
    let restored: Value = serde_json::from_slice(&out.stdout).expect("a JSON summary");
    assert_eq!(restored["chain_ok"], true, "{restored}");
    assert_eq!(restored["checkpoint_ok"], true, "{restored}");
    assert!(
        restored["checkpoint_size"].as_u64().unwrap() > 0,
        "{restored}"
    );

    // the checkpoint an agency saved before the backup holds against the restored log
    let out = broker(
        &config,
        &["audit", "verify", "--checkpoint", saved.to_str().unwrap()],
    );
    assert!(out.status.success(), "verify --checkpoint: {}", says(&out));

    // and the broker serves from it
    let TestServer { dir, world, .. } = server;
    let server = TestServer::start_in(dir, world).await;
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let inbox = dsl.inbox().await;
    assert!(
        inbox.contains(&before),
        "the packet sent before the backup is there: {inbox:?}"
    );
    assert!(
        !inbox.contains(&after),
        "the packet sent after the backup is not: {inbox:?}"
    );
    let packet = server.open(&dsl, &before).await;
    assert!(packet.to_string().contains("risk_management"), "{packet}");
    let chain = broker::audit::verify(&server.state.db).await.unwrap();
    assert!(chain.ok, "{chain:?}");
    server.stop().await;
    common::drop_postgres_database(&old_url).await;
}

#[tokio::test]
async fn a_backup_of_a_tampered_log_fails_its_check() {
    let world = World::start().await;
    let config = world.server.world.config.clone();
    let World { mut server, .. } = world;
    let old_url = server.config.database.url.clone();
    let dir = server.dir.path().to_owned();
    server.halt().await;
    // the log edited behind the broker's back before the backup was taken
    let db = broker::db::Db::connect(&old_url, 1).await.unwrap();
    broker::with_db!(&db, pool => sqlx::query(
        "UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2")
        .execute(pool)
        .await
        .map(drop))
    .unwrap();
    db.close().await;
    let file = dir.join("broker.backup");
    let out = broker(&config, &["backup", "--to", file.to_str().unwrap()]);
    assert!(out.status.success(), "the backup: {}", says(&out));

    let restored = test_database_url(&dir.join("restored")).await;
    point_at(&config, &restored);
    let out = broker(&config, &["restore", "--from", file.to_str().unwrap()]);
    assert!(!out.status.success(), "a tampered log: {}", says(&out));
    assert!(
        says(&out).contains("entry 2"),
        "it says why, naming the entry: {}",
        says(&out)
    );
    if let Some(path) = restored.strip_prefix("sqlite://") {
        // a SQLite backup is checked before it is put in place
        assert!(says(&out).contains("was not restored"), "{}", says(&out));
        assert!(!Path::new(path).exists(), "nothing was put in place");
    }
    common::drop_postgres_database(&restored).await;
    common::drop_postgres_database(&old_url).await;
}

/// A backup taken before `broker keys rotate-at-rest` holds content under the retired key: the
/// restore says so and puts nothing in place (SQLite) or exits non-zero (PostgreSQL); with the
/// retired key added to the key file after the current one, it restores and the plan reads.
#[tokio::test]
async fn a_backup_from_before_a_key_rotation_restores_with_the_retired_key() {
    let world = World::start().await;
    let sent = world.disclose(&world.to_dsl()).await;
    assert_eq!(sent.status, 201, "{}", sent.text());
    let disclosure = sent.json()["disclosure_id"].as_str().unwrap().to_owned();
    let record = world.record.clone();
    let config = world.server.world.config.clone();
    let dir = world.server.dir.path().to_owned();
    let file = dir.join("before-rotation.backup");
    let out = broker(&config, &["backup", "--to", file.to_str().unwrap()]);
    assert!(out.status.success(), "the backup: {}", says(&out));
    let out = broker(
        &config,
        &["keys", "rotate-at-rest", "--settle-seconds", "3"],
    );
    assert!(out.status.success(), "the rotation: {}", says(&out));
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let retired = rotated["retired_file"].as_str().unwrap().to_owned();

    let World { mut server, .. } = world;
    let old_url = server.config.database.url.clone();
    let key_file = server.config.storage.age_identity.clone();
    server.halt().await;
    let restored = test_database_url(&dir.join("restored")).await;
    point_at(&config, &restored);
    let out = broker(&config, &["restore", "--from", file.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "restored without its key: {}",
        says(&out)
    );
    assert!(
        says(&out).contains("retired key") && says(&out).contains("at-rest key"),
        "it says which key is missing and what to do: {}",
        says(&out)
    );
    if let Some(path) = restored.strip_prefix("sqlite://") {
        assert!(!Path::new(path).exists(), "nothing was put in place");
    }

    // the operator adds the retired key after the current one and restores again
    let current = broker::crypto::KeyFile::read(&key_file).unwrap();
    let old = broker::crypto::KeyFile::read(Path::new(&retired)).unwrap();
    broker::crypto::KeyFile::of(vec![current.current().clone(), old.current().clone()])
        .unwrap()
        .write(&key_file, &["current", "retired, for the restored backup"])
        .unwrap();
    let out = broker(
        &config,
        &["restore", "--force", "--from", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "restored with the retired key: {}",
        says(&out)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["content_opens"], true, "{done}");

    let TestServer { dir, world, .. } = server;
    let server = TestServer::start_in(dir, world).await;
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let packet = server.open(&dsl, &disclosure).await;
    assert!(packet.to_string().contains("risk_management"), "{packet}");
    // a new disclosure decrypts the plan stored under the retired key
    let sw = server.person("csc", "sw.amara", Role::SocialWorker);
    let again = sw
        .disclose(&common::flows::ask(
            &[&record],
            "school-hillside/dsl",
            "safeguarding",
            "consent",
        ))
        .await;
    assert_eq!(again.status, 201, "{}", again.text());
    let id = again.json()["disclosure_id"].as_str().unwrap().to_owned();
    let packet = server.open(&dsl, &id).await;
    assert!(packet.to_string().contains("risk_management"), "{packet}");
    server.stop().await;
    common::drop_postgres_database(&old_url).await;
}
