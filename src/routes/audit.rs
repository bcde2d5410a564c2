//! For IG officers: the audit log with filters and cursor paging, a streamed CSV export and
//! the chain's verification (the override review queue is `reviews`, a child's subject access
//! history `history`).
//! A partnership IG officer sees everything; an IG officer of another agency sees the entries
//! where its agency is the requester, an owner of the records, or the recipient. Every query
//! is itself audited.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Params, commit_with, may, path_id, require};
use super::views::entry_json;
use crate::audit::{self, AuditRow, Entry};
use crate::db::{Db, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::vocab::Basis;
use crate::with_db;

/// An IG officer, and the agency whose entries they may see (`None`: all, the partnership).
pub(super) struct Auditor {
    pub(super) principal: Principal,
    pub(super) scope: Option<String>,
}

pub(super) fn auditor(
    state: &AppState,
    principal: Principal,
    action: Action,
) -> Result<Auditor, ApiError> {
    require(state, &principal, action)?;
    let scope =
        (!may(state, &principal, Action::ReadAllAudit)).then(|| principal.agency.to_string());
    Ok(Auditor { principal, scope })
}

pub(super) async fn record_query(
    state: &AppState,
    who: &Auditor,
    action: &str,
    detail: Value,
) -> Result<i64, ApiError> {
    let tx = state.writer.begin().await?;
    let seq = commit_with(tx, Entry::new(&who.principal, action).detail(detail)).await?;
    Ok(seq)
}

/// The audit filters (query parameters); the schema states what [`check_filters`] enforces.
#[derive(Debug, Default, Deserialize, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[schemars(extend("format" = "uuid"))]
    subject_id: Option<String>,
    #[schemars(extend("pattern" = super::extract::QUERY_TEXT))]
    agency: Option<String>,
    #[schemars(extend("enum" = ["permit", "deny"]))]
    decision: Option<String>,
    basis: Option<Basis>,
    #[schemars(extend("pattern" = super::extract::QUERY_TEXT))]
    action: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    after_seq: Option<i64>,
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
}

impl Filters {
    /// Every entry about one child.
    pub(super) fn of_subject(subject: &SubjectId) -> Filters {
        Filters {
            subject_id: Some(subject.to_string()),
            ..Filters::default()
        }
    }
}

/// Builds the WHERE clause (only `$N` placeholders, values bound in order).
pub(super) fn where_clause(f: &Filters, scope: Option<&str>) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE seq > $1");
    let mut binds = Vec::new();
    let mut add = |cond: &str, value: String, binds: &mut Vec<String>| {
        binds.push(value);
        let n = binds.len() + 1;
        sql.push_str(&format!(" AND {}", cond.replace("$?", &format!("${n}"))));
    };
    let involving =
        "(actor_agency = $? OR recipient_agency = $? OR owner_agencies LIKE '%\"' || $? || '\"%')";
    if let Some(agency) = scope {
        add(involving, agency.to_owned(), &mut binds);
    }
    if let Some(agency) = &f.agency {
        add(involving, agency.clone(), &mut binds);
    }
    if let Some(s) = &f.subject_id {
        add("subject_id = $?", s.clone(), &mut binds);
    }
    if let Some(d) = &f.decision {
        add("decision = $?", d.clone(), &mut binds);
    }
    if let Some(b) = f.basis {
        add("basis = $?", b.to_string(), &mut binds);
    }
    if let Some(a) = &f.action {
        add("action = $?", a.clone(), &mut binds);
    }
    if let Some(t) = f.from {
        add("at >= $?", ts(t), &mut binds);
    }
    if let Some(t) = f.to {
        add("at < $?", ts(t), &mut binds);
    }
    (sql, binds)
}

fn check_filters(f: &Filters) -> Result<(), ApiError> {
    if let Some(d) = &f.decision
        && d != "permit"
        && d != "deny"
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "decision must be permit or deny",
        ));
    }
    if f.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "limit must be 1 to 1000",
        ));
    }
    if let Some(s) = &f.subject_id {
        path_id::<SubjectId>(s)?;
    }
    Ok(())
}

async fn page(
    db: &Db,
    f: &Filters,
    scope: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let (clause, binds) = where_clause(f, scope);
    let sql = format!("SELECT * FROM audit_log{clause} ORDER BY seq LIMIT {limit}");
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, AuditRow>(sqlx::AssertSqlSafe(sql)).bind(after);
        for b in &binds {
            q = q.bind(b.clone());
        }
        q.fetch_all(pool).await
    })
}

pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    check_filters(&f)?;
    let limit = f.limit.unwrap_or(100);
    let rows = page(
        &state.db,
        &f,
        who.scope.as_deref(),
        f.after_seq.unwrap_or(0),
        limit,
    )
    .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let seq = record_query(&state, &who, "audit.query", json!({
        "subject_id": f.subject_id, "agency": f.agency, "decision": f.decision, "basis": f.basis,
        "from": f.from, "to": f.to, "after_seq": f.after_seq, "limit": limit,
    }))
    .await?;
    Ok(Json(json!({
        "entries": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "next_after_seq": next,
        "audit_seq": seq,
    })))
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
    let who = auditor(&state, principal, Action::ReadAudit)?;
    check_filters(&f)?;
    record_query(&state, &who, "audit.export", json!({
        "subject_id": f.subject_id, "agency": f.agency, "decision": f.decision, "basis": f.basis,
        "from": f.from, "to": f.to,
    }))
    .await?;
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
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    let result = audit::verify(&state.db).await?;
    record_query(
        &state,
        &who,
        "audit.verify",
        json!({"ok": result.ok, "entries": result.entries}),
    )
    .await?;
    Ok(Json(
        serde_json::to_value(result).map_err(ApiError::internal)?,
    ))
}

/// The rows `f` selects within `scope`, `tail` appended to the WHERE clause.
pub(super) async fn audit_rows(
    db: &Db,
    f: &Filters,
    scope: Option<&str>,
    tail: &str,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let (clause, binds) = where_clause(f, scope);
    let sql = format!("SELECT * FROM audit_log{clause} {tail}");
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, AuditRow>(sqlx::AssertSqlSafe(sql)).bind(0i64);
        for b in &binds {
            q = q.bind(b.clone());
        }
        q.fetch_all(pool).await
    })
}
