//! The costs around a disclosure other than the decision: packet encryption, the audit entry's
//! hash, appending to the audit chain (SQLite, `synchronous=FULL`), and verifying the chain.
//!
//! `cargo bench --bench storage`
//!
//! The chain verified has 100,000 entries unless `BROKER_BENCH_VERIFY_ENTRIES` says otherwise
//! (e.g. `1000000`); it is built in bulk (`audit::append_entries`). With
//! `BROKER_BENCH_DATABASE_URL=postgres://.../postgres` the same chain is also built and
//! verified in a fresh PostgreSQL database on that server, dropped afterwards.

mod common;

use std::hint::black_box;
use std::time::Duration;

use broker::audit;
use broker::db::Db;
use common::{drop_postgres, entry, env_count, fresh_postgres, postgres_url};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (identity, recipient) = broker::crypto::generate_age_identity();
    let _ = identity;
    let recipient = broker::crypto::parse_age_recipient(&recipient).unwrap();
    let packet = vec![b'x'; 4096];
    c.bench_function("packet/encrypt_armored_4KiB", |b| {
        b.iter(|| black_box(broker::crypto::encrypt_armored(&recipient, &packet).unwrap()))
    });
    let e = entry(1);
    c.bench_function("audit/entry_hash", |b| {
        b.iter(|| black_box(e.hash(audit::GENESIS)))
    });

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let db = rt.block_on(async {
        let db = Db::connect(&url, 4).await.unwrap();
        db.migrate().await.unwrap();
        db
    });
    let mut i = 0;
    c.bench_function("audit/append_one_durable_commit_sqlite", |b| {
        b.iter(|| {
            i += 1;
            rt.block_on(async {
                let mut tx = db.begin().await.unwrap();
                audit::append(&mut tx, entry(i)).await.unwrap();
                tx.commit().await.unwrap();
            })
        })
    });
    // a chain of (at least) the entries asked for, appended in bulk, then verified
    let n = rt.block_on(grow_chain(&db, verify_entries()));
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5 + n / 40_000));
    group.bench_function(format!("verify_{}k_entries_sqlite", n / 1000), |b| {
        b.iter(|| black_box(verified(&rt, &db, n)))
    });
    if let Some(url) = postgres_url() {
        let (pg, name, admin) = rt.block_on(fresh_postgres(&url));
        let n = rt.block_on(grow_chain(&pg, n));
        group.bench_function(format!("verify_{}k_entries_postgres", n / 1000), |b| {
            b.iter(|| black_box(verified(&rt, &pg, n)))
        });
        rt.block_on(async {
            pg.close().await;
            drop_postgres(&admin, &name).await;
        });
    }
    group.finish();
}

/// `BROKER_BENCH_VERIFY_ENTRIES`, else 100,000.
fn verify_entries() -> u64 {
    env_count("BROKER_BENCH_VERIFY_ENTRIES", 100_000)
}

/// Appends entries in bulk until the chain has `n`; returns how many it has.
async fn grow_chain(db: &Db, n: u64) -> u64 {
    let have = audit::verify(db).await.unwrap().entries as u64;
    let started = std::time::Instant::now();
    broker::audit::append_entries(db, (have + 1..=n).map(|i| entry(i as i64)))
        .await
        .unwrap();
    eprintln!(
        "{}: {} entries appended in {:.1} s",
        db.kind(),
        n.saturating_sub(have),
        started.elapsed().as_secs_f64()
    );
    n.max(have)
}

/// Verifies the chain, which must hold and have `n` entries.
fn verified(rt: &tokio::runtime::Runtime, db: &Db, n: u64) -> audit::Verification {
    let v = rt.block_on(audit::verify(db)).unwrap();
    assert!(v.ok && v.entries as u64 == n, "{v:?}");
    v
}

criterion_group!(benches, bench);
criterion_main!(benches);
