//! Does the log still extend a checkpoint saved earlier? The chain alone cannot say: whoever
//! controls the database can cut the log short, or rewrite a whole suffix and recompute every
//! hash after it, and the chain then holds. A checkpoint's root fixes the first `size` entries
//! (its last leaf is entry `size`'s chain hash, which chains to every entry before it), so the
//! check reads only entry `size` and those after it:
//!
//! 1. the log still has at least `size` entries (else it was truncated);
//! 2. the stored tree's root at `size` is the checkpoint's root, and entry `size`, as stored,
//!    is the leaf the checkpoint signed (its inclusion proof from the stored nodes verifies
//!    against the checkpoint's root), so nothing up to `size` changed;
//! 3. every entry after it is chained and hashes to what is stored, and their leaves extend the
//!    checkpoint's tree to the root the head keeps now; the consistency proof from `size` to
//!    now, made from the stored nodes, verifies against both roots.
//!
//! Step 3 reads the entries as the whole chain's [`verify`](super::verify) does ([`scan`]): in
//! one snapshot, up to the head read first (so entries appended meanwhile are not mistaken for
//! a fault), pages at a time, checked on threads while the next page is read. Its cost is the
//! entries since the checkpoint, at the whole chain's rate per entry.

use serde::Serialize;
use sqlx::Row;

use super::offline::decode_hash;
use super::proofs::{ProofRequestError, consistency, inclusion, read_nodes, tree_head};
use super::tree::{self, Frontier, Hash};
use super::verify::{Fault, Span, scan};
use crate::db::Db;
use crate::with_db;

/// The verdict on a log against a checkpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Extension {
    pub ok: bool,
    /// The checkpoint's tree size.
    pub checkpoint_size: u64,
    /// Entries in the log now.
    pub entries: i64,
    /// Entries read (the checkpoint's last and every one after it).
    pub entries_read: u64,
    /// The first entry found changed, missing or out of place, if one is.
    pub first_bad_seq: Option<i64>,
    /// What does not hold, in plain words.
    pub problem: Option<String>,
}

impl Extension {
    fn bad(size: u64, entries: i64, read: u64, seq: Option<i64>, why: String) -> Extension {
        Extension {
            ok: false,
            checkpoint_size: size,
            entries,
            entries_read: read,
            first_bad_seq: seq,
            problem: Some(why),
        }
    }
}

/// Checks that the log extends the checkpoint of `size` entries with root `root`.
pub async fn verify_extends(db: &Db, size: u64, root: &Hash) -> Result<Extension, sqlx::Error> {
    let (entries, _) = with_db!(db, pool => {
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        (row.try_get::<i64, _>("seq")?, row.try_get::<String, _>("hash")?)
    });
    let bad = |read, seq, why: String| Ok(Extension::bad(size, entries, read, seq, why));
    if (entries as u64) < size {
        return bad(
            0,
            Some(entries + 1),
            format!(
                "the log has {entries} entries, fewer than the {size} the checkpoint signed: \
                 it was cut short"
            ),
        );
    }
    if size == 0 {
        return Ok(Extension {
            ok: &tree::empty_root() == root,
            checkpoint_size: 0,
            entries,
            entries_read: 0,
            first_bad_seq: None,
            problem: (&tree::empty_root() != root)
                .then(|| "an empty checkpoint must have the empty tree's root".to_owned()),
        });
    }
    let head = tree_head(db).await?;
    if head.size != entries as u64 {
        return bad(
            0,
            None,
            format!(
                "the tree covers {} entries but the log has {entries}: start the broker (or \
                 `broker migrate`) to build it, then verify again",
                head.size
            ),
        );
    }
    let mut frontier = proof_answer(root_frontier(db, size).await)?;
    if &frontier.root() != root {
        return bad(
            0,
            None,
            format!(
                "the stored tree's root at {size} entries is not the checkpoint's: the log up to \
                 entry {size} was rewritten"
            ),
        );
    }
    // entry `size` as stored: the leaf the checkpoint signed?
    let sql = "SELECT prev_hash, hash FROM audit_log WHERE seq = $1";
    let last = with_db!(db, pool => {
        sqlx::query(sql).bind(size as i64).fetch_optional(pool).await?
            .map(|row| Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?)))
            .transpose()?
    });
    let Some((prev, last_hash)) = last else {
        return bad(0, Some(size as i64), format!("entry {size} is missing"));
    };
    let Some(leaf) = tree::leaf_of(&last_hash) else {
        return bad(
            1,
            Some(size as i64),
            format!("entry {size} does not match its hash"),
        );
    };
    if let Err(why) = signed_leaf(db, size, &leaf, root).await? {
        return bad(1, Some(size as i64), why);
    }
    // it and every entry after it up to the head, chained and hashed, in one snapshot
    let span = Span {
        from: size as i64,
        to: entries,
        prev,
        leaves: true,
    };
    let scanned = scan(db, span).await?;
    let read = (scanned.rows - (size as i64 - 1)).max(0) as u64;
    if let Some((seq, fault)) = scanned.first_bad {
        let why = match fault {
            Fault::Missing => format!("entry {seq} is missing"),
            Fault::Unchained => format!("entry {seq} does not chain to the one before it"),
            Fault::Altered => format!("entry {seq} does not match its hash"),
        };
        return bad(read, Some(seq), why);
    }
    if scanned.rows != entries {
        return bad(
            read,
            Some(scanned.rows + 1),
            format!(
                "the log's entries stop at {} but its head says {entries}",
                scanned.rows
            ),
        );
    }
    let mut leaves = scanned.leaves.into_iter();
    if leaves.next() != Some(leaf) {
        return bad(
            read,
            Some(size as i64),
            format!("entry {size} changed while it was being checked"),
        );
    }
    let mut unused = Vec::new();
    for leaf in leaves {
        frontier.push(leaf, &mut unused);
        unused.clear();
    }
    if frontier.root() != head.root {
        return bad(
            read,
            None,
            "the entries after the checkpoint do not make the tree the head keeps: the stored \
             tree was altered"
                .to_owned(),
        );
    }
    let proof = proof_answer(consistency(db, size, entries as u64).await)?;
    let hashes: Option<Vec<Hash>> = proof.hashes.iter().map(|h| decode_hash(h)).collect();
    let consistent = hashes.is_some_and(|hashes| {
        tree::verify_consistency(size, entries as u64, root, &head.root, &hashes).is_ok()
    });
    if !consistent {
        return bad(
            read,
            None,
            "the consistency proof from the stored tree does not verify".to_owned(),
        );
    }
    Ok(Extension {
        ok: true,
        checkpoint_size: size,
        entries,
        entries_read: read,
        first_bad_seq: None,
        problem: None,
    })
}

/// Is `leaf` (entry `size`, as stored now) the last leaf of the checkpoint with `root`?
async fn signed_leaf(
    db: &Db,
    size: u64,
    leaf: &Hash,
    root: &Hash,
) -> Result<Result<(), String>, sqlx::Error> {
    let proof = proof_answer(inclusion(db, size as i64, size).await)?;
    let hashes: Option<Vec<Hash>> = proof.hashes.iter().map(|h| decode_hash(h)).collect();
    let holds =
        hashes.is_some_and(|h| tree::verify_inclusion(size - 1, size, leaf, &h, root).is_ok());
    Ok(if holds {
        Ok(())
    } else {
        Err(format!(
            "entry {size} is not the entry the checkpoint signed: the log up to it was rewritten"
        ))
    })
}

/// The frontier of the tree at `size` from the stored nodes.
async fn root_frontier(db: &Db, size: u64) -> Result<Frontier, ProofRequestError> {
    let keys = Frontier::keys(size).into_iter().collect();
    let nodes = read_nodes(db, &keys).await?;
    Ok(Frontier::from_nodes(size, &mut |k| nodes[&k]))
}

/// A proof query's error as a database error (the sizes asked for were checked already).
fn proof_answer<T>(answer: Result<T, ProofRequestError>) -> Result<T, sqlx::Error> {
    answer.map_err(|e| match e {
        ProofRequestError::Db(e) => e,
        ProofRequestError::OutOfRange(why) => sqlx::Error::Protocol(why),
    })
}
