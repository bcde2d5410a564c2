//! The append-only, hash-chained audit log (RULES.md 8). An entry is written in the same
//! transaction as the action it records: if it cannot be written, the action does not happen.
//! Each entry's hash is SHA-256 over the previous hash and the entry's canonical encoding, so an
//! edited, deleted, inserted or reordered entry breaks the chain at the first bad `seq`.

mod bulk;
pub mod checkpoints;
mod export;
mod extends;
mod note;
mod offline;
mod proofs;
mod row;
mod system;
pub mod tree;
mod verify;

pub use bulk::{append_entries, insert_linked};
pub use export::{Exported, export_jsonl};
pub use extends::{Extension, verify_extends};
pub use note::{Checkpoint, LogKey, NoteError, Verifier, key_id};
pub use offline::{ExportVerdict, decode_hash, verify_export, verify_witness};
pub use proofs::{
    ConsistencyProof, InclusionProof, ProofRequestError, TreeHead, b64, catch_up, consistency,
    inclusion, root_at, tree_head,
};
pub use row::{AuditRow, Cell, ENTRY_COLUMNS, Kind, ROW_COLUMNS, columns};
pub use system::{System, host, user};

pub use verify::{Verification, verify};

use std::sync::LazyLock;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, Tx, ts};
use crate::decision::Decision;
use crate::on_tx;
use tree::{Frontier, Hash};

/// The hash before the first entry.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry: identifiers, decisions, reasons, purposes, bases and justifications;
/// never record content. The field order is the canonical encoding.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_agency: String,
    pub actor_sub: String,
    pub actor_roles: Vec<String>,
    pub action: String,
    pub subject_id: Option<String>,
    pub record_ids: Vec<String>,
    pub owner_agencies: Vec<String>,
    pub recipient_agency: Option<String>,
    pub recipient_role: Option<String>,
    pub recipient_sub: Option<String>,
    pub purpose: Option<String>,
    pub basis: Option<String>,
    pub justification: Option<String>,
    pub decision: Option<String>,
    pub reasons: Vec<String>,
    pub obligations: Vec<String>,
    pub policy_version: Option<String>,
    pub packet_sha256: Option<String>,
    pub detail: serde_json::Value,
}

/// Who acted, as the audit log records it: plain values, so this layer knows nothing of how
/// callers are identified (the identity layer's `Principal` is one).
pub trait Actor {
    fn agency(&self) -> &str;
    fn sub(&self) -> &str;
    fn roles(&self) -> Vec<&str>;
}

impl Entry {
    /// An entry for `action` by `actor`, now.
    pub fn new(actor: &impl Actor, action: &str) -> Entry {
        Entry {
            at: ts(crate::db::now()),
            actor_agency: actor.agency().to_owned(),
            actor_sub: actor.sub().to_owned(),
            actor_roles: actor.roles().into_iter().map(str::to_owned).collect(),
            action: action.to_owned(),
            detail: serde_json::json!({}),
            ..Entry::default()
        }
    }

    pub fn subject(mut self, id: &str) -> Entry {
        self.subject_id = Some(id.to_owned());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Entry {
        self.detail = detail;
        self
    }

    /// Copies a decision's outcome, reasons, obligations and policy version.
    pub fn decision(mut self, d: &Decision) -> Entry {
        self.decision = Some(if d.permitted() { "permit" } else { "deny" }.to_owned());
        self.reasons = d.reasons.iter().map(|r| r.code.to_string()).collect();
        self.obligations = d.obligations.iter().map(|o| o.to_string()).collect();
        self.policy_version = Some(d.policy_version.clone());
        self
    }

    /// `sha256:<hex>` of the previous hash and this entry's canonical JSON.
    pub fn hash(&self, prev_hash: &str) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(&canonical);
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

/// The chain's head inside a write transaction that has locked it. Appends advance it in
/// memory; [`Chain::store`] writes it back before the commit. A batch of actions (group commit)
/// locks the head once, appends each action's entry, and stores the head once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub seq: i64,
    pub hash: String,
    /// The Merkle tree over entries `1..=seq` ([`tree`]), or `None` while the stored tree is
    /// behind the chain (a log from before the tree, until [`catch_up`] has built it); an
    /// append then leaves the tree alone.
    pub tree: Option<Frontier>,
    /// The tree nodes the appends since the lock completed, `(key, hash)`: written with the
    /// head by [`Chain::store`], in one statement per batch rather than one per entry.
    pub pending: Vec<(i64, Hash)>,
}

/// The head row as locked: `(seq, hash, tree_size, tree)`.
pub(crate) const HEAD_LOCK_SQL: &str =
    "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash, tree_size, tree";

/// The tree the head row keeps, if it is level with the chain; an error if its frontier is not
/// the shape its size needs (the head was tampered with: writes fail closed).
pub(crate) fn head_tree(
    seq: i64,
    tree_size: i64,
    tree: &[u8],
) -> Result<Option<Frontier>, sqlx::Error> {
    let frontier = u64::try_from(tree_size)
        .ok()
        .and_then(|size| Frontier::from_bytes(size, tree))
        .ok_or_else(|| {
            sqlx::Error::Decode(
                format!("the audit head's tree (size {tree_size}) is malformed").into(),
            )
        })?;
    Ok((tree_size == seq).then_some(frontier))
}

impl Chain {
    /// Locks the head row (the write lock on SQLite, the row lock on PostgreSQL), so appends
    /// are linear even across processes.
    pub async fn lock(tx: &mut Tx) -> Result<Chain, sqlx::Error> {
        on_tx!(tx, c => {
            let head = sqlx::query(HEAD_LOCK_SQL).fetch_one(&mut **c).await?;
            let seq: i64 = head.try_get("seq")?;
            let tree: Vec<u8> = head.try_get("tree")?;
            Ok(Chain {
                seq,
                hash: head.try_get("hash")?,
                tree: head_tree(seq, head.try_get("tree_size")?, &tree)?,
                pending: Vec::new(),
            })
        })
    }

    /// Numbers `entry` after the head, hashes it onto the head and advances the head to it,
    /// adding its leaf to the tree (the tree nodes it completes wait in `pending`). Returns the
    /// previous hash (the entry's `prev_hash`).
    pub fn link(&mut self, entry: &mut Entry) -> String {
        entry.seq = self.seq + 1;
        let hash = entry.hash(&self.hash);
        if let Some(tree) = &mut self.tree {
            tree.push(
                tree::leaf_of(&hash).expect("Entry::hash writes sha256:<hex>"),
                &mut self.pending,
            );
        }
        self.seq = entry.seq;
        std::mem::replace(&mut self.hash, hash)
    }

    /// Links `entry` after the head (see [`Chain::link`]) and returns the row that stores it.
    pub fn link_row(&mut self, mut entry: Entry) -> AuditRow {
        let prev = self.link(&mut entry);
        AuditRow::linked(entry, prev, self.hash.clone())
    }

    /// Inserts `entry` as the next link; the head advances only if the insert succeeded.
    pub async fn append(&mut self, tx: &mut Tx, entry: Entry) -> Result<i64, sqlx::Error> {
        let mut next = self.clone();
        let records = entry.record_ids.clone();
        let row = next.link_row(entry);
        insert(tx, row, &records).await?;
        *self = next;
        Ok(self.seq)
    }

    /// Writes the head back (in the same transaction as the entries), with the tree when it is
    /// kept and the nodes the appends completed: on PostgreSQL in the head's one statement, on
    /// SQLite in one more (a batch's nodes together, not a statement per entry).
    pub async fn store(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        const HEAD: &str =
            "UPDATE audit_head SET seq = $1, hash = $2, tree_size = $3, tree = $4 WHERE id = 1";
        match &self.tree {
            Some(tree) => match tx {
                Tx::Sqlite(c) => {
                    sqlx::query(HEAD)
                        .bind(self.seq)
                        .bind(&self.hash)
                        .bind(self.seq)
                        .bind(tree.to_bytes())
                        .execute(&mut **c)
                        .await?;
                    bulk::insert_nodes(tx, &self.pending).await
                }
                Tx::Postgres(c) => {
                    let (keys, hashes): (Vec<i64>, Vec<&[u8]>) =
                        self.pending.iter().map(|(k, h)| (*k, &h[..])).unzip();
                    sqlx::query(
                        "WITH nodes AS (INSERT INTO audit_tree (node, hash) \
                         SELECT * FROM unnest($5::bigint[], $6::bytea[])) \
                         UPDATE audit_head SET seq = $1, hash = $2, tree_size = $3, tree = $4 \
                         WHERE id = 1",
                    )
                    .bind(self.seq)
                    .bind(&self.hash)
                    .bind(self.seq)
                    .bind(tree.to_bytes())
                    .bind(keys)
                    .bind(hashes)
                    .execute(&mut **c)
                    .await
                    .map(drop)
                }
            },
            None => {
                on_tx!(tx, c => sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.seq)
                .bind(&self.hash)
                .execute(&mut **c)
                .await
                .map(drop))
            }
        }
    }
}

/// Appends `entry` inside `tx` (locking, appending and storing the head). Returns its seq.
pub async fn append(tx: &mut Tx, entry: Entry) -> Result<i64, sqlx::Error> {
    let mut chain = Chain::lock(tx).await?;
    let seq = chain.append(tx, entry).await?;
    chain.store(tx).await?;
    Ok(seq)
}

/// Inserts one row (and the index rows of its `records`). On PostgreSQL it is one statement (one
/// round trip); on SQLite one per row.
async fn insert(tx: &mut Tx, row: AuditRow, records: &[String]) -> Result<(), sqlx::Error> {
    static VALUES: LazyLock<String> = LazyLock::new(|| {
        let params: Vec<String> = (1..=ROW_COLUMNS).map(|i| format!("${i}")).collect();
        format!("VALUES ({})", params.join(", "))
    });
    static SQLITE: LazyLock<String> =
        LazyLock::new(|| format!("INSERT INTO audit_log ({}) {}", columns(), *VALUES));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH entry AS (INSERT INTO audit_log ({}) {} RETURNING seq) \
             INSERT INTO audit_records (record_id, seq) \
             SELECT r, entry.seq FROM entry, unnest(${}::text[]) AS r",
            columns(),
            *VALUES,
            ROW_COLUMNS + 1
        )
    });
    macro_rules! bind_row {
        ($sql:expr) => {
            row.cells()
                .into_iter()
                .fold(sqlx::query($sql), |q, cell| cell.bind(q))
        };
    }
    match tx {
        Tx::Sqlite(c) => {
            bind_row!(SQLITE.as_str()).execute(&mut **c).await?;
            for record in records {
                sqlx::query("INSERT INTO audit_records (record_id, seq) VALUES ($1, $2)")
                    .bind(record)
                    .bind(row.seq)
                    .execute(&mut **c)
                    .await?;
            }
        }
        Tx::Postgres(c) => {
            bind_row!(POSTGRES.as_str())
                .bind(records)
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}
