//! The timeliness report's `action` line (PROCESS.md: "Action clocks count in the timeliness
//! report"): each action agreed on a case is a clock that starts when it is agreed and stops
//! when its owner marks it done, due at its `due_at`. Of the actions agreed in `[from, to)`,
//! in the report's scope (the case's lead agency, the child's area): done on time, done late,
//! open past due at `as_of` on an open case (overdue), open and not yet due (pending), left
//! open on a closed case (closed unmet), and the median time to done.

use chrono::{DateTime, Utc};

use super::{Line, Scope};
use crate::db::{Db, ts};
use crate::with_db;

/// The clock name of the line.
pub const CLOCK: &str = "action";

#[derive(sqlx::FromRow)]
struct Counts {
    started: i64,
    met_on_time: Option<i64>,
    met_late: Option<i64>,
    overdue_now: Option<i64>,
    pending: Option<i64>,
    closed_unmet: Option<i64>,
}

/// The `action` line of the report for the window `[from, to)` judged at `as_of`.
pub async fn line(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    as_of: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<Line, sqlx::Error> {
    let by_scope = scope.sql(4, "a.lead_agency", "c.subject_id");
    // the case is joined only for its child's area; its status rides on the action
    let join = if scope.area.is_some() {
        " JOIN cases c ON c.id = a.case_id"
    } else {
        ""
    };
    let binds = scope.binds();
    // CAST: SQLite's SUM of integers is an integer, PostgreSQL's a numeric
    let counts_sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS started, \
         CAST(SUM(CASE WHEN a.done_at IS NOT NULL AND a.done_at <= a.due_at THEN 1 ELSE 0 END) AS BIGINT) AS met_on_time, \
         CAST(SUM(CASE WHEN a.done_at IS NOT NULL AND a.done_at > a.due_at THEN 1 ELSE 0 END) AS BIGINT) AS met_late, \
         CAST(SUM(CASE WHEN a.done_at IS NULL AND a.case_status = 'open' AND a.due_at < $3 THEN 1 ELSE 0 END) AS BIGINT) AS overdue_now, \
         CAST(SUM(CASE WHEN a.done_at IS NULL AND a.case_status = 'open' AND a.due_at >= $3 THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
         CAST(SUM(CASE WHEN a.done_at IS NULL AND a.case_status <> 'open' THEN 1 ELSE 0 END) AS BIGINT) AS closed_unmet \
         FROM case_actions a{join} \
         WHERE a.created_at >= $1 AND a.created_at < $2{by_scope}"
    );
    let in_scope = scope.sql(3, "a.lead_agency", "c.subject_id");
    let next = 3 + binds.len();
    let median_sql = format!(
        "SELECT a.taken_seconds FROM case_actions a{join} \
         WHERE a.created_at >= $1 AND a.created_at < $2 \
         AND a.taken_seconds IS NOT NULL{in_scope} \
         ORDER BY a.taken_seconds LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let (f, t, a) = (ts(from), ts(to), ts(as_of));
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, Counts>(sqlx::AssertSqlSafe(counts_sql.as_str()))
            .bind(&f)
            .bind(&t)
            .bind(&a);
        for b in &binds {
            q = q.bind(*b);
        }
        let c = q.fetch_one(pool).await?;
        let (on_time, late) = (c.met_on_time.unwrap_or(0), c.met_late.unwrap_or(0));
        let stopped = on_time + late;
        let median_hours = if stopped == 0 {
            None
        } else {
            // the middle one (odd) or the middle two (even)
            let (offset, take) = ((stopped - 1) / 2, if stopped % 2 == 0 { 2 } else { 1 });
            let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(median_sql.as_str()))
                .bind(&f)
                .bind(&t);
            for b in &binds {
                q = q.bind(*b);
            }
            let middle = q.bind(take).bind(offset).fetch_all(pool).await?;
            let sum: i64 = middle.iter().sum();
            let seconds = sum as f64 / middle.len().max(1) as f64;
            Some((seconds / 360.0).round() / 10.0)
        };
        // an action is never `not_required` nor otherwise counted apart: any count the
        // report's clocks have that an action does not is zero
        let mut line = Line {
            clock: CLOCK.to_owned(),
            median_hours,
            ..Line::default()
        };
        line.started = c.started;
        line.met_on_time = on_time;
        line.met_late = late;
        line.overdue_now = c.overdue_now.unwrap_or(0);
        line.pending = c.pending.unwrap_or(0);
        line.closed_unmet = c.closed_unmet.unwrap_or(0);
        Ok(line)
    })
}
