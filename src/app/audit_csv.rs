//! The audit log as CSV (`GET /v1/audit/export.csv`, the console's export link): the same rows
//! as `app::audit::query` for the same filters and caller, all of them, streamed a page at a
//! time so the memory used does not grow with the log. Audited as `audit.export` before the
//! first row is read.

use futures_util::Stream;

use super::audit::{Filters, auditor, page, record_query};
use crate::audit::{self, AuditRow};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// Rows read per page of the stream.
const PAGE: i64 = 1000;

fn csv_field(value: &str) -> String {
    // a cell a spreadsheet would run as a formula is neutralised (OWASP CSV injection)
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The CSV columns: every column of the row but `detail` (free-form JSON), in row order.
fn csv_columns() -> impl Iterator<Item = (usize, &'static str)> {
    audit::columns()
        .split(", ")
        .enumerate()
        .filter(|(_, name)| *name != "detail")
}

fn csv_header() -> String {
    let names: Vec<&str> = csv_columns().map(|(_, name)| name).collect();
    format!("{}\n", names.join(","))
}

fn csv_line(r: &AuditRow) -> String {
    let cells = r.cells();
    let fields: Vec<String> = csv_columns()
        .map(|(i, _)| csv_field(cells[i].text().as_deref().unwrap_or("")))
        .collect();
    format!("{}\n", fields.join(","))
}

/// The entries `f` selects that the caller may see, as CSV chunks (the header first); audited
/// as `audit.export`. A failure after the first chunk ends the stream with an error.
pub async fn export(
    state: &AppState,
    principal: &Principal,
    f: Filters,
) -> Result<impl Stream<Item = Result<String, std::io::Error>> + Send + 'static, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    f.check()?;
    record_query(state, &who, "audit.export", f.exported()).await?;
    let db = state.db.clone();
    let scope = who.scope.clone();
    let start = f.after_seq.unwrap_or(0);
    Ok(futures_util::stream::unfold(
        Some((start, true)),
        move |cursor| {
            let db = db.clone();
            let f = f.clone();
            let scope = scope.clone();
            async move {
                let (after, first) = cursor?;
                let mut chunk = String::new();
                if first {
                    chunk.push_str(&csv_header());
                }
                match page(&db, &f, scope.as_deref(), after, PAGE).await {
                    Ok(rows) => {
                        for r in &rows {
                            chunk.push_str(&csv_line(r));
                        }
                        let next = (rows.len() as i64 == PAGE)
                            .then(|| (rows.last().map_or(after, |r| r.seq), false));
                        Some((Ok(chunk), next))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "audit export failed mid-stream");
                        Some((Err(std::io::Error::other("audit export failed")), None))
                    }
                }
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn a_cell_a_spreadsheet_would_run_is_neutralised_and_a_comma_or_quote_is_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("-1,2"), "\"'-1,2\"");
    }
}
