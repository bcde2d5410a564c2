//! The one table of plain-English labels for every code a page shows (CONSOLE.md, "What a
//! person reads"): roles, agency kinds, record kinds, sections, purposes, bases, views, consent
//! givers, subject roles, event kinds, outcomes, case statuses, obligations, reason codes,
//! clocks, duties, audit actions and triggers. Every page takes its words from here, so a code
//! never reaches a person. Clocks and duties are named by the policy (`timescales.csv`,
//! `duties.csv`), so a name the table does not know is still turned into words
//! ([`humanise`]), never shown as a code.

use std::borrow::Cow;

use crate::vocab::{
    AgencyKind, Basis, CaseOutcome, CaseStatus, EventKind, Giver, Obligation, Purpose, ReasonCode,
    RecordKind, Role, Route, ScreeningLevel, ScreeningTool, Section, SubjectRole, View,
};

/// A term with a plain-English label.
pub trait Label: Copy + 'static {
    /// The label, as a sentence starts it ("Designated safeguarding lead").
    fn label(self) -> &'static str;
}

macro_rules! labels {
    ($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl Label for $ty {
            fn label(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
    };
}

labels!(AgencyKind {
    ChildrenSocialCare => "Children's social care",
    EarlyHelp => "Early help",
    Police => "Police",
    School => "School",
    Health => "Health",
    Camhs => "Child and adolescent mental health services (CAMHS)",
    YouthOffending => "Youth offending service",
    Probation => "Probation",
    HsbService => "Harmful sexual behaviour service",
    Fostering => "Fostering",
    Residential => "Residential care",
    Mappa => "MAPPA",
    Partnership => "Safeguarding partnership",
    AdultSocialCare => "Adult social care",
    EducationServices => "Education services",
});

labels!(Role {
    SocialWorker => "Social worker",
    TeamManager => "Team manager",
    PoliceOfficer => "Police officer",
    HeadTeacher => "Head teacher",
    Dsl => "Designated safeguarding lead",
    SchoolStaff => "Member of school staff",
    SafeguardingGovernor => "Safeguarding governor",
    HealthPractitioner => "Health practitioner",
    CamhsClinician => "CAMHS clinician",
    YosWorker => "Youth offending service worker",
    ProbationOfficer => "Probation officer",
    HsbPractitioner => "Harmful sexual behaviour practitioner",
    PlacementManager => "Placement manager",
    Carer => "Carer",
    MappaChair => "MAPPA chair",
    MappaCoordinator => "MAPPA coordinator",
    AdultSocialWorker => "Adult social worker",
    EducationalPsychologist => "Educational psychologist",
    EducationWelfareOfficer => "Education welfare officer",
    IgOfficer => "Information governance officer",
    IndependentReviewingOfficer => "Independent reviewing officer",
});

labels!(RecordKind {
    Referral => "Referral",
    PoliceNotification => "Police notification",
    IncidentReport => "Incident report",
    StrategyMeetingMinutes => "Strategy meeting minutes",
    InitialAssessment => "Initial assessment",
    FamilyAssessment => "Family assessment",
    SpecialistAssessment => "Specialist assessment",
    CamhsAssessment => "CAMHS assessment",
    RiskManagementPlan => "Risk management plan",
    ChildProtectionPlan => "Child protection plan",
    CourtOutcome => "Court outcome",
    EndSummary => "End summary",
});

labels!(Section {
    Summary => "Summary",
    RiskManagement => "Risk management",
    AllegationDetails => "Details of the allegation",
    PoliceIntelligence => "Police intelligence",
    HealthClinical => "Health and clinical information",
    AssessmentFindings => "Assessment findings",
    FamilyBackground => "Family background",
    VictimDetails => "Details of the victim",
});

labels!(Purpose {
    Safeguarding => "Safeguarding",
    S47Enquiry => "Section 47 enquiry",
    StrategyMeeting => "Strategy meeting",
    Assessment => "Assessment",
    RiskManagement => "Risk management",
    CriminalInvestigation => "Criminal investigation",
    Court => "Court proceedings",
    Mappa => "MAPPA",
    EducationSupport => "Education support",
    HealthCare => "Health care",
    Resettlement => "Resettlement",
});

labels!(Basis {
    Consent => "Consent",
    SignificantHarm => "Risk of significant harm",
    CrimePrevention => "Prevention or detection of crime",
    LegalObligation => "Legal obligation",
    MappaDecision => "MAPPA forum decision",
});

labels!(View {
    Full => "Full record",
    Partial => "Part of the record",
    LimitedSummary => "Limited summary",
    RiskManagement => "Risk management only",
    Notification => "Notification only",
});

labels!(Giver {
    Child => "The child",
    Parent => "A parent",
});

labels!(SubjectRole {
    HarmfulBehaviour => "Displayed the harmful behaviour",
    Victim => "Was harmed",
    Other => "Other",
});

labels!(EventKind {
    StrategyDiscussionHeld => "Strategy discussion held",
    InitialAssessmentCompleted => "Initial assessment completed",
    StrategyMeetingHeld => "Strategy meeting held",
    MinutesCirculated => "Minutes circulated",
    AssessmentCompleted => "Assessment completed",
    PlanAgreed => "Plan agreed",
    ReviewHeld => "Review held",
    InterventionEnded => "Intervention ended",
    EndSummaryShared => "End summary shared",
    OutcomeRecorded => "Outcome recorded",
    CaseClosed => "Case closed",
    WorkerAllocated => "Lead worker reallocated",
    RouteDecided => "Route decided",
    ClockNotRequired => "Timescale marked not required",
    ScreeningCompleted => "Screening completed",
});

labels!(Route {
    S47Enquiry => "Section 47 enquiry",
    SingleAssessment => "Single assessment",
    EarlyHelp => "Early help",
    NoFurtherAction => "No further action",
});

labels!(ScreeningTool {
    BrookTrafficLight => "Brook Traffic Light Tool",
    HackettContinuum => "Hackett continuum",
    Aim => "AIM assessment",
    Local => "Local screening tool",
});

labels!(ScreeningLevel {
    Green => "Green",
    Amber => "Amber",
    Red => "Red",
});

labels!(CaseOutcome {
    NoFurtherAction => "No further action",
    EarlyHelp => "Early help",
    ChildInNeed => "Child in need",
    ChildProtection => "Child protection",
    HsbIntervention => "Harmful sexual behaviour intervention",
    CriminalJustice => "Criminal justice",
});

labels!(CaseStatus {
    Open => "Open",
    Closed => "Closed",
});

labels!(Obligation {
    IgReview => "Information governance review",
    NotifyMappa => "MAPPA to be told",
});

labels!(ReasonCode {
    ConsentNotFound => "No consent covers this purpose and this kind of agency",
    ConsentWrongGiver => "The consent was given by someone who cannot consent for this child",
    ConsentNotCurrent => "The consent has expired or been withdrawn",
    OverrideNotPermittedForRole => "Your role may not share without consent on this basis",
    JustificationRequired => "A justification of at least 20 characters is needed",
    LegalReferenceRequired => "A legal reference is needed for a legal obligation",
    MappaForumDecides => "The child is under MAPPA management: only a forum decision can allow this",
    MappaDecisionNotApplicable => "The MAPPA forum decision does not cover this",
    RecipientRoleNotPermitted => "That role may not receive this",
    NotPupilOfSchool => "The child is not recorded as a pupil of that school",
    ChairPermissionRequired => "The chair of the meeting has not given permission",
    BelowAgeOfCriminalResponsibility => "The child is under 10, the age of criminal responsibility",
    PurposeNotPermitted => "That purpose may not go to this kind of agency",
    BasisNotPermittedForRecipient => "That basis may not be used between these agencies",
    NothingToShare => "Nothing in the record may go to this recipient",
    BundlingSubjects => "The records are about more than one child",
    NotRecordOwner => "The record is not your agency's",
    RequesterRoleNotPermitted => "Your role may not share records",
    RoleCannotDeposit => "Your role may not deposit this kind of record",
    RecipientOutsideChildArea => "That agency does not serve the child's area: only an emergency or statutory basis allows it",
});

/// Every term of `T` with its label, in the contract's order: the choices of a form.
pub fn choices<T: Label + Vocabulary>() -> Vec<Choice> {
    T::all()
        .iter()
        .map(|t| Choice {
            value: t.code().to_owned(),
            label: t.label().to_owned(),
        })
        .collect()
}

/// A choice in a form: the value sent (the contract's code) and what the person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>) -> Choice {
        Choice {
            value: value.into(),
            label: label.into(),
        }
    }
}

/// A vocabulary whose every term can be listed ([`choices`]).
pub trait Vocabulary: Sized + 'static {
    fn all() -> &'static [Self];
    fn code(&self) -> &'static str;
}

macro_rules! vocabularies {
    ($($ty:ident),+) => {$(
        impl Vocabulary for $ty {
            fn all() -> &'static [Self] {
                $ty::ALL
            }
            fn code(&self) -> &'static str {
                self.as_str()
            }
        }
    )+};
}

vocabularies!(
    Route,
    ScreeningTool,
    ScreeningLevel,
    AgencyKind,
    Role,
    RecordKind,
    Section,
    Purpose,
    Basis,
    View,
    Giver,
    SubjectRole,
    EventKind,
    CaseOutcome,
    CaseStatus,
    Obligation,
    ReasonCode
);

/// The label of a code of vocabulary `T` held as text (a stored or decoded term); a text that
/// is not a term of `T` is turned into words.
pub fn of<T: Label + std::str::FromStr>(code: &str) -> Cow<'static, str> {
    match code.parse::<T>() {
        Ok(t) => Cow::Borrowed(t.label()),
        Err(_) => Cow::Owned(humanise(code)),
    }
}

/// A competence assessment (`gillick`, `capacity`), as a person reads it.
pub fn assessment(code: &str) -> &'static str {
    match code {
        "gillick" => "Gillick competence",
        "capacity" => "Mental capacity",
        _ => "Assessment",
    }
}

/// An assessment's outcome, as a person reads it.
pub fn assessment_outcome(code: &str, outcome: bool) -> &'static str {
    match (code, outcome) {
        ("capacity", true) => "Has capacity",
        ("capacity", false) => "Lacks capacity",
        (_, true) => "Competent",
        (_, false) => "Not competent",
    }
}

/// A clock of `timescales.csv` (or the report's `action` line), as a person reads it.
pub fn clock(name: &str) -> Cow<'static, str> {
    known_clock(name).map_or_else(|| humanise(name).into(), Cow::Borrowed)
}

fn known_clock(name: &str) -> Option<&'static str> {
    Some(match name {
        "strategy_discussion" => "Strategy discussion",
        "initial_assessment" => "Initial assessment",
        "strategy_meeting" => "Strategy meeting",
        "minutes" => "Minutes of the strategy meeting",
        "assessment" => "Assessment",
        "review" => "Review",
        "first_review" => "First review",
        "end_summary" => "End summary",
        // the timeliness report's line of the actions agreed on cases (PROCESS.md, Actions)
        "action" => "Agreed actions",
        _ => return None,
    })
}

/// A duty of `duties.csv`, as a person reads it.
pub fn duty(name: &str) -> Cow<'static, str> {
    known_duty(name).map_or_else(|| humanise(name).into(), Cow::Borrowed)
}

fn known_duty(name: &str) -> Option<&'static str> {
    Some(match name {
        "involvement_school" => "Tell the child's school that children's social care is involved",
        "involvement_agencies" => {
            "Tell the agencies that received information that children's social care is involved"
        }
        "strategy_meeting_convened" => {
            "Tell the agencies involved that a strategy meeting was held"
        }
        "merlin_youth_support" => "Send the police notice to the youth support service",
        "merlin_contact_service" => "Send the police notice to the children's services front door",
        "court_decision" => "Tell the agencies involved of the court's decision",
        "concern_referral" => "Send the referral to the child's social worker or front door",
        "concern_incident_report" => {
            "Send the incident report to the child's social worker or front door"
        }
        "lac_iro_informed" => {
            "Tell the independent reviewing officer of the council that placed the child"
        }
        "involved_kept_updated" => "Tell the council that placed the child of each step",
        "meeting_invitation" => "Invite the agency to the meeting",
        _ => return None,
    })
}

/// An audit entry's action (`disclosure.permit`, `case.event`, ...), as a person reads it.
pub fn audit_action(action: &str) -> Cow<'static, str> {
    let known = match action {
        "disclosure" => "Disclosure",
        "decision.check" => "Sharing checked (nothing sent)",
        "duty" => "Duty to notify",
        "record.disclosures.read" => "Record's disclosures read",
        "subject.read" => "Child's details read",
        "mail.sent" => "Packet e-mail sent",
        "mail.failed" => "Packet e-mail not delivered",
        "packet.read" | "packet.fetch" => "Packet opened",
        "packet.ack" | "packet.acknowledge" => "Packet acknowledged",
        "record.deposit" => "Record deposited",
        "record.deposit_denied" => "Record refused",
        "chair.permission" | "record.chair_permission" => "Chair's permission given",
        "subject.register" => "Child registered",
        "competence.record" | "subject.competence" => "Competence assessment recorded",
        "subject.school" => "School changed",
        "designation.record" | "subject.designation" => "Member of staff designated",
        "consent.record" => "Consent recorded",
        "consent.withdraw" => "Consent withdrawn",
        "mappa.status" => "MAPPA status set",
        "mappa.decision" => "MAPPA forum decision recorded",
        "case.open" => "Case opened",
        "case.event" => "Case step recorded",
        "case.read" => "Case read",
        "case.transfer" => "Case transfer requested",
        "case.transfer_accept" => "Case transfer accepted",
        "case.meeting" => "Meeting scheduled",
        "case.meeting_attendance" => "Meeting attendance recorded",
        "case.list" => "Cases listed",
        "report.timeliness" => "Timeliness report read",
        "audit.review" | "review.record" => "Override reviewed",
        "audit.query" | "audit.read" => "Audit log searched",
        "audit.export" => "Audit log exported",
        "audit.reviews" => "Review queue read",
        "audit.verify" => "Audit chain checked",
        "audit.subject_history" => "Child's history read",
        "console.sign_in" | "session.open" => "Signed in to the console",
        "console.sign_out" | "session.end" => "Signed out of the console",
        "console.session_expired" => "Console session ended",
        "console.dev_sign_in" => "Signed in to the console (dev)",
        "policy_in_force" => "Policy version brought into force",
        "at_rest_key_rotation_started" => "Storage key rotation started",
        "at_rest_key_rotated" => "Storage key rotated",
        _ => "",
    };
    if known.is_empty() {
        humanise(action).into()
    } else {
        known.into()
    }
}

/// A decision (`permit`, `deny`), as a person reads it.
pub fn decision(code: &str) -> Cow<'static, str> {
    match code {
        "permit" => "Permitted".into(),
        "deny" => "Refused".into(),
        other => humanise(other).into(),
    }
}

/// A child as a page names it: "Sam Rivers, born 1 June 2015".
pub fn child(child: &crate::app::records::Child) -> String {
    let born = super::time::uk_date(&child.date_of_birth);
    match &child.display_name {
        Some(name) => format!("{name}, born {born}"),
        None => format!("A child born {born} (no name was given)"),
    }
}

/// A code the table does not know, in words: `first_review` → "First review",
/// `case.event` → "Case event".
pub fn humanise(code: &str) -> String {
    let words = code.replace(['_', '.', ':', '-'], " ");
    let mut chars = words.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_code<T: Label + Vocabulary>() {
        for t in T::all() {
            let label = t.label();
            assert!(
                !label.contains('_') && !label.is_empty(),
                "{}: {label}",
                t.code()
            );
            assert!(
                label.chars().next().is_some_and(char::is_uppercase),
                "{}: {label} starts a sentence",
                t.code()
            );
        }
    }

    #[test]
    fn every_term_of_every_vocabulary_has_a_label_in_words() {
        no_code::<Route>();
        no_code::<ScreeningTool>();
        no_code::<ScreeningLevel>();
        no_code::<AgencyKind>();
        no_code::<Role>();
        no_code::<RecordKind>();
        no_code::<Section>();
        no_code::<Purpose>();
        no_code::<Basis>();
        no_code::<View>();
        no_code::<Giver>();
        no_code::<SubjectRole>();
        no_code::<EventKind>();
        no_code::<CaseOutcome>();
        no_code::<CaseStatus>();
        no_code::<Obligation>();
        no_code::<ReasonCode>();
    }

    #[test]
    fn every_shipped_clock_and_duty_has_a_label_of_its_own() {
        let policies = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for (file, label) in [
            (
                "timescales.csv",
                known_clock as fn(&str) -> Option<&'static str>,
            ),
            ("duties.csv", known_duty),
        ] {
            let text = std::fs::read_to_string(policies.join(file)).unwrap();
            let names: Vec<&str> = text
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .filter_map(|l| l.split(',').next())
                .map(str::trim)
                .collect();
            assert!(!names.is_empty(), "{file} names something");
            for name in names {
                assert!(
                    label(name).is_some(),
                    "{file}: {name} has no label of its own in console/labels.rs"
                );
            }
        }
    }

    #[test]
    fn an_unknown_code_is_turned_into_words() {
        assert_eq!(humanise("first_review"), "First review");
        assert_eq!(humanise("case.event"), "Case event");
        assert_eq!(of::<Role>("janitor_in_chief"), "Janitor in chief");
        assert_eq!(of::<Role>("dsl"), "Designated safeguarding lead");
    }
}
