//! The chair's permission (RULES 6): the chair of a record that carries one (strategy-meeting
//! minutes, `policies/record_controls.csv`) permits an agency to receive it, as
//! `policies/actions.csv` allows (`grant_chair_permission`, relation `chair`).

use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::access::{Relation, require_as};
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, RecordId};
use crate::state::AppState;
use crate::vocab::Action;
use crate::{on_tx, with_db};

/// `POST /v1/records/{id}/chair-permissions`, as it arrives.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewChairPermission {
    pub recipient_agency: AgencyId,
}

/// A chair's permission recorded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChairPermitted {
    pub record_id: RecordId,
    pub recipient_agency: AgencyId,
    pub audit_seq: i64,
}

/// The record's chair permits `body.recipient_agency` to receive `record`; audited as
/// `chair.permission`. An unconfigured agency is 422, an unknown record 404, a record with no
/// chair 409 `no_chair`, anyone but its chair 403. Granting it again changes nothing but the
/// audit log.
pub async fn grant(
    state: &AppState,
    principal: &Principal,
    record: RecordId,
    body: NewChairPermission,
) -> Result<ChairPermitted, ApiError> {
    state.configured_agency("recipient_agency", &body.recipient_agency)?;
    let row = with_db!(&state.db, pool => {
        sqlx::query("SELECT subject_id, owner_agency, chair_agency, chair_sub FROM records WHERE id = $1")
            .bind(&record)
            .fetch_optional(pool)
            .await?
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<String, _>("subject_id")?,
                    r.try_get::<String, _>("owner_agency")?,
                    r.try_get::<Option<String>, _>("chair_agency")?,
                    r.try_get::<Option<String>, _>("chair_sub")?,
                ))
            })
            .transpose()?
    });
    let Some((subject, owner, chair_agency, chair_sub)) = row else {
        return Err(ApiError::not_found(format!("no record {record}")));
    };
    let is_chair = chair_agency.as_deref() == Some(&*principal.agency)
        && chair_sub.as_deref() == Some(principal.sub.as_str());
    if chair_agency.is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_chair",
            "this record has no chair: only kinds with a chair_permission control in \
             policies/record_controls.csv do",
        ));
    }
    let relation = if is_chair {
        Relation::Chair
    } else {
        Relation::None
    };
    require_as(state, principal, Action::GrantChairPermission, relation)?;
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO chair_permissions (record_id, recipient_agency, granted_by, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (record_id, recipient_agency) DO NOTHING")
        .bind(&record)
        .bind(&body.recipient_agency)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let mut entry = Entry::new(principal, "chair.permission").subject(&subject);
    entry.record_ids = vec![record.to_string()];
    entry.owner_agencies = vec![owner];
    entry.recipient_agency = Some(body.recipient_agency.to_string());
    let audit_seq = tx.commit(entry).await?;
    Ok(ChairPermitted {
        record_id: record,
        recipient_agency: body.recipient_agency,
        audit_seq,
    })
}
