//! Who may do what: the `policies/actions.csv` check, asked by the API's handlers and by the
//! console (its navigation offers a page only to those the policy lets call what the page
//! calls), and the relation facts an `actions` row may require. The broker computes the
//! relation; the policy says which actions need it. Rust names no role here.

use crate::decision::{Family, Policy};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// A fact about the caller and what it acts on that an `actions` row may require (its
/// `relation` column). The broker computes it; the policy says which actions need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// No relation holds (rows with `*` still match).
    None,
    /// The caller's agency is the child's recorded school.
    ChildsSchool,
    /// The caller chaired the strategy meeting whose minutes these are.
    Chair,
    /// The caller's agency owns the record.
    Owner,
    /// The caller's agency leads the case (PROCESS.md, Cases).
    LeadAgency,
    /// The caller's agency registered the child, or holds something about it: a record, a
    /// consent, a competence assessment, its MAPPA status or a MAPPA decision it recorded.
    KnowsChild,
    /// A transfer of the case to the caller's agency waits for its acceptance (PROCESS.md P4).
    TransferTo,
    /// The caller's agency led the case until it accepted a transfer away (PROCESS.md P4).
    FormerLead,
    /// The caller's agency serves the child's home area or the area it lives in (PROCESS.md,
    /// Places; with no areas configured every agency serves the one area).
    ChildsArea,
    /// The caller's agency is involved in the case without leading it: the placing authority
    /// of a looked-after child whose case another area leads (PROCESS.md P3).
    InvolvedAgency,
    /// The caller's agency placed the case's child, who is looked after (PROCESS.md P3).
    PlacingAuthority,
    /// The caller's agency owns the action agreed on a case (PROCESS.md, Actions).
    ActionOwner,
    /// A request for information is addressed to the caller's agency (PROCESS.md, requests
    /// for information).
    RequestTo,
}

impl Relation {
    const ALL: [Relation; 13] = [
        Relation::None,
        Relation::ChildsSchool,
        Relation::Chair,
        Relation::Owner,
        Relation::LeadAgency,
        Relation::KnowsChild,
        Relation::TransferTo,
        Relation::FormerLead,
        Relation::ChildsArea,
        Relation::InvolvedAgency,
        Relation::PlacingAuthority,
        Relation::ActionOwner,
        Relation::RequestTo,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Relation::None => "none",
            Relation::ChildsSchool => "childs_school",
            Relation::Chair => "chair",
            Relation::Owner => "owner",
            Relation::LeadAgency => "lead_agency",
            Relation::KnowsChild => "knows_child",
            Relation::TransferTo => "transfer_to",
            Relation::FormerLead => "former_lead",
            Relation::ChildsArea => "childs_area",
            Relation::InvolvedAgency => "involved_agency",
            Relation::PlacingAuthority => "placing_authority",
            Relation::ActionOwner => "action_owner",
            Relation::RequestTo => "request_to",
        }
    }

    /// The refusal of a caller whose roles may do the action only where this relation holds.
    fn lacking(self) -> ApiError {
        match self {
            Relation::None => ApiError::forbidden("role_not_permitted", "not permitted"),
            Relation::ChildsSchool => ApiError::forbidden(
                "not_childs_school",
                "only for a child whose recorded school is your agency (policies/actions.csv)",
            ),
            Relation::Chair => ApiError::forbidden(
                "not_chair",
                "only the chair of the strategy meeting may do this for its minutes \
                 (policies/actions.csv, RULES 6)",
            ),
            Relation::Owner => ApiError::forbidden(
                "not_record_owner",
                "only the record's owner agency may do this (policies/actions.csv)",
            ),
            Relation::LeadAgency => ApiError::forbidden(
                "not_lead_agency",
                "only the agency leading the case may do this (policies/actions.csv, PROCESS.md)",
            ),
            Relation::KnowsChild => ApiError::forbidden(
                "not_known_to_agency",
                "only an agency that registered the child or holds something about it may do \
                 this (policies/actions.csv)",
            ),
            Relation::TransferTo => ApiError::forbidden(
                "not_transfer_recipient",
                "only the agency a transfer of the case is addressed to may do this \
                 (policies/actions.csv, PROCESS.md P4)",
            ),
            Relation::FormerLead => ApiError::forbidden(
                "not_former_lead",
                "only the agency that led the case before its transfer may do this \
                 (policies/actions.csv, PROCESS.md P4)",
            ),
            Relation::ChildsArea => ApiError::forbidden(
                "not_childs_area",
                "only an agency serving the child's home area or the area it lives in may do \
                 this (policies/actions.csv, PROCESS.md Places)",
            ),
            Relation::InvolvedAgency => ApiError::forbidden(
                "not_involved_agency",
                "only an agency involved in the case may do this (policies/actions.csv, \
                 PROCESS.md P3)",
            ),
            Relation::PlacingAuthority => ApiError::forbidden(
                "not_placing_authority",
                "only the agency that placed the looked-after child may do this \
                 (policies/actions.csv, PROCESS.md P3)",
            ),
            Relation::ActionOwner => ApiError::forbidden(
                "not_action_owner",
                "only the agency that owns the action may do this (policies/actions.csv, \
                 PROCESS.md Actions)",
            ),
            Relation::RequestTo => ApiError::forbidden(
                "not_request_addressee",
                "only the agency a request for information is addressed to may do this \
                 (policies/actions.csv, PROCESS.md)",
            ),
        }
    }
}

/// Does the policy (`policies/actions.csv`) let any of the caller's roles do `action` where
/// `relation` holds?
pub fn may_as(state: &AppState, principal: &Principal, action: Action, relation: Relation) -> bool {
    allows(&state.policy(), principal, action, relation)
}

/// [`may_as`] against a given policy.
pub fn allows(policy: &Policy, principal: &Principal, action: Action, relation: Relation) -> bool {
    principal.roles.iter().any(|r| {
        let request = [
            action.as_str(),
            principal.agency_kind.as_str(),
            r.as_str(),
            relation.as_str(),
        ];
        policy.allows(Family::Actions, &request)
    })
}

/// Does the policy let any of the caller's roles do `action` where one of the relations that
/// `hold` (or none) does?
pub fn may_any(state: &AppState, principal: &Principal, action: Action, hold: &[Relation]) -> bool {
    may(state, principal, action) || hold.iter().any(|&r| may_as(state, principal, action, r))
}

/// [`may_somewhere`] against a given policy.
pub fn allows_somewhere(policy: &Policy, principal: &Principal, action: Action) -> bool {
    Relation::ALL
        .iter()
        .any(|&r| allows(policy, principal, action, r))
}

/// Does the policy let any of the caller's roles do `action` (needing no relation)?
pub fn may(state: &AppState, principal: &Principal, action: Action) -> bool {
    may_as(state, principal, action, Relation::None)
}

/// Could the caller do `action` where some relation holds? (Checked before computing the
/// relation, so a caller no row can ever allow is refused before anything is read.)
pub fn may_somewhere(state: &AppState, principal: &Principal, action: Action) -> bool {
    allows_somewhere(&state.policy(), principal, action)
}

/// 403 for an action the caller's roles may not perform.
pub fn not_permitted(principal: &Principal, action: Action) -> ApiError {
    ApiError::forbidden(
        "role_not_permitted",
        format!(
            "none of your roles ({}) may {} (policies/actions.csv)",
            principal.roles_text().join(", "),
            action.as_str().replace('_', " ")
        ),
    )
}

/// 403 unless the policy lets one of the caller's roles do `action`.
pub fn require(state: &AppState, principal: &Principal, action: Action) -> Result<(), ApiError> {
    require_as(state, principal, action, Relation::None)
}

/// 403 unless the policy lets one of the caller's roles do `action` where `holds` is the
/// relation the broker found; a caller the policy would allow under another relation is
/// refused naming that relation, anyone else as `role_not_permitted`.
pub fn require_as(
    state: &AppState,
    principal: &Principal,
    action: Action,
    holds: Relation,
) -> Result<(), ApiError> {
    if may_as(state, principal, action, holds) {
        return Ok(());
    }
    match Relation::ALL
        .into_iter()
        .find(|&r| r != holds && may_as(state, principal, action, r))
    {
        Some(needed) => Err(needed.lacking()),
        None => Err(not_permitted(principal, action)),
    }
}
