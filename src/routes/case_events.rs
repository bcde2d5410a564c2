//! `POST /v1/cases/{id}/events` (PROCESS.md, Event kinds and Outcomes): the lead agency records
//! a step of a case through `app::cases::record`, which derives the clocks anew, carries out
//! the duties the step sets off and audits it. An unknown kind or outcome in the body has its
//! own code (`FieldCodes`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{CodedBody, FieldCodes, Path};
use crate::app::cases::{self as app, EventRecorded, NewEvent};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::CaseId;
use crate::state::AppState;

/// An unknown kind or outcome has its own code (PROCESS.md).
impl FieldCodes for NewEvent {
    const FIELD_CODES: &'static [(&'static str, &'static str)] = &[
        ("kind", "unknown_event_kind"),
        ("outcome", "unknown_outcome"),
    ];
}

/// `POST /v1/cases/{id}/events`: the lead agency records a step of the case. Events are never
/// edited; a correction is a new event with a note.
pub(crate) async fn event(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
    CodedBody(body): CodedBody<NewEvent>,
) -> Result<(StatusCode, Json<EventRecorded>), ApiError> {
    let recorded = app::record(&state, &principal, id, body).await?;
    Ok((StatusCode::CREATED, Json(recorded)))
}
