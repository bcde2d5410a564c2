//! Disclosures and their dry runs, read straight down: the request (parsed at the edge) →
//! its facts (`store::facts`) → the same `decision::decide` as `broker decide` → on a permit
//! the packet sealed to the recipient (`packet`, and the forum's notification, `notify`) →
//! in the write queue, the packet stored and the decision audited in one action (`writer`),
//! only if the child's facts are still those it was decided on; otherwise all again.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{Body, configured_agency, invalid};
use super::notify::{self, Notice};
use super::packet::{entry_for, seal};
use super::views::decision_body;
use crate::audit::Entry;
use crate::db::now;
use crate::decision::{Recipient, RequestFacts, decide};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, MappaDecisionId, RecordId};
use crate::state::AppState;
use crate::store::facts::{self, Ask, Loaded};
use crate::store::packets::{Sealed, store_if_current};
use crate::vocab::{Basis, Obligation, Purpose, Role};
use crate::writer::WriteTx;

/// The disclosure (and decision) request of API.md, as it arrives.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    pub record_ids: Vec<RecordId>,
    pub recipient_agency: AgencyId,
    #[serde(default)]
    pub recipient_role: Option<Role>,
    #[serde(default)]
    pub recipient_sub: Option<String>,
    pub purpose: Purpose,
    pub basis: Basis,
    #[serde(default)]
    pub justification: Option<String>,
    #[serde(default)]
    pub legal_reference: Option<String>,
    #[serde(default)]
    pub mappa_decision_id: Option<MappaDecisionId>,
}

/// A disclosure request that can be decided: one to 50 distinct records, free text within its
/// bounds. Made only from a [`DisclosureRequest`], so a handler cannot forget a check.
#[derive(Debug, Clone)]
pub struct Disclosure {
    records: Vec<RecordId>,
    recipient: AgencyId,
    recipient_role: Option<Role>,
    recipient_sub: Option<String>,
    request: RequestFacts,
}

impl TryFrom<DisclosureRequest> for Disclosure {
    type Error = ApiError;

    /// 422 naming the field: no record, more than 50, a record named twice, a text too long.
    fn try_from(req: DisclosureRequest) -> Result<Disclosure, ApiError> {
        if req.record_ids.is_empty() {
            return Err(invalid("record_ids", "name at least one record"));
        }
        if req.record_ids.len() > 50 {
            return Err(invalid("record_ids", "at most 50 records per disclosure"));
        }
        let distinct: BTreeSet<&RecordId> = req.record_ids.iter().collect();
        if distinct.len() != req.record_ids.len() {
            return Err(invalid("record_ids", "names a record twice"));
        }
        for (field, value, max) in [
            ("justification", &req.justification, 4000),
            ("legal_reference", &req.legal_reference, 500),
            ("recipient_sub", &req.recipient_sub, 200),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(invalid(field, format!("is longer than {max} characters")));
            }
        }
        Ok(Disclosure {
            records: req.record_ids,
            recipient: req.recipient_agency,
            recipient_role: req.recipient_role,
            recipient_sub: req.recipient_sub,
            request: RequestFacts {
                purpose: req.purpose,
                basis: req.basis,
                justification: req.justification,
                legal_reference: req.legal_reference,
                mappa_decision_id: req.mappa_decision_id.map(String::from),
                notification: false,
            },
        })
    }
}

/// What the database holds about the request, read outside the write queue.
async fn load_facts(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Loaded, ApiError> {
    let recipient = configured_agency(state, "recipient_agency", &req.recipient)?;
    let ask = Ask {
        at: now(),
        subject: None,
        record_ids: req.records.clone(),
        requester: principal.requester(),
        recipient: Recipient {
            agency: req.recipient.to_string(),
            agency_kind: recipient.kind,
            role: req.recipient_role,
            sub: req.recipient_sub.clone(),
        },
        request: req.request.clone(),
    };
    facts::load((&state.db).into(), &state.policy, ask).await
}

/// How often a decision is remade because the child's facts changed while it was made.
const ATTEMPTS: usize = 8;

/// Runs `attempt` until it commits on facts that were still current (it answers `None` when
/// they moved before its commit, and has then written nothing), at most [`ATTEMPTS`] times.
async fn on_current_facts<T, F>(mut attempt: impl FnMut() -> F) -> Result<T, ApiError>
where
    F: Future<Output = Result<Option<T>, ApiError>>,
{
    for _ in 0..ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(ApiError::unavailable(
        "the child's facts kept changing while the decision was made; try again",
    ))
}

/// Commits the decision's audit entry alone (a dry run, a denial), if the facts are current.
async fn audit_if_current(
    state: &AppState,
    loaded: &Loaded,
    entry: Entry,
) -> Result<Option<i64>, ApiError> {
    let mut tx = state.writer.begin().await?;
    if !loaded.still_current(tx.tx()).await? {
        return Ok(None);
    }
    tx.commit(entry).await.map(Some)
}

pub(crate) async fn dry_run(
    principal: Principal,
    State(state): State<AppState>,
    Body(req): Body<DisclosureRequest>,
) -> Result<Json<Value>, ApiError> {
    let req = Disclosure::try_from(req)?;
    on_current_facts(|| check(&state, &principal, &req)).await
}

/// One attempt at a dry run: `None` if the facts moved before its audit entry committed.
async fn check(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Option<Json<Value>>, ApiError> {
    let loaded = load_facts(state, principal, req).await?;
    let decision = decide(&state.policy, &loaded.facts);
    let entry = entry_for(principal, "decision.check", &loaded.facts, &decision);
    let seq = audit_if_current(state, &loaded, entry).await?;
    Ok(seq.map(|seq| Json(decision_body(&decision, None, seq))))
}

pub(crate) async fn disclose(
    principal: Principal,
    State(state): State<AppState>,
    Body(req): Body<DisclosureRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req = Disclosure::try_from(req)?;
    on_current_facts(|| disclose_once(&state, &principal, &req)).await
}

/// One attempt at a disclosure: `None` if the facts moved before it committed.
async fn disclose_once(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Option<(StatusCode, Json<Value>)>, ApiError> {
    let loaded = load_facts(state, principal, req).await?;
    let facts = &loaded.facts;
    let decision = decide(&state.policy, facts);
    let mut entry = entry_for(principal, "disclosure", facts, &decision);
    if !decision.permitted() {
        let seq = audit_if_current(state, &loaded, entry).await?;
        return Ok(seq.map(|seq| {
            (
                StatusCode::FORBIDDEN,
                Json(decision_body(&decision, None, seq)),
            )
        }));
    }
    // the packets are built and encrypted before taking a place in the write queue
    let issued_at = now();
    let sealed = seal(state, facts, &loaded.records, &decision, issued_at, None)?;
    let notice = if decision.obligations.contains(&Obligation::NotifyMappa) {
        Some(notify::prepare(
            state, principal, &loaded, &decision, &sealed, issued_at,
        )?)
    } else {
        None
    };
    entry.packet_sha256 = Some(format!("sha256:{}", sealed.sha));
    if let Value::Object(detail) = &mut entry.detail {
        detail.insert("disclosure_id".into(), json!(sealed.disclosure));
        if let Some(notice) = &notice {
            detail.insert("notify_mappa".into(), notice.outcome());
        }
    }
    let tx = state.writer.begin().await?;
    let seq = commit_packets(tx, &loaded, &sealed, entry, notice).await?;
    Ok(seq.map(|seq| {
        (
            StatusCode::CREATED,
            Json(decision_body(&decision, Some(&sealed.disclosure), seq)),
        )
    }))
}

/// In the write queue: the packet and its entry, then the forum's notification (if one is
/// ready) and its own entry pointing at the first, one action, each packet stored only if
/// the child's facts are still those `loaded` was read at. `None` (nothing written) if they
/// moved; else the disclosure's `audit_seq`.
async fn commit_packets(
    mut tx: WriteTx,
    loaded: &Loaded,
    sealed: &Sealed,
    entry: Entry,
    notice: Option<Notice>,
) -> Result<Option<i64>, ApiError> {
    if !store_if_current(tx.tx(), loaded, sealed).await? {
        return Ok(None);
    }
    let Some(Notice::Ready {
        sealed: notice,
        entry: mut notice_entry,
        ..
    }) = notice
    else {
        return tx.commit(entry).await.map(Some);
    };
    let seq = tx.append(entry).await?;
    // same action, same facts_version: stored unless the facts moved, like its parent
    if !store_if_current(tx.tx(), loaded, &notice).await? {
        return Ok(None);
    }
    notice_entry.detail["notifies"]["audit_seq"] = json!(seq);
    tx.commit(*notice_entry).await?;
    Ok(Some(seq))
}
