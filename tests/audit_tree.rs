//! The Merkle tree over the audit log (issue 24), straight against a database (SQLite, or
//! PostgreSQL when `BROKER_TEST_DATABASE_URL` is set): it grows with every append, in bulk and
//! one by one, to the root RFC 9162's `MTH` gives over the chain's hashes (computed here from
//! the definition, not with the broker's tree code); a log from before the tree catches up; and
//! a log cut short, or rewritten from some entry on with every hash after it recomputed, passes
//! the chain check but fails against a checkpoint taken before.

mod common;

use broker::audit::{self, AuditRow, Entry};
use common::db::Migrated;
use serde_json::json;
use sha2::{Digest, Sha256};

/// A migrated database (`common::db::Migrated`) and what the tests do with it.
struct Fixture(Migrated);

impl std::ops::Deref for Fixture {
    type Target = Migrated;
    fn deref(&self) -> &Migrated {
        &self.0
    }
}

impl Fixture {
    async fn new() -> Fixture {
        Fixture(Migrated::new().await)
    }

    async fn close(self) {
        self.0.close().await;
    }

    async fn bulk(&self, from: i64, n: i64) {
        audit::append_entries(&self.db, (from..from + n).map(entry))
            .await
            .expect("appending in bulk");
    }

    /// Appends one entry at a time, as the server's writer does.
    async fn one_by_one(&self, from: i64, n: i64) {
        for i in from..from + n {
            let mut tx = self.db.begin().await.expect("a transaction");
            audit::append(&mut tx, entry(i)).await.expect("appending");
            tx.commit().await.expect("committing");
        }
    }

    async fn exec(&self, sql: &str) {
        broker::with_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    async fn rows(&self) -> Vec<AuditRow> {
        broker::with_db!(&self.db, pool => {
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log ORDER BY seq")
                .fetch_all(pool)
                .await
                .expect("reading the log")
        })
    }

    /// `MTH` over the chain's stored hashes, from the definition.
    async fn mth_of_chain(&self) -> [u8; 32] {
        let leaves: Vec<[u8; 32]> = self.rows().await.iter().map(|r| leaf(&r.hash)).collect();
        mth(&leaves)
    }

    async fn truncate(&self, keep: i64) {
        common::tree::truncate(&self.db, keep).await;
    }

    /// Changes entry `seq`'s justification and recomputes the hash of it and of every entry
    /// after it, moving the head to the new last hash: the chain holds again. The tree is
    /// left as it was (this forger does not know of it).
    async fn rewrite_from(&self, seq: i64) {
        let rows = self.rows().await;
        let mut prev = rows[(seq - 2) as usize].hash.clone();
        for mut row in rows.into_iter().skip((seq - 1) as usize) {
            let mut entry = row.strict_entry().expect("a canonical entry");
            if row.seq == seq {
                entry.justification = Some("rewritten after the fact".into());
            }
            row = AuditRow::linked(entry.clone(), prev.clone(), entry.hash(&prev));
            broker::with_db!(&self.db, pool => {
                sqlx::query("UPDATE audit_log SET justification = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
                    .bind(&row.justification)
                    .bind(&row.prev_hash)
                    .bind(&row.hash)
                    .bind(row.seq)
                    .execute(pool)
                    .await
                    .expect("rewriting an entry");
            });
            prev = row.hash;
        }
        broker::with_db!(&self.db, pool => {
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&prev)
                .execute(pool)
                .await
                .expect("moving the head");
        })
    }

    async fn chain_holds(&self) -> bool {
        audit::verify(&self.db)
            .await
            .expect("verifying the chain")
            .ok
    }
}

fn entry(i: i64) -> Entry {
    Entry {
        at: format!("2026-12-06T10:00:{:02}.000000Z", i % 60),
        actor_agency: "csc".into(),
        actor_sub: format!("sw.{i}"),
        actor_roles: vec!["social_worker".into()],
        action: "disclosure".into(),
        record_ids: vec![format!("rec-{i}")],
        owner_agencies: vec!["csc".into()],
        decision: Some("permit".into()),
        detail: json!({"i": i}),
        ..Entry::default()
    }
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 9162 leaf of a chain hash `sha256:<hex>`.
fn leaf(chain_hash: &str) -> [u8; 32] {
    let digest = hex::decode(chain_hash.strip_prefix("sha256:").expect("sha256:")).expect("hex");
    sha(&[&[0], &digest])
}

/// RFC 9162 `MTH`.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

#[tokio::test]
async fn the_tree_grows_with_every_append_to_the_root_of_the_chain() {
    let f = Fixture::new().await;
    assert_eq!(audit::tree_head(&f.db).await.expect("head").root, mth(&[]));
    f.one_by_one(1, 5).await;
    assert_eq!(
        audit::tree_head(&f.db).await.expect("head").root,
        f.mth_of_chain().await
    );
    f.bulk(6, 25_000).await;
    f.one_by_one(25_006, 7).await;
    let head = audit::tree_head(&f.db).await.expect("head");
    assert_eq!(head.size, 25_012);
    assert_eq!(
        head.root,
        f.mth_of_chain().await,
        "the tree's root is MTH of the chain"
    );
    // an older tree's root, from the stored nodes
    let rows = f.rows().await;
    let leaves: Vec<[u8; 32]> = rows.iter().map(|r| leaf(&r.hash)).collect();
    for size in [1u64, 2, 3, 1000, 10_000, 10_001, 25_011] {
        assert_eq!(
            audit::root_at(&f.db, size).await.expect("a root"),
            mth(&leaves[..size as usize]),
            "root at {size}"
        );
    }
    // proofs made from the stored nodes verify
    for (seq, size) in [(1i64, 1u64), (1, 25_012), (777, 10_000), (25_012, 25_012)] {
        let p = audit::inclusion(&f.db, seq, size).await.expect("a proof");
        let hashes: Vec<[u8; 32]> = p
            .hashes
            .iter()
            .map(|h| audit::decode_hash(h).expect("b64"))
            .collect();
        let root = mth(&leaves[..size as usize]);
        audit::tree::verify_inclusion(
            (seq - 1) as u64,
            size,
            &leaves[(seq - 1) as usize],
            &hashes,
            &root,
        )
        .unwrap_or_else(|e| panic!("inclusion of {seq} in {size}: {e}"));
        assert_eq!(
            p.hashes.len() as u32,
            proof_len(seq as u64 - 1, size),
            "{seq} in {size}"
        );
    }
    for (from, to) in [(1u64, 2u64), (3, 25_012), (1024, 25_012), (25_011, 25_012)] {
        let p = audit::consistency(&f.db, from, to).await.expect("a proof");
        let hashes: Vec<[u8; 32]> = p
            .hashes
            .iter()
            .map(|h| audit::decode_hash(h).expect("b64"))
            .collect();
        audit::tree::verify_consistency(
            from,
            to,
            &mth(&leaves[..from as usize]),
            &mth(&leaves[..to as usize]),
            &hashes,
        )
        .unwrap_or_else(|e| panic!("consistency {from} -> {to}: {e}"));
    }
    assert!(
        audit::inclusion(&f.db, 5, 25_013).await.is_err(),
        "beyond the tree"
    );
    assert!(
        audit::inclusion(&f.db, 6, 5).await.is_err(),
        "seq beyond size"
    );
    assert!(
        audit::consistency(&f.db, 6, 5).await.is_err(),
        "from beyond to"
    );
    f.close().await;
}

/// RFC 9162's inclusion path length for leaf `m` of `n`.
fn proof_len(m: u64, n: u64) -> u32 {
    if n <= 1 {
        return 0;
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    1 + if m < k {
        proof_len(m, k)
    } else {
        proof_len(m - k, n - k)
    }
}

#[tokio::test]
async fn a_log_from_before_the_tree_catches_up() {
    let f = Fixture::new().await;
    f.bulk(1, 1500).await;
    let root = audit::tree_head(&f.db).await.expect("head").root;
    // as a database migrated from before the tree: no nodes, an empty tree on the head
    f.exec("DELETE FROM audit_tree").await;
    broker::with_db!(&f.db, pool => {
        sqlx::query("UPDATE audit_head SET tree_size = 0, tree = $1 WHERE id = 1")
            .bind(Vec::<u8>::new())
            .execute(pool)
            .await
            .expect("emptying the tree");
    });
    // appends made meanwhile leave the tree alone
    f.one_by_one(1501, 3).await;
    assert_eq!(audit::tree_head(&f.db).await.expect("head").size, 0);
    assert_eq!(audit::catch_up(&f.db).await.expect("catching up"), 1503);
    let head = audit::tree_head(&f.db).await.expect("head");
    assert_eq!(head.size, 1503);
    assert_eq!(head.root, f.mth_of_chain().await);
    assert_eq!(audit::root_at(&f.db, 1500).await.expect("a root"), root);
    assert_eq!(audit::catch_up(&f.db).await.expect("nothing to do"), 0);
    f.one_by_one(1504, 2).await;
    assert_eq!(
        audit::tree_head(&f.db).await.expect("head").root,
        f.mth_of_chain().await
    );
    f.close().await;
}

#[tokio::test]
async fn a_log_cut_short_passes_the_chain_but_not_a_checkpoint() {
    let f = Fixture::new().await;
    f.bulk(1, 1000).await;
    let checkpoint = audit::tree_head(&f.db).await.expect("head");
    let fine = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(fine.ok, "{fine:?}");
    assert_eq!(fine.entries_read, 1);
    f.one_by_one(1001, 10).await;
    let later = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(later.ok, "{later:?}");
    assert_eq!(later.entries_read, 11, "only entry 1000 and those after it");

    f.truncate(600).await;
    assert!(
        f.chain_holds().await,
        "the chain alone cannot tell a log was cut short"
    );
    let cut = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(!cut.ok);
    assert_eq!(cut.first_bad_seq, Some(601));
    assert!(
        cut.problem
            .as_deref()
            .is_some_and(|p| p.contains("cut short")),
        "{cut:?}"
    );

    // the forger then writes new entries up to and past the checkpoint's size, with a
    // consistent chain and tree
    f.bulk(5000, 700).await;
    assert!(
        f.chain_holds().await,
        "nor a suffix rewritten with its chain recomputed"
    );
    assert_eq!(
        audit::tree_head(&f.db).await.expect("head").root,
        f.mth_of_chain().await
    );
    let rewritten = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(!rewritten.ok, "{rewritten:?}");
    assert!(
        rewritten
            .problem
            .as_deref()
            .is_some_and(|p| p.contains("rewritten")),
        "{rewritten:?}"
    );
    f.close().await;
}

#[tokio::test]
async fn a_suffix_rewritten_with_its_chain_recomputed_fails_against_a_checkpoint() {
    let f = Fixture::new().await;
    f.bulk(1, 800).await;
    let checkpoint = audit::tree_head(&f.db).await.expect("head");
    f.one_by_one(801, 20).await;
    f.rewrite_from(500).await;
    assert!(f.chain_holds().await, "the chain alone cannot tell");
    let v = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(!v.ok, "{v:?}");
    assert_eq!(v.first_bad_seq, Some(800), "{v:?}");

    // a rewrite after the checkpoint is not the checkpoint's to catch, but the tree the head
    // keeps no longer matches the entries, which the check reads
    let g = Fixture::new().await;
    g.bulk(1, 800).await;
    let checkpoint = audit::tree_head(&g.db).await.expect("head");
    g.one_by_one(801, 20).await;
    g.rewrite_from(810).await;
    assert!(g.chain_holds().await);
    let v = audit::verify_extends(&g.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(!v.ok, "{v:?}");
    assert!(
        v.problem.as_deref().is_some_and(|p| p.contains("tree")),
        "{v:?}"
    );
    f.close().await;
    g.close().await;
}

/// From a checkpoint, the check reads the checkpoint's last entry and those after it, pages at
/// a time, checked on threads: the leaves come back in order (the tree it rebuilds is the
/// head's), and a fault after the checkpoint is named by its entry and what is wrong with it.
#[tokio::test]
async fn from_a_checkpoint_only_the_entries_after_it_are_read_and_a_fault_among_them_is_named() {
    let f = Fixture::new().await;
    f.bulk(1, 300).await;
    let checkpoint = audit::tree_head(&f.db).await.expect("head");
    // many pages and batches after it, so their leaves are put back in order
    f.bulk(301, 4_700).await;
    let fine = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
        .await
        .expect("checking");
    assert!(fine.ok, "{fine:?}");
    assert_eq!((fine.entries, fine.entries_read), (5_000, 4_701));

    let faults = [
        (
            "UPDATE audit_log SET justification = 'edited' WHERE seq = 3210",
            3210,
            "entry 3210 does not match its hash",
        ),
        (
            "UPDATE audit_log SET prev_hash = hash WHERE seq = 2345",
            2345,
            "entry 2345 does not chain to the one before it",
        ),
        (
            "DELETE FROM audit_log WHERE seq = 1234",
            1234,
            "entry 1234 is missing",
        ),
    ];
    for (tamper, seq, problem) in faults {
        f.exec("DELETE FROM audit_records WHERE seq >= 1000").await;
        f.exec(tamper).await;
        let v = audit::verify_extends(&f.db, checkpoint.size, &checkpoint.root)
            .await
            .expect("checking");
        assert!(!v.ok, "{tamper}: {v:?}");
        assert_eq!(v.first_bad_seq, Some(seq), "{tamper}: {v:?}");
        assert_eq!(v.problem.as_deref(), Some(problem), "{tamper}: {v:?}");
    }
    f.close().await;
}
