//! A child's subject access history: every disclosure decision about the child's records and
//! every read of a packet about the child, for an IG officer who may know the child
//! (`app::audit::history`).

use axum::Json;
use axum::extract::{Path, State};

use super::extract::path_id;
use crate::app::audit::{self as app, SubjectHistory};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;

pub(crate) async fn history(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<String>,
) -> Result<Json<SubjectHistory>, ApiError> {
    // the caller's permission first, as before the id is parsed
    app::auditor(&state, &principal, Action::ReadAudit)?;
    let subject = path_id::<SubjectId>(&subject)?;
    app::history(&state, &principal, subject).await.map(Json)
}
