//! How a request for information closes: answered by a disclosure that names it (checked
//! before the decision by [`answering`], closed in the disclosure's own write action by
//! [`mark_answered`]), or declined by its addressee with a reason ([`decline`]).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{conflict, hidden, sealed};
use crate::access::{Relation, may_somewhere, not_permitted, require_as};
use crate::audit::Entry;
use crate::cases::requests as store;
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::RequestId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::writer::WriteTx;

/// A request a disclosure may answer: addressed to the disclosing agency, about the same
/// child, from the disclosure's recipient, still open.
#[derive(Debug, Clone)]
pub struct Answering {
    pub id: String,
    subject_id: String,
    case_id: String,
    from_agency: String,
}

/// 409 for a request answered or declined already.
fn closed(id: &str, status: &str) -> ApiError {
    conflict(
        "request_closed",
        format!("request for information {id} is {status} already"),
    )
}

fn mismatch(detail: String) -> ApiError {
    ApiError::invalid("request_mismatch", format!("request_id: {detail}"))
}

/// Checks that request `id` may be answered by a disclosure by the caller about `subject_id`
/// to `recipient_agency`: 404 for one the caller's agency neither asked nor received, 422
/// `request_mismatch` for one addressed elsewhere, about another child or from another agency
/// than the recipient, 409 `request_closed` for one answered or declined already.
pub async fn answering(
    state: &AppState,
    principal: &Principal,
    id: &RequestId,
    subject_id: &str,
    recipient_agency: &str,
) -> Result<Answering, ApiError> {
    let mine = &*principal.agency;
    let r = store::get(&state.db, id)
        .await?
        .filter(|r| r.to_agency == mine || r.from_agency == mine)
        .ok_or_else(|| hidden(id))?;
    if r.to_agency != mine {
        return Err(mismatch(format!(
            "request {id} is not addressed to your agency; only its addressee answers it"
        )));
    }
    if r.subject_id != subject_id {
        return Err(mismatch(format!(
            "request {id} is about another child than these records"
        )));
    }
    if r.from_agency != recipient_agency {
        return Err(mismatch(format!(
            "request {id} was asked by {}; the answer goes to the agency that asked",
            r.from_agency
        )));
    }
    if !r.is_open() {
        return Err(closed(id, &r.status));
    }
    Ok(Answering {
        id: r.id,
        subject_id: r.subject_id,
        case_id: r.case_id,
        from_agency: r.from_agency,
    })
}

/// In the write action of a permitted disclosure: closes request `a` as answered by
/// `disclosure_id` and appends `request.answer`. 409 if it closed meanwhile (the caller then
/// drops the action, undoing the disclosure).
pub async fn mark_answered(
    tx: &mut WriteTx,
    principal: &Principal,
    a: &Answering,
    disclosure_id: &str,
) -> Result<(), ApiError> {
    if !store::answer(tx, &a.id, disclosure_id, now()).await? {
        return Err(closed(&a.id, "answered or declined"));
    }
    tx.append(
        Entry::new(principal, "request.answer")
            .subject(&a.subject_id)
            .detail(json!({
                "request_id": a.id, "case_id": a.case_id, "from_agency": a.from_agency,
                "disclosure_id": disclosure_id,
            })),
    )
    .await?;
    Ok(())
}

/// A refusal to answer (`POST /v1/requests/{id}/decline`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDecline {
    /// Why the information is not given (required; sealed at rest).
    pub reason: String,
}

/// A request declined.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Declined {
    #[schemars(with = "crate::ids::RequestId")]
    pub id: String,
    pub status: String,
    pub declined_at: DateTime<Utc>,
    pub audit_seq: i64,
}

/// The addressee declines request `id` with a reason (policy `decline_request`, relation
/// `request_to`); audited as `request.decline` (the reason is not). 409 for a closed request.
pub async fn decline(
    state: &AppState,
    principal: &Principal,
    id: RequestId,
    body: NewDecline,
) -> Result<Declined, ApiError> {
    if !may_somewhere(state, principal, Action::DeclineRequest) {
        return Err(not_permitted(principal, Action::DeclineRequest));
    }
    let Some(reason) = sealed(state, "reason", Some(&body.reason))? else {
        return Err(ApiError::invalid_field(
            "reason",
            "is required: say why the information is not given",
        ));
    };
    let mine = &*principal.agency;
    let mut tx = state.writer.begin().await?;
    let r = store::get_for_write(&mut tx, &id)
        .await?
        .filter(|r| r.to_agency == mine || r.from_agency == mine)
        .ok_or_else(|| hidden(&id))?;
    let holds = if r.to_agency == mine {
        Relation::RequestTo
    } else {
        Relation::None
    };
    require_as(state, principal, Action::DeclineRequest, holds)?;
    if !r.is_open() {
        return Err(closed(&id, &r.status));
    }
    let at = now();
    if !store::decline(&mut tx, &id, &reason, at).await? {
        return Err(closed(&id, "answered or declined"));
    }
    let audit_seq = tx
        .commit(
            Entry::new(principal, "request.decline")
                .subject(&r.subject_id)
                .detail(json!({
                    "request_id": r.id, "case_id": r.case_id, "from_agency": r.from_agency,
                })),
        )
        .await?;
    Ok(Declined {
        id: r.id,
        status: "declined".into(),
        declined_at: at,
        audit_seq,
    })
}
