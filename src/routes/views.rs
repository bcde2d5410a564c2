//! How the API shows a decision and an audit entry (API.md), for every route that answers
//! with one.

use serde_json::{Value, json};

use crate::decision::Decision;

/// The decision body of API.md (permit or deny). The application layer gives a decision as
/// the requester is told it (`Decision::as_told`).
pub fn decision_body(d: &Decision, disclosure_id: Option<&str>, audit_seq: i64) -> Value {
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

/// What a route that creates one thing answers (the application layer's typed result).
pub use crate::app::views::Created;
