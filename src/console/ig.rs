//! The IG officer's pages: audit search (the API's filters and cursor paging, a link to the CSV
//! export), the chain status, the override review queue and its form, a child's subject access
//! report (printable), and the current policy (read-only). Each calls the API's own handler
//! with the session's person, so scoping (a partnership IG officer sees everything, another
//! agency's its own entries) and the audit entry of each read are exactly the API's.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::Value;

use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields, query};
use crate::error::ApiError;
use crate::ids::SubjectId;
use crate::routes::audit::{self, Filters};
use crate::routes::extract::{Params, path_id};
use crate::routes::{history, reviews};
use crate::state::AppState;

/// An audit entry as the pages show it (identifiers, decision and reasons, never content: the
/// log holds none).
pub struct Row {
    pub seq: i64,
    pub at: String,
    pub action: String,
    pub actor: String,
    pub subject: String,
    pub decision: String,
    pub basis: String,
    pub purpose: String,
    pub recipient: String,
    pub reasons: String,
    pub justification: String,
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(text)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

pub(super) fn row(e: &Value) -> Row {
    let recipient = [
        &e["recipient"]["agency"],
        &e["recipient"]["role"],
        &e["recipient"]["sub"],
    ]
    .into_iter()
    .map(text)
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" / ");
    Row {
        seq: e["seq"].as_i64().unwrap_or_default(),
        at: text(&e["at"]),
        action: text(&e["action"]),
        actor: format!(
            "{} / {}",
            text(&e["actor"]["agency"]),
            text(&e["actor"]["sub"])
        ),
        subject: text(&e["subject_id"]),
        decision: text(&e["decision"]),
        basis: text(&e["basis"]),
        purpose: text(&e["purpose"]),
        recipient,
        reasons: text(&e["reasons"]),
        justification: text(&e["justification"]),
    }
}

fn rows(list: &Value) -> Vec<Row> {
    list.as_array()
        .map(|a| a.iter().map(row).collect())
        .unwrap_or_default()
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
    let axum::Json(body) = audit::list(session.principal.clone(), State(state), Params(f))
        .await
        .map_err(refused)?;
    let next = body["next_after_seq"].as_i64().map(|after| {
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
            rows: rows(&body["entries"]),
            value: pairs.into_iter().collect(),
            next,
            export,
            audit_seq: body["audit_seq"].as_i64().unwrap_or_default(),
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
    audit::export(session.principal.clone(), State(state), Params(f))
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
    let axum::Json(v) = audit::verify(session.principal.clone(), State(state))
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &Chain {
            frame: Frame::of(&session, "Audit chain"),
            ok: v["ok"].as_bool().unwrap_or(false),
            entries: text(&v["entries"]),
            head_hash: text(&v["head_hash"]),
            first_bad_seq: text(&v["first_bad_seq"]),
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
    let axum::Json(v) = reviews::reviews(session.principal.clone(), State(state))
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &Reviews {
            frame: Frame::of(&session, "Override reviews"),
            rows: rows(&v["awaiting_review"]),
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
    let form = fields(posted);
    check_csrf(&session, form.get("csrf"))?;
    form.check(&["note"])?;
    let body: reviews::NewReview = serde_json::from_value(serde_json::json!({
        "outcome": form.get("outcome").unwrap_or_default(),
        "note": form.get("note").unwrap_or_default(),
    }))
    .map_err(|_| {
        refused(ApiError::invalid(
            "invalid_field",
            "outcome: choose upheld or concern",
        ))
    })?;
    let (_, axum::Json(v)) = reviews::review(
        session.principal.clone(),
        State(state),
        Path(seq),
        crate::routes::extract::Body(body),
    )
    .await
    .map_err(refused)?;
    let reviewed = v["override_seq"].as_i64().unwrap_or_default();
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
    let axum::Json(v) = history::history(session.principal.clone(), State(state), id)
        .await
        .map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &History {
            frame: Frame::of(&session, "Subject access report"),
            subject: text(&v["subject_id"]),
            rows: rows(&v["disclosures"]),
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
