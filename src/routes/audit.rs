//! For IG officers: the audit log with filters and cursor paging, a streamed CSV export, the
//! chain's verification, the override review queue, and a child's subject access history.
//! A partnership IG officer sees everything; an IG officer of another agency sees the entries
//! where its agency is the requester, an owner of the records, or the recipient. Every query
//! is itself audited.

use axum::Json;
use axum::body::Body as HttpBody;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, Params, commit_with, may, path_id, require, store_failed};
use super::views::entry_json;
use crate::audit::{self, AuditRow, Entry};
use crate::db::{Db, now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::vocab::Basis;
use crate::{on_tx, with_db};

/// An IG officer, and the agency whose entries they may see (`None`: all, the partnership).
struct Auditor {
    principal: Principal,
    scope: Option<String>,
}

fn auditor(state: &AppState, principal: Principal, action: Action) -> Result<Auditor, ApiError> {
    require(state, &principal, action)?;
    let scope =
        (!may(state, &principal, Action::ReadAllAudit)).then(|| principal.agency.to_string());
    Ok(Auditor { principal, scope })
}

async fn record_query(
    state: &AppState,
    who: &Auditor,
    action: &str,
    detail: Value,
) -> Result<i64, ApiError> {
    let tx = state.writer.begin().await?;
    let seq = commit_with(tx, Entry::new(&who.principal, action).detail(detail)).await?;
    Ok(seq)
}

/// What the query extractor's text rule (`crate::text`, single-line values) lets through in a
/// text filter, as the schema's pattern: one line, no control character (PostgreSQL cannot even
/// compare a NUL), no Unicode line separator and no bidirectional override.
const SINGLE_LINE: &str =
    "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*$";

/// The audit filters (query parameters); the schema states what [`check_filters`] enforces.
#[derive(Debug, Default, Deserialize, Clone, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[schemars(extend("format" = "uuid"))]
    subject_id: Option<String>,
    #[schemars(extend("pattern" = SINGLE_LINE))]
    agency: Option<String>,
    #[schemars(extend("enum" = ["permit", "deny"]))]
    decision: Option<String>,
    basis: Option<Basis>,
    #[schemars(extend("pattern" = SINGLE_LINE))]
    action: Option<String>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    after_seq: Option<i64>,
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<i64>,
}

/// Builds the WHERE clause (only `$N` placeholders, values bound in order).
fn where_clause(f: &Filters, scope: Option<&str>) -> (String, Vec<String>) {
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

const QUEUE: &str = "action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%' \
     AND seq NOT IN (SELECT override_seq FROM audit_reviews)";

pub(crate) async fn reviews(
    principal: Principal,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    let rows = audit_rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        &format!("AND {QUEUE} ORDER BY seq LIMIT 1000"),
    )
    .await?;
    record_query(
        &state,
        &who,
        "audit.reviews",
        json!({"awaiting": rows.len()}),
    )
    .await?;
    Ok(Json(
        json!({"awaiting_review": rows.iter().map(entry_json).collect::<Vec<_>>()}),
    ))
}

#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Upheld,
    Concern,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReview {
    outcome: Outcome,
    note: String,
}

pub(crate) async fn review(
    principal: Principal,
    State(state): State<AppState>,
    Path(seq): Path<String>,
    Body(body): Body<NewReview>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let who = auditor(&state, principal, Action::ReviewOverride)?;
    let seq: i64 = seq.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!("\"{seq}\" is not an audit seq"),
        )
    })?;
    if body.note.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_field",
            "note: say what the review found",
        ));
    }
    let outcome = match body.outcome {
        Outcome::Upheld => "upheld",
        Outcome::Concern => "concern",
    };
    let target = audit_rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        &format!(
            "AND seq = {seq} AND action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%'"
        ),
    )
    .await?
    .pop();
    let Some(target) = target else {
        return Err(ApiError::not_found(format!(
            "no override awaiting review at seq {seq}"
        )));
    };
    let note = state
        .at_rest
        .encrypt(body.note.trim().as_bytes())
        .map_err(ApiError::internal)?;
    let mut tx = state.writer.begin().await?;
    let reviewed: bool = on_tx!(&mut tx, c => sqlx::query("SELECT 1 AS x FROM audit_reviews WHERE override_seq = $1")
        .bind(seq)
        .fetch_optional(&mut **c)
        .await?
        .is_some());
    if reviewed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_reviewed",
            format!("the override at seq {seq} has been reviewed"),
        ));
    }
    let mut entry = Entry::new(&who.principal, "audit.review")
        .detail(json!({"override_seq": seq, "outcome": outcome}));
    entry.subject_id = target.subject_id.clone();
    let review_seq = tx.append(entry).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO audit_reviews (override_seq, outcome, note_enc, reviewer_agency, reviewer_sub, review_seq, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(seq)
        .bind(outcome)
        .bind(&note)
        .bind(&*who.principal.agency)
        .bind(&who.principal.sub)
        .bind(review_seq)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => ApiError::new(
                StatusCode::CONFLICT,
                "already_reviewed",
                format!("the override at seq {seq} has been reviewed"),
            ),
            _ => store_failed(e),
        })?);
    tx.finish().await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"override_seq": seq, "outcome": outcome, "audit_seq": review_seq})),
    ))
}

/// The subject access report: every disclosure decision about the child's records and every
/// read of a packet about the child: who received what, when, why and on which basis.
pub(crate) async fn history(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    let subject = path_id::<SubjectId>(&subject)?;
    let f = Filters {
        subject_id: Some(subject.to_string()),
        ..Filters::default()
    };
    if !known_subject(&state.db, &f, &subject, who.scope.as_deref()).await? {
        return Err(ApiError::not_found(format!("no subject {subject}")));
    }
    let rows = audit_rows(
        &state.db,
        &f,
        who.scope.as_deref(),
        "AND action IN ('disclosure', 'packet.read') ORDER BY seq",
    )
    .await?;
    let seq = record_query(
        &state,
        &who,
        "audit.subject_history",
        json!({"subject_id": subject}),
    )
    .await?;
    Ok(Json(json!({
        "subject_id": subject,
        "disclosures": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "audit_seq": seq,
    })))
}

/// The rows `f` selects within `scope`, `tail` appended to the WHERE clause.
async fn audit_rows(
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

/// Does the child exist for this auditor? For the partnership: it is registered. For an IG
/// officer of another agency: their agency registered it or appears in an audit entry about
/// it. A child of another agency's is answered exactly as an unknown id, so the answer cannot
/// tell a caller whether a child exists (`f` selects the child's entries).
async fn known_subject(
    db: &Db,
    f: &Filters,
    subject: &str,
    scope: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let registered_by: Option<String> = with_db!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT registered_by FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(pool)
            .await?
    });
    Ok(match (registered_by, scope) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(by), Some(agency)) if by == agency => true,
        (Some(_), Some(_)) => !audit_rows(db, f, scope, "LIMIT 1").await?.is_empty(),
    })
}
