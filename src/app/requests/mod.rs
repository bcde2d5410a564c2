//! Requests for information (PROCESS.md, Meetings, actions and requests for information; issue
//! 23 item 7). The lead agency of a child's open case asks another agency for information
//! about the child ("each agency should contribute information to all ... assessments",
//! Camden §14): `ask` (`POST /v1/requests`, audited `request.create`), for a purpose, naming
//! the sections it needs, by a due time. Both sides list them (`list`, `GET /v1/requests`,
//! audited `request.list`), an open request past its due time shown `overdue`. The addressee
//! answers by a disclosure that names the request (`answer`: checked before the decision,
//! closed in the disclosure's own write action, audited `request.answer`) or declines it with
//! a reason (`decline`, audited `request.decline`). Who may do each is `policies/actions.csv`
//! (`request_information` with `lead_agency`, `list_requests`, `decline_request` with
//! `request_to`). The note and the reason are sealed at rest and never audited.

mod answer;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::share::Child;
use super::{sealed_text as sealed, unsealed_text as unsealed};
use crate::access::{Relation, may_as, may_somewhere, not_permitted, require};
use crate::audit::Entry;
use crate::cases::requests::{self as store, Filter, InfoRequest};
use crate::db::now;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, RequestId, SubjectId, new_id};
use crate::state::AppState;
use crate::vocab::{Action, Purpose, Section};

pub use answer::{Answering, Declined, NewDecline, answering, decline, mark_answered};

/// The longest note or reason, in characters (as a case's rationale).
/// How far in the past a due time may lie and still be taken as "now" (clock skew).
const SKEW_SECONDS: i64 = 120;

fn conflict(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, detail)
}

/// 404 for a request the caller's agency neither asked nor received, as for an unknown one.
fn hidden(id: &str) -> ApiError {
    ApiError::not_found(format!("no request for information {id} that you can see"))
}

/// A request as it is shown to both sides (`GET /v1/requests`, a case's `requests`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RequestView {
    #[schemars(with = "crate::ids::RequestId")]
    pub id: String,
    pub subject_id: String,
    /// Whom it is about, as a packet names the child (the addressee needs to know).
    pub child: Child,
    /// The requester's open case the request was made for.
    pub case_id: String,
    pub from_agency: String,
    pub from_sub: String,
    pub to_agency: String,
    pub purpose: Purpose,
    pub sections: Vec<Section>,
    pub due_at: DateTime<Utc>,
    pub note: Option<String>,
    /// `open`, `answered` or `declined`.
    pub status: String,
    /// Open past its due time.
    pub overdue: bool,
    pub answered_at: Option<DateTime<Utc>>,
    /// Answered after its due time.
    pub answered_late: bool,
    /// The disclosure that answered it.
    pub disclosure_id: Option<String>,
    pub declined_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `r` as shown at `at`.
pub fn view(state: &AppState, r: &InfoRequest, at: DateTime<Utc>) -> Result<RequestView, ApiError> {
    Ok(RequestView {
        id: r.id.clone(),
        subject_id: r.subject_id.clone(),
        child: Child::of_row(state, &r.child_born, r.child_name_enc.as_deref())?,
        case_id: r.case_id.clone(),
        from_agency: r.from_agency.clone(),
        from_sub: r.from_sub.clone(),
        to_agency: r.to_agency.clone(),
        purpose: r.purpose.parse().map_err(ApiError::internal)?,
        sections: r
            .sections
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)?,
        due_at: r.due_at,
        note: unsealed(state, &r.note_enc)?,
        status: r.status.clone(),
        overdue: r.is_open() && r.due_at < at,
        answered_at: r.answered_at,
        answered_late: r.answered_at.is_some_and(|a| a > r.due_at),
        disclosure_id: r.disclosure_id.clone(),
        declined_at: r.declined_at,
        reason: unsealed(state, &r.reason_enc)?,
        created_at: r.created_at,
    })
}

/// The requests made for case `case_id`, as its page lists them (read with the case, whose
/// `case.read` entry audits it).
pub async fn of_case(state: &AppState, case_id: &str) -> Result<Vec<RequestView>, ApiError> {
    let at = now();
    store::of_case(&state.db, case_id)
        .await?
        .iter()
        .map(|r| view(state, r, at))
        .collect()
}

/// A request as it arrives (`POST /v1/requests`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// The child; the caller's agency must lead the child's open case.
    pub subject_id: SubjectId,
    /// The agency asked (a configured agency other than the caller's).
    pub to_agency: AgencyId,
    pub purpose: Purpose,
    /// The sections wanted: at least one, none twice.
    #[schemars(length(min = 1), extend("uniqueItems" = true))]
    pub sections: Vec<Section>,
    /// By when (in the future).
    pub due_at: DateTime<Utc>,
    /// What is wanted and why, for the addressee.
    #[serde(default)]
    pub note: Option<String>,
}

/// A request asked: open until answered or declined.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestCreated {
    #[schemars(with = "crate::ids::RequestId")]
    pub id: String,
    pub case_id: String,
    pub subject_id: String,
    pub from_agency: String,
    pub to_agency: String,
    pub purpose: Purpose,
    pub sections: Vec<Section>,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub audit_seq: i64,
}

/// The lead agency of the child's open case asks `to_agency` for information (policy
/// `request_information`, relation `lead_agency`); audited as `request.create`. A caller whose
/// agency leads no open case of the child is answered 404, as for an unknown child.
pub async fn ask(
    state: &AppState,
    principal: &Principal,
    body: NewRequest,
) -> Result<RequestCreated, ApiError> {
    if !may_somewhere(state, principal, Action::RequestInformation) {
        return Err(not_permitted(principal, Action::RequestInformation));
    }
    let to = String::from(body.to_agency);
    state.configured_agency("to_agency", &to)?;
    if to == *principal.agency {
        return Err(ApiError::invalid_field(
            "to_agency",
            "is your own agency; ask another agency",
        ));
    }
    if body.sections.is_empty() {
        return Err(ApiError::invalid_field(
            "sections",
            "name at least one section",
        ));
    }
    let mut sections: Vec<Section> = body.sections.clone();
    sections.sort();
    sections.dedup();
    if sections.len() != body.sections.len() {
        return Err(ApiError::invalid_field("sections", "names a section twice"));
    }
    let at = now();
    if body.due_at < at - chrono::Duration::seconds(SKEW_SECONDS) {
        return Err(ApiError::invalid_field("due_at", "is in the past"));
    }
    let note_enc = sealed(state, "note", body.note.as_deref())?;
    let subject = String::from(body.subject_id);

    let mut tx = state.writer.begin().await?;
    let Some(case_id) = store::open_case_led_by(&mut tx, &subject, &principal.agency).await? else {
        return Err(ApiError::not_found(format!(
            "no open case of child {subject} that your agency leads; a request for information \
             is asked for the child's case by its lead agency"
        )));
    };
    if !may_as(
        state,
        principal,
        Action::RequestInformation,
        Relation::LeadAgency,
    ) {
        return Err(not_permitted(principal, Action::RequestInformation));
    }
    let r = InfoRequest {
        id: new_id(),
        subject_id: subject,
        case_id,
        from_agency: principal.agency.to_string(),
        from_sub: principal.sub.clone(),
        to_agency: to,
        purpose: body.purpose.to_string(),
        sections: body.sections.iter().map(|s| s.to_string()).collect(),
        due_at: body.due_at,
        note_enc,
        status: "open".into(),
        answered_at: None,
        disclosure_id: None,
        declined_at: None,
        reason_enc: None,
        created_at: at,
        // the child is read with the request, never stored with it
        child_born: String::new(),
        child_name_enc: None,
    };
    store::insert(&mut tx, &r).await?;
    let audit_seq = tx
        .commit(
            Entry::new(principal, "request.create")
                .subject(&r.subject_id)
                .detail(json!({
                    "request_id": r.id, "case_id": r.case_id, "to_agency": r.to_agency,
                    "purpose": r.purpose, "sections": r.sections, "due_at": r.due_at,
                })),
        )
        .await?;
    Ok(RequestCreated {
        id: r.id,
        case_id: r.case_id,
        subject_id: r.subject_id,
        from_agency: r.from_agency,
        to_agency: r.to_agency,
        purpose: body.purpose,
        sections: body.sections,
        due_at: r.due_at,
        status: r.status,
        audit_seq,
    })
}

/// Which side of a request the caller's agency is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Addressed to the caller's agency.
    To,
    /// Asked by the caller's agency.
    From,
}

/// A request's status, as a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    Answered,
    Declined,
}

/// The filters of `GET /v1/requests`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// `to`: addressed to the caller's agency; `from`: asked by it; absent: both.
    pub direction: Option<Direction>,
    pub status: Option<Status>,
    /// `true`: only open requests past their due time.
    pub overdue: Option<bool>,
    /// At most this many (1 to 1000, default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
}

/// `GET /v1/requests`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RequestList {
    pub requests: Vec<RequestView>,
}

/// The requests to and from the caller's agency (policy `list_requests`), soonest due first;
/// audited as `request.list`.
pub async fn list(
    state: &AppState,
    principal: &Principal,
    f: &Filters,
) -> Result<RequestList, ApiError> {
    require(state, principal, Action::ListRequests)?;
    let limit = crate::app::page_limit(f.limit)?;
    let at = now();
    let mine = principal.agency.to_string();
    let filter = Filter {
        to: (f.direction != Some(Direction::From)).then(|| mine.clone()),
        from: (f.direction != Some(Direction::To)).then(|| mine.clone()),
        status: f.status.map(|s| match s {
            Status::Open => "open",
            Status::Answered => "answered",
            Status::Declined => "declined",
        }),
        overdue_at: f.overdue.unwrap_or(false).then_some(at),
        limit,
    };
    let requests = store::list(&state.db, &filter)
        .await?
        .iter()
        .map(|r| view(state, r, at))
        .collect::<Result<Vec<_>, _>>()?;
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(principal, "request.list").detail(json!({
        "direction": f.direction, "status": f.status, "overdue": f.overdue,
        "count": requests.len(),
    })))
    .await?;
    Ok(RequestList { requests })
}

/// One request, to either side (not audited: the console's pages read it to offer a form, and
/// the action the form calls is audited).
pub async fn one(
    state: &AppState,
    principal: &Principal,
    id: &RequestId,
) -> Result<RequestView, ApiError> {
    let r = store::get(&state.db, id)
        .await?
        .filter(|r| r.to_agency == *principal.agency || r.from_agency == *principal.agency)
        .ok_or_else(|| hidden(id))?;
    view(state, &r, now())
}

/// The open requests addressed to the caller's agency, for the start page (no child named,
/// not audited), if the caller may list them.
pub async fn waiting(
    state: &AppState,
    principal: &Principal,
) -> Result<Vec<RequestView>, ApiError> {
    if !may_as(state, principal, Action::ListRequests, Relation::None) {
        return Ok(Vec::new());
    }
    let filter = Filter {
        to: Some(principal.agency.to_string()),
        status: Some("open"),
        limit: 50,
        ..Filter::default()
    };
    let at = now();
    store::list(&state.db, &filter)
        .await?
        .iter()
        .map(|r| view(state, r, at))
        .collect()
}
