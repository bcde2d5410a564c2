//! Records: deposit (by the owner agency, agency kinds and roles per `policies/deposit.csv`),
//! the chair's permission for a record kind that carries a chair (`policies/record_controls.csv`,
//! strategy-meeting minutes by default), and the owner's view of every decision about a record.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::extract::{
    Body, Path, Relation, commit_with, configured_agency, invalid, new_id, require_as, store_failed,
};
use super::subjects::subject_school;
use super::views::decision_body;
use crate::app::duties::ListedOn;
use crate::app::records::RecordDisclosures;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::decision::{RecordFacts, decide_deposit};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, RecordId, SubjectId};
use crate::state::AppState;
use crate::vocab::{Action, RecordKind, Section, SubjectRole};
use crate::{on_tx, with_db};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRecord {
    subject_id: SubjectId,
    kind: RecordKind,
    subject_role: SubjectRole,
    /// At least one section; a section's content is any JSON value but null.
    #[schemars(schema_with = "section_contents")]
    sections: BTreeMap<Section, Value>,
}

/// The schema of a record's sections: the map's own, with at least one section and no null
/// content. A section's content is any JSON value (`SectionContent`, recursive) whose strings
/// are free text and whose object keys are single-line, as the `Body` extractor checks.
fn section_contents(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <BTreeMap<Section, Value> as schemars::JsonSchema>::json_schema(generator);
    let any = "#/$defs/SectionContent";
    let single = crate::text::pattern(crate::text::Kind::SingleLine, false);
    let free = crate::text::pattern(crate::text::Kind::FreeText, false);
    let definition = json!({"anyOf": [
        {"type": "string", "pattern": free},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": {"$ref": any}},
        {"type": "object", "propertyNames": {"pattern": single}, "additionalProperties": {"$ref": any}},
    ]});
    generator
        .definitions_mut()
        .insert("SectionContent".into(), definition);
    let content = json!({"allOf": [{"$ref": any}], "not": {"type": "null"}});
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(|p| *p = content.clone());
    }
    if schema.get("additionalProperties") != Some(&Value::Bool(false)) {
        schema.insert("additionalProperties".into(), content);
    }
    schema.insert("minProperties".into(), json!(1));
    schema
}

pub(crate) async fn deposit(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewRecord>,
) -> Result<Response, ApiError> {
    let subject = body.subject_id.clone();
    if body.sections.is_empty() {
        return Err(invalid("sections", "a record needs at least one section"));
    }
    if body.sections.values().any(Value::is_null) {
        return Err(invalid("sections", "a section's content cannot be null"));
    }
    subject_school(&state, &subject)
        .await
        .map_err(|_| invalid("subject_id", format!("no subject {subject}")))?;
    let record = new_id();
    let sections: Vec<Section> = body.sections.keys().copied().collect();
    let facts = RecordFacts {
        id: record.clone(),
        subject_id: subject.to_string(),
        kind: body.kind,
        owner: principal.agency.to_string(),
        subject_role: body.subject_role,
        sections: sections.clone(),
        chair: None,
        chair_permissions: Vec::new(),
    };
    let decision = decide_deposit(&state.policy, &principal.requester(), &[facts]);
    let mut entry = Entry::new(&principal, "record.deposit")
        .subject(&subject)
        .decision(&decision)
        .detail(json!({"kind": body.kind, "sections": sections}));
    entry.owner_agencies = vec![principal.agency.to_string()];
    let mut tx = state.writer.begin().await?;
    if !decision.permitted() {
        let seq = commit_with(tx, entry).await?;
        return Ok((
            StatusCode::FORBIDDEN,
            Json(decision_body(&decision, None, seq)),
        )
            .into_response());
    }
    let content = serde_json::to_vec(&body.sections).map_err(ApiError::internal)?;
    let sealed = state
        .at_rest
        .encrypt(&content)
        .map_err(ApiError::internal)?;
    let chair = crate::decision::has_chair(&state.policy, body.kind)
        .then(|| (principal.agency.to_string(), principal.sub.clone()));
    entry.record_ids = vec![record.clone()];
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO records (id, subject_id, owner_agency, kind, subject_role, sections, content_enc, chair_agency, chair_sub, deposited_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&record)
        .bind(&subject)
        .bind(&*principal.agency)
        .bind(body.kind.as_str())
        .bind(body.subject_role.as_str())
        .bind(serde_json::to_string(&sections).unwrap_or_default())
        .bind(&sealed)
        .bind(chair.as_ref().map(|c| c.0.clone()))
        .bind(chair.as_ref().map(|c| c.1.clone()))
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(store_failed)?);
    // the deposit is in the chain before the notices it sets off
    let seq = tx.append(entry).await?;
    // a record of a kind duties.csv names sets its duties off, listed on the child's open case
    // or, with none open (a MERLIN notice before any referral), on the record
    let mut duties = Vec::new();
    let trigger = crate::decision::duties::Trigger::Record(body.kind);
    if state.policy.duties().iter().any(|d| d.trigger == trigger) {
        let case = match crate::cases::store::open_case_lead(&mut tx, &subject).await? {
            Some((case_id, _)) => crate::cases::store::load_for_write(&mut tx, &case_id)
                .await?
                .map(|(case, _, _)| case),
            None => None,
        };
        let on = match &case {
            Some(case) => ListedOn::Case(case),
            None => ListedOn::Record {
                subject: &subject,
                record: &record,
            },
        };
        let done =
            crate::app::duties::carry_out(&state, &principal, &mut tx, trigger, on, Some(&record))
                .await?;
        let listed_on = if case.is_some() { "case" } else { "record" };
        duties = crate::app::views::duties(&done);
        for d in &mut duties {
            d.listed_on = Some(listed_on.to_owned());
        }
    }
    tx.finish().await?;
    Ok((
        StatusCode::CREATED,
        Json(Deposited {
            id: record,
            kind: body.kind,
            sections,
            chair: chair.map(|c| c.1),
            duties,
            audit_seq: seq,
        }),
    )
        .into_response())
}

/// A record deposited: its sections, its chair (the depositor, for a kind that carries one)
/// and the duties it set off.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Deposited {
    #[schemars(with = "RecordId")]
    id: String,
    kind: RecordKind,
    sections: Vec<Section>,
    chair: Option<String>,
    duties: Vec<crate::app::views::DutyView>,
    audit_seq: i64,
}

/// A chair's permission recorded.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ChairPermitted {
    record_id: RecordId,
    recipient_agency: AgencyId,
    audit_seq: i64,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewChairPermission {
    recipient_agency: AgencyId,
}

pub(crate) async fn chair_permission(
    principal: Principal,
    State(state): State<AppState>,
    Path(record): Path<RecordId>,
    Body(body): Body<NewChairPermission>,
) -> Result<(StatusCode, Json<ChairPermitted>), ApiError> {
    configured_agency(&state, "recipient_agency", &body.recipient_agency)?;
    let row = with_db!(&state.db, pool => {
        sqlx::query("SELECT subject_id, owner_agency, kind, chair_agency, chair_sub FROM records WHERE id = $1")
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
    require_as(&state, &principal, Action::GrantChairPermission, relation)?;
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
        .map_err(store_failed)?);
    let mut entry = Entry::new(&principal, "chair.permission").subject(&subject);
    entry.record_ids = vec![record.to_string()];
    entry.owner_agencies = vec![owner];
    entry.recipient_agency = Some(body.recipient_agency.to_string());
    let seq = commit_with(tx, entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(ChairPermitted {
            record_id: record,
            recipient_agency: body.recipient_agency,
            audit_seq: seq,
        }),
    ))
}

pub(crate) async fn disclosures(
    principal: Principal,
    State(state): State<AppState>,
    Path(record): Path<RecordId>,
) -> Result<Json<RecordDisclosures>, ApiError> {
    crate::app::records::disclosures_of(&state, &principal, record)
        .await
        .map(Json)
}
