//! Cases (PROCESS.md, Cases): opening one for a child, reading it, and the lead agency's list
//! (recording its events is `case_events`) (with the overdue filter a team manager starts the day with). Who
//! may do each is `policies/actions.csv` (`open_case`, `read_case`, `record_case_event`,
//! `list_cases`, `read_all_cases`) with the relation `lead_agency`; every call is audited.
//! A case the caller may not see answers 404 exactly like one that does not exist.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::extract::{
    Body, Params, Path, commit_with, configured_agency, invalid, new_id, require,
};
pub(crate) use crate::app::cases::Filters;
use crate::app::cases::{self as app, CaseList, CaseView};
pub(super) use crate::app::cases::{hidden, relation, views};
use crate::audit::Entry;
use crate::cases::store::{self, Case};
use crate::cases::{self, Clock, Happened};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, CaseId, SubjectId};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus, SubjectRole};

/// The most cases a case may be linked to when it is opened.
const MAX_LINKS: usize = 20;
/// The longest rationale or note, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 20_000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewCase {
    /// The child (a registered subject).
    subject_id: SubjectId,
    /// Whom the case is about in the incident: the child who displayed the behaviour, or the
    /// child harmed (each has a case of their own).
    subject_role: SubjectRole,
    /// When the referral was received: the clocks that start at the referral start here.
    referral_received_at: DateTime<Utc>,
    /// The agency that referred, if it is configured here.
    #[serde(default)]
    referred_by_agency: Option<AgencyId>,
    /// The lead worker's `sub` (default: the caller).
    #[serde(default)]
    lead_sub: Option<String>,
    /// Cases to link this one to (the other child of the same incident).
    #[serde(default)]
    linked_case_ids: Vec<CaseId>,
}

pub(super) fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}

/// A case rule's refusal as the API answers it: 409 where the event conflicts with the case
/// as it stands, else 422.
pub(super) fn refused(r: cases::Refusal) -> ApiError {
    let status = if r.is_conflict() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    ApiError::new(status, r.code(), r.to_string())
}

pub(super) fn text_field(
    state: &AppState,
    field: &str,
    text: Option<&str>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(invalid(
            field,
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    state
        .at_rest
        .encrypt(text.as_bytes())
        .map(Some)
        .map_err(ApiError::internal)
}

/// The clocks of `events` on a case referred at `referral`, from the loaded policy.
pub(super) fn derive_clocks(
    state: &AppState,
    referral: DateTime<Utc>,
    events: &[Happened],
    stored: &[Clock],
) -> Result<Vec<Clock>, ApiError> {
    cases::derive(
        referral,
        events,
        state.policy.timescales(),
        state.policy.calendar(),
        stored,
    )
    .map_err(|e| ApiError::invalid("beyond_calendar", e.to_string()))
}

/// `POST /v1/cases`: a children's social care worker opens a case for a child, which their
/// agency then leads.
pub(crate) async fn open(
    principal: Principal,
    State(state): State<AppState>,
    Body(body): Body<NewCase>,
) -> Result<(StatusCode, Json<super::views::CaseOpened>), ApiError> {
    require(&state, &principal, Action::OpenCase)?;
    let subject = String::from(body.subject_id);
    cases::rules::happened("referral_received_at", body.referral_received_at, now())
        .map_err(refused)?;
    if let Some(a) = &body.referred_by_agency {
        configured_agency(&state, "referred_by_agency", a)?;
    }
    let lead_sub = match body.lead_sub.as_deref().map(str::trim) {
        Some("") => return Err(invalid("lead_sub", "is empty")),
        Some(s) if s.chars().count() > 200 => {
            return Err(invalid("lead_sub", "is longer than 200 characters"));
        }
        Some(s) => s.to_owned(),
        None => principal.sub.clone(),
    };
    if body.linked_case_ids.len() > MAX_LINKS {
        return Err(invalid(
            "linked_case_ids",
            format!("at most {MAX_LINKS} cases"),
        ));
    }
    let mut linked = Vec::with_capacity(body.linked_case_ids.len());
    for id in body.linked_case_ids.into_iter().map(String::from) {
        if !linked.contains(&id) {
            linked.push(id);
        }
    }
    let referral = body.referral_received_at;
    let clocks = derive_clocks(&state, referral, &[], &[])?;
    let opened_at = now();
    let case = Case {
        id: new_id(),
        subject_id: subject.clone(),
        subject_role: body.subject_role,
        lead_agency: principal.agency.to_string(),
        lead_sub,
        referred_by_agency: body.referred_by_agency.map(String::from),
        referral_received_at: referral,
        status: CaseStatus::Open,
        opened_at,
        closed_at: None,
        outcome: None,
    };

    let mut tx = state.writer.begin().await?;
    let known: Option<String> = on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT id FROM subjects WHERE id = $1")
        .bind(&subject)
        .fetch_optional(&mut **c)
        .await?);
    if known.is_none() {
        return Err(ApiError::invalid(
            "unknown_subject",
            format!("subject_id: no subject {subject}; register the child first"),
        ));
    }
    if let Some((open, lead)) = store::open_case_lead(&mut tx, &subject).await? {
        return Err(if lead == *principal.agency {
            conflict(
                "duplicate_open_case",
                format!(
                    "your agency already has case {open} open for this child; record events on it"
                ),
            )
        } else {
            conflict(
                "case_led_elsewhere",
                // who leads it is a fact of a case the caller may not read (GET /v1/cases)
                "another agency leads an open case for this child; one agency leads a child's \
                 case at a time (the partnership's IG officers can see which)",
            )
        });
    }
    let found = store::subjects_of(&mut tx, &linked).await?;
    for id in &linked {
        match found.iter().find(|(c, _)| c == id) {
            None => {
                return Err(ApiError::invalid(
                    "unknown_linked_case",
                    format!("linked_case_ids: no case {id}"),
                ));
            }
            Some((_, s)) if *s == subject => {
                return Err(ApiError::invalid(
                    "link_to_same_child",
                    format!(
                        "linked_case_ids: case {id} is this child's own; link the other child's case"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    store::insert(&mut tx, &case, &principal.sub, &linked).await?;
    store::store_clocks(
        &mut tx,
        &case.id,
        &case.lead_agency,
        CaseStatus::Open,
        &clocks,
    )
    .await?;
    let duties = crate::app::duties::carry_out(
        &state,
        &principal,
        &mut tx,
        Trigger::CaseOpened,
        crate::app::duties::ListedOn::Case(&case),
        None,
    )
    .await?;
    let seq = commit_with(
        tx,
        Entry::new(&principal, "case.open")
            .subject(&subject)
            .detail(json!({
                "case_id": case.id, "subject_role": case.subject_role,
                "linked_case_ids": linked, "referred_by_agency": case.referred_by_agency,
            })),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(super::views::CaseOpened {
            id: case.id,
            clocks: views(&clocks, now()),
            duties: crate::app::views::duties(&duties),
            audit_seq: seq,
        }),
    ))
}

/// `GET /v1/cases/{id}` (`app::cases::read`).
pub(crate) async fn get(
    principal: Principal,
    State(state): State<AppState>,
    Path(id): Path<CaseId>,
) -> Result<Json<CaseView>, ApiError> {
    app::read(&state, &principal, id).await.map(Json)
}

/// `GET /v1/cases` (`app::cases::list`).
pub(crate) async fn list(
    principal: Principal,
    State(state): State<AppState>,
    Params(f): Params<Filters>,
) -> Result<Json<CaseList>, ApiError> {
    app::list(&state, &principal, &f).await.map(Json)
}
