//! What the audit benches share: a typical disclosure's audit entry, and fresh PostgreSQL
//! databases on the server `BROKER_BENCH_DATABASE_URL` names.

use broker::audit::Entry;
use broker::db::Db;
use sqlx::Connection;

/// A permitted disclosure's entry, numbered `i` in its subject and record ids.
pub fn entry(i: i64) -> Entry {
    Entry {
        at: "2026-11-22T10:00:00.000000Z".into(),
        actor_agency: "csc".into(),
        actor_sub: "sw.okafor".into(),
        actor_roles: vec!["social_worker".into()],
        action: "disclosure".into(),
        subject_id: Some(format!("01a204f3-0000-7000-8000-{i:012}")),
        record_ids: vec![format!("01a204f3-0000-7000-9000-{i:012}")],
        owner_agencies: vec!["csc".into()],
        recipient_agency: Some("school-hillside".into()),
        recipient_role: Some("dsl".into()),
        purpose: Some("safeguarding".into()),
        basis: Some("consent".into()),
        decision: Some("permit".into()),
        policy_version: Some(
            "sha256:96d5dd0bfb0bde16df423d3d64c95f5824205c0177d23499ff83a4d4b059fa65".into(),
        ),
        detail: serde_json::json!({"view": "limited_summary"}),
        ..Entry::default()
    }
}

/// `BROKER_BENCH_DATABASE_URL`, if it names a PostgreSQL server.
pub fn postgres_url() -> Option<String> {
    std::env::var("BROKER_BENCH_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A whole number from the environment variable `name` (`_` allowed), else `default`.
pub fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

/// A new, migrated database on the server `url` names: (it, its name, the admin url).
pub async fn fresh_postgres(url: &str) -> (Db, String, String) {
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    let name = format!("broker_bench_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let db = Db::connect(&format!("{base}/{name}"), 4).await.unwrap();
    db.migrate().await.unwrap();
    (db, name, url.to_owned())
}

/// Drops the database `name` made by [`fresh_postgres`].
pub async fn drop_postgres(admin_url: &str, name: &str) {
    let mut admin = sqlx::PgConnection::connect(admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
}
