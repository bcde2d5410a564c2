//! For IG officers: the audit log with filters and cursor paging, the chain's verification, the
//! override review queue and its reviews (RULES 9), and a child's subject access report.
//! A partnership IG officer sees everything; an IG officer of another agency sees the entries
//! where its agency is the requester, an owner of the records, or the recipient. Every read is
//! itself audited.

use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::views::{EntryView, entries};
use crate::access::{may, require};
use crate::audit::{self, AuditRow, Entry, Verification};
use crate::db::{Db, now, ts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::SubjectId;
use crate::ids::parse as path_id;
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, Basis};
use crate::with_db;

/// An IG officer, and the agency whose entries they may see (`None`: all, the partnership).
pub struct Auditor {
    pub principal: Principal,
    pub scope: Option<String>,
}

/// The caller as an auditor, if the policy lets them do `action`.
pub fn auditor(
    state: &AppState,
    principal: &Principal,
    action: Action,
) -> Result<Auditor, ApiError> {
    require(state, principal, action)?;
    let scope =
        (!may(state, principal, Action::ReadAllAudit)).then(|| principal.agency.to_string());
    Ok(Auditor {
        principal: principal.clone(),
        scope,
    })
}

/// Audits a read of the log itself.
pub async fn record_query(
    state: &AppState,
    who: &Auditor,
    action: &str,
    detail: Value,
) -> Result<i64, ApiError> {
    let tx = state.writer.begin().await?;
    tx.commit(Entry::new(&who.principal, action).detail(detail))
        .await
}

/// The audit filters (query parameters); the schema states what [`Filters::check`] enforces.
#[derive(Debug, Default, Deserialize, Clone, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    #[schemars(extend("format" = "uuid"))]
    pub subject_id: Option<String>,
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub agency: Option<String>,
    #[schemars(extend("enum" = ["permit", "deny"]))]
    pub decision: Option<String>,
    pub basis: Option<Basis>,
    #[schemars(extend("pattern" = crate::text::QUERY_TEXT))]
    pub action: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    pub after_seq: Option<i64>,
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
}

impl Filters {
    /// Every entry about one child.
    pub fn of_subject(subject: &SubjectId) -> Filters {
        Filters {
            subject_id: Some(subject.to_string()),
            ..Filters::default()
        }
    }

    /// 400 `invalid_query` for what the schema states but serde does not enforce.
    pub fn check(&self) -> Result<(), ApiError> {
        if let Some(d) = &self.decision
            && d != "permit"
            && d != "deny"
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "decision must be permit or deny",
            ));
        }
        if self.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "limit must be 1 to 1000",
            ));
        }
        if let Some(s) = &self.subject_id {
            path_id::<SubjectId>(s)?;
        }
        Ok(())
    }

    /// What an export records of the filters.
    pub fn exported(&self) -> Value {
        json!({
            "subject_id": self.subject_id, "agency": self.agency, "decision": self.decision,
            "basis": self.basis, "from": self.from, "to": self.to,
        })
    }
}

/// Builds the WHERE clause (only `$N` placeholders, values bound in order).
fn where_clause(f: &Filters, scope: Option<&str>) -> (String, Vec<String>) {
    let mut sql = String::from(" WHERE seq > $1");
    let mut binds = Vec::new();
    let mut add = |cond: &str, value: String, binds: &mut Vec<String>| {
        binds.push(value);
        let n = binds.len() + 1;
        sql.push_str(&format!(" AND {}", cond.replace("$?", &format!("${n}"))));
    };
    let involving =
        "(actor_agency = $? OR recipient_agency = $? OR owner_agencies LIKE '%\"' || $? || '\"%')";
    if let Some(agency) = scope {
        add(involving, agency.to_owned(), &mut binds);
    }
    if let Some(agency) = &f.agency {
        add(involving, agency.clone(), &mut binds);
    }
    if let Some(s) = &f.subject_id {
        add("subject_id = $?", s.clone(), &mut binds);
    }
    if let Some(d) = &f.decision {
        add("decision = $?", d.clone(), &mut binds);
    }
    if let Some(b) = f.basis {
        add("basis = $?", b.to_string(), &mut binds);
    }
    if let Some(a) = &f.action {
        add("action = $?", a.clone(), &mut binds);
    }
    if let Some(t) = f.from {
        add("at >= $?", ts(t), &mut binds);
    }
    if let Some(t) = f.to {
        add("at < $?", ts(t), &mut binds);
    }
    (sql, binds)
}

/// The rows `f` selects within `scope` after `after`, `tail` appended to the WHERE clause.
pub async fn rows(
    db: &Db,
    f: &Filters,
    scope: Option<&str>,
    after: i64,
    tail: &str,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let (clause, binds) = where_clause(f, scope);
    let sql = format!("SELECT * FROM audit_log{clause} {tail}");
    with_db!(db, pool => {
        let mut q = sqlx::query_as::<_, AuditRow>(sqlx::AssertSqlSafe(sql)).bind(after);
        for b in &binds {
            q = q.bind(b.clone());
        }
        q.fetch_all(pool).await
    })
}

/// One page of the rows `f` selects within `scope`, after `after`.
pub async fn page(
    db: &Db,
    f: &Filters,
    scope: Option<&str>,
    after: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    rows(db, f, scope, after, &format!("ORDER BY seq LIMIT {limit}")).await
}

/// A page of the audit log (`GET /v1/audit`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditPage {
    pub entries: Vec<EntryView>,
    /// The `after_seq` of the next page; null on the last.
    pub next_after_seq: Option<i64>,
    /// This query's own audit entry.
    pub audit_seq: i64,
}

/// The entries `f` selects that the caller may see, a page at a time; audited as `audit.query`.
pub async fn query(
    state: &AppState,
    principal: &Principal,
    f: &Filters,
) -> Result<AuditPage, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    f.check()?;
    let limit = f.limit.unwrap_or(100);
    let rows = page(
        &state.db,
        f,
        who.scope.as_deref(),
        f.after_seq.unwrap_or(0),
        limit,
    )
    .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let audit_seq = record_query(state, &who, "audit.query", json!({
        "subject_id": f.subject_id, "agency": f.agency, "decision": f.decision, "basis": f.basis,
        "from": f.from, "to": f.to, "after_seq": f.after_seq, "limit": limit,
    }))
    .await?;
    Ok(AuditPage {
        entries: entries(&rows),
        next_after_seq: next,
        audit_seq,
    })
}

/// The chain verified end to end; audited as `audit.verify`.
pub async fn verify(state: &AppState, principal: &Principal) -> Result<Verification, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    let result = audit::verify(&state.db).await?;
    record_query(
        state,
        &who,
        "audit.verify",
        json!({"ok": result.ok, "entries": result.entries}),
    )
    .await?;
    Ok(result)
}

const QUEUE: &str = "action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%' \
     AND seq NOT IN (SELECT override_seq FROM audit_reviews)";

/// The override review queue (`GET /v1/audit/reviews`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct ReviewQueue {
    pub awaiting_review: Vec<EntryView>,
}

/// Every permitted override the caller may see that still awaits its review; audited as
/// `audit.reviews`.
pub async fn review_queue(
    state: &AppState,
    principal: &Principal,
) -> Result<ReviewQueue, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    let rows = rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        0,
        &format!("AND {QUEUE} ORDER BY seq LIMIT 1000"),
    )
    .await?;
    record_query(
        state,
        &who,
        "audit.reviews",
        json!({"awaiting": rows.len()}),
    )
    .await?;
    Ok(ReviewQueue {
        awaiting_review: entries(&rows),
    })
}

/// How many overrides the caller may see still await review (at most 1,000): the start page's
/// count. A count names no child and no entry, so it is not itself audited; the queue is.
pub async fn awaiting_review(state: &AppState, principal: &Principal) -> Result<usize, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    let rows = rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        0,
        &format!("AND {QUEUE} ORDER BY seq LIMIT 1000"),
    )
    .await?;
    Ok(rows.len())
}

/// What an IG officer found of an override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    Upheld,
    Concern,
}

/// A review as it arrives (`POST /v1/audit/reviews/{seq}`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReview {
    pub outcome: ReviewOutcome,
    /// What the review found (not blank).
    #[schemars(extend("pattern" = crate::text::pattern(crate::text::Kind::FreeText, true)))]
    pub note: String,
}

/// A review recorded.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Reviewed {
    pub override_seq: i64,
    pub outcome: ReviewOutcome,
    pub audit_seq: i64,
}

fn already_reviewed(seq: i64) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "already_reviewed",
        format!("the override at seq {seq} has been reviewed"),
    )
}

/// Records an IG officer's review of the override at `seq`, once; its note is sealed at rest.
pub async fn review(
    state: &AppState,
    principal: &Principal,
    seq: i64,
    body: NewReview,
) -> Result<Reviewed, ApiError> {
    let who = auditor(state, principal, Action::ReviewOverride)?;
    if body.note.trim().is_empty() {
        return Err(ApiError::invalid(
            "invalid_field",
            "note: say what the review found",
        ));
    }
    let outcome = match body.outcome {
        ReviewOutcome::Upheld => "upheld",
        ReviewOutcome::Concern => "concern",
    };
    let target = rows(
        &state.db,
        &Filters::default(),
        who.scope.as_deref(),
        0,
        &format!(
            "AND seq = {seq} AND action = 'disclosure' AND decision = 'permit' AND obligations LIKE '%ig_review%'"
        ),
    )
    .await?
    .pop();
    let Some(target) = target else {
        return Err(ApiError::not_found(format!(
            "no override awaiting review at seq {seq}"
        )));
    };
    let note = state
        .at_rest
        .encrypt(body.note.trim().as_bytes())
        .map_err(ApiError::internal)?;
    let mut tx = state.writer.begin().await?;
    let reviewed: bool = on_tx!(&mut tx, c => sqlx::query("SELECT 1 AS x FROM audit_reviews WHERE override_seq = $1")
        .bind(seq)
        .fetch_optional(&mut **c)
        .await?
        .is_some());
    if reviewed {
        return Err(already_reviewed(seq));
    }
    let mut entry = Entry::new(&who.principal, "audit.review")
        .detail(json!({"override_seq": seq, "outcome": outcome}));
    entry.subject_id = target.subject_id.clone();
    let review_seq = tx.append(entry).await?;
    on_tx!(&mut tx, c => sqlx::query(
        "INSERT INTO audit_reviews (override_seq, outcome, note_enc, reviewer_agency, reviewer_sub, review_seq, reviewed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(seq)
        .bind(outcome)
        .bind(&note)
        .bind(&*who.principal.agency)
        .bind(&who.principal.sub)
        .bind(review_seq)
        .bind(ts(now()))
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => already_reviewed(seq),
            _ => ApiError::from(e),
        })?);
    tx.finish().await?;
    Ok(Reviewed {
        override_seq: seq,
        outcome: body.outcome,
        audit_seq: review_seq,
    })
}

/// A child's subject access report (`GET /v1/subjects/{id}/history`).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SubjectHistory {
    pub subject_id: SubjectId,
    /// Every disclosure decision about the child's records and every read of a packet about
    /// the child: who received what, when, why and on which basis.
    pub disclosures: Vec<EntryView>,
    pub audit_seq: i64,
}

/// The subject access report of `subject`, for an IG officer who may know the child; audited
/// as `audit.subject_history`.
pub async fn history(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
) -> Result<SubjectHistory, ApiError> {
    let who = auditor(state, principal, Action::ReadAudit)?;
    let f = Filters::of_subject(&subject);
    if !known_subject(&state.db, &f, &subject, who.scope.as_deref()).await? {
        return Err(ApiError::not_found(format!("no subject {subject}")));
    }
    let rows = rows(
        &state.db,
        &f,
        who.scope.as_deref(),
        0,
        "AND action IN ('disclosure', 'packet.read') ORDER BY seq",
    )
    .await?;
    let audit_seq = record_query(
        state,
        &who,
        "audit.subject_history",
        json!({"subject_id": subject}),
    )
    .await?;
    Ok(SubjectHistory {
        subject_id: subject,
        disclosures: entries(&rows),
        audit_seq,
    })
}

/// Does the child exist for this auditor? For the partnership: it is registered. For an IG
/// officer of another agency: their agency registered it or appears in an audit entry about
/// it. A child of another agency's is answered exactly as an unknown id, so the answer cannot
/// tell a caller whether a child exists (`f` selects the child's entries).
async fn known_subject(
    db: &Db,
    f: &Filters,
    subject: &str,
    scope: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let registered_by: Option<String> = with_db!(db, pool => {
        sqlx::query_scalar::<_, String>("SELECT registered_by FROM subjects WHERE id = $1")
            .bind(subject)
            .fetch_optional(pool)
            .await?
    });
    Ok(match (registered_by, scope) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(by), Some(agency)) if by == agency => true,
        (Some(_), Some(_)) => !rows(db, f, scope, 0, "LIMIT 1").await?.is_empty(),
    })
}
