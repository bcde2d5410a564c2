//! For IG officers: the audit log with filters and cursor paging, a streamed CSV export and
//! the chain's verification (the override review queue is `reviews`, a child's subject access
//! history `history`).
//! A partnership IG officer sees everything; an IG officer of another agency sees the entries
//! where its agency is the requester, an owner of the records, or the recipient. Every query
//! is itself audited.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::extract::Params;
pub(crate) use crate::app::audit::Filters;
use crate::app::audit::{self as app, AuditPage, auditor, page, record_query};
use crate::audit::{self, AuditRow, Verification};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<AuditPage>, ApiError> {
    app::query(&state, &principal, &f).await.map(Json)
}

fn csv_field(value: &str) -> String {
    // a cell a spreadsheet would run as a formula is neutralised (OWASP CSV injection)
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    let value = value.as_str();
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
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

/// The same rows as `GET /v1/audit`, all of them, as CSV, streamed a page at a time so the
/// memory used does not grow with the log.
pub(crate) async fn export(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Response, ApiError> {
    let who = auditor(&state, &principal, Action::ReadAudit)?;
    f.check()?;
    record_query(&state, &who, "audit.export", f.exported()).await?;
    let db = state.db.clone();
    let scope = who.scope.clone();
    let start = f.after_seq.unwrap_or(0);
    let stream = futures_util::stream::unfold(Some((start, true)), move |cursor| {
        let db = db.clone();
        let f = f.clone();
        let scope = scope.clone();
        async move {
            let (after, first) = cursor?;
            let mut chunk = String::new();
            if first {
                chunk.push_str(&csv_header());
            }
            match page(&db, &f, scope.as_deref(), after, 1000).await {
                Ok(rows) => {
                    for r in &rows {
                        chunk.push_str(&csv_line(r));
                    }
                    let next =
                        (rows.len() == 1000).then(|| (rows.last().map_or(after, |r| r.seq), false));
                    Some((Ok::<_, std::io::Error>(chunk), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed mid-stream");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        HttpBody::from_stream(stream),
    )
        .into_response())
}

pub(crate) async fn verify(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Verification>, ApiError> {
    app::verify(&state, &principal).await.map(Json)
}
