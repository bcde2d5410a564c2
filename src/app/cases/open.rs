//! Opening a case (`POST /v1/cases`, the console's `/ui/cases/new`): a children's social care
//! worker opens a case for a child, which their agency then leads; the clocks that start at
//! the referral start, the duties the opening sets off are carried out in the same write
//! action, and the opening is audited as `case.open`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::transfers::different_workers;
use super::{conflict, derive_clocks, involved, refused, views};
use crate::access::require;
use crate::app::duties::{ListedOn, carry_out};
use crate::app::views::{DutyView, duties};
use crate::audit::Entry;
use crate::cases::ClockView;
use crate::cases::rules::happened;
use crate::cases::store::{self, Case};
use crate::db::now;
use crate::decision::duties::Trigger;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, CaseId, SubjectId, new_id};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, CaseStatus, SubjectRole};

/// The most cases a case may be linked to when it is opened.
const MAX_LINKS: usize = 20;

/// A case as it arrives (`POST /v1/cases`, or the console's form of the same names).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCase {
    /// The child (a registered subject).
    pub subject_id: SubjectId,
    /// Whom the case is about in the incident: the child who displayed the behaviour, or the
    /// child harmed (each has a case of their own).
    pub subject_role: SubjectRole,
    /// When the referral was received: the clocks that start at the referral start here.
    pub referral_received_at: DateTime<Utc>,
    /// The agency that referred, if it is configured here.
    #[serde(default)]
    pub referred_by_agency: Option<AgencyId>,
    /// The lead worker's `sub` (default: the caller).
    #[serde(default)]
    pub lead_sub: Option<String>,
    /// Cases to link this one to (the other child of the same incident).
    #[serde(default)]
    pub linked_case_ids: Vec<CaseId>,
}

/// A case opened (`POST /v1/cases`): its clocks started at the referral and the duties that
/// opening set off.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CaseOpened {
    #[schemars(with = "crate::ids::CaseId")]
    pub id: String,
    pub clocks: Vec<ClockView>,
    pub duties: Vec<DutyView>,
    /// Agencies involved in the case besides its lead (PROCESS.md P3: a looked-after child's
    /// placing authority).
    pub involved_agencies: Vec<String>,
    pub audit_seq: i64,
}

/// Opens a case for a child, led by the caller's agency (policy `open_case`); audited as
/// `case.open`. One agency leads a child's case at a time.
pub async fn open(
    state: &AppState,
    principal: &Principal,
    body: NewCase,
) -> Result<CaseOpened, ApiError> {
    require(state, principal, Action::OpenCase)?;
    let subject = String::from(body.subject_id);
    happened("referral_received_at", body.referral_received_at, now()).map_err(refused)?;
    if let Some(a) = &body.referred_by_agency {
        state.configured_agency("referred_by_agency", a)?;
    }
    let lead_sub = match body.lead_sub.as_deref().map(str::trim) {
        Some("") => return Err(ApiError::invalid_field("lead_sub", "is empty")),
        Some(s) if s.chars().count() > 200 => {
            return Err(ApiError::invalid_field(
                "lead_sub",
                "is longer than 200 characters",
            ));
        }
        Some(s) => s.to_owned(),
        None => principal.sub.clone(),
    };
    if body.linked_case_ids.len() > MAX_LINKS {
        return Err(ApiError::invalid_field(
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
    let clocks = derive_clocks(state, referral, &[], &[])?;
    let case = Case {
        id: new_id(),
        subject_id: subject.clone(),
        subject_role: body.subject_role,
        lead_agency: principal.agency.to_string(),
        lead_sub,
        referred_by_agency: body.referred_by_agency.map(String::from),
        referral_received_at: referral,
        status: CaseStatus::Open,
        opened_at: now(),
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
    // one agency leads a child's case at a time, but a host area's child protection case may
    // open beside its placing authority's (Camden 8.5, PROCESS.md P3: `involved`)
    let placement = crate::cases::involved::placement_in(&mut tx, &subject).await?;
    for (open, lead) in crate::cases::involved::open_cases(&mut tx, &subject).await? {
        if lead != *principal.agency
            && involved::host_may_open_beside(state, principal, &placement, &lead)
        {
            continue;
        }
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
    // different workers for the children of one incident (PROCESS.md P5)
    different_workers(&mut tx, &linked, &case.lead_agency, &case.lead_sub).await?;
    store::insert(&mut tx, &case, &principal.sub, &linked).await?;
    let involved_agencies = involved::on_opening(&mut tx, &case).await?;
    store::store_clocks(
        &mut tx,
        &case.id,
        &case.lead_agency,
        CaseStatus::Open,
        &clocks,
    )
    .await?;
    let carried = carry_out(
        state,
        principal,
        &mut tx,
        Trigger::CaseOpened,
        ListedOn::Case(&case),
        None,
    )
    .await?;
    let seq = tx
        .commit(
            Entry::new(principal, "case.open")
                .subject(&subject)
                .detail(json!({
                    "case_id": case.id, "subject_role": case.subject_role,
                    "linked_case_ids": linked, "referred_by_agency": case.referred_by_agency,
                    "involved_agencies": involved_agencies,
                })),
        )
        .await?;
    Ok(CaseOpened {
        id: case.id,
        clocks: views(&clocks, now()),
        duties: duties(&carried),
        involved_agencies,
        audit_seq: seq,
    })
}
