//! Meetings of a case (PROCESS.md, Meetings): the lead agency's social worker or team manager
//! schedules one (`schedule`, `POST /v1/cases/{id}/meetings`, audited `case.meeting`) and each
//! invitee is told by a `notification` duty (`meeting_scheduled` in `policies/duties.csv`,
//! recipients `invitees`), carried out in the same action, decided and audited like any duty and
//! listed on the case, denied or not. The lead then records who attended (`attend`, `.../
//! meetings/{mid}/attendance`, audited `case.meeting_attendance`); an agency that could not
//! attend may have sent a written report (a record about the child). Holding a strategy meeting
//! is recording its attendance: its first attendance records the case's step
//! `strategy_meeting_held` at the meeting's time (through `steps`, as a posted event is, with
//! its clocks and duties). Who may do each is `policies/actions.csv` (`schedule_meeting`,
//! `record_attendance`, relation `lead_agency`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{conflict, steps, views};
use crate::access::{may_somewhere, not_permitted};
use crate::app::duties::{ListedOn, carry_out};
use crate::app::views::{DutyView, duties};
use crate::audit::Entry;
use crate::cases::meetings::{self, Attendance, Meeting};
use crate::cases::store::{Case, Event};
use crate::cases::{ClockView, Proposed, judged_at};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, CaseId, RecordId, new_id};
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus, EventKind, MeetingKind};

/// The most agencies one meeting invites.
pub const MAX_INVITEES: usize = 50;

/// A meeting as it arrives (`POST /v1/cases/{id}/meetings`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeeting {
    pub kind: MeetingKind,
    /// When it is held; not before the referral was received.
    pub scheduled_for: DateTime<Utc>,
    /// The agencies invited (configured agencies other than the lead), each told by a duty.
    #[schemars(length(min = 1, max = 50))]
    pub invitees: Vec<AgencyId>,
}

/// A meeting scheduled, with the invitations it set off.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MeetingScheduled {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    pub kind: MeetingKind,
    pub scheduled_for: DateTime<Utc>,
    pub invitees: Vec<String>,
    /// The invitations, one `notification` duty per invitee told (or denied, with reasons).
    pub duties: Vec<DutyView>,
    pub audit_seq: i64,
}

fn open(case: &Case) -> Result<(), ApiError> {
    if case.status == CaseStatus::Open {
        return Ok(());
    }
    Err(conflict(
        "case_closed",
        format!("case {} is closed; its meetings are over", case.id),
    ))
}

/// The lead agency's social worker or team manager schedules a meeting of case `id` (policy
/// `schedule_meeting`) and its invitees are told, each by a duty; audited as `case.meeting`.
pub async fn schedule(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    body: NewMeeting,
) -> Result<MeetingScheduled, ApiError> {
    if !may_somewhere(state, principal, Action::ScheduleMeeting) {
        return Err(not_permitted(principal, Action::ScheduleMeeting));
    }
    if body.invitees.is_empty() {
        return Err(ApiError::invalid_field(
            "invitees",
            "is empty: invite at least one agency",
        ));
    }
    if body.invitees.len() > MAX_INVITEES {
        return Err(ApiError::invalid_field(
            "invitees",
            format!("names more than {MAX_INVITEES} agencies"),
        ));
    }
    let mut invitees: Vec<String> = Vec::with_capacity(body.invitees.len());
    for agency in body.invitees.into_iter().map(String::from) {
        state.configured_agency("invitees", &agency)?;
        if invitees.contains(&agency) {
            return Err(ApiError::invalid_field(
                "invitees",
                format!("names {agency} twice"),
            ));
        }
        invitees.push(agency);
    }

    let mut tx = state.writer.begin().await?;
    let (case, _, _) =
        steps::for_lead(state, principal, &mut tx, &id, Action::ScheduleMeeting).await?;
    open(&case)?;
    if invitees.contains(&case.lead_agency) {
        return Err(ApiError::invalid_field(
            "invitees",
            format!(
                "{} leads the case; invite the other agencies",
                case.lead_agency
            ),
        ));
    }
    if body.scheduled_for < case.referral_received_at {
        return Err(ApiError::invalid_field(
            "scheduled_for",
            format!(
                "{} is before the referral was received ({})",
                body.scheduled_for, case.referral_received_at
            ),
        ));
    }
    let m = Meeting {
        id: new_id(),
        case_id: case.id.clone(),
        kind: body.kind.to_string(),
        scheduled_for: body.scheduled_for,
        invitees,
        created_agency: principal.agency.to_string(),
        created_by: principal.sub.clone(),
        created_at: now(),
        held_seq: None,
    };
    meetings::insert(&mut tx, &m).await?;
    let about = json!({"id": m.id, "kind": body.kind, "scheduled_for": m.scheduled_for});
    let carried = carry_out(
        state,
        principal,
        &mut tx,
        Trigger::MeetingScheduled,
        ListedOn::Meeting {
            case: &case,
            invitees: &m.invitees,
            about,
        },
        None,
    )
    .await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.meeting")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "meeting_id": m.id, "kind": body.kind,
                    "scheduled_for": m.scheduled_for, "invitees": m.invitees,
                })),
        )
        .await?;
    Ok(MeetingScheduled {
        id: m.id,
        case_id: m.case_id,
        kind: body.kind,
        scheduled_for: m.scheduled_for,
        invitees: m.invitees,
        duties: duties(&carried),
        audit_seq,
    })
}

/// An attendance as it arrives (`POST /v1/cases/{id}/meetings/{mid}/attendance`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAttendance {
    /// The agency (the lead or an invitee).
    pub agency: AgencyId,
    pub attended: bool,
    /// With `attended: false` only: the record of this child the agency sent as its report.
    #[serde(default)]
    pub written_report_record_id: Option<RecordId>,
}

/// An attendance recorded; for a strategy meeting's first attendance, the case step
/// `strategy_meeting_held` it recorded, with the case's clocks and the duties it set off.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AttendanceRecorded {
    #[schemars(with = "crate::ids::CaseId")]
    pub meeting_id: String,
    pub agency: String,
    pub attended: bool,
    pub written_report_record_id: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// The `strategy_meeting_held` step this attendance recorded, if it did.
    pub event_seq: Option<i64>,
    pub clocks: Vec<ClockView>,
    pub duties: Vec<DutyView>,
    pub audit_seq: i64,
}

/// The lead agency records `body.agency`'s attendance at meeting `mid` of case `id` (policy
/// `record_attendance`); audited as `case.meeting_attendance`, and the step it records, if
/// any, as `case.event`.
pub async fn attend(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    mid: CaseId,
    body: NewAttendance,
) -> Result<AttendanceRecorded, ApiError> {
    if !may_somewhere(state, principal, Action::RecordAttendance) {
        return Err(not_permitted(principal, Action::RecordAttendance));
    }
    let agency = String::from(body.agency);
    state.configured_agency("agency", &agency)?;
    let report = body.written_report_record_id.map(String::from);
    if body.attended && report.is_some() {
        return Err(ApiError::invalid_field(
            "written_report_record_id",
            "is only for an agency that did not attend, which sends a written report instead",
        ));
    }

    let mut tx = state.writer.begin().await?;
    let (case, events, stored) =
        steps::for_lead(state, principal, &mut tx, &id, Action::RecordAttendance).await?;
    let (all, attendance) = meetings::of_case_for_write(&mut tx, &case.id).await?;
    let Some(m) = all.iter().find(|m| m.id == *mid) else {
        return Err(ApiError::not_found(format!(
            "no meeting {mid} of case {id}"
        )));
    };
    open(&case)?;
    if agency != case.lead_agency && !m.invitees.contains(&agency) {
        return Err(ApiError::invalid_field(
            "agency",
            format!("{agency} was not invited to this meeting"),
        ));
    }
    if attendance
        .iter()
        .any(|a| a.meeting_id == m.id && a.agency == agency)
    {
        return Err(conflict(
            "attendance_recorded",
            format!("the attendance of {agency} at this meeting is recorded already"),
        ));
    }
    let at = now();
    if body.attended
        && m.scheduled_for > at + chrono::Duration::seconds(crate::cases::CLOCK_SKEW_SECONDS)
    {
        return Err(conflict(
            "meeting_not_held_yet",
            format!(
                "the meeting is scheduled for {}; record who attended once it has been held",
                m.scheduled_for
            ),
        ));
    }
    if let Some(r) = &report {
        steps::record_of_child(&mut tx, &case, "written_report_record_id", r).await?;
    }
    meetings::insert_attendance(
        &mut tx,
        &Attendance {
            meeting_id: m.id.clone(),
            agency: agency.clone(),
            attended: body.attended,
            written_report_record_id: report.clone(),
            recorded_at: at,
            recorded_agency: principal.agency.to_string(),
            recorded_by: principal.sub.clone(),
        },
    )
    .await?;
    let holds =
        body.attended && m.kind == MeetingKind::StrategyMeeting.as_str() && m.held_seq.is_none();
    let (event_seq, clocks, carried) = if holds {
        let (seq, clocks, carried) =
            held(state, principal, &mut tx, &case, &events, &stored, m).await?;
        (Some(seq), clocks, carried)
    } else {
        (None, stored, Vec::new())
    };
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.meeting_attendance")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "meeting_id": m.id, "agency": agency,
                    "attended": body.attended, "written_report_record_id": report,
                    "event_seq": event_seq,
                })),
        )
        .await?;
    Ok(AttendanceRecorded {
        meeting_id: m.id.clone(),
        agency,
        attended: body.attended,
        written_report_record_id: report,
        recorded_at: at,
        event_seq,
        clocks: views(&clocks, judged_at(case.closed_at, now())),
        duties: duties(&carried),
        audit_seq,
    })
}

/// Records strategy meeting `m` held: the case step `strategy_meeting_held` at its time, with
/// its clocks and duties (audited `case.event`), and the meeting marked held by it.
async fn held(
    state: &AppState,
    principal: &Principal,
    tx: &mut crate::writer::WriteTx,
    case: &Case,
    events: &[Event],
    stored: &[crate::cases::Clock],
    m: &Meeting,
) -> Result<
    (
        i64,
        Vec<crate::cases::Clock>,
        Vec<crate::cases::store::Duty>,
    ),
    ApiError,
> {
    let parsed = Proposed::new(
        EventKind::StrategyMeetingHeld,
        m.scheduled_for,
        None,
        None,
        state.policy().rationale_min_chars(),
        now(),
    )
    .map_err(super::refused)?;
    let change = steps::transition(case, events, &parsed)?;
    let seq = steps::next_seq(events);
    let event = Event {
        seq,
        kind: parsed.kind(),
        occurred_at: parsed.occurred_at(),
        record_id: None,
        outcome: None,
        rationale_enc: None,
        note_enc: None,
        agency: principal.agency.to_string(),
        sub: principal.sub.clone(),
        recorded_at: now(),
        lead_sub: None,
        route: None,
        clock: None,
        screening: None,
    };
    let (clocks, carried) =
        steps::append(state, principal, tx, case, stored, &change, &event).await?;
    meetings::set_held(tx, &m.id, seq).await?;
    tx.append(
        Entry::new(principal, "case.event")
            .subject(&case.subject_id)
            .detail(json!({
                "case_id": case.id, "seq": seq, "kind": event.kind, "outcome": null,
                "record_id": null, "occurred_at": event.occurred_at, "lead_sub": null,
                "meeting_id": m.id,
            })),
    )
    .await?;
    Ok((seq, clocks, carried))
}
