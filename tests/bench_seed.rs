//! `broker bench-seed` against a dev world's database (SQLite, or PostgreSQL when
//! `BROKER_TEST_DATABASE_URL` is set): it refuses without its flag and refuses a database
//! holding data it did not write; what it writes is counted, chained so that the audit chain
//! verifies, and real enough that a seeded record is disclosed through the API and the
//! recipient decrypts it.

mod common;

use std::time::Duration;

use broker::benchseed::{Options, SEEDER};
use broker::config::Config;
use broker::db::Db;
use broker::vocab::Role;
use common::TestServer;
use common::flows::ask;
use serde_json::Value;
use sqlx::Row;

use common::fresh_world as world;

/// `broker bench-seed --config <world> ARGS` as a process: exit status, stdout and stderr.
async fn command(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_broker"))
            .arg("bench-seed")
            .arg("--config")
            .arg(config)
            .args(args)
            .env_remove("BROKER_DATABASE_URL")
            .output(),
    )
    .await
    .expect("bench-seed finishes within 120 s")
    .expect("running broker bench-seed");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn count(db: &Db, sql: &str) -> i64 {
    broker::with_db!(db, pool => {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<i64, _>(0)
    })
}

#[tokio::test]
async fn seeded_children_records_and_entries_are_counted_chained_and_disclosable() {
    let (dir, world) = world().await;
    let (ok, stdout, stderr) = command(
        &world.config,
        &[
            "--records",
            "50",
            "--audit-entries",
            "120",
            "--i-understand-this-writes-synthetic-data",
        ],
    )
    .await;
    assert!(ok, "bench-seed failed: {stdout}\n{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(summary["subjects"], 50, "{summary}");
    assert_eq!(summary["records"], 50, "{summary}");
    assert_eq!(summary["audit_entries"], 120, "{summary}");
    assert_eq!(summary["audit_head_seq"], 120, "{summary}");
    assert!(summary["elapsed_seconds"].is_number(), "{summary}");

    // A second run continues the chain (its entries default to one per record).
    let config = Config::load(&world.config).expect("the dev config");
    let options = Options {
        records: 10,
        audit_entries: 10,
        confirmed: true,
    };
    let summary = broker::benchseed::run(&config, &options)
        .await
        .expect("a second run");
    assert_eq!(summary.audit_head_seq, 130);

    let db = Db::connect(&config.database.url, 2).await.unwrap();
    let v = broker::audit::verify(&db).await.unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.entries, 130);
    let marked = |table: &str, column: &str| {
        format!("SELECT COUNT(*) FROM {table} WHERE {column} = '{SEEDER}'")
    };
    assert_eq!(count(&db, &marked("subjects", "registered_by")).await, 60);
    assert_eq!(count(&db, &marked("records", "deposited_by")).await, 60);
    assert_eq!(count(&db, &marked("audit_log", "actor_sub")).await, 130);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_records").await, 130);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'record.deposit'"
        )
        .await,
        60
    );
    let (record, child): (String, String) = broker::with_db!(&db, pool => {
        let r = sqlx::query(
            "SELECT r.id, r.subject_id FROM records r JOIN subjects s ON s.id = r.subject_id \
             WHERE s.school_agency = 'school-hillside' ORDER BY r.id LIMIT 1",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        (r.get(0), r.get(1))
    });
    db.close().await;

    // Served, a social worker records a parent's consent for the seeded child and discloses
    // the seeded record to the school's DSL, who decrypts the packet.
    let server = TestServer::start_in(dir, world).await;
    let sw = server.social_worker();
    sw.consent(&child, "parent", &["safeguarding"], &["school"])
        .await;
    let to_dsl = ask(&[&record], "school-hillside/dsl", "safeguarding", "consent");
    let r = sw.disclose(&to_dsl).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let disclosure = r.json()["disclosure_id"].as_str().unwrap().to_owned();
    let dsl = server.person("school-hillside", "dsl.jones", Role::Dsl);
    let r = dsl.get(&format!("/v1/inbox/{disclosure}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let identity =
        broker::crypto::load_age_identity(&server.world.age_identity("school-hillside")).unwrap();
    let packet = broker::crypto::decrypt_with(&identity, &r.body).unwrap();
    let packet = String::from_utf8(packet).unwrap();
    assert!(
        packet.contains("Synthetic plan written by bench-seed."),
        "{packet}"
    );
    let v = broker::audit::verify(&server.state.db).await.unwrap();
    assert!(v.ok, "{v:?}");
    // the start recorded the policy version it brought into force, then the consent, the
    // disclosure and the packet's read
    let started = count(
        &server.state.db,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'policy_in_force'",
    )
    .await;
    assert_eq!(started, 1);
    assert_eq!(v.entries, 130 + started + 3);

    // The database now holds real entries: bench-seed refuses it.
    let refused = broker::benchseed::run(&config, &options).await.unwrap_err();
    assert!(refused.to_string().contains("did not write"), "{refused:#}");
    server.stop().await;
}

#[tokio::test]
async fn without_its_flag_bench_seed_refuses_and_writes_nothing() {
    let (_dir, world) = world().await;
    let (ok, stdout, stderr) = command(&world.config, &["--records", "5"]).await;
    assert!(!ok, "bench-seed ran without its flag: {stdout}");
    assert!(
        stderr.contains("--i-understand-this-writes-synthetic-data"),
        "{stderr}"
    );
    let config = Config::load(&world.config).unwrap();
    let db = Db::connect(&config.database.url, 1).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM subjects").await, 0);
    db.close().await;
    common::drop_postgres_database(&config.database.url).await;
}
