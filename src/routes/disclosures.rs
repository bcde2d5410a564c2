//! Disclosures and their dry runs: the facts are loaded from the database and the same
//! `decision::decide` as `broker decide` answers. A permit stores a packet encrypted to the
//! recipient agency; permit or deny, the decision is audited in the same transaction.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use super::extract::{Body, commit_with, configured_agency, id, invalid, store_failed};
use super::notify;
use super::packet::{Loaded, Sealed, StoredRecord, entry_for, seal};
use super::views::decision_body;
use crate::db::{now, parse_ts};
use crate::decision::{
    ConsentFacts, Facts, MappaDecisionFacts, Recipient, RecordFacts, RequestFacts,
    StaffDesignation, Subject, decide,
};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::vocab::{Basis, Obligation, Purpose, RecordKind, Role, SubjectRole};
use crate::writer::WriteTx;
use crate::{on_tx, with_db};

/// The disclosure (and decision) request of API.md.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    #[schemars(extend("items" = {"type": "string", "format": "uuid"}))]
    pub record_ids: Vec<String>,
    pub recipient_agency: String,
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
    #[schemars(extend("format" = "uuid"))]
    pub mappa_decision_id: Option<String>,
}

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The facts that live beside the child, read in one statement.
#[derive(sqlx::FromRow)]
struct ChildRow {
    facts_version: i64,
    date_of_birth: String,
    school_agency: Option<String>,
    gillick: Option<bool>,
    capacity: Option<bool>,
    mappa_active: Option<bool>,
    mappa_agency: Option<String>,
}

/// Loads every fact the decision needs from the read side, outside the write queue. The
/// subject's `facts_version` is read before any fact that can change (records themselves do
/// not), so [`still_current`] at commit time proves the decision was made on current facts.
async fn load_facts(
    principal: &Principal,
    state: &AppState,
    req: &DisclosureRequest,
) -> Result<Loaded, ApiError> {
    let db = &state.db;
    let recipient_kind = configured_agency(state, "recipient_agency", &req.recipient_agency)?.kind;
    let mut records = Vec::with_capacity(req.record_ids.len());
    for record in &req.record_ids {
        let row = with_db!(db, pool => {
            let row = sqlx::query(
                "SELECT subject_id, owner_agency, kind, subject_role, sections, content_enc, chair_agency FROM records WHERE id = $1")
                .bind(record)
                .fetch_optional(pool)
                .await?;
            match row {
                None => None,
                Some(r) => {
                    let kind: String = r.try_get("kind")?;
                    let role: String = r.try_get("subject_role")?;
                    Some(StoredRecord {
                        facts: RecordFacts {
                            id: record.clone(),
                            subject_id: r.try_get("subject_id")?,
                            kind: kind.parse::<RecordKind>().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                            owner: r.try_get("owner_agency")?,
                            subject_role: role.parse::<SubjectRole>().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                            sections: json_list(&r.try_get::<String, _>("sections")?)?,
                            chair: r.try_get("chair_agency")?,
                            chair_permissions: Vec::new(),
                        },
                        content_enc: r.try_get("content_enc")?,
                    })
                }
            }
        });
        records.push(row.ok_or_else(|| ApiError::not_found(format!("no record {record}")))?);
    }
    let subject_id = records[0].facts.subject_id.clone();
    // one statement, one snapshot: the version and the facts that live beside the child
    // (the latest assessment of each kind is the fact the rules use)
    const SUBJECT: &str = "SELECT s.facts_version, s.date_of_birth, s.school_agency, \
        (SELECT a.outcome FROM competence_assessments a WHERE a.subject_id = s.id \
           AND a.assessment = 'gillick' ORDER BY a.assessed_on DESC, a.created_at DESC LIMIT 1) AS gillick, \
        (SELECT a.outcome FROM competence_assessments a WHERE a.subject_id = s.id \
           AND a.assessment = 'capacity' ORDER BY a.assessed_on DESC, a.created_at DESC LIMIT 1) AS capacity, \
        (SELECT m.active FROM mappa_status m WHERE m.subject_id = s.id) AS mappa_active, \
        (SELECT m.agency FROM mappa_status m WHERE m.subject_id = s.id) AS mappa_agency \
        FROM subjects s WHERE s.id = $1";
    let child: ChildRow = with_db!(db, pool => sqlx::query_as(SUBJECT)
        .bind(&subject_id)
        .fetch_one(pool)
        .await?);
    for stored in &mut records {
        if crate::decision::has_chair(&state.policy, stored.facts.kind) {
            stored.facts.chair_permissions = with_db!(db, pool => sqlx::query(
                "SELECT recipient_agency FROM chair_permissions WHERE record_id = $1")
                .bind(&stored.facts.id)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("recipient_agency"))
                .collect::<Result<Vec<_>, _>>()?);
        }
    }
    let consents: Vec<ConsentFacts> = with_db!(db, pool => {
        let rows = sqlx::query(
            "SELECT given_by, purposes, recipient_kinds, expires_at, withdrawn_at FROM consents WHERE subject_id = $1")
            .bind(&subject_id)
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| -> Result<ConsentFacts, sqlx::Error> {
                let giver: String = r.try_get("given_by")?;
                Ok(ConsentFacts {
                    given_by: giver.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    purposes: json_list(&r.try_get::<String, _>("purposes")?)?,
                    recipient_kinds: json_list(&r.try_get::<String, _>("recipient_kinds")?)?,
                    expires_at: r.try_get::<Option<String>, _>("expires_at")?.map(|t| parse_ts(&t)).transpose()?,
                    withdrawn_at: r.try_get::<Option<String>, _>("withdrawn_at")?.map(|t| parse_ts(&t)).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    });
    let staff_designations: Vec<StaffDesignation> = with_db!(db, pool => sqlx::query(
        "SELECT staff_sub FROM staff_designations WHERE subject_id = $1 AND school_agency = $2")
        .bind(&subject_id)
        .bind(&req.recipient_agency)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(StaffDesignation { staff_sub: r.try_get("staff_sub")?, subject_id: subject_id.clone() }))
        .collect::<Result<Vec<_>, sqlx::Error>>()?);
    let mut mappa_decisions = Vec::new();
    if let Some(decision) = &req.mappa_decision_id {
        let found: Option<MappaDecisionFacts> = with_db!(db, pool => {
            let row = sqlx::query(
                "SELECT subject_id, recipient_agency, recipient_role, purposes, sections, expires_at FROM mappa_decisions WHERE id = $1")
                .bind(decision)
                .fetch_optional(pool)
                .await?;
            row.map(|r| -> Result<MappaDecisionFacts, sqlx::Error> {
                let role: Option<String> = r.try_get("recipient_role")?;
                Ok(MappaDecisionFacts {
                    id: decision.clone(),
                    subject_id: r.try_get("subject_id")?,
                    recipient_agency: r.try_get("recipient_agency")?,
                    recipient_role: role.map(|x| x.parse::<Role>()).transpose().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    purposes: json_list(&r.try_get::<String, _>("purposes")?)?,
                    sections: json_list(&r.try_get::<String, _>("sections")?)?,
                    expires_at: Some(parse_ts(&r.try_get::<String, _>("expires_at")?)?),
                })
            })
            .transpose()?
        });
        mappa_decisions.extend(found);
    }
    let facts = Facts {
        at: now(),
        requester: principal.requester(),
        recipient: Recipient {
            agency: req.recipient_agency.clone(),
            agency_kind: recipient_kind,
            role: req.recipient_role,
            sub: req.recipient_sub.clone(),
        },
        subject: Subject {
            id: subject_id,
            date_of_birth: child
                .date_of_birth
                .parse::<NaiveDate>()
                .map_err(|e| ApiError::internal(format!("stored date of birth: {e}")))?,
            school: child.school_agency,
            gillick_competent: child.gillick,
            lacks_capacity: child.capacity.map(|has| !has),
            mappa_active: child.mappa_active.unwrap_or(false),
        },
        records: records.iter().map(|r| r.facts.clone()).collect(),
        consents,
        mappa_decisions,
        staff_designations,
        request: RequestFacts {
            purpose: req.purpose,
            basis: req.basis,
            justification: req.justification.clone(),
            legal_reference: req.legal_reference.clone(),
            mappa_decision_id: req.mappa_decision_id.clone(),
        },
    };
    Ok(Loaded {
        facts,
        records,
        version: child.facts_version,
        mappa_agency: child.mappa_agency,
    })
}

/// Inside the write queue: has any fact about the child changed since `loaded` was read?
async fn still_current(tx: &mut WriteTx, loaded: &Loaded) -> Result<bool, ApiError> {
    let now: i64 = on_tx!(tx, c => sqlx::query("SELECT facts_version FROM subjects WHERE id = $1")
        .bind(&loaded.facts.subject.id)
        .fetch_one(&mut **c)
        .await
        .and_then(|r| r.try_get("facts_version"))
        .map_err(store_failed)?);
    Ok(now == loaded.version)
}

/// How often a decision is remade because the child's facts changed while it was made.
const ATTEMPTS: usize = 8;

fn facts_kept_changing() -> ApiError {
    ApiError::unavailable("the child's facts kept changing while the decision was made; try again")
}

/// Checks ids and sizes before anything is loaded.
fn validate(req: &mut DisclosureRequest) -> Result<(), ApiError> {
    if req.record_ids.is_empty() {
        return Err(invalid("record_ids", "name at least one record"));
    }
    if req.record_ids.len() > 50 {
        return Err(invalid("record_ids", "at most 50 records per disclosure"));
    }
    for (i, r) in req.record_ids.iter_mut().enumerate() {
        *r = id(r, "record").map_err(|_| {
            invalid(
                &format!("record_ids[{i}]"),
                format!("\"{r}\" is not a valid record id"),
            )
        })?;
    }
    let mut seen = req.record_ids.clone();
    seen.sort();
    seen.dedup();
    if seen.len() != req.record_ids.len() {
        return Err(invalid("record_ids", "names a record twice"));
    }
    if let Some(m) = &mut req.mappa_decision_id {
        *m = id(m, "MAPPA decision")
            .map_err(|_| invalid("mappa_decision_id", "is not a valid id"))?;
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
    Ok(())
}

pub(crate) async fn dry_run(
    principal: Principal,
    State(state): State<AppState>,
    Body(mut req): Body<DisclosureRequest>,
) -> Result<Json<Value>, ApiError> {
    validate(&mut req)?;
    for _ in 0..ATTEMPTS {
        let loaded = load_facts(&principal, &state, &req).await?;
        let decision = decide(&state.policy, &loaded.facts);
        let entry = entry_for(&principal, "decision.check", &loaded.facts, &decision);
        let mut tx = state.writer.begin().await?;
        if !still_current(&mut tx, &loaded).await? {
            continue;
        }
        let seq = commit_with(tx, entry).await?;
        return Ok(Json(decision_body(&decision, None, seq)));
    }
    Err(facts_kept_changing())
}

pub(crate) async fn disclose(
    principal: Principal,
    State(state): State<AppState>,
    Body(mut req): Body<DisclosureRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    validate(&mut req)?;
    for _ in 0..ATTEMPTS {
        let loaded = load_facts(&principal, &state, &req).await?;
        let facts = &loaded.facts;
        let decision = decide(&state.policy, facts);
        let mut entry = entry_for(&principal, "disclosure", facts, &decision);
        if !decision.permitted() {
            let mut tx = state.writer.begin().await?;
            if !still_current(&mut tx, &loaded).await? {
                continue;
            }
            let seq = commit_with(tx, entry).await?;
            return Ok((
                StatusCode::FORBIDDEN,
                Json(decision_body(&decision, None, seq)),
            ));
        }
        // the packets are built and encrypted before taking a place in the write queue
        let issued_at = now();
        let sealed = seal(&state, facts, &loaded.records, &decision, issued_at, None)?;
        let notice = if decision.obligations.contains(&Obligation::NotifyMappa) {
            Some(notify::prepare(
                &state, &principal, &loaded, &decision, &sealed, issued_at,
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
        let mut tx = state.writer.begin().await?;
        // stored only if the child's facts are still those the decision was made on
        if !store(&mut tx, &loaded, &sealed).await? {
            continue;
        }
        let seq = match notice {
            Some(notify::Notice::Ready {
                sealed: notice,
                entry: mut notice_entry,
                ..
            }) => {
                let seq = tx.append(entry).await?;
                // same action, same facts_version: stored unless the facts moved, like its parent
                if !store(&mut tx, &loaded, &notice).await? {
                    continue;
                }
                notice_entry.detail["notifies"]["audit_seq"] = json!(seq);
                commit_with(tx, *notice_entry).await?;
                seq
            }
            _ => commit_with(tx, entry).await?,
        };
        return Ok((
            StatusCode::CREATED,
            Json(decision_body(&decision, Some(&sealed.disclosure), seq)),
        ));
    }
    Err(facts_kept_changing())
}

/// Stores a sealed packet, only if the child's facts are still those `loaded` was read at.
async fn store(tx: &mut WriteTx, loaded: &Loaded, p: &Sealed) -> Result<bool, ApiError> {
    let facts = &p.facts;
    let record_ids: Vec<&str> = facts.records.iter().map(|r| r.id.as_str()).collect();
    Ok(on_tx!(tx, c => sqlx::query(
        "INSERT INTO packets (disclosure_id, subject_id, record_ids, record_kind, from_agency, to_agency, to_role, to_sub, purpose, basis, view, issued_at, sha256, armored) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 \
         WHERE (SELECT facts_version FROM subjects WHERE id = $2) = $15")
        .bind(&p.disclosure)
        .bind(&facts.subject.id)
        .bind(serde_json::to_string(&record_ids).unwrap_or_default())
        .bind(facts.records[0].kind.as_str())
        .bind(&facts.requester.agency)
        .bind(&facts.recipient.agency)
        .bind(facts.recipient.role.map(|r| r.as_str()))
        .bind(&facts.recipient.sub)
        .bind(facts.request.purpose.as_str())
        .bind(facts.request.basis.as_str())
        .bind(p.view.as_str())
        .bind(p.issued_at)
        .bind(&p.sha)
        .bind(&p.armored)
        .bind(loaded.version)
        .execute(&mut **c)
        .await
        .map(|done| done.rows_affected() == 1)
        .map_err(store_failed)?))
}
