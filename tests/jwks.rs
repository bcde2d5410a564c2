//! An agency's JWT keys as providers rotate them (issue 25): several key files by `kid`, and a
//! JWKS fetched over real HTTP from a provider endpoint the test rewrites, cached by its
//! `Cache-Control: max-age` and fetched again for an unknown `kid` at most once a minute.

mod common;

use std::time::Duration;

use broker::client::Response;
use common::TestServer;
use common::flows::problem;
use common::idp::{JwksServer, ProviderKey, csc_claims, replace_key_line, server_with_agency};
use serde_json::json;

/// `GET /v1/inbox` over csc's certificate with `token`.
async fn csc_inbox(server: &TestServer, token: &str) -> Response {
    inbox_of(server, "csc", token).await
}

/// `GET /v1/inbox` over `agency`'s certificate with `token`.
async fn inbox_of(server: &TestServer, agency: &str, token: &str) -> Response {
    server
        .client(agency)
        .get("/v1/inbox", token)
        .await
        .unwrap_or_else(|e| panic!("an answer over {agency}'s certificate: {e:#}"))
}

fn social_worker(server: &TestServer) -> serde_json::Value {
    csc_claims(
        server,
        json!({"sub": "sw.amara", "agency": "csc", "roles": ["social_worker"]}),
    )
}

/// csc's keys only at `jwks`: its `jwt_public_key` line replaced by `jwks_url`.
async fn csc_on_jwks(jwks: &JwksServer) -> TestServer {
    let url = jwks.url.clone();
    server_with_agency("csc", |entry| {
        replace_key_line(entry, &format!("jwks_url = \"{url}\""))
    })
    .await
}

#[tokio::test]
async fn a_jwks_key_rotation_is_followed_and_an_unknown_kid_fetches_the_jwks_at_most_once_a_minute()
{
    let (one, two, stranger) = (
        ProviderKey::new("key-1"),
        ProviderKey::new("key-2"),
        ProviderKey::new("key-3"),
    );
    let jwks = JwksServer::start(&[&one], "public, max-age=3600").await;
    let server = csc_on_jwks(&jwks).await;
    let claims = social_worker(&server);

    let r = csc_inbox(&server, &one.sign(&claims, true)).await;
    assert_eq!(r.status, 200, "a key-1 token verifies: {}", r.text());
    assert_eq!(jwks.fetches(), 1, "the JWKS is fetched when first needed");
    let r = csc_inbox(&server, &one.sign(&claims, true)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(jwks.fetches(), 1, "a fresh JWKS is not fetched again");

    // the provider rotates: key 2 replaces key 1
    jwks.publish(&[&two]);
    let r = csc_inbox(&server, &two.sign(&claims, true)).await;
    assert_eq!(
        r.status,
        200,
        "a key-2 token verifies after the refetch: {}",
        r.text()
    );
    assert_eq!(jwks.fetches(), 2, "the unknown kid fetched the JWKS once");

    let r = csc_inbox(&server, &one.sign(&claims, true)).await;
    let detail = problem(&r, 401, "token_key_unknown")["detail"].to_string();
    assert!(detail.contains("csc"), "{detail}");
    let r = csc_inbox(&server, &stranger.sign(&claims, true)).await;
    problem(&r, 401, "token_key_unknown");
    assert_eq!(
        jwks.fetches(),
        2,
        "two more unknown kids within the minute fetch nothing"
    );
    // the one key held verifies a token without kid; a kid names which key when there are more
    let r = csc_inbox(&server, &two.sign(&claims, false)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn the_jwks_is_kept_as_long_as_its_max_age_says_and_then_fetched_again() {
    let key = ProviderKey::new("key-1");
    let jwks = JwksServer::start(&[&key], "max-age=6").await;
    let server = csc_on_jwks(&jwks).await;
    let token = key.sign(&social_worker(&server), true);
    assert_eq!(csc_inbox(&server, &token).await.status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(csc_inbox(&server, &token).await.status, 200);
    assert_eq!(jwks.fetches(), 1, "within max-age the JWKS held serves");
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(csc_inbox(&server, &token).await.status, 200);
    assert_eq!(jwks.fetches(), 2, "past max-age the JWKS is fetched again");
    server.stop().await;
}

#[tokio::test]
async fn key_files_by_kid_verify_their_tokens_and_a_token_without_kid_is_refused() {
    let keys = tempfile::tempdir().expect("a temp dir");
    let (a, b, other) = (
        ProviderKey::new("2026-01"),
        ProviderKey::new("2026-07"),
        ProviderKey::new("2027-01"),
    );
    let (path_a, path_b) = (a.write_public(keys.path()), b.write_public(keys.path()));
    let server = server_with_agency("csc", |entry| {
        replace_key_line(
            entry,
            &format!(
                "jwt_public_keys = [{{ kid = \"2026-01\", path = \"{}\" }}, \
                 {{ kid = \"2026-07\", path = \"{}\" }}]",
                path_a.display(),
                path_b.display()
            ),
        )
    })
    .await;
    let claims = social_worker(&server);
    for key in [&a, &b] {
        let r = csc_inbox(&server, &key.sign(&claims, true)).await;
        assert_eq!(r.status, 200, "{}: {}", key.kid, r.text());
    }
    let r = csc_inbox(&server, &a.sign(&claims, false)).await;
    let detail = problem(&r, 401, "token_kid_required")["detail"].to_string();
    assert!(detail.contains("2 keys"), "{detail}");
    let r = csc_inbox(&server, &other.sign(&claims, true)).await;
    problem(&r, 401, "token_key_unknown");
    // key b's kid on a token key a signed: the kid's key refuses the signature
    let mut forged = other.sign(&claims, true);
    forged = forged.replacen(&header_of("2027-01"), &header_of("2026-07"), 1);
    let r = csc_inbox(&server, &forged).await;
    problem(&r, 401, "token_signature");
    server.stop().await;
}

/// The base64url header of an EdDSA token naming `kid`, as jsonwebtoken writes it.
fn header_of(kid: &str) -> String {
    use base64::Engine;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap())
}

#[tokio::test]
async fn an_unreachable_jwks_is_a_503_and_the_single_key_file_still_ignores_a_kid() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let server = server_with_agency("csc", |entry| {
        replace_key_line(entry, &format!("jwks_url = \"http://{closed}/jwks\""))
    })
    .await;
    let key = ProviderKey::new("key-1");
    let r = csc_inbox(&server, &key.sign(&social_worker(&server), true)).await;
    problem(&r, 503, "identity_provider_unavailable");

    // police keeps its one jwt_public_key: a kid in the token is not looked at, as before
    let police = server.token("police", "pc.one", &[broker::vocab::Role::PoliceOfficer]);
    let with_kid = {
        use base64::Engine;
        let payload = police.split('.').nth(1).expect("a JWT payload");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        let path = server.world.certs.join("police.jwt.pem");
        let (alg, key) = broker::crypto::load_jwt_signing_key(&path).unwrap();
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some("whatever-the-idp-calls-it".into());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let r = inbox_of(&server, "police", &with_kid).await;
    assert_eq!(r.status, 200, "{}", r.text());
    server.stop().await;
}
