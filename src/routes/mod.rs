//! HTTP routes, one module per area. Every route is declared once, in the table below, which
//! builds both the router and the OpenAPI document (`GET /openapi.json`), so the two cannot
//! drift apart.

pub mod audit;
pub mod disclosures;
pub mod edge;
pub mod extract;
pub mod health;
pub mod inbox;
mod notify;
pub mod records;
pub mod subjects;

use axum::Router;
use axum::response::Json;
use schemars::JsonSchema;
use serde_json::{Map, Value, json};

use crate::server::AppState;

/// One documented route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub who: &'static str,
    pub summary: &'static str,
    pub ok: u16,
    pub body: Option<Value>,
}

fn schema_of<T: JsonSchema + 'static>() -> Option<Value> {
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<()>() {
        return None;
    }
    serde_json::to_value(schemars::schema_for!(T)).ok()
}

macro_rules! api {
    ($($method:ident $path:literal => $handler:path { $who:literal, $summary:literal, $body:ty, $ok:literal })+) => {
        /// The API's routes.
        pub fn router() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::$method($handler)))+
                .route("/openapi.json", axum::routing::get(openapi_json))
        }

        /// Every route with who may call it and its request schema.
        pub fn routes() -> Vec<RouteDoc> {
            vec![$(RouteDoc {
                method: stringify!($method),
                path: $path,
                who: $who,
                summary: $summary,
                ok: $ok,
                body: schema_of::<$body>(),
            }),+]
        }
    };
}

api! {
    get "/healthz" => health::healthz { "anyone with a client certificate", "the process is up", (), 200 }
    get "/readyz" => health::readyz { "anyone with a client certificate", "the database is reachable", (), 200 }
    get "/v1/whoami" => health::whoami { "any", "the authenticated caller: agency (from the certificate), sub and roles (from the token)", (), 200 }
    post "/v1/subjects" => subjects::register { "any agency", "register a child; display_name is encrypted at rest", subjects::NewSubject, 201 }
    post "/v1/subjects/{id}/competence" => subjects::competence { "social_worker, team_manager, health_practitioner, camhs_clinician, yos_worker, hsb_practitioner (policies/actions.csv)", "record a Gillick or mental capacity assessment", subjects::NewCompetence, 201 }
    post "/v1/subjects/{id}/consents" => subjects::consent { "any", "record a consent", subjects::NewConsent, 201 }
    post "/v1/subjects/{id}/consents/{cid}/withdraw" => subjects::withdraw { "any", "withdraw a consent from now on", (), 200 }
    put "/v1/subjects/{id}/school" => subjects::school { "children_social_care (social_worker, team_manager); head_teacher or dsl of the child's current school (policies/actions.csv)", "change the child's recorded school (null: no school); audited, and later decisions use the new school", subjects::NewSchool, 200 }
    put "/v1/subjects/{id}/mappa" => subjects::mappa_status { "mappa_chair, mappa_coordinator", "set MAPPA management status", subjects::MappaStatus, 200 }
    post "/v1/subjects/{id}/staff-designations" => subjects::designate { "head_teacher of the child's school", "designate a member of staff who needs to know", subjects::NewDesignation, 201 }
    get "/v1/subjects/{id}/history" => audit::history { "ig_officer", "subject access report: every disclosure of the child's records", (), 200 }
    post "/v1/mappa/decisions" => subjects::mappa_decision { "mappa_chair", "record a MAPPA forum decision", subjects::NewMappaDecision, 201 }
    post "/v1/records" => records::deposit { "the owner agency, agency kinds and roles per policies/deposit.csv", "deposit a record; the depositor of a kind with a chair (policies/record_controls.csv: strategy_meeting_minutes, only by a children_social_care team_manager) is its chair", records::NewRecord, 201 }
    post "/v1/records/{id}/chair-permissions" => records::chair_permission { "the chair of the record (its depositor)", "permit an agency to receive a record that carries a chair (strategy-meeting minutes)", records::NewChairPermission, 201 }
    get "/v1/records/{id}/disclosures" => records::disclosures { "the owner agency", "every decision about this record", (), 200 }
    post "/v1/decisions" => disclosures::dry_run { "as disclosures", "dry run: the decision a disclosure would get (audited as a check)", disclosures::DisclosureRequest, 200 }
    post "/v1/disclosures" => disclosures::disclose { "the records' owner agency", "disclose: 201 permit or 403 deny, both with the decision body", disclosures::DisclosureRequest, 201 }
    get "/v1/inbox" => inbox::list { "any", "packets addressed to the caller's agency and role", (), 200 }
    get "/v1/inbox/{disclosure_id}" => inbox::fetch { "the addressee", "the packet: ASCII-armoured age ciphertext (application/age)", (), 200 }
    post "/v1/inbox/{disclosure_id}/ack" => inbox::ack { "the addressee (policies/actions.csv: acknowledge_packet)", "acknowledge that the packet was received and read (after fetching it); the sender sees first_read_at and acknowledged_at in GET /v1/records/{id}/disclosures", (), 200 }
    get "/v1/audit" => audit::list { "ig_officer", "audit entries, filtered, cursor-paged", (), 200 }
    get "/v1/audit/export.csv" => audit::export { "ig_officer", "the same rows as CSV, streamed", (), 200 }
    get "/v1/audit/verify" => audit::verify { "ig_officer", "verify the hash chain", (), 200 }
    get "/v1/audit/reviews" => audit::reviews { "ig_officer", "overrides awaiting review", (), 200 }
    post "/v1/audit/reviews/{seq}" => audit::review { "ig_officer", "review an override", audit::NewReview, 201 }
}

/// The OpenAPI 3.1 document, generated from the route table and the request types.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for r in routes() {
        let params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": r.summary,
            "description": format!("Who may call it: {}.", r.who),
            "parameters": params,
            "responses": {
                r.ok.to_string(): {"description": "success"},
                "4XX": {"description": "problem", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        });
        if let Some(schema) = r.body {
            op["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
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
            "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status", "code", "detail"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                "code": {"type": "string"}, "detail": {"type": "string"}}}},
        },
    })
}

async fn openapi_json() -> Json<Value> {
    Json(openapi())
}
