//! Multi-row inserts for bulk writes (`bench-seed`, the audit's bulk append): many rows per
//! statement, as few statements as the databases' parameter limits allow.

use crate::db::Tx;
use crate::on_tx;

/// Bound parameters per statement: well under SQLite's 32,766 and PostgreSQL's 65,535.
const PARAMS_PER_STATEMENT: usize = 16_000;

/// One bound value of a multi-row insert.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    Bytes(&'a [u8]),
}

/// `INSERT INTO {into} VALUES (.., ..), ..` for `rows` rows of `columns` values, with `$N`
/// placeholders or, when `positional`, `?` ones. (SQLite looks a `$N` up by name, in a list as
/// long as the statement's parameters, for every value bound: quadratic in a statement this
/// big. A `?` is just the next one.)
fn insert_sql(into: &str, columns: usize, rows: usize, positional: bool) -> String {
    let mut sql = format!("INSERT INTO {into} VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..columns {
            if col > 0 {
                sql.push_str(", ");
            }
            if positional {
                sql.push('?');
            } else {
                sql.push_str(&format!("${}", row * columns + col + 1));
            }
        }
        sql.push(')');
    }
    sql
}

/// Inserts `values` (rows of `columns` values, flattened) in as few statements as the
/// parameter limit allows.
pub async fn insert_rows(
    tx: &mut Tx,
    into: &str,
    columns: usize,
    values: &[Val<'_>],
) -> Result<(), sqlx::Error> {
    let per_statement = (PARAMS_PER_STATEMENT / columns) * columns;
    let positional = matches!(tx, Tx::Sqlite(_));
    for chunk in values.chunks(per_statement) {
        let sql = insert_sql(into, columns, chunk.len() / columns, positional);
        on_tx!(tx, c => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for v in chunk {
                q = match *v {
                    Val::Text(s) => q.bind(s),
                    Val::OptText(s) => q.bind(s),
                    Val::Int(i) => q.bind(i),
                    Val::Bytes(b) => q.bind(b),
                };
            }
            q.execute(&mut **c).await?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_insert_statement_numbers_its_parameters_row_by_row_or_takes_them_in_turn() {
        assert_eq!(
            insert_sql("t (a, b)", 2, 2, false),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            insert_sql("t (a, b)", 2, 2, true),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }
}
