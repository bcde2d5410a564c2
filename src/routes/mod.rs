//! HTTP routes, one module per area. Every route is declared once, in the table below, which
//! builds both the router and the OpenAPI document (`GET /openapi.json`), so the two cannot
//! drift apart.

pub mod audit;
pub mod case_events;
pub mod cases;
pub mod consents;
pub mod disclosures;
mod duties;
pub mod edge;
pub mod extract;
pub mod health;
pub mod history;
pub mod inbox;
pub mod mappa;
mod notify;
mod packet;
pub mod records;
pub mod reports;
pub mod reviews;
pub mod subjects;
pub mod views;

use axum::Router;
use axum::response::Json;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::decision::{Family, Policy};
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
        $(, also [$($also:ident),*])?
    })+) => {
        /// The API's routes.
        pub fn router() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($handler)))+
                .route("/openapi.json", axum::routing::get(openapi_json))
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
                also: &[$($(Also::$also),*)?],
            }),+]
        }
    };
}

api! {
    get "/healthz" => health::healthz { "anyone with a client certificate", "the process is up", (), 200, also [NoStore] }
    get "/readyz" => health::readyz { "anyone with a client certificate", "the database is reachable", (), 200, also [ReadinessBody] }
    get "/v1/whoami" => health::whoami { "any", "the authenticated caller: agency (from the certificate), sub and roles (from the token)", (), 200, also [NoStore] }
    post "/v1/subjects" => subjects::register { "as policies/actions.csv allows", "register a child; display_name is encrypted at rest", subjects::NewSubject, 201, acts RegisterSubject }
    post "/v1/subjects/{id}/competence" => subjects::competence { "as policies/actions.csv allows", "record a Gillick or mental capacity assessment", subjects::NewCompetence, 201, acts RecordCompetence }
    post "/v1/subjects/{id}/consents" => consents::consent { "as policies/actions.csv allows", "record a consent", consents::NewConsent, 201, acts RecordConsent }
    post "/v1/subjects/{id}/consents/{cid}/withdraw" => consents::withdraw { "as policies/actions.csv allows", "withdraw a consent from now on", (), 200, acts WithdrawConsent }
    put "/v1/subjects/{id}/school" => subjects::school { "as policies/actions.csv allows", "change the child's recorded school (null: no school); audited, and later decisions use the new school", subjects::NewSchool, 200, acts ChangeSchool }
    put "/v1/subjects/{id}/mappa" => mappa::mappa_status { "as policies/actions.csv allows", "set MAPPA management status", mappa::MappaStatus, 200, acts SetMappaStatus }
    post "/v1/subjects/{id}/staff-designations" => subjects::designate { "as policies/actions.csv allows", "designate a member of staff who needs to know", subjects::NewDesignation, 201, acts DesignateStaff }
    get "/v1/subjects/{id}/history" => history::history { "as policies/actions.csv allows", "subject access report: every disclosure of the child's records", (), 200, acts ReadAudit }
    post "/v1/mappa/decisions" => mappa::mappa_decision { "as policies/actions.csv allows", "record a MAPPA forum decision", mappa::NewMappaDecision, 201, acts RecordMappaDecision }
    post "/v1/records" => records::deposit { "the owner agency, agency kinds and roles per policies/deposit.csv", "deposit a record; the depositor of a kind with a chair (policies/record_controls.csv: strategy_meeting_minutes, only by a children_social_care team_manager) is its chair", records::NewRecord, 201, also [DeniesWithDecision] }
    post "/v1/records/{id}/chair-permissions" => records::chair_permission { "as policies/actions.csv allows", "permit an agency to receive a record that carries a chair (strategy-meeting minutes)", records::NewChairPermission, 201, acts GrantChairPermission }
    get "/v1/records/{id}/disclosures" => records::disclosures { "as policies/actions.csv allows", "every decision about this record (404 for a caller the policy does not let read them)", (), 200, acts ReadRecordDisclosures }
    post "/v1/decisions" => disclosures::dry_run { "as disclosures", "dry run: the decision a disclosure would get (audited as a check)", disclosures::DisclosureRequest, 200, returns Decision }
    post "/v1/disclosures" => disclosures::disclose { "the records' owner agency", "disclose: 201 permit or 403 deny, both with the decision body", disclosures::DisclosureRequest, 201, returns Decision, also [DeniesWithDecision] }
    get "/v1/inbox" => inbox::list { "any", "packets addressed to the caller's agency and role", (), 200, returns List }
    get "/v1/inbox/{disclosure_id}" => inbox::fetch { "the addressee", "the packet: ASCII-armoured age ciphertext (application/age)", (), 200, returns Text("application/age") }
    post "/v1/inbox/{disclosure_id}/ack" => inbox::ack { "the addressee, as policies/actions.csv allows", "acknowledge that the packet was received and read (after fetching it); the sender sees first_read_at and acknowledged_at in GET /v1/records/{id}/disclosures", (), 200, acts AcknowledgePacket }
    get "/v1/audit" => audit::list { "as policies/actions.csv allows", "audit entries, filtered, cursor-paged", (), 200, acts ReadAudit, query audit::Filters }
    get "/v1/audit/export.csv" => audit::export { "as policies/actions.csv allows", "the same rows as CSV, streamed", (), 200, acts ReadAudit, query audit::Filters, returns Text("text/csv") }
    get "/v1/audit/verify" => audit::verify { "as policies/actions.csv allows", "verify the hash chain", (), 200, acts ReadAudit }
    get "/v1/audit/reviews" => reviews::reviews { "as policies/actions.csv allows", "overrides awaiting review", (), 200, acts ReadAudit }
    post "/v1/cases" => cases::open { "as policies/actions.csv allows", "open a case for a child, led by the caller's children's social care agency; the clocks that start at the referral start (PROCESS.md)", cases::NewCase, 201, acts OpenCase }
    get "/v1/cases" => cases::list { "as policies/actions.csv allows", "the caller's agency's cases (every agency's for the partnership), with their clocks; overdue=true for the morning list", (), 200, acts ListCases, query cases::Filters }
    get "/v1/cases/{id}" => cases::get { "as policies/actions.csv allows", "a case with its events, clocks, duties and links (links only to the lead agencies and the partnership)", (), 200, acts ReadCase }
    post "/v1/cases/{id}/events" => case_events::event { "as policies/actions.csv allows", "record a step of the case (never edited: a correction is a new event with a note); answers the clocks", case_events::NewEvent, 201, acts RecordCaseEvent }
    get "/v1/reports/timeliness" => reports::timeliness { "as policies/actions.csv allows", "per clock: started, met on time, met late, overdue now, pending, median hours; format=csv for CSV", (), 200, acts ReadTimeliness, query reports::Filters }
    post "/v1/audit/reviews/{seq}" => reviews::review { "as policies/actions.csv allows", "review an override", reviews::NewReview, 201, acts ReviewOverride }
}

/// The schema of a path parameter, from how its handler parses it: every `{name}` of the
/// table must be declared here (the OpenAPI tests fail on one that is not).
fn path_parameter(name: &str) -> Value {
    let (schema, description) = match name {
        // parsed by `extract::id`: a UUID, anything else 400 `invalid_id`
        "id" | "cid" | "disclosure_id" => (
            json!({"type": "string", "format": "uuid"}),
            "a broker identifier (UUID)",
        ),
        // parsed as an i64 by `audit::review`, anything else 400 `invalid_id`
        "seq" => (
            json!({"type": "integer", "format": "int64"}),
            "an audit entry's sequence number",
        ),
        other => panic!("the path parameter {{{other}}} has no declared schema in path_parameter"),
    };
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": schema})
}

/// Moves a root schema's `$defs` into `schemas` (the document's `components/schemas`) and
/// points its references there, so every `$ref` resolves inside the document. Two types
/// that share a schema name must share the schema.
fn hoist(schemas: &mut Map<String, Value>, mut root: Value) -> Value {
    if let Some(object) = root.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(defs)) = object.remove("$defs") {
            for (name, mut def) in defs {
                rewrite_refs(&mut def);
                match schemas.get(&name) {
                    Some(known) if *known != def => panic!(
                        "two request types have the schema name {name} with different schemas; \
                         rename one (#[schemars(rename = \"...\")])"
                    ),
                    Some(_) => {}
                    None => {
                        schemas.insert(name, def);
                    }
                }
            }
        }
    }
    rewrite_refs(&mut root);
    root
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(target) if key == "$ref" => {
                        if let Some(name) = target.strip_prefix("#/$defs/") {
                            *target = format!("#/components/schemas/{name}");
                        }
                    }
                    _ => rewrite_refs(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// A query parameter is absent or a value, never `null`: the `Option` of a field becomes
/// "not required" instead.
fn without_null(mut schema: Value) -> Value {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types.remove(0);
        }
    }
    if let Some(Value::Array(any)) = schema.get_mut("anyOf") {
        any.retain(|s| *s != json!({"type": "null"}));
        if any.len() == 1 {
            return any.remove(0);
        }
    }
    schema
}

/// One query parameter per property of the (hoisted) query schema.
fn query_parameters(schema: &Value) -> Vec<Value> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    schema["properties"]
        .as_object()
        .map(|props| {
            props
                .iter()
                .map(|(name, prop)| {
                    json!({"name": name, "in": "query", "required": required.contains(&name.as_str()),
                           "schema": without_null(prop.clone())})
                })
                .collect()
        })
        .unwrap_or_default()
}

fn responses(r: &RouteDoc) -> Value {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let problem = json!({"application/problem+json": {"schema": schema("Problem")}});
    let success = match r.returns {
        Returns::Object => json!({"application/json": {"schema": {"type": "object"}}}),
        Returns::List => {
            json!({"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}})
        }
        Returns::Decision => json!({"application/json": {"schema": schema("Decision")}}),
        Returns::Text(media) => json!({ media: {"schema": {"type": "string"}} }),
    };
    let mut out = Map::new();
    out.insert(
        r.ok.to_string(),
        json!({"description": "success", "content": success}),
    );
    if r.also.contains(&Also::DeniesWithDecision) {
        out.insert("403".into(), json!({
            "description": "denied by the policy (the decision body, with every reason) or refused (a problem)",
            "content": {"application/json": {"schema": schema("Decision")},
                        "application/problem+json": {"schema": schema("Problem")}},
        }));
    }
    out.insert(
        "4XX".into(),
        json!({"description": "refused: the problem's code and detail say why; nothing was done", "content": problem}),
    );
    if r.also.contains(&Also::ReadinessBody) {
        out.insert("503".into(), json!({
            "description": "not ready: the database does not answer a read, or does not take a write again",
            "content": {"application/json": {"schema": schema("Readiness")}},
        }));
    } else if !r.also.contains(&Also::NoStore) {
        out.insert(
            "503".into(),
            json!({"description": "the store is unavailable; nothing was done, try again", "content": problem}),
        );
    }
    Value::Object(out)
}

/// Schemas the document names beside the request types': the problem, the decision body of
/// API.md and the readiness body.
fn answer_schemas() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "Problem": {"type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "code": {"type": "string"}, "detail": {"type": "string"}}},
        "Decision": {"type": "object",
            "required": ["decision", "view", "sections_released", "sections_withheld", "reasons",
                         "obligations", "policy_version", "disclosure_id", "audit_seq"],
            "properties": {
                "decision": {"enum": ["permit", "deny"]},
                "view": {"type": ["string", "null"]},
                "sections_released": strings, "sections_withheld": strings,
                "reasons": {"type": "array", "items": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}},
                "obligations": strings,
                "policy_version": {"type": "string"},
                "disclosure_id": {"type": ["string", "null"], "format": "uuid"},
                "audit_seq": {"type": "integer"}}},
        "Readiness": {"type": "object", "required": ["status", "database"], "properties": {
            "status": {"enum": ["ready", "unavailable"]}, "database": {"type": "string"},
            "failing": {"enum": ["read", "write"]}}},
    })
}

/// Who the loaded policy lets call `action`: its `actions.csv` rows, in words.
fn who_may(policy: &Policy, action: crate::vocab::Action) -> String {
    let rows: Vec<String> = policy
        .rows_of(Family::Actions)
        .into_iter()
        .filter(|row| row.first().map(String::as_str) == Some(action.as_str()))
        .map(|row| {
            let field = |i: usize| row.get(i).map(String::as_str).unwrap_or("*");
            let any = |v: &str, what: &str| {
                if v == "*" {
                    format!("any {what}")
                } else {
                    v.to_owned()
                }
            };
            let relation = match field(3) {
                "*" => String::new(),
                "childs_school" => ", for a child whose recorded school is the caller's".into(),
                "chair" => ", as the chair of the minutes".into(),
                "owner" => ", for a record the caller's agency owns".into(),
                "lead_agency" => ", where the caller's agency leads the case".into(),
                other => format!(", where {other}"),
            };
            format!(
                "{} {} of {}{relation}",
                field(4),
                any(field(2), "role"),
                any(field(1), "agency kind")
            )
        })
        .collect();
    if rows.is_empty() {
        "nobody (no row)".to_owned()
    } else {
        rows.join("; ")
    }
}

/// The OpenAPI 3.1 document, generated from the route table and the request types.
pub fn openapi() -> Value {
    document(None)
}

/// The document with each action-governed route's callers read from `policy` (its
/// `actions.csv` rows), as `GET /openapi.json` serves it: the text changes when an IG officer
/// changes the policy, and cannot drift from it.
pub fn openapi_with(policy: &Policy) -> Value {
    document(Some(policy))
}

fn document(policy: Option<&Policy>) -> Value {
    let Value::Object(mut schemas) = answer_schemas() else {
        unreachable!("answer_schemas is an object")
    };
    let mut paths = Map::new();
    for r in routes() {
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(path_parameter)
            .collect();
        if let Some(query) = r.query.clone() {
            params.extend(query_parameters(&hoist(&mut schemas, query)));
        }
        let mut op = json!({
            "operationId": r.handler.replace(' ', "").replace("::", "."),
            "summary": r.summary,
            "description": match (policy, r.action) {
                (Some(policy), Some(action)) => format!(
                    "Who may call it: {}. policies/actions.csv `{action}` (policy {}): {}.",
                    r.who,
                    policy.version(),
                    who_may(policy, action)
                ),
                _ => format!("Who may call it: {}.", r.who),
            },
            "parameters": params,
            "responses": responses(&r),
        });
        if let Some(schema) = r.body.clone() {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {
                "schema": hoist(&mut schemas, schema)}}});
        }
        if r.path.starts_with("/v1/") {
            op["security"] = json!([{"mtls": [], "bearer": []}]);
        } else {
            op["security"] = json!([{"mtls": []}]);
        }
        let entry = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        entry[r.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "broker", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Multi-agency information-sharing gateway for child safeguarding"},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "mtls": {"type": "mutualTLS", "description": "client certificate with SAN URI urn:broker:agency:<id>"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
            "schemas": schemas,
        },
    })
}

async fn openapi_json(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Value> {
    Json(openapi_with(&state.policy))
}
