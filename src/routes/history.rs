//! A child's subject access history: every disclosure decision about the child's records and
//! every read of a packet about the child, for an IG officer who may know the child
//! (`app::audit::history`).

use axum::Json;
use axum::extract::State;

use super::extract::Path;
use crate::app::audit::{self as app, SubjectHistory};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;

pub(crate) async fn history(
    principal: Principal,
    State(state): State<AppState>,
    // read after the caller is known to audit, so that anyone else is refused first
    subject: Result<Path<SubjectId>, ApiError>,
) -> Result<Json<SubjectHistory>, ApiError> {
    app::auditor(&state, &principal, Action::ReadAudit)?;
    let Path(subject) = subject?;
    app::history(&state, &principal, subject).await.map(Json)
}
