//! The OpenAPI 3.1 document, generated from the route table ([`super::routes`]) and the
//! request types' JSON Schemas (schemars): every `$ref` resolves inside the document, path ids
//! declare their format, and the callers of an action-governed route are read from the loaded
//! policy.

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Json;
use serde_json::{Map, Value, json};

use super::{Also, Returns, RouteDoc, routes};
use crate::decision::{Family, Policy};
use crate::state::{Agency, AppState};
use crate::vocab::AgencyKind;

/// The schema of a path parameter, from how its handler parses it: every `{name}` of the
/// table must be declared here (the OpenAPI tests fail on one that is not).
fn path_parameter(name: &str) -> Value {
    let (schema, description) = match name {
        // parsed by the `extract::Path` extractor into its typed id: a UUID, anything else 400
        // `invalid_id`
        "id" | "cid" | "tid" | "aid" | "mid" | "disclosure_id" => (
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

/// Does this schema admit `null` (`"type": [..., "null"]`, or an `anyOf` branch)?
fn nullable(schema: &Value) -> bool {
    let null = json!("null");
    match &schema["type"] {
        Value::Array(types) => types.contains(&null),
        t => {
            *t == null
                || schema["anyOf"]
                    .as_array()
                    .is_some_and(|any| any.iter().any(nullable))
        }
    }
}

/// States the text rule (`crate::text`) in a request body's schema, as the `Body` extractor
/// applies it: every string field without a pattern, format or vocabulary of its own gets the
/// pattern of free text (a top-level field of `extract::FREE_TEXT_FIELDS`) or of a single-line
/// value (any other), in arrays and `anyOf` branches too.
fn text_rule(body: &mut Value) {
    fn apply(schema: &mut Value, pattern: &str) {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        let string = match &object.get("type") {
            Some(Value::String(t)) => t == "string",
            Some(Value::Array(types)) => types.contains(&json!("string")),
            _ => false,
        };
        let own = ["pattern", "format", "enum", "const", "$ref"]
            .iter()
            .any(|k| object.contains_key(*k));
        if string && !own {
            object.insert("pattern".into(), json!(pattern));
        }
        if let Some(items) = object.get_mut("items") {
            apply(items, pattern);
        }
        if let Some(Value::Array(any)) = object.get_mut("anyOf") {
            any.iter_mut().for_each(|branch| apply(branch, pattern));
        }
    }
    let single = crate::text::pattern(crate::text::Kind::SingleLine, false);
    let free = crate::text::pattern(crate::text::Kind::FreeText, false);
    if let Some(props) = body["properties"].as_object_mut() {
        for (name, prop) in props {
            let free_text = super::extract::FREE_TEXT_FIELDS.contains(&name.as_str());
            apply(prop, if free_text { &free } else { &single });
        }
    }
}

/// Every agency field of a request body (`agency`, `*_agency`), which its handler checks
/// against the configuration, gets the `enum` of the configured agencies (`school_agency`:
/// of the schools), with `null` where the field may be null.
fn agency_enums(doc: &mut Value, agencies: &HashMap<String, Agency>) {
    let ids = |school: bool| -> Vec<Value> {
        let mut ids: Vec<&str> = agencies
            .values()
            .filter(|a| !school || a.kind == AgencyKind::School)
            .map(|a| a.id.as_str())
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(Value::from).collect()
    };
    each_body_property(doc, |name, prop| {
        if name == "agency" || name.ends_with("_agency") {
            state_enum(prop, ids(name == "school_agency"));
        }
    });
}

/// With areas configured (PROCESS.md, Places), a body's area fields (`area`,
/// `local_authority`) get the `enum` of the area ids, with `null` where the field may be null.
fn area_enums(doc: &mut Value, areas: &[crate::config::AreaConfig]) {
    if areas.is_empty() {
        return;
    }
    let ids: Vec<Value> = areas.iter().map(|a| Value::from(a.id.as_str())).collect();
    each_body_property(doc, |name, prop| {
        if name == "area" || name == "local_authority" {
            state_enum(prop, ids.clone());
        }
    });
}

/// The `area` filter of a query (the case list, the timeliness report): with areas configured,
/// the `enum` of the area ids; with none, no query offers it (every id would be
/// `unknown_area`).
fn area_filters(doc: &mut Value, areas: &[crate::config::AreaConfig]) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let ids: Vec<Value> = areas.iter().map(|a| Value::from(a.id.as_str())).collect();
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            let is_area = |p: &Value| p["in"] == "query" && p["name"] == "area";
            if ids.is_empty() {
                params.retain(|p| !is_area(p));
            }
            for p in params.iter_mut().filter(|p| is_area(p)) {
                state_enum(&mut p["schema"], ids.clone());
            }
        }
    }
}

/// Calls `f` with each property of every JSON request body in the document.
fn each_body_property(doc: &mut Value, mut f: impl FnMut(&str, &mut Value)) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for op in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in op.values_mut() {
            // read with `pointer_mut`: indexing would add a request body to every operation
            let Some(props) = op
                .pointer_mut("/requestBody/content/application~1json/schema/properties")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (name, prop) in props {
                f(name, prop);
            }
        }
    }
}

/// `prop` becomes an `enum` of `allowed` (and `null` where it may be null), keeping its
/// description.
fn state_enum(prop: &mut Value, mut allowed: Vec<Value>) {
    if nullable(prop) {
        allowed.push(Value::Null);
    }
    let mut stated = json!({"enum": allowed});
    if let Some(description) = prop.get("description") {
        stated["description"] = description.clone();
    }
    *prop = stated;
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

fn responses(r: &RouteDoc, schemas: &mut Map<String, Value>) -> Value {
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});
    let problem = json!({"application/problem+json": {"schema": schema("Problem")}});
    // the typed result's schema where the route gives one, else what `returns` says
    let typed = r.gives.clone().map(|typed| hoist(schemas, typed));
    let json_schema = |default: Value| typed.clone().unwrap_or(default);
    let success = match r.returns {
        Returns::Object => {
            json!({"application/json": {"schema": json_schema(json!({"type": "object"}))}})
        }
        Returns::List => json!({"application/json": {"schema": json_schema(
            json!({"type": "array", "items": {"type": "object"}})
        )}}),
        Returns::Decision => json!({"application/json": {"schema": schema("Decision")}}),
        Returns::Text(media) => json!({ media: {"schema": {"type": "string"}} }),
        Returns::ObjectOrText(media) => json!({
            "application/json": {"schema": json_schema(json!({"type": "object"}))},
            media: {"schema": {"type": "string"}},
        }),
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
                "transfer_to" => ", where a transfer of the case to the caller's agency waits".into(),
                "former_lead" => {
                    ", where the caller's agency led the case until a transfer away (events recorded until then only)".into()
                }
                "action_owner" => ", for an action the caller's agency owns".into(),
                "childs_area" => {
                    ", for a child of an area the caller's agency serves (home or where it lives)"
                        .into()
                }
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
            "responses": responses(&r, &mut schemas),
        });
        if let Some(mut schema) = r.body.clone() {
            text_rule(&mut schema);
            if let Some(policy) = policy {
                policy_bounds(&mut schema, policy);
            }
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

/// The bounds of a body that the policy sets, stated in the document of that policy: an
/// outcome's rationale has at least `rationale_min_chars` characters once trimmed
/// (`cases::rules`), a pattern since JSON Schema's `minLength` cannot trim.
fn policy_bounds(body: &mut Value, policy: &Policy) {
    let min = policy.rationale_min_chars();
    if let Some(rationale) = body
        .pointer_mut("/then/properties/rationale")
        .and_then(Value::as_object_mut)
    {
        let pattern = match min {
            0 => "^[\\s\\S]*$".to_owned(),
            1 => "\\S".to_owned(),
            n => format!("^\\s*\\S[\\s\\S]{{{},}}\\S\\s*$", n - 2),
        };
        rationale.insert("pattern".to_owned(), Value::from(pattern));
        rationale.insert("minLength".to_owned(), Value::from(min));
    }
}

/// `GET /openapi.json`: the document with the loaded policy's callers and the configured
/// agencies.
pub(super) async fn serve(State(state): State<AppState>) -> Json<Value> {
    let mut doc = openapi_with(&state.policy());
    agency_enums(&mut doc, &state.agencies);
    area_enums(&mut doc, &state.config.areas);
    area_filters(&mut doc, &state.config.areas);
    Json(doc)
}
