//! The record pages of a practitioner: deposit a record about a child
//! (`/ui/records/new?subject_id=`, `app::records::deposit`), grant the chair's permission from
//! the record's page (`app::records::grant_chair_permission`), and share a record
//! (`/ui/records/{id}/share`): a preview (`app::disclosures::check`, the dry run: what would be
//! released and withheld, and why, nothing sent) or a send (`app::disclosures::disclose`). Each
//! form's fields are the API's JSON members, parsed by the API's own request type; a refusal
//! re-shows the form as typed, with an error summary and, for a decision, its reasons in words.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};

use super::form::{Errors, Field, Form, FormFields, Labels, parse};
use super::labels::{self, Choice, Label, choices};
use super::session::{Session, check_csrf};
use super::view::{Frame, PageResult, page, refused};
use super::{Posted, fields};
use crate::app::disclosures::{self, Decided, Disclosure, DisclosureRequest, Refusal};
use crate::app::records::{self, Child, Deposit, NewChairPermission, NewRecord};
use crate::decision::Decision;
use crate::error::ApiError;
use crate::ids::{RecordId, SubjectId};
use crate::routes::extract::{Path, path_id};
use crate::state::AppState;
use crate::vocab::{Basis, Purpose, ReasonCode, RecordKind, Role, Section, SubjectRole};

/// The configured agencies by name, for a select.
fn agencies(state: &AppState) -> Vec<Choice> {
    let mut all: Vec<Choice> = state
        .agencies
        .values()
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    all.sort_by(|a, b| a.label.cmp(&b.label));
    all
}

/// The name of a configured agency (its id if it has left the configuration).
fn agency_name(state: &AppState, id: &str) -> String {
    state
        .agencies
        .get(id)
        .map_or_else(|| id.to_owned(), |a| a.name.clone())
}

/// Sections as a page lists them: (code, label).
fn sections(list: &[Section]) -> Vec<(String, &'static str)> {
    list.iter()
        .map(|s| (s.as_str().to_owned(), s.label()))
        .collect()
}

// ---- deposit ----

/// What a person calls each field of the deposit form.
const DEPOSIT_LABELS: Labels<'static> = &[
    ("subject_id", "Child"),
    ("kind", "Kind of record"),
    ("subject_role", "The child in this record"),
    ("sections", "Sections"),
];

#[derive(Template)]
#[template(path = "record_new.html")]
struct NewRecordPage {
    frame: Frame,
    csrf: String,
    subject_id: String,
    child: String,
    form: Form,
    kinds: Vec<Choice>,
    subject_roles: Vec<Choice>,
    sections: Vec<Choice>,
}

impl NewRecordPage {
    fn of(session: &Session, subject: &str, child: String, form: Form) -> NewRecordPage {
        NewRecordPage {
            frame: Frame::of(session, "Deposit a record"),
            csrf: session.csrf.clone(),
            subject_id: subject.to_owned(),
            child,
            form,
            kinds: choices::<RecordKind>(),
            subject_roles: choices::<SubjectRole>(),
            sections: choices::<Section>(),
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ForChild {
    subject_id: Option<String>,
}

/// The child the deposit is about, named for those the policy lets read the child
/// (`read_subject`, through `app::child::view`, audited `subject.read` as the API's read);
/// anyone else may still deposit, as the API lets them, but is not told the name.
async fn whom(
    state: &AppState,
    session: &Session,
    subject: &SubjectId,
) -> Result<String, ApiError> {
    match crate::app::child::view(state, &session.principal, subject.clone()).await {
        Ok(child) => Ok(super::labels::child(&Child {
            display_name: child.display_name,
            date_of_birth: child.date_of_birth,
        })),
        Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
            Ok("A child your agency has not yet recorded anything about".to_owned())
        }
        Err(e) => Err(e),
    }
}

/// `GET /ui/records/new?subject_id=`: the deposit form, the child named at the top.
pub async fn new_record(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ForChild>,
) -> PageResult {
    let subject: SubjectId =
        path_id(q.subject_id.as_deref().unwrap_or("").trim()).map_err(refused)?;
    let child = whom(&state, &session, &subject).await.map_err(refused)?;
    Ok(page(
        StatusCode::OK,
        &NewRecordPage::of(&session, &subject, child, Form::default()),
    ))
}

/// `POST /ui/records/new`: `app::records::deposit`, then the record's page; a refusal (the
/// form's, or the policy's with its reasons) re-shows the form as typed.
pub async fn deposit(
    State(state): State<AppState>,
    session: Session,
    posted: Posted,
) -> PageResult {
    let typed = fields(posted)?;
    check_csrf(&session, typed.get("csrf"))?;
    let subject: SubjectId =
        path_id(typed.get("subject_id").unwrap_or("").trim()).map_err(refused)?;
    let child = whom(&state, &session, &subject).await.map_err(refused)?;
    let again = |errors: Errors| {
        page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewRecordPage::of(
                &session,
                &subject,
                child.clone(),
                Form::refused(typed.clone(), errors),
            ),
        )
    };
    let (body, mut errors) = typed.to_json(&[
        Field::Trimmed("subject_id"),
        Field::Trimmed("kind"),
        Field::Trimmed("subject_role"),
        Field::Sections("sections"),
    ]);
    let parsed = parse::<NewRecord>(body, DEPOSIT_LABELS)
        .and_then(|r| Deposit::try_from(r).map_err(|e| Errors::from_api(&e, DEPOSIT_LABELS)));
    let record = match parsed {
        Ok(record) if errors.is_empty() => record,
        Ok(_) => return Ok(again(errors)),
        Err(more) => {
            errors.extend(more);
            return Ok(again(errors));
        }
    };
    match records::deposit(&state, &session.principal, record).await {
        Ok(done) => Ok(Redirect::to(&format!("/ui/records/{}", done.id)).into_response()),
        Err(Refusal::Denied(denied)) => Ok(again(reasons_as_errors(&denied.decision))),
        Err(Refusal::Failed(e)) if shown_beside(&e) => {
            Ok(again(Errors::from_api(&e, DEPOSIT_LABELS)))
        }
        Err(Refusal::Failed(e)) => Err(refused(e)),
    }
}

/// The form field a reason is about (`""`: the form as a whole).
fn field_of(code: ReasonCode) -> &'static str {
    use ReasonCode::*;
    match code {
        ConsentNotFound
        | ConsentWrongGiver
        | ConsentNotCurrent
        | OverrideNotPermittedForRole
        | BasisNotPermittedForRecipient
        | MappaForumDecides => "basis",
        JustificationRequired => "justification",
        LegalReferenceRequired => "legal_reference",
        MappaDecisionNotApplicable => "mappa_decision_id",
        RecipientRoleNotPermitted => "recipient_role",
        NotPupilOfSchool | ChairPermissionRequired | RecipientOutsideChildArea => {
            "recipient_agency"
        }
        PurposeNotPermitted | BelowAgeOfCriminalResponsibility => "purpose",
        RoleCannotDeposit => "kind",
        NothingToShare | BundlingSubjects | NotRecordOwner | RequesterRoleNotPermitted => "",
    }
}

/// A refused decision's reasons as a form's errors, each in words beside its field.
fn reasons_as_errors(decision: &Decision) -> Errors {
    let mut errors = Errors::default();
    for reason in &decision.reasons {
        errors.add(field_of(reason.code), reason.code.label());
    }
    errors
}

// ---- chair permission ----

/// What a person calls the chair's permission form's field.
const CHAIR_LABELS: Labels<'static> = &[("recipient_agency", "Agency")];

/// `POST /ui/records/{id}/chair-permissions`: the chair permits an agency to receive the
/// record (`app::records::grant_chair_permission`); back to the record's page, which lists it,
/// or the record's page again with the refusal beside the form.
pub async fn chair_permission(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RecordId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let typed = fields(posted)?;
    check_csrf(&session, typed.get("csrf"))?;
    let Path(record) = id.map_err(refused)?;
    let (body, mut errors) = typed.to_json(&[Field::Trimmed("recipient_agency")]);
    let permission = match parse::<NewChairPermission>(body, CHAIR_LABELS) {
        Ok(permission) if errors.is_empty() => permission,
        Ok(_) => return record_again(&state, &session, record, typed, errors).await,
        Err(more) => {
            errors.extend(more);
            return record_again(&state, &session, record, typed, errors).await;
        }
    };
    match records::grant_chair_permission(&state, &session.principal, record.clone(), permission)
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/ui/records/{record}#chair-permissions")).into_response())
        }
        Err(e) if shown_beside(&e) || e.status == StatusCode::CONFLICT => {
            let errors = Errors::from_api(&e, CHAIR_LABELS);
            record_again(&state, &session, record, typed, errors).await
        }
        Err(e) => Err(refused(e)),
    }
}

/// The record's page again, its chair's form as typed with why it was refused.
async fn record_again(
    state: &AppState,
    session: &Session,
    record: RecordId,
    typed: FormFields,
    errors: Errors,
) -> PageResult {
    let form = Form::refused(typed, errors);
    super::practitioner::record_page(
        state,
        session,
        record,
        form,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

// ---- share ----

/// What a person calls each field of the share form.
const SHARE_LABELS: Labels<'static> = &[
    ("record_ids", "Record"),
    ("recipient_agency", "Agency"),
    ("recipient_role", "Role"),
    ("recipient_sub", "Person"),
    ("purpose", "Purpose"),
    ("basis", "Lawful basis"),
    ("justification", "Justification"),
    ("legal_reference", "Legal reference"),
    ("mappa_decision_id", "MAPPA forum decision"),
    ("request_id", "Request for information"),
];

/// The share form's fields, as the API's request members.
const SHARE_FIELDS: &[Field<'static>] = &[
    Field::Trimmed("recipient_agency"),
    Field::Trimmed("recipient_role"),
    Field::Trimmed("recipient_sub"),
    Field::Trimmed("purpose"),
    Field::Trimmed("basis"),
    Field::Text("justification"),
    Field::Text("legal_reference"),
    Field::Trimmed("mappa_decision_id"),
    Field::Trimmed("request_id"),
];

/// A decision shown in words: what goes, what is withheld, and why.
pub struct Shown {
    pub permitted: bool,
    pub view: String,
    pub released: Vec<(String, &'static str)>,
    pub withheld: Vec<(String, &'static str)>,
    /// (code, what it means in words, the rule's own message).
    pub reasons: Vec<(String, &'static str, String)>,
    pub obligations: Vec<&'static str>,
}

impl Shown {
    fn of(decision: &Decision) -> Shown {
        Shown {
            permitted: decision.permitted(),
            view: decision
                .view
                .map(|v| v.label())
                .unwrap_or_default()
                .to_owned(),
            released: sections(&decision.sections_released),
            withheld: sections(&decision.sections_withheld),
            reasons: decision
                .reasons
                .iter()
                .map(|r| {
                    (
                        r.code.as_str().to_owned(),
                        r.code.label(),
                        r.message.clone(),
                    )
                })
                .collect(),
            obligations: decision.obligations.iter().map(|o| o.label()).collect(),
        }
    }
}

/// A disclosure sent, as its outcome names it.
pub struct Sent {
    pub disclosure_id: String,
    pub to: String,
    pub role: String,
    pub shown: Shown,
}

/// What the share page shows under its form.
pub enum Outcome {
    /// A new form.
    None,
    /// The dry run's decision (nothing sent).
    Preview(Shown),
    /// The send's refusal, with its reasons.
    Refused(Shown),
    /// Sent.
    Sent(Sent),
}

#[derive(Template)]
#[template(path = "share.html")]
struct SharePage {
    frame: Frame,
    csrf: String,
    record: String,
    kind: &'static str,
    child: String,
    form: Form,
    agencies: Vec<Choice>,
    roles: Vec<Choice>,
    purposes: Vec<Choice>,
    bases: Vec<Choice>,
    outcome: Outcome,
    /// The request for information the share answers, in words (empty: none).
    answering: String,
}

/// The share page of `record` with `form` and `outcome`; the record's kind and child from the
/// owner's read of it (`app::records::disclosures_of`: 404 to anyone else, audited).
async fn share_page(
    state: &AppState,
    session: &Session,
    record: RecordId,
    form: Form,
    outcome: Outcome,
    status: StatusCode,
) -> PageResult {
    let held = records::disclosures_of(state, &session.principal, record)
        .await
        .map_err(refused)?;
    let child = super::labels::child(&held.child);
    let answering = match form.value("request_id") {
        "" => String::new(),
        id => super::requests::prefill(state, session, id)
            .await
            .map(|(_, text)| text)
            .unwrap_or_default(),
    };
    Ok(page(
        status,
        &SharePage {
            frame: Frame::of(
                session,
                &format!("Share a {} about {child}", held.kind.label().to_lowercase()),
            ),
            csrf: session.csrf.clone(),
            record: held.record_id.to_string(),
            kind: held.kind.label(),
            child,
            form,
            agencies: agencies(state),
            roles: choices::<Role>(),
            purposes: choices::<Purpose>(),
            bases: choices::<Basis>(),
            outcome,
            answering,
        },
    ))
}

/// `?request_id=` on the share form: the request for information it answers.
#[derive(serde::Deserialize)]
pub struct Answering {
    request_id: Option<String>,
}

/// `GET /ui/records/{id}/share`: the share form; with `?request_id=` of a request addressed
/// to the person's agency, prefilled to answer it (`requests::prefill`).
pub async fn share_form(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RecordId>, ApiError>,
    answering: Result<Query<Answering>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Path(record) = id.map_err(refused)?;
    let mut form = Form::default();
    if let Ok(Query(Answering {
        request_id: Some(rid),
    })) = answering
        && let Some((values, _)) = super::requests::prefill(&state, &session, &rid).await
    {
        form = Form::refused(values, Errors::default());
    }
    share_page(
        &state,
        &session,
        record,
        form,
        Outcome::None,
        StatusCode::OK,
    )
    .await
}

/// `POST /ui/records/{id}/share`: `action=preview` asks the dry run and shows its decision
/// (nothing is sent); `action=send` discloses and shows what went to whom, or the refusal's
/// reasons with the form as typed.
pub async fn share(
    State(state): State<AppState>,
    session: Session,
    id: Result<Path<RecordId>, ApiError>,
    posted: Posted,
) -> PageResult {
    let typed = fields(posted)?;
    check_csrf(&session, typed.get("csrf"))?;
    let Path(record) = id.map_err(refused)?;
    let sending = match typed.get("action") {
        Some("send") => true,
        Some("preview") | None => false,
        Some(_) => {
            return Err(refused(ApiError::invalid_field(
                "action",
                "is preview or send",
            )));
        }
    };
    let refuse = |errors: Errors, outcome: Outcome| {
        let form = Form::refused(typed.clone(), errors);
        share_page(
            &state,
            &session,
            record.clone(),
            form,
            outcome,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let request = match disclosure(&typed, &record) {
        Ok(request) => request,
        Err(errors) => return refuse(errors, Outcome::None).await,
    };
    if !sending {
        return match disclosures::check(&state, &session.principal, request).await {
            Ok(Decided { decision, .. }) => {
                let form = Form::refused(typed.clone(), Errors::default());
                share_page(
                    &state,
                    &session,
                    record,
                    form,
                    Outcome::Preview(Shown::of(&decision)),
                    StatusCode::OK,
                )
                .await
            }
            Err(e) if shown_beside(&e) => {
                refuse(Errors::from_api(&e, SHARE_LABELS), Outcome::None).await
            }
            Err(e) => Err(refused(e)),
        };
    }
    match disclosures::disclose(&state, &session.principal, request).await {
        Ok(done) => {
            let sent = Sent {
                disclosure_id: done.disclosure_id.clone(),
                to: agency_name(&state, typed.get("recipient_agency").unwrap_or_default()),
                role: typed
                    .text("recipient_role")
                    .map(labels::of::<Role>)
                    .map(|l| l.into_owned())
                    .unwrap_or_default(),
                shown: Shown::of(&done.decision),
            };
            share_page(
                &state,
                &session,
                record,
                Form::default(),
                Outcome::Sent(sent),
                StatusCode::CREATED,
            )
            .await
        }
        Err(Refusal::Denied(denied)) => {
            refuse(
                reasons_as_errors(&denied.decision),
                Outcome::Refused(Shown::of(&denied.decision)),
            )
            .await
        }
        Err(Refusal::Failed(e)) if shown_beside(&e) => {
            refuse(Errors::from_api(&e, SHARE_LABELS), Outcome::None).await
        }
        Err(Refusal::Failed(e)) => Err(refused(e)),
    }
}

/// A refusal the form shows beside its fields (a field the action refused), rather than as a
/// page of its own (not found, not permitted, unavailable).
fn shown_beside(e: &ApiError) -> bool {
    e.status == StatusCode::UNPROCESSABLE_ENTITY || e.status == StatusCode::BAD_REQUEST
}

/// The share form as the API's disclosure request, parsed by the API's own types.
fn disclosure(typed: &FormFields, record: &RecordId) -> Result<Disclosure, Errors> {
    let (mut body, mut errors) = typed.to_json(SHARE_FIELDS);
    if let Value::Object(members) = &mut body {
        members.insert("record_ids".into(), json!([record]));
    }
    match parse::<DisclosureRequest>(body, SHARE_LABELS) {
        Ok(request) if errors.is_empty() => {
            Disclosure::try_from(request).map_err(|e| Errors::from_api(&e, SHARE_LABELS))
        }
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}
