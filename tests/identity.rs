//! Identity over real mTLS (API.md, Identity): every way a caller can fail to prove who it is,
//! each refused with its own 401 `code` (or, for a bad certificate, no HTTP answer at all),
//! and the three JWT algorithms accepted when everything is right.

mod common;

use std::time::Duration;

use base64::Engine;
use broker::client::{Client, Response};
use broker::crypto::{DevCa, load_jwt_signing_key};
use common::TestServer;
use common::flows::problem;
use hyper::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Claims a person of `agency` would carry: right issuer, audience and agency, valid ten minutes.
fn claims(server: &TestServer, agency: &str, roles: &[&str]) -> Value {
    let configured = server.config.agency(agency).expect("a dev agency");
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": configured.jwt_issuer,
        "aud": server.config.server.audience,
        "sub": "person.one",
        "agency": agency,
        "roles": roles,
        "iat": now,
        "exp": now + 600,
    })
}

/// Signs `claims` with the dev private JWT key of `key_of`, in that key's algorithm.
fn sign(server: &TestServer, key_of: &str, claims: &Value) -> String {
    let path = server.world.certs.join(format!("{key_of}.jwt.pem"));
    let (algorithm, key) = load_jwt_signing_key(&path).expect("a dev signing key");
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).expect("signing a token")
}

async fn get_inbox(client: &Client, token: Option<&str>) -> anyhow::Result<Response> {
    tokio::time::timeout(
        Duration::from_secs(10),
        client.send(Method::GET, "/v1/inbox", token, None),
    )
    .await
    .expect("the server answers or closes the connection within 10 s")
}

/// A 401 problem+json with exactly this `code`; its detail.
fn assert_refused(response: &Response, code: &str) -> String {
    problem(response, 401, code)["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `GET /v1/inbox` over csc's certificate with `token`.
async fn csc_inbox(server: &TestServer, token: &str) -> Response {
    get_inbox(&server.client("csc"), Some(token))
        .await
        .expect("an answer over csc's certificate")
}

/// csc's social worker's claims with `edit` made, signed with csc's key and sent to the inbox.
async fn csc_inbox_with(server: &TestServer, edit: impl FnOnce(&mut Value)) -> Response {
    let mut claims = claims(server, "csc", &["social_worker"]);
    edit(&mut claims);
    csc_inbox(server, &sign(server, "csc", &claims)).await
}

/// A token for a social worker of csc, signed with csc's key.
fn csc_token(server: &TestServer) -> String {
    sign(server, "csc", &claims(server, "csc", &["social_worker"]))
}

/// A valid caller gets through on this server, so a refusal next to it is the credential's doing.
async fn assert_server_accepts_csc(server: &TestServer) {
    let response = csc_inbox(server, &csc_token(server)).await;
    assert_eq!(response.status, 200, "{}", response.text());
}

/// A valid csc token sent through `client` gets no HTTP answer at all: the TLS handshake
/// refused the connection.
async fn assert_no_http_answer(server: &TestServer, client: &Client, what: &str) {
    let result = get_inbox(client, Some(&csc_token(server))).await;
    assert!(
        result.is_err(),
        "{what} got an HTTP answer: {:?}",
        result.map(|r| r.status)
    );
}

/// The `alg` in a token's header, to show which verification path a happy-path test takes.
fn declared_algorithm(token: &str) -> String {
    let header = token.split('.').next().expect("a JWT header");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .expect("a base64url header");
    let header: Value = serde_json::from_slice(&bytes).expect("a JSON header");
    header["alg"].as_str().expect("an alg").to_owned()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_connection_without_a_client_certificate_gets_no_http_response() {
    let server = TestServer::start().await;
    assert_server_accepts_csc(&server).await;
    let ca = std::fs::read(server.world.ca()).unwrap();
    let tls = broker::crypto::anonymous_client_tls_config(&ca).unwrap();
    let client = Client::new(server.addr, tls);
    assert_no_http_answer(&server, &client, "an anonymous connection").await;
    server.stop().await;
}

#[tokio::test]
async fn a_certificate_from_another_ca_gets_no_http_response() {
    let server = TestServer::start().await;
    assert_server_accepts_csc(&server).await;
    let foreign = DevCa::generate("Some other CA").unwrap();
    let cert = foreign.client_cert("Impostor", Some("csc")).unwrap();
    let client = server.client_with(&cert);
    assert_no_http_answer(&server, &client, "a foreign-CA certificate").await;
    server.stop().await;
}

/// One test per certificate the broker refuses with a 401 of its own `code`: the certificate
/// (issued by the dev CA) with a csc social worker's valid token, on a broker that accepts csc.
macro_rules! refused_certificates {
    ($($(#[$doc:meta])* $name:ident: $code:literal, $common_name:literal, $agency:expr;)*) => {$(
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let server = TestServer::start().await;
            assert_server_accepts_csc(&server).await;
            let cert = server.dev_ca().client_cert($common_name, $agency).unwrap();
            let client = server.client_with(&cert);
            let response = get_inbox(&client, Some(&csc_token(&server))).await.unwrap();
            assert_refused(&response, $code);
            assert_eq!(server.state.metrics.refused_authentications(), 1, "the refusal is counted");
            server.stop().await;
        }
    )*};
}

refused_certificates! {
    a_certificate_naming_an_unconfigured_agency_is_refused_as_certificate_agency_unknown:
        "certificate_agency_unknown", "Nowhere Council", Some("nowhere");
    a_certificate_without_an_agency_san_uri_is_refused_as_certificate_agency_missing:
        "certificate_agency_missing", "Anonymous Laptop", None;
}

/// One test per token the broker refuses with a 401 of its own `code`: the token `$token`
/// makes on a fresh broker, sent over csc's certificate, where a valid csc token is accepted.
macro_rules! refused_tokens {
    ($($(#[$doc:meta])* $name:ident: $code:literal, $token:expr;)*) => {$(
        $(#[$doc])*
        #[tokio::test]
        async fn $name() {
            let server = TestServer::start().await;
            assert_server_accepts_csc(&server).await;
            let token: String = ($token)(&server);
            let response = csc_inbox(&server, &token).await;
            assert_refused(&response, $code);
            assert_eq!(server.state.metrics.refused_authentications(), 1, "the refusal is counted");
            server.stop().await;
        }
    )*};
}

/// A csc social worker's claims with `changes` (given the time now), signed with csc's key.
fn csc_claims(changes: impl Fn(i64) -> Value) -> impl Fn(&TestServer) -> String {
    move |server| {
        let mut claims = claims(server, "csc", &["social_worker"]);
        let now = chrono::Utc::now().timestamp();
        for (k, v) in changes(now).as_object().expect("changes are an object") {
            claims[k] = v.clone();
        }
        sign(server, "csc", &claims)
    }
}

/// A token with `header` and csc's claims, and no signature.
fn unsigned(server: &TestServer) -> String {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(&serde_json::to_vec(&claims(server, "csc", &["social_worker"])).unwrap());
    format!("{header}.{payload}.")
}

/// An HS256 token whose secret is csc's public JWT key (the algorithm-confusion attack).
fn hs256_keyed_with_the_public_key(server: &TestServer) -> String {
    let public_pem = std::fs::read(server.world.certs.join("csc.jwt.pub.pem")).unwrap();
    let claims = claims(server, "csc", &["social_worker"]);
    let key = EncodingKey::from_secret(&public_pem);
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

/// csc's claims signed with early-help's key: Ed25519 like csc's, so only the key differs.
fn signed_by_early_help(server: &TestServer) -> String {
    sign(
        server,
        "early-help",
        &claims(server, "csc", &["social_worker"]),
    )
}

/// csc's claims signed with csc's key under a header of csc's `alg` and `typ` with `extra`
/// added, written as given (so a malformed `crit` can be sent).
fn csc_with_header(extra: Value) -> impl Fn(&TestServer) -> String {
    move |server| {
        let path = server.world.certs.join("csc.jwt.pem");
        let (algorithm, key) = load_jwt_signing_key(&path).expect("a dev signing key");
        let mut header = json!({"alg": format!("{algorithm:?}"), "typ": "JWT"});
        for (k, v) in extra.as_object().expect("header fields are an object") {
            header[k] = v.clone();
        }
        let claims = claims(server, "csc", &["social_worker"]);
        let message = format!(
            "{}.{}",
            b64(&serde_json::to_vec(&header).unwrap()),
            b64(&serde_json::to_vec(&claims).unwrap())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, algorithm).expect("signing");
        format!("{message}.{signature}")
    }
}

refused_tokens! {
    an_unsigned_alg_none_token_is_refused_as_token_algorithm: "token_algorithm", unsigned;
    an_hs256_token_keyed_with_the_agency_public_key_is_refused_as_token_algorithm:
        "token_algorithm", hs256_keyed_with_the_public_key;
    a_token_signed_with_another_agency_key_is_refused_as_token_signature:
        "token_signature", signed_by_early_help;
}

refused_tokens! {
    a_token_expired_beyond_the_leeway_is_refused_as_token_expired: "token_expired",
        csc_claims(|now| json!({"iat": now - 3600, "exp": now - 120}));
    a_token_issued_in_the_future_is_refused_as_token_not_yet_valid: "token_not_yet_valid",
        csc_claims(|now| json!({"iat": now + 600, "exp": now + 900}));
    a_token_for_another_audience_is_refused_as_token_audience: "token_audience",
        csc_claims(|_| json!({"aud": "urn:some-other-service"}));
    a_token_from_another_issuer_is_refused_as_token_issuer: "token_issuer",
        csc_claims(|_| json!({"iss": "https://idp.early-help.example"}));
    /// Signed by csc's own key with csc's issuer: only the agency claim is wrong.
    a_token_naming_another_agency_than_the_certificate_is_refused_as_token_agency_mismatch:
        "token_agency_mismatch", csc_claims(|_| json!({"agency": "early-help"}));
}

refused_tokens! {
    a_role_the_agency_kind_cannot_hold_is_refused_as_token_role_invalid: "token_role_invalid",
        csc_claims(|_| json!({"roles": ["police_officer"]}));
    an_unknown_role_name_is_refused_as_token_role_invalid: "token_role_invalid",
        csc_claims(|_| json!({"roles": ["social_worker", "janitor"]}));
}

// RFC 7515 4.1.11: a recipient refuses a token marking as critical a header extension it does
// not understand, and the broker understands none; a `crit` that is empty or not an array of
// names is malformed and refused too. Each token is otherwise valid and signed by csc's key.
refused_tokens! {
    a_token_marking_a_header_extension_critical_is_refused_as_token_critical_header:
        "token_critical_header", csc_with_header(json!({"b64": false, "crit": ["b64"]}));
    a_token_with_an_empty_crit_is_refused_as_token_critical_header:
        "token_critical_header", csc_with_header(json!({"crit": []}));
    a_token_whose_crit_is_not_an_array_of_names_is_refused_as_token_critical_header:
        "token_critical_header", csc_with_header(json!({"crit": "exp"}));
}

#[tokio::test]
async fn a_token_with_a_header_field_that_is_not_critical_is_accepted() {
    let server = TestServer::start().await;
    let token = csc_with_header(json!({"kid": "csc-2026", "x-note": "unread"}))(&server);
    let response = csc_inbox(&server, &token).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(server.state.metrics.refused_authentications(), 0);
    server.stop().await;
}

/// One test per JWT algorithm a dev agency signs with: `agency`'s person with `role`, signed
/// with the agency's key in `alg`, reads an empty inbox.
macro_rules! accepted_algorithms {
    ($($name:ident: $agency:literal, $role:literal, $alg:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let server = TestServer::start().await;
            let token = sign(&server, $agency, &claims(&server, $agency, &[$role]));
            assert_eq!(declared_algorithm(&token), $alg);
            let response = get_inbox(&server.client($agency), Some(&token)).await.unwrap();
            assert_eq!(response.status, 200, "{}", response.text());
            assert_eq!(response.json(), json!([]));
            assert_eq!(server.state.metrics.refused_authentications(), 0);
            server.stop().await;
        }
    )*};
}

accepted_algorithms! {
    an_eddsa_token_from_children_social_care_reads_the_inbox: "csc", "social_worker", "EdDSA";
    an_es256_token_from_the_police_reads_the_inbox: "police", "police_officer", "ES256";
    an_rs256_token_from_health_reads_the_inbox: "health", "health_practitioner", "RS256";
}

#[tokio::test]
async fn a_request_without_a_bearer_token_is_refused_as_token_missing() {
    let server = TestServer::start().await;
    let response = get_inbox(&server.client("csc"), None).await.unwrap();
    assert_refused(&response, "token_missing");
    server.stop().await;
}

#[tokio::test]
async fn a_token_expired_within_the_sixty_second_leeway_is_accepted() {
    let server = TestServer::start().await;
    let response = csc_inbox_with(&server, |skewed| {
        let now = chrono::Utc::now().timestamp();
        skewed["iat"] = json!(now - 3600);
        skewed["exp"] = json!(now - 20);
    })
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop().await;
}

#[tokio::test]
async fn healthz_and_readyz_answer_a_client_certificate_without_a_token() {
    let server = TestServer::start().await;
    let client = server.client("school-hillside");
    let health = client
        .send(Method::GET, "/healthz", None, None)
        .await
        .unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
    let ready = client
        .send(Method::GET, "/readyz", None, None)
        .await
        .unwrap();
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], "ready");
    assert_eq!(server.state.metrics.refused_authentications(), 0);
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_path_answers_404_problem_json() {
    let server = TestServer::start().await;
    let response = server.social_worker().get("/v1/no-such-thing").await;
    problem(&response, 404, "not_found");
    server.stop().await;
}

#[tokio::test]
async fn a_refused_authentication_is_counted_and_an_accepted_one_is_not() {
    let server = TestServer::start().await;
    let metrics = server.state.metrics.clone();
    assert_eq!(metrics.refused_authentications(), 0);
    assert_server_accepts_csc(&server).await;
    assert_eq!(metrics.refused_authentications(), 0);
    let response = get_inbox(&server.client("csc"), None).await.unwrap();
    assert_refused(&response, "token_missing");
    assert_eq!(metrics.refused_authentications(), 1);
    let token = sign(
        &server,
        "early-help",
        &claims(&server, "csc", &["social_worker"]),
    );
    let response = csc_inbox(&server, &token).await;
    assert_refused(&response, "token_signature");
    assert_eq!(metrics.refused_authentications(), 2);
    server.stop().await;
}

#[tokio::test]
async fn a_certificate_naming_two_agencies_is_refused_as_certificate_agency_ambiguous() {
    let server = TestServer::start().await;
    assert_server_accepts_csc(&server).await;
    let cert = server
        .dev_ca()
        .client_cert_naming("Shared Laptop", &["csc", "police"])
        .unwrap();
    // a token valid for either agency named: the certificate alone is refused
    for agency in ["csc", "police"] {
        let role = if agency == "csc" {
            "social_worker"
        } else {
            "police_officer"
        };
        let token = sign(&server, agency, &claims(&server, agency, &[role]));
        let response = get_inbox(&server.client_with(&cert), Some(&token))
            .await
            .unwrap();
        assert_refused(&response, "certificate_agency_ambiguous");
        let detail = response.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("exactly one"), "{detail}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_token_without_iat_is_refused_as_token_claims() {
    let server = TestServer::start().await;
    assert_server_accepts_csc(&server).await;
    let response = csc_inbox_with(&server, |no_iat| {
        no_iat.as_object_mut().unwrap().remove("iat");
    })
    .await;
    assert_refused(&response, "token_claims");
    assert!(response.text().contains("iat"), "{}", response.text());
    server.stop().await;
}

#[tokio::test]
async fn a_token_valid_until_the_year_9999_is_refused_as_token_lifetime() {
    let server = TestServer::start().await;
    assert_eq!(server.config.server.max_token_lifetime_secs, 3600);
    let now = chrono::Utc::now().timestamp();
    for exp in [253_402_300_799_i64, now + 3601 + 60] {
        let response = csc_inbox_with(&server, |long| {
            long["iat"] = json!(now);
            long["exp"] = json!(exp);
        })
        .await;
        assert_refused(&response, "token_lifetime");
    }
    // exactly the maximum is accepted
    let response = csc_inbox_with(&server, |hour| {
        hour["iat"] = json!(now);
        hour["exp"] = json!(now + 3600);
    })
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    server.stop().await;
}

#[tokio::test]
async fn a_control_character_in_a_token_claim_is_refused_as_token_claims_on_both_databases() {
    let server = TestServer::start().await;
    assert_server_accepts_csc(&server).await;
    let refused_before = server.state.metrics.refused_authentications();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("sub", json!("sw.amara\u{0}"), "NUL"),
        (
            "sub",
            json!("sw.amara\n2026-01-01 INFO forged"),
            "line feed",
        ),
        ("sub", json!("sw\u{1b}[2J"), "U+001B"),
        ("sub", json!("sw\u{85}"), "U+0085"),
        ("sub", json!("x".repeat(300)), "longer than"),
        ("agency", json!("csc\u{0}"), "NUL"),
        ("roles", json!(["social_worker\u{7f}"]), "U+007F"),
    ];
    for (claim, value, mention) in &cases {
        let response = csc_inbox_with(&server, |bad| {
            bad[*claim] = value.clone();
        })
        .await;
        assert_refused(&response, "token_claims");
        let detail = response.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            detail.contains(claim) && detail.contains(mention),
            "{claim}: {detail}"
        );
    }
    assert_eq!(
        server.state.metrics.refused_authentications() - refused_before,
        cases.len() as u64
    );
    server.stop().await;
}

#[tokio::test]
async fn the_dev_token_generator_issues_accepted_tokens_and_refuses_a_ttl_over_the_maximum() {
    let server = TestServer::start().await;
    for ttl in [60, 3600] {
        let token = broker::devinit::dev_token(
            &server.config,
            "csc",
            "sw.amara",
            &[broker::vocab::Role::SocialWorker],
            Duration::from_secs(ttl),
        )
        .unwrap();
        let response = get_inbox(&server.client("csc"), Some(&token))
            .await
            .unwrap();
        assert_eq!(response.status, 200, "ttl {ttl}: {}", response.text());
    }
    let e = broker::devinit::dev_token(
        &server.config,
        "csc",
        "sw.amara",
        &[broker::vocab::Role::SocialWorker],
        Duration::from_secs(2 * 3600),
    )
    .unwrap_err();
    assert!(e.to_string().contains("max_token_lifetime_secs"), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn a_forged_alg_is_refused_as_token_algorithm_and_quoted_escaped() {
    let server = TestServer::start().await;
    let header =
        b64(br#"{"alg":"EdDSA\n2026-01-01T00:00:00Z  INFO forged line\u001b[2J","typ":"JWT"}"#);
    let payload = b64(&serde_json::to_vec(&claims(&server, "csc", &["social_worker"])).unwrap());
    let token = format!("{header}.{payload}.c2ln");
    let response = csc_inbox(&server, &token).await;
    assert_refused(&response, "token_algorithm");
    let detail = response.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!detail.chars().any(char::is_control), "{detail:?}");
    assert!(detail.contains("EdDSA\\n2026"), "{detail:?}");
    server.stop().await;
}

// An identity provider as it is (issue 25): csc's provider writes tokens as Entra ID does, a
// `groups` claim of GUIDs, the person in `oid`, the council's tenant in `tid` and no `agency`.
// `[agencies.identity]` maps them.

const TENANT: &str = "9b0c2a4e-3d1f-4e8a-b6c7-5d2e1f0a9c8b";
const SW_GROUP: &str = "1f6e2d3c-4b5a-4978-8a1b-2c3d4e5f6a7b";
const TM_GROUP: &str = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d";

/// csc's entry with `[agencies.identity]` as an Entra tenant needs it.
async fn csc_as_entra() -> TestServer {
    common::idp::server_with_agency("csc", |entry| {
        format!(
            "{entry}identity = {{ roles_claim = \"groups\", user_claim = \"oid\", \
             role_map = {{ \"{SW_GROUP}\" = \"social_worker\", \"{TM_GROUP}\" = \"team_manager\" }}, \
             bound_claims = {{ tid = \"{TENANT}\" }} }}\n"
        )
    })
    .await
}

/// An Entra-like token of csc's provider: `extra` over a person with `groups`, `oid`, `tid`.
fn entra_token(server: &TestServer, extra: Value) -> String {
    let mut claims = common::idp::csc_claims(
        server,
        json!({"sub": "pairwise-AbC123", "oid": "0b1c2d3e-oid-of-amara", "tid": TENANT,
               "groups": [SW_GROUP, "44444444-not-mapped"], "name": "Amara Okafor"}),
    );
    for (k, v) in extra.as_object().expect("changes are an object") {
        claims[k] = v.clone();
    }
    sign(server, "csc", &claims)
}

#[tokio::test]
async fn an_entra_like_token_with_only_groups_is_accepted_with_the_mapped_roles_as_its_oid() {
    let server = csc_as_entra().await;
    let token = entra_token(&server, json!({}));
    let child = common::flows::register(
        &server.client("csc"),
        &token,
        &common::flows::born_years_ago(9),
        None,
    )
    .await;
    let (sub, roles): (String, String) = broker::with_db!(&server.state.db, pool => {
        use sqlx::Row;
        let row = sqlx::query(
            "SELECT actor_sub, actor_roles FROM audit_log WHERE actor_agency = 'csc' \
             ORDER BY seq DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .expect("the registration's audit entry");
        (row.get("actor_sub"), row.get("actor_roles"))
    });
    assert!(!child.is_empty());
    assert_eq!(
        sub, "0b1c2d3e-oid-of-amara",
        "user_claim = oid names the person"
    );
    assert_eq!(
        roles, r#"["social_worker"]"#,
        "the unmapped group is ignored"
    );
    // a team manager's group gives both roles; a role name in groups is not a broker role
    let both = entra_token(
        &server,
        json!({"groups": [TM_GROUP, SW_GROUP, "social_worker"]}),
    );
    let r = csc_inbox(&server, &both).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // an agency claim, when sent, must still be the certificate's
    let r = csc_inbox(
        &server,
        &entra_token(&server, json!({"agency": "early-help"})),
    )
    .await;
    assert_refused(&r, "token_agency_mismatch");
    server.stop().await;
}

#[tokio::test]
async fn a_token_of_an_unbound_tenant_or_without_a_mapped_group_or_oid_is_refused() {
    let server = csc_as_entra().await;
    let other_tenant = "0e9d8c7b-6a5f-4e3d-2c1b-0a9f8e7d6c5b";
    // another tenant's, a list of another's, none (null)
    for tid in [json!(other_tenant), json!([other_tenant]), Value::Null] {
        let r = csc_inbox(&server, &entra_token(&server, json!({"tid": tid}))).await;
        let detail = assert_refused(&r, "token_bound_claim");
        assert!(detail.contains("tid"), "names the claim: {detail}");
        assert!(
            !detail.contains(other_tenant) && !detail.contains(TENANT),
            "{detail}"
        );
    }
    let r = csc_inbox(
        &server,
        &entra_token(&server, json!({"groups": ["44444444-not-mapped"]})),
    )
    .await;
    let detail = problem(&r, 403, "token_no_mapped_role")["detail"].to_string();
    assert!(
        detail.contains("groups") && detail.contains("role_map"),
        "{detail}"
    );
    let r = csc_inbox(&server, &entra_token(&server, json!({"oid": 42}))).await;
    let detail = assert_refused(&r, "token_claims");
    assert!(detail.contains("oid"), "{detail}");
    // another agency without [agencies.identity] still needs its agency claim
    let mut claims = claims(&server, "early-help", &["social_worker"]);
    claims.as_object_mut().unwrap().remove("agency");
    let r = get_inbox(
        &server.client("early-help"),
        Some(&sign(&server, "early-help", &claims)),
    )
    .await
    .unwrap();
    assert_refused(&r, "token_claims");
    server.stop().await;
}

#[tokio::test]
async fn a_token_accepted_once_is_taken_again_only_over_its_own_agencys_certificate() {
    let server = TestServer::start().await;
    let token = sign(&server, "csc", &claims(&server, "csc", &["social_worker"]));
    // verified once, then taken from the verified tokens
    for _ in 0..2 {
        let r = csc_inbox(&server, &token).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // the same text over another agency's certificate is verified against that agency's key
    let r = get_inbox(&server.client("early-help"), Some(&token))
        .await
        .expect("an answer over early-help's certificate");
    assert_eq!(r.status, 401, "{}", r.text());
    // and a token that fails once fails every time
    let mut forged = token.clone();
    forged.push('A');
    for _ in 0..2 {
        let r = csc_inbox(&server, &forged).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    server.stop().await;
}
