//! Actions agreed on a case as stored (migration 0019; PROCESS.md, Meetings, actions and
//! requests for information): an action agreed, marked done by its owner agency, the actions
//! of a case and the actions an agency owns across cases. Description and note stay sealed to
//! the at-rest identity here; the application layer unseals them.

use chrono::{DateTime, Utc};

use crate::db::{Db, parse_ts, ts};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// One action of a case, its description and note still sealed.
#[derive(Debug, Clone)]
pub struct CaseAction {
    pub id: String,
    pub case_id: String,
    pub seq: i64,
    pub description_enc: Vec<u8>,
    pub owner_agency: String,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The agency leading the case (moved with the case by a transfer's acceptance).
    pub lead_agency: String,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    pub note_enc: Option<Vec<u8>>,
}

impl CaseAction {
    /// Done by its owner.
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// Open past its due time at `at`.
    pub fn overdue_at(&self, at: DateTime<Utc>) -> bool {
        !self.done() && self.due_at < at
    }
}

#[derive(sqlx::FromRow)]
struct ActionText {
    id: String,
    case_id: String,
    seq: i64,
    description_enc: Vec<u8>,
    owner_agency: String,
    due_at: String,
    created_at: String,
    created_by: String,
    lead_agency: String,
    done_at: Option<String>,
    done_by: Option<String>,
    note_enc: Option<Vec<u8>>,
}

impl TryFrom<ActionText> for CaseAction {
    type Error = sqlx::Error;
    fn try_from(r: ActionText) -> Result<CaseAction, sqlx::Error> {
        Ok(CaseAction {
            due_at: parse_ts(&r.due_at)?,
            created_at: parse_ts(&r.created_at)?,
            done_at: r.done_at.as_deref().map(parse_ts).transpose()?,
            id: r.id,
            case_id: r.case_id,
            seq: r.seq,
            description_enc: r.description_enc,
            owner_agency: r.owner_agency,
            created_by: r.created_by,
            lead_agency: r.lead_agency,
            done_by: r.done_by,
            note_enc: r.note_enc,
        })
    }
}

const ACTIONS: &str = "SELECT id, case_id, seq, description_enc, owner_agency, due_at, \
     created_at, created_by, lead_agency, done_at, done_by, note_enc FROM case_actions";

fn parsed(rows: Vec<ActionText>) -> Result<Vec<CaseAction>, sqlx::Error> {
    rows.into_iter().map(CaseAction::try_from).collect()
}

/// The actions of a case, in the order agreed.
pub async fn of_case(db: &Db, case_id: &str) -> Result<Vec<CaseAction>, sqlx::Error> {
    let sql = format!("{ACTIONS} WHERE case_id = $1 ORDER BY seq");
    let rows = with_db!(db, pool => sqlx::query_as::<_, ActionText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(case_id)
        .fetch_all(pool)
        .await)?;
    parsed(rows)
}

/// Action `id` of case `case_id`, from the read side.
pub async fn one(db: &Db, case_id: &str, id: &str) -> Result<Option<CaseAction>, sqlx::Error> {
    let sql = format!("{ACTIONS} WHERE id = $1 AND case_id = $2");
    let row = with_db!(db, pool => sqlx::query_as::<_, ActionText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .bind(case_id)
        .fetch_optional(pool)
        .await)?;
    row.map(CaseAction::try_from).transpose()
}

/// Action `id` of case `case_id`, read inside a write action.
pub async fn one_for_write(
    tx: &mut WriteTx,
    case_id: &str,
    id: &str,
) -> Result<Option<CaseAction>, sqlx::Error> {
    let sql = format!("{ACTIONS} WHERE id = $1 AND case_id = $2");
    let row = on_tx!(tx, c => sqlx::query_as::<_, ActionText>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .bind(case_id)
        .fetch_optional(&mut **c)
        .await)?;
    row.map(CaseAction::try_from).transpose()
}

/// The number the next action of a case takes (1, 2, ...).
pub async fn next_seq(tx: &mut WriteTx, case_id: &str) -> Result<i64, sqlx::Error> {
    let last: Option<i64> = on_tx!(tx, c => sqlx::query_scalar(
        "SELECT MAX(seq) FROM case_actions WHERE case_id = $1")
        .bind(case_id)
        .fetch_one(&mut **c)
        .await)?;
    Ok(last.unwrap_or(0) + 1)
}

/// Stores an action agreed (open).
pub async fn insert(tx: &mut WriteTx, a: &CaseAction) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_actions (id, case_id, seq, description_enc, owner_agency, due_at, \
         created_at, created_by, lead_agency, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'open')")
        .bind(&a.id)
        .bind(&a.case_id)
        .bind(a.seq)
        .bind(&a.description_enc)
        .bind(&a.owner_agency)
        .bind(ts(a.due_at))
        .bind(ts(a.created_at))
        .bind(&a.created_by)
        .bind(&a.lead_agency)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Marks action `a` done at `at` by `by`, with its sealed note; false if it was done already
/// (the row is changed only while open).
pub async fn mark_done(
    tx: &mut WriteTx,
    a: &CaseAction,
    at: DateTime<Utc>,
    by: &str,
    note_enc: Option<&[u8]>,
) -> Result<bool, sqlx::Error> {
    let taken = (at - a.created_at).num_seconds().max(0);
    let done = on_tx!(tx, c => sqlx::query(
        "UPDATE case_actions SET status = 'done', done_at = $2, done_by = $3, note_enc = $4, \
         taken_seconds = $5 WHERE id = $1 AND status = 'open'")
        .bind(&a.id)
        .bind(ts(at))
        .bind(by)
        .bind(note_enc)
        .bind(taken)
        .execute(&mut **c)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(done == 1)
}

/// Which of an agency's actions a list shows.
#[derive(Debug, Clone, Default)]
pub struct Owned {
    pub owner_agency: String,
    /// Only the open (`false`) or the done (`true`) ones.
    pub done: Option<bool>,
    /// Only those open past their due time at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Actions whose id sorts after this one (ids are time-ordered).
    pub after: Option<String>,
    pub limit: i64,
}

/// The actions an agency owns across cases, in the order agreed (by id).
pub async fn owned(db: &Db, f: &Owned) -> Result<Vec<CaseAction>, sqlx::Error> {
    let mut sql = format!("{ACTIONS} WHERE owner_agency = $1");
    let mut binds = vec![f.owner_agency.clone()];
    let mut bind = |sql: &mut String, cond: &str, value: String| {
        binds.push(value);
        sql.push_str(&cond.replace('?', &format!("${}", binds.len())));
    };
    match f.done {
        Some(true) => sql.push_str(" AND status = 'done'"),
        Some(false) => sql.push_str(" AND status = 'open'"),
        None => {}
    }
    if let Some(at) = f.overdue_at {
        bind(&mut sql, " AND status = 'open' AND due_at < ?", ts(at));
    }
    if let Some(a) = &f.after {
        bind(&mut sql, " AND id > ?", a.clone());
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", f.limit.clamp(1, 1000)));
    let rows = with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, ActionText>(sqlx::AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        q.fetch_all(pool).await
    })?;
    parsed(rows)
}
