//! Depositing a record (`POST /v1/records`): by the owner agency, agency kinds and roles per
//! `policies/deposit.csv`; the depositor of a kind that carries a chair
//! (`policies/record_controls.csv`) is its chair; a kind `duties.csv` names sets its duties
//! off in the same write action.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::disclosures::{Decided, Refusal};
use crate::app::duties::{ListedOn, carry_out};
use crate::app::views::{DutyView, duties};
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::decision::duties::Trigger;
use crate::decision::{RecordFacts, decide_deposit, has_chair};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{RecordId, SubjectId, new_id};
use crate::state::AppState;
use crate::vocab::{RecordKind, Section, SubjectRole};
use crate::{on_tx, with_db};

/// A record to deposit, as it arrives (API.md: `POST /v1/records`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    pub subject_id: SubjectId,
    pub kind: RecordKind,
    pub subject_role: SubjectRole,
    /// At least one section; a section's content is any JSON value but null.
    #[schemars(schema_with = "section_contents")]
    pub sections: BTreeMap<Section, Value>,
}

/// The schema of a record's sections: the map's own, with at least one section and no null
/// content. A section's content is any JSON value (`SectionContent`, recursive) whose strings
/// are free text and whose object keys are single-line, as the `Body` extractor checks.
fn section_contents(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let mut schema = <BTreeMap<Section, Value> as JsonSchema>::json_schema(generator);
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

/// A record that can be deposited: at least one section, none null. Made only from a
/// [`NewRecord`].
#[derive(Debug, Clone)]
pub struct Deposit {
    subject: SubjectId,
    kind: RecordKind,
    subject_role: SubjectRole,
    sections: BTreeMap<Section, Value>,
}

impl TryFrom<NewRecord> for Deposit {
    type Error = ApiError;

    /// 422 naming `sections`: none, or one whose content is null.
    fn try_from(body: NewRecord) -> Result<Deposit, ApiError> {
        if body.sections.is_empty() {
            return Err(ApiError::invalid_field(
                "sections",
                "a record needs at least one section",
            ));
        }
        if body.sections.values().any(Value::is_null) {
            return Err(ApiError::invalid_field(
                "sections",
                "a section's content cannot be null",
            ));
        }
        Ok(Deposit {
            subject: body.subject_id,
            kind: body.kind,
            subject_role: body.subject_role,
            sections: body.sections,
        })
    }
}

/// A record deposited: its sections, its chair (the depositor, for a kind that carries one)
/// and the duties it set off.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Deposited {
    #[schemars(with = "RecordId")]
    pub id: String,
    pub kind: RecordKind,
    pub sections: Vec<Section>,
    pub chair: Option<String>,
    pub duties: Vec<DutyView>,
    pub audit_seq: i64,
}

/// Does the child exist? 422 naming `subject_id` if not (the record names it in its body).
async fn known_child(state: &AppState, subject: &SubjectId) -> Result<(), ApiError> {
    let found: Option<String> = with_db!(&state.db, pool => {
        sqlx::query_scalar("SELECT id FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(pool)
            .await?
    });
    found
        .map(drop)
        .ok_or_else(|| ApiError::invalid_field("subject_id", format!("no subject {subject}")))
}

/// Deposits `record` as `principal`'s agency's, if `decide_deposit` permits it; audited as
/// `record.deposit` either way. A refusal by the policy is `Refusal::Denied` with its
/// decision (the requester's own facts: told whole); anything else `Refusal::Failed`.
pub async fn deposit(
    state: &AppState,
    principal: &Principal,
    record: Deposit,
) -> Result<Deposited, Refusal> {
    let Deposit {
        subject,
        kind,
        subject_role,
        sections: content,
    } = record;
    known_child(state, &subject).await?;
    let id = new_id();
    let sections: Vec<Section> = content.keys().copied().collect();
    let facts = RecordFacts {
        id: id.clone(),
        subject_id: subject.to_string(),
        kind,
        owner: principal.agency.to_string(),
        subject_role,
        sections: sections.clone(),
        chair: None,
        chair_permissions: Vec::new(),
    };
    let decision = decide_deposit(&state.policy(), &principal.requester(), &[facts]);
    let mut entry = Entry::new(principal, "record.deposit")
        .subject(&subject)
        .decision(&decision)
        .detail(json!({"kind": kind, "sections": sections}));
    entry.owner_agencies = vec![principal.agency.to_string()];
    let mut tx = state.writer.begin().await?;
    if !decision.permitted() {
        let audit_seq = tx.commit(entry).await?;
        state
            .metrics
            .decided(crate::metrics::Decided::Deposit, &decision);
        return Err(Refusal::Denied(Decided {
            decision,
            audit_seq,
        }));
    }
    let plain = serde_json::to_vec(&content).map_err(ApiError::internal)?;
    let sealed = state.at_rest.encrypt(&plain).map_err(ApiError::internal)?;
    let chair = has_chair(&state.policy(), kind)
        .then(|| (principal.agency.to_string(), principal.sub.clone()));
    entry.record_ids = vec![id.clone()];
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO records (id, subject_id, owner_agency, kind, subject_role, sections, content_enc, chair_agency, chair_sub, deposited_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&id)
        .bind(&subject)
        .bind(&*principal.agency)
        .bind(kind.as_str())
        .bind(subject_role.as_str())
        .bind(serde_json::to_string(&sections).unwrap_or_default())
        .bind(&sealed)
        .bind(chair.as_ref().map(|c| c.0.clone()))
        .bind(chair.as_ref().map(|c| c.1.clone()))
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    // the deposit is in the chain before the notices it sets off
    let audit_seq = tx.append(entry).await?;
    // a record of a kind duties.csv names sets its duties off, listed on the child's open case
    // or, with none open (a MERLIN notice before any referral), on the record
    let mut set_off = Vec::new();
    let trigger = Trigger::Record(kind);
    if state.policy().duties().iter().any(|d| d.fires_on(trigger)) {
        let lead = crate::cases::store::open_case_lead(&mut tx, &subject)
            .await
            .map_err(ApiError::from)?;
        let case = match lead {
            Some((case_id, _)) => crate::cases::store::load_for_write(&mut tx, &case_id)
                .await
                .map_err(ApiError::from)?
                .map(|(case, _, _)| case),
            None => None,
        };
        let on = match &case {
            Some(case) => ListedOn::Case(case),
            None => ListedOn::Record {
                subject: &subject,
                record: &id,
            },
        };
        let done = carry_out(state, principal, &mut tx, trigger, on, Some(&id)).await?;
        let listed_on = if case.is_some() { "case" } else { "record" };
        set_off = duties(&done);
        for d in &mut set_off {
            d.listed_on = Some(listed_on.to_owned());
        }
    }
    tx.finish().await?;
    state
        .metrics
        .decided(crate::metrics::Decided::Deposit, &decision);
    Ok(Deposited {
        id,
        kind,
        sections,
        chair: chair.map(|c| c.1),
        duties: set_off,
        audit_seq,
    })
}
