//! What the case page (`cases`) and the start page show of a case's transfers (PROCESS.md P4)
//! and what the person may do about them: the transfers in words, the links to the pages of
//! `transfers` (ask, accept, reallocate), the former lead's notice, and the transfers waiting
//! for the person's agency. Below both `cases` and `transfers`, which name it.

use crate::app::cases::{self as app, CaseView};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;

use super::time::uk;

/// The agency's name where it is configured, else its id.
fn agency_name(state: &AppState, id: &str) -> String {
    crate::app::child::agency_name(state, id).unwrap_or_else(|| id.to_owned())
}

/// A transfer as the case page lists it.
pub struct TransferLine {
    pub id: String,
    pub from: String,
    pub to: String,
    pub asked: String,
    pub note: String,
    /// "Accepted ... by ..., lead worker ...", or "Waiting for ...".
    pub state: String,
    pub pending: bool,
}

/// What the case page shows of transfers and reallocation to this person.
#[derive(Default)]
pub struct OnCase {
    pub lines: Vec<TransferLine>,
    /// The lead's team manager may ask to transfer the case.
    pub may_transfer: bool,
    /// The lead's worker may reallocate the lead worker.
    pub may_reallocate: bool,
    /// A transfer waiting for the person's agency that they may accept: (id, from whom).
    pub accept: Option<(String, String)>,
    /// Said to a former lead: the case moved, and they see what was recorded until then.
    pub former: String,
}

/// The transfers of case `c` and what the person may do about them.
pub(super) fn on_case(state: &AppState, principal: &Principal, c: &CaseView) -> OnCase {
    let lines = c
        .transfers
        .iter()
        .map(|t| TransferLine {
            id: t.id.clone(),
            from: agency_name(state, &t.from_agency),
            to: agency_name(state, &t.to_agency),
            asked: format!("{} by {}", uk(&t.requested_at), t.requested_by),
            note: t.note.clone().unwrap_or_default(),
            state: match (&t.accepted_at, &t.accepted_by) {
                (Some(at), by) => format!(
                    "Accepted {} by {}; lead worker {}",
                    uk(at),
                    by.as_deref().unwrap_or_default(),
                    t.lead_sub.as_deref().unwrap_or_default()
                ),
                (None, _) => format!("Waiting for {} to accept", agency_name(state, &t.to_agency)),
            },
            pending: t.accepted_at.is_none(),
        })
        .collect();
    let mine = &*principal.agency;
    let former = match c
        .transfers
        .iter()
        .rev()
        .find(|t| t.from_agency == mine && t.accepted_at.is_some())
    {
        Some(t) if c.lead_agency != mine => format!(
            "Your agency transferred this case to {} on {}. You see the steps recorded until then, \
             and none after.",
            agency_name(state, &t.to_agency),
            t.accepted_at.as_ref().map(uk).unwrap_or_default()
        ),
        _ => String::new(),
    };
    OnCase {
        lines,
        may_transfer: c.may_transfer(state, principal),
        may_reallocate: c.may_record(state, principal),
        accept: c
            .transfer_for(state, principal)
            .map(|t| (t.id.clone(), agency_name(state, &t.from_agency))),
        former,
    }
}

/// A transfer waiting for the person's agency, as the start page lists it.
pub struct WaitingLine {
    pub href: String,
    pub text: String,
}

/// The transfers waiting for the person's agency to accept (none if they may not accept).
pub(super) async fn waiting(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<WaitingLine>, ApiError> {
    Ok(app::transfers_waiting(state, principal)
        .await?
        .into_iter()
        .map(|t| WaitingLine {
            href: format!("/ui/cases/{}#case-transfers", t.case_id),
            text: format!(
                "A case {} asks your agency to take on, since {}",
                agency_name(state, &t.from_agency),
                uk(&t.requested_at)
            ),
        })
        .collect())
}
