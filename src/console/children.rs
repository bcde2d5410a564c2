//! The child's pages (CONSOLE.md): the children the agency may read, registering a child, and
//! the child's page with everything the agency may see about the child and a form for each
//! write the person may do (consents, competence, school, MAPPA status, staff designations).
//! Each page calls the same application function as the API (`app::child`, `app::subjects`,
//! `app::consents`, `app::mappa`) with the session's person, so it permits, shows and audits
//! exactly what the API does; a form is offered only where the policy lets the person do it
//! (`crate::access`). A refused form is shown again with what was typed, an error summary and
//! the message by its field; a write that succeeds goes back to the child's page, whose banner
//! says what was done. The MAPPA forum's decision page is `mappa`.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde_json::Value;

use super::form::{Errors, Field, Form, FormFields, Labels, Posted, fields_with, parse};
use super::labels::{self, Choice};
use super::session::{Session, check_csrf};
use super::time::{uk_date, uk_text};
use super::view::{Frame, PageResult, Refusal, page, refused};
use crate::access::{may, may_as};
use crate::app::child::{ChildView, agency_name};
use crate::app::subjects::childs_school;
use crate::error::ApiError;
use crate::ids::{ConsentId, SubjectId};
use crate::routes::extract::Path;
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind, CaseStatus, Giver, Purpose, RecordKind, SubjectRole};

/// A refusal of what was typed (422, 409, 400) goes beside its field; a refusal of the person
/// (403), of the thing asked about (404) or of the service (5xx) is its own page.
pub(super) fn refusal(e: ApiError, labels: Labels<'_>) -> Result<Errors, Refusal> {
    match e.status {
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT | StatusCode::BAD_REQUEST => {
            Ok(Errors::from_api(&e, labels))
        }
        _ => Err(refused(e)),
    }
}

/// The configured schools by name, for a select.
fn schools(state: &AppState) -> Vec<Choice> {
    super::places::agencies_of(state, AgencyKind::School)
}

/// A date a person typed as the last day something holds: the instant it ends (midnight at
/// the start of the next day, UK time).
pub(super) fn end_of(date: NaiveDate) -> Option<DateTime<Utc>> {
    let next = date.checked_add_days(Days::new(1))?;
    London
        .from_local_datetime(&next.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// A date field (three inputs) put into `body` as the end of that day (an expiry), or its
/// problem added to `errors`.
pub(super) fn expiry(
    form: &FormFields,
    body: &mut Value,
    errors: &mut Errors,
    name: &str,
    label: &str,
) {
    match form.date(name, label) {
        Ok(Some(d)) => match end_of(d) {
            Some(at) => body[name] = Value::from(at.to_rfc3339()),
            None => errors.add(name, &format!("{label} must be a real date")),
        },
        Ok(None) => {}
        Err(why) => errors.add(name, &why),
    }
}

/// A query parameter's value (the query as the browser sent it).
pub(super) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| crate::routes::extract::form_decode(v))
}

// ---- the list ----

/// A child in the list, as the page shows it.
struct ListedChild {
    id: String,
    name: String,
    born: String,
    school: String,
}

#[derive(Template)]
#[template(path = "child_list.html")]
struct ChildList {
    frame: Frame,
    children: Vec<ListedChild>,
    may_register: bool,
}

/// `/ui/children`: the children the agency may read, by name, date of birth and school
/// (`app::child::list`, audited as `subject.list`).
pub async fn list(session: Session, State(state): State<AppState>) -> PageResult {
    let children = crate::app::child::list(&state, &session.principal)
        .await
        .map_err(refused)?;
    let children = children
        .into_iter()
        .map(|c| ListedChild {
            id: c.subject_id.to_string(),
            name: c
                .display_name
                .unwrap_or_else(|| "Name not given".to_owned()),
            born: uk_date(&c.date_of_birth),
            school: c.school_name.unwrap_or_else(|| "No school".to_owned()),
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &ChildList {
            frame: Frame::of(&session, "Children"),
            children,
            may_register: may(&state, &session.principal, Action::RegisterSubject),
        },
    ))
}

// ---- registering a child ----

const REGISTER: Labels<'static> = &[
    ("display_name", "Name"),
    ("date_of_birth", "Date of birth"),
    ("school_agency", "School"),
    ("local_authority", "Home local authority"),
];

#[derive(Template)]
#[template(path = "child_new.html")]
struct NewChild {
    frame: Frame,
    csrf: String,
    form: Form,
    schools: Vec<Choice>,
    /// The partnership's areas by name (empty: one area, the local authority is free text).
    areas: Vec<Choice>,
}

fn new_child_page(session: &Session, state: &AppState, status: StatusCode, form: Form) -> Response {
    page(
        status,
        &NewChild {
            frame: Frame::of(session, "Register a child"),
            csrf: session.csrf.clone(),
            form,
            schools: schools(state),
            areas: super::places::area_choices(state),
        },
    )
}

/// `/ui/children/new`: the form (`POST /v1/subjects`'s fields).
pub async fn new_child(session: Session, State(state): State<AppState>) -> PageResult {
    crate::access::require(&state, &session.principal, Action::RegisterSubject).map_err(refused)?;
    Ok(new_child_page(
        &session,
        &state,
        StatusCode::OK,
        Form::default(),
    ))
}

/// `POST /ui/children/new`: `app::subjects::register`, then the child's page.
pub async fn register(
    session: Session,
    State(state): State<AppState>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let (body, mut errors) = form.to_json(&[
        Field::Trimmed("display_name"),
        Field::Date("date_of_birth", "Date of birth"),
        Field::Trimmed("school_agency"),
        Field::Trimmed("local_authority"),
    ]);
    if errors.is_empty() {
        match parse(body, REGISTER) {
            Ok(input) => {
                match crate::app::subjects::register(&state, &session.principal, input).await {
                    Ok(created) => {
                        return Ok(done(&created.id, "registered"));
                    }
                    Err(e) => errors = refusal(e, REGISTER)?,
                }
            }
            Err(e) => errors = e,
        }
    }
    Ok(new_child_page(
        &session,
        &state,
        StatusCode::UNPROCESSABLE_ENTITY,
        Form::refused(form, errors),
    ))
}

/// Back to the child's page, whose banner says what was done.
pub(super) fn done(child: &str, what: &str) -> Response {
    Redirect::to(&format!("/ui/children/{child}?done={what}")).into_response()
}

/// What the banner says for `?done=` (a fixed sentence: nothing from the query is shown).
fn banner(done: Option<&str>) -> &'static str {
    match done {
        Some("registered") => "The child has been registered.",
        Some("consent") => "The consent has been recorded.",
        Some("withdrawn") => "The consent has been withdrawn.",
        Some("competence") => "The assessment has been recorded.",
        Some("school") => "The child's school has been changed.",
        Some("mappa") => "The MAPPA status has been set.",
        Some("designation") => "The member of staff has been designated.",
        Some("decision") => "The MAPPA forum's decision has been recorded.",
        Some("residence") => "Where the child lives has been recorded.",
        _ => "",
    }
}

// ---- the child's page ----

/// A consent as the page shows it.
struct ConsentLine {
    id: String,
    given_by: String,
    purposes: String,
    kinds: String,
    expires: String,
    withdrawn: String,
    current: bool,
    recorded: String,
}

/// A line of a summary table: what, and the columns after it.
struct Line {
    cells: Vec<String>,
}

/// A record or case of the agency about the child, with its link.
struct Linked {
    href: String,
    what: String,
    detail: String,
    when: String,
}

/// Which of the page's forms was sent (and is shown again if refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Consent,
    Withdraw,
    Competence,
    School,
    Mappa,
    Designation,
    Residence,
}

/// What the person may do on the page (the policy, through `crate::access`).
struct Mays {
    consent: bool,
    withdraw: bool,
    competence: bool,
    school: bool,
    mappa: bool,
    designate: bool,
    decision: bool,
    open_case: bool,
    history: bool,
    residence: bool,
}

#[derive(Template)]
#[template(path = "child.html")]
struct ChildPage {
    frame: Frame,
    csrf: String,
    banner: &'static str,
    id: String,
    name: String,
    born: String,
    age: i32,
    school: String,
    local_authority: String,
    /// Where the child lives, in words.
    lives: String,
    registered_by: String,
    consents: Vec<ConsentLine>,
    competence: Vec<Line>,
    mappa: Option<Line>,
    designations: Vec<Line>,
    records: Vec<Linked>,
    cases: Vec<Linked>,
    may: Mays,
    consent_form: Form,
    withdraw_form: Form,
    competence_form: Form,
    school_form: Form,
    mappa_form: Form,
    designation_form: Form,
    residence_form: Form,
    residence_choices: Vec<Choice>,
    placing_choices: Vec<Choice>,
    givers: Vec<Choice>,
    purposes: Vec<Choice>,
    kinds: Vec<Choice>,
    assessments: Vec<Choice>,
    yes_no: Vec<Choice>,
    school_choices: Vec<Choice>,
    levels: Vec<Choice>,
}

fn joined(codes: &[String], label: impl Fn(&str) -> String) -> String {
    codes
        .iter()
        .map(|c| label(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The child's page for `view`, with `refused` (which form, what was typed and why) if one was.
fn child_page(
    state: &AppState,
    session: &Session,
    view: ChildView,
    banner_text: &'static str,
    refused_form: Option<(Which, Form)>,
) -> ChildPage {
    let p = &session.principal;
    let name_of = |id: &str| agency_name(state, id).unwrap_or_else(|| labels::humanise(id));
    let now = Utc::now();
    let consents = view
        .consents
        .iter()
        .map(|c| {
            let expired = c
                .expires_at
                .as_deref()
                .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
                .is_some_and(|e| e <= now);
            ConsentLine {
                id: c.id.clone(),
                given_by: labels::of::<Giver>(&c.given_by).into_owned(),
                purposes: joined(&c.purposes, |x| labels::of::<Purpose>(x).into_owned()),
                kinds: joined(&c.recipient_kinds, |x| {
                    labels::of::<AgencyKind>(x).into_owned()
                }),
                expires: c
                    .expires_at
                    .as_deref()
                    .map(uk_text)
                    .unwrap_or_else(|| "No expiry".to_owned()),
                withdrawn: c.withdrawn_at.as_deref().map(uk_text).unwrap_or_default(),
                current: c.withdrawn_at.is_none() && !expired,
                recorded: format!("{}, {}", name_of(&c.agency), uk_text(&c.created_at)),
            }
        })
        .collect();
    let competence = view
        .competence
        .iter()
        .map(|a| Line {
            cells: vec![
                labels::assessment(&a.assessment).to_owned(),
                labels::assessment_outcome(&a.assessment, a.outcome).to_owned(),
                a.assessed_on
                    .parse::<NaiveDate>()
                    .map(|d| uk_date(&d))
                    .unwrap_or_else(|_| a.assessed_on.clone()),
                name_of(&a.agency),
            ],
        })
        .collect();
    let mappa = view.mappa.as_ref().map(|m| Line {
        cells: vec![
            if m.active {
                "Under active MAPPA management".to_owned()
            } else {
                "Not under active MAPPA management".to_owned()
            },
            m.category.to_string(),
            m.level.to_string(),
            format!("{}, {}", name_of(&m.agency), uk_text(&m.updated_at)),
        ],
    });
    let designations = view
        .designations
        .iter()
        .map(|d| Line {
            cells: vec![
                d.staff_sub.clone(),
                name_of(&d.school_agency),
                format!("{}, {}", d.designated_by, uk_text(&d.created_at)),
            ],
        })
        .collect();
    let records = view
        .records
        .iter()
        .map(|r| Linked {
            href: format!("/ui/records/{}", r.id),
            what: labels::of::<RecordKind>(&r.kind).into_owned(),
            detail: labels::of::<SubjectRole>(&r.subject_role).into_owned(),
            when: uk_text(&r.created_at),
        })
        .collect();
    let cases = view
        .cases
        .iter()
        .map(|c| Linked {
            href: format!("/ui/cases/{}", c.id),
            what: "Case".to_owned(),
            detail: labels::of::<CaseStatus>(&c.status).into_owned(),
            when: uk_text(&c.opened_at),
        })
        .collect();
    let relation = childs_school(p, view.school_agency.as_deref());
    let may_do = |a| may(state, p, a);
    let mays = Mays {
        consent: may_do(Action::RecordConsent),
        withdraw: may_do(Action::WithdrawConsent),
        competence: may_do(Action::RecordCompetence),
        school: may_as(state, p, Action::ChangeSchool, relation),
        mappa: may_do(Action::SetMappaStatus),
        designate: may_as(state, p, Action::DesignateStaff, relation),
        decision: may_do(Action::RecordMappaDecision),
        open_case: may_do(Action::OpenCase),
        history: may_do(Action::ReadAudit),
        residence: !crate::app::places::areas(state).is_empty()
            && may_as(
                state,
                p,
                Action::RecordResidence,
                crate::app::places::childs_area(
                    state,
                    p,
                    view.local_authority.as_deref(),
                    view.residence.area.as_deref(),
                ),
            ),
    };
    let mut residence_form = Form::default();
    let (mut consent_form, mut withdraw_form, mut competence_form) =
        (Form::default(), Form::default(), Form::default());
    let (mut school_form, mut mappa_form, mut designation_form) =
        (Form::default(), Form::default(), Form::default());
    if let Some((which, form)) = refused_form {
        match which {
            Which::Consent => consent_form = form,
            Which::Withdraw => withdraw_form = form,
            Which::Competence => competence_form = form,
            Which::School => school_form = form,
            Which::Mappa => mappa_form = form,
            Which::Designation => designation_form = form,
            Which::Residence => residence_form = form,
        }
    }
    let mut school_choices = schools(state);
    school_choices.push(Choice::new("none", "No school"));
    let name = view
        .display_name
        .clone()
        .unwrap_or_else(|| "Name not given".to_owned());
    ChildPage {
        frame: Frame::of(session, &name),
        csrf: session.csrf.clone(),
        banner: banner_text,
        id: view.subject_id.to_string(),
        name,
        born: uk_date(&view.date_of_birth),
        age: view.age,
        school: view
            .school_name
            .clone()
            .unwrap_or_else(|| "No school".to_owned()),
        local_authority: super::places::home_text(state, view.local_authority.as_deref()),
        lives: super::places::lives(state, view.local_authority.as_deref(), &view.residence),
        registered_by: name_of(&view.registered_by),
        consents,
        competence,
        mappa,
        designations,
        records,
        cases,
        may: mays,
        consent_form,
        withdraw_form,
        competence_form,
        school_form,
        mappa_form,
        designation_form,
        residence_form,
        residence_choices: super::places::residence_choices(state, view.local_authority.as_deref()),
        placing_choices: super::places::placing_choices(state),
        givers: labels::choices::<Giver>(),
        purposes: labels::choices::<Purpose>(),
        kinds: labels::choices::<AgencyKind>(),
        assessments: vec![
            Choice::new("gillick", labels::assessment("gillick")),
            Choice::new("capacity", labels::assessment("capacity")),
        ],
        yes_no: vec![Choice::new("true", "Yes"), Choice::new("false", "No")],
        school_choices,
        levels: (1..=3)
            .map(|n| Choice::new(n.to_string(), n.to_string()))
            .collect(),
    }
}

/// `/ui/children/{subject_id}`: the child as the person may read it (`app::child::view`,
/// audited as `subject.read`; a child they may not read is "Page not found", as the API's 404).
pub async fn child(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let view = crate::app::child::view(&state, &session.principal, subject)
        .await
        .map_err(refused)?;
    let done = query_value(query.as_deref(), "done");
    let page_data = child_page(&state, &session, view, banner(done.as_deref()), None);
    Ok(page(StatusCode::OK, &page_data))
}

/// The child's page again, with the refused form shown with what was typed and why.
async fn reshow(
    state: &AppState,
    session: &Session,
    subject: SubjectId,
    which: Which,
    form: FormFields,
    errors: Errors,
) -> PageResult {
    let view = crate::app::child::view(state, &session.principal, subject)
        .await
        .map_err(refused)?;
    let data = child_page(
        state,
        session,
        view,
        "",
        Some((which, Form::refused(form, errors))),
    );
    Ok(page(StatusCode::UNPROCESSABLE_ENTITY, &data))
}

/// The outcome of one of the page's forms: back to the child's page with its banner, or the
/// page again with the form refused.
async fn answer<T>(
    state: &AppState,
    session: &Session,
    subject: SubjectId,
    which: Which,
    form: FormFields,
    outcome: Result<T, Errors>,
    what: &str,
) -> PageResult {
    match outcome {
        Ok(_) => Ok(done(&subject, what)),
        Err(errors) => reshow(state, session, subject, which, form, errors).await,
    }
}

/// Runs a form's action on its parsed input: the errors of the fields, the parse or the
/// action's refusal of what was typed.
macro_rules! act {
    ($errors:expr, $body:expr, $labels:expr, |$input:ident| $call:expr) => {{
        let mut errors: Errors = $errors;
        if errors.is_empty() {
            match parse($body, $labels) {
                Ok($input) => match $call.await {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        errors = refusal(e, $labels)?;
                        Err(errors)
                    }
                },
                Err(e) => Err(e),
            }
        } else {
            Err(errors)
        }
    }};
}

const CONSENT: Labels<'static> = &[
    ("given_by", "Who gave consent"),
    ("purposes", "Purposes"),
    ("recipient_kinds", "Recipients"),
    ("expires_at", "Expiry date"),
];

/// `POST /ui/children/{id}/consents`: `app::consents::record`.
pub async fn consent(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &["purposes", "recipient_kinds"])?;
    check_csrf(&session, form.get("csrf"))?;
    let (mut body, mut errors) = form.to_json(&[
        Field::Trimmed("given_by"),
        Field::List("purposes"),
        Field::List("recipient_kinds"),
    ]);
    expiry(&form, &mut body, &mut errors, "expires_at", "Expiry date");
    let p = &session.principal;
    let outcome = act!(errors, body, CONSENT, |input| crate::app::consents::record(
        &state,
        p,
        subject.clone(),
        input
    ));
    answer(
        &state,
        &session,
        subject,
        Which::Consent,
        form,
        outcome,
        "consent",
    )
    .await
}

/// `POST /ui/children/{id}/consents/{consent_id}/withdraw`: `app::consents::withdraw`.
pub async fn withdraw(
    session: Session,
    State(state): State<AppState>,
    Path((subject, consent)): Path<(SubjectId, ConsentId)>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let outcome =
        match crate::app::consents::withdraw(&state, &session.principal, subject.clone(), consent)
            .await
        {
            Ok(w) => Ok(w),
            // the API's detail names the consent by id and the instant in UTC: in words here
            Err(e) if e.code == "already_withdrawn" => {
                let mut errors = Errors::default();
                errors.add("", "This consent has already been withdrawn");
                Err(errors)
            }
            Err(e) => Err(refusal(e, &[])?),
        };
    answer(
        &state,
        &session,
        subject,
        Which::Withdraw,
        form,
        outcome,
        "withdrawn",
    )
    .await
}

const COMPETENCE: Labels<'static> = &[
    ("assessment", "Assessment"),
    ("outcome", "Outcome"),
    ("assessed_on", "Date of the assessment"),
];

/// `POST /ui/children/{id}/competence`: `app::subjects::record_competence`.
pub async fn competence(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let (body, errors) = form.to_json(&[
        Field::Trimmed("assessment"),
        Field::Bool("outcome"),
        Field::Date("assessed_on", "Date of the assessment"),
    ]);
    let p = &session.principal;
    let outcome = act!(errors, body, COMPETENCE, |input| {
        crate::app::subjects::record_competence(&state, p, subject.clone(), input)
    });
    answer(
        &state,
        &session,
        subject,
        Which::Competence,
        form,
        outcome,
        "competence",
    )
    .await
}

const SCHOOL: Labels<'static> = &[("school_agency", "School")];

/// `POST /ui/children/{id}/school`: `app::subjects::change_school` (`none`: no school).
pub async fn school(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let mut errors = Errors::default();
    let body = match form.text("school_agency") {
        None => {
            errors.add("school_agency", "Choose the child's school, or no school");
            Value::Null
        }
        Some("none") => serde_json::json!({"school_agency": null}),
        Some(school) => serde_json::json!({"school_agency": school}),
    };
    let p = &session.principal;
    let outcome = act!(errors, body, SCHOOL, |input| {
        crate::app::subjects::change_school(&state, p, subject.clone(), input)
    });
    answer(
        &state,
        &session,
        subject,
        Which::School,
        form,
        outcome,
        "school",
    )
    .await
}

const MAPPA: Labels<'static> = &[
    ("active", "Under active MAPPA management"),
    ("category", "Category"),
    ("level", "Level"),
];

/// `POST /ui/children/{id}/mappa`: `app::mappa::set_status`.
pub async fn mappa_status(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let (body, errors) = form.to_json(&[
        Field::Bool("active"),
        Field::Int("category", "Category"),
        Field::Int("level", "Level"),
    ]);
    let p = &session.principal;
    let outcome = act!(errors, body, MAPPA, |input| {
        crate::app::mappa::set_status(&state, p, subject.clone(), input)
    });
    answer(
        &state,
        &session,
        subject,
        Which::Mappa,
        form,
        outcome,
        "mappa",
    )
    .await
}

const DESIGNATION: Labels<'static> = &[
    ("staff_sub", "Member of staff"),
    ("reason", "Why they need to know"),
];

/// `POST /ui/children/{id}/staff-designations`: `app::subjects::designate`.
pub async fn designate(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let (body, mut errors) = form.to_json(&[Field::Text("staff_sub"), Field::Text("reason")]);
    for (name, message) in [
        ("staff_sub", "Enter the member of staff"),
        ("reason", "Enter why they need to know"),
    ] {
        if form.text(name).is_none() {
            errors.add(name, message);
        }
    }
    let p = &session.principal;
    let outcome = act!(errors, body, DESIGNATION, |input| {
        crate::app::subjects::designate(&state, p, subject.clone(), input)
    });
    answer(
        &state,
        &session,
        subject,
        Which::Designation,
        form,
        outcome,
        "designation",
    )
    .await
}

const RESIDENCE: Labels<'static> = &[
    ("area", "Where the child lives"),
    ("looked_after", "Looked after by a local authority"),
    ("placed_by", "Placed by"),
];

/// `POST /ui/children/{id}/residence`: `app::places::set_residence` (`home`: its home area;
/// `none`: no placing authority recorded).
pub async fn residence(
    session: Session,
    State(state): State<AppState>,
    Path(subject): Path<SubjectId>,
    posted: Posted,
) -> PageResult {
    use super::places::{HOME, NOBODY};
    let form = fields_with(posted, &[])?;
    check_csrf(&session, form.get("csrf"))?;
    let mut errors = Errors::default();
    let area = match form.text("area") {
        None => {
            errors.add("area", "Choose where the child lives");
            Value::Null
        }
        Some(HOME) => Value::Null,
        Some(a) => Value::from(a),
    };
    let looked_after = match form.text("looked_after") {
        Some("true") => true,
        Some("false") => false,
        _ => {
            errors.add(
                "looked_after",
                "Say whether the child is looked after by a local authority",
            );
            false
        }
    };
    let mut body = serde_json::json!({"area": area, "looked_after": looked_after});
    match form.text("placed_by") {
        None | Some(NOBODY) => {}
        Some(by) => body["placed_by"] = Value::from(by),
    }
    let p = &session.principal;
    let outcome = act!(errors, body, RESIDENCE, |input| {
        crate::app::places::set_residence(&state, p, subject.clone(), input)
    });
    answer(
        &state,
        &session,
        subject,
        Which::Residence,
        form,
        outcome,
        "residence",
    )
    .await
}
