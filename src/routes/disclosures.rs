//! `POST /v1/disclosures` and `POST /v1/decisions`: the body parsed into a
//! [`Disclosure`], the action called (`app::disclosures`), and its answer shown as the
//! decision body of API.md. What is decided, shared and audited is the action's.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::extract::Body;
use super::views::decision_body;
use crate::app::disclosures::{self, Disclosure, Refusal};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

pub use crate::app::disclosures::DisclosureRequest;

pub(crate) async fn dry_run(
    principal: Principal,
    State(state): State<AppState>,
    Body(req): Body<DisclosureRequest>,
) -> Result<Json<Value>, ApiError> {
    let checked = disclosures::check(&state, &principal, Disclosure::try_from(req)?).await?;
    Ok(Json(decision_body(
        &checked.decision,
        None,
        checked.audit_seq,
    )))
}

pub(crate) async fn disclose(
    principal: Principal,
    State(state): State<AppState>,
    Body(req): Body<DisclosureRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    match disclosures::disclose(&state, &principal, Disclosure::try_from(req)?).await {
        Ok(done) => Ok((
            StatusCode::CREATED,
            Json(decision_body(
                &done.decision,
                Some(&done.disclosure_id),
                done.audit_seq,
            )),
        )),
        Err(Refusal::Denied(denied)) => Ok((
            StatusCode::FORBIDDEN,
            Json(decision_body(&denied.decision, None, denied.audit_seq)),
        )),
        Err(Refusal::Failed(e)) => Err(e),
    }
}
