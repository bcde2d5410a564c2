//! `GET /openapi.json` is generated from the route table that also builds the router; these
//! tests keep it in step with the router and with the contract (API.md).

mod common;

use broker::vocab::Role;
use serde_json::{Value, json};

/// The HTTP table of API.md.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/v1/subjects"),
    ("post", "/v1/subjects/{id}/competence"),
    ("post", "/v1/subjects/{id}/consents"),
    ("post", "/v1/subjects/{id}/consents/{cid}/withdraw"),
    ("put", "/v1/subjects/{id}/mappa"),
    ("put", "/v1/subjects/{id}/school"),
    ("post", "/v1/mappa/decisions"),
    ("post", "/v1/subjects/{id}/staff-designations"),
    ("post", "/v1/records"),
    ("post", "/v1/records/{id}/chair-permissions"),
    ("post", "/v1/decisions"),
    ("post", "/v1/disclosures"),
    ("get", "/v1/inbox"),
    ("get", "/v1/inbox/{disclosure_id}"),
    ("get", "/v1/records/{id}/disclosures"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/export.csv"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/reviews"),
    ("post", "/v1/audit/reviews/{seq}"),
    ("get", "/v1/subjects/{id}/history"),
    // PROCESS.md
    ("post", "/v1/inbox/{disclosure_id}/ack"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_of_the_contract_and_every_route_answers() {
    let server = common::TestServer::start().await;
    let client = server.client("partnership");
    let token = server.token("partnership", "ig.patel", &[Role::IgOfficer]);
    let doc = client.get("/openapi.json", &token).await.unwrap();
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in CONTRACT {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is in API.md but not in /openapi.json"
        );
    }
    // every documented operation is served by the router: never "no such endpoint" or 405
    let mut operations = 0;
    for (path, ops) in paths {
        for (method, _) in ops.as_object().unwrap() {
            operations += 1;
            let concrete = path
                .replace("{seq}", "1")
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        "01a204f3-0000-7000-8000-000000000000"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let m = method.to_uppercase().parse().unwrap();
            let body = (method != "get").then(|| serde_json::json!({}));
            let r = client
                .send(m, &concrete, Some(&token), body.as_ref())
                .await
                .unwrap();
            assert_ne!(r.status, 405, "{method} {path}: {}", r.text());
            let no_route = r.status == 404 && r.json()["detail"] == "no such endpoint";
            assert!(!no_route, "{method} {path} is documented but not routed");
            // the answer is one the document lists for it, in a media type it names there
            let responses = &ops[method]["responses"];
            let class = format!("{}XX", r.status.as_u16() / 100);
            let documented = responses
                .get(r.status.as_str())
                .or_else(|| responses.get(&class))
                .unwrap_or_else(|| panic!("{method} {path} answered {}, undocumented", r.status));
            let media = r
                .content_type()
                .split(';')
                .next()
                .unwrap()
                .trim()
                .to_owned();
            assert!(
                documented["content"].get(&media).is_some(),
                "{method} {path} answered {} as {media}, documented as {documented}",
                r.status
            );
        }
    }
    assert!(operations >= CONTRACT.len());
    server.stop().await;
}

#[tokio::test]
async fn request_schemas_come_from_the_request_types_with_the_vocabulary() {
    let doc = broker::routes::openapi();
    let schema = &doc["paths"]["/v1/disclosures"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let props = schema["properties"].as_object().unwrap();
    for field in [
        "record_ids",
        "recipient_agency",
        "recipient_role",
        "recipient_sub",
        "purpose",
        "basis",
        "justification",
        "legal_reference",
        "mappa_decision_id",
    ] {
        assert!(props.contains_key(field), "{field} missing from {schema}");
    }
    let text = resolved(&doc, schema).to_string();
    assert!(
        text.contains("\"safeguarding\"") && text.contains("\"significant_harm\""),
        "{text}"
    );
    let record = &doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert!(
        resolved(&doc, record)
            .to_string()
            .contains("strategy_meeting_minutes")
    );
    assert_eq!(
        schema["additionalProperties"],
        Value::Bool(false),
        "unknown fields are refused, so the schema says so"
    );
    // ids in a body declare what the edge accepts: a UUID, or an agency id's pattern
    assert_eq!(props["record_ids"]["items"]["format"], "uuid", "{schema}");
    assert_eq!(
        props["recipient_agency"]["pattern"], "^[a-z0-9-]{1,64}$",
        "{schema}"
    );
    let forum = resolved(&doc, &props["mappa_decision_id"]).to_string();
    assert!(forum.contains("\"uuid\""), "{forum}");
    assert_eq!(
        resolved(&doc, record)["properties"]["subject_id"]["format"],
        "uuid",
        "{record}"
    );
}

/// The schema a `$ref` names inside the document, if it resolves there.
fn target<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// `schema` with every reference replaced by what it names in `doc` (a recursive schema's
/// reference to itself, such as a record section's content, is left as it is).
fn resolved(doc: &Value, schema: &Value) -> Value {
    resolved_within(doc, schema, &mut Vec::new())
}

fn resolved_within(doc: &Value, schema: &Value, open: &mut Vec<String>) -> Value {
    match schema {
        Value::Object(map) => match map.get("$ref").and_then(Value::as_str) {
            Some(r) if open.iter().any(|o| o == r) => schema.clone(),
            Some(r) => {
                let named = target(doc, r).unwrap_or_else(|| panic!("{r} unresolved"));
                open.push(r.to_owned());
                let mut out = resolved_within(doc, named, open);
                open.pop();
                // siblings of the reference (OpenAPI 3.1) apply beside it
                if let Value::Object(out_map) = &mut out {
                    for (k, v) in map.iter().filter(|(k, _)| *k != "$ref") {
                        out_map.insert(k.clone(), resolved_within(doc, v, open));
                    }
                }
                out
            }
            None => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), resolved_within(doc, v, open)))
                    .collect(),
            ),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| resolved_within(doc, v, open))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every `$ref` string in `value`, with its JSON path.
fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(r) if k == "$ref" => out.push((at.to_owned(), r.clone())),
                    _ => refs(v, &format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_reference_in_the_document_resolves_inside_it() {
    let doc = broker::routes::openapi();
    let mut found = Vec::new();
    refs(&doc, "", &mut found);
    // the vocabulary enums, Problem and Decision are referenced from many operations
    assert!(
        found.len() > 20,
        "only {} references: {found:?}",
        found.len()
    );
    for (at, r) in &found {
        assert!(
            r.starts_with("#/components/schemas/") && target(&doc, r).is_some(),
            "{at}: $ref {r} does not resolve inside the document"
        );
    }
    let text = doc.to_string();
    assert!(!text.contains("\"$defs\""), "a schema still carries $defs");
    assert!(
        !text.contains("\"$schema\""),
        "a schema still names a meta-schema"
    );
    for name in [
        "Purpose",
        "Basis",
        "Role",
        "RecordKind",
        "Problem",
        "Decision",
    ] {
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{name} missing from components/schemas"
        );
    }
}

#[test]
fn every_path_parameter_is_declared_with_the_type_its_handler_parses() {
    let doc = broker::routes::openapi();
    let mut declared = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in ops.as_object().unwrap() {
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .collect();
            let listed: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
            assert_eq!(listed, names, "{method} {path}: path parameters");
            for p in params {
                declared += 1;
                let schema = &p["schema"];
                assert_eq!(p["required"], true, "{method} {path}: {p}");
                let expected = if p["name"] == "seq" {
                    ("integer", "int64")
                } else {
                    ("string", "uuid")
                };
                assert_eq!(
                    (schema["type"].as_str(), schema["format"].as_str()),
                    (Some(expected.0), Some(expected.1)),
                    "{method} {path}: {p}"
                );
            }
        }
    }
    assert!(declared >= 11, "only {declared} path parameters");
}

#[test]
fn the_audit_filters_are_typed_query_parameters() {
    let doc = broker::routes::openapi();
    for path in ["/v1/audit", "/v1/audit/export.csv"] {
        let params = doc["paths"][path]["get"]["parameters"].as_array().unwrap();
        let param = |name: &str| {
            params
                .iter()
                .find(|p| p["name"] == name && p["in"] == "query")
                .unwrap_or_else(|| panic!("{path}: no query parameter {name}"))
        };
        for name in [
            "subject_id",
            "agency",
            "decision",
            "basis",
            "action",
            "from",
            "to",
            "after_seq",
            "limit",
        ] {
            let p = param(name);
            assert_eq!(p["required"], false, "{path}: {p}");
            let schema = resolved(&doc, &p["schema"]);
            assert!(
                schema.get("type").is_some() || schema.get("enum").is_some(),
                "{path}: {name} has no type: {schema}"
            );
            assert!(
                !schema.to_string().contains("null"),
                "{path}: {name}: {schema}"
            );
        }
        assert_eq!(param("subject_id")["schema"]["format"], "uuid");
        assert_eq!(param("from")["schema"]["format"], "date-time");
        assert_eq!(param("limit")["schema"]["minimum"], 1);
        assert_eq!(param("limit")["schema"]["maximum"], 1000);
        assert_eq!(param("after_seq")["schema"]["type"], "integer");
        assert_eq!(
            param("decision")["schema"]["enum"],
            serde_json::json!(["permit", "deny"])
        );
        let basis = resolved(&doc, &param("basis")["schema"]);
        assert!(basis.to_string().contains("significant_harm"), "{basis}");
    }
}

#[test]
fn each_operation_documents_its_success_its_problems_and_the_store_being_unavailable() {
    let doc = broker::routes::openapi();
    for r in broker::routes::routes() {
        let responses = &doc["paths"][r.path][r.method]["responses"];
        let what = format!("{} {}", r.method, r.path);
        assert!(
            responses.get(r.ok.to_string()).is_some(),
            "{what}: no {} response: {responses}",
            r.ok
        );
        assert_eq!(
            responses["4XX"]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "{what}"
        );
        let store = !["/healthz", "/v1/whoami"].contains(&r.path);
        assert_eq!(responses.get("503").is_some(), store, "{what}: {responses}");
    }
    let disclose = &doc["paths"]["/v1/disclosures"]["post"]["responses"];
    assert_eq!(
        disclose["403"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Decision"
    );
    let csv = &doc["paths"]["/v1/audit/export.csv"]["get"]["responses"]["200"]["content"];
    assert!(csv.get("text/csv").is_some(), "{csv}");
    let packet = &doc["paths"]["/v1/inbox/{disclosure_id}"]["get"]["responses"]["200"]["content"];
    assert!(packet.get("application/age").is_some(), "{packet}");
}

#[tokio::test]
async fn the_school_move_and_the_records_subject_role_are_documented() {
    let policy = broker::decision::Policy::from_files(&broker::decision::policy::Files::embedded())
        .await
        .expect("the shipped policy");
    let doc = broker::routes::openapi_with(&policy);
    let school = &doc["paths"]["/v1/subjects/{id}/school"]["put"];
    let body = &resolved(
        &doc,
        &school["requestBody"]["content"]["application/json"]["schema"],
    );
    assert_eq!(
        body["required"],
        serde_json::json!(["school_agency"]),
        "{body}"
    );
    assert!(
        body["properties"]["school_agency"]
            .to_string()
            .contains("null"),
        "null means no school: {body}"
    );
    let who = school["description"].as_str().unwrap_or_default();
    assert!(
        who.contains("social_worker of children_social_care")
            && who.contains("dsl of school, for a child whose recorded school is the caller's")
            && who.contains("head_teacher of school"),
        "{who}"
    );
    let record = resolved(
        &doc,
        &doc["paths"]["/v1/records"]["post"]["requestBody"]["content"]["application/json"]["schema"],
    )
    .to_string();
    for role in ["harmful_behaviour", "victim", "other"] {
        assert!(
            record.contains(role),
            "subject_role {role} missing: {record}"
        );
    }
}

/// Who may call an action-governed route is read from the loaded policy: an IG officer's edit
/// to `actions.csv` changes the document served, with no change to the broker.
#[tokio::test]
async fn who_may_call_a_route_is_read_from_the_loaded_policy() {
    use broker::decision::{Policy, policy::Files};
    let shipped = Policy::from_files(&Files::embedded())
        .await
        .expect("the shipped policy");
    let doc = broker::routes::openapi_with(&shipped);
    let who = |doc: &Value| {
        doc["paths"]["/v1/subjects/{id}/competence"]["post"]["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let text = who(&doc);
    assert!(
        text.contains("record_competence")
            && text.contains("allow camhs_clinician of any agency kind"),
        "{text}"
    );
    assert!(
        text.contains(shipped.version()),
        "names the policy version: {text}"
    );

    let dir = tempfile::tempdir().expect("a temp dir");
    Files::embedded()
        .write_to(dir.path())
        .expect("writing the policy");
    let path = dir.path().join("actions.csv");
    let csv = std::fs::read_to_string(&path).expect("actions.csv");
    let row = "p, record_competence, *, camhs_clinician, *, allow\n";
    assert!(csv.contains(row), "actions.csv has {row}");
    std::fs::write(&path, csv.replace(row, "")).expect("writing actions.csv");
    let edited = Policy::load(dir.path()).await.expect("the edited policy");
    let text = who(&broker::routes::openapi_with(&edited));
    assert!(!text.contains("camhs_clinician"), "{text}");
    assert!(
        text.contains("allow social_worker of any agency kind"),
        "{text}"
    );

    // and the live document is the loaded policy's
    let server = common::TestServer::start().await;
    let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    let live = server
        .client("csc")
        .get("/openapi.json", &sw)
        .await
        .expect("/openapi.json")
        .json();
    assert_eq!(who(&live), who(&doc));
    server.stop().await;
}

#[tokio::test]
async fn an_outcomes_least_rationale_is_stated_from_the_loaded_policy_counted_after_trimming() {
    use broker::decision::{Policy, policy::Files};
    let rationale = |doc: &Value| {
        let event = body_schema(doc, "post", "/v1/cases/{id}/events");
        event["then"]["properties"]["rationale"].clone()
    };
    let dir = tempfile::tempdir().expect("a temp dir");
    Files::embedded()
        .write_to(dir.path())
        .expect("writing the policy");
    let path = dir.path().join("parameters.csv");
    let csv = std::fs::read_to_string(&path).expect("parameters.csv");
    let shipped = Policy::from_files(&Files::embedded())
        .await
        .expect("the shipped policy");
    for min in [shipped.rationale_min_chars(), 5, 2] {
        let line = format!("rationale_min_chars, {}", shipped.rationale_min_chars());
        assert!(csv.contains(&line), "parameters.csv has {line}");
        std::fs::write(
            &path,
            csv.replace(&line, &format!("rationale_min_chars, {min}")),
        )
        .expect("writing parameters.csv");
        let policy = Policy::load(dir.path()).await.expect("the edited policy");
        assert_eq!(policy.rationale_min_chars(), min);
        let schema = rationale(&broker::routes::openapi_with(&policy));
        assert_eq!(schema["minLength"], min, "{schema}");
        let pattern = regex::Regex::new(schema["pattern"].as_str().expect("a pattern"))
            .expect("the pattern is a regular expression");
        for text in [
            "",
            "x",
            "ab",
            "  ab  ",
            "abcd",
            " abcde ",
            "a\nb\tc d e",
            "\n   no further action: the concern was not substantiated   \n",
            &"é".repeat(min),
            &format!(" {} ", "y".repeat(min.saturating_sub(1))),
        ] {
            let accepted = text.trim().chars().count() >= min;
            assert_eq!(
                pattern.is_match(text),
                accepted,
                "min {min}: {text:?} (the case rules {})",
                if accepted { "accept it" } else { "refuse it" }
            );
        }
    }
    // the generated document, with no policy, states no number it does not know
    assert!(
        rationale(&broker::routes::openapi())
            .get("pattern")
            .is_none()
    );
}

/// The request body schema of `method path` in `doc`, its references resolved.
fn body_schema(doc: &Value, method: &str, path: &str) -> Value {
    resolved(
        doc,
        &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"],
    )
}

/// The document served by the running broker states its configuration: every agency field of
/// a request body, which its handler checks against the configured agencies, lists them (a
/// school field only the schools), with null where the field may be null.
/// The document `server` serves (`GET /openapi.json`), asked by csc's social worker.
async fn served(server: &common::TestServer) -> Value {
    let token = server.token("csc", "sw.amara", &[Role::SocialWorker]);
    server
        .client("csc")
        .get("/openapi.json", &token)
        .await
        .expect("/openapi.json")
        .json()
}

#[tokio::test]
async fn every_agency_field_of_the_served_document_lists_the_configured_agencies() {
    let server = common::TestServer::start().await;
    let doc = served(&server).await;
    let mut all: Vec<&str> = server.state.agencies.keys().map(String::as_str).collect();
    all.sort_unstable();
    let mut schools: Vec<&str> = server
        .state
        .agencies
        .values()
        .filter(|a| a.kind == broker::vocab::AgencyKind::School)
        .map(|a| a.id.as_str())
        .collect();
    schools.sort_unstable();
    assert!(all.len() > schools.len() && !schools.is_empty(), "{all:?}");
    let mut fields = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            // the served document is the generated one plus the enums: no request body added
            let generated = &broker::routes::openapi()["paths"][path][method];
            assert_eq!(
                op.get("requestBody").is_some(),
                generated.get("requestBody").is_some(),
                "{method} {path}"
            );
            if method == "get" {
                assert!(op.get("requestBody").is_none(), "{method} {path}: {op}");
            }
            let body = &op["requestBody"]["content"]["application/json"]["schema"];
            let Some(props) = body["properties"].as_object() else {
                continue;
            };
            for (name, prop) in props {
                if name != "agency" && !name.ends_with("_agency") {
                    continue;
                }
                let listed: Vec<&str> = prop["enum"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{method} {path}: {name} has no enum: {prop}"))
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let expected = if name == "school_agency" {
                    &schools
                } else {
                    &all
                };
                assert_eq!(&listed, expected, "{method} {path}: {name}");
                fields.push(format!("{method} {path} {name}"));
            }
        }
    }
    for field in [
        "post /v1/disclosures recipient_agency",
        "post /v1/decisions recipient_agency",
        "post /v1/records/{id}/chair-permissions recipient_agency",
        "post /v1/mappa/decisions recipient_agency",
        "post /v1/subjects school_agency",
        "put /v1/subjects/{id}/school school_agency",
        "post /v1/cases referred_by_agency",
    ] {
        assert!(
            fields.iter().any(|f| f == field),
            "{field} not in {fields:?}"
        );
    }
    // null means no school (PUT .../school), or none given (POST /v1/subjects)
    for path in ["/v1/subjects/{id}/school", "/v1/subjects"] {
        let method = if path.ends_with("school") {
            "put"
        } else {
            "post"
        };
        let school = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
            ["properties"]["school_agency"];
        assert!(
            school["enum"].as_array().unwrap().contains(&Value::Null),
            "{path}: {school}"
        );
    }
    // the dev world's two councils: a child's home area and residence name one of them (null:
    // the registering council's own area, or for a residence the home area)
    let body = |method: &str, path: &str| {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
            ["properties"]
            .clone()
    };
    assert_eq!(
        body("post", "/v1/subjects")["local_authority"]["enum"],
        json!(["north", "south", null])
    );
    assert_eq!(
        body("put", "/v1/subjects/{id}/residence")["area"]["enum"],
        json!(["north", "south", null])
    );
    server.stop().await;
}

/// What a success carries is stated: every JSON answer has the schema of the handler's typed
/// result (or the decision body), never a bare object.
#[test]
fn every_json_success_has_the_schema_of_its_typed_result() {
    let doc = broker::routes::openapi();
    let mut typed = 0;
    for r in broker::routes::routes() {
        let what = format!("{} {}", r.method, r.path);
        let content = &doc["paths"][r.path][r.method]["responses"][r.ok.to_string()]["content"];
        let Some(json) = content.get("application/json") else {
            continue;
        };
        let schema = resolved(&doc, &json["schema"]);
        let object = if schema["type"] == "array" {
            &schema["items"]
        } else {
            &schema
        };
        let props = object["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: success without properties: {schema}"));
        let required: Vec<&str> = object["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(!props.is_empty(), "{what}: {schema}");
        for name in props.keys() {
            assert!(
                required.contains(&name.as_str()),
                "{what}: {name} is always answered, so it is required: {schema}"
            );
        }
        typed += 1;
    }
    assert_eq!(
        typed,
        broker::routes::routes()
            .iter()
            .filter(|r| !matches!(r.returns, broker::routes::Returns::Text(_)))
            .count()
    );
    // ids are UUIDs, the vocabulary is an enum, and the shape is the handler's
    let created = resolved(
        &doc,
        &doc["paths"]["/v1/subjects"]["post"]["responses"]["201"]["content"]["application/json"]["schema"],
    );
    assert_eq!(created["properties"]["id"]["format"], "uuid", "{created}");
    assert_eq!(created["properties"]["audit_seq"]["type"], "integer");
    let inbox = resolved(
        &doc,
        &doc["paths"]["/v1/inbox"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
    );
    assert_eq!(inbox["type"], "array");
    assert_eq!(
        inbox["items"]["properties"]["disclosure_id"]["format"],
        "uuid"
    );
    assert!(
        inbox["items"]["properties"]["purpose"]
            .to_string()
            .contains("safeguarding"),
        "{inbox}"
    );
    let report = &doc["paths"]["/v1/reports/timeliness"]["get"]["responses"]["200"]["content"];
    assert!(report.get("text/csv").is_some(), "{report}");
    let report = resolved(&doc, &report["application/json"]["schema"]);
    assert!(report["properties"].get("clocks").is_some(), "{report}");
}

/// A schema-valid body is one the handler accepts but for what JSON Schema cannot state (a
/// date judged against today, the records that exist): the rules it can state are in the
/// request schemas.
#[test]
fn request_schemas_state_the_lists_lengths_and_text_their_handlers_refuse() {
    let doc = broker::routes::openapi();
    let consent = body_schema(&doc, "post", "/v1/subjects/{id}/consents");
    for list in ["purposes", "recipient_kinds"] {
        assert_eq!(consent["properties"][list]["minItems"], 1, "{consent}");
    }
    let forum = body_schema(&doc, "post", "/v1/mappa/decisions");
    for list in ["purposes", "sections"] {
        assert_eq!(forum["properties"][list]["minItems"], 1, "{forum}");
    }
    let ask = body_schema(&doc, "post", "/v1/disclosures");
    let records = &ask["properties"]["record_ids"];
    assert_eq!(
        (
            &records["minItems"],
            &records["maxItems"],
            &records["uniqueItems"]
        ),
        (&Value::from(1), &Value::from(50), &Value::Bool(true)),
        "{records}"
    );
    assert_eq!(ask["properties"]["justification"]["maxLength"], 4000);
    assert_eq!(ask["properties"]["legal_reference"]["maxLength"], 500);
    assert_eq!(ask["properties"]["recipient_sub"]["maxLength"], 200);
    let record = body_schema(&doc, "post", "/v1/records");
    let sections = &record["properties"]["sections"];
    assert_eq!(sections["minProperties"], 1, "{sections}");
    assert_eq!(
        sections["properties"]["summary"]["not"],
        serde_json::json!({"type": "null"}),
        "a section's content cannot be null: {sections}"
    );
    let subject = body_schema(&doc, "post", "/v1/subjects");
    for field in ["local_authority", "display_name"] {
        assert_eq!(subject["properties"][field]["maxLength"], 200, "{subject}");
    }

    // the text rule (crate::text): single-line strings, free text where the extractor allows
    // it, and something other than white space where the handler refuses a blank value
    let single = broker::text::pattern(broker::text::Kind::SingleLine, false);
    let free = broker::text::pattern(broker::text::Kind::FreeText, false);
    let free_non_blank = broker::text::pattern(broker::text::Kind::FreeText, true);
    assert_eq!(
        ask["properties"]["recipient_sub"]["pattern"],
        single.as_str()
    );
    assert_eq!(ask["properties"]["justification"]["pattern"], free.as_str());
    let designation = body_schema(&doc, "post", "/v1/subjects/{id}/staff-designations");
    assert_eq!(
        designation["properties"]["reason"]["pattern"],
        free_non_blank.as_str()
    );
    assert_eq!(
        designation["properties"]["staff_sub"]["pattern"],
        broker::text::pattern(broker::text::Kind::SingleLine, true).as_str()
    );
    let review = body_schema(&doc, "post", "/v1/audit/reviews/{seq}");
    assert_eq!(
        review["properties"]["note"]["pattern"],
        free_non_blank.as_str()
    );
    // and no string of any request body goes without a pattern, a format or a vocabulary
    let mut strings = 0;
    for r in broker::routes::routes().iter().filter(|r| r.body.is_some()) {
        let body = body_schema(&doc, r.method, r.path);
        for (name, prop) in body["properties"].as_object().unwrap() {
            let branches: Vec<&Value> = match prop["anyOf"].as_array() {
                Some(any) => any.iter().collect(),
                None => vec![prop, &prop["items"]],
            };
            for s in branches {
                let string = s["type"] == "string"
                    || s["type"]
                        .as_array()
                        .is_some_and(|t| t.contains(&Value::from("string")));
                if !string {
                    continue;
                }
                strings += 1;
                assert!(
                    ["pattern", "format", "enum"]
                        .iter()
                        .any(|k| s.get(*k).is_some()),
                    "{} {}: {name} is any string: {prop}",
                    r.method,
                    r.path
                );
            }
        }
    }
    assert!(strings >= 15, "only {strings} string fields");
}

#[tokio::test]
async fn the_area_filters_of_the_case_list_and_the_report_list_the_configured_areas() {
    let server = common::TestServer::start().await;
    let listing = served(&server).await;
    let generated = broker::routes::openapi();
    for path in ["/v1/cases", "/v1/reports/timeliness"] {
        let area = |doc: &Value| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap_or_else(|| panic!("{path}: parameters"))
                .iter()
                .find(|p| p["name"] == "area" && p["in"] == "query")
                .cloned()
                .unwrap_or_else(|| panic!("{path}: no query parameter area"))
        };
        let described = area(&generated);
        assert!(
            described["schema"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("home area")),
            "{path}: {described}"
        );
        let listed = area(&listing);
        assert_eq!(
            listed["schema"]["enum"],
            serde_json::json!(["north", "south"]),
            "{path}: {listed}"
        );
        assert_eq!(
            listed["schema"]["description"], described["schema"]["description"],
            "{path}"
        );
    }
    // with no areas configured the partnership is one area: no area filter is offered
    let server = server
        .restart_with(|toml| {
            let mut out = String::new();
            let mut skip = false;
            for line in toml.lines() {
                if line.starts_with('[') {
                    skip = line == "[[areas]]";
                }
                if !skip && !line.starts_with("areas = ") {
                    out.push_str(line);
                    out.push('\n');
                }
            }
            out
        })
        .await;
    assert!(server.state.config.areas.is_empty());
    let one = served(&server).await;
    for path in ["/v1/cases", "/v1/reports/timeliness"] {
        let params = one["paths"][path]["get"]["parameters"].as_array().unwrap();
        assert!(
            params.iter().all(|p| p["name"] != "area"),
            "{path}: {params:?}"
        );
    }
    server.stop().await;
}
