//! The timeliness report (PROCESS.md, `GET /v1/reports/timeliness`): per clock, of the clocks
//! started in `[from, to)`, how many were met on time, met late, are overdue or pending at
//! `as_of`, or ended unmet with their case, and the median time taken by those stopped. Plus
//! the duties to notify carried out in the window, delivered and denied. Computed by grouped
//! counts over indexed columns and, for each median, one indexed seek.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod actions;

use super::rows::in_area;
use crate::db::{Db, ts};
use crate::with_db;

/// One clock's line of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Line {
    pub clock: String,
    pub started: i64,
    pub met_on_time: i64,
    pub met_late: i64,
    pub overdue_now: i64,
    pub pending: i64,
    /// Never stopped, on a case closed since: the step was not taken.
    pub closed_unmet: i64,
    /// Of a route the case did not take, or said not required by a team manager (PROCESS.md,
    /// Routes): counted apart, never late nor overdue.
    pub not_required: i64,
    /// The median of stopped_at - started_at over the clocks stopped, in hours (one decimal);
    /// null when none has stopped.
    pub median_hours: Option<f64>,
}

/// Duties to notify carried out in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Duties {
    pub delivered: i64,
    pub denied: i64,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub agency: Option<String>,
    /// Only the cases of children whose home or current area is this one (PROCESS.md, Places).
    pub area: Option<String>,
    pub clocks: Vec<Line>,
    pub duties: Duties,
}

#[derive(sqlx::FromRow)]
struct Counts {
    clock: String,
    /// The occurrence these rows count (1 for a first).
    occurrence: i64,
    started: i64,
    met_on_time: i64,
    met_late: i64,
    overdue_now: i64,
    pending: i64,
    closed_unmet: i64,
    not_required: i64,
}

/// A line the report shows: `clock`'s every occurrence, or (`first_only`) its first alone,
/// named `line` (the review's first occurrence is reported as `first_review` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub line: String,
    pub clock: String,
    pub first_only: bool,
}

impl Target {
    /// The lines of the timescales in force: one per clock, and for a repeating clock a
    /// `first_<clock>` line of its first occurrences.
    pub fn of(timescales: &[crate::decision::clocks::Timescale]) -> Vec<Target> {
        let mut out = Vec::new();
        for t in timescales {
            out.push(Target {
                line: t.clock.clone(),
                clock: t.clock.clone(),
                first_only: false,
            });
            if t.then.is_some() {
                out.push(Target {
                    line: format!("first_{}", t.clock),
                    clock: t.clock.clone(),
                    first_only: true,
                });
            }
        }
        out
    }
}

/// Whose clocks and duties a report counts: one lead agency's, the cases of children of one
/// area (home or current), or both; neither: every one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    pub agency: Option<&'a str>,
    pub area: Option<&'a str>,
}

impl Scope<'_> {
    /// The values to bind after a query's own `first - 1`, in order.
    fn binds(&self) -> Vec<&str> {
        self.agency.into_iter().chain(self.area).collect()
    }

    /// ` AND ...` conditions on the agency column `agency` and the child `subject` (an SQL
    /// expression), bound from `$first` on.
    fn sql(&self, first: usize, agency: &str, subject: &str) -> String {
        let mut sql = String::new();
        let mut n = first;
        if self.agency.is_some() {
            sql.push_str(&format!(" AND {agency} = ${n}"));
            n += 1;
        }
        if self.area.is_some() {
            sql.push_str(&format!(" AND {}", in_area(subject, &format!("${n}"))));
        }
        sql
    }
}

/// `clocks` names every line to report, in order (a clock nobody started reports zeros).
pub async fn timeliness(
    db: &Db,
    clocks: &[Target],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    as_of: DateTime<Utc>,
    scope: Scope<'_>,
) -> Result<Report, sqlx::Error> {
    let case_child = "(SELECT c.subject_id FROM cases c WHERE c.id = k.case_id)";
    let by_scope = scope.sql(4, "k.lead_agency", case_child);
    let binds = scope.binds();
    // CAST: SQLite's SUM of integers is an integer, PostgreSQL's a numeric
    let counts_sql = format!(
        "SELECT k.clock, CAST(k.occurrence AS BIGINT) AS occurrence, \
         CAST(COUNT(*) AS BIGINT) AS started, \
         CAST(SUM(CASE WHEN k.stopped_at IS NOT NULL AND k.stopped_at <= k.due_at THEN 1 ELSE 0 END) AS BIGINT) AS met_on_time, \
         CAST(SUM(CASE WHEN k.stopped_at IS NOT NULL AND k.stopped_at > k.due_at THEN 1 ELSE 0 END) AS BIGINT) AS met_late, \
         CAST(SUM(CASE WHEN k.stopped_at IS NULL AND k.not_required = 0 AND k.case_status = 'open' AND k.due_at < $3 THEN 1 ELSE 0 END) AS BIGINT) AS overdue_now, \
         CAST(SUM(CASE WHEN k.stopped_at IS NULL AND k.not_required = 0 AND k.case_status = 'open' AND k.due_at >= $3 THEN 1 ELSE 0 END) AS BIGINT) AS pending, \
         CAST(SUM(CASE WHEN k.stopped_at IS NULL AND k.not_required = 0 AND k.case_status <> 'open' THEN 1 ELSE 0 END) AS BIGINT) AS closed_unmet, \
         CAST(SUM(CASE WHEN k.stopped_at IS NULL AND k.not_required <> 0 THEN 1 ELSE 0 END) AS BIGINT) AS not_required \
         FROM case_clocks k \
         WHERE k.started_at >= $1 AND k.started_at < $2{by_scope} \
         GROUP BY k.clock, k.occurrence"
    );
    let next = 4 + binds.len();
    let median_sql = |first_only: bool| {
        format!(
            "SELECT k.taken_seconds FROM case_clocks k WHERE k.clock = $3 AND k.started_at >= $1 \
             AND k.started_at < $2 AND k.taken_seconds IS NOT NULL{}{by_scope} \
             ORDER BY k.taken_seconds LIMIT ${next} OFFSET ${}",
            if first_only {
                " AND k.occurrence = 1"
            } else {
                ""
            },
            next + 1
        )
    };
    // the duties listed on cases (by lead agency) and on records deposited with no case open
    // (by the depositing agency, whose duty it was)
    let on_cases = scope.sql(
        3,
        "cd.lead_agency",
        "(SELECT c.subject_id FROM cases c WHERE c.id = cd.case_id)",
    );
    let on_records = scope.sql(3, "rd.agency", "rd.subject_id");
    let duties_sql = format!(
        "SELECT CAST(SUM(CASE WHEN decision = 'permit' THEN 1 ELSE 0 END) AS BIGINT), \
         CAST(SUM(CASE WHEN decision = 'deny' THEN 1 ELSE 0 END) AS BIGINT) FROM ( \
         SELECT cd.decision FROM case_duties cd WHERE cd.created_at >= $1 AND cd.created_at < $2{on_cases} \
         UNION ALL \
         SELECT rd.decision FROM record_duties rd WHERE rd.created_at >= $1 AND rd.created_at < $2{on_records}) d"
    );
    let (f, t, a) = (ts(from), ts(to), ts(as_of));
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, Counts>(sqlx::AssertSqlSafe(counts_sql.as_str())).bind(&f).bind(&t).bind(&a);
        for b in &binds {
            q = q.bind(*b);
        }
        let counts = q.fetch_all(pool).await?;
        let mut lines = Vec::with_capacity(clocks.len());
        for target in clocks {
            let rows: Vec<&Counts> = counts
                .iter()
                .filter(|c| c.clock == target.clock && (!target.first_only || c.occurrence == 1))
                .collect();
            let sum = |f: fn(&Counts) -> i64| rows.iter().map(|c| f(c)).sum::<i64>();
            let stopped = sum(|c| c.met_on_time + c.met_late);
            let median_hours = if stopped == 0 {
                None
            } else {
                // the middle one (odd) or the middle two (even), by one indexed seek
                let (offset, take) = ((stopped - 1) / 2, if stopped % 2 == 0 { 2 } else { 1 });
                let sql = median_sql(target.first_only);
                let mut q = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(&f)
                    .bind(&t)
                    .bind(&target.clock);
                for b in &binds {
                    q = q.bind(*b);
                }
                let middle = q.bind(take).bind(offset).fetch_all(pool).await?;
                let sum: i64 = middle.iter().sum();
                let seconds = sum as f64 / middle.len().max(1) as f64;
                Some((seconds / 360.0).round() / 10.0)
            };
            lines.push(Line {
                clock: target.line.clone(),
                started: sum(|c| c.started),
                met_on_time: sum(|c| c.met_on_time),
                met_late: sum(|c| c.met_late),
                overdue_now: sum(|c| c.overdue_now),
                pending: sum(|c| c.pending),
                closed_unmet: sum(|c| c.closed_unmet),
                not_required: sum(|c| c.not_required),
                median_hours,
            });
        }
        lines.push(actions::line(db, from, to, as_of, scope).await?);
        let mut q = sqlx::query_as::<_, (Option<i64>, Option<i64>)>(sqlx::AssertSqlSafe(duties_sql.as_str())).bind(&f).bind(&t);
        for b in &binds {
            q = q.bind(*b);
        }
        let (delivered, denied) = q.fetch_one(pool).await?;
        Ok(Report {
            from,
            to,
            as_of,
            agency: scope.agency.map(str::to_owned),
            area: scope.area.map(str::to_owned),
            clocks: lines,
            duties: Duties {
                delivered: delivered.unwrap_or(0),
                denied: denied.unwrap_or(0),
            },
        })
    })
}

/// The report as CSV: a header and a line per clock, then the duties as two lines.
pub fn csv(report: &Report) -> String {
    let mut out = String::from(
        "clock,started,met_on_time,met_late,overdue_now,pending,closed_unmet,median_hours,not_required\n",
    );
    for l in &report.clocks {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            l.clock,
            l.started,
            l.met_on_time,
            l.met_late,
            l.overdue_now,
            l.pending,
            l.closed_unmet,
            l.median_hours.map(|m| m.to_string()).unwrap_or_default(),
            l.not_required
        ));
    }
    out.push_str(&format!(
        "duties_delivered,{}\nduties_denied,{}\n",
        report.duties.delivered, report.duties.denied
    ));
    out
}

/// The running clocks of open cases past their due time at `now`, counted by clock (for the
/// metrics scrape: one grouped count over the `clocks_running` index, no case named).
pub async fn overdue_by_clock(
    db: &Db,
    now: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as(
        "SELECT clock, CAST(COUNT(*) AS BIGINT) FROM case_clocks \
         WHERE stopped_at IS NULL AND not_required = 0 AND case_status = 'open' AND due_at < $1 \
         GROUP BY clock")
        .bind(ts(now))
        .fetch_all(pool)
        .await)
}
