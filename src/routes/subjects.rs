//! Children and the facts the rules need about them: registration, the recorded school and its
//! changes, competence assessments, staff designations. Consents are `consents`, MAPPA status
//! and forum decisions `mappa`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use super::extract::{
    Body, Path, Relation, commit_with, configured_agency, invalid, may_somewhere, new_id,
    not_permitted, require, require_as, store_failed,
};
use super::views::Created;
use crate::audit::Entry;
use crate::db::{now, ts};
use crate::decision::facts::london_date;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, SubjectId};
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind};
use crate::{on_tx, with_db};

pub(super) fn today() -> NaiveDate {
    london_date(Utc::now())
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSubject {
    date_of_birth: NaiveDate,
    #[serde(default)]
    school_agency: Option<AgencyId>,
    #[serde(default)]
    #[schemars(length(max = 200))]
    local_authority: Option<String>,
    /// Trimmed; blank means none.
    #[serde(default)]
    #[schemars(length(max = 200))]
    display_name: Option<String>,
}

pub(crate) async fn register(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewSubject>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    require(&state, &principal, Action::RegisterSubject)?;
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
        school_agency(&state, school)?;
    }
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
        .bind(&body.local_authority)
        .bind(&name)
        .bind(&*principal.agency)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(store_failed)?);
    let seq = commit_with(
        tx,
        Entry::new(&principal, "subject.register")
            .subject(&subject)
            .detail(json!({
                "school_agency": body.school_agency,
            })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: subject,
            audit_seq: seq,
        }),
    ))
}

/// A `school_agency` field must name a configured school, or 422.
fn school_agency(state: &AppState, school: &str) -> Result<(), ApiError> {
    if configured_agency(state, "school_agency", school)?.kind != AgencyKind::School {
        return Err(invalid(
            "school_agency",
            format!("\"{school}\" is not a school"),
        ));
    }
    Ok(())
}

/// A child's school from now on (RULES 4.3 e). `school_agency` must be present; `null` means
/// the child has no school.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewSchool {
    #[serde(deserialize_with = "present_or_null")]
    #[schemars(required, extend("type" = ["string", "null"]))]
    school_agency: Option<String>,
}

/// A required member that may be `null`.
fn present_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

/// `PUT /v1/subjects/{id}/school`: as `change_school` rows allow, with the relation
/// `childs_school` when the child's current recorded school is the caller's agency (read
/// inside the write action, so the school checked is the school changed). Audited with the old and new
/// school; from the commit on, rule 4.3 d uses the new school.
pub(crate) async fn school(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewSchool>,
) -> Result<Json<SchoolChanged>, ApiError> {
    if !may_somewhere(&state, &principal, Action::ChangeSchool) {
        return Err(not_permitted(&principal, Action::ChangeSchool));
    }
    if let Some(school) = &body.school_agency {
        school_agency(&state, school)?;
    }
    let mut tx = state.writer.begin().await?;
    // read inside the write action, so the school checked is the school changed
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
        &state,
        &principal,
        Action::ChangeSchool,
        childs_school(&principal, previous.as_deref()),
    )?;
    on_tx!(&mut tx, c => sqlx::query("UPDATE subjects SET school_agency = $1 WHERE id = $2")
        .bind(&body.school_agency)
        .bind(&subject)
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(store_failed)?);
    let seq = commit_with(
        tx,
        Entry::new(&principal, "subject.school")
            .subject(&subject)
            .detail(json!({"from": previous, "to": body.school_agency})),
    )
    .await?;
    Ok(Json(SchoolChanged {
        subject_id: subject,
        school_agency: body.school_agency,
        previous_school_agency: previous,
        audit_seq: seq,
    }))
}

/// `PUT /v1/subjects/{id}/school` answered: the school from now on and the one before.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct SchoolChanged {
    subject_id: SubjectId,
    school_agency: Option<String>,
    previous_school_agency: Option<String>,
    audit_seq: i64,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Assessment {
    Gillick,
    Capacity,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCompetence {
    assessment: Assessment,
    outcome: bool,
    assessed_on: NaiveDate,
}

pub(crate) async fn competence(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewCompetence>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    require(&state, &principal, Action::RecordCompetence)?;
    if body.assessed_on > today() {
        return Err(invalid("assessed_on", "is in the future"));
    }
    subject_school(&state, &subject).await?;
    let assessment = if body.assessment == Assessment::Gillick {
        "gillick"
    } else {
        "capacity"
    };
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
        .map_err(store_failed)?);
    let seq = commit_with(
        tx,
        Entry::new(&principal, "competence.record")
            .subject(&subject)
            .detail(json!({
                "assessment_id": row, "assessment": assessment, "outcome": body.outcome,
                "assessed_on": body.assessed_on,
            })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: row,
            audit_seq: seq,
        }),
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDesignation {
    #[schemars(length(max = 200), extend("pattern" = crate::text::pattern(crate::text::Kind::SingleLine, true)))]
    staff_sub: String,
    #[schemars(extend("pattern" = crate::text::pattern(crate::text::Kind::FreeText, true)))]
    reason: String,
}

pub(crate) async fn designate(
    principal: Principal,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    Body(body): Body<NewDesignation>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    if !may_somewhere(&state, &principal, Action::DesignateStaff) {
        return Err(not_permitted(&principal, Action::DesignateStaff));
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
    let school = subject_school(&state, &subject).await?;
    require_as(
        &state,
        &principal,
        Action::DesignateStaff,
        childs_school(&principal, school.as_deref()),
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
        .map_err(store_failed)?);
    let mut entry = Entry::new(&principal, "designation.record")
        .subject(&subject)
        .detail(json!({"designation_id": row}));
    entry.recipient_agency = Some(principal.agency.to_string());
    entry.recipient_role = Some("school_staff".into());
    entry.recipient_sub = Some(staff.to_owned());
    let seq = commit_with(tx, entry).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: row,
            audit_seq: seq,
        }),
    ))
}

/// [`Relation::ChildsSchool`] when `school` (the child's recorded school) is the caller's.
fn childs_school(principal: &Principal, school: Option<&str>) -> Relation {
    if school == Some(&*principal.agency) {
        Relation::ChildsSchool
    } else {
        Relation::None
    }
}
