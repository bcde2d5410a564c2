//! A broker refuses to start on a bad configuration, and says what is wrong (API.md,
//! Configuration). Each test spoils one thing in a fresh dev world and reads the message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use broker::config::Config;
use broker::devinit::{DevWorld, WORLD, dev_init};
use broker::server::AppState;

struct World {
    // Held so the directory lives as long as the test.
    _dir: tempfile::TempDir,
    world: DevWorld,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("a temp dir");
        let world = dev_init(dir.path(), false, "127.0.0.1:0", "sqlite://data/broker.db")
            .expect("dev-init");
        World { _dir: dir, world }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.world.certs.join(name)
    }

    fn toml(&self) -> String {
        std::fs::read_to_string(&self.world.config).expect("broker.toml")
    }

    /// Rewrites broker.toml, checking that `from` is really there to replace.
    fn edit_toml(&self, from: &str, to: &str) {
        let text = self.toml();
        assert!(text.contains(from), "broker.toml has no {from:?}:\n{text}");
        std::fs::write(&self.world.config, text.replacen(from, to, 1))
            .expect("writing broker.toml");
    }

    /// Removes dev file `name` (`None`) or overwrites it with `content`; its path.
    fn spoil(&self, name: &str, content: Option<&str>) -> PathBuf {
        let path = self.file(name);
        match content {
            None => std::fs::remove_file(&path).unwrap(),
            Some(text) => std::fs::write(&path, text).unwrap(),
        }
        path
    }

    fn load(&self) -> Config {
        Config::load(&self.world.config).expect("the configuration parses")
    }

    fn load_error(&self) -> String {
        match Config::load(&self.world.config) {
            Ok(_) => panic!("the configuration was accepted"),
            Err(e) => format!("{e:#}"),
        }
    }

    async fn build_error(&self) -> String {
        match AppState::build(self.load()).await {
            Ok(state) => {
                state.db.close().await;
                panic!("the broker built")
            }
            Err(e) => format!("{e:#}"),
        }
    }

    /// Builds the state (which does not read the TLS files) and serves it: the error `serve`
    /// returns before accepting anything.
    async fn serve_error(&self) -> String {
        let state = AppState::build(self.load())
            .await
            .expect("the broker builds");
        let db = state.db.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let served = tokio::time::timeout(
            Duration::from_secs(10),
            broker::server::serve(listener, state, std::future::pending()),
        )
        .await;
        db.close().await;
        match served {
            Err(_) => panic!("the broker served for 10 s instead of refusing"),
            Ok(Ok(())) => panic!("serve returned without an error"),
            Ok(Err(e)) => format!("{e:#}"),
        }
    }
}

fn assert_names(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} is not in: {message}");
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

const GARBAGE_PEM: &str =
    "-----BEGIN PUBLIC KEY-----\nthis is not base64 at all!\n-----END PUBLIC KEY-----\n";

#[tokio::test]
async fn the_unchanged_dev_world_builds_with_every_agency() {
    let w = World::new();
    let config = w.load();
    let state = AppState::build(config).await.expect("the broker builds");
    assert_eq!(state.agencies.len(), WORLD.len());
    for agency in WORLD {
        assert!(
            state.agencies.contains_key(agency.id),
            "{} is missing",
            agency.id
        );
    }
    assert_eq!(state.db.kind(), "sqlite");
    assert_eq!(state.log_key.name(), "127.0.0.1:0/audit");
    state.db.close().await;
}

#[test]
fn an_unknown_key_in_the_server_section_is_refused_by_name() {
    let w = World::new();
    w.edit_toml("[server]\n", "[server]\ncolour = \"blue\"\n");
    let message = w.load_error();
    assert_names(&message, &["colour", &display(&w.world.config)]);
}

#[test]
fn an_agency_of_an_unknown_kind_is_refused_by_name() {
    let w = World::new();
    w.edit_toml("kind = \"police\"", "kind = \"constabulary\"");
    let message = w.load_error();
    assert_names(&message, &["unknown agency kind \"constabulary\""]);
}

#[test]
fn a_duplicate_agency_id_is_refused_by_name() {
    let w = World::new();
    w.edit_toml("id = \"early-help\"", "id = \"csc\"");
    let message = w.load_error();
    assert_names(&message, &["duplicate agency id \"csc\""]);
}

#[tokio::test]
async fn a_private_key_given_as_jwt_public_key_is_refused() {
    let w = World::new();
    w.edit_toml(
        "jwt_public_key = \"certs/dev/csc.jwt.pub.pem\"",
        "jwt_public_key = \"certs/dev/csc.jwt.pem\"",
    );
    let message = w.build_error().await;
    assert_names(
        &message,
        &[
            "agency \"csc\": jwt_public_key",
            &display(&w.file("csc.jwt.pem")),
            "private key",
        ],
    );
}

#[tokio::test]
async fn a_malformed_age_recipient_is_refused_naming_the_agency() {
    let w = World::new();
    let text = w.toml();
    let start = text.find("id = \"health\"").expect("the health agency");
    let line = text[start..]
        .lines()
        .find(|l| l.starts_with("age_recipient = "))
        .expect("health's age_recipient")
        .to_owned();
    w.edit_toml(&line, "age_recipient = \"age1notarecipient\"");
    let message = w.build_error().await;
    assert_names(
        &message,
        &[
            "agency \"health\": age_recipient",
            "malformed age recipient \"age1notarecipient\"",
        ],
    );
}

#[tokio::test]
async fn a_missing_storage_age_identity_file_is_refused_naming_the_file() {
    let w = World::new();
    let identity = w.file("broker-at-rest.age");
    std::fs::remove_file(&identity).unwrap();
    let message = w.build_error().await;
    assert_names(&message, &["storage.age_identity", &display(&identity)]);
}

#[tokio::test]
async fn a_missing_audit_log_key_is_refused_naming_the_setting_and_the_file() {
    let w = World::new();
    let key = w.spoil("audit-log.key", None);
    let message = w.build_error().await;
    assert_names(
        &message,
        &["[audit] log_key", &display(&key), "cannot read"],
    );
}

#[tokio::test]
async fn an_audit_log_key_that_is_not_ed25519_is_refused_naming_the_setting_and_the_file() {
    let w = World::new();
    // csc's client key: a real P-256 key, of a type checkpoints are not signed with
    std::fs::copy(w.file("csc.key"), w.file("audit-log.key")).unwrap();
    let message = w.build_error().await;
    assert_names(
        &message,
        &[
            "[audit] log_key",
            &display(&w.file("audit-log.key")),
            "not Ed25519",
        ],
    );
    w.spoil("audit-log.key", Some("not a key\n"));
    let message = w.build_error().await;
    assert_names(&message, &["[audit] log_key", "not a PEM private key"]);
}

/// A broker.toml without `[audit]` (as the contract's example is) still loads: the broker
/// signs with a key of its own beside broker.toml, made once, owner-only, and kept.
#[test]
fn a_broker_toml_without_the_audit_section_signs_with_a_key_made_beside_it_once() {
    let w = World::new();
    let text = w.toml();
    let start = text.find("[audit]\n").expect("dev-init writes [audit]");
    let end = start + text[start..].find("\n\n").expect("the section ends");
    w.edit_toml(&text[start..end], "");
    let config = w.load();
    let made = w
        .world
        .config
        .parent()
        .expect("a directory")
        .join("audit-log.key");
    assert_eq!(config.audit.log_key(), made);
    assert!(!made.exists());
    let first = broker::state::load_log_key(&config).expect("a key is made");
    assert!(made.exists(), "the key is kept beside broker.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&made)
            .expect("the key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the key");
    }
    let again = broker::state::load_log_key(&w.load()).expect("the same key is loaded");
    assert_eq!(
        first.verifier().vkey(),
        again.verifier().vkey(),
        "made once, then kept"
    );
    // a key that is named must be there: it is never made in its place
    std::fs::remove_file(&made).expect("removing the key");
    w.edit_toml(
        "[storage]\n",
        &format!("[audit]\nlog_key = \"{}\"\n\n[storage]\n", made.display()),
    );
    let named = w.load();
    assert!(!named.audit.log_key_made_here);
    let refused = broker::state::load_log_key(&named).expect_err("a named key that is missing");
    assert_names(&format!("{refused:#}"), &["[audit] log_key"]);
}

#[tokio::test]
async fn a_tls_key_that_does_not_fit_the_certificate_stops_serve_naming_the_certificate() {
    let w = World::new();
    // The csc client key is a valid P-256 key, but not the server certificate's.
    std::fs::copy(w.file("csc.key"), w.file("server.key")).unwrap();
    let message = w.serve_error().await;
    assert_names(
        &message,
        &[
            &display(&w.file("server.pem")),
            "the key does not fit the certificate",
        ],
    );
}

/// One test per spoiled TLS file `serve` refuses to start with: dev file `$file` removed
/// (`None`) or overwritten, and the error naming the file and `$fault`.
macro_rules! serve_refuses {
    ($($name:ident: $file:literal, $content:expr, $fault:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let w = World::new();
            let path = w.spoil($file, $content);
            let message = w.serve_error().await;
            assert_names(&message, &[&display(&path), $fault]);
        }
    )*};
}

const GARBAGE_CERT: &str =
    "-----BEGIN CERTIFICATE-----\nthis is not base64 at all!\n-----END CERTIFICATE-----\n";

serve_refuses! {
    a_missing_tls_cert_file_stops_serve_naming_the_file: "server.pem", None, "cannot read";
    a_malformed_tls_cert_file_stops_serve_naming_the_file:
        "server.pem", Some(GARBAGE_CERT), "malformed certificate PEM";
    a_missing_tls_key_file_stops_serve_naming_the_file: "server.key", None, "cannot read";
    a_malformed_tls_key_file_stops_serve_naming_the_file:
        "server.key", Some("not a key\n"), "no usable private key";
    a_missing_client_ca_file_stops_serve_naming_the_file: "ca.pem", None, "cannot read";
    a_malformed_client_ca_file_stops_serve_naming_the_file:
        "ca.pem", Some("no certificate here\n"), "no certificate in the file";
}

/// One test per spoiled JWT public key of the police the broker refuses to build with:
/// `police.jwt.pub.pem` removed (`None`) or overwritten, and the error naming the agency, the
/// file and `$fault`.
macro_rules! police_jwt_key_refused {
    ($($name:ident: $content:expr, $fault:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let w = World::new();
            let content: Option<String> = $content;
            let key = w.spoil("police.jwt.pub.pem", content.as_deref());
            let message = w.build_error().await;
            assert_names(&message, &["agency \"police\": jwt_public_key", &display(&key), $fault]);
        }
    )*};
}

/// A P-384 public key: a real key, of a type the broker does not verify JWTs with.
fn p384_public_key() -> Option<String> {
    let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    Some(p384.public_key_pem())
}

police_jwt_key_refused! {
    a_missing_jwt_public_key_file_is_refused_naming_the_agency_and_file: None, "cannot read";
    a_malformed_jwt_public_key_file_is_refused_naming_the_agency_and_file:
        Some(GARBAGE_PEM.to_owned()), "not a PEM public key";
    a_p384_jwt_public_key_is_refused_as_an_unsupported_key_type:
        p384_public_key(), "unsupported JWT key type";
}

/// One test per revocation list `serve` refuses to start with: `[server] client_crl` naming a
/// file that holds `$content` (made from the world), and the error naming the file and `$fault`.
macro_rules! crl_refused {
    ($($name:ident: $content:expr, $fault:literal;)*) => {$(
        #[tokio::test]
        async fn $name() {
            let w = World::new();
            let content: Option<String> = ($content)(&w);
            let crl = w.file("partnership.crl");
            if let Some(text) = content {
                std::fs::write(&crl, text).unwrap();
            }
            w.edit_toml("[server]\n", "[server]\nclient_crl = \"certs/dev/partnership.crl\"\n");
            let message = w.serve_error().await;
            assert_names(&message, &["server.client_crl", &display(&crl), $fault]);
        }
    )*};
}

/// A revocation list signed by a CA the broker does not know.
fn another_cas_list(_: &World) -> Option<String> {
    let other = broker::crypto::DevCa::generate("Some other CA").unwrap();
    Some(other.revocation_list(&[]).unwrap())
}

crl_refused! {
    a_missing_client_crl_file_stops_serve_naming_the_file: |_: &World| None, "cannot read";
    a_malformed_client_crl_in_pem_stops_serve_naming_the_file:
        |_: &World| Some("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".to_owned()),
        "malformed CRL";
    a_client_crl_file_that_is_not_a_crl_stops_serve_naming_the_file:
        |_: &World| Some("this is no list\n".to_owned()), "malformed CRL";
    a_client_crl_of_another_ca_stops_serve_naming_the_file:
        another_cas_list, "no list in the file is issued by a CA of server.client_ca";
}

#[tokio::test]
async fn a_client_ca_certificate_naming_an_agency_without_pathlen_zero_stops_serve() {
    let w = World::new();
    let read = |name: &str| std::fs::read_to_string(w.file(name)).unwrap();
    let ca = broker::crypto::DevCa::load(&read("ca.pem"), &read("ca.key")).unwrap();
    let unconstrained = ca
        .intermediate("police issuing CA", Some("police"), None)
        .unwrap();
    let ca_file = w.spoil(
        "ca.pem",
        Some(&format!("{}{}", read("ca.pem"), unconstrained.cert_pem)),
    );
    let message = w.serve_error().await;
    assert_names(&message, &[&display(&ca_file), "pathlen 0"]);
}

#[tokio::test]
async fn a_metrics_address_already_taken_stops_serve_naming_metrics_listen() {
    let w = World::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let addr = taken.local_addr().unwrap();
    w.edit_toml(
        "[metrics]\nlisten = \"127.0.0.1:0\"",
        &format!("[metrics]\nlisten = \"{addr}\""),
    );
    let message = w.serve_error().await;
    assert_names(&message, &["[metrics] listen", &addr.to_string()]);
}

#[test]
fn a_metrics_address_that_is_the_gateways_own_is_refused() {
    let w = World::new();
    w.edit_toml("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:8443\"");
    w.edit_toml(
        "[metrics]\nlisten = \"127.0.0.1:0\"",
        "[metrics]\nlisten = \"127.0.0.1:8443\"",
    );
    assert_names(&w.load_error(), &["metrics.listen is server.listen"]);
}
