//! The IG officer's pages: audit search (the API's filters and cursor paging, a link to the CSV
//! export), the chain status, the override review queue and its form, a child's subject access
//! report (printable), and the current policy (read-only). Each calls the API's own handler
//! with the session's person, so scoping (a partnership IG officer sees everything, another
//! agency's its own entries) and the audit entry of each read are exactly the API's.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields, query};
use crate::app::audit::{self as app, Filters, NewReview, ReviewOutcome};
use crate::app::views::EntryView;
use crate::error::ApiError;
use crate::ids::SubjectId;
use crate::routes::extract::{Params, path_id};
use crate::state::AppState;

/// An audit entry as the pages show it (identifiers, decision and reasons, never content: the
/// log holds none).
pub struct Row {
    pub seq: i64,
    pub at: String,
    /// The action's code (`disclosure.permit`), for scripts and tests.
    pub action: String,
    /// The action in words (`labels::audit_action`).
    pub action_label: String,
    pub actor: String,
    pub subject: String,
    pub decision: String,
    pub basis: String,
    pub purpose: String,
    pub recipient: String,
    pub reasons: String,
    pub justification: String,
}

pub(super) fn row(e: &EntryView) -> Row {
    use super::labels::{self, of};
    use crate::vocab::{Basis, Purpose, ReasonCode, Role};
    let role = e.recipient.role.as_deref().map(of::<Role>);
    let recipient = [
        e.recipient.agency.clone(),
        role.map(String::from),
        e.recipient.sub.clone(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" / ");
    let or_none = |v: &Option<String>| v.clone().unwrap_or_default();
    let worded =
        |v: &Option<String>, label: fn(&str) -> String| v.as_deref().map(label).unwrap_or_default();
    Row {
        seq: e.seq,
        at: super::time::uk_text(&e.at),
        action: e.action.clone(),
        action_label: labels::audit_action(&e.action).into_owned(),
        actor: format!("{} / {}", e.actor.agency, e.actor.sub),
        subject: or_none(&e.subject_id),
        decision: worded(&e.decision, |d| labels::decision(d).into_owned()),
        basis: worded(&e.basis, |b| of::<Basis>(b).into_owned()),
        purpose: worded(&e.purpose, |p| of::<Purpose>(p).into_owned()),
        recipient,
        reasons: e
            .reasons
            .iter()
            .map(|r| of::<ReasonCode>(r))
            .collect::<Vec<_>>()
            .join("; "),
        justification: or_none(&e.justification),
    }
}

fn rows(list: &[EntryView]) -> Vec<Row> {
    list.iter().map(row).collect()
}

/// The audit filters that take a bare date for midnight UTC.
const TIMES: &[&str] = &["from", "to"];

#[derive(Template)]
#[template(path = "audit.html")]
struct Search {
    frame: Frame,
    rows: Vec<Row>,
    value: std::collections::HashMap<String, String>,
    next: Option<String>,
    export: String,
    audit_seq: i64,
}

impl Search {
    fn value(&self, name: &str) -> &str {
        self.value.get(name).map_or("", String::as_str)
    }

    fn selected(&self, name: &str, option: &str) -> bool {
        self.value(name) == option
    }
}

pub async fn search(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let (f, pairs) = query::filters::<Filters>(raw.as_deref(), TIMES)?;
    let body = app::query(&state, &session.principal, &f)
        .await
        .map_err(refused)?;
    let next = body.next_after_seq.map(|after| {
        query::with(
            &pairs,
            &["after_seq"],
            Some(("after_seq", after.to_string())),
        )
    });
    let export = query::with(&pairs, &["after_seq", "limit"], None);
    Ok(page(
        StatusCode::OK,
        &Search {
            frame: Frame::of(&session, "Audit log"),
            rows: rows(&body.entries),
            value: pairs.into_iter().collect(),
            next,
            export,
            audit_seq: body.audit_seq,
        },
    ))
}

/// The CSV export, as `GET /v1/audit/export.csv` streams it.
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let (f, _) = query::filters::<Filters>(raw.as_deref(), TIMES)?;
    crate::routes::audit::export(session.principal.clone(), State(state), Params(f))
        .await
        .map_err(refused)
}

#[derive(Template)]
#[template(path = "chain.html")]
struct Chain {
    frame: Frame,
    ok: bool,
    entries: String,
    head_hash: String,
    first_bad_seq: String,
}

pub async fn chain(State(state): State<AppState>, session: Session) -> PageResult {
    let v = app::verify(&state, &session.principal)
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &Chain {
            frame: Frame::of(&session, "Audit chain"),
            ok: v.ok,
            entries: v.entries.to_string(),
            head_hash: v.head_hash,
            first_bad_seq: v.first_bad_seq.map(|s| s.to_string()).unwrap_or_default(),
        },
    ))
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct Reviews {
    frame: Frame,
    rows: Vec<Row>,
    csrf: String,
    done: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct Done {
    reviewed: Option<i64>,
}

pub async fn reviews(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> PageResult {
    let v = app::review_queue(&state, &session.principal)
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &Reviews {
            frame: Frame::of(&session, "Override reviews"),
            rows: rows(&v.awaiting_review),
            csrf: session.csrf.clone(),
            done: done.reviewed.map(|s| s.to_string()),
        },
    ))
}

pub async fn review(
    State(state): State<AppState>,
    session: Session,
    Path(seq): Path<String>,
    posted: Posted,
) -> PageResult {
    let form = fields(posted)?;
    check_csrf(&session, form.get("csrf"))?;
    form.check(&["note"])?;
    let outcome = match form.get("outcome").unwrap_or_default() {
        "upheld" => ReviewOutcome::Upheld,
        "concern" => ReviewOutcome::Concern,
        _ => {
            return Err(refused(ApiError::invalid(
                "invalid_field",
                "outcome: choose upheld or concern",
            )));
        }
    };
    let note = form.get("note").unwrap_or_default().to_owned();
    // the permission first, as the API checks it before the seq
    app::auditor(
        &state,
        &session.principal,
        crate::vocab::Action::ReviewOverride,
    )
    .map_err(refused)?;
    let seq = crate::routes::reviews::audit_seq(&seq).map_err(refused)?;
    let reviewed = app::review(&state, &session.principal, seq, NewReview { outcome, note })
        .await
        .map_err(refused)?
        .override_seq;
    Ok(Redirect::to(&format!("/ui/audit/reviews?reviewed={reviewed}")).into_response())
}

#[derive(serde::Deserialize)]
pub struct Lookup {
    subject_id: Option<String>,
}

/// The subject access report's form posts a child's id here: on to its page.
pub async fn subject_lookup(
    _session: Session,
    axum::extract::Query(q): axum::extract::Query<Lookup>,
) -> PageResult {
    let id = path_id::<SubjectId>(q.subject_id.as_deref().unwrap_or("").trim()).map_err(refused)?;
    Ok(Redirect::to(&format!("/ui/subjects/{id}/history")).into_response())
}

#[derive(Template)]
#[template(path = "history.html")]
struct History {
    frame: Frame,
    subject: String,
    rows: Vec<Row>,
    generated: String,
}

pub async fn history(
    State(state): State<AppState>,
    session: Session,
    id: Result<crate::routes::extract::Path<SubjectId>, crate::error::ApiError>,
) -> PageResult {
    app::auditor(&state, &session.principal, crate::vocab::Action::ReadAudit).map_err(refused)?;
    let crate::routes::extract::Path(subject) = id.map_err(refused)?;
    let v = app::history(&state, &session.principal, subject)
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &History {
            frame: Frame::of(&session, "Subject access report"),
            subject: v.subject_id.to_string(),
            rows: rows(&v.disclosures),
            generated: crate::db::now().format("%-d %B %Y %H:%M UTC").to_string(),
        },
    ))
}

/// One policy family as a table.
pub struct FamilyTable {
    pub name: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    frame: Frame,
    version: String,
    families: Vec<FamilyTable>,
}

/// The loaded policy, read-only: its version and every family's rows. Only for those who may
/// read the audit (IG officers, as `actions.csv` says).
pub async fn policy(State(state): State<AppState>, session: Session) -> PageResult {
    crate::access::require(&state, &session.principal, crate::vocab::Action::ReadAudit)
        .map_err(refused)?;
    let families = crate::decision::Family::ALL
        .iter()
        .map(|f| FamilyTable {
            name: f.file_stem(),
            columns: f.field_names().into_iter().chain(["effect"]).collect(),
            rows: state.policy.rows_of(*f),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &PolicyPage {
            frame: Frame::of(&session, "Policy"),
            version: state.policy.version().to_owned(),
            families,
        },
    ))
}
