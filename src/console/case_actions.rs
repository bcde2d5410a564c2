//! What the case page (`cases`) and the owner's pages (`actions`) show of the actions agreed
//! on a case (PROCESS.md, Actions): each action in words (its owner by name, UK times, its
//! state as a tag) and what the person may do about it. Below both `cases` and `actions`,
//! which name it.

use super::time::uk;
use crate::app::cases::{ActionStatus, ActionView, CaseView};
use crate::identity::Principal;
use crate::state::AppState;

/// The agency's name where it is configured, else its id.
fn agency_name(state: &AppState, id: &str) -> String {
    crate::app::child::agency_name(state, id).unwrap_or_else(|| id.to_owned())
}

/// An action as the pages list it.
pub struct ActionLine {
    pub id: String,
    pub case_id: String,
    pub description: String,
    pub owner: String,
    pub due: String,
    /// `open` or `done` (the rows' `data-status`).
    pub status: &'static str,
    pub overdue: bool,
    pub tag: &'static str,
    pub tag_class: &'static str,
    /// Who agreed it: "Northshire Children's Social Care / sw.amara, 6 December 2026 ...".
    pub agreed: String,
    /// "Done ... by ...: note", once done.
    pub done: String,
    /// The person's agency owns it and it is open: a link to mark it done.
    pub may_complete: bool,
}

pub(super) fn line(state: &AppState, principal: &Principal, a: &ActionView) -> ActionLine {
    let (status, tag, tag_class) = match (a.status, a.overdue) {
        (ActionStatus::Done, _) => ("done", "Done", "govuk-tag--green"),
        (ActionStatus::Open, true) => ("open", "Overdue", "govuk-tag--red"),
        (ActionStatus::Open, false) => ("open", "Open", "govuk-tag--blue"),
    };
    ActionLine {
        id: a.id.clone(),
        case_id: a.case_id.clone(),
        description: a.description.clone(),
        owner: agency_name(state, &a.owner_agency),
        due: uk(&a.due_at),
        status,
        overdue: a.overdue,
        tag,
        tag_class,
        agreed: format!(
            "{} / {}, {}",
            agency_name(state, &a.lead_agency),
            a.created_by,
            uk(&a.created_at)
        ),
        done: match (&a.done_at, &a.done_by) {
            (Some(at), by) => {
                let note = a.note.as_deref().unwrap_or_default();
                format!(
                    "Done {} by {}{}{}",
                    uk(at),
                    by.as_deref().unwrap_or_default(),
                    if note.is_empty() { "" } else { ": " },
                    note
                )
            }
            _ => String::new(),
        },
        may_complete: a.status == ActionStatus::Open && a.owner_agency == *principal.agency,
    }
}

/// What the case page shows of its actions to this person.
pub struct OnCase {
    pub lines: Vec<ActionLine>,
    /// The lead's worker may agree an action.
    pub may_agree: bool,
}

/// The actions of case `c` and whether the person may agree one.
pub(super) fn on_case(state: &AppState, principal: &Principal, c: &CaseView) -> OnCase {
    OnCase {
        lines: c
            .actions
            .iter()
            .map(|a| line(state, principal, a))
            .collect(),
        may_agree: c.may_agree_action(state, principal),
    }
}
