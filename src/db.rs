//! Storage: SQLite (embedded default) or PostgreSQL, the same schema and queries on both.
//!
//! Queries are written once with `$N` placeholders and run on either pool through
//! [`with_db!`], which expands the same code for each database so both are type-checked.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub mod bulk;
mod probe;

pub use probe::Probe;

/// How long the broker waits on the database before it answers 503 (`[database]` in
/// `broker.toml`). A partition drops packets without a reset, so only the client can bound a
/// round trip: a server-side timeout never reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// For a pooled connection (opening one included) and for a turn at the writer.
    pub acquire: Duration,
    /// Each round trip of the writer; SQLite's wait for another process's lock.
    pub round_trip: Duration,
    /// A request unanswered this long is checked against the probe.
    pub stall: Duration,
    /// The probe's deadline (`/readyz`, the stall check).
    pub probe: Duration,
    /// PostgreSQL's server-side `statement_timeout` (and `idle_in_transaction_session_timeout`).
    pub statement: Duration,
}

impl Bounds {
    /// The bounds `[database]` sets.
    pub fn of(c: &crate::config::DatabaseConfig) -> Bounds {
        let ms = Duration::from_millis;
        Bounds {
            acquire: ms(c.acquire_timeout_ms),
            round_trip: ms(c.round_trip_timeout_ms),
            stall: ms(c.stall_timeout_ms),
            probe: ms(c.probe_timeout_ms),
            statement: ms(c.statement_timeout_ms),
        }
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::of(&crate::config::DatabaseConfig::default())
    }
}

/// Runs `round_trip`, or fails with an I/O time-out (unavailable: 503) once `limit` has passed.
/// A future dropped on expiry drops what it owned: a [`Tx`] closes its connection.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    round_trip: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, sqlx::Error> {
    match tokio::time::timeout(limit, round_trip).await {
        Ok(answer) => answer,
        Err(_) => Err(timed_out(what, limit)),
    }
}

/// The error of a round trip that got no answer within `limit`.
pub fn timed_out(what: &str, limit: Duration) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("{what}: no answer within {} ms", limit.as_millis()),
    ))
}

/// The database. SQLite has one writer connection (so writes, and the audit chain, are
/// serialised in the process) and a pool of readers; PostgreSQL one pool.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever (reading) pool `$db` holds.
#[macro_export]
macro_rules! with_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite { read: $pool, .. } => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}

impl Db {
    /// Connects for a tool (`bench-seed`, `audit verify`, tests reading behind the broker's
    /// back): long waits (10 s for a connection or a lock), no server-side statement timeout.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Self::open(url, max_connections, None).await
    }

    /// Connects for serving: the pools wait `bounds.acquire` for a connection, SQLite waits
    /// `bounds.round_trip` for another process's lock, and PostgreSQL sessions carry
    /// `statement_timeout` and `idle_in_transaction_session_timeout` (`bounds.statement`: a
    /// batch cut off by a partition lets go of the audit head's lock on the server).
    pub async fn connect_bounded(
        url: &str,
        max_connections: u32,
        bounds: &Bounds,
    ) -> anyhow::Result<Db> {
        Self::open(url, max_connections, Some(bounds)).await
    }

    /// Connects; a SQLite file (and its directory) is created on first run, in WAL mode with
    /// foreign keys on and `synchronous=FULL`, so an acknowledged write survives a power cut.
    async fn open(url: &str, max_connections: u32, bounds: Option<&Bounds>) -> anyhow::Result<Db> {
        let acquire = bounds.map_or(Duration::from_secs(10), |b| b.acquire);
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| "parsing the sqlite database url".to_string())?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(bounds.map_or(Duration::from_secs(10), |b| b.round_trip));
            if let Some(dir) = Path::new(options.get_filename()).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("creating the database directory {}", dir.display())
                })?;
            }
            // no ping before each use: a local file cannot drop a connection, and the ping is
            // a round trip to the connection's worker thread on every query
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(bounds.map_or(Duration::from_secs(30), |b| b.acquire))
                .connect_with(options.clone())
                .await
                .context("opening the sqlite database")?;
            let read = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await
                .context("opening the sqlite database")?;
            Ok(Db::Sqlite { read, write })
        } else {
            let mut options =
                PgConnectOptions::from_str(url).context("parsing the postgres url")?;
            if let Some(b) = bounds {
                let ms = |d: Duration| d.as_millis().to_string();
                options = options.options([
                    ("statement_timeout", ms(b.statement)),
                    ("idle_in_transaction_session_timeout", ms(b.statement)),
                ]);
            }
            // no ping before each use (a round trip per query); a connection the server has
            // closed fails its query (503) and is dropped from the pool
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await
                .context("connecting to postgres")?;
            Ok(Db::Postgres(pool))
        }
    }

    /// Applies the migrations for this database (`migrations/sqlite` or `migrations/postgres`).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite").run(write).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        with_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }

    /// Starts a write transaction (on SQLite, on the single writer connection, taking the
    /// write lock at once) on a connection the transaction owns. See [`Tx`].
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { write, .. } => {
                Tx::Sqlite(Conn::begin(write.acquire().await?, "BEGIN IMMEDIATE").await?)
            }
            Db::Postgres(pool) => Tx::Postgres(Conn::begin(pool.acquire().await?, "BEGIN").await?),
        })
    }
}

/// A write transaction on either database.
///
/// The broker begins and ends it with its own statements on a connection it holds, rather
/// than through sqlx's transaction manager, so that a failure cannot leave the connection in a
/// state the next transaction inherits: SQLite rolls a whole transaction back by itself on some
/// errors (`SQLITE_FULL`, `SQLITE_IOERR`, ...), after which sqlx's idea of the nesting depth no
/// longer matches the connection's and a later "transaction" silently never commits. A `Tx`
/// that is dropped before it has committed or rolled back, or whose `COMMIT` or `ROLLBACK`
/// fails, closes its connection instead of returning it to the pool: the database discards
/// whatever the connection held, and the next transaction starts on a fresh connection.
pub enum Tx {
    Sqlite(Conn<sqlx::Sqlite>),
    Postgres(Conn<sqlx::Postgres>),
}

/// The connection of a [`Tx`]; dereferences to the driver's connection (`&mut **c` executes).
pub struct Conn<DB: sqlx::Database> {
    conn: Option<sqlx::pool::PoolConnection<DB>>,
    /// A transaction is (or may be) open on the connection.
    open: bool,
}

impl<DB: sqlx::Database> Conn<DB>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    async fn begin(
        conn: sqlx::pool::PoolConnection<DB>,
        statement: &'static str,
    ) -> Result<Conn<DB>, sqlx::Error> {
        let mut conn = Conn {
            conn: Some(conn),
            open: true,
        };
        conn.run(statement).await?;
        Ok(conn)
    }

    async fn run(&mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(statement)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    /// Ends the transaction with `statement`; on success the connection goes back to the pool,
    /// on failure it is closed.
    async fn end(mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        self.run(statement).await?;
        self.open = false;
        Ok(())
    }
}

impl<DB: sqlx::Database> std::ops::Deref for Conn<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        self.conn.as_ref().expect("a transaction's connection")
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn.as_mut().expect("a transaction's connection")
    }
}

impl<DB: sqlx::Database> Drop for Conn<DB> {
    fn drop(&mut self) {
        if self.open
            && let Some(conn) = self.conn.as_mut()
        {
            // never reuse a connection whose transaction state is not known to be clean
            conn.close_on_drop();
        }
    }
}

/// Runs `$body` with `$conn` bound to the transaction's connection (`&mut **$conn` executes).
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $crate::db::WriteOn::tx_mut(&mut *$tx) {
            $crate::db::Tx::Sqlite($conn) => $body,
            $crate::db::Tx::Postgres($conn) => $body,
        }
    };
}

/// What [`on_tx!`] runs on: a transaction, or an action of the group-commit writer.
pub trait WriteOn<'a> {
    fn tx_mut(self) -> &'a mut Tx;
}

impl<'a> WriteOn<'a> for &'a mut Tx {
    fn tx_mut(self) -> &'a mut Tx {
        self
    }
}

impl Tx {
    /// Commits. If the commit fails, the connection is closed (the database rolls back
    /// whatever the transaction held) and the error is returned: nothing is to be taken as
    /// stored.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.end("COMMIT").await,
            Tx::Postgres(c) => c.end("COMMIT").await,
        }
    }

    /// Rolls back; if that fails, the connection is closed, which rolls back too.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(c) => c.end("ROLLBACK").await,
            Tx::Postgres(c) => c.end("ROLLBACK").await,
        }
    }
}

/// Is `e` the database being unable to serve (unreachable, shut down, out of space, locked,
/// read-only, refusing this role, or a connection lost mid-statement), rather than a bug in a
/// query? The first answers 503; the rest stay 500, so a real bug is never hidden as a fault.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    use sqlx::Error as E;
    match e {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::BeginFailed => true,
        E::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                sqlite_unavailable(code)
            } else {
                postgres_unavailable(code)
            }
        }
        _ => false,
    }
}

/// SQLite result codes (the primary code is the low byte of the extended one) that are the
/// file or the system failing: PERM, BUSY, LOCKED, NOMEM, READONLY, INTERRUPT, IOERR,
/// CORRUPT, FULL, CANTOPEN, PROTOCOL, AUTH, NOTADB.
fn sqlite_unavailable(code: &str) -> bool {
    let Ok(extended) = code.parse::<i32>() else {
        return false;
    };
    matches!(
        extended & 0xff,
        3 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 13 | 14 | 15 | 23 | 26
    )
}

/// PostgreSQL SQLSTATEs that are the server or its operator refusing: connection exceptions
/// (08), transaction rollbacks (40: serialization, deadlock), insufficient resources (53),
/// program limits (54), object not in prerequisite state (55: a database not accepting
/// connections, a lock not available), operator intervention (57: shutdown, terminated,
/// cannot connect now), system errors (58), configuration file errors (F0), internal errors
/// (XX), a read-only transaction (25006) and insufficient privilege (42501: a revoked grant).
fn postgres_unavailable(code: &str) -> bool {
    let class = code.get(..2).unwrap_or("");
    matches!(
        class,
        "08" | "40" | "53" | "54" | "55" | "57" | "58" | "F0" | "XX"
    ) || matches!(code, "25006" | "42501" | "28000" | "28P01")
}

impl From<sqlx::Error> for crate::error::ApiError {
    /// A database that cannot serve is 503; any other database error is a bug (500).
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            crate::error::ApiError::unavailable(format!("{e:?}"))
        } else {
            crate::error::ApiError::internal(format!("{e:?}"))
        }
    }
}

/// An instant as the broker stores it: RFC 3339, UTC, microseconds (sorts as text).
pub fn ts(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a stored instant.
pub fn parse_ts(text: &str) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The current instant truncated to what is stored (microseconds).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_faults_of_the_file_or_system_are_unavailable_and_query_errors_are_not() {
        // FULL, its extended IOERR_WRITE, BUSY, LOCKED, READONLY, CANTOPEN
        for code in ["13", "778", "5", "6", "8", "14"] {
            assert!(sqlite_unavailable(code), "{code}");
        }
        // ERROR (a bad statement), CONSTRAINT_UNIQUE, MISMATCH, not a number
        for code in ["1", "2067", "20", "x"] {
            assert!(!sqlite_unavailable(code), "{code}");
        }
    }

    #[test]
    fn postgres_refusals_are_unavailable_and_query_errors_are_not() {
        // admin shutdown, cannot connect now, connection failure, database not accepting
        // connections, too many connections, revoked grant, read-only, deadlock
        for code in [
            "57P01", "57P03", "08006", "55000", "53300", "42501", "25006", "40P01",
        ] {
            assert!(postgres_unavailable(code), "{code}");
        }
        // syntax error, undefined column, unique violation, invalid text (a NUL byte)
        for code in ["42601", "42703", "23505", "22021"] {
            assert!(!postgres_unavailable(code), "{code}");
        }
    }

    #[tokio::test]
    async fn a_round_trip_past_its_bound_fails_as_unavailable() {
        let stalled = std::future::pending::<Result<(), sqlx::Error>>();
        let e = within(Duration::from_millis(10), "COMMIT", stalled)
            .await
            .unwrap_err();
        assert!(is_unavailable(&e), "{e}");
        assert!(
            e.to_string().contains("COMMIT: no answer within 10 ms"),
            "{e}"
        );
    }

    #[test]
    fn transport_failures_are_unavailable() {
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::Io(std::io::Error::other(
            "reset"
        ))));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
    }
}
