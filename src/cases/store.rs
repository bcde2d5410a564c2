//! Cases as stored (migration 0007): reading a case with its events, links, clocks and duties;
//! writing each inside a writer action. Instants are `db::ts` text, which sorts as time, so
//! the overdue list and the timeliness report are plain comparisons on indexed columns.

use chrono::{DateTime, Utc};

use super::Clock;
pub use super::rows::{Case, Duty, Event};
use crate::db::{Db, parse_ts, ts};
use crate::store::term;
use crate::vocab::CaseStatus;
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

fn opt_ts(text: Option<String>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.as_deref().map(parse_ts).transpose()
}

const CASE: &str = "SELECT id, subject_id, subject_role, lead_agency, lead_sub, referred_by_agency, \
     referral_received_at, status, opened_at, closed_at, outcome FROM cases";

#[derive(sqlx::FromRow)]
struct CaseText {
    id: String,
    subject_id: String,
    subject_role: String,
    lead_agency: String,
    lead_sub: String,
    referred_by_agency: Option<String>,
    referral_received_at: String,
    status: String,
    opened_at: String,
    closed_at: Option<String>,
    outcome: Option<String>,
}

impl TryFrom<CaseText> for Case {
    type Error = sqlx::Error;
    fn try_from(r: CaseText) -> Result<Case, sqlx::Error> {
        Ok(Case {
            subject_role: term(&r.subject_role)?,
            referral_received_at: parse_ts(&r.referral_received_at)?,
            status: term(&r.status)?,
            opened_at: parse_ts(&r.opened_at)?,
            closed_at: opt_ts(r.closed_at)?,
            outcome: r.outcome.as_deref().map(term).transpose()?,
            id: r.id,
            subject_id: r.subject_id,
            lead_agency: r.lead_agency,
            lead_sub: r.lead_sub,
            referred_by_agency: r.referred_by_agency,
        })
    }
}

#[derive(sqlx::FromRow)]
struct EventText {
    seq: i64,
    kind: String,
    occurred_at: String,
    record_id: Option<String>,
    outcome: Option<String>,
    rationale_enc: Option<Vec<u8>>,
    note_enc: Option<Vec<u8>>,
    agency: String,
    sub: String,
    created_at: String,
    lead_sub: Option<String>,
    route: Option<String>,
    clock: Option<String>,
    screening_tool: Option<String>,
    screening_level: Option<String>,
}

impl TryFrom<EventText> for Event {
    type Error = sqlx::Error;
    fn try_from(r: EventText) -> Result<Event, sqlx::Error> {
        Ok(Event {
            seq: r.seq,
            kind: term(&r.kind)?,
            occurred_at: parse_ts(&r.occurred_at)?,
            outcome: r.outcome.as_deref().map(term).transpose()?,
            recorded_at: parse_ts(&r.created_at)?,
            record_id: r.record_id,
            rationale_enc: r.rationale_enc,
            note_enc: r.note_enc,
            agency: r.agency,
            sub: r.sub,
            lead_sub: r.lead_sub,
            route: r.route.as_deref().map(term).transpose()?,
            clock: r.clock,
            screening: match (r.screening_tool, r.screening_level) {
                (Some(t), Some(l)) => Some((term(&t)?, term(&l)?)),
                _ => None,
            },
        })
    }
}

const EVENTS: &str = "SELECT seq, kind, occurred_at, record_id, outcome, rationale_enc, note_enc, \
     agency, sub, created_at, lead_sub, route, clock, screening_tool, screening_level \
     FROM case_events WHERE case_id = $1 ORDER BY seq";

#[derive(sqlx::FromRow)]
struct ClockText {
    case_id: String,
    clock: String,
    occurrence: i32,
    started_at: String,
    due_at: String,
    stopped_at: Option<String>,
    not_required: i32,
}

impl ClockText {
    fn parse(self) -> Result<(String, Clock), sqlx::Error> {
        Ok((
            self.case_id,
            Clock {
                clock: self.clock,
                occurrence: u32::try_from(self.occurrence).unwrap_or(1),
                started_at: parse_ts(&self.started_at)?,
                due_at: parse_ts(&self.due_at)?,
                stopped_at: opt_ts(self.stopped_at)?,
                not_required: self.not_required != 0,
            },
        ))
    }
}

/// Everything about one case.
#[derive(Debug, Clone)]
pub struct Full {
    pub case: Case,
    pub linked_case_ids: Vec<String>,
    pub events: Vec<Event>,
    pub clocks: Vec<Clock>,
    pub duties: Vec<Duty>,
    /// The duties records about the child set off while no case was open (a MERLIN notice
    /// before the referral), each with its record's id, in the order carried out.
    pub record_duties: Vec<(String, Duty)>,
}

/// Reads one case and all that belongs to it, from the read side.
pub async fn load(db: &Db, id: &str) -> Result<Option<Full>, sqlx::Error> {
    with_db!(db, pool => {
        let Some(case) = sqlx::query_as::<_, CaseText>(sqlx::AssertSqlSafe(format!("{CASE} WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?
        else {
            return Ok(None);
        };
        let linked_case_ids = sqlx::query_scalar::<_, String>(
            "SELECT linked_id FROM case_links WHERE case_id = $1 ORDER BY linked_id")
            .bind(id)
            .fetch_all(pool)
            .await?;
        let events = sqlx::query_as::<_, EventText>(EVENTS)
            .bind(id)
            .fetch_all(pool)
            .await?;
        let clocks = sqlx::query_as::<_, ClockText>(CLOCKS_OF_ONE)
            .bind(id)
            .fetch_all(pool)
            .await?;
        let duties = sqlx::query_as::<_, Duty>(DUTIES)
            .bind(id)
            .fetch_all(pool)
            .await?;
        let mut record_duties = Vec::new();
        for r in sqlx::query(
            "SELECT record_id, seq, duty, trigger_name, recipient_agency, decision, reasons, \
             disclosure_id, audit_seq, created_at FROM record_duties WHERE subject_id = $1 \
             ORDER BY created_at, record_id, seq")
            .bind(&case.subject_id)
            .fetch_all(pool)
            .await?
        {
            record_duties.push((sqlx::Row::try_get(&r, "record_id")?, sqlx::FromRow::from_row(&r)?));
        }
        Ok(Some(Full {
            case: case.try_into()?,
            linked_case_ids,
            events: events.into_iter().map(Event::try_from).collect::<Result<_, _>>()?,
            clocks: clocks
                .into_iter()
                .map(|c| c.parse().map(|(_, c)| c))
                .collect::<Result<_, _>>()?,
            duties,
            record_duties,
        }))
    })
}

const CLOCKS_OF_ONE: &str = "SELECT case_id, clock, occurrence, started_at, due_at, stopped_at, \
     not_required FROM case_clocks WHERE case_id = $1 ORDER BY started_at, clock, occurrence";

const DUTIES: &str = "SELECT seq, duty, trigger_name, recipient_agency, decision, reasons, \
     disclosure_id, audit_seq, created_at FROM case_duties WHERE case_id = $1 ORDER BY seq";

/// The duties a record set off about a child with no case open, listed on the record
/// (`record_duties`), in the order they were carried out.
pub async fn record_duties(db: &Db, record: &str) -> Result<Vec<Duty>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as::<_, Duty>(
        "SELECT seq, duty, trigger_name, recipient_agency, decision, reasons, disclosure_id, \
         audit_seq, created_at FROM record_duties WHERE record_id = $1 ORDER BY seq")
        .bind(record)
        .fetch_all(pool)
        .await)
}

/// The duties a record set off while a case of its child was open, listed on that case
/// (`case_duties`), found by their audit entries, which name the record.
pub async fn case_duties_of_record(db: &Db, record: &str) -> Result<Vec<Duty>, sqlx::Error> {
    with_db!(db, pool => sqlx::query_as::<_, Duty>(
        "SELECT seq, duty, trigger_name, recipient_agency, decision, reasons, disclosure_id, \
         audit_seq, created_at FROM case_duties WHERE trigger_name LIKE 'record:%' AND audit_seq IN \
         (SELECT seq FROM audit_records WHERE record_id = $1) ORDER BY audit_seq")
        .bind(record)
        .fetch_all(pool)
        .await)
}

/// A case's row, events and clocks read inside a write action (so what is checked is what is
/// changed).
pub async fn load_for_write(
    tx: &mut WriteTx,
    id: &str,
) -> Result<Option<(Case, Vec<Event>, Vec<Clock>)>, sqlx::Error> {
    on_tx!(tx, c => {
        let Some(case) = sqlx::query_as::<_, CaseText>(sqlx::AssertSqlSafe(format!("{CASE} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut **c)
            .await?
        else {
            return Ok(None);
        };
        let events = sqlx::query_as::<_, EventText>(EVENTS)
            .bind(id)
            .fetch_all(&mut **c)
            .await?;
        let clocks = sqlx::query_as::<_, ClockText>(CLOCKS_OF_ONE)
            .bind(id)
            .fetch_all(&mut **c)
            .await?;
        Ok(Some((
            case.try_into()?,
            events.into_iter().map(Event::try_from).collect::<Result<_, _>>()?,
            clocks
                .into_iter()
                .map(|c| c.parse().map(|(_, c)| c))
                .collect::<Result<_, _>>()?,
        )))
    })
}

/// The lead agency of the open case for `subject`, if one is open; the newest, when a host
/// area's case has opened beside its placing authority's (PROCESS.md P3): child protection
/// enquiries are the host's.
pub async fn open_case_lead(
    tx: &mut WriteTx,
    subject: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    Ok(super::involved::open_cases(tx, subject).await?.pop())
}

/// The subject of each existing case among `ids` (an id not found is absent).
pub async fn subjects_of(
    tx: &mut WriteTx,
    ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let found: Option<String> = on_tx!(tx, c => sqlx::query_scalar(
            "SELECT subject_id FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **c)
            .await?);
        if let Some(subject) = found {
            out.push((id.clone(), subject));
        }
    }
    Ok(out)
}

/// Which cases a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this lead agency's cases (None: every agency's, for the partnership).
    pub lead_agency: Option<String>,
    /// With `lead_agency`: also the cases that agency is involved in (PROCESS.md P3).
    pub or_involved: bool,
    pub status: Option<CaseStatus>,
    /// Only open cases with a clock running past its due time at this instant.
    pub overdue_at: Option<DateTime<Utc>>,
    pub lead_sub: Option<String>,
    /// Only cases of children whose home or current area is this one (PROCESS.md, Places).
    pub area: Option<String>,
    /// Cases whose id sorts after this one (ids are time-ordered).
    pub after: Option<String>,
    pub limit: i64,
}

/// The cases the filter selects, by id (opening order), with their clocks.
pub async fn list(db: &Db, f: &Filter) -> Result<Vec<(Case, Vec<Clock>)>, sqlx::Error> {
    let mut sql = format!("{CASE} c WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, cond: &str, value: String| {
        binds.push(value);
        sql.push_str(&cond.replace('?', &format!("${}", binds.len())));
    };
    match &f.lead_agency {
        Some(a) if f.or_involved => bind(
            &mut sql,
            " AND (c.lead_agency = ? OR EXISTS (SELECT 1 FROM case_involved_agencies i \
             WHERE i.case_id = c.id AND i.agency = ?))",
            a.clone(),
        ),
        Some(a) => bind(&mut sql, " AND c.lead_agency = ?", a.clone()),
        None => {}
    }
    if let Some(s) = f.status {
        bind(&mut sql, " AND c.status = ?", s.as_str().to_owned());
    }
    if let Some(at) = f.overdue_at {
        bind(
            &mut sql,
            " AND c.status = 'open' AND EXISTS (SELECT 1 FROM case_clocks k WHERE \
             k.case_id = c.id AND k.stopped_at IS NULL AND k.not_required = 0 AND k.due_at < ?)",
            ts(at),
        );
    }
    if let Some(s) = &f.lead_sub {
        bind(&mut sql, " AND c.lead_sub = ?", s.clone());
    }
    if let Some(a) = &f.area {
        let cond = format!(" AND {}", super::rows::in_area("c.subject_id", "?"));
        bind(&mut sql, &cond, a.clone());
    }
    if let Some(a) = &f.after {
        bind(&mut sql, " AND c.id > ?", a.clone());
    }
    sql.push_str(&format!(" ORDER BY c.id LIMIT {}", f.limit.clamp(1, 1000)));
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, CaseText>(sqlx::AssertSqlSafe(sql.as_str()));
        for b in &binds {
            q = q.bind(b);
        }
        let cases: Vec<Case> = q
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(Case::try_from)
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(cases.len());
        if cases.is_empty() {
            return Ok(out);
        }
        // the clocks of every listed case in one statement
        let marks: Vec<String> = (1..=cases.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT case_id, clock, occurrence, started_at, due_at, stopped_at, not_required \
             FROM case_clocks WHERE case_id IN ({}) ORDER BY started_at, clock, occurrence",
            marks.join(", ")
        );
        let mut q = sqlx::query_as::<_, ClockText>(sqlx::AssertSqlSafe(sql.as_str()));
        for case in &cases {
            q = q.bind(&case.id);
        }
        let clocks = q.fetch_all(pool).await?;
        let mut by_case: std::collections::HashMap<String, Vec<Clock>> = Default::default();
        for k in clocks {
            let (id, clock) = k.parse()?;
            by_case.entry(id).or_default().push(clock);
        }
        for case in cases {
            let clocks = by_case.remove(&case.id).unwrap_or_default();
            out.push((case, clocks));
        }
        Ok(out)
    })
}

pub use super::writes::{
    append_event, insert, insert_duty, insert_record_duty, next_duty_seq, store_clocks, update_case,
};
