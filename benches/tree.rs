//! What the audit log's Merkle tree (issue 24) costs, and what its proofs cost at scale.
//!
//! `cargo bench --bench tree`
//!
//! 1. **With and without the tree, same run.** The durable one-entry append (its own
//!    transaction and commit) and an action through the group-commit writer (32 at once), each
//!    on two databases side by side: one whose tree is kept, and one whose tree lags the chain
//!    (`tree_size` set back to 0 after a few appends: the state of a log from before the tree,
//!    in which appends leave the tree alone until `catch_up`). The pair is also measured
//!    interleaved, round after round, so drift of the disk or the box falls on both alike.
//! 2. **At scale.** A log of `BROKER_BENCH_TREE_ENTRIES` entries (default 100,000; BENCHMARKS.md
//!    records 1,000,000), built in bulk with the tree (`audit::append_entries`): an older root,
//!    inclusion and consistency proofs (their time here, their size in hashes and JSON bytes
//!    printed), `verify_extends` from checkpoints 1,000 and 100,000 entries behind the head, the
//!    whole-chain `audit::verify` for comparison, `catch_up` of the whole log (as for a log from
//!    before the tree), and the rows and bytes `audit_tree` takes. PostgreSQL's tables are
//!    analysed after the load, as on a live server (the time before is printed).
//!
//! SQLite in a temporary directory; with `BROKER_BENCH_DATABASE_URL=postgres://.../postgres`,
//! PostgreSQL too, in fresh databases on that server, dropped afterwards.
//! `BROKER_BENCH_TREE_PARTS=append` (or `scale`) runs one part only.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use broker::audit::{self, tree};
use broker::db::Db;
use broker::on_tx;
use broker::writer::Writer;
use common::{drop_postgres, entry, env_count, fresh_postgres, postgres_url};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

/// Actions in flight at once through the writer, as `loadgen`'s connections are.
const WRITERS: u64 = 32;

/// Rounds of the interleaved pair, and appends per database in each.
const ROUNDS: usize = 30;
const PER_ROUND: u64 = 100;

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |name: &str| {
        let url = format!("sqlite://{}/{name}.db", dir.path().display());
        rt.block_on(async {
            let db = Db::connect(&url, 4).await.unwrap();
            db.migrate().await.unwrap();
            db
        })
    };

    let parts = std::env::var("BROKER_BENCH_TREE_PARTS").unwrap_or("append scale".into());
    if parts.contains("append") {
        with_and_without(c, &rt, &sqlite("kept"), &sqlite("lagging"));
    }
    if let Some(url) = postgres_url().filter(|_| parts.contains("append")) {
        let (kept, kept_name, admin) = rt.block_on(fresh_postgres(&url));
        let (lagging, lagging_name, _) = rt.block_on(fresh_postgres(&url));
        with_and_without(c, &rt, &kept, &lagging);
        rt.block_on(async {
            kept.close().await;
            lagging.close().await;
            drop_postgres(&admin, &kept_name).await;
            drop_postgres(&admin, &lagging_name).await;
        });
    }

    if !parts.contains("scale") {
        return;
    }
    let n = env_count("BROKER_BENCH_TREE_ENTRIES", 100_000).max(2_000);
    at_scale(c, &rt, &sqlite("scale"), n);
    if let Some(url) = postgres_url() {
        let (db, name, admin) = rt.block_on(fresh_postgres(&url));
        at_scale(c, &rt, &db, n);
        rt.block_on(async {
            db.close().await;
            drop_postgres(&admin, &name).await;
        });
    }
}

/// The append and the writer's action on `kept` (tree kept) against `lagging` (tree behind).
fn with_and_without(c: &mut Criterion, rt: &Runtime, kept: &Db, lagging: &Db) {
    let kind = kept.kind();
    let next = AtomicU64::new(1);
    rt.block_on(async {
        for db in [kept, lagging] {
            for _ in 0..10 {
                append_one(db, &next).await;
            }
        }
        let mut tx = lagging.begin().await.unwrap();
        on_tx!(&mut tx, c => sqlx::query("UPDATE audit_head SET tree_size = 0, tree = $1 WHERE id = 1")
            .bind(Vec::<u8>::new())
            .execute(&mut **c)
            .await
            .map(drop)
            .unwrap());
        tx.commit().await.unwrap();
    });

    let mut group = c.benchmark_group(format!("tree_append_{kind}"));
    group.measurement_time(Duration::from_secs(10));
    for (name, db) in [("kept", kept), ("lagging", lagging)] {
        group.bench_function(format!("durable_one_entry/{name}"), |b| {
            b.iter(|| rt.block_on(append_one(db, &next)))
        });
    }
    let writers: Vec<(&str, Writer)> = rt.block_on(async {
        vec![
            ("kept", Writer::start(kept.clone())),
            ("lagging", Writer::start(lagging.clone())),
        ]
    });
    for (name, writer) in &writers {
        group.bench_function(format!("writer_{WRITERS}_at_once/{name}"), |b| {
            b.iter_custom(|iters| rt.block_on(through_writer(writer, iters, &next)))
        });
    }
    group.finish();

    // the same pairs interleaved: each round, PER_ROUND appends on each database, then
    // 10 × PER_ROUND actions through each writer, alternating which goes first
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut writer_times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let db = [kept, lagging][i];
            let started = Instant::now();
            rt.block_on(async {
                for _ in 0..PER_ROUND {
                    append_one(db, &next).await;
                }
            });
            times[i].push(started.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64);
        }
        for i in order {
            let took = rt.block_on(through_writer(&writers[i].1, PER_ROUND * 10, &next));
            writer_times[i].push(took.as_secs_f64() * 1e6 / (PER_ROUND * 10) as f64);
        }
    }
    for (what, pair) in [("durable_one_entry", times), ("writer", writer_times)] {
        let [kept_q, lagging_q] = [quartiles(&pair[0]), quartiles(&pair[1])];
        let ratios: Vec<f64> = pair[0].iter().zip(&pair[1]).map(|(k, l)| k / l).collect();
        eprintln!(
            "tree_append_{kind}/{what} interleaved, {ROUNDS} rounds, µs per append as quartiles \
             (25%, median, 75%): kept {kept_q:.1?}, lagging {lagging_q:.1?}; kept/lagging per \
             round {:.3?}",
            quartiles(&ratios)
        );
    }

    // the lagging log's tree really was left alone, and the kept one is level with the chain
    rt.block_on(async {
        let head = audit::tree_head(lagging).await.unwrap();
        assert_eq!(head.size, 0, "the lagging tree must not have grown");
        let chain = audit::verify(kept).await.unwrap();
        let head = audit::tree_head(kept).await.unwrap();
        assert!(
            chain.ok && head.size == chain.entries as u64,
            "{chain:?} {head:?}"
        );
    });
}

/// One entry in its own transaction, committed durably.
async fn append_one(db: &Db, next: &AtomicU64) {
    let i = next.fetch_add(1, Ordering::Relaxed) as i64;
    let mut tx = db.begin().await.unwrap();
    audit::append(&mut tx, entry(i)).await.unwrap();
    tx.commit().await.unwrap();
}

/// `actions` audited actions through `writer`, [`WRITERS`] at once; the wall time they took.
async fn through_writer(writer: &Writer, actions: u64, next: &AtomicU64) -> Duration {
    let left = Arc::new(AtomicU64::new(actions));
    let started = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (writer, left) = (writer.clone(), left.clone());
            // one subject per task: what the entry names does not change its cost
            let subject = next.fetch_add(1, Ordering::Relaxed) as i64;
            tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok()
                {
                    let action = writer.begin().await.unwrap();
                    action.commit(entry(subject)).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    started.elapsed()
}

/// The 25th, 50th and 75th percentiles (nearest rank).
fn quartiles(xs: &[f64]) -> [f64; 3] {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    [1, 2, 3].map(|q| xs[(xs.len() * q / 4).min(xs.len() - 1)])
}

/// Proofs, roots and checks over a log of `n` entries built in bulk on `db`.
fn at_scale(c: &mut Criterion, rt: &Runtime, db: &Db, n: u64) {
    let kind = db.kind();
    let started = Instant::now();
    let head = rt
        .block_on(audit::append_entries(db, (1..=n).map(|i| entry(i as i64))))
        .unwrap();
    eprintln!(
        "tree_{kind}: {n} entries appended in bulk, tree kept, in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(head.seq as u64, n);
    let top = rt.block_on(audit::tree_head(db)).unwrap();
    assert_eq!(top.size, n);
    if let Db::Postgres(pool) = db {
        // a freshly loaded table has no statistics until it is analysed (autovacuum, if on,
        // does it within a minute or so): show what that costs, then measure as a live log is
        let size = n - 1_000;
        let root = rt.block_on(audit::root_at(db, size)).unwrap();
        let started = Instant::now();
        let checked = rt.block_on(audit::verify_extends(db, size, &root)).unwrap();
        assert!(checked.ok, "{checked:?}");
        eprintln!(
            "tree_{kind}: verify_extends 1000 behind, before ANALYZE: {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        rt.block_on(sqlx::query("ANALYZE audit_log, audit_tree").execute(pool))
            .unwrap();
    }

    let mut group = c.benchmark_group(format!("tree_{kind}_{}k", n / 1000));
    let older = n * 3 / 4 + 1;
    group.bench_function(format!("root_at_{older}"), |b| {
        b.iter(|| black_box(rt.block_on(audit::root_at(db, older)).unwrap()))
    });

    for (seq, size) in [(1, n), (n / 2 + 1, n), (n, n), (1, older)] {
        let proof = rt.block_on(audit::inclusion(db, seq as i64, size)).unwrap();
        let hashes = decoded(&proof.hashes);
        let leaf = audit::decode_hash(&proof.leaf_hash).unwrap();
        let root = audit::decode_hash(&proof.root).unwrap();
        tree::verify_inclusion(seq - 1, size, &leaf, &hashes, &root).unwrap();
        eprintln!(
            "tree_{kind}: inclusion of {seq} in {size}: {} hashes, {} JSON bytes",
            hashes.len(),
            serde_json::to_vec(&proof).unwrap().len()
        );
        group.bench_function(format!("inclusion_{seq}_in_{size}"), |b| {
            b.iter(|| black_box(rt.block_on(audit::inclusion(db, seq as i64, size)).unwrap()))
        });
    }

    // a small n can make two the same: each once
    let froms: std::collections::BTreeSet<u64> = [n - 1_000, n / 2 + 1, 1_000].into();
    for from in froms.into_iter().rev() {
        let proof = rt.block_on(audit::consistency(db, from, n)).unwrap();
        let hashes = decoded(&proof.hashes);
        let (from_root, to_root) = (
            audit::decode_hash(&proof.from_root).unwrap(),
            audit::decode_hash(&proof.to_root).unwrap(),
        );
        tree::verify_consistency(from, n, &from_root, &to_root, &hashes).unwrap();
        eprintln!(
            "tree_{kind}: consistency from {from} to {n}: {} hashes, {} JSON bytes",
            hashes.len(),
            serde_json::to_vec(&proof).unwrap().len()
        );
        group.bench_function(format!("consistency_{from}_to_{n}"), |b| {
            b.iter(|| black_box(rt.block_on(audit::consistency(db, from, n)).unwrap()))
        });
    }

    group.sample_size(10);
    for behind in [1_000, 100_000.min(n - 1)] {
        let size = n - behind;
        let root = rt.block_on(audit::root_at(db, size)).unwrap();
        let checked = rt.block_on(audit::verify_extends(db, size, &root)).unwrap();
        assert!(checked.ok, "{checked:?}");
        eprintln!(
            "tree_{kind}: verify_extends from {size} ({behind} behind the head) read {} entries",
            checked.entries_read
        );
        group.bench_function(format!("verify_extends_{behind}_behind"), |b| {
            b.iter(|| {
                let checked = rt.block_on(audit::verify_extends(db, size, &root)).unwrap();
                assert!(checked.ok);
                checked
            })
        });
    }
    group.measurement_time(Duration::from_secs(5 + n / 40_000));
    group.bench_function("verify_whole_chain", |b| {
        b.iter(|| {
            let v = rt.block_on(audit::verify(db)).unwrap();
            assert!(v.ok && v.entries as u64 == n, "{v:?}");
            v
        })
    });
    group.finish();

    storage(rt, db, n);
    catch_up(rt, db, n, &top.root);
}

fn decoded(hashes: &[String]) -> Vec<tree::Hash> {
    hashes
        .iter()
        .map(|h| audit::decode_hash(h).unwrap())
        .collect()
}

/// Prints the rows and bytes the tree takes, beside the log's own tables.
fn storage(rt: &Runtime, db: &Db, n: u64) {
    let kind = db.kind();
    rt.block_on(async {
        let (rows,): (i64,) = broker::with_db!(db, pool => sqlx::query_as("SELECT COUNT(*) FROM audit_tree")
            .fetch_one(pool)
            .await
            .unwrap());
        assert_eq!(
            rows as u64,
            2 * n - u64::from(n.count_ones()),
            "a tree of n leaves stores 2n - popcount(n) nodes"
        );
        let tables = ["audit_tree", "audit_log", "audit_records"];
        let bytes: Vec<(String, i64)> = match db {
            Db::Sqlite { read, .. } => sqlx::query_as(
                "SELECT m.tbl_name, CAST(SUM(d.pgsize) AS INTEGER) FROM dbstat d \
                 JOIN sqlite_master m ON m.name = d.name \
                 WHERE m.tbl_name IN ('audit_tree', 'audit_log', 'audit_records') \
                 GROUP BY m.tbl_name",
            )
            .fetch_all(read)
            .await
            .expect("SQLite's dbstat table (SQLITE_ENABLE_DBSTAT_VTAB)"),
            Db::Postgres(pool) => {
                let mut sizes = Vec::new();
                for table in tables {
                    let (size,): (i64,) = sqlx::query_as("SELECT pg_total_relation_size($1::regclass)")
                        .bind(table)
                        .fetch_one(pool)
                        .await
                        .unwrap();
                    sizes.push((table.to_owned(), size));
                }
                sizes
            }
        };
        let size_of = |t: &str| bytes.iter().find(|(name, _)| name == t).map_or(0, |(_, b)| *b);
        eprintln!(
            "tree_{kind}: audit_tree {rows} rows, {:.1} MB ({:.1} bytes per entry); audit_log \
             {:.1} MB; audit_records {:.1} MB (tables with their indexes)",
            size_of("audit_tree") as f64 / 1e6,
            size_of("audit_tree") as f64 / n as f64,
            size_of("audit_log") as f64 / 1e6,
            size_of("audit_records") as f64 / 1e6,
        );
    });
}

/// Forgets the tree (as a log from before it) and times `catch_up` building it again, twice.
fn catch_up(rt: &Runtime, db: &Db, n: u64, root: &tree::Hash) {
    let kind = db.kind();
    for run in 1..=2 {
        rt.block_on(async {
            let mut tx = db.begin().await.unwrap();
            on_tx!(&mut tx, c => {
                sqlx::query("DELETE FROM audit_tree").execute(&mut **c).await.unwrap();
                sqlx::query("UPDATE audit_head SET tree_size = 0, tree = $1 WHERE id = 1")
                    .bind(Vec::<u8>::new())
                    .execute(&mut **c)
                    .await
                    .unwrap();
            });
            tx.commit().await.unwrap();
            if let Db::Postgres(pool) = db {
                sqlx::query("VACUUM audit_tree")
                    .execute(pool)
                    .await
                    .unwrap();
            }
            let started = Instant::now();
            let added = audit::catch_up(db).await.unwrap();
            let took = started.elapsed();
            assert_eq!(added, n);
            let head = audit::tree_head(db).await.unwrap();
            assert_eq!(
                (head.size, &head.root),
                (n, root),
                "catch_up must rebuild the same tree"
            );
            eprintln!(
                "tree_{kind}: catch_up of {n} entries (run {run}): {:.2} s, {:.1} µs per entry",
                took.as_secs_f64(),
                took.as_secs_f64() * 1e6 / n as f64
            );
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
