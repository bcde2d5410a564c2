//! The practitioner's pages: the inbox (new, read, acknowledged), a packet (fetched through the
//! API's own handler, so the read is audited and stamps `first_read_at`, and decrypted in the
//! browser by `packet.js`: the identity file never leaves it), and the acknowledge form.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::form::Form;
use super::labels::{self, Choice, Label};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, Refusal, page, refused};
use super::{Posted, fields};
use crate::app::inbox::{self, InboxItem};
use crate::error::ApiError;
use crate::ids::{DisclosureId, RecordId};
use crate::routes::extract::{Path, path_id};
use crate::state::AppState;
use crate::vocab::{Action, Basis, Purpose, RecordKind, Section, SubjectRole, View};

/// An inbox line as the page shows it.
pub struct Line {
    pub disclosure_id: String,
    /// The child, by name and date of birth.
    pub child: String,
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
        child: super::labels::child(&item.child),
        issued_at: super::time::uk(&item.issued_at),
        record_kind: match item.record_kind.as_str() {
            crate::store::NO_RECORD_KIND => "Notice about a case".to_owned(),
            kind => labels::of::<RecordKind>(kind).into_owned(),
        },
        view: labels::of::<View>(&item.view).into_owned(),
        purpose: labels::of::<Purpose>(&item.purpose).into_owned(),
        basis: labels::of::<Basis>(&item.basis).into_owned(),
        status,
        status_class,
        acknowledged_at: item.acknowledged_at.as_deref().map(super::time::uk_text),
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
    /// The labels `packet.js` words the decrypted packet with (sections, roles, purposes,
    /// bases, views, kinds, duties), as JSON.
    labels: String,
}

/// The words `packet.js` shows for the codes a packet holds (`data-labels`).
fn packet_labels(state: &AppState) -> String {
    fn add<T: Label + labels::Vocabulary>(all: &mut serde_json::Map<String, serde_json::Value>) {
        for t in T::all() {
            all.insert(t.code().to_owned(), t.label().into());
        }
    }
    let mut all = serde_json::Map::new();
    add::<crate::vocab::Role>(&mut all);
    add::<Purpose>(&mut all);
    add::<Basis>(&mut all);
    add::<RecordKind>(&mut all);
    // sections and views after purposes: `risk_management` reads as the section it is
    add::<View>(&mut all);
    add::<Section>(&mut all);
    add::<crate::vocab::EventKind>(&mut all);
    for row in state.policy().duties() {
        all.insert(
            row.duty.clone(),
            labels::duty(&row.duty).into_owned().into(),
        );
    }
    all.insert("case_opened".to_owned(), "A case was opened".into());
    serde_json::Value::Object(all).to_string()
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
            labels: packet_labels(&state),
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

/// A chair's permission, as the record's page lists it.
pub struct Permitted {
    pub agency: String,
    pub granted_by: String,
    pub granted_at: String,
}

#[derive(Template)]
#[template(path = "record.html")]
struct Record {
    frame: Frame,
    csrf: String,
    record: String,
    kind: String,
    subject_id: String,
    child: String,
    subject_role: String,
    sections: Vec<&'static str>,
    deposited: String,
    chair: Option<String>,
    permitted: Vec<Permitted>,
    /// The chair's permission form, to the chair the policy lets grant it.
    chair_form: bool,
    form: Form,
    agencies: Vec<Choice>,
    sent: Vec<Sent>,
    /// Where each packet of the record went and whether it was read, in plain words.
    delivered: Vec<String>,
    duties: Vec<super::cases::DutyLine>,
}

/// "Sent to Southshire Children's Services (a social worker) on 6 December 2026 at 12:40; read
/// on ...; acknowledged on ...": a packet of the record as its sender reads its journey.
fn delivered_line(state: &AppState, d: &crate::app::records::RecordDecision) -> Option<String> {
    let e = &d.entry;
    if e.action != "disclosure" || e.decision.as_deref() != Some("permit") {
        return None;
    }
    let receipt = d.receipt.clone()?;
    let agency = e.recipient.agency.as_deref()?;
    let name = state
        .agencies
        .get(agency)
        .map_or_else(|| agency.to_owned(), |a| a.name.clone());
    let whom = match (&e.recipient.sub, &e.recipient.role) {
        (Some(sub), _) => sub.clone(),
        (None, Some(role)) => format!(
            "a {}",
            super::labels::of::<crate::vocab::Role>(role).to_lowercase()
        ),
        (None, None) => "the agency".to_owned(),
    };
    let mut line = format!("Sent to {name} ({whom}) on {}", super::time::uk_text(&e.at));
    match (&receipt.first_read_at, &receipt.acknowledged_at) {
        (None, _) => line.push_str("; not read yet"),
        (Some(read), None) => line.push_str(&format!("; read on {}", super::time::uk_text(read))),
        (Some(read), Some(ack)) => line.push_str(&format!(
            "; read on {}; acknowledged on {}",
            super::time::uk_text(read),
            super::time::uk_text(ack)
        )),
    }
    Some(line)
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

/// The record owner's page: what the record is and whom it is about, every decision about it
/// and for each disclosure when its addressee first read and acknowledged it, the chair's
/// permissions (and the form to grant one, for the chair), as
/// `GET /v1/records/{id}/disclosures` (audited).
pub async fn record(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RecordId>, ApiError>,
) -> PageResult {
    let Path(record) = id.map_err(refused)?;
    record_page(&state, &session, record, Form::default(), StatusCode::OK).await
}

/// The record's page with the chair's form as `form` (typed and refused, or new).
pub(super) async fn record_page(
    state: &AppState,
    session: &Session,
    record: RecordId,
    form: Form,
    status: StatusCode,
) -> PageResult {
    let v = crate::app::records::disclosures_of(state, &session.principal, record)
        .await
        .map_err(refused)?;
    let sent = v
        .decisions
        .iter()
        .map(|d| {
            let receipt = d.receipt.clone().unwrap_or_default();
            Sent {
                entry: super::ig::row(&d.entry),
                first_read_at: receipt
                    .first_read_at
                    .as_deref()
                    .map(super::time::uk_text)
                    .unwrap_or_default(),
                acknowledged_at: receipt
                    .acknowledged_at
                    .as_deref()
                    .map(super::time::uk_text)
                    .unwrap_or_default(),
            }
        })
        .collect();
    let name = |id: &str| {
        state
            .agencies
            .get(id)
            .map_or_else(|| id.to_owned(), |a| a.name.clone())
    };
    let is_chair = v.chair.as_deref() == Some(session.principal.sub.as_str());
    let chair_form = is_chair
        && crate::access::may_as(
            state,
            &session.principal,
            Action::GrantChairPermission,
            crate::access::Relation::Chair,
        );
    let mut agencies: Vec<Choice> = state
        .agencies
        .values()
        .filter(|a| {
            !v.chair_permissions
                .iter()
                .any(|p| p.recipient_agency == a.id)
        })
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    agencies.sort_by(|a, b| a.label.cmp(&b.label));
    let child = super::labels::child(&v.child);
    Ok(page(
        status,
        &Record {
            frame: Frame::of(session, &format!("{} about {child}", v.kind.label())),
            csrf: session.csrf.clone(),
            record: v.record_id.to_string(),
            kind: v.kind.label().to_owned(),
            subject_id: v.subject_id.to_string(),
            child,
            subject_role: SubjectRole::label(v.subject_role).to_owned(),
            sections: v.sections.iter().map(|s| s.label()).collect(),
            deposited: format!(
                "{} by {}",
                super::time::uk_text(&v.deposited_at),
                v.deposited_by
            ),
            chair: v.chair.clone(),
            permitted: v
                .chair_permissions
                .iter()
                .map(|p| Permitted {
                    agency: name(&p.recipient_agency),
                    granted_by: p.granted_by.clone(),
                    granted_at: super::time::uk_text(&p.granted_at),
                })
                .collect(),
            chair_form,
            form,
            agencies,
            delivered: v
                .decisions
                .iter()
                .filter_map(|d| delivered_line(state, d))
                .collect(),
            sent,
            duties: super::cases::duty_lines(state, &v.duties),
        },
    ))
}
