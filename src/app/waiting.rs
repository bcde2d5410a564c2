//! What waits for a person (the console's start page, CONSOLE.md `/ui/`): the packets in their
//! inbox not yet opened, the cases they may list with a clock overdue (theirs, and all they may
//! list), and the overrides awaiting an IG officer's review. Each part is there only for those
//! the policy lets do what its page does (`list_cases`, `read_audit`); a count names no child,
//! so counting is not audited (opening each page is, as the API's read).

use crate::access::may;
use crate::cases::store::{self, Filter};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// The most a count reads; beyond it the start page says "1000 or more".
pub const MOST: usize = 1000;

/// Counts of what waits for the caller; `None` where the policy does not let them see it.
#[derive(Debug, Clone, Default)]
pub struct Waiting {
    /// Packets addressed to the caller that nobody has opened yet.
    pub new_packets: usize,
    /// Open cases the caller leads with a clock past its due time.
    pub my_overdue_cases: Option<usize>,
    /// Open cases the caller may list with a clock past its due time.
    pub overdue_cases: Option<usize>,
    /// Overrides awaiting review that the caller may see.
    pub reviews: Option<usize>,
}

async fn overdue(state: &AppState, principal: &Principal, mine: bool) -> Result<usize, ApiError> {
    let filter = Filter {
        lead_agency: (!may(state, principal, Action::ReadAllCases))
            .then(|| principal.agency.to_string()),
        or_involved: false,
        status: None,
        overdue_at: Some(now()),
        lead_sub: mine.then(|| principal.sub.clone()),
        area: None,
        after: None,
        limit: MOST as i64,
    };
    Ok(store::list(&state.db, &filter).await?.len())
}

/// What waits for the caller.
pub async fn waiting(state: &AppState, principal: &Principal) -> Result<Waiting, ApiError> {
    let new_packets = super::inbox::list(state, principal)
        .await?
        .iter()
        .filter(|p| p.first_read_at.is_none())
        .count();
    let (my_overdue_cases, overdue_cases) = if may(state, principal, Action::ListCases) {
        (
            Some(overdue(state, principal, true).await?),
            Some(overdue(state, principal, false).await?),
        )
    } else {
        (None, None)
    };
    let reviews = if may(state, principal, Action::ReadAudit) {
        Some(super::audit::awaiting_review(state, principal).await?)
    } else {
        None
    };
    Ok(Waiting {
        new_packets,
        my_overdue_cases,
        overdue_cases,
        reviews,
    })
}
