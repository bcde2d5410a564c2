//! A child and the facts the rules need about it: registration, the recorded school and its
//! changes (RULES 4.3 e), competence assessments, staff designations. Each write is checked
//! against `policies/actions.csv` and audited in its own transaction. Consents are
//! their own module, as are MAPPA and the read of a child.

use chrono::{NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::views::Created;
use crate::access::{Relation, may_somewhere, not_permitted, require, require_as};
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::decision::facts::london_date;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, SubjectId, new_id};
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind};
use crate::{on_tx, with_db};

/// Today's date in Europe/London.
pub fn today() -> NaiveDate {
    london_date(Utc::now())
}

/// 422 naming a body (or form) field.
pub(super) fn invalid(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_field(field, message)
}

/// The subject's recorded school, or 404.
pub async fn subject_school(state: &AppState, subject: &str) -> Result<Option<String>, ApiError> {
    let row = with_db!(&state.db, pool => {
        sqlx::query("SELECT school_agency FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<Option<String>, _>("school_agency"))
            .transpose()?
    });
    row.ok_or_else(|| ApiError::not_found(format!("no subject {subject}")))
}

/// A child to register (`POST /v1/subjects`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubject {
    pub date_of_birth: NaiveDate,
    #[serde(default)]
    pub school_agency: Option<AgencyId>,
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub local_authority: Option<String>,
    /// Trimmed; blank means none.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub display_name: Option<String>,
}

/// Registers a child (as `register_subject` allows); the display name is sealed to the at-rest
/// key. Audited as `subject.register`.
pub async fn register(
    state: &AppState,
    principal: &Principal,
    body: NewSubject,
) -> Result<Created, ApiError> {
    require(state, principal, Action::RegisterSubject)?;
    if body.date_of_birth > today() {
        return Err(invalid("date_of_birth", "is in the future"));
    }
    if body.date_of_birth < today() - chrono::Duration::days(366 * 30) {
        return Err(invalid("date_of_birth", "is more than 30 years ago"));
    }
    if body
        .local_authority
        .as_deref()
        .is_some_and(|l| l.chars().count() > 200)
    {
        return Err(invalid("local_authority", "is longer than 200 characters"));
    }
    if let Some(school) = &body.school_agency {
        school_agency(state, school)?;
    }
    let home_area = super::places::home_area(state, principal, body.local_authority.as_deref())?;
    let name = match body
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(n) if n.chars().count() > 200 => {
            return Err(invalid("display_name", "is longer than 200 characters"));
        }
        Some(n) => Some(
            state
                .at_rest
                .encrypt(n.as_bytes())
                .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let subject = new_id();
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO subjects (id, date_of_birth, school_agency, local_authority, display_name_enc, registered_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&subject)
        .bind(body.date_of_birth.to_string())
        .bind(&body.school_agency)
        .bind(&home_area)
        .bind(&name)
        .bind(&*principal.agency)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "subject.register")
                .subject(&subject)
                .detail(json!({
                    "school_agency": body.school_agency,
                    "home_area": home_area.as_ref().filter(|_| !super::places::areas(state).is_empty()),
                })),
        )
        .await?;
    Ok(Created {
        id: subject,
        audit_seq: seq,
    })
}

/// A `school_agency` field must name a configured school, or 422.
fn school_agency(state: &AppState, school: &str) -> Result<(), ApiError> {
    if state.configured_agency("school_agency", school)?.kind != AgencyKind::School {
        return Err(invalid(
            "school_agency",
            format!("\"{school}\" is not a school"),
        ));
    }
    Ok(())
}

/// A child's school from now on (RULES 4.3 e). `school_agency` must be present; `null` means
/// the child has no school.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSchool {
    #[serde(deserialize_with = "super::present_or_null")]
    #[schemars(required, extend("type" = ["string", "null"]))]
    pub school_agency: Option<String>,
}

/// The school from now on and the one before.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SchoolChanged {
    pub subject_id: SubjectId,
    pub school_agency: Option<String>,
    pub previous_school_agency: Option<String>,
    pub audit_seq: i64,
}

/// Changes the child's recorded school as `change_school` rows allow, with the relation
/// `childs_school` when the child's current recorded school is the caller's agency (read
/// inside the write action, so the school checked is the school changed). Audited as
/// `subject.school` with the old and new school; from the commit on, rule 4.3 d uses the new
/// school.
pub async fn change_school(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: NewSchool,
) -> Result<SchoolChanged, ApiError> {
    if !may_somewhere(state, principal, Action::ChangeSchool) {
        return Err(not_permitted(principal, Action::ChangeSchool));
    }
    if let Some(school) = &body.school_agency {
        school_agency(state, school)?;
    }
    let mut tx = state.writer.begin().await?;
    let current: Option<Option<String>> = on_tx!(&mut tx, c => sqlx::query(
        "SELECT school_agency FROM subjects WHERE id = $1")
        .bind(&subject)
        .fetch_optional(&mut **c)
        .await?
        .map(|r| r.try_get::<Option<String>, _>("school_agency"))
        .transpose()?);
    let Some(previous) = current else {
        return Err(ApiError::not_found(format!("no subject {subject}")));
    };
    require_as(
        state,
        principal,
        Action::ChangeSchool,
        childs_school(principal, previous.as_deref()),
    )?;
    on_tx!(&mut tx, c => sqlx::query("UPDATE subjects SET school_agency = $1 WHERE id = $2")
        .bind(&body.school_agency)
        .bind(&subject)
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "subject.school")
                .subject(&subject)
                .detail(json!({"from": previous, "to": body.school_agency})),
        )
        .await?;
    Ok(SchoolChanged {
        subject_id: subject,
        school_agency: body.school_agency,
        previous_school_agency: previous,
        audit_seq: seq,
    })
}

/// Which assessment: Gillick competence or mental capacity.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    Gillick,
    Capacity,
}

impl Assessment {
    pub fn as_str(self) -> &'static str {
        match self {
            Assessment::Gillick => "gillick",
            Assessment::Capacity => "capacity",
        }
    }
}

/// A competence or capacity assessment to record.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCompetence {
    pub assessment: Assessment,
    pub outcome: bool,
    pub assessed_on: NaiveDate,
}

/// Records an assessment (as `record_competence` allows); audited as `competence.record`.
pub async fn record_competence(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: NewCompetence,
) -> Result<Created, ApiError> {
    require(state, principal, Action::RecordCompetence)?;
    if body.assessed_on > today() {
        return Err(invalid("assessed_on", "is in the future"));
    }
    subject_school(state, &subject).await?;
    let assessment = body.assessment.as_str();
    let row = new_id();
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO competence_assessments (id, subject_id, assessment, outcome, assessed_on, agency, sub, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&row)
        .bind(&subject)
        .bind(assessment)
        .bind(body.outcome)
        .bind(body.assessed_on.to_string())
        .bind(&*principal.agency)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let seq = tx
        .commit(
            Entry::new(principal, "competence.record")
                .subject(&subject)
                .detail(json!({
                    "assessment_id": row, "assessment": assessment, "outcome": body.outcome,
                    "assessed_on": body.assessed_on,
                })),
        )
        .await?;
    Ok(Created {
        id: row,
        audit_seq: seq,
    })
}

/// A member of the school's staff who needs to know (RULES 4.3 b).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDesignation {
    #[schemars(length(max = 200), extend("pattern" = crate::text::pattern(crate::text::Kind::SingleLine, true)))]
    pub staff_sub: String,
    #[schemars(extend("pattern" = crate::text::pattern(crate::text::Kind::FreeText, true)))]
    pub reason: String,
}

/// Designates a member of the caller's school's staff for a child whose recorded school it is
/// (as `designate_staff` allows, relation `childs_school`); the reason is sealed at rest.
/// Audited as `designation.record`, naming the member of staff as its recipient.
pub async fn designate(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: NewDesignation,
) -> Result<Created, ApiError> {
    if !may_somewhere(state, principal, Action::DesignateStaff) {
        return Err(not_permitted(principal, Action::DesignateStaff));
    }
    let staff = body.staff_sub.trim();
    if staff.is_empty() || staff.chars().count() > 200 {
        return Err(invalid(
            "staff_sub",
            "must name the member of staff (1 to 200 characters)",
        ));
    }
    if body.reason.trim().is_empty() {
        return Err(invalid("reason", "must say why they need to know"));
    }
    let school = subject_school(state, &subject).await?;
    require_as(
        state,
        principal,
        Action::DesignateStaff,
        childs_school(principal, school.as_deref()),
    )?;
    let reason = state
        .at_rest
        .encrypt(body.reason.trim().as_bytes())
        .map_err(ApiError::internal)?;
    let row = new_id();
    let mut tx = state.writer.begin().await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO staff_designations (id, subject_id, school_agency, staff_sub, reason_enc, designated_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&row)
        .bind(&subject)
        .bind(&*principal.agency)
        .bind(staff)
        .bind(&reason)
        .bind(&principal.sub)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    let mut entry = Entry::new(principal, "designation.record")
        .subject(&subject)
        .detail(json!({"designation_id": row}));
    entry.recipient_agency = Some(principal.agency.to_string());
    entry.recipient_role = Some("school_staff".into());
    entry.recipient_sub = Some(staff.to_owned());
    let seq = tx.commit(entry).await?;
    Ok(Created {
        id: row,
        audit_seq: seq,
    })
}

/// [`Relation::ChildsSchool`] when `school` (the child's recorded school) is the caller's.
pub fn childs_school(principal: &Principal, school: Option<&str>) -> Relation {
    if school == Some(&*principal.agency) {
        Relation::ChildsSchool
    } else {
        Relation::None
    }
}
