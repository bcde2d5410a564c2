//! `notify_mappa` (RULES 5): a permitted override about a child under active MAPPA management
//! tells the forum at once. In the same write action as the disclosure the broker stores a
//! `notification`-view packet (no content) about it for the MAPPA agency that set the child's
//! MAPPA status, addressed to its `mappa_coordinator`, with its own audit entry. If that agency
//! has left the configuration, the disclosure still goes ahead (an emergency does not wait for
//! the forum) and its audit entry, which is what the IG review queue shows, says that the forum
//! could not be told.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::decision::{Decision, Facts, Outcome, Recipient, RequestFacts};
use crate::state::AppState;
use crate::store::facts::Loaded;
use crate::vocab::{AgencyKind, Purpose, Role, Section, View};

/// The notification a disclosure carrying `notify_mappa` sends, or why it does not.
pub(super) enum Notice {
    /// The forum is to be told: the pipeline seals this to it and stores it after the
    /// disclosure.
    Due(Box<Due>),
    /// No notification is sent.
    Unsent(Unsent),
}

/// Why no notification is sent.
pub(super) enum Unsent {
    /// The forum cannot be told; the disclosure's audit entry says why.
    Untold { agency: Option<String>, why: String },
    /// The disclosure is addressed to the forum itself: it is told by the packet it receives.
    Addressed { agency: String },
}

/// The notification due to the forum: decided as a permit of the `notification` view (no
/// content), addressed to the `mappa_coordinator` of `agency`.
pub(super) struct Due {
    pub agency: String,
    pub facts: Facts,
    pub decision: Decision,
    /// What the packet says of the disclosure: identifiers and names, never content.
    pub about: Value,
}

impl Unsent {
    /// What the disclosure's audit entry records about the forum (`detail.notify_mappa`).
    pub(super) fn outcome(&self) -> Value {
        match self {
            Unsent::Untold { agency, why } => json!({
                "notified": false, "mappa_agency": agency, "reason": why,
            }),
            Unsent::Addressed { agency } => json!({
                "notified": true, "mappa_agency": agency, "as_recipient": true,
            }),
        }
    }
}

/// What the disclosure's audit entry records when `agency`'s coordinator is sent the
/// notification `disclosure_id`.
pub(super) fn told(agency: &str, disclosure_id: &str) -> Value {
    json!({
        "notified": true, "mappa_agency": agency, "to_role": Role::MappaCoordinator,
        "disclosure_id": disclosure_id,
    })
}

/// The notification of the disclosure `disclosed` (permitted by `decision` on `loaded`) due
/// to the forum managing the child, or why none is sent.
pub(super) fn notice(
    state: &AppState,
    loaded: &Loaded,
    decision: &Decision,
    disclosed: &str,
) -> Notice {
    let Some(agency) = loaded.mappa_agency.clone() else {
        return Notice::Unsent(Unsent::Untold {
            agency: None,
            why: "no agency is recorded as having set the child's MAPPA status; the forum \
                  could not be told"
                .into(),
        });
    };
    if loaded.facts.recipient.agency == agency {
        // a notice of a notice would tell the forum nothing new
        return Notice::Unsent(Unsent::Addressed { agency });
    }
    match state.agencies.get(&agency).map(|a| a.kind) {
        Some(AgencyKind::Mappa) => {}
        Some(kind) => {
            return Notice::Unsent(Unsent::Untold {
                why: format!(
                    "{agency}, which set the child's MAPPA status, is now configured as a {kind} \
                     agency, not MAPPA; the forum could not be told"
                ),
                agency: Some(agency),
            });
        }
        None => {
            return Notice::Unsent(Unsent::Untold {
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
            areas: state.agencies.get(&agency).and_then(|a| a.areas.clone()),
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
        "disclosure_id": disclosed, "obligation": "notify_mappa",
        "to_agency": facts.recipient.agency, "to_role": facts.recipient.role,
        "to_sub": facts.recipient.sub, "purpose": facts.request.purpose,
        "basis": facts.request.basis, "view": decision.view,
        "sections_released": decision.sections_released, "obligations": decision.obligations,
    });
    Notice::Due(Box::new(Due {
        agency,
        facts: notice_facts,
        decision: notice,
        about,
    }))
}
