//! Transfers and different workers (PROCESS.md, Places P4 and P5).
//!
//! A case moves when the child moves: the lead agency's team manager asks to transfer it to
//! another council's children's social care (`request`, `POST /v1/cases/{id}/transfers`,
//! audited `case.transfer`), and a team manager of that agency accepts it naming the lead
//! worker (`accept`, `.../transfers/{tid}/accept`, audited `case.transfer_accept`). Until then
//! the old lead leads; from then on the new one does, and the case's clocks run on (they are
//! moved, not restarted). Who may do each is `policies/actions.csv` (`request_transfer` with
//! `lead_agency`, `accept_transfer` with `transfer_to`).
//!
//! What each agency reads (`read_case`): while a transfer waits, the receiving agency's team
//! manager reads the case as its lead does (but not its links), so that it accepts knowing
//! what it takes on (relation `transfer_to`). After the acceptance the former lead's workers
//! read the case as it stood at the acceptance (relation `former_lead`): the events *recorded*
//! (the broker's own time, which nobody backdates) up to the acceptance, the clocks derived
//! from those events and judged at the acceptance, the duties carried out until then, and the
//! transfers asked until then; never a later step.
//!
//! Different workers (P5): a case linked to another child's case may not have the same lead
//! worker (the same `sub` of the same agency), at opening, at a `worker_allocated` event or at
//! a transfer's acceptance (409 `same_worker_linked`).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CaseView, conflict, derive_clocks, hidden, text_field, unseal, views};
use crate::access::{Relation, may, may_as, may_somewhere, not_permitted, require_as};
use crate::audit::Entry;
use crate::cases::Happened;
use crate::cases::store::{self, Full};
use crate::cases::transfers::{self, Transfer};
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, CaseId, new_id};
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind, CaseStatus};
use crate::writer::WriteTx;

/// The longest lead worker's `sub`, in characters.
const MAX_SUB_CHARS: usize = 200;

/// A lead worker's `sub` as given in `field`: trimmed, not empty, not too long (422 naming it).
pub(super) fn lead_sub_field(field: &str, text: Option<&str>) -> Result<String, ApiError> {
    match text.map(str::trim) {
        None => Err(ApiError::invalid_field(
            field,
            "is required: name the lead worker",
        )),
        Some("") => Err(ApiError::invalid_field(field, "is empty")),
        Some(s) if s.chars().count() > MAX_SUB_CHARS => Err(ApiError::invalid_field(
            field,
            format!("is longer than {MAX_SUB_CHARS} characters"),
        )),
        Some(s) => Ok(s.to_owned()),
    }
}

/// 409 `same_worker_linked` if any of `linked` cases is led by worker `sub` of `agency`
/// (PROCESS.md P5).
pub(super) async fn different_workers(
    tx: &mut WriteTx,
    linked: &[String],
    agency: &str,
    sub: &str,
) -> Result<(), ApiError> {
    let leads = transfers::leads_of(tx, linked).await?;
    if leads.iter().any(|(_, a, s)| a == agency && s == sub) {
        return Err(conflict(
            "same_worker_linked",
            format!(
                "lead_sub: {sub} is the lead worker of a linked case; different social workers \
                 should be allocated to the victim and the alleged abuser (All Wales)"
            ),
        ));
    }
    Ok(())
}

/// [`different_workers`] against the cases linked to `case_id`.
pub(super) async fn different_from_linked(
    tx: &mut WriteTx,
    case_id: &str,
    agency: &str,
    sub: &str,
) -> Result<(), ApiError> {
    let linked = transfers::linked_to(tx, case_id).await?;
    different_workers(tx, &linked, agency, sub).await
}

/// A transfer as a case lists it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TransferView {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    pub from_agency: String,
    pub to_agency: String,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub note: Option<String>,
    /// Null while the transfer waits for the receiving agency.
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<String>,
    /// The lead worker the receiving agency named when it accepted.
    pub lead_sub: Option<String>,
}

fn view(state: &AppState, t: &Transfer) -> Result<TransferView, ApiError> {
    Ok(TransferView {
        id: t.id.clone(),
        from_agency: t.from_agency.clone(),
        to_agency: t.to_agency.clone(),
        requested_at: t.requested_at,
        requested_by: t.requested_by.clone(),
        note: unseal(state, &t.note_enc)?,
        accepted_at: t.accepted_at,
        accepted_by: t.accepted_by.clone(),
        lead_sub: t.lead_sub.clone(),
    })
}

/// The relations the caller holds to a case with these transfers, most entitled first: its
/// lead, the addressee of its pending transfer, a former lead (with the instant of the last
/// acceptance that took the case from the caller's agency).
fn holds(
    principal: &Principal,
    case: &store::Case,
    transfers: &[Transfer],
) -> Vec<(Relation, Option<DateTime<Utc>>)> {
    let mine = |a: &str| a == &*principal.agency;
    let mut out = Vec::new();
    if mine(&case.lead_agency) {
        out.push((Relation::LeadAgency, None));
    }
    if transfers.iter().any(|t| t.pending() && mine(&t.to_agency)) {
        out.push((Relation::TransferTo, None));
    }
    if let Some(cutoff) = transfers
        .iter()
        .filter(|t| mine(&t.from_agency))
        .filter_map(|t| t.accepted_at)
        .max()
    {
        out.push((Relation::FormerLead, Some(cutoff)));
    }
    out
}

/// The relation under which the caller reads the case (with the former lead's cut-off), if
/// the policy lets them read it under any relation they hold.
fn reading(
    state: &AppState,
    principal: &Principal,
    case: &store::Case,
    transfers: &[Transfer],
) -> Option<(Relation, Option<DateTime<Utc>>)> {
    holds(principal, case, transfers)
        .into_iter()
        .chain([(Relation::None, None)])
        .find(|(r, _)| may_as(state, principal, Action::ReadCase, *r))
}

/// Whether the caller may read `case` as a transfer's addressee or a former lead (read inside
/// a write action), so that a refusal to write tells them why rather than hiding the case.
pub(super) async fn reads_in_write(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    case: &store::Case,
) -> Result<bool, ApiError> {
    let transfers = transfers::of_case_for_write(tx, &case.id).await?;
    Ok(reading(state, principal, case, &transfers).is_some())
}

/// The case as `read` shows it to this caller, with its transfers; `None` for a caller who may
/// not read it.
pub(super) async fn view_for(
    state: &AppState,
    principal: &Principal,
    mut full: Full,
) -> Result<Option<CaseView>, ApiError> {
    let transfers = transfers::of_case(&state.db, &full.case.id).await?;
    let Some((relation, cutoff)) = reading(state, principal, &full.case, &transfers) else {
        return Ok(None);
    };
    let show_links =
        relation == Relation::LeadAgency || may(state, principal, Action::ReadAllCases);
    let mut shown: Vec<&Transfer> = transfers.iter().collect();
    let mut judged = None;
    if let (Relation::FormerLead, Some(cutoff)) = (relation, cutoff) {
        as_it_stood(state, &mut full, cutoff)?;
        shown.retain(|t| t.requested_at <= cutoff);
        judged = Some(cutoff);
    }
    let mut v = super::case_view(state, &full, show_links)?;
    if let Some(at) = judged {
        v.clocks = views(&full.clocks, at);
    }
    v.transfers = shown
        .into_iter()
        .map(|t| view(state, t))
        .collect::<Result<_, _>>()?;
    Ok(Some(v))
}

/// The case as it stood at the acceptance that took it from a former lead: the events
/// recorded until then, the clocks derived from them (their due times kept), the duties
/// carried out until then; open, with the outcome its visible events recorded.
fn as_it_stood(state: &AppState, full: &mut Full, cutoff: DateTime<Utc>) -> Result<(), ApiError> {
    full.events.retain(|e| e.recorded_at <= cutoff);
    let happened: Vec<Happened> = full.events.iter().map(store::Event::happened).collect();
    full.clocks = derive_clocks(
        state,
        full.case.referral_received_at,
        &happened,
        &full.clocks,
    )?;
    let until = ts(cutoff);
    full.duties.retain(|d| d.created_at <= until);
    full.record_duties.retain(|(_, d)| d.created_at <= until);
    // a case is transferred only while open, so it was open at the acceptance
    full.case.status = CaseStatus::Open;
    full.case.closed_at = None;
    full.case.outcome = full.events.iter().rev().find_map(|e| e.outcome);
    Ok(())
}

impl CaseView {
    /// The transfer waiting for the caller's agency to accept it, if the caller may accept it.
    pub fn transfer_for(&self, state: &AppState, principal: &Principal) -> Option<&TransferView> {
        self.transfers.iter().find(|t| {
            t.accepted_at.is_none()
                && t.to_agency == *principal.agency
                && may_as(
                    state,
                    principal,
                    Action::AcceptTransfer,
                    Relation::TransferTo,
                )
        })
    }

    /// Whether the caller may ask to transfer this case now: it is open, its lead is the
    /// caller's agency, no transfer waits, and the policy lets them (`request_transfer`).
    pub fn may_transfer(&self, state: &AppState, principal: &Principal) -> bool {
        self.status == CaseStatus::Open
            && self.lead_agency == *principal.agency
            && !self.transfers.iter().any(|t| t.accepted_at.is_none())
            && may_as(
                state,
                principal,
                Action::RequestTransfer,
                Relation::LeadAgency,
            )
    }
}

/// A transfer as it arrives (`POST /v1/cases/{id}/transfers`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTransfer {
    /// The receiving council's children's social care (a configured agency of that kind other
    /// than the lead).
    pub to_agency: AgencyId,
    /// Why, and what the receiving agency should know first.
    #[serde(default)]
    pub note: Option<String>,
}

/// A transfer asked for: pending until the receiving agency accepts it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TransferRequested {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    pub from_agency: String,
    pub to_agency: String,
    pub requested_at: DateTime<Utc>,
    pub audit_seq: i64,
}

/// Reads case `id` for a write, answering 404 to a caller who may not read it and 403 naming
/// the relation to one who may read it but not do `action` under the relation they hold.
async fn case_for(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    id: &str,
    action: Action,
    needed: Relation,
) -> Result<(store::Case, Vec<Transfer>), ApiError> {
    let (case, _, _) = store::load_for_write(tx, id)
        .await?
        .ok_or_else(|| hidden(id))?;
    let transfers = transfers::of_case_for_write(tx, id).await?;
    let held = holds(principal, &case, &transfers);
    if held.iter().any(|(r, _)| *r == needed) && may_as(state, principal, action, needed) {
        return Ok((case, transfers));
    }
    if reading(state, principal, &case, &transfers).is_none() {
        return Err(hidden(id));
    }
    let holds_now = held.first().map_or(Relation::None, |(r, _)| *r);
    Err(require_as(state, principal, action, holds_now)
        .err()
        .unwrap_or_else(|| not_permitted(principal, action)))
}

/// The lead's team manager asks to transfer case `id` to another council's children's social
/// care (policy `request_transfer`); audited as `case.transfer`.
pub async fn request(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    body: NewTransfer,
) -> Result<TransferRequested, ApiError> {
    if !may_somewhere(state, principal, Action::RequestTransfer) {
        return Err(not_permitted(principal, Action::RequestTransfer));
    }
    let to = String::from(body.to_agency);
    let agency = state.configured_agency("to_agency", &to)?;
    if agency.kind != AgencyKind::ChildrenSocialCare {
        return Err(ApiError::invalid_field(
            "to_agency",
            format!(
                "{to} is not a children's social care agency; a case moves to children's social care"
            ),
        ));
    }
    let note_enc = text_field(state, "note", body.note.as_deref())?;

    let mut tx = state.writer.begin().await?;
    let (case, transfers) = case_for(
        state,
        principal,
        &mut tx,
        &id,
        Action::RequestTransfer,
        Relation::LeadAgency,
    )
    .await?;
    if to == case.lead_agency {
        return Err(ApiError::invalid_field(
            "to_agency",
            "is the agency leading the case; name the agency it moves to",
        ));
    }
    if case.status != CaseStatus::Open {
        return Err(conflict(
            "case_closed",
            format!("case {id} is closed; only an open case is transferred"),
        ));
    }
    if let Some(waiting) = transfers.iter().find(|t| t.pending()) {
        return Err(conflict(
            "transfer_pending",
            format!(
                "transfer {} of this case waits for its acceptance; one transfer at a time",
                waiting.id
            ),
        ));
    }
    let t = Transfer {
        id: new_id(),
        case_id: case.id.clone(),
        from_agency: case.lead_agency.clone(),
        to_agency: to,
        requested_at: now(),
        requested_by: principal.sub.clone(),
        note_enc,
        accepted_at: None,
        accepted_by: None,
        lead_sub: None,
    };
    transfers::insert(&mut tx, &t).await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.transfer")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "transfer_id": t.id,
                    "from_agency": t.from_agency, "to_agency": t.to_agency,
                })),
        )
        .await?;
    Ok(TransferRequested {
        id: t.id,
        case_id: t.case_id,
        from_agency: t.from_agency,
        to_agency: t.to_agency,
        requested_at: t.requested_at,
        audit_seq,
    })
}

/// The acceptance of a transfer (`POST /v1/cases/{id}/transfers/{tid}/accept`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptTransfer {
    /// The receiving agency's lead worker for the case.
    #[schemars(length(max = 200), extend("pattern" = crate::text::pattern(crate::text::Kind::SingleLine, true)))]
    pub lead_sub: String,
}

/// A transfer accepted: the receiving agency leads the case from `accepted_at`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TransferAccepted {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    pub lead_agency: String,
    pub lead_sub: String,
    pub accepted_at: DateTime<Utc>,
    pub audit_seq: i64,
}

/// A team manager of the receiving agency accepts transfer `tid` of case `id` (policy
/// `accept_transfer`, relation `transfer_to`), naming the lead worker; from then on their
/// agency leads the case. Audited as `case.transfer_accept`.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    tid: CaseId,
    body: AcceptTransfer,
) -> Result<TransferAccepted, ApiError> {
    if !may_somewhere(state, principal, Action::AcceptTransfer) {
        return Err(not_permitted(principal, Action::AcceptTransfer));
    }
    let lead_sub = lead_sub_field("lead_sub", Some(&body.lead_sub))?;
    let mut tx = state.writer.begin().await?;
    let (case, transfers) = match case_for(
        state,
        principal,
        &mut tx,
        &id,
        Action::AcceptTransfer,
        Relation::TransferTo,
    )
    .await
    {
        Ok(found) => found,
        // a transfer accepted already is told as such to its addressee
        Err(e) => {
            let (case, _, _) = store::load_for_write(&mut tx, &id)
                .await?
                .ok_or_else(|| hidden(&id))?;
            let all = transfers::of_case_for_write(&mut tx, &id).await?;
            return Err(match all.iter().find(|t| t.id == *tid) {
                Some(t)
                    if !t.pending()
                        && t.to_agency == *principal.agency
                        && reading(state, principal, &case, &all).is_some() =>
                {
                    conflict(
                        "transfer_accepted",
                        format!("transfer {tid} was accepted already"),
                    )
                }
                _ => e,
            });
        }
    };
    let Some(t) = transfers
        .iter()
        .find(|t| t.id == *tid && t.pending() && t.to_agency == *principal.agency)
    else {
        return Err(ApiError::not_found(format!(
            "no transfer {tid} of this case waiting for your agency"
        )));
    };
    if case.status != CaseStatus::Open {
        return Err(conflict(
            "case_closed",
            format!("case {id} was closed while the transfer waited; it no longer moves"),
        ));
    }
    different_from_linked(&mut tx, &case.id, &t.to_agency, &lead_sub).await?;
    let at = now();
    transfers::accept(&mut tx, t, at, &principal.sub, &lead_sub).await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.transfer_accept")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "transfer_id": t.id,
                    "from_agency": t.from_agency, "to_agency": t.to_agency,
                    "lead_sub": lead_sub,
                })),
        )
        .await?;
    Ok(TransferAccepted {
        id: t.id.clone(),
        case_id: case.id,
        lead_agency: t.to_agency.clone(),
        lead_sub,
        accepted_at: at,
        audit_seq,
    })
}

/// A transfer waiting for the caller's agency, as the start page lists it (no child named).
#[derive(Debug, Clone)]
pub struct Waiting {
    pub id: String,
    pub case_id: String,
    pub from_agency: String,
    pub requested_at: DateTime<Utc>,
}

/// The transfers waiting for the caller's agency to accept, if the caller may accept them
/// (not audited: nothing about a child is shown).
pub async fn waiting(state: &AppState, principal: &Principal) -> Result<Vec<Waiting>, ApiError> {
    if !may_as(
        state,
        principal,
        Action::AcceptTransfer,
        Relation::TransferTo,
    ) {
        return Ok(Vec::new());
    }
    Ok(transfers::pending_to(&state.db, &principal.agency, 50)
        .await?
        .into_iter()
        .map(|t| Waiting {
            id: t.id,
            case_id: t.case_id,
            from_agency: t.from_agency,
            requested_at: t.requested_at,
        })
        .collect())
}

/// The agencies a case led by `lead` may move to: the configured children's social care
/// agencies other than the lead, by name.
pub fn destinations(state: &AppState, lead: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .agencies
        .values()
        .filter(|a| a.kind == AgencyKind::ChildrenSocialCare && a.id != lead)
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}
