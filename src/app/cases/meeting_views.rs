//! Meetings of a case as they are shown (PROCESS.md, Meetings): each with its invitees and
//! attendance (`GET /v1/cases/{id}`, `meetings`), what the caller may do about them, the
//! agencies a meeting may invite and the records a written report may name (the console's
//! choices).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::CaseView;
use crate::access::{Relation, may_as};
use crate::cases::meetings::{self, Attendance, Meeting};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus, MeetingKind, RecordKind};

/// One agency's attendance as a case lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AttendanceView {
    pub agency: String,
    pub attended: bool,
    /// The record of this child the agency sent as its written report, having sent apologies.
    pub written_report_record_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: String,
}

/// A meeting as a case lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MeetingView {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    pub kind: MeetingKind,
    pub scheduled_for: DateTime<Utc>,
    pub invitees: Vec<String>,
    pub created_agency: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// The case step `strategy_meeting_held` its first attendance recorded (strategy meetings).
    pub held_event_seq: Option<i64>,
    /// Who attended and who sent apologies (with any written report), in the order recorded.
    pub attendance: Vec<AttendanceView>,
}

fn view(m: &Meeting, attendance: &[Attendance]) -> Result<MeetingView, ApiError> {
    Ok(MeetingView {
        id: m.id.clone(),
        kind: m.kind.parse().map_err(ApiError::internal)?,
        scheduled_for: m.scheduled_for,
        invitees: m.invitees.clone(),
        created_agency: m.created_agency.clone(),
        created_by: m.created_by.clone(),
        created_at: m.created_at,
        held_event_seq: m.held_seq,
        attendance: attendance
            .iter()
            .filter(|a| a.meeting_id == m.id)
            .map(|a| AttendanceView {
                agency: a.agency.clone(),
                attended: a.attended,
                written_report_record_id: a.written_report_record_id.clone(),
                recorded_at: a.recorded_at,
                recorded_by: a.recorded_by.clone(),
            })
            .collect(),
    })
}

/// The meetings of case `id` as its reader sees them: all of them, or for a former lead those
/// scheduled (and the attendance recorded) until `until`, the acceptance that took it away.
pub(super) async fn of_case(
    state: &AppState,
    id: &str,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<MeetingView>, ApiError> {
    let (mut all, mut attendance) = meetings::of_case(&state.db, id).await?;
    if let Some(cutoff) = until {
        all.retain(|m| m.created_at <= cutoff);
        attendance.retain(|a| a.recorded_at <= cutoff);
    }
    all.iter().map(|m| view(m, &attendance)).collect()
}

impl CaseView {
    /// Whether the caller may schedule a meeting of this case now (`schedule_meeting`).
    pub fn may_schedule_meeting(&self, state: &AppState, principal: &Principal) -> bool {
        self.may_as_lead(state, principal, Action::ScheduleMeeting)
    }

    /// Whether the caller may record attendance at this case's meetings now.
    pub fn may_record_attendance(&self, state: &AppState, principal: &Principal) -> bool {
        self.may_as_lead(state, principal, Action::RecordAttendance)
    }

    fn may_as_lead(&self, state: &AppState, principal: &Principal, action: Action) -> bool {
        self.status == CaseStatus::Open
            && self.lead_agency == *principal.agency
            && may_as(state, principal, action, Relation::LeadAgency)
    }
}

/// The agencies a case led by `lead` may invite, by name (every configured agency but the lead).
pub fn invitable(state: &AppState, lead: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .agencies
        .values()
        .filter(|a| a.id != lead)
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// A record the lead may name as an agency's written report.
#[derive(Debug, Clone)]
pub struct ReportChoice {
    pub id: String,
    pub kind: RecordKind,
    pub owner_agency: String,
    pub deposited_at: DateTime<Utc>,
}

/// The records about `case`'s child that the caller's agency holds or has received, as the
/// console offers them for a written report (no content; the case was read, and audited, to
/// get here). None for a caller who may not record attendance at it.
pub async fn report_choices(
    state: &AppState,
    principal: &Principal,
    case: &CaseView,
) -> Result<Vec<ReportChoice>, ApiError> {
    if !case.may_record_attendance(state, principal) {
        return Ok(Vec::new());
    }
    meetings::records_held(&state.db, &case.subject_id, &principal.agency)
        .await?
        .into_iter()
        .map(|(id, kind, owner_agency, at)| {
            Ok(ReportChoice {
                kind: kind.parse().map_err(ApiError::internal)?,
                deposited_at: crate::db::parse_ts(&at).map_err(ApiError::internal)?,
                id,
                owner_agency,
            })
        })
        .collect()
}
