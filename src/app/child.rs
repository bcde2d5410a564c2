//! A child read: its details (the display name unsealed), consents, competence assessments,
//! MAPPA status, staff designations, and the caller's agency's records and cases about it; and
//! the list of the children the caller may read. Who may read a child is `read_subject` in
//! `policies/actions.csv` (relations `knows_child`, `childs_school`, `lead_agency`); anyone
//! else is answered as for an unknown child (404). Reads are audited (`subject.read`,
//! `subject.list`).

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::places::Residence;
use super::subjects::today;
use crate::access::{Relation, may, may_any};
use crate::audit::Entry;
use crate::decision::facts::age_on;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::state::AppState;
use crate::vocab::Action;
use crate::with_db;

/// The child's details and everything about it the caller's agency may see.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChildView {
    pub subject_id: SubjectId,
    /// The name the registering agency gave (null: none given).
    pub display_name: Option<String>,
    pub date_of_birth: NaiveDate,
    /// Whole years on today's date in Europe/London.
    pub age: i32,
    pub school_agency: Option<String>,
    /// The school's configured name (null: no school, or one no longer configured).
    pub school_name: Option<String>,
    /// The child's home area: with areas configured, an area id (PROCESS.md, Places).
    pub local_authority: Option<String>,
    /// Where the child lives (null area: its home area), looked after or not, and who placed it.
    pub residence: Residence,
    pub registered_by: String,
    pub consents: Vec<ConsentView>,
    pub competence: Vec<CompetenceView>,
    pub mappa: Option<MappaView>,
    pub designations: Vec<DesignationView>,
    /// The caller's agency's records about the child, newest first.
    pub records: Vec<ChildRecord>,
    /// The cases about the child that the caller's agency leads, newest first.
    pub cases: Vec<ChildCase>,
    pub audit_seq: i64,
}

/// A consent as recorded (its giver, scope, expiry and withdrawal).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConsentView {
    #[schemars(with = "crate::ids::ConsentId")]
    pub id: String,
    #[schemars(with = "crate::vocab::Giver")]
    pub given_by: String,
    #[schemars(with = "Vec<crate::vocab::Purpose>")]
    pub purposes: Vec<String>,
    #[schemars(with = "Vec<crate::vocab::AgencyKind>")]
    pub recipient_kinds: Vec<String>,
    #[schemars(with = "Option<chrono::DateTime<chrono::Utc>>")]
    pub expires_at: Option<String>,
    #[schemars(with = "Option<chrono::DateTime<chrono::Utc>>")]
    pub withdrawn_at: Option<String>,
    pub agency: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub created_at: String,
}

/// A Gillick competence or mental capacity assessment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CompetenceView {
    #[schemars(with = "super::subjects::Assessment")]
    pub assessment: String,
    pub outcome: bool,
    pub assessed_on: String,
    pub agency: String,
}

/// The child's MAPPA management status and who set it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MappaView {
    pub active: bool,
    pub category: i32,
    pub level: i32,
    pub agency: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub updated_at: String,
}

/// A member of a school's staff designated as needing to know (the reason stays sealed).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DesignationView {
    pub school_agency: String,
    pub staff_sub: String,
    pub designated_by: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub created_at: String,
}

/// A record of the caller's agency about the child (no content).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChildRecord {
    #[schemars(with = "crate::ids::RecordId")]
    pub id: String,
    pub kind: String,
    pub subject_role: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub created_at: String,
}

/// A case about the child that the caller's agency leads.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChildCase {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    pub status: String,
    #[schemars(with = "chrono::DateTime<chrono::Utc>")]
    pub opened_at: String,
}

/// One child in the list: by name, date of birth and school.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChildSummary {
    pub subject_id: SubjectId,
    pub display_name: Option<String>,
    pub date_of_birth: NaiveDate,
    pub school_agency: Option<String>,
    pub school_name: Option<String>,
}

/// The columns every read of a child takes, with the relations of the caller's agency (`$1`)
/// to it (a macro, so each query is one literal).
macro_rules! child_sql {
    () => {
        "SELECT s.id, s.date_of_birth, s.school_agency, s.local_authority, \
     s.residence_area, s.looked_after, s.placed_by, s.display_name_enc, s.registered_by, s.created_at, \
     CAST(CASE WHEN s.registered_by = $1 \
       OR EXISTS (SELECT 1 FROM records r WHERE r.subject_id = s.id AND r.owner_agency = $1) \
       OR EXISTS (SELECT 1 FROM consents c WHERE c.subject_id = s.id AND c.agency = $1) \
       OR EXISTS (SELECT 1 FROM competence_assessments a WHERE a.subject_id = s.id AND a.agency = $1) \
       OR EXISTS (SELECT 1 FROM mappa_status m WHERE m.subject_id = s.id AND m.agency = $1) \
       OR EXISTS (SELECT 1 FROM mappa_decisions d WHERE d.subject_id = s.id AND d.chair_agency = $1) \
       THEN 1 ELSE 0 END AS BIGINT) AS knows, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM cases k WHERE k.subject_id = s.id AND k.lead_agency = $1) \
       THEN 1 ELSE 0 END AS BIGINT) AS leads \
     FROM subjects s"
    };
}

/// A child's row as read, with the relations that hold.
struct Row0 {
    id: String,
    date_of_birth: NaiveDate,
    school_agency: Option<String>,
    local_authority: Option<String>,
    residence: Residence,
    name_enc: Option<Vec<u8>>,
    registered_by: String,
    relations: Vec<Relation>,
}

/// A child's row (`child_sql!`) decoded, with the relations of the caller's agency to it.
macro_rules! row0 {
    ($r:expr, $agency:expr) => {{
        let r = $r;
        (|| -> Result<Row0, sqlx::Error> {
            let school: Option<String> = r.try_get("school_agency")?;
            let mut relations = Vec::new();
            if r.try_get::<i64, _>("knows")? == 1 {
                relations.push(Relation::KnowsChild);
            }
            if r.try_get::<i64, _>("leads")? == 1 {
                relations.push(Relation::LeadAgency);
            }
            if school.as_deref() == Some($agency) {
                relations.push(Relation::ChildsSchool);
            }
            let dob: String = r.try_get("date_of_birth")?;
            Ok(Row0 {
                id: r.try_get("id")?,
                date_of_birth: dob.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                school_agency: school,
                local_authority: r.try_get("local_authority")?,
                residence: Residence {
                    area: r.try_get("residence_area")?,
                    looked_after: r.try_get("looked_after")?,
                    placed_by: r.try_get("placed_by")?,
                },
                name_enc: r.try_get("display_name_enc")?,
                registered_by: r.try_get("registered_by")?,
                relations,
            })
        })()
    }};
}

impl Row0 {
    fn name(&self, state: &AppState) -> Result<Option<String>, ApiError> {
        self.name_enc
            .as_deref()
            .map(|c| {
                state
                    .at_rest
                    .decrypt(c)
                    .map_err(ApiError::internal)
                    .and_then(|p| String::from_utf8(p).map_err(ApiError::internal))
            })
            .transpose()
    }
}

/// The name of a configured agency, if it is configured.
pub fn agency_name(state: &AppState, id: &str) -> Option<String> {
    state.agencies.get(id).map(|a| a.name.clone())
}

/// The child `subject` as the caller may read it (as `read_subject` allows); anyone else, and
/// an unknown id, 404 alike. Audited as `subject.read`.
pub async fn view(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
) -> Result<ChildView, ApiError> {
    let absent = || ApiError::not_found(format!("no subject {subject}"));
    let agency = &*principal.agency;
    let found = with_db!(&state.db, pool => {
        sqlx::query(concat!(child_sql!(), " WHERE s.id = $2"))
            .bind(agency)
            .bind(&subject)
            .fetch_optional(pool)
            .await?
            .map(|r| row0!(&r, agency))
            .transpose()?
    });
    let child = found.ok_or_else(absent)?;
    if !may_any(state, principal, Action::ReadSubject, &child.relations) {
        return Err(absent());
    }
    let mut view = facts(state, principal, &child).await?;
    let tx = state.writer.begin().await?;
    view.audit_seq = tx
        .commit(Entry::new(principal, "subject.read").subject(&child.id))
        .await?;
    Ok(view)
}

/// Everything about the child the page shows, read on the read pool.
async fn facts(
    state: &AppState,
    principal: &Principal,
    child: &Row0,
) -> Result<ChildView, ApiError> {
    let id = child.id.as_str();
    let agency = &*principal.agency;
    let (consents, competence, mappa, designations, records, cases) = with_db!(&state.db, pool => {
        let consents = sqlx::query(
            "SELECT id, given_by, purposes, recipient_kinds, expires_at, withdrawn_at, agency, created_at \
             FROM consents WHERE subject_id = $1 ORDER BY created_at DESC, id")
            .bind(id).fetch_all(pool).await?
            .iter().map(|r| -> Result<ConsentView, sqlx::Error> {
                let purposes: String = r.try_get("purposes")?;
                let kinds: String = r.try_get("recipient_kinds")?;
                Ok(ConsentView {
                    id: r.try_get("id")?,
                    given_by: r.try_get("given_by")?,
                    purposes: serde_json::from_str(&purposes).unwrap_or_default(),
                    recipient_kinds: serde_json::from_str(&kinds).unwrap_or_default(),
                    expires_at: r.try_get("expires_at")?,
                    withdrawn_at: r.try_get("withdrawn_at")?,
                    agency: r.try_get("agency")?,
                    created_at: r.try_get("created_at")?,
                })
            }).collect::<Result<Vec<_>, _>>()?;
        let competence = sqlx::query(
            "SELECT assessment, outcome, assessed_on, agency FROM competence_assessments \
             WHERE subject_id = $1 ORDER BY assessed_on DESC, created_at DESC")
            .bind(id).fetch_all(pool).await?
            .iter().map(|r| -> Result<CompetenceView, sqlx::Error> {
                Ok(CompetenceView {
                    assessment: r.try_get("assessment")?,
                    outcome: r.try_get("outcome")?,
                    assessed_on: r.try_get("assessed_on")?,
                    agency: r.try_get("agency")?,
                })
            }).collect::<Result<Vec<_>, _>>()?;
        let mappa = sqlx::query(
            "SELECT active, category, level, agency, updated_at FROM mappa_status WHERE subject_id = $1")
            .bind(id).fetch_optional(pool).await?
            .map(|r| -> Result<MappaView, sqlx::Error> {
                Ok(MappaView {
                    active: r.try_get("active")?,
                    category: r.try_get("category")?,
                    level: r.try_get("level")?,
                    agency: r.try_get("agency")?,
                    updated_at: r.try_get("updated_at")?,
                })
            }).transpose()?;
        let designations = sqlx::query(
            "SELECT school_agency, staff_sub, designated_by, created_at FROM staff_designations \
             WHERE subject_id = $1 ORDER BY created_at DESC, id")
            .bind(id).fetch_all(pool).await?
            .iter().map(|r| -> Result<DesignationView, sqlx::Error> {
                Ok(DesignationView {
                    school_agency: r.try_get("school_agency")?,
                    staff_sub: r.try_get("staff_sub")?,
                    designated_by: r.try_get("designated_by")?,
                    created_at: r.try_get("created_at")?,
                })
            }).collect::<Result<Vec<_>, _>>()?;
        let records = sqlx::query(
            "SELECT id, kind, subject_role, created_at FROM records \
             WHERE subject_id = $1 AND owner_agency = $2 ORDER BY created_at DESC, id")
            .bind(id).bind(agency).fetch_all(pool).await?
            .iter().map(|r| -> Result<ChildRecord, sqlx::Error> {
                Ok(ChildRecord {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    subject_role: r.try_get("subject_role")?,
                    created_at: r.try_get("created_at")?,
                })
            }).collect::<Result<Vec<_>, _>>()?;
        let cases = sqlx::query(
            "SELECT id, status, opened_at FROM cases \
             WHERE subject_id = $1 AND lead_agency = $2 ORDER BY opened_at DESC, id")
            .bind(id).bind(agency).fetch_all(pool).await?
            .iter().map(|r| -> Result<ChildCase, sqlx::Error> {
                Ok(ChildCase {
                    id: r.try_get("id")?,
                    status: r.try_get("status")?,
                    opened_at: r.try_get("opened_at")?,
                })
            }).collect::<Result<Vec<_>, _>>()?;
        (consents, competence, mappa, designations, records, cases)
    });
    Ok(ChildView {
        subject_id: crate::ids::parse(&child.id)?,
        display_name: child.name(state)?,
        date_of_birth: child.date_of_birth,
        age: age_on(child.date_of_birth, today()),
        school_name: child
            .school_agency
            .as_deref()
            .and_then(|s| agency_name(state, s)),
        school_agency: child.school_agency.clone(),
        local_authority: child.local_authority.clone(),
        residence: child.residence.clone(),
        registered_by: child.registered_by.clone(),
        consents,
        competence,
        mappa,
        designations,
        records,
        cases,
        audit_seq: 0,
    })
}

/// The children the caller may read (as `read_subject` allows), newest first, at most 200.
/// Audited as `subject.list`.
pub async fn list(state: &AppState, principal: &Principal) -> Result<Vec<ChildSummary>, ApiError> {
    let agency = &*principal.agency;
    // a caller the policy lets read any child sees every child; anyone else the children one
    // of whose relations holds
    let sql = if may(state, principal, Action::ReadSubject) {
        concat!(child_sql!(), " ORDER BY s.created_at DESC, s.id LIMIT 200")
    } else {
        concat!(
            "SELECT * FROM (",
            child_sql!(),
            ") AS c WHERE c.knows = 1 OR c.leads = 1 \
             OR c.school_agency = $1 ORDER BY c.created_at DESC, c.id LIMIT 200"
        )
    };
    let rows = with_db!(&state.db, pool => {
        sqlx::query(sql)
            .bind(agency)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| row0!(r, agency))
            .collect::<Result<Vec<_>, _>>()?
    });
    let mut children = Vec::new();
    for child in rows
        .into_iter()
        .filter(|c| may_any(state, principal, Action::ReadSubject, &c.relations))
    {
        children.push(ChildSummary {
            subject_id: crate::ids::parse(&child.id)?,
            display_name: child.name(state)?,
            date_of_birth: child.date_of_birth,
            school_name: child
                .school_agency
                .as_deref()
                .and_then(|s| agency_name(state, s)),
            school_agency: child.school_agency,
        });
    }
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(principal, "subject.list").detail(json!({"children": children.len()})))
        .await?;
    Ok(children)
}
