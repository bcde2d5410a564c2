//! Group commit: every write of the process goes through one [`Writer`], which gathers
//! concurrent actions into one database transaction and answers each only after that
//! transaction has committed durably (SQLite `synchronous=FULL`, PostgreSQL
//! `synchronous_commit=on`). One fsync then covers many actions.
//!
//! An action runs inside the open batch under a savepoint: [`Writer::begin`] waits its turn
//! (a fair queue), opens the batch if none is open (locking the audit chain's head, so the
//! chain stays linear across processes), and sets the savepoint. [`WriteTx::commit`] appends
//! the action's audit entry, releases the savepoint, and waits for the batch to commit. An
//! action that fails or is dropped before it commits is rolled back to its savepoint by the
//! next holder, so a batch never carries half an action, and the audit head in memory is put
//! back with it.
//!
//! The committer is a task that, once woken, queues for the batch like any action: the
//! actions already waiting go first (they join the batch), then it stores the chain's head
//! and commits. Actions arriving during the commit queue for the next batch.
//!
//! Every wait is bounded ([`Bounds`]): a turn by `acquire`, each round trip on the batch's
//! connection (begin, the head's lock, savepoints, the head's store, commit) by `round_trip`.
//! A round trip past its bound abandons the batch: its connection is closed, never reused, and
//! every action in it is answered 503. A `COMMIT` that timed out may still land on the server
//! (the outcome is unknown), so it is never answered 2xx.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};

use crate::audit::{AuditRow, Chain, Entry};
use crate::db::{Bounds, Db, Tx, within};
use crate::error::ApiError;
use crate::on_tx;

/// The size of the probe row's filler: a few packets.
const PROBE_BYTES: usize = 64 * 1024;

/// The process's single writer. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    bounds: Bounds,
    batch: Arc<Mutex<Batch>>,
    wake: Arc<Notify>,
    stats: Arc<Stats>,
}

/// What the writer has committed since it started.
#[derive(Debug, Default)]
pub struct Stats {
    batches: AtomicU64,
    actions: AtomicU64,
    failed_batches: AtomicU64,
    /// Cleared by a failed batch, set by a committed one.
    unwritable: std::sync::atomic::AtomicBool,
    /// Append and commit latencies and batch sizes (the process's metrics register them).
    timings: crate::metrics::WriteTimings,
}

impl Stats {
    /// (batches committed, actions committed in them)
    pub fn committed(&self) -> (u64, u64) {
        (
            self.batches.load(Ordering::Relaxed),
            self.actions.load(Ordering::Relaxed),
        )
    }

    /// Batches that failed (rolled back whole, every action in them answered 503).
    pub fn failed_batches(&self) -> u64 {
        self.failed_batches.load(Ordering::Relaxed)
    }

    /// The histograms of the write path (`broker_audit_append_seconds`,
    /// `broker_audit_commit_seconds`, `broker_writer_batch_actions`).
    pub fn timings(&self) -> &crate::metrics::WriteTimings {
        &self.timings
    }

    fn batch_ended(&self, committed: bool, actions: usize) {
        if committed {
            self.timings.batch_actions.observe(actions as f64);
            self.batches.fetch_add(1, Ordering::Relaxed);
            self.actions.fetch_add(actions as u64, Ordering::Relaxed);
        } else {
            self.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.unwritable.store(!committed, Ordering::Relaxed);
    }
}

struct Batch {
    open: Option<Open>,
    /// The last holder left its action unfinished: roll back to its savepoint first.
    dirty: bool,
    stats: Arc<Stats>,
}

/// An open batch transaction.
struct Open {
    tx: Tx,
    chain: Chain,
    /// The chain as it was when the current action's savepoint was set.
    saved: Chain,
    /// Entries appended by actions that read nothing of the audit log
    /// ([`Writer::begin_deferring`]), each with the records it names, linked into `chain` but
    /// written only when the batch is stored (or before an action that may read them):
    /// `deferred[..flushed]` are written.
    deferred: Vec<(AuditRow, Vec<String>)>,
    flushed: usize,
    /// `(deferred.len(), flushed)` when the current action's savepoint was set.
    saved_deferred: (usize, usize),
    /// Actions committed into this batch so far, waiting for it.
    actions: usize,
    /// The savepoint the next action starts from is set (it is set again together with each
    /// release, and a rollback to it keeps it, saving a round trip per action).
    savepoint: bool,
    /// `Some(Ok)` once the batch has committed, `Some(Err(why))` once it has failed.
    done: watch::Sender<Option<Result<(), Arc<str>>>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

/// The 503 of a failed write (its cause is logged, rate-limited, where it is answered).
fn failed(what: &str, e: sqlx::Error) -> ApiError {
    ApiError::unavailable(format!("write or audit failed: {what}: {e}"))
}

/// One statement on the batch's connection, bounded by `limit`.
async fn exec(tx: &mut Tx, sql: &'static str, limit: Duration) -> Result<(), sqlx::Error> {
    within(limit, sql, async {
        on_tx!(tx, c => sqlx::query(sql).execute(&mut **c).await.map(drop))
    })
    .await
}

fn timed_out(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

impl Writer {
    /// Starts the writer (and its committer task) on `db` with the default bounds. Needs a
    /// tokio runtime.
    pub fn start(db: Db) -> Writer {
        Self::start_with(db, Bounds::default())
    }

    /// Starts the writer with `bounds` on its turns and round trips.
    pub fn start_with(db: Db, bounds: Bounds) -> Writer {
        let stats = Arc::new(Stats::default());
        let inner = Arc::new(Inner {
            db,
            bounds,
            batch: Arc::new(Mutex::new(Batch {
                open: None,
                dirty: false,
                stats: stats.clone(),
            })),
            wake: Arc::new(Notify::new()),
            stats,
        });
        tokio::spawn(committer(Arc::downgrade(&inner), inner.wake.clone()));
        Writer { inner }
    }

    /// Batches and actions committed so far.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Did the last batch commit? False from a failed batch until one commits again.
    pub fn writable(&self) -> bool {
        !self.inner.stats.unwritable.load(Ordering::Relaxed)
    }

    /// Rewrites the probe row with 64 KiB of random bytes (an action with no audit entry:
    /// the head is written back unchanged) and waits for the commit: whether the database can
    /// take a write of a real size now. A success makes the writer [`writable`](Self::writable).
    pub async fn probe(&self) -> Result<(), ApiError> {
        let mut filler = vec![0u8; PROBE_BYTES];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut filler);
        let mut action = self.begin().await?;
        on_tx!(&mut action, c => sqlx::query(
            "INSERT INTO write_probe (id, at, filler) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET at = excluded.at, filler = excluded.filler")
            .bind(crate::db::ts(crate::db::now()))
            .bind(&filler)
            .execute(&mut **c)
            .await
            .map(drop))
        .map_err(|e| failed("writing the probe row", e))?;
        action.finish().await
    }

    /// Waits its turn and starts an action inside the open batch (opening one if needed). The
    /// action sees every entry appended before it, and its own entries are written as it
    /// appends them.
    pub async fn begin(&self) -> Result<WriteTx, ApiError> {
        self.begin_action(false).await
    }

    /// [`begin`](Self::begin) for an action whose statements read nothing of the audit log
    /// and refer to no entry (no `audit_records` read, no foreign key to `audit_log`): its
    /// entries are linked into the chain at once (their `seq` is known) but written with the
    /// batch's others when the batch is stored, a round trip saved per entry. Until then they
    /// are not in the database, so only an action that cannot tell may take this.
    pub async fn begin_deferring(&self) -> Result<WriteTx, ApiError> {
        self.begin_action(true).await
    }

    async fn begin_action(&self, deferring: bool) -> Result<WriteTx, ApiError> {
        let Bounds {
            acquire,
            round_trip,
            ..
        } = self.inner.bounds;
        let Ok(mut batch) =
            tokio::time::timeout(acquire, self.inner.batch.clone().lock_owned()).await
        else {
            return Err(ApiError::unavailable(format!(
                "write or audit failed: no turn at the writer within {} ms",
                acquire.as_millis()
            )));
        };
        settle(&mut batch, round_trip).await;
        if batch.open.is_none() {
            // a batch always starts from the head as stored: never from one a failed batch
            // advanced in memory
            let opened = async {
                let mut tx = within(
                    acquire + round_trip,
                    "opening a write transaction",
                    self.inner.db.begin(),
                )
                .await
                .map_err(|e| failed("opening a write transaction", e))?;
                // on failure the transaction is dropped, closing its connection
                let chain = within(round_trip, "locking the audit head", Chain::lock(&mut tx))
                    .await
                    .map_err(|e| failed("locking the audit head", e))?;
                Ok::<_, ApiError>((tx, chain))
            };
            let (tx, chain) = match opened.await {
                Ok(opened) => opened,
                Err(e) => {
                    batch.stats.batch_ended(false, 0);
                    return Err(e);
                }
            };
            batch.open = Some(Open {
                tx,
                saved: chain.clone(),
                chain,
                deferred: Vec::new(),
                flushed: 0,
                saved_deferred: (0, 0),
                actions: 0,
                savepoint: false,
                done: watch::channel(None).0,
            });
        }
        let open = batch.open.as_mut().expect("a batch is open");
        if !open.savepoint {
            if let Err(e) = exec(&mut open.tx, "SAVEPOINT action", round_trip).await {
                abandon(&mut batch, &e);
                return Err(failed("setting a savepoint", e));
            }
            open.savepoint = true;
        }
        open.saved = open.chain.clone();
        open.saved_deferred = (open.deferred.len(), open.flushed);
        if !deferring && let Err(e) = flush(open, round_trip).await {
            abandon(&mut batch, &e);
            return Err(failed("writing the batch's audit entries", e));
        }
        Ok(WriteTx {
            batch: Some(batch),
            wake: self.inner.wake.clone(),
            round_trip,
            after: Vec::new(),
            deferring,
            wrote: false,
        })
    }
}

/// One action inside the open batch. Run statements on [`WriteTx::tx`], then
/// [`WriteTx::commit`] with the action's audit entry. Dropping it undoes the action.
pub struct WriteTx {
    batch: Option<OwnedMutexGuard<Batch>>,
    wake: Arc<Notify>,
    round_trip: Duration,
    /// Run once the batch holding the action has committed; dropped with an undone action.
    after: Vec<AfterCommit>,
    /// Its entries wait to be written with the batch ([`Writer::begin_deferring`]).
    deferring: bool,
    /// It may have written: it ran a statement through [`WriteTx::tx`], or wrote an entry.
    wrote: bool,
}

/// What an action has the writer do once it is durable (it must not block: spawn the work).
pub type AfterCommit = Box<dyn FnOnce() + Send>;

impl WriteTx {
    fn open(&mut self) -> &mut Open {
        self.batch
            .as_mut()
            .and_then(|b| b.open.as_mut())
            .expect("an action holds an open batch")
    }

    /// The transaction to run the action's statements on.
    pub fn tx(&mut self) -> &mut Tx {
        self.wrote = true;
        &mut self.open().tx
    }

    /// The transaction, for a statement that only reads. An action that has run nothing else
    /// (and whose entries are deferred) leaves the database as it found it, so it is finished
    /// without the round trip that sets the next action's savepoint: the one set before it
    /// still marks where the next action starts.
    pub fn tx_for_reading(&mut self) -> &mut Tx {
        &mut self.open().tx
    }

    /// Appends an audit entry inside the action (an action that records more than one).
    pub async fn append(&mut self, entry: Entry) -> Result<i64, ApiError> {
        let round_trip = self.round_trip;
        let started = std::time::Instant::now();
        let deferring = self.deferring;
        self.wrote |= !deferring;
        let open = self.open();
        let appended = if deferring {
            let records = entry.record_ids.clone();
            let row = open.chain.link_row(entry);
            open.deferred.push((row, records));
            Ok(open.chain.seq)
        } else {
            within(
                round_trip,
                "appending the audit entry",
                open.chain.append(&mut open.tx, entry),
            )
            .await
        };
        if appended.is_ok()
            && let Some(batch) = self.batch.as_ref()
        {
            batch
                .stats
                .timings
                .append
                .observe(started.elapsed().as_secs_f64());
        }
        appended.map_err(|e| {
            if timed_out(&e)
                && let Some(batch) = self.batch.as_mut()
            {
                // the connection's state is unknown: never reuse it
                abandon(batch, &e);
            }
            failed("appending the audit entry", e)
        })
    }

    /// Has `then` run once the batch holding this action has committed (never if the action is
    /// undone or its batch fails): what must follow a write but must not be part of it, such
    /// as telling a recipient that a packet waits.
    pub fn after_commit(&mut self, then: AfterCommit) {
        self.after.push(then);
    }

    /// Appends the action's audit entry and waits until the batch holding both has committed.
    /// If either fails, nothing of the action stays and the answer is 503.
    pub async fn commit(mut self, entry: Entry) -> Result<i64, ApiError> {
        let seq = self.append(entry).await?;
        self.finish().await?;
        Ok(seq)
    }

    /// Releases the action's savepoint (setting the next one in the same round trip; none for
    /// an action that only read, [`WriteTx::tx_for_reading`]) and waits for the batch to commit.
    pub async fn finish(mut self) -> Result<(), ApiError> {
        let round_trip = self.round_trip;
        let wrote = self.wrote;
        let open = self.open();
        let released = if wrote {
            within(round_trip, "releasing a savepoint", async {
                on_tx!(&mut open.tx, c => sqlx::raw_sql("RELEASE SAVEPOINT action; SAVEPOINT action")
                        .execute(&mut **c)
                        .await
                        .map(drop))
            })
            .await
        } else {
            Ok(())
        };
        if let Err(e) = released {
            // the action may be half in the batch: the whole batch is abandoned
            if let Some(batch) = self.batch.as_mut() {
                abandon(batch, &e);
            }
            return Err(failed("releasing a savepoint", e));
        }
        open.actions += 1;
        let mut done = open.done.subscribe();
        self.batch.take();
        self.wake.notify_one();
        let ended = done.wait_for(Option::is_some).await.map(|d| d.clone());
        match ended {
            Ok(Some(Ok(()))) => {
                for then in std::mem::take(&mut self.after) {
                    then();
                }
                Ok(())
            }
            Ok(Some(Err(why))) => Err(ApiError::unavailable(format!(
                "write or audit failed: the batch holding this action did not commit: {why}"
            ))),
            _ => Err(ApiError::unavailable(
                "write or audit failed: the batch holding this action did not commit",
            )),
        }
    }
}

impl<'a> crate::db::WriteOn<'a> for &'a mut WriteTx {
    fn tx_mut(self) -> &'a mut Tx {
        self.tx()
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if let Some(batch) = &mut self.batch {
            batch.dirty = true;
            self.wake.notify_one();
        }
    }
}

/// Writes the entries deferred so far in the batch (two statements however many there are).
async fn flush(open: &mut Open, round_trip: Duration) -> Result<(), sqlx::Error> {
    if open.flushed == open.deferred.len() {
        return Ok(());
    }
    within(
        round_trip,
        "writing the batch's audit entries",
        crate::audit::insert_linked(&mut open.tx, &open.deferred[open.flushed..]),
    )
    .await?;
    open.flushed = open.deferred.len();
    Ok(())
}

/// Undoes an unfinished action left by the last holder (and its audit links).
async fn settle(batch: &mut Batch, round_trip: Duration) {
    if !std::mem::take(&mut batch.dirty) {
        return;
    }
    let Some(open) = batch.open.as_mut() else {
        return;
    };
    open.chain = open.saved.clone();
    // entries it deferred are dropped; entries written during it are undone with it
    let (deferred, flushed) = open.saved_deferred;
    open.deferred.truncate(deferred);
    open.flushed = flushed;
    // the savepoint stays set after a rollback to it, for the next action
    if let Err(e) = exec(&mut open.tx, "ROLLBACK TO SAVEPOINT action", round_trip).await {
        tracing::debug!(error = ?e, "undoing an unfinished action failed; the batch is abandoned");
        abandon(batch, &e);
    }
}

/// Abandons the open batch after a failed statement: its transaction is dropped, which
/// closes its connection (the database rolls everything in it back), and every action that
/// joined it is answered 503. The next batch starts on a fresh connection from the stored head.
fn abandon(batch: &mut Batch, why: &sqlx::Error) {
    if let Some(open) = batch.open.take() {
        batch.stats.batch_ended(false, open.actions);
        let _ = open.done.send(Some(Err(Arc::from(why.to_string()))));
    }
}

/// Commits the open batch whenever woken, after the actions already queued have joined it.
async fn committer(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(inner) = inner.upgrade() else { return };
        let stats = inner.stats.clone();
        let round_trip = inner.bounds.round_trip;
        let mut batch = inner.batch.clone().lock_owned().await;
        drop(inner);
        settle(&mut batch, round_trip).await;
        let Some(mut open) = batch.open.take() else {
            continue;
        };
        if open.actions == 0 {
            // nothing to commit (every action was undone): let go of the audit head
            if let Err(e) = within(round_trip, "ROLLBACK", open.tx.rollback()).await {
                tracing::debug!(error = ?e, "rolling back an empty batch failed; its connection is closed");
            }
            continue;
        }
        let started = std::time::Instant::now();
        let stored = match flush(&mut open, round_trip).await {
            Ok(()) => {
                within(
                    round_trip,
                    "storing the audit head",
                    open.chain.store(&mut open.tx),
                )
                .await
            }
            Err(e) => Err(e),
        };
        // on failure or time-out the transaction is dropped, closing its connection: a COMMIT
        // that timed out may yet land, but its actions are answered 503, never 2xx
        let committed = match stored {
            Ok(()) => within(round_trip, "COMMIT", open.tx.commit()).await,
            Err(e) => Err(e),
        };
        if committed.is_ok() {
            stats
                .timings
                .commit
                .observe(started.elapsed().as_secs_f64());
        }
        if let Err(e) = &committed {
            tracing::debug!(error = ?e, actions = open.actions, "a batch failed to commit; every action in it is answered 503");
        }
        stats.batch_ended(committed.is_ok(), open.actions);
        let _ = open
            .done
            .send(Some(committed.map_err(|e| Arc::from(e.to_string()))));
    }
}
