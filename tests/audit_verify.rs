//! `audit::verify` straight against a database (SQLite, or PostgreSQL when
//! `BROKER_TEST_DATABASE_URL` is set), over chains long enough to span several of its batches:
//! every verdict is compared with the reference, the check it replaced (parse every JSON
//! column strictly, re-serialise the entry, hash it), and with the seq the tampering should be
//! named at. The tamper cases here are the ones a verifier that hashes the stored column text
//! directly must still catch: bytes moved between adjacent JSON columns, whitespace, an escape
//! that decodes to the same string, reordered object keys, an upper-case hash, and each of them
//! with the hash recomputed over the naive concatenation of the stored text, so that only the
//! canonical-form check can name it.

mod common;

use broker::audit::{self, AuditRow, Entry, GENESIS, Verification};
use broker::db::Db;
use common::db::Migrated;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

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

    /// A chain of `n` entries of varied shapes, appended in bulk.
    async fn with_chain(n: i64) -> Fixture {
        let f = Fixture::new().await;
        broker::audit::append_entries(&f.db, (1..=n).map(entry))
            .await
            .expect("appending");
        f.assert_verdict(None, n).await;
        f
    }

    async fn close(self) {
        self.0.close().await;
    }

    /// Both verifiers agree, name `bad` (or nothing) and count `entries`.
    async fn assert_verdict(&self, bad: Option<i64>, entries: i64) -> Verification {
        self.assert_named("", bad, entries).await
    }

    /// As [`Fixture::assert_verdict`], for the tampering described by `what`.
    async fn assert_named(&self, what: &str, bad: Option<i64>, entries: i64) -> Verification {
        let v = audit::verify(&self.db).await.expect("verifying");
        let reference = reference_verify(&self.db).await;
        assert_eq!(v, reference, "{what}: verify and the reference disagree");
        assert_eq!(v.first_bad_seq, bad, "{what}: {v:?}");
        assert_eq!(v.ok, bad.is_none(), "{what}: {v:?}");
        assert_eq!(v.entries, entries, "{what}: {v:?}");
        v
    }

    async fn exec(&self, sql: &str) {
        broker::with_db!(&self.db, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
    }

    async fn row(&self, seq: i64) -> AuditRow {
        broker::with_db!(&self.db, pool => {
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_one(pool)
                .await
                .unwrap_or_else(|e| panic!("reading entry {seq}: {e}"))
        })
    }

    /// Overwrites the stored row `row.seq` with `row`'s values.
    async fn write(&self, row: &AuditRow) {
        let set: Vec<String> = broker::audit::columns()
            .split(", ")
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("{c} = ${}", i + 1))
            .collect();
        let sql = format!("UPDATE audit_log SET {} WHERE seq = $1", set.join(", "));
        broker::with_db!(&self.db, pool => {
            row.cells()
                .into_iter()
                .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, cell| cell.bind(q))
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("writing entry {}: {e}", row.seq));
        })
    }

    /// Rewrites the last entry with `edit` and, as a forger who knows how a naive verifier
    /// hashes the stored text, recomputes its hash that way and moves the head to it, so that
    /// nothing but the canonical-form check can tell.
    /// Deletes the entry at `seq` and its record links.
    async fn delete(&self, seq: i64) {
        self.exec(&format!("DELETE FROM audit_records WHERE seq = {seq}"))
            .await;
        self.exec(&format!("DELETE FROM audit_log WHERE seq = {seq}"))
            .await;
    }

    async fn forge_last(&self, last: i64, edit: impl FnOnce(&mut AuditRow)) {
        let mut row = self.row(last).await;
        edit(&mut row);
        row.hash = naive_hash(&row);
        self.write(&row).await;
        self.exec(&format!(
            "UPDATE audit_head SET seq = {last}, hash = '{}' WHERE id = 1",
            row.hash
        ))
        .await;
    }
}

/// Entry `i`: disclosure-shaped, with text that needs escaping every seventh entry and a
/// detail that is not a plain object every eleventh.
fn entry(i: i64) -> Entry {
    let mut e = Entry {
        at: format!("2026-11-22T10:00:{:02}.000000Z", i % 60),
        actor_agency: "csc".into(),
        actor_sub: format!("sw.{i}"),
        actor_roles: vec!["social_worker".into()],
        action: "disclosure".into(),
        subject_id: Some(format!("01a204f3-0000-7000-8000-{i:012}")),
        record_ids: vec![format!("01a204f3-0000-7000-9000-{i:012}")],
        owner_agencies: vec!["csc".into()],
        recipient_agency: Some("school-hillside".into()),
        recipient_role: Some("dsl".into()),
        purpose: Some("safeguarding".into()),
        basis: Some("consent".into()),
        decision: Some(if i % 3 == 0 { "deny" } else { "permit" }.into()),
        reasons: if i % 3 == 0 {
            vec!["consent_not_found".into()]
        } else {
            vec![]
        },
        obligations: vec![],
        policy_version: Some("sha256:96d5dd0bfb0bde16df423d3d64c95f58".into()),
        detail: json!({"legal_reference": null, "mappa_decision_id": null,
                       "sections_released": ["summary"], "sections_withheld": [],
                       "view": "limited_summary"}),
        ..Entry::default()
    };
    if i % 7 == 0 {
        e.justification = Some(format!("\"quoted\" \\ tab\t newline\n é ✓ 12:34:: {i}:"));
        e.recipient_sub = Some(String::new());
        e.record_ids.push("r\"2\u{1}".into());
    }
    if i % 11 == 0 {
        e.detail = json!({"level": -2, "ratio": 0.5, "nested": [{"b": 1, "a": [null, true]}]});
    }
    e
}

/// The check `verify` replaced: every row parsed strictly into an [`Entry`], re-serialised
/// and hashed, in one snapshot-free pass (the tests do not write while it runs).
async fn reference_verify(db: &Db) -> Verification {
    let (head_seq, head_hash, rows): (i64, String, Vec<AuditRow>) = broker::with_db!(db, pool => {
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await
            .expect("reading the head");
        let rows = sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log ORDER BY seq")
            .fetch_all(pool)
            .await
            .expect("reading the log");
        (head.get("seq"), head.get("hash"), rows)
    });
    let mut expected_seq = 1i64;
    let mut prev = GENESIS.to_owned();
    let mut first_bad = None;
    let entries = rows.len() as i64;
    for row in rows {
        if row.seq != expected_seq {
            first_bad = Some(expected_seq.min(row.seq));
            break;
        }
        if row.prev_hash != prev || row.strict_entry().is_none_or(|e| e.hash(&prev) != row.hash) {
            first_bad = Some(row.seq);
            break;
        }
        prev = row.hash;
        expected_seq += 1;
    }
    if first_bad.is_none() && (head_seq != expected_seq - 1 || head_hash != prev) {
        first_bad = Some(expected_seq.min(head_seq.max(1)));
    }
    Verification {
        ok: first_bad.is_none(),
        entries,
        head_hash,
        first_bad_seq: first_bad,
    }
}

/// The hash a naive verifier would compute: the stored text of the JSON columns pasted between
/// the field names as it is, without checking it is one canonical value.
fn naive_hash(row: &AuditRow) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let o = |v: &Option<String>| serde_json::to_string(v).unwrap();
    let canonical = format!(
        "{{\"seq\":{},\"at\":{},\"actor_agency\":{},\"actor_sub\":{},\"actor_roles\":{},\
         \"action\":{},\"subject_id\":{},\"record_ids\":{},\"owner_agencies\":{},\
         \"recipient_agency\":{},\"recipient_role\":{},\"recipient_sub\":{},\"purpose\":{},\
         \"basis\":{},\"justification\":{},\"decision\":{},\"reasons\":{},\"obligations\":{},\
         \"policy_version\":{},\"packet_sha256\":{},\"detail\":{}}}",
        row.seq,
        s(&row.at),
        s(&row.actor_agency),
        s(&row.actor_sub),
        row.actor_roles,
        s(&row.action),
        o(&row.subject_id),
        row.record_ids,
        row.owner_agencies,
        o(&row.recipient_agency),
        o(&row.recipient_role),
        o(&row.recipient_sub),
        o(&row.purpose),
        o(&row.basis),
        o(&row.justification),
        o(&row.decision),
        row.reasons,
        row.obligations,
        o(&row.policy_version),
        o(&row.packet_sha256),
        row.detail,
    );
    let mut h = Sha256::new();
    h.update(row.prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[test]
fn the_naive_hash_is_the_entry_hash_for_an_untouched_row() {
    // (guards the forgeries below: they are only meaningful if this holds)
    let e = Entry { seq: 7, ..entry(7) };
    let row = AuditRow {
        seq: 7,
        at: e.at.clone(),
        actor_agency: e.actor_agency.clone(),
        actor_sub: e.actor_sub.clone(),
        actor_roles: serde_json::to_string(&e.actor_roles).unwrap(),
        action: e.action.clone(),
        subject_id: e.subject_id.clone(),
        record_ids: serde_json::to_string(&e.record_ids).unwrap(),
        owner_agencies: serde_json::to_string(&e.owner_agencies).unwrap(),
        recipient_agency: e.recipient_agency.clone(),
        recipient_role: e.recipient_role.clone(),
        recipient_sub: e.recipient_sub.clone(),
        purpose: e.purpose.clone(),
        basis: e.basis.clone(),
        justification: e.justification.clone(),
        decision: e.decision.clone(),
        reasons: serde_json::to_string(&e.reasons).unwrap(),
        obligations: serde_json::to_string(&e.obligations).unwrap(),
        policy_version: e.policy_version.clone(),
        packet_sha256: e.packet_sha256.clone(),
        detail: serde_json::to_string(&e.detail).unwrap(),
        prev_hash: GENESIS.into(),
        hash: String::new(),
    };
    assert_eq!(naive_hash(&row), e.hash(GENESIS));
}

/// A named change to a stored row.
type Edit = (&'static str, fn(&mut AuditRow));

/// Each edit, made to the last entry of a fresh 30-entry chain with its hash recomputed and
/// the head moved to it, is named at seq 30.
async fn each_forgery_of_the_last_entry_is_named(edits: impl IntoIterator<Item = Edit>) {
    for (what, edit) in edits {
        let f = Fixture::with_chain(30).await;
        f.forge_last(30, edit).await;
        f.assert_named(what, Some(30), 30).await;
        f.close().await;
    }
}

/// Longer than two of verify's batches (2,048 rows), so batch boundaries are crossed.
const LONG: i64 = 5_000;

#[tokio::test]
async fn a_long_clean_chain_verifies_and_an_empty_one_too() {
    let f = Fixture::new().await;
    let v = f.assert_verdict(None, 0).await;
    assert_eq!(v.head_hash, GENESIS);
    f.close().await;
    let f = Fixture::with_chain(LONG).await;
    // entries appended one at a time by the broker's own path continue the bulk ones
    let mut tx = f.db.begin().await.unwrap();
    audit::append(&mut tx, entry(LONG + 1)).await.unwrap();
    tx.commit().await.unwrap();
    let v = f.assert_verdict(None, LONG + 1).await;
    assert_eq!(v.head_hash, f.row(LONG + 1).await.hash);
    f.close().await;
}

#[tokio::test]
async fn tampering_in_later_batches_is_named_at_the_earliest_bad_seq() {
    let f = Fixture::with_chain(LONG).await;
    f.exec("UPDATE audit_log SET purpose = 'court' WHERE seq = 4500")
        .await;
    f.assert_verdict(Some(4500), LONG).await;
    f.exec("UPDATE audit_log SET purpose = 'court' WHERE seq = 2500")
        .await;
    f.assert_verdict(Some(2500), LONG).await;
    // the first row of the second batch, linked to the last row of the first
    f.exec("UPDATE audit_log SET prev_hash = hash WHERE seq = 2049")
        .await;
    f.assert_verdict(Some(2049), LONG).await;
    f.exec("DELETE FROM audit_records WHERE seq = 2048").await;
    f.exec("DELETE FROM audit_log WHERE seq = 2048").await;
    f.assert_verdict(Some(2048), LONG - 1).await;
    f.close().await;
}

#[tokio::test]
async fn a_missing_first_entry_and_a_truncated_tail_are_named() {
    let f = Fixture::with_chain(20).await;
    f.delete(20).await;
    f.assert_verdict(Some(20), 19).await;
    f.delete(1).await;
    f.assert_verdict(Some(1), 18).await;
    f.close().await;
}

#[tokio::test]
async fn whitespace_in_a_json_column_is_named_even_with_the_hash_recomputed() {
    let f = Fixture::with_chain(30).await;
    f.exec("UPDATE audit_log SET actor_roles = '[ \"social_worker\"]' WHERE seq = 12")
        .await;
    f.assert_verdict(Some(12), 30).await;
    f.close().await;
    let edits: [Edit; 4] = [
        ("a space in a list", |r| {
            r.owner_agencies = "[ \"csc\"]".into()
        }),
        ("a newline after a list", |r| r.actor_roles.push('\n')),
        ("a space after a colon in the detail", |r| {
            r.detail = r.detail.replacen(':', ": ", 1)
        }),
        ("a tab before the detail", |r| r.detail.insert(0, '\t')),
    ];
    each_forgery_of_the_last_entry_is_named(edits).await;
}

#[tokio::test]
async fn bytes_moved_between_adjacent_json_columns_are_named_even_with_the_hash_recomputed() {
    let edits: [Edit; 4] = [
        // record_ids ["r"] owner_agencies ["csc"] -> record_ids ["r" owner_agencies ],["csc"]
        ("a closing bracket moved across the boundary", |r| {
            r.record_ids.pop();
            r.owner_agencies.insert_str(0, "],");
        }),
        // a second owner_agencies key smuggled into record_ids, the real one left empty
        (
            "the separator and the next list pasted into the first column",
            |r| {
                r.record_ids = format!("{},\"owner_agencies\":{}", r.record_ids, r.owner_agencies);
                r.owner_agencies = String::new();
            },
        ),
        ("a bracket moved from one list to the next", |r| {
            r.reasons.pop();
            r.obligations.insert(0, ']');
        }),
        ("a closing brace added after the detail", |r| {
            r.detail.push('}')
        }),
    ];
    each_forgery_of_the_last_entry_is_named(edits).await;
}

#[tokio::test]
async fn equivalent_but_non_canonical_json_is_named_even_with_the_hash_recomputed() {
    let edits: [Edit; 5] = [
        ("an escape for a plain letter", |r| {
            r.owner_agencies = "[\"\\u0063sc\"]".into()
        }),
        ("an escaped slash", |r| {
            r.actor_roles = "[\"social\\/worker\"]".into()
        }),
        ("detail keys out of order", |r| {
            r.detail = "{\"view\":\"limited_summary\",\"legal_reference\":null}".into()
        }),
        ("a duplicate detail key", |r| {
            r.detail = "{\"view\":\"full\",\"view\":\"limited_summary\"}".into()
        }),
        ("a number written differently", |r| {
            r.detail = "{\"level\":20e-1}".into()
        }),
    ];
    each_forgery_of_the_last_entry_is_named(edits).await;
}

#[tokio::test]
async fn a_hash_in_upper_case_hex_is_named() {
    let f = Fixture::with_chain(30).await;
    let row = f.row(30).await;
    let upper = format!("sha256:{}", row.hash["sha256:".len()..].to_uppercase());
    f.exec(&format!(
        "UPDATE audit_log SET hash = '{upper}' WHERE seq = 30"
    ))
    .await;
    f.exec(&format!(
        "UPDATE audit_head SET hash = '{upper}' WHERE id = 1"
    ))
    .await;
    f.assert_verdict(Some(30), 30).await;
    f.close().await;
}

#[tokio::test]
async fn an_empty_text_and_a_null_are_told_apart() {
    let f = Fixture::with_chain(30).await;
    // entry 14 has recipient_sub '' and entry 15 NULL
    f.exec("UPDATE audit_log SET recipient_sub = '' WHERE seq = 15")
        .await;
    f.assert_verdict(Some(15), 30).await;
    f.exec("UPDATE audit_log SET recipient_sub = NULL WHERE seq = 14")
        .await;
    f.assert_verdict(Some(14), 30).await;
    f.close().await;
}

/// A SQLite database in UTF-16 is read column by column (the frames' lengths would count
/// UTF-16 bytes); the verdicts are the same. (SQLite only: skipped on PostgreSQL.)
#[tokio::test]
async fn a_utf16_sqlite_database_is_verified_column_by_column() {
    use sqlx::Connection;
    if std::env::var("BROKER_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/utf16.db", dir.path().display());
    let mut c = sqlx::SqliteConnection::connect(&format!("{url}?mode=rwc"))
        .await
        .unwrap();
    for sql in [
        "PRAGMA encoding = 'UTF-16le'",
        "CREATE TABLE fixes_the_encoding (x)",
    ] {
        sqlx::query(sql).execute(&mut c).await.unwrap();
    }
    c.close().await.unwrap();
    let db = Db::connect(&url, 4).await.unwrap();
    db.migrate().await.unwrap();
    let encoding: String = broker::with_db!(&db, pool => {
        sqlx::query_scalar("PRAGMA encoding").fetch_one(pool).await.unwrap()
    });
    assert_eq!(encoding, "UTF-16le");
    let f = Fixture(Migrated { dir, url, db });
    broker::audit::append_entries(&f.db, (1..=LONG).map(entry))
        .await
        .unwrap();
    f.assert_verdict(None, LONG).await;
    f.forge_last(LONG, |r| r.owner_agencies = "[ \"csc\"]".into())
        .await;
    f.assert_verdict(Some(LONG), LONG).await;
    f.exec("UPDATE audit_log SET purpose = 'court' WHERE seq = 2100")
        .await;
    f.assert_verdict(Some(2100), LONG).await;
    f.close().await;
}
