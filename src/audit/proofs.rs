//! The tree as stored: its head, older roots, inclusion and consistency proofs read from the
//! stored nodes ([`tree`](super::tree)), and building the tree for a log that predates it
//! ([`catch_up`]).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::bulk::insert_nodes;
use super::tree::{self, Frontier, Hash, Needed};
use super::{HEAD_LOCK_SQL, head_tree};
use crate::db::Db;
use crate::{on_tx, with_db};

/// The tree as the head keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    /// Leaves in the tree (entries it covers).
    pub size: u64,
    pub root: Hash,
}

/// The tree over the log now: its size and root. (The tree may be behind the chain only
/// before [`catch_up`] has run.)
pub async fn tree_head(db: &Db) -> Result<TreeHead, sqlx::Error> {
    let (size, bytes): (i64, Vec<u8>) = with_db!(db, pool => sqlx::query_as(
        "SELECT tree_size, tree FROM audit_head WHERE id = 1",
    )
    .fetch_one(pool)
    .await)?;
    let frontier = u64::try_from(size)
        .ok()
        .and_then(|s| Frontier::from_bytes(s, &bytes))
        .ok_or_else(|| malformed(format!("the audit head's tree (size {size}) is malformed")))?;
    Ok(TreeHead {
        size: frontier.size(),
        root: frontier.root(),
    })
}

fn malformed(what: String) -> sqlx::Error {
    sqlx::Error::Decode(what.into())
}

/// Reads the stored nodes `keys`; an error naming the first one missing.
pub(super) async fn read_nodes(
    db: &Db,
    keys: &BTreeSet<i64>,
) -> Result<HashMap<i64, Hash>, sqlx::Error> {
    let list: Vec<i64> = keys.iter().copied().collect();
    let rows = match db {
        Db::Sqlite { read, .. } => sqlx::query(
            "SELECT node, hash FROM audit_tree WHERE node IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&list).unwrap_or_default())
        .fetch_all(read)
        .await?
        .into_iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?,
        Db::Postgres(pool) => sqlx::query("SELECT node, hash FROM audit_tree WHERE node = ANY($1)")
            .bind(&list)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Vec<u8>, _>(1)?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?,
    };
    let mut found = HashMap::with_capacity(rows.len());
    for (key, hash) in rows {
        let hash: Hash = hash
            .try_into()
            .map_err(|_| malformed(format!("audit tree node {key} is not 32 bytes")))?;
        found.insert(key, hash);
    }
    if let Some(missing) = keys.iter().find(|k| !found.contains_key(k)) {
        return Err(malformed(format!(
            "audit tree node {missing} (level {}, index {}) is missing",
            missing >> 48,
            missing & ((1 << 48) - 1)
        )));
    }
    Ok(found)
}

/// Runs a proof maker over the stored nodes: once to learn which it reads, then with them.
async fn from_stored<T>(
    db: &Db,
    make: impl Fn(&mut dyn FnMut(i64) -> Hash) -> T,
) -> Result<T, sqlx::Error> {
    let mut needed = Needed::default();
    make(&mut |k| needed.node(k));
    let read = read_nodes(db, &needed.0).await?;
    Ok(make(&mut |k| read[&k]))
}

/// Why a proof cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofRequestError {
    /// The sizes or position asked for are outside the tree as it stands.
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// The root of the tree when it had `size` leaves, from the stored nodes.
pub async fn root_at(db: &Db, size: u64) -> Result<Hash, ProofRequestError> {
    let head = tree_head(db).await?;
    if size > head.size {
        return Err(ProofRequestError::OutOfRange(format!(
            "the tree has {} entries, fewer than {size}",
            head.size
        )));
    }
    let frontier = from_stored(db, |mut node| Frontier::from_nodes(size, &mut node)).await?;
    Ok(frontier.root())
}

/// An inclusion proof (RFC 9162 2.1.3), as the API gives it: hashes base64.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct InclusionProof {
    /// The entry.
    pub seq: i64,
    /// The tree the proof is for (a checkpoint's size).
    pub size: u64,
    /// The leaf's 0-based index (`seq - 1`).
    pub leaf_index: u64,
    /// The entry's leaf hash, base64.
    pub leaf_hash: String,
    /// The audit path, base64, leaf end first.
    pub hashes: Vec<String>,
    /// The root of the tree of `size` leaves, base64 (check it against a signed checkpoint).
    pub root: String,
}

/// A consistency proof (RFC 9162 2.1.4), as the API gives it: hashes base64.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// The proof's hashes, base64.
    pub hashes: Vec<String>,
    /// The root at `from`, base64 (check it against the older signed checkpoint).
    pub from_root: String,
    /// The root at `to`, base64 (check it against the newer signed checkpoint).
    pub to_root: String,
}

pub fn b64(hash: &Hash) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hash)
}

/// The proof that entry `seq` is in the tree of `size` leaves.
pub async fn inclusion(db: &Db, seq: i64, size: u64) -> Result<InclusionProof, ProofRequestError> {
    let head = tree_head(db).await?;
    if size > head.size {
        return Err(ProofRequestError::OutOfRange(format!(
            "size {size} is beyond the tree, which has {} entries",
            head.size
        )));
    }
    let index = match u64::try_from(seq) {
        Ok(s) if s >= 1 && s <= size => s - 1,
        _ => {
            return Err(ProofRequestError::OutOfRange(format!(
                "seq {seq} is not in a tree of {size} entries (1 to {size})"
            )));
        }
    };
    let (path, leaf, root) = from_stored(db, |mut node| {
        let path = tree::inclusion_proof(index, size, &mut node);
        let leaf = node(tree::node_key(0, index));
        (path, leaf, Frontier::from_nodes(size, &mut node).root())
    })
    .await?;
    Ok(InclusionProof {
        seq,
        size,
        leaf_index: index,
        leaf_hash: b64(&leaf),
        hashes: path.iter().map(b64).collect(),
        root: b64(&root),
    })
}

/// The proof that the tree of `to` leaves extends the tree of `from` leaves.
pub async fn consistency(
    db: &Db,
    from: u64,
    to: u64,
) -> Result<ConsistencyProof, ProofRequestError> {
    let head = tree_head(db).await?;
    if to > head.size || from > to {
        return Err(ProofRequestError::OutOfRange(format!(
            "from {from} and to {to} must satisfy 0 <= from <= to <= {} (the tree's size)",
            head.size
        )));
    }
    let (path, from_root, to_root) = from_stored(db, |mut node| {
        let path = tree::consistency_proof(from, to, &mut node);
        let from_root = Frontier::from_nodes(from, &mut node).root();
        (path, from_root, Frontier::from_nodes(to, &mut node).root())
    })
    .await?;
    Ok(ConsistencyProof {
        from,
        to,
        hashes: path.iter().map(b64).collect(),
        from_root: b64(&from_root),
        to_root: b64(&to_root),
    })
}

/// Leaves added per transaction by [`catch_up`].
const CATCH_UP_BATCH: i64 = 10_000;

/// Builds the tree for entries the head's tree does not cover yet (a log written before the
/// tree existed), a batch per transaction with the head locked, so appends made meanwhile are
/// covered too. Returns the leaves added.
pub async fn catch_up(db: &Db) -> Result<u64, sqlx::Error> {
    let mut added = 0;
    loop {
        let mut tx = db.begin().await?;
        let (seq, tree_size, tree_bytes): (i64, i64, Vec<u8>) = on_tx!(&mut tx, c => {
            let head = sqlx::query(HEAD_LOCK_SQL).fetch_one(&mut **c).await?;
            (head.try_get("seq")?, head.try_get("tree_size")?, head.try_get("tree")?)
        });
        head_tree(seq, tree_size, &tree_bytes)?;
        if tree_size >= seq {
            tx.commit().await?;
            return Ok(added);
        }
        let mut frontier = Frontier::from_bytes(tree_size as u64, &tree_bytes)
            .ok_or_else(|| malformed("the audit head's tree is malformed".into()))?;
        let last = seq.min(tree_size + CATCH_UP_BATCH);
        let hashes: Vec<(i64, String)> = on_tx!(&mut tx, c => sqlx::query_as(
            "SELECT seq, hash FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq",
        )
        .bind(tree_size)
        .bind(last)
        .fetch_all(&mut **c)
        .await?);
        let mut stored = Vec::new();
        for (n, (entry, hash)) in hashes.iter().enumerate() {
            if *entry != tree_size + 1 + n as i64 {
                return Err(malformed(format!(
                    "audit entry {} is missing: verify the chain",
                    tree_size + 1 + n as i64
                )));
            }
            let leaf = tree::leaf_of(hash).ok_or_else(|| {
                malformed(format!(
                    "audit entry {entry}'s hash is malformed: verify the chain"
                ))
            })?;
            frontier.push(leaf, &mut stored);
        }
        if frontier.size() != last as u64 {
            return Err(malformed(format!(
                "audit entries up to {last} are missing: verify the chain"
            )));
        }
        insert_nodes(&mut tx, &stored).await?;
        on_tx!(&mut tx, c => sqlx::query("UPDATE audit_head SET tree_size = $1, tree = $2 WHERE id = 1")
            .bind(last)
            .bind(frontier.to_bytes())
            .execute(&mut **c)
            .await
            .map(drop))?;
        tx.commit().await?;
        added += (last - tree_size) as u64;
    }
}
