//! `notify_mappa` (RULES 5): a permitted override about a child under active MAPPA management
//! tells the forum at once. In the same write action as the disclosure the broker stores a
//! `notification`-view packet (no content) about it for the MAPPA agency that set the child's
//! MAPPA status, addressed to its `mappa_coordinator`, with its own audit entry. If that agency
//! has left the configuration, the disclosure still goes ahead (an emergency does not wait for
//! the forum) and its audit entry, which is what the IG review queue shows, says that the forum
//! could not be told.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::packet::{entry_for, seal};
use crate::audit::Entry;
use crate::decision::{Decision, Facts, Outcome, Recipient, RequestFacts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::store::facts::Loaded;
use crate::store::packets::Sealed;
use crate::vocab::{AgencyKind, Purpose, Role, Section, View};

/// The notification a disclosure carrying `notify_mappa` sends, or why it cannot be sent.
pub(super) enum Notice {
    /// Sealed to the MAPPA agency, with its audit entry, to be stored after the disclosure.
    Ready {
        agency: String,
        sealed: Box<Sealed>,
        entry: Box<Entry>,
    },
    /// The forum cannot be told; the disclosure's audit entry says why.
    Untold { agency: Option<String>, why: String },
    /// The disclosure is addressed to the forum itself: it is told by the packet it receives.
    Addressed { agency: String },
}

impl Notice {
    /// What the disclosure's audit entry records about the notification (`detail.notify_mappa`).
    pub(super) fn outcome(&self) -> Value {
        match self {
            Notice::Ready { agency, sealed, .. } => json!({
                "notified": true, "mappa_agency": agency, "to_role": Role::MappaCoordinator,
                "disclosure_id": sealed.disclosure,
            }),
            Notice::Untold { agency, why } => json!({
                "notified": false, "mappa_agency": agency, "reason": why,
            }),
            Notice::Addressed { agency } => json!({
                "notified": true, "mappa_agency": agency, "as_recipient": true,
            }),
        }
    }
}

/// Builds and seals the notification of the disclosure `disclosed` (permitted by `decision`
/// on `loaded`), outside the write queue like the disclosure's own packet.
pub(super) fn prepare(
    state: &AppState,
    principal: &Principal,
    loaded: &Loaded,
    decision: &Decision,
    disclosed: &Sealed,
    issued_at: DateTime<Utc>,
) -> Result<Notice, ApiError> {
    let Some(agency) = loaded.mappa_agency.clone() else {
        return Ok(Notice::Untold {
            agency: None,
            why: "no agency is recorded as having set the child's MAPPA status; the forum \
                  could not be told"
                .into(),
        });
    };
    if loaded.facts.recipient.agency == agency {
        // a notice of a notice would tell the forum nothing new
        return Ok(Notice::Addressed { agency });
    }
    match state.agencies.get(&agency).map(|a| a.kind) {
        Some(AgencyKind::Mappa) => {}
        Some(kind) => {
            return Ok(Notice::Untold {
                why: format!(
                    "{agency}, which set the child's MAPPA status, is now configured as a {kind} \
                     agency, not MAPPA; the forum could not be told"
                ),
                agency: Some(agency),
            });
        }
        None => {
            return Ok(Notice::Untold {
                why: format!(
                    "the MAPPA agency {agency} that set the child's MAPPA status is no longer \
                     configured; the forum could not be told"
                ),
                agency: Some(agency),
            });
        }
    }
    let facts = &loaded.facts;
    let notice_facts = Facts {
        recipient: Recipient {
            agency: agency.clone(),
            agency_kind: AgencyKind::Mappa,
            role: Some(Role::MappaCoordinator),
            sub: None,
        },
        request: RequestFacts {
            purpose: Purpose::Mappa,
            ..facts.request.clone()
        },
        ..facts.clone()
    };
    let present: BTreeSet<Section> = facts
        .records
        .iter()
        .flat_map(|r| r.sections.iter().copied())
        .collect();
    let notice = Decision {
        decision: Outcome::Permit,
        view: Some(View::Notification),
        sections_released: Vec::new(),
        sections_withheld: present.into_iter().collect(),
        reasons: Vec::new(),
        obligations: Vec::new(),
        policy_version: decision.policy_version.clone(),
        released_by_record: BTreeMap::new(),
    };
    // identifiers and names of what was shared, never content
    let about = json!({
        "disclosure_id": disclosed.disclosure, "obligation": "notify_mappa",
        "to_agency": facts.recipient.agency, "to_role": facts.recipient.role,
        "to_sub": facts.recipient.sub, "purpose": facts.request.purpose,
        "basis": facts.request.basis, "view": decision.view,
        "sections_released": decision.sections_released, "obligations": decision.obligations,
    });
    let sealed = seal(
        state,
        &notice_facts,
        &loaded.records,
        &notice,
        issued_at,
        Some(about),
    )?;
    let mut entry = entry_for(principal, "disclosure", &notice_facts, &notice);
    entry.packet_sha256 = Some(format!("sha256:{}", sealed.sha));
    if let Value::Object(detail) = &mut entry.detail {
        detail.insert("disclosure_id".into(), json!(sealed.disclosure));
        detail.insert(
            "notifies".into(),
            json!({"obligation": "notify_mappa", "disclosure_id": disclosed.disclosure}),
        );
    }
    Ok(Notice::Ready {
        agency,
        sealed: Box::new(sealed),
        entry: Box::new(entry),
    })
}
