//! Checking batches on blocking threads ([`Hashers`]) while the next is read: each row's
//! canonical encoding assembled from its stored column text ([`encode_stored`]) and hashed
//! after the stored hash of the row before it ([`hash_holds`]).

use super::*;

/// Threads that check batches: one per core (the reading side shares them).
pub(super) fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// The earliest bad batch a hashing thread checked, as (its first position, the bad seq, why).
type Earliest = Option<(i64, i64, Fault)>;

/// What a hashing thread found: its earliest bad batch and the leaves of the batches it checked
/// (each batch's first position, then its leaves), or why a batch could not be checked.
pub(super) type Finding = Result<(Earliest, Vec<(i64, Vec<tree::Hash>)>), String>;

/// Threads checking batches as the reader fills them.
pub(super) struct Hashers {
    pub(super) tx: tokio::sync::mpsc::Sender<Batch>,
    pub(super) threads: Vec<tokio::task::JoinHandle<Finding>>,
}

impl Hashers {
    /// `n` threads; with `leaves`, each also keeps every row's tree leaf.
    pub(super) fn start(n: usize, leaves: bool) -> Hashers {
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(2 * n);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads = (0..n)
            .map(|_| {
                let rx = rx.clone();
                tokio::task::spawn_blocking(move || Hashers::work(&rx, leaves))
            })
            .collect();
        Hashers { tx, threads }
    }

    /// One thread's loop: check batches until the reader is done. After an error it only
    /// drains the channel, so the reader never waits on a thread that has stopped.
    pub(super) fn work(
        rx: &std::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>,
        leaves: bool,
    ) -> Finding {
        let mut buf = Vec::with_capacity(4096);
        let mut finding: Finding = Ok((None, Vec::new()));
        loop {
            let batch = match rx.lock() {
                Ok(mut rx) => rx.blocking_recv(),
                Err(_) => None,
            };
            let Some(mut batch) = batch else {
                return finding;
            };
            let Ok((earliest, kept)) = &mut finding else {
                continue;
            };
            if earliest.is_some_and(|(first, _, _)| first < batch.first) {
                continue;
            }
            if let Err(e) = batch.split_frames() {
                finding = Err(e);
            } else if let Some((bad, why)) = batch.first_bad(&mut buf) {
                *earliest = Some((batch.first, bad, why));
            } else if leaves {
                match batch.leaves() {
                    Some(found) => kept.push((batch.first, found)),
                    None => finding = Err("a stored hash that is not a SHA-256 hash".into()),
                }
            }
        }
    }

    pub(super) async fn send(&self, batch: Batch) -> Result<(), sqlx::Error> {
        self.tx
            .send(batch)
            .await
            .map_err(|_| hashing_failed("the hashing threads stopped"))
    }

    /// Waits for every batch to be checked: the first bad seq of the earliest bad batch and
    /// why, and (if kept, and no batch is bad) every row's leaf in order.
    pub(super) async fn finish(
        self,
    ) -> Result<(Option<(i64, Fault)>, Vec<tree::Hash>), sqlx::Error> {
        drop(self.tx);
        let mut earliest: Earliest = None;
        let mut batches = Vec::new();
        for thread in self.threads {
            let (found, kept) = thread
                .await
                .map_err(hashing_failed)?
                .map_err(|e| sqlx::Error::Decode(e.into()))?;
            earliest = match (earliest, found) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            batches.extend(kept);
        }
        if let Some((_, bad, why)) = earliest {
            return Ok((Some((bad, why)), Vec::new()));
        }
        batches.sort_unstable_by_key(|(first, _)| *first);
        let leaves = batches.into_iter().flat_map(|(_, leaves)| leaves).collect();
        Ok((None, leaves))
    }
}

pub(super) fn hashing_failed(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "verifying the audit chain: {e}"
    )))
}

/// Does `hash` match the entry stored in `row` (its text columns in [`ROW_TEXTS`] order) chained
/// after `prev`? False too when a JSON column is not canonical.
pub(super) fn hash_holds(
    seq: i64,
    row: &[Option<&str>; ROW_TEXTS],
    prev: &str,
    hash: &str,
    buf: &mut Vec<u8>,
) -> bool {
    buf.clear();
    if !encode_stored(seq, row, buf) {
        return false;
    }
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(&buf[..]);
    let mut hex = [0u8; 64];
    hex::encode_to_slice(h.finalize(), &mut hex).is_ok()
        && hash.as_bytes().strip_prefix(b"sha256:") == Some(&hex[..])
}

/// Writes to `out` the canonical encoding of the entry stored in `row`: byte for byte what
/// [`Entry::hash`] hashes for [`AuditRow::strict_entry`]. A JSON column is copied as stored,
/// which is the same bytes only because it is checked first to be exactly what serde_json
/// writes for its value (so no byte can move between columns, and no whitespace or escape
/// can differ); when one is not, nothing is hashed and the answer is false.
pub(in crate::audit) fn encode_stored(
    seq: i64,
    row: &[Option<&str>; ROW_TEXTS],
    out: &mut Vec<u8>,
) -> bool {
    out.extend_from_slice(b"{\"seq\":");
    if serde_json::to_writer(&mut *out, &seq).is_err() {
        return false;
    }
    for (&(name, kind), &text) in ENTRY_COLUMNS.iter().zip(row) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        let written = match (kind, text) {
            (Kind::Text | Kind::OptText, text) => serde_json::to_writer(&mut *out, &text).is_ok(),
            (Kind::List, Some(text)) if canonical_list(text) => {
                out.extend_from_slice(text.as_bytes());
                true
            }
            (Kind::Value, Some(text)) if canonical_value(text) => {
                out.extend_from_slice(text.as_bytes());
                true
            }
            _ => false,
        };
        if !written {
            return false;
        }
    }
    out.push(b'}');
    true
}
