//! `POST /v1/cases/{id}/meetings` and `POST /v1/cases/{id}/meetings/{mid}/attendance`
//! (PROCESS.md, Meetings): the lead agency schedules a meeting of a case, its invitees told by
//! duty, and records who attended, through `app::cases::{schedule_meeting, attend}`, which
//! check the policy, write and audit.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Body, Path};
use crate::app::cases::{
    self as app, AttendanceRecorded, MeetingScheduled, NewAttendance, NewMeeting,
};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::state::AppState;

/// `POST /v1/cases/{id}/meetings`: 201 with the meeting and its invitations.
pub(crate) async fn schedule(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
    Body(body): Body<NewMeeting>,
) -> Result<(StatusCode, Json<MeetingScheduled>), ApiError> {
    let scheduled = app::schedule_meeting(&state, &principal, id, body).await?;
    Ok((StatusCode::CREATED, Json(scheduled)))
}

/// `POST /v1/cases/{id}/meetings/{mid}/attendance`: 201 with the attendance recorded.
pub(crate) async fn attendance(
    principal: Principal,
    State(state): State<AppState>,
    Path((id, mid)): Path<(CaseId, CaseId)>,
    Body(body): Body<NewAttendance>,
) -> Result<(StatusCode, Json<AttendanceRecorded>), ApiError> {
    let recorded = app::attend(&state, &principal, id, mid, body).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}
