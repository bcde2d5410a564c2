//! Requests for information as stored (migration 0020; PROCESS.md, Meetings, actions and
//! requests for information): a request asked by the lead agency of a child's open case, the
//! lists of requests to and from an agency, and the two ways a request closes (answered by a
//! disclosure, declined with a reason). The note and the reason stay sealed here.

use chrono::{DateTime, Utc};

use crate::db::{Db, parse_ts, ts};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// One request for information, its note and reason still sealed to the at-rest identity.
#[derive(Debug, Clone)]
pub struct InfoRequest {
    pub id: String,
    pub subject_id: String,
    pub case_id: String,
    pub from_agency: String,
    pub from_sub: String,
    pub to_agency: String,
    pub purpose: String,
    /// Section names (JSON array as stored).
    pub sections: Vec<String>,
    pub due_at: DateTime<Utc>,
    pub note_enc: Option<Vec<u8>>,
    /// `open`, `answered` or `declined`.
    pub status: String,
    pub answered_at: Option<DateTime<Utc>>,
    pub disclosure_id: Option<String>,
    pub declined_at: Option<DateTime<Utc>>,
    pub reason_enc: Option<Vec<u8>>,
    pub created_at: DateTime<Utc>,
    /// The child's stored date of birth (`YYYY-MM-DD`) and sealed name (`subjects`).
    pub child_born: String,
    pub child_name_enc: Option<Vec<u8>>,
}

impl InfoRequest {
    pub fn is_open(&self) -> bool {
        self.status == "open"
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    subject_id: String,
    case_id: String,
    from_agency: String,
    from_sub: String,
    to_agency: String,
    purpose: String,
    sections: String,
    due_at: String,
    note_enc: Option<Vec<u8>>,
    status: String,
    answered_at: Option<String>,
    disclosure_id: Option<String>,
    declined_at: Option<String>,
    reason_enc: Option<Vec<u8>>,
    created_at: String,
    date_of_birth: String,
    display_name_enc: Option<Vec<u8>>,
}

impl TryFrom<Row> for InfoRequest {
    type Error = sqlx::Error;
    fn try_from(r: Row) -> Result<InfoRequest, sqlx::Error> {
        let opt = |t: Option<String>| t.as_deref().map(parse_ts).transpose();
        Ok(InfoRequest {
            sections: serde_json::from_str(&r.sections)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            due_at: parse_ts(&r.due_at)?,
            answered_at: opt(r.answered_at)?,
            declined_at: opt(r.declined_at)?,
            created_at: parse_ts(&r.created_at)?,
            id: r.id,
            subject_id: r.subject_id,
            case_id: r.case_id,
            from_agency: r.from_agency,
            from_sub: r.from_sub,
            to_agency: r.to_agency,
            purpose: r.purpose,
            note_enc: r.note_enc,
            status: r.status,
            disclosure_id: r.disclosure_id,
            reason_enc: r.reason_enc,
            child_born: r.date_of_birth,
            child_name_enc: r.display_name_enc,
        })
    }
}

const SELECT: &str = "SELECT r.id, r.subject_id, r.case_id, r.from_agency, r.from_sub, \
     r.to_agency, r.purpose, r.sections, r.due_at, r.note_enc, r.status, r.answered_at, \
     r.disclosure_id, r.declined_at, r.reason_enc, r.created_at, s.date_of_birth, \
     s.display_name_enc FROM info_requests r JOIN subjects s ON s.id = r.subject_id";

fn parsed(rows: Vec<Row>) -> Result<Vec<InfoRequest>, sqlx::Error> {
    rows.into_iter().map(InfoRequest::try_from).collect()
}

/// Which requests a list holds.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Requests addressed to this agency.
    pub to: Option<String>,
    /// Requests asked by this agency.
    pub from: Option<String>,
    /// Only those of this status.
    pub status: Option<&'static str>,
    /// Only those open and past their due time at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// The requests to or from an agency (either, when both are given), oldest due first.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<InfoRequest>, sqlx::Error> {
    fn param(v: String, binds: &mut Vec<String>) -> String {
        binds.push(v);
        format!("${}", binds.len())
    }
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut sides = Vec::new();
    if let Some(to) = &f.to {
        sides.push(format!("r.to_agency = {}", param(to.clone(), &mut binds)));
    }
    if let Some(from) = &f.from {
        sides.push(format!(
            "r.from_agency = {}",
            param(from.clone(), &mut binds)
        ));
    }
    if !sides.is_empty() {
        clauses.push(format!("({})", sides.join(" OR ")));
    }
    if let Some(status) = f.status {
        clauses.push(format!(
            "r.status = {}",
            param(status.to_owned(), &mut binds)
        ));
    }
    if let Some(at) = f.overdue_at {
        clauses.push(format!(
            "r.status = 'open' AND r.due_at < {}",
            param(ts(at), &mut binds)
        ));
    }
    let mut sql = SELECT.to_owned();
    if !clauses.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&clauses.join(" AND "));
    }
    sql.push_str(&format!(
        " ORDER BY r.due_at, r.id LIMIT {}",
        f.limit.clamp(1, 1000)
    ));
    let rows = with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        q.fetch_all(pool).await
    })?;
    parsed(rows)
}

/// The requests made for a case, in the order they were asked.
pub async fn of_case(db: &Db, case_id: &str) -> Result<Vec<InfoRequest>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.case_id = $1 ORDER BY r.created_at, r.id");
    let rows = with_db!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(case_id)
        .fetch_all(pool)
        .await)?;
    parsed(rows)
}

/// One request, read outside the write queue.
pub async fn get(db: &Db, id: &str) -> Result<Option<InfoRequest>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    let row = with_db!(db, pool => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(pool)
        .await)?;
    row.map(InfoRequest::try_from).transpose()
}

/// One request, read inside a write action.
pub async fn get_for_write(tx: &mut WriteTx, id: &str) -> Result<Option<InfoRequest>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    let row = on_tx!(tx, c => sqlx::query_as::<_, Row>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut **c)
        .await)?;
    row.map(InfoRequest::try_from).transpose()
}

/// Stores a request asked (open).
pub async fn insert(tx: &mut WriteTx, r: &InfoRequest) -> Result<(), sqlx::Error> {
    let sections = serde_json::to_string(&r.sections).unwrap_or_else(|_| "[]".into());
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO info_requests (id, subject_id, case_id, from_agency, from_sub, to_agency, \
         purpose, sections, due_at, note_enc, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11)")
        .bind(&r.id)
        .bind(&r.subject_id)
        .bind(&r.case_id)
        .bind(&r.from_agency)
        .bind(&r.from_sub)
        .bind(&r.to_agency)
        .bind(&r.purpose)
        .bind(&sections)
        .bind(ts(r.due_at))
        .bind(&r.note_enc)
        .bind(ts(r.created_at))
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Marks open request `id` answered by `disclosure_id` at `at`; false if it was not open.
pub async fn answer(
    tx: &mut WriteTx,
    id: &str,
    disclosure_id: &str,
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE info_requests SET status = 'answered', answered_at = $2, disclosure_id = $3 \
         WHERE id = $1 AND status = 'open'")
        .bind(id)
        .bind(ts(at))
        .bind(disclosure_id)
        .execute(&mut **c)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Marks open request `id` declined at `at` with the sealed reason; false if it was not open.
pub async fn decline(
    tx: &mut WriteTx,
    id: &str,
    reason_enc: &[u8],
    at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE info_requests SET status = 'declined', declined_at = $2, reason_enc = $3 \
         WHERE id = $1 AND status = 'open'")
        .bind(id)
        .bind(ts(at))
        .bind(reason_enc)
        .execute(&mut **c)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// The id of the open case of `subject_id` that `agency` leads, if any.
pub async fn open_case_led_by(
    tx: &mut WriteTx,
    subject_id: &str,
    agency: &str,
) -> Result<Option<String>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_scalar::<_, String>(
        "SELECT id FROM cases WHERE subject_id = $1 AND lead_agency = $2 AND status = 'open' \
         ORDER BY opened_at LIMIT 1")
        .bind(subject_id)
        .bind(agency)
        .fetch_optional(&mut **c)
        .await)
}
