//! The contract's fixed vocabulary (API.md, Vocabulary): agency kinds, roles, record kinds,
//! sections, purposes, bases, views, reason codes and obligations, and the case event kinds of
//! PROCESS.md. Every string that crosses the edge becomes one of these enums, so after parsing
//! an unknown term cannot exist.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A term that is not in the vocabulary, e.g. `unknown role "janitor"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} \"{value}\" (expected one of: {expected})")]
pub struct UnknownTerm {
    pub what: &'static str,
    pub value: String,
    pub expected: String,
}

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every term, in the contract's canonical order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// What the term is called in error messages.
            pub const WHAT: &'static str = $what;

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownTerm;
            fn from_str(s: &str) -> Result<Self, UnknownTerm> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownTerm {
                        what: $what,
                        value: s.to_owned(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({"type": "string", "enum": [$($text),+]})
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary!(AgencyKind, "agency kind" {
    ChildrenSocialCare => "children_social_care",
    EarlyHelp => "early_help",
    Police => "police",
    School => "school",
    Health => "health",
    Camhs => "camhs",
    YouthOffending => "youth_offending",
    Probation => "probation",
    HsbService => "hsb_service",
    Fostering => "fostering",
    Residential => "residential",
    Mappa => "mappa",
    Partnership => "partnership",
    AdultSocialCare => "adult_social_care",
    EducationServices => "education_services",
});

vocabulary!(Role, "role" {
    SocialWorker => "social_worker",
    TeamManager => "team_manager",
    PoliceOfficer => "police_officer",
    HeadTeacher => "head_teacher",
    Dsl => "dsl",
    SchoolStaff => "school_staff",
    SafeguardingGovernor => "safeguarding_governor",
    HealthPractitioner => "health_practitioner",
    CamhsClinician => "camhs_clinician",
    YosWorker => "yos_worker",
    ProbationOfficer => "probation_officer",
    HsbPractitioner => "hsb_practitioner",
    PlacementManager => "placement_manager",
    Carer => "carer",
    MappaChair => "mappa_chair",
    MappaCoordinator => "mappa_coordinator",
    AdultSocialWorker => "adult_social_worker",
    EducationalPsychologist => "educational_psychologist",
    EducationWelfareOfficer => "education_welfare_officer",
    IgOfficer => "ig_officer",
    IndependentReviewingOfficer => "independent_reviewing_officer",
});

vocabulary!(RecordKind, "record kind" {
    Referral => "referral",
    PoliceNotification => "police_notification",
    IncidentReport => "incident_report",
    StrategyMeetingMinutes => "strategy_meeting_minutes",
    InitialAssessment => "initial_assessment",
    FamilyAssessment => "family_assessment",
    SpecialistAssessment => "specialist_assessment",
    CamhsAssessment => "camhs_assessment",
    RiskManagementPlan => "risk_management_plan",
    ChildProtectionPlan => "child_protection_plan",
    CourtOutcome => "court_outcome",
    EndSummary => "end_summary",
});

vocabulary!(Section, "section" {
    Summary => "summary",
    RiskManagement => "risk_management",
    AllegationDetails => "allegation_details",
    PoliceIntelligence => "police_intelligence",
    HealthClinical => "health_clinical",
    AssessmentFindings => "assessment_findings",
    FamilyBackground => "family_background",
    VictimDetails => "victim_details",
});

vocabulary!(Purpose, "purpose" {
    Safeguarding => "safeguarding",
    S47Enquiry => "s47_enquiry",
    StrategyMeeting => "strategy_meeting",
    Assessment => "assessment",
    RiskManagement => "risk_management",
    CriminalInvestigation => "criminal_investigation",
    Court => "court",
    Mappa => "mappa",
    EducationSupport => "education_support",
    HealthCare => "health_care",
    Resettlement => "resettlement",
});

vocabulary!(Basis, "basis" {
    Consent => "consent",
    SignificantHarm => "significant_harm",
    CrimePrevention => "crime_prevention",
    LegalObligation => "legal_obligation",
    MappaDecision => "mappa_decision",
});

vocabulary!(
    /// Whom a record is about, in the incident it describes (RULES.md 2.3, 7).
    SubjectRole, "subject role" {
    HarmfulBehaviour => "harmful_behaviour",
    Victim => "victim",
    Other => "other",
});

vocabulary!(
    /// A step of a case (PROCESS.md, Event kinds); clocks start and stop at these.
    EventKind, "event kind" {
    StrategyDiscussionHeld => "strategy_discussion_held",
    InitialAssessmentCompleted => "initial_assessment_completed",
    StrategyMeetingHeld => "strategy_meeting_held",
    MinutesCirculated => "minutes_circulated",
    AssessmentCompleted => "assessment_completed",
    PlanAgreed => "plan_agreed",
    ReviewHeld => "review_held",
    InterventionEnded => "intervention_ended",
    EndSummaryShared => "end_summary_shared",
    OutcomeRecorded => "outcome_recorded",
    CaseClosed => "case_closed",
    WorkerAllocated => "worker_allocated",
    RouteDecided => "route_decided",
    ClockNotRequired => "clock_not_required",
    ScreeningCompleted => "screening_completed",
});

vocabulary!(
    /// The pathway a strategy discussion decides (PROCESS.md, Routes): clocks of another route
    /// are not required.
    Route, "route" {
    S47Enquiry => "s47_enquiry",
    SingleAssessment => "single_assessment",
    EarlyHelp => "early_help",
    NoFurtherAction => "no_further_action",
});

vocabulary!(
    /// A screening tool for harmful sexual behaviour (PROCESS.md, Screening; LLR §2).
    ScreeningTool, "screening tool" {
    BrookTrafficLight => "brook_traffic_light",
    HackettContinuum => "hackett_continuum",
    Aim => "aim",
    Local => "local",
});

vocabulary!(
    /// A screening's level (Brook's traffic light; Camden §7 "red behaviours").
    ScreeningLevel, "screening level" {
    Green => "green",
    Amber => "amber",
    Red => "red",
});

vocabulary!(
    /// A meeting of a case (PROCESS.md, Meetings).
    MeetingKind, "meeting kind" {
    StrategyMeeting => "strategy_meeting",
    ReviewMeeting => "review_meeting",
    ProfessionalsMeeting => "professionals_meeting",
    PreReleaseMeeting => "pre_release_meeting",
});

vocabulary!(
    /// What a case concluded (PROCESS.md, Outcomes), recorded with an `outcome_recorded` event.
    CaseOutcome, "outcome" {
    NoFurtherAction => "no_further_action",
    EarlyHelp => "early_help",
    ChildInNeed => "child_in_need",
    ChildProtection => "child_protection",
    HsbIntervention => "hsb_intervention",
    CriminalJustice => "criminal_justice",
});

vocabulary!(
    /// Whether a case is running (PROCESS.md, Cases).
    CaseStatus, "case status" {
    Open => "open",
    Closed => "closed",
});

vocabulary!(View, "view" {
    Full => "full",
    Partial => "partial",
    LimitedSummary => "limited_summary",
    RiskManagement => "risk_management",
    Notification => "notification",
});

vocabulary!(Giver, "consent giver" {
    Child => "child",
    Parent => "parent",
});

vocabulary!(Obligation, "obligation" {
    IgReview => "ig_review",
    NotifyMappa => "notify_mappa",
});

vocabulary!(ReasonCode, "reason code" {
    ConsentNotFound => "consent_not_found",
    ConsentWrongGiver => "consent_wrong_giver",
    ConsentNotCurrent => "consent_not_current",
    OverrideNotPermittedForRole => "override_not_permitted_for_role",
    JustificationRequired => "justification_required",
    LegalReferenceRequired => "legal_reference_required",
    MappaForumDecides => "mappa_forum_decides",
    MappaDecisionNotApplicable => "mappa_decision_not_applicable",
    RecipientRoleNotPermitted => "recipient_role_not_permitted",
    NotPupilOfSchool => "not_pupil_of_school",
    ChairPermissionRequired => "chair_permission_required",
    BelowAgeOfCriminalResponsibility => "below_age_of_criminal_responsibility",
    PurposeNotPermitted => "purpose_not_permitted",
    BasisNotPermittedForRecipient => "basis_not_permitted_for_recipient",
    NothingToShare => "nothing_to_share",
    BundlingSubjects => "bundling_subjects",
    NotRecordOwner => "not_record_owner",
    RequesterRoleNotPermitted => "requester_role_not_permitted",
    RoleCannotDeposit => "role_cannot_deposit",
    RecipientOutsideChildArea => "recipient_outside_child_area",
});

impl Default for SubjectRole {
    /// A scenario's record without `subject_role` is about the child who displayed the
    /// behaviour (API.md, Decision scenarios).
    fn default() -> Self {
        SubjectRole::HarmfulBehaviour
    }
}

impl Role {
    /// The agency kinds that may hold this role (API.md, Roles). This is vocabulary, not a
    /// sharing permission: a token claiming a role its agency cannot hold is not a person of
    /// that agency at all.
    pub fn agency_kinds(self) -> &'static [AgencyKind] {
        use AgencyKind::*;
        match self {
            Role::SocialWorker | Role::TeamManager => &[ChildrenSocialCare, EarlyHelp],
            // the IRO of a looked-after child (PROCESS.md P3; LLR §6)
            Role::IndependentReviewingOfficer => &[ChildrenSocialCare],
            Role::PoliceOfficer => &[Police],
            Role::HeadTeacher | Role::Dsl | Role::SchoolStaff | Role::SafeguardingGovernor => {
                &[School]
            }
            Role::HealthPractitioner => &[Health],
            Role::CamhsClinician => &[Camhs],
            Role::YosWorker => &[YouthOffending],
            Role::ProbationOfficer => &[Probation],
            Role::HsbPractitioner => &[HsbService],
            Role::PlacementManager | Role::Carer => &[Fostering, Residential],
            Role::MappaChair | Role::MappaCoordinator => &[Mappa],
            Role::AdultSocialWorker => &[AdultSocialCare],
            Role::EducationalPsychologist | Role::EducationWelfareOfficer => &[EducationServices],
            Role::IgOfficer => AgencyKind::ALL,
        }
    }

    pub fn valid_for(self, kind: AgencyKind) -> bool {
        self.agency_kinds().contains(&kind)
    }
}

vocabulary! {
    /// The API actions `policies/actions.csv` governs (its `action` column): who may call
    /// them is policy; which action a route performs is code.
    Action, "action" {
        RegisterSubject => "register_subject",
        RecordConsent => "record_consent",
        WithdrawConsent => "withdraw_consent",
        RecordCompetence => "record_competence",
        SetMappaStatus => "set_mappa_status",
        RecordMappaDecision => "record_mappa_decision",
        DesignateStaff => "designate_staff",
        GrantChairPermission => "grant_chair_permission",
        ReadAudit => "read_audit",
        ReviewOverride => "review_override",
        ReadAllAudit => "read_all_audit",
        ChangeSchool => "change_school",
        AcknowledgePacket => "acknowledge_packet",
        ReadRecordDisclosures => "read_record_disclosures",
        OpenCase => "open_case",
        ReadCase => "read_case",
        RecordCaseEvent => "record_case_event",
        ListCases => "list_cases",
        ReadAllCases => "read_all_cases",
        ReadTimeliness => "read_timeliness",
        ReadSubject => "read_subject",
        RequestTransfer => "request_transfer",
        AcceptTransfer => "accept_transfer",
        RecordResidence => "record_residence",
        RecordAction => "record_action",
        CompleteAction => "complete_action",
        ListActions => "list_actions",
        RequestInformation => "request_information",
        ListRequests => "list_requests",
        DeclineRequest => "decline_request",
        DecideRouteBelowThreshold => "decide_route_below_threshold",
        SetClockNotRequired => "set_clock_not_required",
        ScheduleMeeting => "schedule_meeting",
        RecordAttendance => "record_attendance",
        ReadPolicy => "read_policy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_round_trips_through_its_text() {
        for s in Section::ALL {
            assert_eq!(s.as_str().parse::<Section>().unwrap(), *s);
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
    }

    #[test]
    fn an_unknown_term_names_what_it_is() {
        let err = "janitor".parse::<Role>().unwrap_err();
        assert!(err.to_string().starts_with("unknown role \"janitor\""));
    }

    #[test]
    fn a_dsl_belongs_to_a_school_only() {
        assert!(Role::Dsl.valid_for(AgencyKind::School));
        assert!(!Role::Dsl.valid_for(AgencyKind::Police));
        assert!(Role::IgOfficer.valid_for(AgencyKind::Partnership));
    }
}
