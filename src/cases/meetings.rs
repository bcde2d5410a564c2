//! Meetings of a case as stored (migration 0018; PROCESS.md, Meetings): a meeting scheduled
//! with its invitees, the attendance recorded for it, and the disclosures of a record that
//! reached an agency (for the minutes of a strategy meeting).

use chrono::{DateTime, Utc};

use crate::db::{Db, parse_ts, ts};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// One meeting of a case.
#[derive(Debug, Clone)]
pub struct Meeting {
    pub id: String,
    pub case_id: String,
    /// A `vocab::MeetingKind`, as stored.
    pub kind: String,
    pub scheduled_for: DateTime<Utc>,
    pub invitees: Vec<String>,
    pub created_agency: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The case event that recorded the meeting held (a strategy meeting's first attendance).
    pub held_seq: Option<i64>,
}

/// One agency's attendance at a meeting.
#[derive(Debug, Clone)]
pub struct Attendance {
    pub meeting_id: String,
    pub agency: String,
    pub attended: bool,
    pub written_report_record_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_agency: String,
    pub recorded_by: String,
}

#[derive(sqlx::FromRow)]
struct MeetingText {
    id: String,
    case_id: String,
    kind: String,
    scheduled_for: String,
    invitees: String,
    created_agency: String,
    created_by: String,
    created_at: String,
    held_seq: Option<i64>,
}

impl TryFrom<MeetingText> for Meeting {
    type Error = sqlx::Error;
    fn try_from(r: MeetingText) -> Result<Meeting, sqlx::Error> {
        Ok(Meeting {
            scheduled_for: parse_ts(&r.scheduled_for)?,
            created_at: parse_ts(&r.created_at)?,
            invitees: serde_json::from_str(&r.invitees)
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            id: r.id,
            case_id: r.case_id,
            kind: r.kind,
            created_agency: r.created_agency,
            created_by: r.created_by,
            held_seq: r.held_seq,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttendanceText {
    meeting_id: String,
    agency: String,
    attended: bool,
    written_report_record_id: Option<String>,
    recorded_at: String,
    recorded_agency: String,
    recorded_by: String,
}

impl TryFrom<AttendanceText> for Attendance {
    type Error = sqlx::Error;
    fn try_from(r: AttendanceText) -> Result<Attendance, sqlx::Error> {
        Ok(Attendance {
            recorded_at: parse_ts(&r.recorded_at)?,
            meeting_id: r.meeting_id,
            agency: r.agency,
            attended: r.attended,
            written_report_record_id: r.written_report_record_id,
            recorded_agency: r.recorded_agency,
            recorded_by: r.recorded_by,
        })
    }
}

const MEETINGS: &str = "SELECT id, case_id, kind, scheduled_for, invitees, created_agency, \
     created_by, created_at, held_seq FROM case_meetings WHERE case_id = $1 \
     ORDER BY scheduled_for, created_at, id";

const ATTENDANCE: &str = "SELECT a.meeting_id, a.agency, a.attended, \
     a.written_report_record_id, a.recorded_at, a.recorded_agency, a.recorded_by \
     FROM case_meeting_attendance a JOIN case_meetings m ON m.id = a.meeting_id \
     WHERE m.case_id = $1 ORDER BY a.recorded_at, a.agency";

fn parsed<T, R: TryInto<T, Error = sqlx::Error>>(rows: Vec<R>) -> Result<Vec<T>, sqlx::Error> {
    rows.into_iter().map(TryInto::try_into).collect()
}

/// The meetings of a case (in the order they are scheduled for) and their attendance.
pub async fn of_case(
    db: &Db,
    case_id: &str,
) -> Result<(Vec<Meeting>, Vec<Attendance>), sqlx::Error> {
    let (meetings, attendance) = with_db!(db, pool => {
        let m = sqlx::query_as::<_, MeetingText>(MEETINGS)
            .bind(case_id)
            .fetch_all(pool)
            .await?;
        let a = sqlx::query_as::<_, AttendanceText>(ATTENDANCE)
            .bind(case_id)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((m, a))
    })?;
    Ok((parsed(meetings)?, parsed(attendance)?))
}

/// [`of_case`] read inside a write action.
pub async fn of_case_for_write(
    tx: &mut WriteTx,
    case_id: &str,
) -> Result<(Vec<Meeting>, Vec<Attendance>), sqlx::Error> {
    let (meetings, attendance) = on_tx!(tx, c => {
        let m = sqlx::query_as::<_, MeetingText>(MEETINGS)
            .bind(case_id)
            .fetch_all(&mut **c)
            .await?;
        let a = sqlx::query_as::<_, AttendanceText>(ATTENDANCE)
            .bind(case_id)
            .fetch_all(&mut **c)
            .await?;
        Ok::<_, sqlx::Error>((m, a))
    })?;
    Ok((parsed(meetings)?, parsed(attendance)?))
}

/// Stores a meeting scheduled.
pub async fn insert(tx: &mut WriteTx, m: &Meeting) -> Result<(), sqlx::Error> {
    let invitees = serde_json::to_string(&m.invitees).map_err(|e| sqlx::Error::Encode(e.into()))?;
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_meetings (id, case_id, kind, scheduled_for, invitees, created_agency, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&m.id)
        .bind(&m.case_id)
        .bind(&m.kind)
        .bind(ts(m.scheduled_for))
        .bind(&invitees)
        .bind(&m.created_agency)
        .bind(&m.created_by)
        .bind(ts(m.created_at))
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Stores one agency's attendance.
pub async fn insert_attendance(tx: &mut WriteTx, a: &Attendance) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query(
        "INSERT INTO case_meeting_attendance (meeting_id, agency, attended, \
         written_report_record_id, recorded_at, recorded_agency, recorded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&a.meeting_id)
        .bind(&a.agency)
        .bind(a.attended)
        .bind(&a.written_report_record_id)
        .bind(ts(a.recorded_at))
        .bind(&a.recorded_agency)
        .bind(&a.recorded_by)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// Marks meeting `id` held by the case event `seq`.
pub async fn set_held(tx: &mut WriteTx, id: &str, seq: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, c => sqlx::query("UPDATE case_meetings SET held_seq = $2 WHERE id = $1")
        .bind(id)
        .bind(seq)
        .execute(&mut **c)
        .await
        .map(drop))
}

/// The agencies that have been sent record `record_id` about child `subject` in a permitted
/// disclosure carrying content (a packet in any view but `notification`).
pub async fn sent_record_to(
    tx: &mut WriteTx,
    subject: &str,
    record_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String, String)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT to_agency, record_ids FROM packets WHERE subject_id = $1 \
         AND view <> 'notification'")
        .bind(subject)
        .fetch_all(&mut **c)
        .await?);
    let mut out: Vec<String> = rows
        .into_iter()
        .filter(|(_, ids)| {
            serde_json::from_str::<Vec<String>>(ids)
                .is_ok_and(|ids| ids.iter().any(|i| i == record_id))
        })
        .map(|(agency, _)| agency)
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// The child a record is about, if the record exists.
pub async fn record_subject(
    tx: &mut WriteTx,
    record_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    on_tx!(tx, c => sqlx::query_scalar("SELECT subject_id FROM records WHERE id = $1")
        .bind(record_id)
        .fetch_optional(&mut **c)
        .await)
}

/// A record about a child as a form offers it: id, kind, owner agency, when deposited.
pub type RecordRow = (String, String, String, String);

/// The records about child `subject` that `agency` owns or has been sent with content (a packet
/// in any view but `notification`), oldest first.
pub async fn records_held(
    db: &Db,
    subject: &str,
    agency: &str,
) -> Result<Vec<RecordRow>, sqlx::Error> {
    let (records, packets) = with_db!(db, pool => {
        let r: Vec<RecordRow> = sqlx::query_as(
            "SELECT id, kind, owner_agency, created_at FROM records WHERE subject_id = $1 \
             ORDER BY created_at, id")
            .bind(subject)
            .fetch_all(pool)
            .await?;
        let p: Vec<String> = sqlx::query_scalar(
            "SELECT record_ids FROM packets WHERE subject_id = $1 AND to_agency = $2 \
             AND view <> 'notification'")
            .bind(subject)
            .bind(agency)
            .fetch_all(pool)
            .await?;
        Ok::<_, sqlx::Error>((r, p))
    })?;
    let received: Vec<String> = packets
        .iter()
        .filter_map(|ids| serde_json::from_str::<Vec<String>>(ids).ok())
        .flatten()
        .collect();
    Ok(records
        .into_iter()
        .filter(|(id, _, owner, _)| owner == agency || received.contains(id))
        .collect())
}
