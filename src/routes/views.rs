//! How the API shows a decision and an audit entry (API.md), for every route that answers
//! with one.

use serde_json::{Value, json};

use crate::audit::AuditRow;
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

/// An audit entry as the API shows it.
pub fn entry_json(row: &AuditRow) -> Value {
    let e = row.entry();
    json!({
        "seq": e.seq, "at": e.at, "action": e.action,
        "actor": {"agency": e.actor_agency, "sub": e.actor_sub, "roles": e.actor_roles},
        "subject_id": e.subject_id, "record_ids": e.record_ids, "owner_agencies": e.owner_agencies,
        "recipient": {"agency": e.recipient_agency, "role": e.recipient_role, "sub": e.recipient_sub},
        "purpose": e.purpose, "basis": e.basis, "justification": e.justification,
        "decision": e.decision, "reasons": e.reasons, "obligations": e.obligations,
        "policy_version": e.policy_version, "packet_sha256": e.packet_sha256,
        "detail": e.detail, "hash": row.hash,
    })
}
