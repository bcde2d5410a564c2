//! Signed checkpoints: the broker signs the tree's size and root with its log key
//! ([`note`](super::note)) on a schedule and whenever one is asked for, and keeps what it
//! signed. Two replicas signing the same tree write the same note (Ed25519 signatures are
//! deterministic), so either may sign first.

use serde::Serialize;

use super::note::LogKey;
use super::proofs::tree_head;
use crate::db::{Db, now, ts};
use crate::{on_tx, with_db};

/// A checkpoint the broker signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signed {
    pub size: u64,
    /// The signed note (C2SP tlog-checkpoint).
    pub note: String,
    pub signed_at: String,
}

/// The checkpoint of the tree as it stands: the one already signed for its size, or a new one
/// signed and kept now.
pub async fn checkpoint(db: &Db, key: &LogKey) -> Result<Signed, sqlx::Error> {
    let head = tree_head(db).await?;
    if let Some(signed) = signed(db, head.size).await? {
        return Ok(signed);
    }
    let note = key.sign(&key.checkpoint(head.size, head.root));
    let signed_at = ts(now());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO audit_checkpoints (size, root, note, signed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (size) DO NOTHING",
    )
    .bind(head.size as i64)
    .bind(&head.root[..])
    .bind(&note)
    .bind(&signed_at)
    .execute(&mut **c)
    .await
    .map(drop))?;
    tx.commit().await?;
    // another replica may have signed the same tree first: its note is the one kept
    Ok(signed(db, head.size).await?.unwrap_or(Signed {
        size: head.size,
        note,
        signed_at,
    }))
}

/// The checkpoint kept for a tree of `size` entries, if one was signed.
pub async fn signed(db: &Db, size: u64) -> Result<Option<Signed>, sqlx::Error> {
    let row: Option<KeptRow> = with_db!(db, pool => sqlx::query_as(
        "SELECT size, note, signed_at FROM audit_checkpoints WHERE size = $1",
    )
    .bind(size as i64)
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(kept))
}

/// The largest checkpoint kept, if any was signed.
pub async fn latest(db: &Db) -> Result<Option<Signed>, sqlx::Error> {
    let row: Option<KeptRow> = with_db!(db, pool => sqlx::query_as(
        "SELECT size, note, signed_at FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await)?;
    Ok(row.map(kept))
}

type KeptRow = (i64, String, String);

fn kept((size, note, signed_at): KeptRow) -> Signed {
    Signed {
        size: size as u64,
        note,
        signed_at,
    }
}

/// Signs a checkpoint every `every` while the broker runs, if the tree grew; a failure is
/// logged and tried again at the next tick.
pub async fn sign_on_schedule(db: Db, key: std::sync::Arc<LogKey>, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match checkpoint(&db, &key).await {
            Ok(signed) => tracing::debug!(size = signed.size, "audit checkpoint"),
            Err(e) => tracing::warn!(error = %e, "signing an audit checkpoint failed; will retry"),
        }
    }
}
