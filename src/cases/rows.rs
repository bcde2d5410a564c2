//! The rows of the case process as the store reads and writes them: a case, one of its events,
//! a duty carried out. Below both `store` (the reads) and `writes`, which share them.

use chrono::{DateTime, Utc};

use super::{Happened, Mark};
use crate::vocab::{
    CaseOutcome, CaseStatus, EventKind, Route, ScreeningLevel, ScreeningTool, SubjectRole,
};

/// A case's own row.
#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    pub subject_id: String,
    pub subject_role: SubjectRole,
    pub lead_agency: String,
    pub lead_sub: String,
    pub referred_by_agency: Option<String>,
    pub referral_received_at: DateTime<Utc>,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub outcome: Option<CaseOutcome>,
}

/// One event of a case; rationale and note still sealed to the at-rest identity.
#[derive(Debug, Clone)]
pub struct Event {
    pub seq: i64,
    pub kind: EventKind,
    pub occurred_at: DateTime<Utc>,
    pub record_id: Option<String>,
    pub outcome: Option<CaseOutcome>,
    pub rationale_enc: Option<Vec<u8>>,
    pub note_enc: Option<Vec<u8>>,
    pub agency: String,
    pub sub: String,
    pub recorded_at: DateTime<Utc>,
    /// The worker a `worker_allocated` event allocates (PROCESS.md P5).
    pub lead_sub: Option<String>,
    /// The route a `route_decided` event decides (PROCESS.md, Routes).
    pub route: Option<Route>,
    /// The clock a `clock_not_required` event says is not required.
    pub clock: Option<String>,
    /// The tool and level of a `screening_completed` event (PROCESS.md, Screening).
    pub screening: Option<(ScreeningTool, ScreeningLevel)>,
}

impl Event {
    /// The event as the clocks see it.
    pub fn happened(&self) -> Happened {
        Happened {
            kind: self.kind,
            at: self.occurred_at,
            mark: match (self.route, &self.clock) {
                (Some(r), _) => Some(Mark::Route(r)),
                (None, Some(c)) => Some(Mark::NotRequired(c.clone())),
                (None, None) => None,
            },
        }
    }
}

/// A duty to notify as carried out for a case (policies/duties.csv).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct Duty {
    pub seq: i64,
    pub duty: String,
    #[serde(rename = "trigger")]
    pub trigger_name: String,
    pub recipient_agency: String,
    pub decision: String,
    /// JSON array of reason codes, as stored.
    #[serde(skip)]
    pub reasons: String,
    pub disclosure_id: Option<String>,
    pub audit_seq: Option<i64>,
    pub created_at: String,
}

/// SQL true when the child `subject` (an SQL expression giving a subject id) is in the area
/// bound as `param` (a placeholder such as `$4`): its home area (`local_authority`) or the area
/// it lives in (`residence_area`; null when it lives in its home area). PROCESS.md, Places.
pub fn in_area(subject: &str, param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM subjects s WHERE s.id = {subject} \
         AND (s.local_authority = {param} OR s.residence_area = {param}))"
    )
}
