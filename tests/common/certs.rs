//! Certificates made in the test: the dev world's CA to issue them, clients presenting them,
//! the revocation list the broker reads (`[server] client_crl`), and the TLS alert a refused
//! handshake ends with.

use std::path::PathBuf;
use std::time::Duration;

use broker::client::Client;
use broker::crypto::{DevCa, IssuedCert, client_tls_config};
use rustls::AlertDescription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{TestServer, fresh_world};

/// The world's revocation list, beside its other dev certificates, and as broker.toml names it.
const CRL_NAME: &str = "partnership.crl";
const CRL_FILE: &str = "certs/dev/partnership.crl";

/// What a connection presenting a certificate came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Handshake {
    /// The broker answered HTTP: the certificate was taken.
    Answered,
    /// The broker ended the handshake with this alert.
    Refused(AlertDescription),
}

impl TestServer {
    /// The dev world's CA, able to issue more certificates and revocation lists.
    pub fn dev_ca(&self) -> DevCa {
        let read = |name: &str| {
            std::fs::read_to_string(self.world.certs.join(name)).expect("a dev CA file")
        };
        DevCa::load(&read("ca.pem"), &read("ca.key")).expect("the dev CA loads")
    }

    /// A client presenting `cert` (with the chain its PEM holds), trusting the dev CA.
    pub fn client_with(&self, cert: &IssuedCert) -> Client {
        Client::new(self.addr, self.client_tls(cert))
    }

    fn client_tls(&self, cert: &IssuedCert) -> std::sync::Arc<rustls::ClientConfig> {
        let ca = std::fs::read(self.world.ca()).expect("the dev CA certificate");
        client_tls_config(&ca, cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())
            .expect("a client TLS config")
    }

    /// A raw mTLS connection presenting `cert`, handshake done as far as the client knows
    /// (under TLS 1.3 the broker judges the certificate after that).
    pub async fn tls_stream_with(
        &self,
        cert: &IssuedCert,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
        tokio_rustls::TlsConnector::from(self.client_tls(cert))
            .connect(name, tcp)
            .await
    }

    /// Presents `cert` and sends `GET /healthz`: whether the broker answered, or the alert
    /// that ended the handshake. Panics on anything else (a close without an alert).
    pub async fn handshake(&self, cert: &IssuedCert) -> Handshake {
        let exchange = async {
            let mut tls = self.tls_stream_with(cert).await?;
            tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
                .await?;
            tls.flush().await?;
            let mut buf = [0u8; 64];
            let n = tls.read(&mut buf).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&buf[..n]).into_owned())
        };
        match tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .expect("the broker answers or refuses within 10 s")
        {
            Ok(head) if head.starts_with("HTTP/1.1 ") => Handshake::Answered,
            Ok(other) => panic!("neither an HTTP answer nor an alert: {other:?}"),
            Err(e) => match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(rustls::Error::AlertReceived(alert)) => Handshake::Refused(*alert),
                _ => panic!("refused without a TLS alert: {e}"),
            },
        }
    }

    /// The revocation list file `client_crl` names.
    pub fn crl_path(&self) -> PathBuf {
        self.world.certs.join(CRL_NAME)
    }

    /// Writes the dev CA's revocation list revoking `revoked` (certificate PEMs) where
    /// `client_crl` points, as an operator replacing the file would (a new file renamed over
    /// the old one).
    pub fn write_crl(&self, revoked: &[&str]) {
        let pem = self
            .dev_ca()
            .revocation_list(revoked)
            .expect("a revocation list");
        write_replacing(&self.crl_path(), pem.as_bytes());
    }

    /// A dev world whose `client_crl` is the dev CA's list revoking the dev certificates of
    /// `agencies`, served on a free port.
    pub async fn start_revoking(agencies: &[&str]) -> TestServer {
        let (dir, world) = fresh_world().await;
        let ca = {
            let read = |name: &str| {
                std::fs::read_to_string(world.certs.join(name)).expect("a dev CA file")
            };
            DevCa::load(&read("ca.pem"), &read("ca.key")).expect("the dev CA loads")
        };
        let certs: Vec<String> = agencies
            .iter()
            .map(|a| std::fs::read_to_string(world.client_cert(a)).expect("a dev certificate"))
            .collect();
        let revoked: Vec<&str> = certs.iter().map(String::as_str).collect();
        let pem = ca.revocation_list(&revoked).expect("a revocation list");
        write_replacing(&world.certs.join(CRL_NAME), pem.as_bytes());
        let text = std::fs::read_to_string(&world.config).expect("the dev broker.toml");
        let edited = text.replacen(
            "[server]\n",
            &format!("[server]\nclient_crl = \"{CRL_FILE}\"\n"),
            1,
        );
        std::fs::write(&world.config, edited).expect("writing broker.toml");
        TestServer::start_in(dir, world).await
    }
}

impl TestServer {
    /// A dev world whose `client_ca` file also holds an intermediate CA the dev CA issued for
    /// `agency` (pathlen 0), served on a free port; and that intermediate, to issue leaves.
    pub async fn start_with_agency_ca(agency: &str) -> (TestServer, DevCa) {
        let (dir, world) = fresh_world().await;
        let read =
            |name: &str| std::fs::read_to_string(world.certs.join(name)).expect("a dev CA file");
        let ca = DevCa::load(&read("ca.pem"), &read("ca.key")).expect("the dev CA loads");
        let issuing = ca
            .intermediate(&format!("{agency} issuing CA"), Some(agency), Some(0))
            .expect("an intermediate CA");
        let both = format!("{}{}", read("ca.pem"), issuing.cert_pem);
        std::fs::write(world.ca(), both).expect("writing the client CA file");
        (TestServer::start_in(dir, world).await, issuing)
    }
}

/// `cert` with its leaf alone, the chain its PEM holds after it left out.
pub fn leaf_only(cert: &IssuedCert) -> IssuedCert {
    const END: &str = "-----END CERTIFICATE-----";
    let end = cert.cert_pem.find(END).expect("a certificate PEM") + END.len();
    IssuedCert {
        cert_pem: format!("{}\n", &cert.cert_pem[..end]),
        key_pem: cert.key_pem.clone(),
    }
}

/// Writes `bytes` to a new file beside `path` and renames it over `path`.
fn write_replacing(path: &std::path::Path, bytes: &[u8]) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, bytes).expect("writing the revocation list");
    std::fs::rename(&fresh, path).expect("putting the revocation list in place");
}
