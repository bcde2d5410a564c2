//! How the API shows a decision and an audit entry (API.md), for every route that answers
//! with one.

use serde_json::{Value, json};

use crate::decision::Decision;

/// The decision body of API.md (permit or deny), as the requester is told it
/// ([`Decision::as_told`]: a non-owner learns only that it is not the owner).
pub fn decision_body(d: &Decision, disclosure_id: Option<&str>, audit_seq: i64) -> Value {
    let d = d.as_told();
    json!({
        "decision": d.decision,
        "view": d.view,
        "sections_released": d.sections_released,
        "sections_withheld": d.sections_withheld,
        "reasons": d.reasons,
        "obligations": d.obligations,
        "policy_version": d.policy_version,
        "disclosure_id": disclosure_id,
        "audit_seq": audit_seq,
    })
}
