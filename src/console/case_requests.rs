//! What the case page (`cases`) and the requests pages (`requests`) show of a request for
//! information (PROCESS.md): one line in words (the child, the agencies by name, the purpose
//! and sections in plain English, due and answered in UK time, overdue marked), and whether the
//! person may ask one from the case page. Below both `cases` and `requests`, which name it.

use crate::access::{Relation, may_as};
use crate::app::cases::CaseView;
use crate::app::requests::RequestView;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus};

use super::labels::Label;
use super::time::{uk, uk_date};

/// The agency's name where it is configured, else its id.
pub(super) fn agency_name(state: &AppState, id: &str) -> String {
    crate::app::child::agency_name(state, id).unwrap_or_else(|| id.to_owned())
}

/// A request as a page lists it.
pub struct RequestLine {
    pub id: String,
    pub case_id: String,
    pub child: String,
    pub from: String,
    pub to: String,
    pub purpose: &'static str,
    pub sections: String,
    pub due: String,
    pub note: String,
    /// "Waiting for an answer", "Answered ...", "Declined ...: reason".
    pub state: String,
    pub open: bool,
    pub overdue: bool,
    pub late: bool,
    /// Addressed to the person's agency and open: they may answer or decline it.
    pub mine_to_answer: bool,
    /// Asked by the person's agency: the list links to its case.
    pub asked_by_us: bool,
}

/// `r` in words, for `principal`.
pub(super) fn line(state: &AppState, principal: &Principal, r: &RequestView) -> RequestLine {
    let born = uk_date(&r.child.date_of_birth);
    let child = match &r.child.display_name {
        Some(name) if !name.trim().is_empty() => format!("{name}, born {born}"),
        _ => format!("A child born {born} (no name was given)"),
    };
    let state_text = match (r.status.as_str(), &r.answered_at, &r.declined_at) {
        ("answered", Some(at), _) => format!(
            "Answered {}{}",
            uk(at),
            if r.answered_late {
                ", after it was due"
            } else {
                ""
            }
        ),
        ("declined", _, Some(at)) => format!(
            "Declined {}: {}",
            uk(at),
            r.reason.as_deref().unwrap_or_default()
        ),
        _ if r.overdue => "Overdue: waiting for an answer".to_owned(),
        _ => "Waiting for an answer".to_owned(),
    };
    let open = r.status == "open";
    RequestLine {
        id: r.id.clone(),
        case_id: r.case_id.clone(),
        child,
        from: format!("{} ({})", agency_name(state, &r.from_agency), r.from_sub),
        to: agency_name(state, &r.to_agency),
        purpose: r.purpose.label(),
        sections: r
            .sections
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", "),
        due: uk(&r.due_at),
        note: r.note.clone().unwrap_or_default(),
        state: state_text,
        open,
        overdue: r.overdue,
        late: r.answered_late,
        mine_to_answer: open && r.to_agency == *principal.agency,
        asked_by_us: r.from_agency == *principal.agency,
    }
}

/// What the case page shows of the case's requests for information.
#[derive(Default)]
pub struct OnCase {
    pub lines: Vec<RequestLine>,
    /// The person may ask an agency for information about the case's child.
    pub may_ask: bool,
}

/// The requests of case `c` and whether the person may ask one.
pub(super) fn on_case(state: &AppState, principal: &Principal, c: &CaseView) -> OnCase {
    OnCase {
        lines: c
            .requests
            .iter()
            .map(|r| line(state, principal, r))
            .collect(),
        may_ask: c.status == CaseStatus::Open
            && c.lead_agency == *principal.agency
            && may_as(
                state,
                principal,
                Action::RequestInformation,
                Relation::LeadAgency,
            ),
    }
}
