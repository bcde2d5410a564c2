//! An agency's identity provider as the tests need one: signing keys with a `kid`, their JWKS
//! served over real HTTP (rewritten mid-test, fetches counted), tokens signed as the provider
//! signs them, and edits to one agency's entry in broker.toml.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use broker::crypto::{JwtKeyType, generate_jwt_keypair};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::TestServer;

/// An Ed25519 signing key of the provider, named `kid`.
pub struct ProviderKey {
    pub kid: String,
    private_pem: String,
    pub public_pem: String,
}

impl ProviderKey {
    pub fn new(kid: &str) -> ProviderKey {
        let (private_pem, public_pem) =
            generate_jwt_keypair(JwtKeyType::Ed25519).expect("an Ed25519 key pair");
        ProviderKey {
            kid: kid.to_owned(),
            private_pem,
            public_pem,
        }
    }

    /// The public key as a JWK (RFC 8037): the SPKI's last 32 bytes are the key.
    pub fn jwk(&self) -> Value {
        let spki = ::pem::parse(&self.public_pem).expect("a PEM public key");
        let raw = &spki.contents()[spki.contents().len() - 32..];
        json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid,
               "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)})
    }

    /// `claims` signed with this key, the header naming its `kid` (or none).
    pub fn sign(&self, claims: &Value, with_kid: bool) -> String {
        let key = EncodingKey::from_ed_pem(self.private_pem.as_bytes()).expect("a signing key");
        let mut header = Header::new(Algorithm::EdDSA);
        if with_kid {
            header.kid = Some(self.kid.clone());
        }
        jsonwebtoken::encode(&header, claims, &key).expect("signing a token")
    }

    /// Writes the public key beside broker.toml; its path.
    pub fn write_public(&self, server_dir: &std::path::Path) -> std::path::PathBuf {
        let path = server_dir.join(format!("{}.jwt.pub.pem", self.kid));
        std::fs::write(&path, &self.public_pem).expect("writing a public key");
        path
    }
}

/// The JWKS of `keys`.
pub fn jwks(keys: &[&ProviderKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// A provider's JWKS endpoint over plain HTTP on loopback, serving what the test last
/// published with the `Cache-Control` it was given, counting the fetches.
pub struct JwksServer {
    pub url: String,
    published: Arc<Mutex<(String, String)>>,
    fetches: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl JwksServer {
    pub async fn start(keys: &[&ProviderKey], cache_control: &str) -> JwksServer {
        let published = Arc::new(Mutex::new((
            jwks(keys).to_string(),
            cache_control.to_owned(),
        )));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (published.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let (body, cache) = served.lock().unwrap().clone();
                counted.fetch_add(1, Ordering::SeqCst);
                async move {
                    (
                        [
                            (
                                axum::http::header::CONTENT_TYPE,
                                "application/json".to_owned(),
                            ),
                            (axum::http::header::CACHE_CONTROL, cache),
                        ],
                        body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let addr: SocketAddr = listener.local_addr().expect("an address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serving the JWKS");
        });
        JwksServer {
            url: format!("http://{addr}/jwks"),
            published,
            fetches,
            task,
        }
    }

    /// From now on the endpoint serves the JWKS of `keys` (the provider rotated its keys).
    pub fn publish(&self, keys: &[&ProviderKey]) {
        self.published.lock().unwrap().0 = jwks(keys).to_string();
    }

    /// How many times the JWKS has been fetched.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// broker.toml with `edit` applied to the `[[agencies]]` entry of `id` (its text up to the
/// next entry).
pub fn edit_agency(toml: &str, id: &str, edit: impl FnOnce(&str) -> String) -> String {
    let marker = format!("[[agencies]]\nid = \"{id}\"\n");
    let start = toml
        .find(&marker)
        .unwrap_or_else(|| panic!("broker.toml has no agency {id}"));
    let end = toml[start + marker.len()..]
        .find("[[agencies]]")
        .map_or(toml.len(), |i| start + marker.len() + i);
    format!(
        "{}{}{}",
        &toml[..start],
        edit(&toml[start..end]),
        &toml[end..]
    )
}

/// The entry's `jwt_public_key = ...` line replaced by `with` (TOML lines).
pub fn replace_key_line(entry: &str, with: &str) -> String {
    let line = entry
        .lines()
        .find(|l| l.starts_with("jwt_public_key = "))
        .expect("the agency's jwt_public_key line");
    entry.replacen(line, with, 1)
}

/// A dev world whose agency `id` is edited by `edit`, served.
pub async fn server_with_agency(id: &str, edit: impl FnOnce(&str) -> String) -> TestServer {
    let (dir, world) = super::fresh_world().await;
    let text = std::fs::read_to_string(&world.config).expect("the dev broker.toml");
    std::fs::write(&world.config, edit_agency(&text, id, edit)).expect("writing broker.toml");
    TestServer::start_in(dir, world).await
}

/// Claims csc's provider would put in a token for the API: csc's issuer, the broker's
/// audience, valid ten minutes, and `extra`.
pub fn csc_claims(server: &TestServer, extra: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": server.config.agency("csc").expect("csc").jwt_issuer,
        "aud": server.config.server.audience,
        "iat": now,
        "exp": now + 600,
    });
    for (k, v) in extra.as_object().expect("claims are an object") {
        claims[k] = v.clone();
    }
    claims
}
