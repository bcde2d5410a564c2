//! The IG officer's pages: audit search (the API's filters and cursor paging, a link to the CSV
//! export), the override review queue and its form (the chain status and checkpoints are
//! `evidence`), a child's subject access report (printable). (The policy page is `policy.rs`.)
//! Each calls the API's own handler
//! with the session's person, so scoping (a partnership IG officer sees everything, another
//! agency's its own entries) and the audit entry of each read are exactly the API's.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};

use super::form::{Field, Form, fields_with};
use super::labels::{Choice, choices};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields, query};
use crate::app::audit::{self as app, Filters, NewReview, ReviewOutcome};
use crate::app::views::EntryView;
use crate::error::ApiError;
use crate::ids::SubjectId;
use crate::routes::extract::path_id;
use crate::state::AppState;
use crate::vocab::Basis;

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
    let stream = crate::app::audit_csv::export(&state, &session.principal, f)
        .await
        .map_err(refused)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// An entry of the review queue, as the page shows it: a routine duty's notice, or a
/// disclosure a person made on a basis that needs its review (an override).
pub struct QueueItem {
    pub row: Row,
    /// `duty` or `override` (`data-kind`).
    pub kind: &'static str,
    /// What it is, in words: "Duty notice: ..." or "Significant harm override".
    pub what: String,
    /// Only an override is offered a review of its own (a note about it alone).
    pub single: bool,
}

/// Whether an entry is a duty's notice (its detail names the duty: `app::duties`), and which.
fn duty_of(e: &EntryView) -> Option<&str> {
    e.detail.get("duty")?.get("duty")?.as_str()
}

fn queue_item(e: &EntryView) -> QueueItem {
    let row = row(e);
    match duty_of(e) {
        Some(duty) => QueueItem {
            what: format!("Duty notice: {}", super::labels::duty(duty)),
            kind: "duty",
            single: false,
            row,
        },
        None => QueueItem {
            what: if row.basis.is_empty() {
                "Override".to_owned()
            } else {
                format!("{} override", row.basis)
            },
            kind: "override",
            single: true,
            row,
        },
    }
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct Reviews {
    frame: Frame,
    items: Vec<QueueItem>,
    /// How many await review in all (before the filters).
    total: usize,
    csrf: String,
    /// The overrides just reviewed, in words ("entries 12, 13 and 14").
    done: String,
    basis: String,
    kind: String,
    bases: Vec<Choice>,
    outcomes: Vec<Choice>,
    /// The form reviewing several at once, as typed.
    form: Form,
}

/// The queue's filters and what was just reviewed, from the page's query.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    basis: Option<Basis>,
    kind: Option<String>,
    reviewed: Option<String>,
}

/// `seqs` in words: "entry 12", "entries 12 and 13", "entries 12, 13 and 14".
fn entries_words(seqs: &[i64]) -> String {
    let shown: Vec<String> = seqs.iter().map(i64::to_string).collect();
    match shown.as_slice() {
        [] => String::new(),
        [one] => format!("entry {one}"),
        [rest @ .., last] => format!("entries {} and {last}", rest.join(", ")),
    }
}

/// The queue's page, filtered by `basis` and `kind`, with the several-at-once form as `form`.
async fn queue_page(
    state: &AppState,
    session: &Session,
    q: QueueQuery,
    done: &[i64],
    form: Form,
    status: StatusCode,
) -> PageResult {
    let v = app::review_queue(state, &session.principal)
        .await
        .map_err(refused)?;
    let kind = q
        .kind
        .filter(|k| k == "duty" || k == "override")
        .unwrap_or_default();
    let items: Vec<QueueItem> = v
        .awaiting_review
        .iter()
        .filter(|e| {
            q.basis
                .is_none_or(|b| e.basis.as_deref() == Some(b.as_str()))
        })
        .map(queue_item)
        .filter(|i| kind.is_empty() || i.kind == kind)
        .collect();
    let mut done: Vec<i64> = done.to_vec();
    if done.is_empty() {
        done = q
            .reviewed
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
    }
    Ok(page(
        status,
        &Reviews {
            frame: Frame::of(session, "Override reviews"),
            total: v.awaiting_review.len(),
            items,
            csrf: session.csrf.clone(),
            done: entries_words(&done),
            basis: q.basis.map(|b| b.as_str().to_owned()).unwrap_or_default(),
            kind,
            bases: choices::<Basis>(),
            outcomes: vec![
                Choice::new("upheld", "Upheld: the override was justified"),
                Choice::new("concern", "Concern: it needs to be taken further"),
            ],
            form,
        },
    ))
}

/// `GET /ui/audit/reviews`: the overrides awaiting review (`app::audit::review_queue`, audited
/// as the API's read), filtered by basis and by kind (a disclosure override, a duty's notice).
pub async fn reviews(
    State(state): State<AppState>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let pairs = query::clean(raw.as_deref(), &[])?;
    let q: QueueQuery = query::parse(&pairs)?;
    queue_page(&state, &session, q, &[], Form::default(), StatusCode::OK).await
}

/// `POST /ui/audit/reviews`: several overrides reviewed with one note and one outcome, each its
/// own review through `app::audit::review` (the same function as
/// `POST /v1/audit/reviews/{seq}`), so each has its own audit entry. Refused (nothing ticked,
/// no outcome, no note), the queue again with the ticks, the note and an error summary.
pub async fn review_several(
    State(state): State<AppState>,
    session: Session,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &["seq"])?;
    check_csrf(&session, form.get("csrf"))?;
    let q = QueueQuery {
        basis: form.text("basis").and_then(|b| b.parse().ok()),
        kind: form.text("kind").map(str::to_owned),
        reviewed: None,
    };
    let (_, mut errors) = form.to_json(&[Field::Text("note")]);
    let seqs: Vec<i64> = form
        .all("seq")
        .into_iter()
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if seqs.is_empty() || seqs.len() != form.all("seq").len() {
        errors.add("seq", "Choose the entries to review");
    }
    let outcome = match form.get("outcome").unwrap_or_default() {
        "upheld" => Some(ReviewOutcome::Upheld),
        "concern" => Some(ReviewOutcome::Concern),
        _ => {
            errors.add(
                "outcome",
                "Choose whether the review upheld them or found a concern",
            );
            None
        }
    };
    if form.text("note").is_none() {
        errors.add("note", "Say what the review found");
    }
    let (Some(outcome), true) = (outcome, errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return queue_page(
            &state,
            &session,
            q,
            &[],
            Form::refused(form, errors),
            status,
        )
        .await;
    };
    let note = form.get("note").unwrap_or_default().to_owned();
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for seq in seqs {
        let review = NewReview {
            outcome,
            note: note.clone(),
        };
        match app::review(&state, &session.principal, seq, review).await {
            Ok(r) => done.push(r.override_seq),
            Err(e) if done.is_empty() && failed.is_empty() && super::cases::dead_end(&e) => {
                return Err(refused(e));
            }
            Err(e) => failed.push(format!("Entry {seq} was not reviewed: {}.", e.detail)),
        }
    }
    if failed.is_empty() {
        let mut to = vec![(
            "reviewed".to_owned(),
            done.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )];
        if let Some(b) = q.basis {
            to.push(("basis".to_owned(), b.as_str().to_owned()));
        }
        if let Some(k) = &q.kind {
            to.push(("kind".to_owned(), k.clone()));
        }
        return Ok(
            Redirect::to(&format!("/ui/audit/reviews?{}", query::encode(&to))).into_response(),
        );
    }
    errors.add("", &failed.join(" "));
    let status = StatusCode::CONFLICT;
    queue_page(
        &state,
        &session,
        q,
        &done,
        Form::refused(form, errors),
        status,
    )
    .await
}

/// `POST /ui/audit/reviews/{seq}`: one override reviewed with its own note, as
/// `POST /v1/audit/reviews/{seq}`.
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
