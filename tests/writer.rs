//! The group-commit writer against a real database (SQLite, or PostgreSQL when
//! `BROKER_TEST_DATABASE_URL` is set): concurrent actions share commits and each is answered
//! after its commit; an action that fails or is abandoned midway leaves nothing, not even its
//! audit entry, and the batch around it goes on.

mod common;

use broker::audit::{self, Entry};
use broker::db::{Db, now, ts};
use broker::on_tx;
use broker::writer::{WriteTx, Writer};
use serde_json::json;
use sqlx::Row;

/// A fresh, migrated database; dropped (on PostgreSQL) by [`Fresh::done`].
struct Fresh {
    _dir: tempfile::TempDir,
    url: String,
}

impl Fresh {
    async fn done(self, db: Db) {
        db.close().await;
        common::drop_postgres_database(&self.url).await;
    }
}

async fn database() -> (Fresh, Db) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = common::test_database_url(dir.path()).await;
    let db = Db::connect(&url, 4).await.expect("connecting");
    db.migrate().await.expect("migrating");
    (Fresh { _dir: dir, url }, db)
}

fn entry(action: &str) -> Entry {
    Entry {
        at: ts(now()),
        actor_agency: "csc".into(),
        actor_sub: "writer.test".into(),
        actor_roles: vec!["social_worker".into()],
        action: action.into(),
        detail: json!({}),
        ..Entry::default()
    }
}

const REGISTER: &str = "INSERT INTO subjects (id, date_of_birth, registered_by, created_at) \
    VALUES ($1, '2014-05-01', 'csc', '2026-11-22T10:00:00.000000Z')";

async fn register(tx: &mut WriteTx, id: &str) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(REGISTER).bind(id).execute(&mut **c).await.map(drop))
}

async fn subjects(db: &Db) -> Vec<String> {
    broker::with_db!(db, pool => sqlx::query("SELECT id FROM subjects ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("reading subjects")
        .iter()
        .map(|r| r.get::<String, _>("id"))
        .collect())
}

async fn head(db: &Db) -> i64 {
    broker::with_db!(db, pool => sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
        .fetch_one(pool)
        .await
        .expect("reading the head")
        .get::<i64, _>("seq"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_actions_share_commits_and_each_is_answered_after_its_commit() {
    let (fresh, db) = database().await;
    let writer = Writer::start(db.clone());
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (writer, db) = (writer.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("subject-{i:03}");
            let mut tx = writer.begin().await.expect("begin");
            register(&mut tx, &id).await.expect("insert");
            let seq = tx.commit(entry("test.register")).await.expect("commit");
            // answered only after the commit: a reader outside the batch sees the row
            let seen = broker::with_db!(&db, pool => sqlx::query("SELECT 1 AS x FROM subjects WHERE id = $1")
                .bind(&id)
                .fetch_optional(pool)
                .await
                .expect("reading back")
                .is_some());
            assert!(seen, "{id} acknowledged at seq {seq} but not committed");
            seq
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.expect("a task"));
    }
    seqs.sort();
    assert_eq!(
        seqs,
        (1..=64).collect::<Vec<i64>>(),
        "one entry each, no gaps"
    );
    assert_eq!(subjects(&db).await.len(), 64);
    let (batches, actions) = writer.stats().committed();
    assert_eq!(actions, 64);
    assert!(
        batches < 64,
        "concurrent actions shared commits: {batches} batches for 64 actions"
    );
    let v = audit::verify(&db).await.expect("verifying");
    assert!(v.ok && v.entries == 64, "{v:?}");
    fresh.done(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_fails_or_is_abandoned_midway_leaves_nothing_and_the_batch_goes_on() {
    let (fresh, db) = database().await;
    let writer = Writer::start(db.clone());

    // fails midway: its first insert is undone with it (on PostgreSQL the failed statement
    // also aborts the transaction until the rollback to the action's savepoint)
    let mut tx = writer.begin().await.expect("begin");
    register(&mut tx, "half-done").await.expect("first insert");
    let again = register(&mut tx, "half-done").await;
    assert!(again.is_err(), "a duplicate key fails");
    drop(tx);
    // the committer, woken by the drop, undoes it and lets the empty batch go
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // abandoned after appending its audit entry while another action waits to join the same
    // batch: the entry and the head in memory go back before that action appends
    let mut tx = writer.begin().await.expect("begin");
    register(&mut tx, "abandoned").await.expect("insert");
    tx.append(entry("test.abandoned")).await.expect("append");
    let next = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut tx = writer.begin().await.expect("begin");
            register(&mut tx, "kept").await.expect("insert");
            tx.commit(entry("test.register")).await.expect("commit")
        })
    };
    // let the next action queue for the batch before this one lets go of it
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(tx);
    let seq = next.await.expect("the next action");

    assert_eq!(seq, 1, "the abandoned entry's seq is reused");
    assert_eq!(subjects(&db).await, vec!["kept".to_owned()]);
    assert_eq!(head(&db).await, 1);
    let v = audit::verify(&db).await.expect("verifying");
    assert!(v.ok && v.entries == 1, "{v:?}");
    fresh.done(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_left_unfinished_with_nothing_else_queued_is_undone_and_releases_the_head() {
    let (fresh, db) = database().await;
    let writer = Writer::start(db.clone());
    let mut tx = writer.begin().await.expect("begin");
    register(&mut tx, "undone").await.expect("insert");
    drop(tx);
    // the committer lets the empty batch go, so another writer (a second process on
    // PostgreSQL) can take the audit head
    let other = Writer::start(db.clone());
    let mut tx = tokio::time::timeout(std::time::Duration::from_secs(10), other.begin())
        .await
        .expect("the head was let go")
        .expect("begin");
    register(&mut tx, "other").await.expect("insert");
    assert_eq!(tx.commit(entry("test.register")).await.expect("commit"), 1);
    assert_eq!(subjects(&db).await, vec!["other".to_owned()]);
    fresh.done(db).await;
}

async fn count_in(tx: &mut WriteTx, sql: &'static str) -> i64 {
    on_tx!(tx, c => sqlx::query(sql).fetch_one(&mut **c).await.expect("counting").get::<i64, _>(0))
}

/// Queues `n` more actions behind the one held now, in order, each a task; `action(i)` runs
/// once its turn comes.
async fn queue_behind<F, Fut>(n: usize, action: F) -> Vec<tokio::task::JoinHandle<Fut::Output>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let mut tasks = Vec::new();
    for i in 0..n {
        tasks.push(tokio::spawn(action(i)));
        // each queues for the batch before the next is spawned
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    tasks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_entries_are_written_with_the_batch_and_an_ordinary_action_after_them_sees_them() {
    let (fresh, db) = database().await;
    let writer = Writer::start(db.clone());
    let mut first = writer.begin_deferring().await.expect("begin");
    register(&mut first, "deferring").await.expect("insert");
    let mut e = entry("test.deferred");
    e.record_ids = vec!["r-1".into()];
    assert_eq!(
        first.append(e).await.expect("append"),
        1,
        "its seq is known at once"
    );
    // not written yet: the entry waits for the batch
    assert_eq!(
        count_in(&mut first, "SELECT COUNT(*) FROM audit_log").await,
        0
    );
    let w = writer.clone();
    let next = queue_behind(1, move |_| {
        let w = w.clone();
        async move {
            let mut tx = w.begin().await.expect("begin");
            // an ordinary action sees every entry appended before it, and its index rows
            let entries = count_in(&mut tx, "SELECT COUNT(*) FROM audit_log WHERE seq = 1").await;
            let index = count_in(
                &mut tx,
                "SELECT COUNT(*) FROM audit_records WHERE record_id = 'r-1'",
            )
            .await;
            register(&mut tx, "ordinary").await.expect("insert");
            let seq = tx.commit(entry("test.register")).await.expect("commit");
            (entries, index, seq)
        }
    })
    .await;
    first.finish().await.expect("the deferring action commits");
    let (entries, index, seq) = next
        .into_iter()
        .next()
        .unwrap()
        .await
        .expect("the next action");
    assert_eq!((entries, index, seq), (1, 1, 2));
    let (batches, actions) = writer.stats().committed();
    assert_eq!((batches, actions), (1, 2), "both in one batch");
    assert_eq!(head(&db).await, 2);
    let v = audit::verify(&db).await.expect("verifying");
    assert!(v.ok && v.entries == 2, "{v:?}");
    fresh.done(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_undone_after_deferred_entries_were_written_for_it_leaves_them_to_the_batch() {
    let (fresh, db) = database().await;
    let writer = Writer::start(db.clone());
    // 1: only reads, defers its entry, and is finished without a savepoint round trip
    let mut first = writer.begin_deferring().await.expect("begin");
    let n: i64 = on_tx!(first.tx_for_reading(), c => sqlx::query("SELECT COUNT(*) FROM subjects")
        .fetch_one(&mut **c).await.expect("reading").get::<i64, _>(0));
    assert_eq!(n, 0);
    first.append(entry("test.read")).await.expect("append");
    let w = writer.clone();
    let queued = queue_behind(3, move |i| {
        let w = w.clone();
        async move {
            match i {
                // 2: ordinary (so entry 1 is written as it begins), fails midway and is undone,
                // taking the write of entry 1 with it
                0 => {
                    let mut tx = w.begin().await.expect("begin");
                    register(&mut tx, "twice").await.expect("insert");
                    assert!(register(&mut tx, "twice").await.is_err());
                    drop(tx);
                    None
                }
                // 3: deferring, appends and is abandoned: its entry never existed
                1 => {
                    let mut tx = w.begin_deferring().await.expect("begin");
                    register(&mut tx, "abandoned").await.expect("insert");
                    tx.append(entry("test.abandoned")).await.expect("append");
                    drop(tx);
                    None
                }
                // 4: ordinary, commits after entry 1
                _ => {
                    let mut tx = w.begin().await.expect("begin");
                    register(&mut tx, "kept").await.expect("insert");
                    Some(tx.commit(entry("test.register")).await.expect("commit"))
                }
            }
        }
    })
    .await;
    first.finish().await.expect("the reading action commits");
    let mut seqs = Vec::new();
    for t in queued {
        seqs.push(t.await.expect("an action"));
    }
    assert_eq!(seqs, vec![None, None, Some(2)]);
    assert_eq!(subjects(&db).await, vec!["kept".to_owned()]);
    let v = audit::verify(&db).await.expect("verifying");
    assert!(
        v.ok && v.entries == 2,
        "entry 1 was written once after all: {v:?}"
    );
    let actions: Vec<String> = broker::with_db!(&db, pool => sqlx::query("SELECT action FROM audit_log ORDER BY seq")
        .fetch_all(pool)
        .await
        .expect("reading the log")
        .iter()
        .map(|r| r.get::<String, _>("action"))
        .collect());
    assert_eq!(actions, ["test.read", "test.register"]);
    fresh.done(db).await;
}
