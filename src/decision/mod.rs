//! The decision: facts in, decision out, no I/O. The server and `broker decide` both call
//! [`decide`].

pub mod case_clocks;
mod clock_scenario;
pub mod clocks;
pub mod duties;
mod duty_scenario;
mod engine;
pub mod facts;
pub mod policy;
mod policy_test;
pub mod scenario;
pub mod thresholds;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::vocab::{
    AgencyKind, Basis, Giver, Obligation, Purpose, ReasonCode, RecordKind, Role, Section,
    SubjectRole, View,
};

pub use engine::{decide, decide_deposit};
pub use policy::{Family, Policy, PolicyError};

/// Does a record of this kind carry a chair whose permission its disclosure needs (RULES 2.4,
/// 6)? `policies/record_controls.csv` says which kinds do.
pub fn has_chair(policy: &Policy, kind: crate::vocab::RecordKind) -> bool {
    policy.allows(Family::RecordControls, &[kind.as_str(), "chair_permission"])
}

/// Who asks for the disclosure.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub agency: String,
    pub agency_kind: AgencyKind,
    pub sub: String,
    pub roles: Vec<Role>,
}

/// Who would receive it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub agency: String,
    pub agency_kind: AgencyKind,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub sub: Option<String>,
    /// The areas the recipient agency serves (PROCESS.md, Places); absent: every area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub areas: Option<Vec<String>>,
}

/// The child the records are about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub id: String,
    pub date_of_birth: NaiveDate,
    #[serde(default)]
    pub school: Option<String>,
    #[serde(default)]
    pub gillick_competent: Option<bool>,
    #[serde(default)]
    pub lacks_capacity: Option<bool>,
    #[serde(default)]
    pub mappa_active: bool,
    /// The child's home area: the local authority responsible for it (PROCESS.md, Places).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_area: Option<String>,
    /// The area the child lives in when not its home area (`PUT /v1/subjects/{id}/residence`);
    /// absent: it lives in its home area.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_area: Option<String>,
    /// For a looked-after child, the agency that placed it (PROCESS.md P3): it stays entitled
    /// to what children's social care receives about the child (RULES 10.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placed_by: Option<String>,
}

impl Subject {
    /// The child's areas: its home area and the area it lives in (the same, or none known).
    pub fn areas(&self) -> impl Iterator<Item = &str> {
        self.home_area
            .iter()
            .chain(
                self.current_area
                    .iter()
                    .filter(|c| Some(*c) != self.home_area.as_ref()),
            )
            .map(String::as_str)
    }
}

impl Recipient {
    /// Does the recipient serve one of the child's areas (RULES 10.1)? An agency that serves
    /// every area does; an agency limited to areas does not serve a child none of whose areas
    /// is known.
    pub fn serves(&self, child: &Subject) -> bool {
        self.areas
            .as_ref()
            .is_none_or(|served| child.areas().any(|a| served.iter().any(|s| s == a)))
    }
}

/// A record's facts (never its content).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFacts {
    pub id: String,
    pub subject_id: String,
    pub kind: RecordKind,
    pub owner: String,
    /// Whom the record is about in its incident; absent in a scenario: `harmful_behaviour`.
    #[serde(default)]
    pub subject_role: SubjectRole,
    pub sections: Vec<Section>,
    #[serde(default)]
    pub chair: Option<String>,
    /// Agencies the chair has permitted to receive these minutes.
    #[serde(default)]
    pub chair_permissions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFacts {
    pub given_by: Giver,
    pub purposes: Vec<Purpose>,
    pub recipient_kinds: Vec<AgencyKind>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub withdrawn_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappaDecisionFacts {
    pub id: String,
    pub subject_id: String,
    pub recipient_agency: String,
    #[serde(default)]
    pub recipient_role: Option<Role>,
    pub purposes: Vec<Purpose>,
    pub sections: Vec<Section>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffDesignation {
    pub staff_sub: String,
    pub subject_id: String,
}

/// What the requester asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFacts {
    pub purpose: Purpose,
    pub basis: Basis,
    #[serde(default)]
    pub justification: Option<String>,
    #[serde(default)]
    pub legal_reference: Option<String>,
    #[serde(default)]
    pub mappa_decision_id: Option<String>,
    /// A duty to notify (policies/duties.csv): the packet says only that a step happened, so
    /// the view is `notification` and no section is released, whatever the recipient's view
    /// would be; every other rule applies as to any disclosure.
    #[serde(default)]
    pub notification: bool,
    /// The duty of `duties.csv` this disclosure carries out, if any: where `duty_roles.csv`
    /// names it for one of the requester's roles, that role need not be one that initiates a
    /// disclosure (RULES 7a) or invokes the basis (3.2): a concern deposited by a carer still
    /// reaches the lead worker (PROCESS.md P2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duty: Option<String>,
}

/// Every fact a decision needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Facts {
    pub at: DateTime<Utc>,
    pub requester: Requester,
    pub recipient: Recipient,
    pub subject: Subject,
    pub records: Vec<RecordFacts>,
    #[serde(default)]
    pub consents: Vec<ConsentFacts>,
    #[serde(default)]
    pub mappa_decisions: Vec<MappaDecisionFacts>,
    #[serde(default)]
    pub staff_designations: Vec<StaffDesignation>,
    pub request: RequestFacts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Permit,
    Deny,
}

/// A failed rule: its code and a message naming the rule and the policy it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    pub decision: Outcome,
    pub view: Option<View>,
    pub sections_released: Vec<Section>,
    pub sections_withheld: Vec<Section>,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<Obligation>,
    pub policy_version: String,
    /// On a permit, the sections released from each record (by record id). A section can be
    /// released from one record and withheld from another (RULES.md 2.3), so a packet takes
    /// each record's own list, never the union.
    #[serde(skip)]
    pub released_by_record: BTreeMap<String, Vec<Section>>,
}

impl Decision {
    pub fn permitted(&self) -> bool {
        self.decision == Outcome::Permit
    }

    pub fn codes(&self) -> Vec<ReasonCode> {
        self.reasons.iter().map(|r| r.code).collect()
    }

    /// The decision as the requester is told it. A requester who may not disclose a record
    /// (`not_record_owner`) learns that alone: every other rule was judged on facts about the
    /// child (its school, age, MAPPA status, consents, the record's sections) that only the
    /// owner may read, so none of them, and no section name, is in the answer. The audit
    /// entry, written before, keeps the whole evaluation for the IG officer.
    pub fn as_told(self) -> Decision {
        if !self
            .reasons
            .iter()
            .any(|r| r.code == ReasonCode::NotRecordOwner)
        {
            return self;
        }
        Decision {
            decision: Outcome::Deny,
            view: None,
            sections_released: Vec::new(),
            sections_withheld: Vec::new(),
            reasons: vec![Reason {
                code: ReasonCode::NotRecordOwner,
                message: "rule 7a: a record named is not your agency's; only the agency that \
                          deposited a record may disclose it (policies/ownership.csv)"
                    .into(),
            }],
            obligations: Vec::new(),
            policy_version: self.policy_version,
            released_by_record: BTreeMap::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(codes: &[ReasonCode]) -> Decision {
        Decision {
            decision: Outcome::Deny,
            view: Some(View::LimitedSummary),
            sections_released: Vec::new(),
            sections_withheld: vec![Section::AllegationDetails],
            reasons: codes
                .iter()
                .map(|&code| Reason {
                    code,
                    message: format!("{code}: the child's recorded school is school-riverside"),
                })
                .collect(),
            obligations: Vec::new(),
            policy_version: "v".into(),
            released_by_record: BTreeMap::new(),
        }
    }

    #[test]
    fn a_non_owner_is_told_only_that_it_is_not_the_owner() {
        let d = decision(&[ReasonCode::NotPupilOfSchool, ReasonCode::NotRecordOwner]);
        let told = d.clone().as_told();
        assert_eq!(told.codes(), vec![ReasonCode::NotRecordOwner]);
        assert!(!told.reasons[0].message.contains("riverside"));
        assert_eq!((told.view, told.sections_withheld.len()), (None, 0));
        assert_eq!(d.reasons.len(), 2, "the decision itself (audited) is whole");
    }

    #[test]
    fn an_owner_is_told_every_failed_rule() {
        let d = decision(&[ReasonCode::NotPupilOfSchool, ReasonCode::ConsentNotFound]);
        let told = d.clone().as_told();
        assert_eq!(told.codes(), d.codes());
        assert_eq!(told.sections_withheld, d.sections_withheld);
    }
}
