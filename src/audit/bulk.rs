//! Appending many entries at once (`bench-seed`, the long-chain tests and benches): the same
//! numbering, hashing and tree as [`Chain::append`], many rows per statement.

use super::tree::Hash;
use super::{AuditRow, Cell, Chain, Entry};
use crate::db::bulk::{Val, insert_rows};
use crate::db::{Db, Tx};

/// Entries written per transaction.
const ROWS_PER_TRANSACTION: usize = 10_000;

/// Chains `entries` onto the audit log's head, [`ROWS_PER_TRANSACTION`] per transaction, many
/// rows per statement: each transaction locks the head ([`Chain::lock`]), numbers and hashes its
/// entries with [`Chain::link`] as [`Chain::append`] does, inserts them with their `audit_records` rows, and
/// stores the head before it commits. Returns the head after the last entry.
pub async fn append_entries(
    db: &Db,
    entries: impl Iterator<Item = Entry>,
) -> Result<Chain, sqlx::Error> {
    let mut entries = entries.peekable();
    let mut head = None;
    while entries.peek().is_some() {
        let mut tx = db.begin().await?;
        let mut chain = Chain::lock(&mut tx).await?;
        let batch: Vec<(AuditRow, Vec<String>)> = entries
            .by_ref()
            .take(ROWS_PER_TRANSACTION)
            .map(|entry| {
                let records = entry.record_ids.clone();
                (chain.link_row(entry), records)
            })
            .collect();
        insert_linked(&mut tx, &batch).await?;
        chain.store(&mut tx).await?;
        tx.commit().await?;
        head = Some(chain);
    }
    match head {
        Some(chain) => Ok(chain),
        None => {
            let mut tx = db.begin().await?;
            let chain = Chain::lock(&mut tx).await?;
            tx.commit().await?;
            Ok(chain)
        }
    }
}

/// Inserts linked entries and their `audit_records` index rows, many per statement (an audit
/// row and its index rows in two statements however many there are).
pub async fn insert_linked(
    tx: &mut Tx,
    batch: &[(AuditRow, Vec<String>)],
) -> Result<(), sqlx::Error> {
    let rows: Vec<Val<'_>> = batch
        .iter()
        .flat_map(|(row, _)| row.cells())
        .map(Val::from)
        .collect();
    insert_rows(
        tx,
        &format!("audit_log ({})", super::columns()),
        super::ROW_COLUMNS,
        &rows,
    )
    .await?;
    let index: Vec<Val<'_>> = batch
        .iter()
        .flat_map(|(row, records)| {
            records
                .iter()
                .flat_map(|r| [Val::Text(r), Val::Int(row.seq)])
        })
        .collect();
    insert_rows(tx, "audit_records (record_id, seq)", 2, &index).await
}

/// Inserts tree nodes, many per statement.
pub(crate) async fn insert_nodes(tx: &mut Tx, nodes: &[(i64, Hash)]) -> Result<(), sqlx::Error> {
    let values: Vec<Val<'_>> = nodes
        .iter()
        .flat_map(|(key, hash)| [Val::Int(*key), Val::Bytes(&hash[..])])
        .collect();
    insert_rows(tx, "audit_tree (node, hash)", 2, &values).await
}

impl<'a> From<Cell<'a>> for Val<'a> {
    fn from(cell: Cell<'a>) -> Val<'a> {
        match cell {
            Cell::Int(v) => Val::Int(v),
            Cell::Text(v) => Val::Text(v),
            Cell::OptText(v) => Val::OptText(v),
        }
    }
}
