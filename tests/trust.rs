//! Trust stops at the agency (issue 20, item 3), over real mTLS with certificates made in the
//! test: a leaf is taken only when the partnership CA issued it itself, or an intermediate CA
//! named for the leaf's own agency (with pathlen 0) did; only with the clientAuth extended key
//! usage; and not once `[server] client_crl` revokes it, which the broker re-reads while it
//! runs. Every refusal ends the TLS handshake with its own alert, so a refused certificate
//! never speaks HTTP to the broker.

mod common;

use std::time::{Duration, Instant};

use broker::crypto::{IssuedCert, Usage};
use broker::vocab::Role;
use common::TestServer;
use common::certs::{Handshake, leaf_only};
use rustls::AlertDescription;
use tokio::io::AsyncReadExt;

/// `who` gets `GET /v1/whoami` answered 200 as `agency`'s person with `role` over `cert`.
async fn assert_served(server: &TestServer, cert: &IssuedCert, agency: &str, role: Role) {
    let token = server.token(agency, "person.one", &[role]);
    let response = server
        .client_with(cert)
        .get("/v1/whoami", &token)
        .await
        .expect("an answer");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["agency"], agency, "{}", response.text());
}

/// The handshake over `cert` ends with `alert`, and the broker counted it.
async fn assert_refused(server: &TestServer, cert: &IssuedCert, alert: AlertDescription) {
    let before = server.state.metrics.refused_handshakes();
    assert_eq!(server.handshake(cert).await, Handshake::Refused(alert));
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.state.metrics.refused_handshakes() == before {
        assert!(Instant::now() < deadline, "the refusal was never counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// csc's own dev certificate, as its files hold it.
fn dev_cert(server: &TestServer, agency: &str) -> IssuedCert {
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).expect("a dev certificate file");
    IssuedCert {
        cert_pem: read(server.world.client_cert(agency)),
        key_pem: read(server.world.client_key(agency)),
    }
}

#[tokio::test]
async fn a_leaf_issued_by_the_partnership_ca_itself_for_client_auth_is_served() {
    let server = TestServer::start().await;
    let cert = server
        .dev_ca()
        .client_cert_for("A csc laptop", "csc", Usage::ClientAuth)
        .unwrap();
    assert_eq!(server.handshake(&cert).await, Handshake::Answered);
    assert_served(&server, &cert, "csc", Role::SocialWorker).await;
    server.stop().await;
}

#[tokio::test]
async fn a_leaf_from_a_sub_ca_named_for_no_agency_is_refused_even_for_the_partnership() {
    let server = TestServer::start().await;
    let rogue = server
        .dev_ca()
        .intermediate("A CA:TRUE certificate", None, None)
        .unwrap();
    for agency in ["partnership", "csc"] {
        let cert = rogue
            .client_cert_for("Minted", agency, Usage::ClientAuth)
            .unwrap();
        assert_refused(&server, &cert, AlertDescription::AccessDenied).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_agency_sub_ca_issues_for_its_own_agency_and_is_refused_for_any_other() {
    let server = TestServer::start().await;
    let police_ca = server
        .dev_ca()
        .intermediate("Police issuing CA", Some("police"), Some(0))
        .unwrap();
    let own = police_ca
        .client_cert_for("PC Jones", "police", Usage::ClientAuth)
        .unwrap();
    assert_served(&server, &own, "police", Role::PoliceOfficer).await;
    for other in ["csc", "partnership"] {
        let cert = police_ca
            .client_cert_for("Not police", other, Usage::ClientAuth)
            .unwrap();
        assert_refused(&server, &cert, AlertDescription::AccessDenied).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn an_agency_sub_ca_without_a_path_length_of_zero_is_refused() {
    let server = TestServer::start().await;
    let unconstrained = server
        .dev_ca()
        .intermediate("csc issuing CA", Some("csc"), None)
        .unwrap();
    let cert = unconstrained
        .client_cert_for("A csc laptop", "csc", Usage::ClientAuth)
        .unwrap();
    assert_refused(&server, &cert, AlertDescription::AccessDenied).await;
    // nor may an agency's sub-CA hang below another sub-CA
    let below = server
        .dev_ca()
        .intermediate("Rogue", None, None)
        .unwrap()
        .intermediate("csc issuing CA", Some("csc"), Some(0))
        .unwrap();
    let cert = below
        .client_cert_for("A csc laptop", "csc", Usage::ClientAuth)
        .unwrap();
    assert_refused(&server, &cert, AlertDescription::AccessDenied).await;
    server.stop().await;
}

#[tokio::test]
async fn a_leaf_for_server_auth_only_is_refused() {
    let server = TestServer::start().await;
    let cert = server
        .dev_ca()
        .client_cert_for("A csc server", "csc", Usage::ServerAuthOnly)
        .unwrap();
    assert_refused(&server, &cert, AlertDescription::UnsupportedCertificate).await;
    server.stop().await;
}

#[tokio::test]
async fn a_leaf_without_an_extended_key_usage_is_refused() {
    let server = TestServer::start().await;
    let cert = server
        .dev_ca()
        .client_cert_for("A csc laptop", "csc", Usage::NoExtension)
        .unwrap();
    assert_refused(&server, &cert, AlertDescription::UnsupportedCertificate).await;
    server.stop().await;
}

#[tokio::test]
async fn a_leaf_revoked_by_the_client_crl_is_refused_and_other_agencies_are_served() {
    let server = TestServer::start_revoking(&["csc"]).await;
    assert_refused(
        &server,
        &dev_cert(&server, "csc"),
        AlertDescription::CertificateRevoked,
    )
    .await;
    let police = dev_cert(&server, "police");
    assert_served(&server, &police, "police", Role::PoliceOfficer).await;
    server.stop().await;
}

#[tokio::test]
async fn revoking_an_agency_sub_ca_cuts_off_every_leaf_it_issued() {
    let server = TestServer::start_revoking(&[]).await;
    let police_ca = server
        .dev_ca()
        .intermediate("Police issuing CA", Some("police"), Some(0))
        .unwrap();
    let cert = police_ca
        .client_cert_for("PC Jones", "police", Usage::ClientAuth)
        .unwrap();
    assert_served(&server, &cert, "police", Role::PoliceOfficer).await;
    server.write_crl(&[&police_ca.cert_pem]);
    refused_within_seconds(&server, &cert, AlertDescription::CertificateRevoked).await;
    server.stop().await;
}

/// The handshake over `cert` is refused with `alert` within five seconds (the broker looks at
/// the list's file once a second).
async fn refused_within_seconds(server: &TestServer, cert: &IssuedCert, alert: AlertDescription) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match server.handshake(cert).await {
            Handshake::Refused(got) => {
                assert_eq!(got, alert);
                return;
            }
            Handshake::Answered => {
                assert!(
                    Instant::now() < deadline,
                    "still served 5 s after the list changed"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test]
async fn a_crl_replaced_while_the_broker_runs_cuts_off_the_certificate_without_a_restart() {
    let server = TestServer::start_revoking(&[]).await;
    let csc = dev_cert(&server, "csc");
    assert_served(&server, &csc, "csc", Role::SocialWorker).await;
    let mut open = server.tls_stream("csc").await;
    server.write_crl(&[&csc.cert_pem]);
    refused_within_seconds(&server, &csc, AlertDescription::CertificateRevoked).await;
    // the connection it had open is closed too
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), open.read(&mut buf))
        .await
        .expect("the open connection is closed within 5 s of the reload");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed without a word: {read:?}"
    );
    let police = dev_cert(&server, "police");
    assert_served(&server, &police, "police", Role::PoliceOfficer).await;
    // and taken back off the list, it is served again
    server.write_crl(&[]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.handshake(&csc).await != Handshake::Answered {
        assert!(
            Instant::now() < deadline,
            "still refused 5 s after the list changed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_crl_spoiled_while_the_broker_runs_leaves_the_last_good_list_in_force() {
    let server = TestServer::start_revoking(&["csc"]).await;
    let csc = dev_cert(&server, "csc");
    assert_refused(&server, &csc, AlertDescription::CertificateRevoked).await;
    std::fs::write(
        server.crl_path(),
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    // past the broker's next look at the file (once a second)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_refused(&server, &csc, AlertDescription::CertificateRevoked).await;
    assert_served(
        &server,
        &dev_cert(&server, "police"),
        "police",
        Role::PoliceOfficer,
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn an_agency_sub_ca_configured_in_client_ca_issues_for_its_agency_alone() {
    let (server, police_ca) = TestServer::start_with_agency_ca("police").await;
    // the leaf alone: the broker has the intermediate from its own configuration
    let own = leaf_only(
        &police_ca
            .client_cert_for("PC Jones", "police", Usage::ClientAuth)
            .unwrap(),
    );
    assert_served(&server, &own, "police", Role::PoliceOfficer).await;
    let other = leaf_only(
        &police_ca
            .client_cert_for("Not police", "csc", Usage::ClientAuth)
            .unwrap(),
    );
    // configured, it is no trust anchor of its own: its leaf for csc is refused
    assert_refused(&server, &other, AlertDescription::AccessDenied).await;
    // and the partnership CA's own leaves are served as before
    assert_served(
        &server,
        &dev_cert(&server, "csc"),
        "csc",
        Role::SocialWorker,
    )
    .await;
    server.stop().await;
}

/// The base64 body of the first PEM block labelled `label` in `text`.
fn pem_body(text: &str, label: &str) -> String {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("no {label} in {text}"));
    let rest = &text[start + begin.len()..];
    rest[..rest.find(&end).expect("the block's end")]
        .split_whitespace()
        .collect()
}

/// `openssl pkcs12 -in p12 -passin pass:<password> <args>`'s standard output, or its failure.
fn openssl_pkcs12(p12: &std::path::Path, password: &str, args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(p12)
        .args(["-passin", &format!("pass:{password}")])
        .args(args)
        .output()
        .expect("openssl is needed to read the .p12 files (apt-get install openssl)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `broker dev-init` writes a `.p12` per agency for a browser (issue 25, item 5): openssl reads
/// it with the dev password and finds the agency's own certificate, its key and the CA (the
/// console's browser tests present these files to Chromium); a wrong password opens nothing.
#[test]
fn dev_init_writes_a_p12_per_agency_that_openssl_reads() {
    let dir = tempfile::tempdir().unwrap();
    let world = broker::devinit::dev_init(dir.path(), false, "127.0.0.1:0", "sqlite://data/b.db")
        .expect("dev-init");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    let ca = pem_body(&read(&world.ca()), "CERTIFICATE");
    let password = broker::crypto::DEV_P12_PASSWORD;
    for agency in broker::devinit::WORLD {
        let p12 = world.client_p12(agency.id);
        let leaf = openssl_pkcs12(&p12, password, &["-nokeys", "-clcerts"])
            .unwrap_or_else(|e| panic!("{}: {e}", p12.display()));
        assert_eq!(
            pem_body(&leaf, "CERTIFICATE"),
            pem_body(&read(&world.client_cert(agency.id)), "CERTIFICATE"),
            "{}: the agency's own certificate",
            agency.id
        );
        let key = openssl_pkcs12(&p12, password, &["-nocerts", "-nodes"]).unwrap();
        assert_eq!(
            pem_body(&key, "PRIVATE KEY"),
            pem_body(&read(&world.client_key(agency.id)), "PRIVATE KEY"),
            "{}: its key",
            agency.id
        );
        let cas = openssl_pkcs12(&p12, password, &["-nokeys", "-cacerts"]).unwrap();
        assert_eq!(pem_body(&cas, "CERTIFICATE"), ca, "{}: the CA", agency.id);
        let refused = openssl_pkcs12(&p12, "not-the-password", &["-nokeys"]);
        assert!(
            refused.is_err(),
            "a wrong password opens the file: {refused:?}"
        );
    }
}
