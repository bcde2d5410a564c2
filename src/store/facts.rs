//! The facts a disclosure is decided on, read from the database: the records (content still
//! sealed), the child's facts (date of birth, school, latest assessments, MAPPA status), its
//! consents, the recipient's staff designations, the chairs' permissions and the named forum
//! decision. The subject's `facts_version` is read in the same statement as the child's facts
//! and before anything that can change (records themselves do not), so
//! [`Loaded::still_current`], asked inside the write queue, proves the decision was made on
//! current facts.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Reader, json_list, on_reader, term};
use crate::db::{Tx, parse_ts};
use crate::decision::{
    ConsentFacts, Facts, MappaDecisionFacts, Policy, Recipient, RecordFacts, RequestFacts,
    Requester, StaffDesignation, Subject, has_chair,
};
use crate::error::ApiError;
use crate::ids::{RecordId, SubjectId};
use crate::on_tx;

/// What a decision is asked about: everything the request itself says. The database adds
/// the rest ([`load`]).
#[derive(Debug, Clone)]
pub struct Ask {
    /// The instant the decision is asked at (ages and consent currency are taken on it). The
    /// loaded facts carry the later of this and the instant the read finished: a decision is
    /// never made as of a moment before the facts it read, so a withdrawal acknowledged while
    /// the request waited (its instant after `at`, before the read) is in force for it.
    pub at: DateTime<Utc>,
    /// The child. `None`: the first record's subject (a disclosure names only records; rule
    /// 2.2 refuses any record about another child).
    pub subject: Option<SubjectId>,
    /// The records to disclose, in order; at least one unless `subject` is named.
    pub record_ids: Vec<RecordId>,
    pub requester: Requester,
    /// The recipient, its agency kind already resolved from the configuration.
    pub recipient: Recipient,
    /// Purpose, basis, justification, legal reference, the named forum decision.
    pub request: RequestFacts,
}

/// A record as loaded for a disclosure (content still sealed to the at-rest key).
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub facts: RecordFacts,
    pub content_enc: Vec<u8>,
}

/// The facts a decision is made on, and the subject's facts version they were read at.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub facts: Facts,
    pub records: Vec<StoredRecord>,
    pub version: i64,
    /// The agency that set the child's MAPPA status (the forum managing the child), if any.
    pub mappa_agency: Option<String>,
    /// The child's name, still sealed to the at-rest key (the packet names the child).
    pub display_name_enc: Option<Vec<u8>>,
}

/// The facts that live beside the child, read in one statement.
#[derive(sqlx::FromRow)]
struct ChildRow {
    facts_version: i64,
    date_of_birth: String,
    school_agency: Option<String>,
    local_authority: Option<String>,
    residence_area: Option<String>,
    looked_after: bool,
    placed_by: Option<String>,
    gillick: Option<bool>,
    capacity: Option<bool>,
    mappa_active: Option<bool>,
    mappa_agency: Option<String>,
    display_name_enc: Option<Vec<u8>>,
}

/// One statement, one snapshot: the version and the facts that live beside the child (the
/// latest assessment of each kind is the fact the rules use).
const CHILD: &str = "SELECT s.facts_version, s.date_of_birth, s.school_agency, s.display_name_enc, \
    s.local_authority, s.residence_area, s.looked_after, s.placed_by, \
    (SELECT a.outcome FROM competence_assessments a WHERE a.subject_id = s.id \
       AND a.assessment = 'gillick' ORDER BY a.assessed_on DESC, a.created_at DESC LIMIT 1) AS gillick, \
    (SELECT a.outcome FROM competence_assessments a WHERE a.subject_id = s.id \
       AND a.assessment = 'capacity' ORDER BY a.assessed_on DESC, a.created_at DESC LIMIT 1) AS capacity, \
    (SELECT m.active FROM mappa_status m WHERE m.subject_id = s.id) AS mappa_active, \
    (SELECT m.agency FROM mappa_status m WHERE m.subject_id = s.id) AS mappa_agency \
    FROM subjects s WHERE s.id = $1";

/// What the database holds about `ask`, outside the write queue (`Reader::Pool`) or inside a
/// write action (`Reader::Tx`). An unknown record or child is 404 naming it; a stored value
/// the broker cannot read back is 500.
pub async fn load(reader: Reader<'_>, policy: &Policy, ask: Ask) -> Result<Loaded, ApiError> {
    let Ask {
        at,
        subject,
        record_ids,
        requester,
        recipient,
        request,
    } = ask;
    let read = on_reader!(reader, conn => {
        let mut records = Vec::with_capacity(record_ids.len());
        for record in &record_ids {
            let row = sqlx::query(
                "SELECT subject_id, owner_agency, kind, subject_role, sections, content_enc, chair_agency FROM records WHERE id = $1")
                .bind(record)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(r) = row else {
                return Err(ApiError::not_found(format!("no record {record}")));
            };
            records.push(StoredRecord {
                facts: RecordFacts {
                    id: record.to_string(),
                    subject_id: r.try_get("subject_id")?,
                    kind: term(&r.try_get::<String, _>("kind")?)?,
                    owner: r.try_get("owner_agency")?,
                    subject_role: term(&r.try_get::<String, _>("subject_role")?)?,
                    sections: json_list(&r.try_get::<String, _>("sections")?)?,
                    chair: r.try_get("chair_agency")?,
                    chair_permissions: Vec::new(),
                },
                content_enc: r.try_get("content_enc")?,
            });
        }
        let subject_id = match subject.map(String::from).or_else(|| records.first().map(|r| r.facts.subject_id.clone())) {
            Some(s) => s,
            None => return Err(ApiError::internal("a disclosure's facts need a child or a record")),
        };
        let child: Option<ChildRow> = sqlx::query_as(CHILD)
            .bind(&subject_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(child) = child else {
            return Err(ApiError::not_found(format!("no subject {subject_id}")));
        };
        for stored in &mut records {
            if has_chair(policy, stored.facts.kind) {
                stored.facts.chair_permissions = sqlx::query(
                    "SELECT recipient_agency FROM chair_permissions WHERE record_id = $1")
                    .bind(&stored.facts.id)
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>("recipient_agency"))
                    .collect::<Result<Vec<_>, _>>()?;
            }
        }
        let consents = sqlx::query(
            "SELECT given_by, purposes, recipient_kinds, expires_at, withdrawn_at FROM consents WHERE subject_id = $1")
            .bind(&subject_id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| -> Result<ConsentFacts, sqlx::Error> {
                Ok(ConsentFacts {
                    given_by: term(&r.try_get::<String, _>("given_by")?)?,
                    purposes: json_list(&r.try_get::<String, _>("purposes")?)?,
                    recipient_kinds: json_list(&r.try_get::<String, _>("recipient_kinds")?)?,
                    expires_at: r.try_get::<Option<String>, _>("expires_at")?.map(|t| parse_ts(&t)).transpose()?,
                    withdrawn_at: r.try_get::<Option<String>, _>("withdrawn_at")?.map(|t| parse_ts(&t)).transpose()?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let staff_designations = sqlx::query(
            "SELECT staff_sub FROM staff_designations WHERE subject_id = $1 AND school_agency = $2")
            .bind(&subject_id)
            .bind(&recipient.agency)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok(StaffDesignation { staff_sub: r.try_get("staff_sub")?, subject_id: subject_id.clone() }))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let mut mappa_decisions = Vec::new();
        if let Some(decision) = &request.mappa_decision_id {
            let row = sqlx::query(
                "SELECT subject_id, recipient_agency, recipient_role, purposes, sections, expires_at FROM mappa_decisions WHERE id = $1")
                .bind(decision)
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(r) = row {
                mappa_decisions.push(MappaDecisionFacts {
                    id: decision.clone(),
                    subject_id: r.try_get("subject_id")?,
                    recipient_agency: r.try_get("recipient_agency")?,
                    recipient_role: r.try_get::<Option<String>, _>("recipient_role")?.map(|x| term(&x)).transpose()?,
                    purposes: json_list(&r.try_get::<String, _>("purposes")?)?,
                    sections: json_list(&r.try_get::<String, _>("sections")?)?,
                    expires_at: Some(parse_ts(&r.try_get::<String, _>("expires_at")?)?),
                });
            }
        }
        (subject_id, child, records, consents, staff_designations, mappa_decisions)
    });
    let (subject_id, child, records, consents, staff_designations, mappa_decisions) = read;
    // A consent withdrawn at t, committed after `at` was taken but before this read, would
    // otherwise still be in force "at `at`" and the packet would be sent after the withdrawal
    // was acknowledged (and placed after it in the chain).
    let at = at.max(crate::db::now());
    let facts = Facts {
        at,
        requester,
        recipient,
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
            home_area: child.local_authority,
            current_area: child.residence_area,
            placed_by: child.placed_by.filter(|_| child.looked_after),
        },
        records: records.iter().map(|r| r.facts.clone()).collect(),
        consents,
        mappa_decisions,
        staff_designations,
        request,
    };
    Ok(Loaded {
        facts,
        records,
        version: child.facts_version,
        mappa_agency: child.mappa_agency,
        display_name_enc: child.display_name_enc,
    })
}

/// The child's facts version now (inside the write queue: as this action sees it).
pub async fn facts_version(tx: &mut Tx, subject: &str) -> Result<i64, ApiError> {
    Ok(
        on_tx!(tx, c => sqlx::query("SELECT facts_version FROM subjects WHERE id = $1")
        .bind(subject)
        .fetch_one(&mut **c)
        .await
        .and_then(|r| r.try_get("facts_version"))?),
    )
}

impl Loaded {
    /// Inside the write queue: are the child's facts still those this was read at?
    pub async fn still_current(&self, tx: &mut Tx) -> Result<bool, ApiError> {
        Ok(facts_version(tx, &self.facts.subject.id).await? == self.version)
    }
}
