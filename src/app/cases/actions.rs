//! Actions agreed on a case (PROCESS.md, Meetings, actions and requests for information: "all
//! recommendations/actions must be clearly recorded", All Wales).
//!
//! The lead agency's social worker or team manager agrees an action owned by an agency, with a
//! due time (`agree`, `POST /v1/cases/{id}/actions`, audited `case.action`); any of the owner
//! agency's staff marks it done with a note (`complete`, `.../actions/{aid}/done`, audited
//! `case.action_done`); the owner lists its own actions across cases (`owned`,
//! `GET /v1/actions`, audited `action.list`), each with its case's id but never the case: a
//! school's DSL sees the action the school owns and marks it done without reading the case.
//! Who may do each is `policies/actions.csv` (`record_action` with `lead_agency`,
//! `complete_action` with `action_owner`, `list_actions`). The description and the note are
//! sealed at rest like a case event's note, and never go into the audit detail.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::transfers::reads_in_write;
use super::{conflict, hidden, relation, text_field, unseal};
use crate::access::{Relation, may_as, may_somewhere, not_permitted, require, require_as};
use crate::audit::Entry;
use crate::cases::CLOCK_SKEW_SECONDS;
use crate::cases::actions::{self as stored, CaseAction, Owned};
use crate::cases::store::{self, Case};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, CaseId, new_id, parse as path_id};
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus};
use crate::writer::WriteTx;

/// Where an action stands: `open` until its owner marks it `done` (PROCESS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Open,
    Done,
}

/// An action as a case lists it and as its owner lists it: the action and its case's id, never
/// the case.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActionView {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    /// 1, 2, ... within the case.
    pub seq: i64,
    pub description: String,
    pub owner_agency: String,
    pub due_at: DateTime<Utc>,
    pub status: ActionStatus,
    /// Open past its due time.
    pub overdue: bool,
    /// The agency leading the case, which agreed the action (or took the case on since).
    pub lead_agency: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub done_at: Option<DateTime<Utc>>,
    pub done_by: Option<String>,
    pub note: Option<String>,
}

fn view(state: &AppState, a: &CaseAction, at: DateTime<Utc>) -> Result<ActionView, ApiError> {
    Ok(ActionView {
        id: a.id.clone(),
        case_id: a.case_id.clone(),
        seq: a.seq,
        description: unseal(state, &Some(a.description_enc.clone()))?.unwrap_or_default(),
        owner_agency: a.owner_agency.clone(),
        due_at: a.due_at,
        status: if a.done() {
            ActionStatus::Done
        } else {
            ActionStatus::Open
        },
        overdue: a.overdue_at(at),
        lead_agency: a.lead_agency.clone(),
        created_at: a.created_at,
        created_by: a.created_by.clone(),
        done_at: a.done_at,
        done_by: a.done_by.clone(),
        note: unseal(state, &a.note_enc)?,
    })
}

/// The actions of case `case_id` as its page shows them; to a former lead (PROCESS.md P4)
/// only those agreed until `until`, the acceptance that took the case away.
pub(super) async fn of_case(
    state: &AppState,
    case_id: &str,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<ActionView>, ApiError> {
    let at = now();
    stored::of_case(&state.db, case_id)
        .await?
        .iter()
        .filter(|a| until.is_none_or(|u| a.created_at <= u))
        .map(|a| view(state, a, at))
        .collect()
}

/// An action as it arrives (`POST /v1/cases/{id}/actions`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    /// What is to be done, in words the owner agency understands.
    #[schemars(length(max = 20000), extend("pattern" = crate::text::pattern(crate::text::Kind::FreeText, true)))]
    pub description: String,
    /// The agency that is to do it (a configured agency; it need not read the case).
    pub owner_agency: AgencyId,
    /// When it is due (now or later).
    pub due_at: DateTime<Utc>,
}

/// An action agreed: open until its owner marks it done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionAgreed {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    pub seq: i64,
    pub owner_agency: String,
    pub due_at: DateTime<Utc>,
    pub status: ActionStatus,
    pub created_at: DateTime<Utc>,
    pub audit_seq: i64,
}

/// May the caller read `case` under any relation it holds (read inside a write action)? A
/// refusal to write tells such a caller why rather than hiding the case.
async fn reads(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    case: &Case,
) -> Result<bool, ApiError> {
    Ok(may_as(
        state,
        principal,
        Action::ReadCase,
        relation(principal, case),
    ) || reads_in_write(state, principal, tx, case).await?
        || super::involved::may_read(state, principal, case).await?)
}

/// The lead agency agrees an action on case `id` (policy `record_action`, relation
/// `lead_agency`); audited as `case.action`.
pub async fn agree(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    body: NewAction,
) -> Result<ActionAgreed, ApiError> {
    if !may_somewhere(state, principal, Action::RecordAction) {
        return Err(not_permitted(principal, Action::RecordAction));
    }
    let owner = String::from(body.owner_agency);
    state.configured_agency("owner_agency", &owner)?;
    let description_enc = match text_field(state, "description", Some(&body.description))? {
        Some(sealed) => sealed,
        None => return Err(ApiError::invalid_field("description", "is empty")),
    };
    let at = now();
    if body.due_at < at - Duration::seconds(CLOCK_SKEW_SECONDS) {
        return Err(ApiError::invalid_field(
            "due_at",
            "is in the past: an action is due now or later",
        ));
    }

    let mut tx = state.writer.begin().await?;
    let (case, _, _) = store::load_for_write(&mut tx, &id)
        .await?
        .ok_or_else(|| hidden(&id))?;
    let holds = relation(principal, &case);
    if !may_as(state, principal, Action::RecordAction, holds) {
        return Err(if reads(state, principal, &mut tx, &case).await? {
            require_as(state, principal, Action::RecordAction, holds)
                .err()
                .unwrap_or_else(|| hidden(&id))
        } else {
            hidden(&id)
        });
    }
    if case.status != CaseStatus::Open {
        return Err(conflict(
            "case_closed",
            format!("case {id} is closed; actions are agreed on an open case"),
        ));
    }
    let a = CaseAction {
        id: new_id(),
        case_id: case.id.clone(),
        seq: stored::next_seq(&mut tx, &case.id).await?,
        description_enc,
        owner_agency: owner,
        due_at: body.due_at,
        created_at: at,
        created_by: principal.sub.clone(),
        lead_agency: case.lead_agency.clone(),
        done_at: None,
        done_by: None,
        note_enc: None,
    };
    stored::insert(&mut tx, &a).await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.action")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "action_id": a.id, "seq": a.seq,
                    "owner_agency": a.owner_agency, "due_at": a.due_at,
                })),
        )
        .await?;
    Ok(ActionAgreed {
        id: a.id,
        case_id: a.case_id,
        seq: a.seq,
        owner_agency: a.owner_agency,
        due_at: a.due_at,
        status: ActionStatus::Open,
        created_at: a.created_at,
        audit_seq,
    })
}

/// An action marked done (`POST /v1/cases/{id}/actions/{aid}/done`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteAction {
    /// What was done.
    #[serde(default)]
    pub note: Option<String>,
}

/// An action done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionDone {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    #[schemars(with = "crate::ids::CaseId")]
    pub case_id: String,
    pub status: ActionStatus,
    pub done_at: DateTime<Utc>,
    /// Done by its due time.
    pub on_time: bool,
    pub audit_seq: i64,
}

/// 404 for an action the caller may not see, worded as for one that does not exist.
fn no_action(id: &str, aid: &str) -> ApiError {
    ApiError::not_found(format!("no action {aid} of case {id} that you can see"))
}

/// Any of the owner agency's staff marks action `aid` of case `id` done (policy
/// `complete_action`, relation `action_owner`); audited as `case.action_done`. Anyone else is
/// answered 404 as for an unknown action, unless they may read the case (403 naming the
/// relation).
pub async fn complete(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    aid: CaseId,
    body: CompleteAction,
) -> Result<ActionDone, ApiError> {
    if !may_somewhere(state, principal, Action::CompleteAction) {
        return Err(not_permitted(principal, Action::CompleteAction));
    }
    let note_enc = text_field(state, "note", body.note.as_deref())?;
    let mut tx = state.writer.begin().await?;
    let found = match store::load_for_write(&mut tx, &id).await? {
        Some((case, _, _)) => stored::one_for_write(&mut tx, &id, &aid)
            .await?
            .map(|a| (case, a)),
        None => None,
    };
    let Some((case, action)) = found else {
        return Err(no_action(&id, &aid));
    };
    if action.owner_agency != *principal.agency {
        // a caller who reads the case is told why; anyone else learns nothing of the action
        return Err(if reads(state, principal, &mut tx, &case).await? {
            require_as(state, principal, Action::CompleteAction, Relation::None)
                .err()
                .unwrap_or_else(|| no_action(&id, &aid))
        } else {
            no_action(&id, &aid)
        });
    }
    require_as(
        state,
        principal,
        Action::CompleteAction,
        Relation::ActionOwner,
    )?;
    if action.done() {
        return Err(conflict(
            "action_done",
            format!("action {aid} was marked done already"),
        ));
    }
    let at = now();
    if !stored::mark_done(&mut tx, &action, at, &principal.sub, note_enc.as_deref()).await? {
        return Err(conflict(
            "action_done",
            format!("action {aid} was marked done already"),
        ));
    }
    let on_time = at <= action.due_at;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "case.action_done")
                .subject(&case.subject_id)
                .detail(json!({
                    "case_id": case.id, "action_id": action.id, "seq": action.seq,
                    "owner_agency": action.owner_agency, "on_time": on_time,
                })),
        )
        .await?;
    Ok(ActionDone {
        id: action.id,
        case_id: action.case_id,
        status: ActionStatus::Done,
        done_at: at,
        on_time,
        audit_seq,
    })
}

/// One action the caller's agency owns, as its "Mark as done" page shows it (policy
/// `list_actions`): any other is answered 404 as for no action; audited as `action.read`.
pub async fn owned_one(
    state: &AppState,
    principal: &Principal,
    id: CaseId,
    aid: CaseId,
) -> Result<ActionView, ApiError> {
    require(state, principal, Action::ListActions)?;
    let a = stored::one(&state.db, &id, &aid)
        .await?
        .filter(|a| a.owner_agency == *principal.agency)
        .ok_or_else(|| no_action(&id, &aid))?;
    let tx = state.writer.begin().await?;
    tx.commit(
        Entry::new(principal, "action.read")
            .detail(json!({"case_id": a.case_id, "action_id": a.id})),
    )
    .await?;
    view(state, &a, now())
}

impl super::CaseView {
    /// Whether the caller may agree an action on this case now: it is open, its lead is the
    /// caller's agency, and the policy lets them (`record_action`), as [`agree`] would check.
    pub fn may_agree_action(&self, state: &AppState, principal: &Principal) -> bool {
        self.status == CaseStatus::Open
            && self.lead_agency == *principal.agency
            && may_as(state, principal, Action::RecordAction, Relation::LeadAgency)
    }
}

/// The agencies an action may be owned by: every configured agency, (id, name) by name.
pub fn owners(state: &AppState) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = state
        .agencies
        .values()
        .map(|a| (a.id.clone(), a.name.clone()))
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// The filters of `GET /v1/actions`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionFilters {
    pub status: Option<ActionStatus>,
    /// `true`: only the open actions past their due time.
    pub overdue: Option<bool>,
    /// Actions agreed after this one (the last id of the previous page).
    #[schemars(extend("format" = "uuid"))]
    pub after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
}

/// A page of `GET /v1/actions`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ActionList {
    pub actions: Vec<ActionView>,
    /// The `after` of the next page; null on the last.
    pub next_after: Option<String>,
}

/// The actions the caller's agency owns across cases, in the order agreed (policy
/// `list_actions`); audited as `action.list`.
pub async fn owned(
    state: &AppState,
    principal: &Principal,
    f: &ActionFilters,
) -> Result<ActionList, ApiError> {
    require(state, principal, Action::ListActions)?;
    let limit = crate::app::page_limit(f.limit)?;
    let after = f
        .after
        .as_deref()
        .map(|a| path_id::<CaseId>(a).map(String::from))
        .transpose()?;
    let at = now();
    let rows = stored::owned(
        &state.db,
        &Owned {
            owner_agency: principal.agency.to_string(),
            done: f.status.map(|s| s == ActionStatus::Done),
            overdue_at: f.overdue.unwrap_or(false).then_some(at),
            after,
            limit,
        },
    )
    .await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|a| a.id.clone()))
        .flatten();
    let actions = rows
        .iter()
        .map(|a| view(state, a, at))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(principal, "action.list").detail(json!({
        "status": f.status, "overdue": f.overdue, "count": actions.len(),
    })))
    .await?;
    Ok(ActionList {
        actions,
        next_after,
    })
}
