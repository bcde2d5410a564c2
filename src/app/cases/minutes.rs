//! The minutes of a strategy meeting (PROCESS.md, Meetings): "the minutes clock stops when the
//! minutes have been disclosed to every attending agency (not on a self-declared event
//! alone)". On a case whose strategy meeting has a recorded attendance, a `minutes_circulated`
//! step names the minutes (`record_id`, else 422 `minutes_record_required`), and every agency
//! that attended the case's latest strategy meeting, besides the lead itself, must have been
//! sent that record in a permitted disclosure (else 409 `minutes_not_sent`, naming them). A
//! case without a recorded meeting keeps the self-declared step.

use axum::http::StatusCode;

use crate::cases::meetings::{self, Attendance, Meeting};
use crate::cases::store::Case;
use crate::error::ApiError;
use crate::vocab::MeetingKind;
use crate::writer::WriteTx;

/// The case's latest strategy meeting that some agency attended, and who attended it.
fn latest_held<'a>(
    meetings: &'a [Meeting],
    attendance: &'a [Attendance],
) -> Option<(&'a Meeting, Vec<&'a str>)> {
    meetings
        .iter()
        .filter(|m| m.kind == MeetingKind::StrategyMeeting.as_str())
        .map(|m| {
            let attended: Vec<&str> = attendance
                .iter()
                .filter(|a| a.meeting_id == m.id && a.attended)
                .map(|a| a.agency.as_str())
                .collect();
            (m, attended)
        })
        .filter(|(_, attended)| !attended.is_empty())
        .max_by_key(|(m, _)| (m.scheduled_for, m.created_at))
}

/// The agencies that attended `case`'s latest strategy meeting (other than its lead) and have
/// not been sent record `record_id` in a permitted disclosure, by id; none for a case with no
/// strategy meeting attended.
pub async fn minutes_unsent(
    tx: &mut WriteTx,
    case: &Case,
    record_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let (all, attendance) = meetings::of_case_for_write(tx, &case.id).await?;
    let Some((_, attended)) = latest_held(&all, &attendance) else {
        return Ok(Vec::new());
    };
    let sent = meetings::sent_record_to(tx, &case.subject_id, record_id).await?;
    let mut unsent: Vec<String> = attended
        .into_iter()
        .filter(|a| *a != case.lead_agency && !sent.iter().any(|s| s == a))
        .map(str::to_owned)
        .collect();
    unsent.sort();
    unsent.dedup();
    Ok(unsent)
}

/// Whether a `minutes_circulated` step naming `record` may be recorded on `case` now (see the
/// module's documentation).
pub(super) async fn circulated(
    tx: &mut WriteTx,
    case: &Case,
    record: Option<&str>,
) -> Result<(), ApiError> {
    let (all, attendance) = meetings::of_case_for_write(tx, &case.id).await?;
    if latest_held(&all, &attendance).is_none() {
        return Ok(());
    }
    let Some(record) = record else {
        return Err(ApiError::invalid(
            "minutes_record_required",
            "record_id: the case's strategy meeting was held with agencies attending; name the \
             record of its minutes, which every attending agency must have been sent",
        ));
    };
    let unsent = minutes_unsent(tx, case, record).await?;
    if unsent.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        "minutes_not_sent",
        format!(
            "record_id: the minutes {record} have not been disclosed to every agency that \
             attended the strategy meeting; not yet sent to: {}",
            unsent.join(", ")
        ),
    ))
}
