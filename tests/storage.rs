//! Storage on both databases: SQLite by default, PostgreSQL when `BROKER_TEST_DATABASE_URL`
//! names a server (`common::test_database_url`). The same tests run unchanged on each.

mod common;

use std::time::Duration;

use broker::db::Db;
use chrono::{DateTime, Utc};
use common::db::TestDb;
use hyper::Method;
use sqlx::Row;

const INSERT_PACKET: &str = "INSERT INTO packets (disclosure_id, subject_id, record_ids, \
     record_kind, from_agency, to_agency, to_role, to_sub, purpose, basis, view, issued_at, \
     sha256, armored) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

/// Inserts a packet for `to_agency`, addressed to the `dsl` role, issued at `issued_at`.
async fn insert_packet(
    db: &Db,
    disclosure_id: &str,
    to_agency: &str,
    issued_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    broker::with_db!(db, pool => sqlx::query(INSERT_PACKET)
        .bind(disclosure_id)
        .bind("subject-1")
        .bind(r#"["record-1"]"#)
        .bind("risk_management_plan")
        .bind("csc")
        .bind(to_agency)
        .bind(Some("dsl"))
        .bind(None::<String>)
        .bind("safeguarding")
        .bind("consent")
        .bind("limited_summary")
        .bind(issued_at)
        .bind("ab".repeat(32))
        .bind("-----BEGIN AGE ENCRYPTED FILE-----\n...\n-----END AGE ENCRYPTED FILE-----\n")
        .execute(pool)
        .await
        .map(drop))
}

async fn applied_migrations(db: &Db) -> i64 {
    broker::with_db!(db, pool => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM _sqlx_migrations WHERE success"
    )
    .fetch_one(pool)
    .await
    .expect("reading _sqlx_migrations"))
}

fn migration_files(kind: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(kind);
    std::fs::read_dir(&dir)
        .expect("the migrations directory")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as i64
}

#[tokio::test]
async fn migrating_twice_applies_each_migration_once() {
    let t = TestDb::migrated().await;
    let db = t.db.clone();
    let once = applied_migrations(&db).await;
    db.migrate().await.expect("migrating a second time");
    assert_eq!(applied_migrations(&db).await, once);
    assert_eq!(once, migration_files(db.kind()));
    t.close().await;
}

#[tokio::test]
async fn a_packet_row_reads_back_with_its_issued_at_to_the_microsecond() {
    let t = TestDb::migrated().await;
    let db = t.db.clone();
    let issued_at: DateTime<Utc> = "2026-03-01T10:15:30.123456Z".parse().unwrap();
    insert_packet(&db, "disclosure-1", "school-hillside", issued_at)
        .await
        .expect("inserting a packet");
    let (id, to_role, to_sub, read_at, record_ids): (
        String,
        Option<String>,
        Option<String>,
        DateTime<Utc>,
        String,
    ) = broker::with_db!(&db, pool => {
        let row = sqlx::query(
            "SELECT disclosure_id, to_role, to_sub, issued_at, record_ids \
             FROM packets WHERE to_agency = $1 AND disclosure_id = $2",
        )
        .bind("school-hillside")
        .bind("disclosure-1")
        .fetch_one(pool)
        .await
        .expect("reading the packet back");
        (
            row.get("disclosure_id"),
            row.get("to_role"),
            row.get("to_sub"),
            row.get("issued_at"),
            row.get("record_ids"),
        )
    });
    assert_eq!(id, "disclosure-1");
    assert_eq!(to_role.as_deref(), Some("dsl"));
    assert_eq!(to_sub, None);
    assert_eq!(read_at, issued_at);
    assert_eq!(record_ids, r#"["record-1"]"#);
    t.close().await;
}

#[tokio::test]
async fn packets_order_by_issued_at_chronologically_across_sub_second_times() {
    let t = TestDb::migrated().await;
    let db = t.db.clone();
    // Whole seconds and fractions are written with different numbers of digits; the order
    // must still be the order in time, as the inbox relies on it.
    let times = [
        ("d-whole", "2026-03-01T10:00:00Z"),
        ("d-half", "2026-03-01T10:00:00.5Z"),
        ("d-before", "2026-03-01T09:59:59.999999Z"),
        ("d-last-year", "2025-12-31T23:59:59Z"),
        ("d-later", "2026-03-01T10:00:01.000001Z"),
    ];
    for (id, at) in times {
        insert_packet(&db, id, "police", at.parse().unwrap())
            .await
            .expect("inserting a packet");
    }
    let order: Vec<String> = broker::with_db!(&db, pool => sqlx::query_scalar(
        "SELECT disclosure_id FROM packets WHERE to_agency = $1 ORDER BY issued_at DESC"
    )
    .bind("police")
    .fetch_all(pool)
    .await
    .expect("listing packets"));
    assert_eq!(
        order,
        ["d-later", "d-half", "d-whole", "d-before", "d-last-year"]
    );
    t.close().await;
}

#[tokio::test]
async fn a_second_packet_with_the_same_disclosure_id_is_refused() {
    let t = TestDb::migrated().await;
    let db = t.db.clone();
    let at = Utc::now();
    insert_packet(&db, "disclosure-1", "csc", at)
        .await
        .expect("the first packet");
    let second = insert_packet(&db, "disclosure-1", "police", at).await;
    assert!(
        matches!(&second, Err(sqlx::Error::Database(e)) if e.is_unique_violation()),
        "{second:?}"
    );
    t.close().await;
}

#[tokio::test]
async fn a_pooled_sqlite_connection_uses_wal_full_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::test_database_url(dir.path()).await;
    // PRAGMAs are SQLite's; on a PostgreSQL run there is nothing to check here.
    if url.starts_with("postgres") {
        common::drop_postgres_database(&url).await;
        return;
    }
    let db = Db::connect(&url, 2).await.expect("connecting");
    let Db::Sqlite { read: pool, .. } = &db else {
        panic!("a sqlite url gave a {} pool", db.kind())
    };
    // Hold both connections of the pool at once, so each is checked, not just the first.
    let mut first = pool.acquire().await.unwrap();
    let mut second = pool.acquire().await.unwrap();
    for conn in [&mut first, &mut second] {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        assert_eq!(journal, "wal");
        assert_eq!(synchronous, 2, "synchronous should be FULL");
        assert_eq!(foreign_keys, 1);
    }
    drop((first, second));
    db.close().await;
}

#[tokio::test]
async fn broker_migrate_applies_the_migrations_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::test_database_url(dir.path()).await;
    let world = broker::devinit::dev_init(dir.path(), false, "127.0.0.1:0", &url).unwrap();
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_broker"))
            .arg("migrate")
            .arg("--config")
            .arg(&world.config)
            .env_remove("BROKER_DATABASE_URL")
            .output(),
    )
    .await
    .expect("broker migrate finishes within 60 s")
    .expect("running broker migrate");
    assert!(
        output.status.success(),
        "{:?}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let db = Db::connect(&url, 1).await.expect("connecting");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(&format!("migrations applied ({})", db.kind())),
        "{stdout}"
    );
    assert_eq!(applied_migrations(&db).await, migration_files(db.kind()));
    db.close().await;
    common::drop_postgres_database(&url).await;
}

#[tokio::test]
async fn readyz_over_mtls_reports_the_database_kind() {
    let server = common::TestServer::start().await;
    let scheme = server
        .config
        .database
        .url
        .split(':')
        .next()
        .unwrap()
        .to_owned();
    let response = server
        .client("csc")
        .send(Method::GET, "/readyz", None, None)
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.json(),
        serde_json::json!({"status": "ready", "database": scheme})
    );
    server.stop().await;
}

/// Every change to a fact the rules use about a child moves the child's `facts_version`
/// (triggers, migrations 0003 and 0004), which is what lets a disclosure decided on older facts
/// be made again; a deposit does not (records are immutable and named by id), nor does a change
/// to a column of the child the rules do not read.
#[tokio::test]
async fn every_change_to_a_childs_facts_moves_its_facts_version() {
    let t = TestDb::migrated().await;
    let db = t.db.clone();
    let at = "2026-11-22T10:00:00.000000Z";
    let version = |db: Db| async move {
        broker::with_db!(&db, pool => sqlx::query("SELECT facts_version FROM subjects WHERE id = 's'")
            .fetch_one(pool)
            .await
            .expect("reading the version")
            .get::<i64, _>("facts_version"))
    };
    let steps: [(&str, &str, bool); 12] = [
        (
            "register",
            "INSERT INTO subjects (id, date_of_birth, registered_by, created_at) VALUES ('s', '2014-05-01', 'csc', $1)",
            false,
        ),
        (
            "deposit",
            "INSERT INTO records (id, subject_id, owner_agency, kind, subject_role, sections, content_enc, chair_agency, chair_sub, deposited_by, created_at) VALUES ('r', 's', 'csc', 'strategy_meeting_minutes', 'harmful_behaviour', '[]', '', 'police', 'chair', 'sw', $1)",
            false,
        ),
        (
            "consent",
            "INSERT INTO consents (id, subject_id, given_by, purposes, recipient_kinds, agency, sub, created_at) VALUES ('c', 's', 'parent', '[]', '[]', 'csc', 'sw', $1)",
            true,
        ),
        (
            "withdrawal",
            "UPDATE consents SET withdrawn_at = $1 WHERE id = 'c'",
            true,
        ),
        (
            "assessment",
            "INSERT INTO competence_assessments (id, subject_id, assessment, outcome, assessed_on, agency, sub, created_at) VALUES ('a', 's', 'gillick', TRUE, '2026-11-01', 'csc', 'sw', $1)",
            true,
        ),
        (
            "MAPPA status",
            "INSERT INTO mappa_status (subject_id, active, category, level, agency, sub, updated_at) VALUES ('s', TRUE, 1, 2, 'police', 'p', $1)",
            true,
        ),
        (
            "MAPPA status change",
            "INSERT INTO mappa_status (subject_id, active, category, level, agency, sub, updated_at) VALUES ('s', FALSE, 1, 2, 'police', 'p', $1) ON CONFLICT (subject_id) DO UPDATE SET active = excluded.active, updated_at = excluded.updated_at",
            true,
        ),
        (
            "forum decision",
            "INSERT INTO mappa_decisions (id, subject_id, recipient_agency, purposes, sections, decided_on, expires_at, chair_agency, chair_sub, created_at) VALUES ('m', 's', 'school-hillside', '[]', '[]', '2026-11-01', $1, 'police', 'chair', $1)",
            true,
        ),
        (
            "designation",
            "INSERT INTO staff_designations (id, subject_id, school_agency, staff_sub, reason_enc, designated_by, created_at) VALUES ('d', 's', 'school-hillside', 't', '', 'head', $1)",
            true,
        ),
        (
            "chair permission",
            "INSERT INTO chair_permissions (record_id, recipient_agency, granted_by, created_at) VALUES ('r', 'school-hillside', 'chair', $1)",
            true,
        ),
        (
            "school move",
            "UPDATE subjects SET school_agency = 'school-riverside' WHERE id = 's' AND created_at = $1",
            true,
        ),
        (
            "local authority",
            "UPDATE subjects SET local_authority = 'Northshire' WHERE id = 's' AND created_at = $1",
            false,
        ),
    ];
    let mut before = 0;
    for (what, sql, moves) in steps {
        broker::with_db!(&db, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(at)
            .execute(pool)
            .await
            .map(drop)
            .unwrap_or_else(|e| panic!("{what}: {e}")));
        let now = version(db.clone()).await;
        assert_eq!(
            now > before,
            moves,
            "{what}: facts_version {before} -> {now}"
        );
        before = now;
    }
    t.close().await;
}
