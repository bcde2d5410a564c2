//! How the application shows an audit entry and a duty carried out: typed results that the API
//! serialises (their JSON is API.md's) and the console renders field by field.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::audit::AuditRow;
use crate::cases::store::Duty;

/// What an action that creates one thing answers: its id and the audit entry recording it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Created {
    /// The new thing's id (a UUID).
    #[schemars(with = "crate::ids::SubjectId")]
    pub id: String,
    pub audit_seq: i64,
}

/// Who acted, as an entry shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActorView {
    pub agency: String,
    pub sub: String,
    pub roles: Vec<String>,
}

/// To whom, as an entry shows it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RecipientView {
    pub agency: Option<String>,
    pub role: Option<String>,
    pub sub: Option<String>,
}

/// An audit entry as the API shows it: identifiers, decision and reasons, never content.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct EntryView {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub actor: ActorView,
    pub subject_id: Option<String>,
    pub record_ids: Vec<String>,
    pub owner_agencies: Vec<String>,
    pub recipient: RecipientView,
    pub purpose: Option<String>,
    pub basis: Option<String>,
    pub justification: Option<String>,
    pub decision: Option<String>,
    pub reasons: Vec<String>,
    pub obligations: Vec<String>,
    pub policy_version: Option<String>,
    pub packet_sha256: Option<String>,
    /// What else the action recorded (identifiers and outcomes; never content).
    pub detail: Value,
    pub hash: String,
}

impl From<&AuditRow> for EntryView {
    fn from(row: &AuditRow) -> EntryView {
        let e = row.entry();
        EntryView {
            seq: e.seq,
            at: e.at,
            action: e.action,
            actor: ActorView {
                agency: e.actor_agency,
                sub: e.actor_sub,
                roles: e.actor_roles,
            },
            subject_id: e.subject_id,
            record_ids: e.record_ids,
            owner_agencies: e.owner_agencies,
            recipient: RecipientView {
                agency: e.recipient_agency,
                role: e.recipient_role,
                sub: e.recipient_sub,
            },
            purpose: e.purpose,
            basis: e.basis,
            justification: e.justification,
            decision: e.decision,
            reasons: e.reasons,
            obligations: e.obligations,
            policy_version: e.policy_version,
            packet_sha256: e.packet_sha256,
            detail: e.detail,
            hash: row.hash.clone(),
        }
    }
}

/// Entries as the API shows them.
pub fn entries(rows: &[AuditRow]) -> Vec<EntryView> {
    rows.iter().map(EntryView::from).collect()
}

/// A duty a step or a record set off, as a case or a record shows it: to whom, decided how
/// (with the failed rules' codes), and the notice's disclosure and audit entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DutyView {
    pub seq: i64,
    pub duty: String,
    pub trigger: String,
    pub recipient_agency: String,
    pub decision: String,
    pub reasons: Vec<String>,
    pub disclosure_id: Option<String>,
    pub audit_seq: Option<i64>,
    pub created_at: String,
    /// The record that set it off, where a case lists the duties carried out before it was
    /// opened (`record_duties`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// Where a deposit's answer says the duty is listed: `case` (an open case of the child)
    /// or `record` (no case open).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listed_on: Option<String>,
}

impl From<&Duty> for DutyView {
    fn from(d: &Duty) -> DutyView {
        DutyView {
            seq: d.seq,
            duty: d.duty.clone(),
            trigger: d.trigger_name.clone(),
            recipient_agency: d.recipient_agency.clone(),
            decision: d.decision.clone(),
            reasons: serde_json::from_str(&d.reasons).unwrap_or_default(),
            disclosure_id: d.disclosure_id.clone(),
            audit_seq: d.audit_seq,
            created_at: d.created_at.clone(),
            record_id: None,
            listed_on: None,
        }
    }
}

/// Duties as a case or a record shows them.
pub fn duties(list: &[Duty]) -> Vec<DutyView> {
    list.iter().map(DutyView::from).collect()
}
