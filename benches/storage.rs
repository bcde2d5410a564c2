//! The costs around a disclosure other than the decision: packet encryption, the audit entry's
//! hash, appending to the audit chain (SQLite, `synchronous=FULL`), and verifying the chain.
//!
//! `cargo bench --bench storage`

use std::hint::black_box;

use broker::audit::{self, Entry};
use broker::db::Db;
use criterion::{Criterion, criterion_group, criterion_main};

fn entry(i: i64) -> Entry {
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
    // a chain of 100,000 entries, appended in batches, then verified
    rt.block_on(async {
        let have = audit::verify(&db).await.unwrap().entries;
        let mut n = have;
        while n < 100_000 {
            let mut tx = db.begin().await.unwrap();
            for _ in 0..5_000 {
                n += 1;
                audit::append(&mut tx, entry(n)).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
    });
    let mut group = c.benchmark_group("audit");
    group.sample_size(10);
    group.bench_function("verify_100k_entries_sqlite", |b| {
        b.iter(|| {
            let v = rt.block_on(audit::verify(&db)).unwrap();
            assert!(v.ok);
            black_box(v)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
