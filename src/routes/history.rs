//! A child's subject access history: every disclosure decision about the child's records and
//! every read of a packet about the child, for an IG officer who may know the child.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::audit::{Filters, audit_rows, auditor, record_query};
use super::extract::Path;
use super::views::entry_json;
use crate::db::Db;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::with_db;

/// The subject access report: every disclosure decision about the child's records and every
/// read of a packet about the child: who received what, when, why and on which basis.
pub(crate) async fn history(
    principal: Principal,
    State(state): State<AppState>,
    // read after the caller is known to audit, so that anyone else is refused first
    subject: Result<Path<SubjectId>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let who = auditor(&state, principal, Action::ReadAudit)?;
    let Path(subject) = subject?;
    let f = Filters::of_subject(&subject);
    if !known_subject(&state.db, &f, &subject, who.scope.as_deref()).await? {
        return Err(ApiError::not_found(format!("no subject {subject}")));
    }
    let rows = audit_rows(
        &state.db,
        &f,
        who.scope.as_deref(),
        "AND action IN ('disclosure', 'packet.read') ORDER BY seq",
    )
    .await?;
    let seq = record_query(
        &state,
        &who,
        "audit.subject_history",
        json!({"subject_id": subject}),
    )
    .await?;
    Ok(Json(json!({
        "subject_id": subject,
        "disclosures": rows.iter().map(entry_json).collect::<Vec<_>>(),
        "audit_seq": seq,
    })))
}

/// Does the child exist for this auditor? For the partnership: it is registered. For an IG
/// officer of another agency: their agency registered it or appears in an audit entry about
/// it. A child of another agency's is answered exactly as an unknown id, so the answer cannot
/// tell a caller whether a child exists (`f` selects the child's entries).
async fn known_subject(
    db: &Db,
    f: &Filters,
    subject: &str,
    scope: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let registered_by: Option<String> = with_db!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT registered_by FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(pool)
            .await?
    });
    Ok(match (registered_by, scope) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(by), Some(agency)) if by == agency => true,
        (Some(_), Some(_)) => !audit_rows(db, f, scope, "LIMIT 1").await?.is_empty(),
    })
}
