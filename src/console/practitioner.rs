//! The practitioner's pages: the inbox (new, read, acknowledged), a packet (fetched through the
//! API's own handler, so the read is audited and stamps `first_read_at`, and decrypted in the
//! browser by `packet.js`: the identity file never leaves it), and the acknowledge form.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, Refusal, page, refused};
use super::{Posted, fields};
use crate::app::inbox::{self, InboxItem};
use crate::error::ApiError;
use crate::ids::{DisclosureId, RecordId};
use crate::routes::extract::{Path, path_id};
use crate::state::AppState;

/// An inbox line as the page shows it.
pub struct Line {
    pub disclosure_id: String,
    pub subject_id: String,
    pub issued_at: String,
    pub from: String,
    pub record_kind: String,
    pub view: String,
    pub purpose: String,
    pub basis: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub acknowledged_at: Option<String>,
}

fn line(state: &AppState, item: InboxItem) -> Line {
    let (status, status_class) = match (&item.first_read_at, &item.acknowledged_at) {
        (_, Some(_)) => ("Acknowledged", "govuk-tag--green"),
        (Some(_), None) => ("Read", "govuk-tag--yellow"),
        (None, None) => ("New", "govuk-tag--blue"),
    };
    Line {
        from: state
            .agencies
            .get(&item.from_agency)
            .map_or_else(|| item.from_agency.clone(), |a| a.name.clone()),
        disclosure_id: item.disclosure_id,
        subject_id: item.subject_id,
        issued_at: item.issued_at.format("%-d %B %Y %H:%M UTC").to_string(),
        record_kind: item.record_kind.replace('_', " "),
        view: item.view.replace('_', " "),
        purpose: item.purpose.replace('_', " "),
        basis: item.basis.replace('_', " "),
        status,
        status_class,
        acknowledged_at: item.acknowledged_at,
    }
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct Inbox {
    frame: Frame,
    items: Vec<Line>,
}

/// The packets `session`'s person may fetch, as `GET /v1/inbox` lists them.
async fn listed(state: &AppState, session: &Session) -> Result<Vec<Line>, Refusal> {
    let items = inbox::list(state, &session.principal)
        .await
        .map_err(refused)?;
    Ok(items.into_iter().map(|i| line(state, i)).collect())
}

pub async fn inbox(State(state): State<AppState>, session: Session) -> PageResult {
    let items = listed(&state, &session).await?;
    Ok(page(
        StatusCode::OK,
        &Inbox {
            frame: Frame::of(&session, "Inbox"),
            items,
        },
    ))
}

#[derive(Template)]
#[template(path = "packet.html")]
struct Packet {
    frame: Frame,
    item: Line,
    agency: String,
    armored: String,
    csrf: String,
}

pub async fn packet(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<DisclosureId>, ApiError>,
) -> PageResult {
    let Path(id) = id.map_err(refused)?;
    // the API's fetch: 404 for anyone but the addressee, audited, stamps the first read
    let armored = inbox::fetch(&state, &session.principal, id.clone())
        .await
        .map_err(refused)?;
    let item = listed(&state, &session)
        .await?
        .into_iter()
        .find(|l| l.disclosure_id == *id)
        .ok_or_else(|| refused(crate::error::ApiError::not_found("no such packet")))?;
    Ok(page(
        StatusCode::OK,
        &Packet {
            frame: Frame::of(
                &session,
                &format!("{} from {}", item.record_kind, item.from),
            ),
            agency: session.agency_name.clone(),
            csrf: session.csrf.clone(),
            item,
            armored,
        },
    ))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<DisclosureId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let form = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    let Path(id) = id.map_err(refused)?;
    inbox::acknowledge(&state, &session.principal, id.clone())
        .await
        .map(drop)
        .map_err(refused)?;
    Ok(Redirect::to(&format!("/ui/inbox/{id}")).into_response())
}

/// A decision about one of the agency's records, with the addressee's receipt.
pub struct Sent {
    pub entry: super::ig::Row,
    pub first_read_at: String,
    pub acknowledged_at: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct Record {
    frame: Frame,
    record: String,
    sent: Vec<Sent>,
    duties: Vec<super::cases::DutyLine>,
}

#[derive(serde::Deserialize)]
pub struct Lookup {
    record_id: Option<String>,
}

/// The record form of the start page posts a record's id here: on to its page.
pub async fn record_lookup(
    _session: Session,
    axum::extract::Query(q): axum::extract::Query<Lookup>,
) -> PageResult {
    let id = path_id::<RecordId>(q.record_id.as_deref().unwrap_or("").trim()).map_err(refused)?;
    Ok(Redirect::to(&format!("/ui/records/{id}")).into_response())
}

/// The record owner's page: every decision about the record, and for each disclosure when its
/// addressee first read and acknowledged it, as `GET /v1/records/{id}/disclosures` (audited).
pub async fn record(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RecordId>, ApiError>,
) -> PageResult {
    let Path(record) = id.map_err(refused)?;
    let v = crate::app::records::disclosures_of(&state, &session.principal, record)
        .await
        .map_err(refused)?;
    let sent = v
        .decisions
        .iter()
        .map(|d| {
            let receipt = d.receipt.clone().unwrap_or_default();
            Sent {
                entry: super::ig::row(&d.entry),
                first_read_at: receipt.first_read_at.unwrap_or_default(),
                acknowledged_at: receipt.acknowledged_at.unwrap_or_default(),
            }
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &Record {
            frame: Frame::of(&session, "Who received this record"),
            record: v.record_id.to_string(),
            sent,
            duties: super::cases::duty_lines(&state, &v.duties),
        },
    ))
}
