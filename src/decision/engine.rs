//! The rules of RULES.md, each evaluated independently so that a denial names every rule that
//! failed. Rust computes the facts; every permission is a question to the policy.

use std::collections::{BTreeMap, BTreeSet};

use super::facts::{age_on, capacity_term, gillick_term, in_force, london_date};
use super::policy::{Family, Policy};
use super::{Decision, Facts, MappaDecisionFacts, Outcome, Reason};
use crate::vocab::{AgencyKind, Obligation, ReasonCode, Role, View};

/// Collects failed rules without duplicates, in the order they were found.
#[derive(Default)]
struct Failures(Vec<Reason>);

impl Failures {
    fn fail(&mut self, code: ReasonCode, message: String) {
        if !self.0.iter().any(|r| r.code == code) {
            self.0.push(Reason { code, message });
        }
    }
}

/// The role string a policy question uses for an optional recipient role.
fn role_term(role: Option<Role>) -> &'static str {
    role.map_or("", Role::as_str)
}

/// The decision for a disclosure (or its dry run) of `facts.records` to `facts.recipient`.
pub fn decide(policy: &Policy, facts: &Facts) -> Decision {
    let mut f = Failures::default();
    let req = &facts.request;
    let requester = &facts.requester;
    let recipient = &facts.recipient;
    let subject = &facts.subject;
    let kind = recipient.agency_kind;
    let role = role_term(recipient.role);
    let basis = req.basis.as_str();
    let requires = |what: &str| policy.allows(Family::BasisRequirements, &[basis, what]);

    let age = age_on(subject.date_of_birth, london_date(facts.at));
    let bands: Vec<&str> = policy.bands_for(age).collect();

    // 2.2: one child per disclosure.
    if facts.records.iter().any(|r| r.subject_id != subject.id) {
        f.fail(
            ReasonCode::BundlingSubjects,
            "rule 2.2: the records are about more than one child; each child's records are \
             disclosed separately"
                .into(),
        );
    }

    // 7a: the owner pushes (ownership), and only roles that may initiate.
    if let Some(r) = facts
        .records
        .iter()
        .find(|r| !owner_may(policy, "disclose", r, requester))
    {
        f.fail(
            ReasonCode::NotRecordOwner,
            format!(
                "rule 7a: record {} is owned by {}, not by the requester's agency {} ({})",
                r.id,
                r.owner,
                requester.agency,
                Family::Ownership
            ),
        );
    }
    let can_initiate = |r: &Role| {
        r.valid_for(requester.agency_kind) && policy.allows(Family::Initiate, &[r.as_str()])
    };
    // a duty duty_roles.csv names for the requester's role is carried out for it (PROCESS.md P2)
    let duty_of_role = req.duty.as_deref().is_some_and(|duty| {
        requester.roles.iter().any(|r| {
            r.valid_for(requester.agency_kind)
                && policy.allows(Family::DutyRoles, &[duty, r.as_str()])
        })
    });
    if !duty_of_role && !requester.roles.iter().any(can_initiate) {
        f.fail(
            ReasonCode::RequesterRoleNotPermitted,
            format!(
                "rule 7a: none of the requester's roles ({}) may initiate a disclosure ({})",
                join(requester.roles.iter().map(|r| r.as_str())),
                Family::Initiate
            ),
        );
    }

    // 7a and 4.3: the recipient role and its requirements.
    let named_role_ok = match recipient.role {
        Some(r) => r.valid_for(kind),
        None => !policy.allows(
            Family::RecipientRequirements,
            &[kind.as_str(), "", "role_named"],
        ),
    };
    if !named_role_ok {
        f.fail(
            ReasonCode::RecipientRoleNotPermitted,
            match recipient.role {
                Some(r) => format!("rule 7a: a {kind} agency has no role {r} (API.md, Roles)"),
                None => format!(
                    "rule 4.3: a {kind} recipient must be named by role ({})",
                    Family::RecipientRequirements
                ),
            },
        );
    }
    let recipient_requires =
        |what: &str| policy.allows(Family::RecipientRequirements, &[kind.as_str(), role, what]);
    if recipient_requires("staff_designation") {
        let designated = facts.staff_designations.iter().any(|d| {
            d.subject_id == subject.id && recipient.sub.as_deref() == Some(d.staff_sub.as_str())
        });
        if !designated {
            f.fail(
                ReasonCode::RecipientRoleNotPermitted,
                format!(
                    "rule 4.3 b: {role} receives only where the head teacher has designated that \
                     member of staff for this child ({})",
                    Family::RecipientRequirements
                ),
            );
        }
    }
    if recipient_requires("own_pupil")
        && subject.school.as_deref() != Some(recipient.agency.as_str())
    {
        f.fail(
            ReasonCode::NotPupilOfSchool,
            format!(
                "rule 4.3 d: the child's recorded school is {}, not {} ({})",
                subject.school.as_deref().unwrap_or("none"),
                recipient.agency,
                Family::RecipientRequirements
            ),
        );
    }

    // 9: purposes and bases by recipient kind.
    if !policy.allows(Family::Purposes, &[req.purpose.as_str(), kind.as_str()]) {
        f.fail(
            ReasonCode::PurposeNotPermitted,
            format!(
                "rule 9: purpose {} may not go to a {kind} recipient ({})",
                req.purpose,
                Family::Purposes
            ),
        );
    }
    if !policy.allows(
        Family::Bases,
        &[basis, requester.agency_kind.as_str(), kind.as_str()],
    ) {
        f.fail(
            ReasonCode::BasisNotPermittedForRecipient,
            format!(
                "rule 9: basis {basis} may not be used from {} to {kind} ({})",
                requester.agency_kind,
                Family::Bases
            ),
        );
    }

    // 10.1: the services of the child's own areas; another area's only as a considered exception.
    // 10.2: the looked-after child's placing authority is tied to the child wherever it lives
    let tie = if subject.placed_by.as_deref() == Some(recipient.agency.as_str()) {
        "placing_authority"
    } else {
        "none"
    };
    if !recipient.serves(subject)
        && !policy.allows(Family::OutsideArea, &[basis, kind.as_str(), tie])
    {
        let areas: Vec<&str> = subject.areas().collect();
        f.fail(
            ReasonCode::RecipientOutsideChildArea,
            format!(
                "rule 10.1: {} serves {}, not the child's {}; another area's agency receives only \
                 on a basis {} allows",
                recipient.agency,
                join(recipient.areas.iter().flatten().map(String::as_str)),
                if areas.is_empty() {
                    "area, which is not recorded (record where the child lives)".to_owned()
                } else {
                    format!("area ({})", join(areas.into_iter()))
                },
                Family::OutsideArea
            ),
        );
    }

    // 7: purposes barred by age, for records about the child in the role the bar protects.
    let barred: Vec<&str> = facts
        .records
        .iter()
        .filter(|r| {
            bands.iter().any(|b| {
                policy.allows(
                    Family::AgeRestrictions,
                    &[req.purpose.as_str(), b, r.subject_role.as_str()],
                )
            })
        })
        .map(|r| r.id.as_str())
        .collect();
    if !barred.is_empty() {
        f.fail(
            ReasonCode::BelowAgeOfCriminalResponsibility,
            format!(
                "rule 7: the child is {age} on the day, too young for purpose {} about the \
                 behaviour recorded in {} ({})",
                req.purpose,
                barred.join(", "),
                Family::AgeRestrictions
            ),
        );
    }

    // 3: the basis's own requirements.
    if requires("consent") {
        check_consent(policy, facts, &bands, &mut f);
    }
    if requires("override_role")
        && !duty_of_role
        && !requester.roles.iter().any(|r| {
            r.valid_for(requester.agency_kind)
                && policy.allows(Family::Overrides, &[basis, r.as_str()])
        })
    {
        f.fail(
            ReasonCode::OverrideNotPermittedForRole,
            format!(
                "rule 3.2: none of the requester's roles ({}) may invoke {basis} ({})",
                join(requester.roles.iter().map(|r| r.as_str())),
                Family::Overrides
            ),
        );
    }
    let min = policy.justification_min_chars();
    if requires("justification") && !long_enough(req.justification.as_deref(), min) {
        f.fail(
            ReasonCode::JustificationRequired,
            format!(
                "rule 9: {basis} needs a written justification of at least {min} characters \
                 (policies/parameters.csv)"
            ),
        );
    }
    if requires("legal_reference") && !long_enough(req.legal_reference.as_deref(), 1) {
        f.fail(
            ReasonCode::LegalReferenceRequired,
            format!("rule 9: {basis} needs a legal_reference citing the order or duty"),
        );
    }

    // 5: MAPPA. While the forum manages the child only the bases it leaves open may be used.
    let forum_basis = requires("forum_decision");
    let under_mappa = |consequence: &str| {
        subject.mappa_active && policy.allows(Family::MappaBases, &[basis, consequence])
    };
    if subject.mappa_active && !under_mappa("open") {
        f.fail(
            ReasonCode::MappaForumDecides,
            format!(
                "rule 5: the child is under active MAPPA management, so the forum decides on \
                 sharing and basis {basis} is not open ({})",
                Family::MappaBases
            ),
        );
    }
    let forum =
        if forum_basis {
            let found = applicable_forum_decision(facts);
            if found.is_none() {
                f.fail(
                ReasonCode::MappaDecisionNotApplicable,
                format!(
                    "rule 5: no MAPPA forum decision {} in force covers this child{}, recipient \
                     and purpose",
                    req.mappa_decision_id.as_deref().unwrap_or("(none named)"),
                    if subject.mappa_active { "" } else { " (not under MAPPA)" }
                ),
            );
            }
            found
        } else {
            None
        };

    // 6: a record kind with a chair (record_controls) needs the chair's permission for this agency.
    for record in &facts.records {
        if policy.allows(
            Family::RecordControls,
            &[record.kind.as_str(), "chair_permission"],
        ) && !record
            .chair_permissions
            .iter()
            .any(|a| a == &recipient.agency)
        {
            f.fail(
                ReasonCode::ChairPermissionRequired,
                format!(
                    "rule 6: record {} ({}) needs its chair's permission for {} ({})",
                    record.id,
                    record.kind,
                    recipient.agency,
                    Family::RecordControls
                ),
            );
        }
    }

    // 4: need to know, record by record; 2.3: sections about another child.
    let fixed_view = if req.notification {
        Some(View::Notification)
    } else {
        [
            View::Notification,
            View::RiskManagement,
            View::LimitedSummary,
        ]
        .into_iter()
        .find(|v| policy.allows(Family::Views, &[kind.as_str(), role, v.as_str()]))
    };
    let ceiling = fixed_view.unwrap_or(View::Full);
    let mut present = BTreeSet::new();
    let mut released = BTreeSet::new();
    let mut withheld = BTreeSet::new();
    let mut third_party = BTreeSet::new();
    let mut released_by_record = BTreeMap::new();
    for record in &facts.records {
        let mut mine = Vec::new();
        for &section in &record.sections {
            present.insert(section);
            let needed = match forum {
                Some(decision) => decision.sections.contains(&section),
                None => policy.allows(
                    Family::Sections,
                    &[kind.as_str(), role, section.as_str(), req.purpose.as_str()],
                ),
            };
            let about_another = policy.allows(
                Family::ThirdParty,
                &[section.as_str(), record.subject_role.as_str(), basis],
            );
            if about_another {
                third_party.insert(section);
            }
            if needed
                && !about_another
                && policy.allows(Family::ViewSections, &[ceiling.as_str(), section.as_str()])
            {
                released.insert(section);
                mine.push(section);
            } else {
                withheld.insert(section);
            }
        }
        released_by_record.insert(record.id.clone(), mine);
    }
    let view = match fixed_view {
        Some(v) => v,
        None if withheld.is_empty() => View::Full,
        None => View::Partial,
    };
    if released.is_empty() && view != View::Notification {
        f.fail(
            ReasonCode::NothingToShare,
            format!(
                "rule 4.2: a {kind} {} may receive none of the sections these records hold \
                 ({}){}",
                if role.is_empty() { "recipient" } else { role },
                if forum.is_some() {
                    "the MAPPA forum decision".to_owned()
                } else {
                    Family::Sections.to_string()
                },
                if third_party.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; rule 2.3: {} describe another child and are withheld on basis \
                         {basis} ({})",
                        join(third_party.iter().map(|s| s.as_str())),
                        Family::ThirdParty
                    )
                }
            ),
        );
    }

    let permit = f.0.is_empty();
    let mut obligations = Vec::new();
    if permit && (requires("ig_review") || under_mappa("ig_review")) {
        obligations.push(Obligation::IgReview);
    }
    if permit && under_mappa("notify_mappa") {
        obligations.push(Obligation::NotifyMappa);
    }
    Decision {
        decision: if permit {
            Outcome::Permit
        } else {
            Outcome::Deny
        },
        view: permit.then_some(view),
        sections_released: if permit {
            released.into_iter().collect()
        } else {
            Vec::new()
        },
        sections_withheld: if permit { withheld } else { present }
            .into_iter()
            .collect(),
        reasons: f.0,
        obligations,
        policy_version: policy.version().to_owned(),
        released_by_record: if permit {
            released_by_record
        } else {
            BTreeMap::new()
        },
    }
}

/// 3.1: a current consent, by a giver valid for this child on this day, covering the purpose
/// and the recipient's kind.
fn check_consent(policy: &Policy, facts: &Facts, bands: &[&str], f: &mut Failures) {
    let kind: AgencyKind = facts.recipient.agency_kind;
    let purpose = facts.request.purpose;
    let subject = &facts.subject;
    let gillick = gillick_term(subject.gillick_competent);
    let capacity = capacity_term(subject.lacks_capacity);
    let covering: Vec<_> = facts
        .consents
        .iter()
        .filter(|c| c.purposes.contains(&purpose) && c.recipient_kinds.contains(&kind))
        .collect();
    if covering.is_empty() {
        f.fail(
            ReasonCode::ConsentNotFound,
            format!("rule 3.1: no consent covers purpose {purpose} to a {kind} recipient"),
        );
        return;
    }
    let valid_giver: Vec<_> = covering
        .into_iter()
        .filter(|c| {
            bands.iter().any(|b| {
                policy.allows(
                    Family::ConsentGivers,
                    &[b, gillick, capacity, c.given_by.as_str()],
                )
            })
        })
        .collect();
    if valid_giver.is_empty() {
        f.fail(
            ReasonCode::ConsentWrongGiver,
            format!(
                "rule 3.1: the covering consents are not given by someone who can consent for \
                 this child on this day ({})",
                Family::ConsentGivers
            ),
        );
        return;
    }
    if !valid_giver
        .iter()
        .any(|c| in_force(facts.at, c.expires_at, c.withdrawn_at))
    {
        f.fail(
            ReasonCode::ConsentNotCurrent,
            "rule 3.1: every covering consent by a valid giver has expired or been withdrawn"
                .into(),
        );
    }
}

/// 5: the named forum decision, if it covers this child, recipient and purpose and is in force.
fn applicable_forum_decision(facts: &Facts) -> Option<&MappaDecisionFacts> {
    let id = facts.request.mappa_decision_id.as_deref()?;
    facts.mappa_decisions.iter().find(|d| {
        d.id == id
            && facts.subject.mappa_active
            && d.subject_id == facts.subject.id
            && d.recipient_agency == facts.recipient.agency
            && d.recipient_role
                .is_none_or(|r| Some(r) == facts.recipient.role)
            && d.purposes.contains(&facts.request.purpose)
            && in_force(facts.at, d.expires_at, None)
    })
}

/// Does `ownership.csv` let the requester do `act` to `record`, given whether its agency owns it?
fn owner_may(
    policy: &Policy,
    act: &str,
    record: &super::RecordFacts,
    requester: &super::Requester,
) -> bool {
    let relation = if record.owner == requester.agency {
        "owner"
    } else {
        "not_owner"
    };
    policy.allows(Family::Ownership, &[act, relation])
}

fn long_enough(text: Option<&str>, min_chars: usize) -> bool {
    text.is_some_and(|t| {
        let t = t.trim();
        !t.is_empty() && t.chars().count() >= min_chars
    })
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// The decision on depositing records (RULES.md 2.1): by the owner agency only, and only by
/// a role the policy lets deposit that kind. Reported in the same shape as a disclosure.
pub fn decide_deposit(
    policy: &Policy,
    requester: &super::Requester,
    records: &[super::RecordFacts],
) -> Decision {
    let mut f = Failures::default();
    for record in records {
        if !owner_may(policy, "deposit", record, requester) {
            f.fail(
                ReasonCode::NotRecordOwner,
                format!(
                    "rule 2.1: record {} would be owned by {}; an agency deposits only its own \
                     records ({})",
                    record.id,
                    record.owner,
                    Family::Ownership
                ),
            );
        }
        let kind = requester.agency_kind;
        let allowed = requester.roles.iter().any(|r| {
            r.valid_for(kind)
                && policy.allows(
                    Family::Deposit,
                    &[kind.as_str(), r.as_str(), record.kind.as_str()],
                )
        });
        if !allowed {
            f.fail(
                ReasonCode::RoleCannotDeposit,
                format!(
                    "rule 2.1: none of the requester's roles ({}) in a {kind} agency may deposit \
                     a {} ({})",
                    join(requester.roles.iter().map(|r| r.as_str())),
                    record.kind,
                    Family::Deposit
                ),
            );
        }
    }
    let permit = f.0.is_empty();
    Decision {
        decision: if permit {
            Outcome::Permit
        } else {
            Outcome::Deny
        },
        view: None,
        sections_released: Vec::new(),
        sections_withheld: Vec::new(),
        reasons: f.0,
        obligations: Vec::new(),
        policy_version: policy.version().to_owned(),
        released_by_record: BTreeMap::new(),
    }
}
