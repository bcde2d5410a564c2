//! Involved agencies (PROCESS.md P3; Camden 8.5: "Where the child is placed in another local
//! authority area, child protection procedures will be carried out by the host local
//! authority but the LAC social worker should be fully involved"). A looked-after child placed
//! in another area: children's social care of the area it lives in (the host) may open its
//! case and lead child protection enquiries, even while the placing authority leads an open
//! case of its own; the placing authority is then an **involved agency** of the host's case.
//! It reads the case (`read_case` with the relation `involved_agency`), finds it in its list,
//! and is told of its steps by duty (`involved_agencies` in `policies/duties.csv`); the IRO of
//! the placing authority reads the case of a looked-after child it placed (`placing_authority`).
//! Involvement is recorded (migration 0016) when the case is opened or when the placement is
//! recorded while the case is open, and kept when the child moves again.

use crate::access::{Relation, may_as};
use crate::cases::involved::{self, PLACING_AUTHORITY, Placement};
use crate::cases::store::Case;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;
use crate::writer::WriteTx;

/// May the caller's agency open a case for a child whose open case `lead` leads? Only as the
/// host of a looked-after child placed in its area by `lead`: child protection enquiries are
/// the host's (Camden 8.5). Everyone else meets the one-lead rule (`case_led_elsewhere`).
pub fn host_may_open_beside(
    state: &AppState,
    principal: &Principal,
    placement: &Placement,
    lead: &str,
) -> bool {
    let Some(area) = placement.residence_area.as_deref() else {
        return false;
    };
    placement.placing_authority() == Some(lead)
        && *principal.agency != *lead
        && state
            .agencies
            .get(&*principal.agency)
            .is_some_and(|a| a.serves(area))
}

/// Records the placing authority of the case's looked-after child as involved in it when
/// another agency leads it; returns the case's involved agencies.
pub async fn on_opening(tx: &mut WriteTx, case: &Case) -> Result<Vec<String>, ApiError> {
    let placement = involved::placement_in(tx, &case.subject_id).await?;
    if let Some(placing) = placement.placing_authority()
        && placing != case.lead_agency
    {
        involved::involve(tx, &case.id, placing, PLACING_AUTHORITY).await?;
    }
    Ok(involved::of_case_in(tx, &case.id).await?)
}

/// Every relation the caller holds to a case: `lead_agency`, `involved_agency` (recorded), and
/// `placing_authority` (its agency placed the case's child, looked after now).
pub async fn relations(
    state: &AppState,
    principal: &Principal,
    case: &Case,
    involved: &[String],
) -> Result<Vec<Relation>, ApiError> {
    let mut held = vec![super::relation(principal, case)];
    if involved.iter().any(|a| *a == *principal.agency) {
        held.push(Relation::InvolvedAgency);
    }
    let placement = involved::placement(&state.db, &case.subject_id).await?;
    if placement.placing_authority() == Some(&*principal.agency) {
        held.push(Relation::PlacingAuthority);
    }
    Ok(held)
}

/// May the caller read `case` (`read_case`, with every relation it holds)?
pub async fn may_read(
    state: &AppState,
    principal: &Principal,
    case: &Case,
) -> Result<bool, ApiError> {
    let involved = involved::of_case(&state.db, &case.id).await?;
    Ok(relations(state, principal, case, &involved)
        .await?
        .into_iter()
        .any(|r| may_as(state, principal, Action::ReadCase, r)))
}
