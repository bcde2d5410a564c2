//! Verifying the chain: every entry's hash recomputed from the stored columns, fast enough
//! for millions of entries.

use super::*;

mod canonical;
mod hashing;
mod pages;
#[cfg(test)]
mod tests;

use canonical::*;
use hashing::*;
use pages::*;

// The export writes each entry's canonical line as verification hashes it.
pub(super) use hashing::encode_stored;
pub(super) use pages::ROW_TEXTS;

/// The result of verifying the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct Verification {
    pub ok: bool,
    pub entries: i64,
    pub head_hash: String,
    pub first_bad_seq: Option<i64>,
}

/// Walks the whole chain in seq order, recomputing every hash. The first bad seq is the first
/// position where the chain does not hold: a missing seq, a seq out of order, a prev_hash that
/// is not the previous entry's hash, a JSON column not in the canonical form the broker writes,
/// or a hash that does not match the entry's content; and a head that does not match the last
/// entry (truncation) names the seq after it.
///
/// The head and the entries are read in one snapshot (one read transaction), so appends made
/// while it runs are never mistaken for tampering.
///
/// It is built for millions of entries. The rows are read in batches, and each batch is checked
/// on a blocking thread while the next is read: a row is checked against the stored hash of the
/// row before it, so batches are independent and the earliest bad one names the first bad seq.
/// The canonical encoding is assembled from the stored column text ([`encode_stored`]) rather
/// than by parsing and re-serialising every JSON column, after checking each JSON column is
/// exactly what the broker would have written, so the verdict is the one hashing
/// [`AuditRow::strict_entry`] gives.
pub async fn verify(db: &Db) -> Result<Verification, sqlx::Error> {
    let scanned = scan(db, Span::whole()).await?;
    let (head_seq, head_hash) = scanned.head;
    let entries = scanned.rows;
    let mut first_bad = scanned.first_bad.map(|(seq, _)| seq);
    if first_bad.is_none() && (head_seq != entries || head_hash != scanned.last_hash) {
        first_bad = Some((entries + 1).min(head_seq.max(1)));
    }
    Ok(Verification {
        ok: first_bad.is_none(),
        entries,
        head_hash,
        first_bad_seq: first_bad,
    })
}

/// The stretch of the log a [`scan`] reads: seq `from` to `to` (both included), where the entry
/// before the first it expects (`from`, or 1 if `from` is lower) has the stored hash `prev`;
/// and whether to keep each entry's tree leaf.
#[derive(Debug, Clone)]
pub(in crate::audit) struct Span {
    pub from: i64,
    pub to: i64,
    pub prev: String,
    pub leaves: bool,
}

impl Span {
    /// The whole chain from the genesis hash, every row whatever its seq (a row stored with a
    /// seq below 1 is out of place).
    pub fn whole() -> Span {
        Span {
            from: i64::MIN,
            to: i64::MAX,
            prev: GENESIS.to_owned(),
            leaves: false,
        }
    }
}

/// Why an entry does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(in crate::audit) enum Fault {
    /// Its seq is not the next one: an entry is missing, or out of place.
    Missing,
    /// Its `prev_hash` is not the stored hash of the entry before it.
    Unchained,
    /// Its hash does not match its content (or a column is not in the form the broker writes).
    Altered,
}

/// What a [`scan`] found.
#[derive(Debug)]
pub(in crate::audit) struct Scanned {
    /// `(seq, hash)` of `audit_head`, in the scan's snapshot.
    pub head: (i64, String),
    /// The position of the last row read: the one before the first expected, plus the rows
    /// read (so for the whole chain, the number of rows).
    pub rows: i64,
    /// The stored hash of the last row read (the span's `prev` if none).
    pub last_hash: String,
    /// The first entry that does not hold, and why.
    pub first_bad: Option<(i64, Fault)>,
    /// Each row's tree leaf in seq order, if the span asked for them and every row holds.
    pub leaves: Vec<tree::Hash>,
}

/// Reads `span` of the log and `audit_head` in one snapshot (one read transaction), checking
/// every row's seq, link and hash: pages of rows are read while the pages before them are
/// checked on threads ([`Hashers`]), so the cost is what is read, at the rate of the whole
/// chain's [`verify`].
pub(in crate::audit) async fn scan(db: &Db, span: Span) -> Result<Scanned, sqlx::Error> {
    let hashers = Hashers::start(hashing_threads(), span.leaves);
    let mut reader = Reader::new(span.from.max(1) - 1, &span.prev);
    let head = match db {
        Db::Sqlite { read, .. } => {
            let mut tx = read.begin().await?;
            read_sqlite(&mut tx, &mut reader, &hashers, &span).await?
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            let head = read_head!(&mut *tx);
            read_columns!(&mut *tx, reader, hashers, span);
            head
        }
    };
    let (rows, last_hash, rest) = reader.finish();
    if let Some(batch) = rest {
        hashers.send(batch).await?;
    }
    let (first_bad, leaves) = hashers.finish().await?;
    Ok(Scanned {
        head,
        rows,
        last_hash,
        first_bad,
        leaves,
    })
}

/// `(seq, hash)` of `audit_head`, read on `$conn`.
macro_rules! read_head {
    ($conn:expr) => {{
        let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one($conn)
            .await?;
        let head: (i64, String) = (row.try_get("seq")?, row.try_get("hash")?);
        head
    }};
}
use read_head;

/// Streams every row of [`VERIFY_SQL`] in `$span` on `$conn` into `$reader`, handing full
/// batches to `$hashers`.
macro_rules! read_columns {
    ($conn:expr, $reader:expr, $hashers:expr, $span:expr) => {{
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(VERIFY_SQL.as_str())
            .bind($span.from)
            .bind($span.to)
            .fetch($conn);
        while let Some(row) = rows.try_next().await? {
            if let Some(batch) = $reader.push(&row)? {
                $hashers.send(batch).await?;
            }
        }
    }};
}
use read_columns;

/// Reads the head and every row on SQLite: a page of [`PAGE_ROWS`] rows at a time, each page
/// one value ([`page_sql`]) handed as it is to a hashing thread to split, where the database is
/// UTF-8 (a frame's lengths count bytes in the database's encoding); column by column otherwise.
async fn read_sqlite(
    conn: &mut sqlx::SqliteConnection,
    reader: &mut Reader,
    hashers: &Hashers,
    span: &Span,
) -> Result<(i64, String), sqlx::Error> {
    let head = read_head!(&mut *conn);
    let encoding: String = sqlx::query_scalar("PRAGMA encoding")
        .fetch_one(&mut *conn)
        .await?;
    if encoding != "UTF-8" {
        read_columns!(&mut *conn, reader, hashers, span);
        return Ok(head);
    }
    let sql = page_sql();
    let mut from = span.from;
    while from <= span.to {
        let page = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
            .bind(span.to)
            .fetch_one(&mut *conn)
            .await?;
        let rows: i64 = page.try_get(0)?;
        if rows == 0 {
            return Ok(head);
        }
        let batch = reader.page(rows, page.try_get(2)?, page.try_get(3)?);
        hashers.send(batch).await?;
        match page.try_get::<i64, _>(1)?.checked_add(1) {
            Some(next) => from = next,
            None => return Ok(head),
        }
    }
    Ok(head)
}

/// What [`scan`] reads column by column (on PostgreSQL) from seq `$1` to `$2`: the entry's
/// columns in [`Entry`]'s field order, then the links.
static VERIFY_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
        super::columns()
    )
});
