//! Evidence an outsider can check (issue 24): the broker's signed checkpoint of its audit log,
//! the verifier key agencies keep to check it, and inclusion and consistency proofs.
//!
//! Any agency's IG officer (`read_audit`) may fetch the checkpoint, the key and consistency
//! proofs: they are facts about the log's size and hashes, never about an entry, and are not
//! audited, so witnesses polling them do not grow the log they witness. An inclusion proof is
//! about one entry, so it is scoped as reading the entry is (a partnership IG officer any
//! entry, another agency's IG officer the entries that involve its agency; any other 404) and
//! audited as `audit.proof`.

use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::audit::{Filters, auditor, record_query, rows};
use crate::audit::{self, ConsistencyProof, Extension, InclusionProof, ProofRequestError};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::Action;

/// `GET /v1/audit/proof/inclusion`'s query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// The entry.
    #[schemars(range(min = 1))]
    pub seq: i64,
    /// The tree size: a checkpoint's size, at least `seq`.
    #[schemars(range(min = 1))]
    pub size: u64,
}

/// `GET /v1/audit/proof/consistency`'s query.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The older checkpoint's size.
    pub from: u64,
    /// The newer checkpoint's size, at least `from`.
    pub to: u64,
}

fn answered(e: ProofRequestError) -> ApiError {
    match e {
        ProofRequestError::OutOfRange(why) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", why)
        }
        ProofRequestError::Db(e) => e.into(),
    }
}

/// The latest signed checkpoint (signed now if the log grew since the last).
pub async fn checkpoint(state: &AppState, principal: &Principal) -> Result<String, ApiError> {
    auditor(state, principal, Action::ReadAudit)?;
    Ok(audit::checkpoints::checkpoint(&state.db, &state.log_key)
        .await?
        .note)
}

/// The verifier key of the broker's log key (C2SP vkey), what witnesses keep.
pub fn log_key(state: &AppState, principal: &Principal) -> Result<String, ApiError> {
    auditor(state, principal, Action::ReadAudit)?;
    Ok(format!("{}\n", state.log_key.verifier().vkey()))
}

/// The proof that entry `seq` is in the tree of `size` entries; audited as `audit.proof`.
pub async fn inclusion(
    state: &AppState,
    principal: &Principal,
    q: &InclusionQuery,
) -> Result<InclusionProof, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    if q.seq < 1 || q.size < 1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "seq and size must be at least 1",
        ));
    }
    if who.scope.is_some() {
        let visible = rows(
            &state.db,
            &Filters::default(),
            who.scope.as_deref(),
            q.seq - 1,
            &format!("AND seq = {}", q.seq),
        )
        .await?;
        if visible.is_empty() {
            return Err(ApiError::not_found(format!(
                "no audit entry {} that involves your agency",
                q.seq
            )));
        }
    }
    let proof = audit::inclusion(&state.db, q.seq, q.size)
        .await
        .map_err(answered)?;
    record_query(
        state,
        &who,
        "audit.proof",
        json!({"seq": q.seq, "size": q.size}),
    )
    .await?;
    Ok(proof)
}

/// The proof that the tree of `to` entries extends the tree of `from` entries.
pub async fn consistency(
    state: &AppState,
    principal: &Principal,
    q: &ConsistencyQuery,
) -> Result<ConsistencyProof, ApiError> {
    auditor(state, principal, Action::ReadAudit)?;
    audit::consistency(&state.db, q.from, q.to)
        .await
        .map_err(answered)
}

/// `POST /v1/audit/checkpoint/verify`'s body: a checkpoint kept earlier.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeptCheckpoint {
    /// The signed note, as `GET /v1/audit/checkpoint` gave it.
    #[schemars(length(min = 1, max = 4096))]
    pub checkpoint: String,
}

/// Does the log still hold everything a checkpoint kept earlier signed? (What
/// `broker audit verify --checkpoint` checks, reading the checkpoint's last entry and those
/// after it.) A note this broker's key did not sign is 422 `invalid_checkpoint`. Audited as
/// `audit.verify_checkpoint` with the checkpoint's size and the verdict.
pub async fn verify_checkpoint(
    state: &AppState,
    principal: &Principal,
    kept: &KeptCheckpoint,
) -> Result<Extension, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    let checkpoint = state
        .log_key
        .verifier()
        .open(&kept.checkpoint)
        .map_err(|e| {
            ApiError::invalid(
                "invalid_checkpoint",
                format!("checkpoint: not a checkpoint signed by this broker's log key: {e}"),
            )
        })?;
    let verdict = audit::verify_extends(&state.db, checkpoint.size, &checkpoint.root).await?;
    record_query(
        state,
        &who,
        "audit.verify_checkpoint",
        json!({"size": checkpoint.size, "ok": verdict.ok, "first_bad_seq": verdict.first_bad_seq}),
    )
    .await?;
    Ok(verdict)
}

/// The checkpoint as the console shows it: the note, its size and when it was signed.
pub async fn latest(
    state: &AppState,
    principal: &Principal,
) -> Result<audit::checkpoints::Signed, ApiError> {
    auditor(state, principal, Action::ReadAudit)?;
    Ok(audit::checkpoints::checkpoint(&state.db, &state.log_key).await?)
}
