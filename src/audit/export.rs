//! The audit log as JSON Lines for the offline verifier (`broker audit export --jsonl`): one
//! line per entry in seq order, each exactly the canonical bytes the chain hashed, then `\n`,
//! and nothing else. From those lines alone anyone can recompute every hash, the Merkle tree
//! over them and its root, and compare it with a signed checkpoint (`tools/audit_verify.py`).

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::verify::{ROW_TEXTS, encode_stored};
use super::{AuditRow, Cell, ENTRY_COLUMNS, Kind, columns};
use crate::db::Db;

/// Rows read per query: a page holds a few megabytes at most, so a log of millions of
/// entries is exported in bounded memory.
const PAGE_ROWS: i64 = 10_000;

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Lines written (one per stored entry).
    pub entries: u64,
    /// The seq of the last one (0 for an empty log).
    pub last_seq: i64,
}

/// Writes every stored entry's canonical line to `out`, in seq order, reading a page of
/// [`PAGE_ROWS`] at a time within one read snapshot (entries appended meanwhile are not
/// exported; the export ends at the head as it stood when it started).
///
/// An entry is written as [`encode_stored`] rebuilds it, the bytes its hash covers. A row whose
/// stored JSON is not in the canonical form is still written, as the nearest JSON its columns
/// give ([`encode_best`]), so that the export is whole and the verifier, which recomputes the
/// chain, is the one that reports it.
pub async fn export_jsonl<W: AsyncWrite + Unpin>(db: &Db, out: &mut W) -> anyhow::Result<Exported> {
    let mut done = Exported {
        entries: 0,
        last_seq: 0,
    };
    let sql = format!(
        "SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT {PAGE_ROWS}",
        columns()
    );
    let mut lines = Vec::new();
    macro_rules! pages {
        ($conn:expr) => {
            loop {
                let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(done.last_seq)
                    .fetch_all(&mut *$conn)
                    .await?;
                let Some(last) = rows.last() else { break };
                done.last_seq = last.seq;
                done.entries += rows.len() as u64;
                lines.clear();
                for row in &rows {
                    line(row, &mut lines);
                }
                out.write_all(&lines).await?;
            }
        };
    }
    match db {
        Db::Sqlite { read, .. } => {
            let mut tx = read.begin().await?;
            pages!(tx);
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            pages!(tx);
        }
    }
    out.flush().await?;
    Ok(done)
}

/// Appends `row`'s line (its canonical encoding, or [`encode_best`]) and a newline to `out`.
fn line(row: &AuditRow, out: &mut Vec<u8>) {
    let start = out.len();
    let texts = texts(row);
    if !encode_stored(row.seq, &texts, out) {
        out.truncate(start);
        encode_best(row.seq, &texts, out);
    }
    out.push(b'\n');
}

/// The row's text columns in the order [`encode_stored`] takes them: the entry's, then
/// `prev_hash` and `hash`.
fn texts(row: &AuditRow) -> [Option<&str>; ROW_TEXTS] {
    let cells = row.cells();
    std::array::from_fn(|i| match cells[i + 1] {
        Cell::Text(text) => Some(text),
        Cell::OptText(text) => text,
        Cell::Int(_) => None,
    })
}

/// The entry as JSON in the canonical field order when a JSON column is not canonical: a
/// column that parses is written as serde_json writes its value, one that does not as a JSON
/// string of its text, and a NULL as `null`. It is never the bytes the chain hashed (those
/// would have been canonical), so the verifier's recomputed chain will not match it.
fn encode_best(seq: i64, texts: &[Option<&str>; ROW_TEXTS], out: &mut Vec<u8>) {
    fn json(out: &mut Vec<u8>, value: &impl serde::Serialize) {
        // writing a string or a parsed value to memory cannot fail
        let _ = serde_json::to_writer(out, value);
    }
    out.extend_from_slice(b"{\"seq\":");
    json(out, &seq);
    for (&(name, kind), &text) in ENTRY_COLUMNS.iter().zip(texts) {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        match (kind, text) {
            (_, None) => out.extend_from_slice(b"null"),
            (Kind::Text | Kind::OptText, Some(text)) => json(out, &text),
            (Kind::List | Kind::Value, Some(text)) => {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(value) => json(out, &value),
                    Err(_) => json(out, &text),
                }
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Entry;

    fn row() -> AuditRow {
        let entry = Entry {
            seq: 3,
            at: "2026-01-01T00:00:00.000000Z".into(),
            actor_agency: "csc".into(),
            actor_roles: vec!["social_worker".into()],
            action: "disclosure".into(),
            justification: Some("line one\nline two".into()),
            detail: serde_json::json!({"view": "full", "n": 2}),
            ..Entry::default()
        };
        AuditRow::linked(entry, "sha256:prev".into(), "sha256:this".into())
    }

    #[test]
    fn a_line_is_the_canonical_encoding_the_chain_hashed() {
        let row = row();
        let mut out = Vec::new();
        line(&row, &mut out);
        let mut expected = serde_json::to_vec(&row.strict_entry().unwrap()).unwrap();
        expected.push(b'\n');
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn a_row_whose_json_is_not_canonical_is_still_one_line_of_json() {
        let mut row = row();
        row.detail = "{\"view\": \"full\",\n \"n\": 2}".into();
        row.reasons = "not json".into();
        let mut out = Vec::new();
        line(&row, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["seq"], 3);
        assert_eq!(value["detail"], serde_json::json!({"view": "full", "n": 2}));
        assert_eq!(value["reasons"], "not json");
        assert!(text.starts_with("{\"seq\":3,\"at\":"), "{text}");
        let canonical = serde_json::to_string(&row.entry()).unwrap();
        assert_ne!(text.trim_end(), canonical);
    }
}
