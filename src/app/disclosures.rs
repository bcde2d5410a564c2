//! Disclosures and their dry runs, read straight down: the request (parsed at the edge into a
//! [`Disclosure`]) → its facts (`store::facts`) → the same `decision::decide` as
//! `broker decide` → on a permit the packet sealed to the recipient (`share::prepare`, outside
//! the write queue) → in the write queue, the packet stored and the decision audited in one
//! action (`share::store`), only if the child's facts are still those it was decided on;
//! otherwise all again ([`on_current_facts`]).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::requests::{self, Answering};
use super::share::{self, entry_for};
use crate::audit::Entry;
use crate::db::now;
use crate::decision::{Decision, RequestFacts, decide};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, MappaDecisionId, RecordId, RequestId};
use crate::metrics;
use crate::state::AppState;
use crate::store::facts::{Ask, Loaded};
use crate::vocab::{Basis, Purpose, Role};

/// The disclosure (and decision) request of API.md, as it arrives.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// One to 50 distinct records.
    #[schemars(length(min = 1, max = 50), extend("uniqueItems" = true))]
    pub record_ids: Vec<RecordId>,
    pub recipient_agency: AgencyId,
    #[serde(default)]
    pub recipient_role: Option<Role>,
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub recipient_sub: Option<String>,
    pub purpose: Purpose,
    pub basis: Basis,
    #[serde(default)]
    #[schemars(length(max = 4000))]
    pub justification: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub legal_reference: Option<String>,
    #[serde(default)]
    pub mappa_decision_id: Option<MappaDecisionId>,
    /// The request for information this disclosure answers (PROCESS.md): addressed to the
    /// disclosing agency, about the same child, asked by the recipient agency, still open.
    #[serde(default)]
    pub request_id: Option<RequestId>,
}

/// A disclosure request that can be decided: one to 50 distinct records, free text within its
/// bounds. Made only from a [`DisclosureRequest`], so a caller cannot forget a check.
#[derive(Debug, Clone)]
pub struct Disclosure {
    records: Vec<RecordId>,
    recipient: AgencyId,
    recipient_role: Option<Role>,
    recipient_sub: Option<String>,
    request: RequestFacts,
    answers: Option<RequestId>,
}

impl TryFrom<DisclosureRequest> for Disclosure {
    type Error = ApiError;

    /// 422 naming the field: no record, more than 50, a record named twice, a text too long.
    fn try_from(req: DisclosureRequest) -> Result<Disclosure, ApiError> {
        if req.record_ids.is_empty() {
            return Err(ApiError::invalid_field(
                "record_ids",
                "name at least one record",
            ));
        }
        if req.record_ids.len() > 50 {
            return Err(ApiError::invalid_field(
                "record_ids",
                "at most 50 records per disclosure",
            ));
        }
        let distinct: BTreeSet<&RecordId> = req.record_ids.iter().collect();
        if distinct.len() != req.record_ids.len() {
            return Err(ApiError::invalid_field(
                "record_ids",
                "names a record twice",
            ));
        }
        for (field, value, max) in [
            ("justification", &req.justification, 4000),
            ("legal_reference", &req.legal_reference, 500),
            ("recipient_sub", &req.recipient_sub, 200),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > max) {
                return Err(ApiError::invalid_field(
                    field,
                    format!("is longer than {max} characters"),
                ));
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
                duty: None,
            },
            answers: req.request_id,
        })
    }
}

/// A decision made and audited: a dry run's answer, or a disclosure's refusal, as the
/// requester is told it (`Decision::as_told`: a requester who may not disclose a record learns
/// that alone); the audit entry holds the whole evaluation.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Decided {
    #[serde(flatten)]
    pub decision: Decision,
    /// The `audit_seq` of its entry (`decision.check`, or `disclosure` for a refusal).
    pub audit_seq: i64,
}

/// A disclosure made: the decision (a permit), the packet's id and its entry's `audit_seq`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Disclosed {
    #[serde(flatten)]
    pub decision: Decision,
    pub disclosure_id: String,
    pub audit_seq: i64,
}

/// Why a disclosure was not made.
#[derive(Debug)]
pub enum Refusal {
    /// The decision denied it; the denial is audited.
    Denied(Decided),
    /// It could not be decided or carried out (bad input, the store): nothing was written.
    Failed(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal::Failed(e)
    }
}

/// What the database holds about the request, read outside the write queue.
async fn load_facts(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Loaded, ApiError> {
    let recipient = state.configured_agency("recipient_agency", &req.recipient)?;
    let ask = Ask {
        at: now(),
        subject: None,
        record_ids: req.records.clone(),
        requester: principal.requester(),
        recipient: recipient.recipient(req.recipient_role, req.recipient_sub.clone()),
        request: req.request.clone(),
    };
    crate::store::cache::load_cached(
        &state.db,
        &state.facts_cache,
        state.at_rest.generation(),
        &state.policy(),
        ask,
    )
    .await
}

/// The request for information `req` answers, checked against its child and recipient
/// (`app::requests::answering`), if it names one.
async fn answering(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
    loaded: &Loaded,
) -> Result<Option<Answering>, ApiError> {
    let Some(id) = &req.answers else {
        return Ok(None);
    };
    let subject = &loaded.facts.subject.id;
    requests::answering(state, principal, id, subject, &req.recipient)
        .await
        .map(Some)
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
    // reads only the child's facts version: its entry can wait for the batch's
    let mut tx = state.writer.begin_deferring().await?;
    if !loaded.still_current(tx.tx_for_reading()).await? {
        return Ok(None);
    }
    tx.commit(entry).await.map(Some)
}

/// The dry run (`POST /v1/decisions`): the decision the disclosure would get, audited as
/// `decision.check`. Nothing is shared.
pub async fn check(
    state: &AppState,
    principal: &Principal,
    req: Disclosure,
) -> Result<Decided, ApiError> {
    on_current_facts(|| check_once(state, principal, &req)).await
}

/// One attempt at a dry run: `None` if the facts moved before its audit entry committed.
async fn check_once(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Option<Decided>, ApiError> {
    let loaded = load_facts(state, principal, req).await?;
    answering(state, principal, req, &loaded).await?;
    let decision = decide(&state.policy(), &loaded.facts);
    let entry = entry_for(principal, "decision.check", &loaded.facts, &decision);
    let seq = audit_if_current(state, &loaded, entry).await?;
    match seq {
        Some(_) => state.metrics.decided(metrics::Decided::Check, &decision),
        None => state.facts_cache.forget(&loaded.facts.subject.id),
    }
    Ok(seq.map(|audit_seq| Decided {
        decision: decision.as_told(),
        audit_seq,
    }))
}

/// The disclosure (`POST /v1/disclosures`): decided, and on a permit the packet (and the
/// forum's notification, RULES 5) stored for its addressee; audited as `disclosure` either way.
pub async fn disclose(
    state: &AppState,
    principal: &Principal,
    req: Disclosure,
) -> Result<Disclosed, Refusal> {
    match on_current_facts(|| disclose_once(state, principal, &req)).await? {
        Attempt::Disclosed(disclosed) => Ok(disclosed),
        Attempt::Denied(denied) => Err(Refusal::Denied(denied)),
    }
}

/// What an attempt at a disclosure that committed came to.
enum Attempt {
    Disclosed(Disclosed),
    Denied(Decided),
}

/// One attempt at a disclosure: `None` if the facts moved before it committed.
async fn disclose_once(
    state: &AppState,
    principal: &Principal,
    req: &Disclosure,
) -> Result<Option<Attempt>, ApiError> {
    let loaded = load_facts(state, principal, req).await?;
    let answers = answering(state, principal, req, &loaded).await?;
    let decision = decide(&state.policy(), &loaded.facts);
    let entry = entry_for(principal, "disclosure", &loaded.facts, &decision);
    if !decision.permitted() {
        let seq = audit_if_current(state, &loaded, entry).await?;
        match seq {
            Some(_) => state
                .metrics
                .decided(metrics::Decided::Disclosure, &decision),
            None => state.facts_cache.forget(&loaded.facts.subject.id),
        }
        return Ok(seq.map(|audit_seq| {
            Attempt::Denied(Decided {
                decision: decision.as_told(),
                audit_seq,
            })
        }));
    }
    // the packets are built and encrypted before taking a place in the write queue
    let prepared = share::prepare(state, principal, &loaded, &decision, entry, now(), None)?;
    // stores packets and closes a request: nothing that reads the audit log or refers to an
    // entry, so its entries can wait for the batch's
    let mut tx = state.writer.begin_deferring().await?;
    let Some(stored) = share::store(&mut tx, &loaded, prepared).await? else {
        // the facts moved: dropping the action undoes whatever of it was written, and the
        // next attempt reads them afresh
        drop(tx);
        state.facts_cache.forget(&loaded.facts.subject.id);
        return Ok(None);
    };
    // a request it answers closes in the same action (a denial answers nothing)
    if let Some(a) = &answers {
        requests::mark_answered(&mut tx, principal, a, &stored.disclosure_id).await?;
    }
    tx.finish().await?;
    state
        .metrics
        .decided(metrics::Decided::Disclosure, &decision);
    Ok(Some(Attempt::Disclosed(Disclosed {
        decision,
        disclosure_id: stored.disclosure_id,
        audit_seq: stored.audit_seq,
    })))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::decision::{Outcome, Reason};
    use crate::vocab::{Obligation, ReasonCode, Section, View};

    fn permit() -> Decision {
        Decision {
            decision: Outcome::Permit,
            view: Some(View::Full),
            sections_released: vec![Section::Summary],
            sections_withheld: vec![Section::HealthClinical],
            reasons: vec![Reason {
                code: ReasonCode::ConsentNotFound,
                message: "overridden".into(),
            }],
            obligations: vec![Obligation::IgReview],
            policy_version: "sha256:abc".into(),
            released_by_record: BTreeMap::from([("r".into(), vec![Section::Summary])]),
        }
    }

    #[test]
    fn a_disclosure_made_serialises_as_the_decision_body_the_api_answers() {
        let done = Disclosed {
            decision: permit(),
            disclosure_id: "d-1".into(),
            audit_seq: 7,
        };
        let body = crate::routes::views::decision_body(&done.decision, Some("d-1"), 7);
        assert_eq!(serde_json::to_value(&done).unwrap(), body);
    }

    #[test]
    fn the_typed_results_schemas_name_every_field_of_the_decision_body() {
        let schema = serde_json::to_value(schemars::schema_for!(Disclosed)).unwrap();
        let fields: BTreeSet<&str> = schema["properties"]
            .as_object()
            .expect("an object schema")
            .keys()
            .map(String::as_str)
            .collect();
        let body = crate::routes::views::decision_body(&permit(), Some("d-1"), 7);
        let expected: BTreeSet<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, expected);
    }
}
