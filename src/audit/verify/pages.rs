//! Reading the chain for verification: on SQLite a page of rows as one value of frames
//! ([`page_sql`], [`parse_frame`]), on PostgreSQL column by column; rows gathered into
//! [`Batch`]es of text back to back by the [`Reader`].

use super::*;

/// Rows per page on SQLite: a page of frames (~180 kB) small enough to be allocated from the
/// heap rather than mapped afresh each time (measured: 1,024 spent a third more time in the
/// kernel).
pub(super) const PAGE_ROWS: usize = 256;

/// What [`verify`] reads on SQLite: the next [`PAGE_ROWS`] rows in seq order from seq `$1` on
/// and to `$2` at most,
/// as their count, their last seq, its hash (SQLite takes a bare column from the row `max()`
/// chose), and their [`frame`]s back to back in one value, in the order `group_concat` meets
/// them ([`Batch::split_frames`] sorts them by seq and checks the count and the last hash).
///
/// One value per page rather than 23 per row: sqlx hands SQLite rows from its worker thread to
/// the reader one at a time, copying every value into an allocation of its own under SQLite's
/// memory mutex, and at a million rows that, not the hashing, is where the time went.
pub(super) fn page_sql() -> String {
    format!(
        "SELECT count(*), max(seq), hash, group_concat(frame, '') FROM (SELECT seq, hash, {} \
         AS frame FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT {PAGE_ROWS})",
        frame()
    )
}

/// A row as one text, built by SQLite's `concat`: `<seq>:`, then every column of
/// [`VERIFY_SQL`] after seq as `<byte length>:<text>`, or just `:` for NULL. The lengths make
/// it unambiguous whatever the text holds, and a frame knows where it ends ([`parse_frame`]).
pub(super) fn frame() -> String {
    let fields: Vec<String> = ENTRY_COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .chain(["prev_hash", "hash"])
        .map(|c| format!("octet_length({c}), ':', {c}"))
        .collect();
    format!("concat(seq, ':', {})", fields.join(", "))
}

/// Byte ranges of a row's text columns in [`ROW_TEXTS`] order; `None` for SQL NULL.
pub(super) type Spans = [Option<(usize, usize)>; ROW_TEXTS];

/// Splits the [`frame`] at the start of `text` into the seq, the byte ranges of its columns in
/// `text`, and the frame's length; `None` if it is not one.
pub(super) fn parse_frame(text: &str) -> Option<(i64, Spans, usize)> {
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
pub(in crate::audit) const ROW_TEXTS: usize = ENTRY_COLUMNS.len() + 2;

/// A batch read column by column is handed over at this many rows or this much text.
pub(super) const BATCH_ROWS: usize = 2048;
pub(super) const BATCH_BYTES: usize = 4 << 20;

/// Consecutive rows of `audit_log` in seq order, their text back to back.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// The position of the first row (0 for the chain's first).
    pub(super) first: i64,
    /// The stored hash of the row before the first ([`GENESIS`] before the chain's first).
    pub(super) prev: String,
    pub(super) text: String,
    /// For a page read as frames, not yet split: its row count and its last row's hash as the
    /// database reported them.
    pub(super) frames: Option<(i64, String)>,
    pub(super) seqs: Vec<i64>,
    /// [`ROW_TEXTS`] byte ranges into `text` per row; `None` for SQL NULL.
    pub(super) spans: Vec<Option<(usize, usize)>>,
}

impl Batch {
    pub(super) fn new(first: i64, prev: &str) -> Batch {
        Batch {
            first,
            prev: prev.to_owned(),
            text: String::with_capacity(BATCH_BYTES / 4),
            seqs: Vec::with_capacity(BATCH_ROWS),
            spans: Vec::with_capacity(BATCH_ROWS * ROW_TEXTS),
            ..Batch::default()
        }
    }

    pub(super) fn full(&self) -> bool {
        self.seqs.len() >= BATCH_ROWS || self.text.len() >= BATCH_BYTES
    }

    /// Appends one column's text (or NULL).
    pub(super) fn push_text(&mut self, text: Option<&str>) {
        let span = text.map(|t| {
            let start = self.text.len();
            self.text.push_str(t);
            (start, self.text.len())
        });
        self.spans.push(span);
    }

    /// Splits a page read as frames into rows, in seq order; an error when the frames are not
    /// what [`page_sql`] said it read.
    pub(super) fn split_frames(&mut self) -> Result<(), String> {
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
    pub(super) fn row(&self, k: usize) -> [Option<&str>; ROW_TEXTS] {
        let spans = &self.spans[k * ROW_TEXTS..(k + 1) * ROW_TEXTS];
        std::array::from_fn(|i| spans[i].and_then(|(a, b)| self.text.get(a..b)))
    }

    /// The first bad seq among the rows and why, checked in order (the batch's own view of
    /// [`verify`]'s rule); `buf` is scratch space for the canonical encoding.
    pub(super) fn first_bad(&self, buf: &mut Vec<u8>) -> Option<(i64, Fault)> {
        let mut prev = self.prev.as_str();
        for (k, &seq) in self.seqs.iter().enumerate() {
            let expected = self.first + k as i64 + 1;
            if seq != expected {
                return Some((expected.min(seq), Fault::Missing));
            }
            let row = self.row(k);
            let (Some(stored_prev), Some(hash)) = (row[ROW_TEXTS - 2], row[ROW_TEXTS - 1]) else {
                return Some((seq, Fault::Altered));
            };
            if stored_prev != prev {
                return Some((seq, Fault::Unchained));
            }
            if !hash_holds(seq, &row, prev, hash, buf) {
                return Some((seq, Fault::Altered));
            }
            prev = hash;
        }
        None
    }

    /// Each row's tree leaf, in order; `None` if a stored hash is not one.
    pub(super) fn leaves(&self) -> Option<Vec<tree::Hash>> {
        (0..self.seqs.len())
            .map(|k| self.row(k)[ROW_TEXTS - 1].and_then(tree::leaf_of))
            .collect()
    }
}

/// Gathers rows into batches, keeping count of the rows and the last one's hash.
#[derive(Debug)]
pub(super) struct Reader {
    /// The position of the last row read.
    pub(super) rows: i64,
    /// The stored hash of the last row read (the one before the first, before any).
    pub(super) last_hash: String,
    /// A batch being filled column by column.
    pub(super) batch: Option<Batch>,
}

impl Reader {
    /// A reader whose first row is expected at position `before + 1`, after a row whose stored
    /// hash is `prev`.
    pub(super) fn new(before: i64, prev: &str) -> Reader {
        Reader {
            rows: before,
            last_hash: prev.to_owned(),
            batch: None,
        }
    }

    /// Adds a row read column by column ([`VERIFY_SQL`]); returns a batch when one is full.
    pub(super) fn push<'r, R>(&mut self, row: &'r R) -> Result<Option<Batch>, sqlx::Error>
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
    pub(super) fn page(&mut self, rows: i64, last_hash: &str, frames: &str) -> Batch {
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
    pub(super) fn finish(self) -> (i64, String, Option<Batch>) {
        (self.rows, self.last_hash, self.batch)
    }
}
