//! What the case page (`cases`) shows of a case's meetings (PROCESS.md, Meetings) and what the
//! person may do about them: each meeting in words (its kind, its UK time, the agencies invited
//! and who attended or sent apologies, by name), and the links to the pages of `meetings`
//! ("Schedule a meeting", "Record attendance"). Below both `cases` and `meetings`.

use super::labels::Label;
use super::time::uk;
use crate::app::cases::{CaseView, MeetingView};
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::{MeetingKind, RecordKind};

/// The agency's name where it is configured, else its id.
pub(super) fn agency_name(state: &AppState, id: &str) -> String {
    crate::app::child::agency_name(state, id).unwrap_or_else(|| id.to_owned())
}

/// A meeting's kind as a person reads it.
pub fn kind_words(kind: MeetingKind) -> &'static str {
    match kind {
        MeetingKind::StrategyMeeting => "Strategy meeting",
        MeetingKind::ReviewMeeting => "Review meeting",
        MeetingKind::ProfessionalsMeeting => "Professionals' meeting",
        MeetingKind::PreReleaseMeeting => "Pre-release meeting",
    }
}

/// One agency's attendance in words.
pub struct AttendanceLine {
    pub agency: String,
    /// "Attended", or "Sent apologies" (with "and a written report").
    pub words: String,
    /// The written report's record, if any (a link to its page).
    pub report: String,
}

/// A meeting as the case page lists it.
pub struct MeetingLine {
    pub id: String,
    pub kind: String,
    pub code: String,
    pub when: String,
    pub invitees: String,
    pub attendance: Vec<AttendanceLine>,
    /// "Recorded as step 3 of the case" for a strategy meeting held.
    pub held: String,
}

/// What the case page shows of meetings to this person.
#[derive(Default)]
pub struct OnCase {
    pub lines: Vec<MeetingLine>,
    /// The lead's worker may schedule a meeting.
    pub may_schedule: bool,
    /// The lead's worker may record attendance (a link per meeting).
    pub may_attend: bool,
}

fn line(state: &AppState, m: &MeetingView) -> MeetingLine {
    MeetingLine {
        id: m.id.clone(),
        kind: kind_words(m.kind).to_owned(),
        code: m.kind.as_str().to_owned(),
        when: uk(&m.scheduled_for),
        invitees: m
            .invitees
            .iter()
            .map(|a| agency_name(state, a))
            .collect::<Vec<_>>()
            .join(", "),
        attendance: m
            .attendance
            .iter()
            .map(|a| AttendanceLine {
                agency: agency_name(state, &a.agency),
                words: match (a.attended, &a.written_report_record_id) {
                    (true, _) => "Attended".to_owned(),
                    (false, Some(_)) => "Sent apologies and a written report".to_owned(),
                    (false, None) => "Sent apologies".to_owned(),
                },
                report: a.written_report_record_id.clone().unwrap_or_default(),
            })
            .collect(),
        held: m
            .held_event_seq
            .map(|seq| format!("Recorded as step {seq} of the case"))
            .unwrap_or_default(),
    }
}

/// The meetings of case `c` and what the person may do about them.
pub(super) fn on_case(state: &AppState, principal: &Principal, c: &CaseView) -> OnCase {
    OnCase {
        lines: c.meetings.iter().map(|m| line(state, m)).collect(),
        may_schedule: c.may_schedule_meeting(state, principal),
        may_attend: c.may_record_attendance(state, principal),
    }
}

/// A record offered as a written report, in words: "Incident report from Northshire Community
/// Health, 6 December 2026 at 14:30".
pub fn report_words(state: &AppState, kind: RecordKind, owner: &str, at: &str) -> String {
    format!("{} from {}, {at}", kind.label(), agency_name(state, owner))
}
