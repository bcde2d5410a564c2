//! Verifying the chain: every entry's hash recomputed from the stored columns, fast enough
//! for millions of entries.

use super::*;

/// The result of verifying the chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
    let hashers = Hashers::start(hashing_threads());
    let mut reader = Reader::new();
    let (head_seq, head_hash) = match db {
        Db::Sqlite { read, .. } => {
            let mut tx = read.begin().await?;
            read_sqlite(&mut tx, &mut reader, &hashers).await?
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            let head = read_head!(&mut *tx);
            read_columns!(&mut *tx, reader, hashers);
            head
        }
    };
    let (entries, last_hash, rest) = reader.finish();
    if let Some(batch) = rest {
        hashers.send(batch).await?;
    }
    let mut first_bad = hashers.finish().await?;
    if first_bad.is_none() && (head_seq != entries || head_hash != last_hash) {
        first_bad = Some((entries + 1).min(head_seq.max(1)));
    }
    Ok(Verification {
        ok: first_bad.is_none(),
        entries,
        head_hash,
        first_bad_seq: first_bad,
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

/// Streams every row of [`VERIFY_SQL`] on `$conn` into `$reader`, handing full batches to
/// `$hashers`.
macro_rules! read_columns {
    ($conn:expr, $reader:expr, $hashers:expr) => {{
        use futures_util::TryStreamExt;
        let mut rows = sqlx::query(VERIFY_SQL.as_str()).fetch($conn);
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
) -> Result<(i64, String), sqlx::Error> {
    let head = read_head!(&mut *conn);
    let encoding: String = sqlx::query_scalar("PRAGMA encoding")
        .fetch_one(&mut *conn)
        .await?;
    if encoding != "UTF-8" {
        read_columns!(&mut *conn, reader, hashers);
        return Ok(head);
    }
    let sql = page_sql();
    let mut from = i64::MIN;
    loop {
        let page = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(from)
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
}

/// What [`verify`] reads column by column (on PostgreSQL): the entry's columns in [`Entry`]'s
/// field order, then the links.
static VERIFY_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("SELECT {} FROM audit_log ORDER BY seq", super::columns()));

/// Rows per page on SQLite: a page of frames (~180 kB) small enough to be allocated from the
/// heap rather than mapped afresh each time (measured: 1,024 spent a third more time in the
/// kernel).
const PAGE_ROWS: usize = 256;

/// What [`verify`] reads on SQLite: the next [`PAGE_ROWS`] rows in seq order from seq `$1` on,
/// as their count, their last seq, its hash (SQLite takes a bare column from the row `max()`
/// chose), and their [`frame`]s back to back in one value, in the order `group_concat` meets
/// them ([`Batch::split_frames`] sorts them by seq and checks the count and the last hash).
///
/// One value per page rather than 23 per row: sqlx hands SQLite rows from its worker thread to
/// the reader one at a time, copying every value into an allocation of its own under SQLite's
/// memory mutex, and at a million rows that, not the hashing, is where the time went.
fn page_sql() -> String {
    format!(
        "SELECT count(*), max(seq), hash, group_concat(frame, '') FROM (SELECT seq, hash, {} \
         AS frame FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT {PAGE_ROWS})",
        frame()
    )
}

/// A row as one text, built by SQLite's `concat`: `<seq>:`, then every column of
/// [`VERIFY_SQL`] after seq as `<byte length>:<text>`, or just `:` for NULL. The lengths make
/// it unambiguous whatever the text holds, and a frame knows where it ends ([`parse_frame`]).
fn frame() -> String {
    let fields: Vec<String> = ENTRY_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .chain(["prev_hash", "hash"])
        .map(|c| format!("octet_length({c}), ':', {c}"))
        .collect();
    format!("concat(seq, ':', {})", fields.join(", "))
}

/// Byte ranges of a row's text columns in [`ROW_TEXTS`] order; `None` for SQL NULL.
type Spans = [Option<(usize, usize)>; ROW_TEXTS];

/// Splits the [`frame`] at the start of `text` into the seq, the byte ranges of its columns in
/// `text`, and the frame's length; `None` if it is not one.
fn parse_frame(text: &str) -> Option<(i64, Spans, usize)> {
    let bytes = text.as_bytes();
    let colon = bytes.iter().position(|&b| b == b':')?;
    let seq = text[..colon].parse().ok()?;
    let mut pos = colon + 1;
    let mut spans = [None; ROW_TEXTS];
    for span in &mut spans {
        let digits = bytes.get(pos..)?.iter().position(|&b| b == b':')?;
        let start = pos + digits + 1;
        pos = start;
        if digits > 0 {
            let len: usize = text.get(start - 1 - digits..start - 1)?.parse().ok()?;
            let end = start.checked_add(len)?;
            text.get(start..end)?;
            *span = Some((start, end));
            pos = end;
        }
    }
    Some((seq, spans, pos))
}

/// Text columns of a row as [`verify`] keeps it: the entry's, then `prev_hash` and `hash`.
const ROW_TEXTS: usize = ENTRY_COLUMNS.len() + 2;

/// A batch read column by column is handed over at this many rows or this much text.
const BATCH_ROWS: usize = 2048;
const BATCH_BYTES: usize = 4 << 20;

/// Threads that check batches: one per core (the reading side shares them).
fn hashing_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4))
}

/// Consecutive rows of `audit_log` in seq order, their text back to back.
#[derive(Debug, Default)]
struct Batch {
    /// The position of the first row (0 for the chain's first).
    first: i64,
    /// The stored hash of the row before the first ([`GENESIS`] before the chain's first).
    prev: String,
    text: String,
    /// For a page read as frames, not yet split: its row count and its last row's hash as the
    /// database reported them.
    frames: Option<(i64, String)>,
    seqs: Vec<i64>,
    /// [`ROW_TEXTS`] byte ranges into `text` per row; `None` for SQL NULL.
    spans: Vec<Option<(usize, usize)>>,
}

impl Batch {
    fn new(first: i64, prev: &str) -> Batch {
        Batch {
            first,
            prev: prev.to_owned(),
            text: String::with_capacity(BATCH_BYTES / 4),
            seqs: Vec::with_capacity(BATCH_ROWS),
            spans: Vec::with_capacity(BATCH_ROWS * ROW_TEXTS),
            ..Batch::default()
        }
    }

    fn full(&self) -> bool {
        self.seqs.len() >= BATCH_ROWS || self.text.len() >= BATCH_BYTES
    }

    /// Appends one column's text (or NULL).
    fn push_text(&mut self, text: Option<&str>) {
        let span = text.map(|t| {
            let start = self.text.len();
            self.text.push_str(t);
            (start, self.text.len())
        });
        self.spans.push(span);
    }

    /// Splits a page read as frames into rows, in seq order; an error when the frames are not
    /// what [`page_sql`] said it read.
    fn split_frames(&mut self) -> Result<(), String> {
        let Some((rows, last_hash)) = self.frames.take() else {
            return Ok(());
        };
        let mut rows_read: Vec<(i64, Spans)> = Vec::with_capacity(PAGE_ROWS);
        let mut at = 0;
        while at < self.text.len() {
            let (seq, spans, len) = self
                .text
                .get(at..)
                .and_then(parse_frame)
                .ok_or("an audit_log page that is not frames")?;
            rows_read.push((seq, spans.map(|s| s.map(|(a, b)| (at + a, at + b)))));
            at += len;
        }
        if !rows_read.is_sorted_by_key(|(seq, _)| *seq) {
            rows_read.sort_unstable_by_key(|(seq, _)| *seq);
        }
        for (seq, spans) in rows_read {
            self.seqs.push(seq);
            self.spans.extend(spans);
        }
        let last = self.seqs.len().checked_sub(1).map(|k| self.row(k));
        if self.seqs.len() as i64 != rows
            || last.map(|r| r[ROW_TEXTS - 1]) != Some(Some(&last_hash[..]))
        {
            return Err("an audit_log page that does not match its count and last hash".into());
        }
        Ok(())
    }

    /// Row `k`'s text columns.
    fn row(&self, k: usize) -> [Option<&str>; ROW_TEXTS] {
        let spans = &self.spans[k * ROW_TEXTS..(k + 1) * ROW_TEXTS];
        std::array::from_fn(|i| spans[i].and_then(|(a, b)| self.text.get(a..b)))
    }

    /// The first bad seq among the rows, checked in order (the batch's own view of
    /// [`verify`]'s rule); `buf` is scratch space for the canonical encoding.
    fn first_bad(&self, buf: &mut Vec<u8>) -> Option<i64> {
        let mut prev = self.prev.as_str();
        for (k, &seq) in self.seqs.iter().enumerate() {
            let expected = self.first + k as i64 + 1;
            if seq != expected {
                return Some(expected.min(seq));
            }
            let row = self.row(k);
            let (Some(stored_prev), Some(hash)) = (row[ROW_TEXTS - 2], row[ROW_TEXTS - 1]) else {
                return Some(seq);
            };
            if stored_prev != prev || !hash_holds(seq, &row, prev, hash, buf) {
                return Some(seq);
            }
            prev = hash;
        }
        None
    }
}

/// Gathers rows into batches, keeping count of the rows and the last one's hash.
#[derive(Debug)]
struct Reader {
    rows: i64,
    /// The stored hash of the last row read ([`GENESIS`] before any).
    last_hash: String,
    /// A batch being filled column by column.
    batch: Option<Batch>,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            rows: 0,
            last_hash: GENESIS.to_owned(),
            batch: None,
        }
    }

    /// Adds a row read column by column ([`VERIFY_SQL`]); returns a batch when one is full.
    fn push<'r, R>(&mut self, row: &'r R) -> Result<Option<Batch>, sqlx::Error>
    where
        R: Row,
        usize: sqlx::ColumnIndex<R>,
        &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
        i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let batch = self
            .batch
            .get_or_insert_with(|| Batch::new(self.rows, &self.last_hash));
        batch.seqs.push(row.try_get(0)?);
        // The text columns are TEXT by the schema: the type check per value, a third of the
        // reading time on PostgreSQL, is skipped; NULL where the schema forbids it is an error.
        for (i, (_, kind)) in ENTRY_COLUMNS.iter().enumerate() {
            let text: Option<&str> = match kind {
                Kind::OptText => row.try_get_unchecked(i + 1)?,
                _ => Some(row.try_get_unchecked(i + 1)?),
            };
            batch.push_text(text);
        }
        batch.push_text(Some(row.try_get_unchecked(ROW_TEXTS - 1)?));
        let hash: &str = row.try_get_unchecked(ROW_TEXTS)?;
        batch.push_text(Some(hash));
        self.last_hash.clear();
        self.last_hash.push_str(hash);
        self.rows += 1;
        Ok(if batch.full() {
            self.batch.take()
        } else {
            None
        })
    }

    /// A batch of one page of `rows` rows read as frames ([`page_sql`]), whose last row's hash
    /// is `last_hash`; split by the hashing thread that takes it.
    fn page(&mut self, rows: i64, last_hash: &str, frames: &str) -> Batch {
        let batch = Batch {
            first: self.rows,
            prev: std::mem::replace(&mut self.last_hash, last_hash.to_owned()),
            text: frames.to_owned(),
            frames: Some((rows, last_hash.to_owned())),
            ..Batch::default()
        };
        self.rows += rows;
        batch
    }

    /// The number of rows, the last row's hash and the batch not yet handed over.
    fn finish(self) -> (i64, String, Option<Batch>) {
        (self.rows, self.last_hash, self.batch)
    }
}

/// What a hashing thread found: the earliest bad batch it checked, as (its first position, the
/// bad seq), or why a batch could not be checked.
type Finding = Result<Option<(i64, i64)>, String>;

/// Threads checking batches as the reader fills them.
struct Hashers {
    tx: tokio::sync::mpsc::Sender<Batch>,
    threads: Vec<tokio::task::JoinHandle<Finding>>,
}

impl Hashers {
    fn start(n: usize) -> Hashers {
        let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(2 * n);
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let threads = (0..n)
            .map(|_| {
                let rx = rx.clone();
                tokio::task::spawn_blocking(move || Hashers::work(&rx))
            })
            .collect();
        Hashers { tx, threads }
    }

    /// One thread's loop: check batches until the reader is done. After an error it only
    /// drains the channel, so the reader never waits on a thread that has stopped.
    fn work(rx: &std::sync::Mutex<tokio::sync::mpsc::Receiver<Batch>>) -> Finding {
        let mut buf = Vec::with_capacity(4096);
        let mut finding: Finding = Ok(None);
        loop {
            let batch = match rx.lock() {
                Ok(mut rx) => rx.blocking_recv(),
                Err(_) => None,
            };
            let Some(mut batch) = batch else {
                return finding;
            };
            let Ok(earliest) = &mut finding else {
                continue;
            };
            if earliest.is_some_and(|(first, _)| first < batch.first) {
                continue;
            }
            if let Err(e) = batch.split_frames() {
                finding = Err(e);
            } else if let Some(bad) = batch.first_bad(&mut buf) {
                *earliest = Some((batch.first, bad));
            }
        }
    }

    async fn send(&self, batch: Batch) -> Result<(), sqlx::Error> {
        self.tx
            .send(batch)
            .await
            .map_err(|_| hashing_failed("the hashing threads stopped"))
    }

    /// Waits for every batch to be checked; the first bad seq of the earliest bad batch.
    async fn finish(self) -> Result<Option<i64>, sqlx::Error> {
        drop(self.tx);
        let mut earliest: Option<(i64, i64)> = None;
        for thread in self.threads {
            let found = thread
                .await
                .map_err(hashing_failed)?
                .map_err(|e| sqlx::Error::Decode(e.into()))?;
            earliest = match (earliest, found) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(earliest.map(|(_, bad)| bad))
    }
}

fn hashing_failed(e: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::other(format!(
        "verifying the audit chain: {e}"
    )))
}

/// Does `hash` match the entry stored in `row` (its text columns in [`ROW_TEXTS`] order) chained
/// after `prev`? False too when a JSON column is not canonical.
fn hash_holds(
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
fn encode_stored(seq: i64, row: &[Option<&str>; ROW_TEXTS], out: &mut Vec<u8>) -> bool {
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

/// Is `text` exactly what serde_json writes for some list of strings (as
/// [`AuditRow::strict_entry`] requires)? The common case is recognised by a scan; anything
/// else gets the exact test, a parse and a re-serialisation.
fn canonical_list(text: &str) -> bool {
    plain_list(text.as_bytes()) || {
        serde_json::from_str::<Vec<String>>(text)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .is_some_and(|again| again == text)
    }
}

/// Is `text` exactly what serde_json writes for some JSON value? As [`canonical_list`].
fn canonical_value(text: &str) -> bool {
    plain_value(text.as_bytes(), 16) == Some(&[][..]) || {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .is_some_and(|again| again == text)
    }
}

/// `[]` or `["a","b",...]` of [`plain_string`]s and nothing else. Every text this accepts is
/// canonical; some canonical texts (strings with escapes) are left to the exact test.
fn plain_list(text: &[u8]) -> bool {
    let Some(mut rest) = text.strip_prefix(b"[") else {
        return false;
    };
    if rest == b"]" {
        return true;
    }
    loop {
        let Some(after) = plain_string(rest) else {
            return false;
        };
        match after {
            b"]" => return true,
            [b',', tail @ ..] => rest = tail,
            _ => return false,
        }
    }
}

/// A JSON string at the start of `text` with no escape and no control character (serde_json
/// writes every such string exactly so); the text after it.
fn plain_string(text: &[u8]) -> Option<&[u8]> {
    let body = text.strip_prefix(b"\"")?;
    let end = body
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (body[end] == b'"').then(|| &body[end + 1..])
}

/// One JSON value at the start of `text` that serde_json would write exactly so, nested at
/// most `depth` deep; the text after it. Recognised: `null`, `true`, `false`, integers from 0
/// to `u64::MAX` without leading zeros, [`plain_string`]s, arrays, and objects whose keys are
/// plain strings in strictly increasing order (a `serde_json::Map` is sorted and has no
/// duplicates) not starting with `$` (serde_json's private keys). Anything else, e.g. a
/// negative or fractional number, is left to the exact test.
fn plain_value(text: &[u8], depth: u8) -> Option<&[u8]> {
    match text.first()? {
        b'n' => text.strip_prefix(b"null"),
        b't' => text.strip_prefix(b"true"),
        b'f' => text.strip_prefix(b"false"),
        b'"' => plain_string(text),
        b'0'..=b'9' => plain_integer(text),
        b'[' if depth > 0 => {
            let mut rest = &text[1..];
            if let Some(after) = rest.strip_prefix(b"]") {
                return Some(after);
            }
            loop {
                rest = plain_value(rest, depth - 1)?;
                match rest.split_first()? {
                    (b',', tail) => rest = tail,
                    (b']', tail) => return Some(tail),
                    _ => return None,
                }
            }
        }
        b'{' if depth > 0 => {
            let mut rest = &text[1..];
            if let Some(after) = rest.strip_prefix(b"}") {
                return Some(after);
            }
            let mut last_key: Option<&[u8]> = None;
            loop {
                let after = plain_string(rest)?;
                let key = &rest[1..rest.len() - after.len() - 1];
                if key.first() == Some(&b'$') || last_key.is_some_and(|last| last >= key) {
                    return None;
                }
                last_key = Some(key);
                rest = plain_value(after.strip_prefix(b":")?, depth - 1)?;
                match rest.split_first()? {
                    (b',', tail) => rest = tail,
                    (b'}', tail) => return Some(tail),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// A non-negative integer without leading zeros that fits a `u64` (serde_json writes those back
/// as they are); the text after it.
fn plain_integer(text: &[u8]) -> Option<&[u8]> {
    let len = text
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(len);
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// An entry with every field set, strings that need escapes, and a detail serde_json
    /// writes in ways the scan leaves to the exact test (negative and fractional numbers).
    fn awkward_entry() -> Entry {
        Entry {
            seq: 42,
            at: "2026-11-22T10:00:00.000000Z".into(),
            actor_agency: "csc".into(),
            actor_sub: "sw.\"quoted\" \\ back\u{1}slash\n".into(),
            actor_roles: vec!["social_worker".into(), "team\tmanager".into()],
            action: "disclosure".into(),
            subject_id: Some("01a204f3-0000-7000-8000-000000000001".into()),
            record_ids: vec!["r1".into(), "r\u{7f}2 é ✓".into()],
            owner_agencies: vec!["csc".into()],
            recipient_agency: Some("school-hillside".into()),
            recipient_role: Some("dsl".into()),
            recipient_sub: Some("t.smith".into()),
            purpose: Some("safeguarding".into()),
            basis: Some("consent".into()),
            justification: Some("line one\r\nline two \u{0b} / </script>".into()),
            decision: Some("permit".into()),
            reasons: vec![],
            obligations: vec!["ig_review".into()],
            policy_version: Some("sha256:96d5".into()),
            packet_sha256: Some("sha256:abcd".into()),
            detail: serde_json::json!({"z": -1, "a": [1.5, null, {"k": "v\"w"}], "m": 0}),
        }
    }

    /// The row `insert` stores for `e`, as [`verify`] reads it (text columns only).
    fn stored(e: &Entry, prev: &str, hash: &str) -> Vec<Option<String>> {
        let row = AuditRow::linked(e.clone(), prev.to_owned(), hash.to_owned());
        row.cells()
            .into_iter()
            .skip(1)
            .map(|cell| cell.text().map(|t| t.into_owned()))
            .collect()
    }

    fn as_row(row: &[Option<String>]) -> [Option<&str>; ROW_TEXTS] {
        std::array::from_fn(|i| row[i].as_deref())
    }

    #[test]
    fn the_stored_columns_encode_to_the_entrys_canonical_json_and_hash() {
        for entry in [
            awkward_entry(),
            Entry::default(),
            Entry {
                seq: 1,
                detail: serde_json::json!({}),
                ..Entry::default()
            },
        ] {
            let hash = entry.hash(GENESIS);
            let row = stored(&entry, GENESIS, &hash);
            let mut out = Vec::new();
            assert!(encode_stored(entry.seq, &as_row(&row), &mut out));
            assert_eq!(
                String::from_utf8_lossy(&out),
                serde_json::to_string(&entry).unwrap()
            );
            assert!(hash_holds(
                entry.seq,
                &as_row(&row),
                GENESIS,
                &hash,
                &mut out
            ));
            assert!(!hash_holds(
                entry.seq + 1,
                &as_row(&row),
                GENESIS,
                &hash,
                &mut out
            ));
            assert!(!hash_holds(
                entry.seq,
                &as_row(&row),
                &hash,
                &hash,
                &mut out
            ));
        }
    }

    /// A frame as SQLite's `concat` builds it ([`frame`]).
    fn frame_of(seq: i64, texts: &[Option<&str>]) -> String {
        let mut f = format!("{seq}:");
        for t in texts {
            match t {
                Some(t) => f.push_str(&format!("{}:{t}", t.len())),
                None => f.push(':'),
            }
        }
        f
    }

    #[test]
    fn a_frame_splits_back_into_its_columns_whatever_they_hold() {
        let mut texts: Vec<Option<&str>> = vec![Some("x"); ROW_TEXTS];
        texts[0] = Some("12:34::5:");
        texts[1] = Some("");
        texts[2] = None;
        texts[3] = Some("é ✓ \u{1}\n");
        texts[ROW_TEXTS - 1] = Some("sha256:ab");
        let one = frame_of(-7, &texts);
        let two = format!("{one}{}", frame_of(8, &texts));
        let (seq, spans, len) = parse_frame(&two).unwrap();
        assert_eq!((seq, len), (-7, one.len()));
        let got: Vec<Option<&str>> = spans.iter().map(|s| s.map(|(a, b)| &two[a..b])).collect();
        assert_eq!(got, texts);
        let (seq, _, rest) = parse_frame(&two[len..]).unwrap();
        assert_eq!((seq, len + rest), (8, two.len()));
        for broken in ["", "7", "x:1:a", "7:99:a", &one[..one.len() - 1], "7:1:é"] {
            assert!(parse_frame(broken).is_none(), "{broken:?}");
        }
    }

    /// The old check: parse, re-serialise, compare.
    fn exact_list(text: &str) -> bool {
        serde_json::from_str::<Vec<String>>(text)
            .is_ok_and(|v| serde_json::to_string(&v).unwrap() == text)
    }

    fn exact_value(text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text)
            .is_ok_and(|v| serde_json::to_string(&v).unwrap() == text)
    }

    /// Asserts the checks agree on `text`; counts it as canonical by the scan, canonical only
    /// by the exact test, or not canonical (as a value).
    fn agree(text: &str, counts: &mut [usize; 3]) {
        assert_eq!(canonical_list(text), exact_list(text), "list {text:?}");
        assert_eq!(canonical_value(text), exact_value(text), "value {text:?}");
        if plain_list(text.as_bytes()) {
            assert!(
                exact_list(text),
                "the scan accepted a non-canonical list {text:?}"
            );
        }
        let scanned = plain_value(text.as_bytes(), 16) == Some(&[][..]);
        if scanned {
            assert!(
                exact_value(text),
                "the scan accepted a non-canonical value {text:?}"
            );
        }
        counts[if scanned {
            0
        } else if exact_value(text) {
            1
        } else {
            2
        }] += 1;
    }

    const SEEDS: &[&str] = &[
        "[]",
        "[\"a\"]",
        "[\"social_worker\",\"team_manager\"]",
        "[\"a\\\"b\",\"c\\\\d\",\"e\\u0001\",\"\\n\"]",
        "{}",
        "{\"a\":1,\"b\":[true,false,null,\"x\"],\"c\":{\"d\":\"e\"}}",
        "{\"legal_reference\":null,\"mappa_decision_id\":null,\"sections_released\":[\"summary\"],\"sections_withheld\":[],\"view\":\"limited_summary\"}",
        "{\"$serde_json::private::RawValue\":\"[1]\"}",
        "{\"a\":-1,\"b\":1.5,\"c\":1e5,\"d\":-0}",
        "\"x\"",
        "null",
        "0",
        "18446744073709551615",
        "18446744073709551616",
        "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
        "{\"é\":\"✓\",\"z\":\"\u{7f}\"}",
    ];

    #[test]
    fn the_scans_agree_with_parsing_and_re_serialising_on_known_cases() {
        let cases = [
            "",
            " ",
            "[ ]",
            "[] ",
            " []",
            "[\"a\",]",
            "[,\"a\"]",
            "[\"a\" ,\"b\"]",
            "[\"a\"]]",
            "[1]",
            "[null]",
            "\"[]\"",
            "[\"\\/\"]",
            "[\"\\u0041\"]",
            "[\"\\u000a\"]",
            "[\"\\u001f\"]",
            "[\"\\u001F\"]",
            "[\"\\ud83d\\ude00\"]",
            "[\"\u{1}\"]",
            "{\"a\":1}",
            "{\"b\":1,\"a\":2}",
            "{\"a\":1,\"a\":2}",
            "{\"a\" :1}",
            "{\"a\":01}",
            "{\"a\":1.0}",
            "{\"a\":-0}",
            "{\"a\":1E5}",
            "{\"$x\":1}",
            "{\"a\\\"\":1}",
            "{\"a\":{}}",
            "{\"a\":[]}",
            "nul",
            "truex",
            "[true]",
            "00",
            "-1",
            "1 ",
        ];
        let mut counts = [0; 3];
        for text in SEEDS.iter().chain(&cases) {
            agree(text, &mut counts);
        }
    }

    /// Random edits of canonical texts: inserted, deleted and swapped characters, including
    /// whitespace and bytes moved from one place to another.
    #[test]
    fn the_scans_agree_with_parsing_and_re_serialising_on_random_edits() {
        let alphabet: Vec<char> = "[]{}\",:\\ \t\n0123456789-.eE$atnulfrsé\u{1}/"
            .chars()
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut counts = [0; 3];
        for _ in 0..100_000 {
            let mut text: Vec<char> = SEEDS[rng.gen_range(0..SEEDS.len())].chars().collect();
            for _ in 0..rng.gen_range(1..4) {
                let at = rng.gen_range(0..=text.len());
                match rng.gen_range(0..3) {
                    0 => text.insert(at, alphabet[rng.gen_range(0..alphabet.len())]),
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ if !text.is_empty() => {
                        let from = rng.gen_range(0..text.len());
                        let c = text.remove(from);
                        text.insert(at.min(text.len()), c);
                    }
                    _ => {}
                }
            }
            agree(&text.into_iter().collect::<String>(), &mut counts);
        }
        // every way through the checks is taken many times
        eprintln!("scanned, exact only, not canonical: {counts:?}");
        assert!(counts.iter().all(|&n| n > 500), "{counts:?}");
    }
}
