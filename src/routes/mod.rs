//! HTTP routes, one module per area. Every route is declared once, in the table below, which
//! builds both the router and the OpenAPI document (`GET /openapi.json`, generated from the
//! table by [`openapi`]), so the two cannot drift apart.

pub mod audit;
pub mod case_actions;
pub mod case_events;
pub mod case_meetings;
pub mod case_transfers;
pub mod cases;
pub mod consents;
pub mod disclosures;
pub mod edge;
pub mod extract;
pub mod health;
pub mod history;
pub mod inbox;
pub mod mappa;
mod openapi;
pub mod policy;
pub mod records;
pub mod reports;
pub mod requests;
pub mod reviews;
pub mod subjects;
pub mod views;

pub use openapi::{openapi, openapi_with};

use axum::Router;
use schemars::JsonSchema;
use serde_json::Value;

use crate::state::AppState;

/// One documented route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    /// The handler's path (`subjects::register`), the operation's id.
    pub handler: &'static str,
    pub who: &'static str,
    /// The `policies/actions.csv` action that governs who may call it, if one does: the
    /// document then lists the loaded policy's rows for it.
    pub action: Option<crate::vocab::Action>,
    pub summary: &'static str,
    pub ok: u16,
    /// The request body's JSON Schema (a root schema: its subschemas under `$defs`).
    pub body: Option<Value>,
    /// The query parameters' JSON Schema (an object, one property per parameter), if any.
    pub query: Option<Value>,
    /// What a success carries.
    pub returns: Returns,
    /// The success body's JSON Schema, from the typed result the handler answers, as serde
    /// serialises it (a root schema: its subschemas under `$defs`); where none is given (text,
    /// the decision body), `returns` alone describes it.
    pub gives: Option<Value>,
    /// The answers beyond success and a 4XX problem.
    pub also: &'static [Also],
}

/// What a route's success carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// A JSON object.
    Object,
    /// A JSON array.
    List,
    /// The decision body of API.md.
    Decision,
    /// Text of this media type.
    Text(&'static str),
    /// A JSON object, or text of this media type when the query asks for it (`format=csv`).
    ObjectOrText(&'static str),
}

/// Answers a route gives beyond its success and a 4XX problem+json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Also {
    /// A 403 may carry the decision body (a denial) as well as a problem.
    DeniesWithDecision,
    /// It never touches the store, so it has no 503.
    NoStore,
    /// Its 503 is the readiness body (`{status, database, failing}`), not a problem.
    ReadinessBody,
}

fn schema_of<T: JsonSchema + 'static>() -> Option<Value> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
        return None;
    }
    serde_json::to_value(schemars::schema_for!(T)).ok()
}

/// The JSON Schema of what a handler answers: of `T` as serde serialises it (an `Option` field
/// is always there, null or not, so it is required).
fn answer_schema_of<T: JsonSchema>() -> Option<Value> {
    let schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    serde_json::to_value(schema).ok()
}

/// The route's own value where the table gives one, else the default.
macro_rules! given_or {
    ($default:expr) => {
        $default
    };
    ($default:expr, $given:expr) => {
        $given
    };
}

macro_rules! api {
    ($($method:ident $path:literal => $handler:path {
        $who:literal, $summary:literal, $body:ty, $ok:literal
        $(, acts $action:ident)?
        $(, query $query:ty)?
        $(, returns $returns:ident $(($media:literal))?)?
        $(, gives $gives:ty)?
        $(, also [$($also:ident),*])?
    })+) => {
        /// The API's routes.
        pub fn router() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($handler)))+
                .route("/openapi.json", axum::routing::get(openapi::serve))
        }

        /// Every route with who may call it, its request schemas and its answers.
        pub fn routes() -> Vec<RouteDoc> {
            vec![$(RouteDoc {
                method: stringify!($method),
                path: $path,
                handler: stringify!($handler),
                who: $who,
                action: given_or!(None $(, Some(crate::vocab::Action::$action))?),
                summary: $summary,
                ok: $ok,
                body: schema_of::<$body>(),
                query: given_or!(None $(, schema_of::<$query>())?),
                returns: given_or!(Returns::Object $(, Returns::$returns $(($media))?)?),
                gives: given_or!(None $(, answer_schema_of::<$gives>())?),
                also: &[$($(Also::$also),*)?],
            }),+]
        }
    };
}

api! {
    get "/healthz" => health::healthz { "anyone with a client certificate", "the process is up", (), 200, gives health::Health, also [NoStore] }
    get "/readyz" => health::readyz { "anyone with a client certificate", "the database is reachable", (), 200, gives health::Ready, also [ReadinessBody] }
    get "/v1/whoami" => health::whoami { "any", "the authenticated caller: agency (from the certificate), sub and roles (from the token)", (), 200, gives health::WhoAmI, also [NoStore] }
    post "/v1/subjects" => subjects::register { "as policies/actions.csv allows", "register a child; display_name is encrypted at rest", subjects::NewSubject, 201, acts RegisterSubject, gives views::Created }
    get "/v1/subjects/{id}" => subjects::read { "as policies/actions.csv allows (anyone else 404)", "the child: details (display name unsealed), consents, assessments, MAPPA status, staff designations, and the caller's agency's records and cases about it; audited", (), 200, acts ReadSubject, gives subjects::ChildView }
    post "/v1/subjects/{id}/competence" => subjects::competence { "as policies/actions.csv allows", "record a Gillick or mental capacity assessment", subjects::NewCompetence, 201, acts RecordCompetence, gives views::Created }
    post "/v1/subjects/{id}/consents" => consents::consent { "as policies/actions.csv allows", "record a consent", consents::NewConsent, 201, acts RecordConsent, gives views::Created }
    post "/v1/subjects/{id}/consents/{cid}/withdraw" => consents::withdraw { "as policies/actions.csv allows", "withdraw a consent from now on", (), 200, acts WithdrawConsent, gives consents::Withdrawn }
    put "/v1/subjects/{id}/school" => subjects::school { "as policies/actions.csv allows", "change the child's recorded school (null: no school); audited, and later decisions use the new school", subjects::NewSchool, 200, acts ChangeSchool, gives subjects::SchoolChanged }
    put "/v1/subjects/{id}/residence" => subjects::residence { "as policies/actions.csv allows", "where the child lives (null area: its home area), whether it is looked after and who placed it; audited, and later decisions and duties use it (PROCESS.md, Places)", subjects::NewResidence, 200, acts RecordResidence, gives subjects::ResidenceSet }
    put "/v1/subjects/{id}/mappa" => mappa::mappa_status { "as policies/actions.csv allows", "set MAPPA management status", mappa::MappaStatus, 200, acts SetMappaStatus, gives mappa::MappaStatusSet }
    post "/v1/subjects/{id}/staff-designations" => subjects::designate { "as policies/actions.csv allows", "designate a member of staff who needs to know", subjects::NewDesignation, 201, acts DesignateStaff, gives views::Created }
    get "/v1/subjects/{id}/history" => history::history { "as policies/actions.csv allows", "subject access report: every disclosure of the child's records", (), 200, acts ReadAudit, gives crate::app::audit::SubjectHistory }
    post "/v1/mappa/decisions" => mappa::mappa_decision { "as policies/actions.csv allows", "record a MAPPA forum decision", mappa::NewMappaDecision, 201, acts RecordMappaDecision, gives views::Created }
    post "/v1/records" => records::deposit { "the owner agency, agency kinds and roles per policies/deposit.csv", "deposit a record; the depositor of a kind with a chair (policies/record_controls.csv: strategy_meeting_minutes, only by a children_social_care team_manager) is its chair", records::NewRecord, 201, gives records::Deposited, also [DeniesWithDecision] }
    post "/v1/records/{id}/chair-permissions" => records::chair_permission { "as policies/actions.csv allows", "permit an agency to receive a record that carries a chair (strategy-meeting minutes)", records::NewChairPermission, 201, acts GrantChairPermission, gives records::ChairPermitted }
    get "/v1/records/{id}/disclosures" => records::disclosures { "as policies/actions.csv allows", "every decision about this record (404 for a caller the policy does not let read them)", (), 200, acts ReadRecordDisclosures, gives crate::app::records::RecordDisclosures }
    post "/v1/decisions" => disclosures::dry_run { "as disclosures", "dry run: the decision a disclosure would get (audited as a check)", disclosures::DisclosureRequest, 200, returns Decision }
    post "/v1/disclosures" => disclosures::disclose { "the records' owner agency", "disclose: 201 permit or 403 deny, both with the decision body", disclosures::DisclosureRequest, 201, returns Decision, also [DeniesWithDecision] }
    get "/v1/inbox" => inbox::list { "any", "packets addressed to the caller's agency and role", (), 200, returns List, gives Vec<inbox::InboxItem> }
    get "/v1/inbox/{disclosure_id}" => inbox::fetch { "the addressee", "the packet: ASCII-armoured age ciphertext (application/age)", (), 200, returns Text("application/age") }
    post "/v1/inbox/{disclosure_id}/ack" => inbox::ack { "the addressee, as policies/actions.csv allows", "acknowledge that the packet was received and read (after fetching it); the sender sees first_read_at and acknowledged_at in GET /v1/records/{id}/disclosures", (), 200, acts AcknowledgePacket, gives inbox::Acknowledged }
    get "/v1/audit" => audit::list { "as policies/actions.csv allows", "audit entries, filtered, cursor-paged", (), 200, acts ReadAudit, query audit::Filters, gives crate::app::audit::AuditPage }
    get "/v1/audit/export.csv" => audit::export { "as policies/actions.csv allows", "the same rows as CSV, streamed", (), 200, acts ReadAudit, query audit::Filters, returns Text("text/csv") }
    get "/v1/audit/verify" => audit::verify { "as policies/actions.csv allows", "verify the hash chain", (), 200, acts ReadAudit, gives crate::audit::Verification }
    get "/v1/audit/checkpoint" => audit::checkpoint { "as policies/actions.csv allows (any agency's IG officer: a witness)", "the latest signed checkpoint of the audit log's Merkle tree (RFC 9162), signed now if the log grew: a C2SP signed note (origin, size, base64 root, signature); not audited", (), 200, acts ReadAudit, returns Text("text/plain") }
    post "/v1/audit/checkpoint/verify" => audit::verify_checkpoint { "as policies/actions.csv allows", "does the log still hold everything a checkpoint kept earlier signed (checked from its last entry on: a log cut short or rewritten before it fails); 422 invalid_checkpoint for a note this broker's key did not sign; audited", audit::KeptCheckpoint, 200, acts ReadAudit, gives crate::audit::Extension }
    get "/v1/audit/log-key" => audit::log_key { "as policies/actions.csv allows", "the verifier key (C2SP vkey) that checks the broker's checkpoints; keep it to check them offline", (), 200, acts ReadAudit, returns Text("text/plain") }
    get "/v1/audit/proof/inclusion" => audit::inclusion { "as policies/actions.csv allows (another agency's IG officer: entries involving its agency, else 404)", "the RFC 9162 inclusion proof of entry seq in the tree of size entries (a checkpoint's size); audited", (), 200, acts ReadAudit, query audit::InclusionQuery, gives crate::audit::InclusionProof }
    get "/v1/audit/proof/consistency" => audit::consistency { "as policies/actions.csv allows", "the RFC 9162 consistency proof that the tree of to entries extends the tree of from entries (two checkpoints' sizes); not audited", (), 200, acts ReadAudit, query audit::ConsistencyQuery, gives crate::audit::ConsistencyProof }
    get "/v1/audit/reviews" => reviews::reviews { "as policies/actions.csv allows", "overrides awaiting review", (), 200, acts ReadAudit, gives crate::app::audit::ReviewQueue }
    post "/v1/cases" => cases::open { "as policies/actions.csv allows", "open a case for a child, led by the caller's children's social care agency; the clocks that start at the referral start (PROCESS.md)", crate::app::cases::NewCase, 201, acts OpenCase, gives crate::app::cases::CaseOpened }
    get "/v1/cases" => cases::list { "as policies/actions.csv allows", "the caller's agency's cases (every agency's for the partnership), with their clocks; overdue=true for the morning list", (), 200, acts ListCases, query cases::Filters, gives crate::app::cases::CaseList }
    get "/v1/cases/{id}" => cases::get { "as policies/actions.csv allows", "a case with its events, clocks, duties and links (links only to the lead agencies and the partnership)", (), 200, acts ReadCase, gives crate::app::cases::CaseView }
    post "/v1/cases/{id}/events" => case_events::event { "as policies/actions.csv allows", "record a step of the case (never edited: a correction is a new event with a note); answers the clocks", crate::app::cases::NewEvent, 201, acts RecordCaseEvent, gives crate::app::cases::EventRecorded }
    post "/v1/cases/{id}/transfers" => case_transfers::request { "as policies/actions.csv allows", "ask to move the case to another council's children's social care (PROCESS.md P4); pending until its team manager accepts; one pending transfer at a time", crate::app::cases::NewTransfer, 201, acts RequestTransfer, gives crate::app::cases::TransferRequested }
    post "/v1/cases/{id}/transfers/{tid}/accept" => case_transfers::accept { "as policies/actions.csv allows", "accept a transfer, naming the lead worker: from now on the caller's agency leads the case, whose clocks run on; the former lead reads its events recorded up to now", crate::app::cases::AcceptTransfer, 200, acts AcceptTransfer, gives crate::app::cases::TransferAccepted }
    post "/v1/cases/{id}/actions" => case_actions::agree { "as policies/actions.csv allows", "agree an action on the case, owned by an agency (which need not read the case), due at a time (PROCESS.md, Actions); open until its owner marks it done", crate::app::cases::NewAction, 201, acts RecordAction, gives crate::app::cases::ActionAgreed }
    post "/v1/cases/{id}/actions/{aid}/done" => case_actions::done { "as policies/actions.csv allows", "the owner agency marks the action done, with a note; once only", crate::app::cases::CompleteAction, 200, acts CompleteAction, gives crate::app::cases::ActionDone }
    get "/v1/actions" => case_actions::list { "as policies/actions.csv allows", "the caller's agency's own actions across cases, each with its case's id but not the case; overdue=true for those open past due", (), 200, acts ListActions, query crate::app::cases::ActionFilters, gives crate::app::cases::ActionList }
    post "/v1/requests" => requests::ask { "as policies/actions.csv allows", "ask another agency for information about the child of the caller's agency's open case (PROCESS.md): purpose, sections, due time, note (sealed); open until answered by a disclosure naming it or declined", crate::app::requests::NewRequest, 201, acts RequestInformation, gives crate::app::requests::RequestCreated }
    get "/v1/requests" => requests::list { "as policies/actions.csv allows", "the requests for information addressed to the caller's agency and asked by it (direction=to|from, status, overdue=true), each with overdue and answered_late", (), 200, acts ListRequests, query requests::Filters, gives crate::app::requests::RequestList }
    post "/v1/requests/{id}/decline" => requests::decline { "as policies/actions.csv allows", "the addressee declines a request for information with a reason (sealed); 409 once it is answered or declined", crate::app::requests::NewDecline, 200, acts DeclineRequest, gives crate::app::requests::Declined }
    post "/v1/cases/{id}/meetings" => case_meetings::schedule { "as policies/actions.csv allows", "schedule a meeting of the case (strategy, review, professionals', pre-release) and invite agencies, each told by a notification duty listed on the case (PROCESS.md, Meetings)", crate::app::cases::NewMeeting, 201, acts ScheduleMeeting, gives crate::app::cases::MeetingScheduled }
    post "/v1/cases/{id}/meetings/{mid}/attendance" => case_meetings::attendance { "as policies/actions.csv allows", "record an agency's attendance at a meeting, or its apologies with a written report (a record about the child); a strategy meeting's first attendance records it held (strategy_meeting_held at its time)", crate::app::cases::NewAttendance, 201, acts RecordAttendance, gives crate::app::cases::AttendanceRecorded }
    get "/v1/reports/timeliness" => reports::timeliness { "as policies/actions.csv allows", "per clock: started, met on time, met late, overdue now, pending, median hours; format=csv for CSV", (), 200, acts ReadTimeliness, query reports::Filters, returns ObjectOrText("text/csv"), gives crate::cases::report::Report }
    get "/v1/policy" => policy::in_force { "as policies/actions.csv allows", "the policy version this process decides with (number, version hash, who brought it into force and when, the timescale profile) and its rules, each .csv file as a table; newest_number is the version in force in the database, which every process swaps to within [policy] poll_seconds", (), 200, acts ReadPolicy, gives crate::app::policy::PolicyInForce }
    get "/v1/policy/versions" => policy::versions { "as policies/actions.csv allows", "the versions of the policy that came into force (broker policy reload, SIGHUP, a start with new files), newest first, at most 100: number, version hash, who and when, and per file the rows added and removed", (), 200, acts ReadPolicy, gives crate::app::policy::PolicyVersions }
    post "/v1/audit/reviews/{seq}" => reviews::review { "as policies/actions.csv allows", "review an override", reviews::NewReview, 201, acts ReviewOverride, gives crate::app::audit::Reviewed }
}
