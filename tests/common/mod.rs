//! The test harness: a real broker on a free loopback port with a generated dev world, real
//! mTLS, and a real database: SQLite in a temp dir by default, or a fresh PostgreSQL database
//! when `BROKER_TEST_DATABASE_URL` names a server (`.ci/run` runs the suite both ways).
#![allow(dead_code)]

pub mod actions;
pub mod areas;
pub mod audit;
pub mod audited;
pub mod cases;
pub mod certs;
pub mod console;
pub mod db;
pub mod flows;
pub mod idp;
pub mod metrics;
pub mod partition;
pub mod policy;
pub mod processes;
pub mod refusal;
pub mod tree;
pub mod world;

#[allow(unused_imports)]
pub use world::{Child, Person, Pupil, World, hillside_pupil};

use std::net::SocketAddr;
use std::time::Duration;

use broker::client::Client;
use broker::config::Config;
use broker::devinit::{DevWorld, dev_init, dev_token};
use broker::server::AppState;
use broker::vocab::Role;
use sqlx::Connection;
use tokio::sync::oneshot;

/// Where the suite's databases come from.
pub async fn test_database_url(dir: &std::path::Path) -> String {
    match std::env::var("BROKER_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => fresh_postgres_database(&url).await,
        Ok(url) if !url.is_empty() => {
            panic!("BROKER_TEST_DATABASE_URL must be a postgres:// url, not {url}")
        }
        _ => format!("sqlite://{}/data/broker.db", dir.display()),
    }
}

/// Creates an empty database on the server named by `url` and returns its url.
pub async fn fresh_postgres_database(url: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "BROKER_TEST_DATABASE_URL={url} but PostgreSQL is not reachable ({e}); \
             start it (pg_ctlcluster ... main start) or unset the variable for SQLite"
        )
    });
    let name = format!("broker_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("creating a test database");
    let (base, _) = url
        .rsplit_once('/')
        .expect("a postgres url with a database name");
    format!("{base}/{name}")
}

/// Drops a database made by [`fresh_postgres_database`] (a no-op for SQLite).
pub async fn drop_postgres_database(url: &str) {
    let Ok(admin_url) = std::env::var("BROKER_TEST_DATABASE_URL") else {
        return;
    };
    let Some((_, name)) = url.rsplit_once('/') else {
        return;
    };
    if !url.starts_with("postgres") || !name.starts_with("broker_test_") {
        return;
    }
    if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await;
    }
}

/// The audit chain's head (its last seq), read straight from the database.
pub async fn audit_head(server: &TestServer) -> i64 {
    db::head_seq(&server.state.db).await
}

/// `broker.toml` without the `[[agencies]]` entry of `id` (an agency that has left).
pub fn without_agency(toml: &str, id: &str) -> String {
    let mut parts = toml.split("[[agencies]]");
    let mut out = parts.next().unwrap_or_default().to_owned();
    let mut found = false;
    for agency in parts {
        if agency.contains(&format!("\nid = \"{id}\"\n")) {
            found = true;
        } else {
            out.push_str("[[agencies]]");
            out.push_str(agency);
        }
    }
    assert!(found, "broker.toml has no agency {id}");
    out
}

/// A dev world (`broker dev-init`) in a new temp dir, on a fresh test database.
pub async fn fresh_world() -> (tempfile::TempDir, DevWorld) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = test_database_url(dir.path()).await;
    let world = dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
    (dir, world)
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub world: DevWorld,
    pub config: Config,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A dev world in a temp dir, served on a free port.
    pub async fn start() -> TestServer {
        let (dir, world) = fresh_world().await;
        Self::start_in(dir, world).await
    }

    /// A dev world whose `[server]` section also holds `settings` (TOML lines such as
    /// `idle_timeout_ms = 500`), served on a free port.
    pub async fn start_with(settings: &str) -> TestServer {
        Self::start_with_section("server", settings).await
    }

    /// A dev world whose `[section]` also holds `settings`, served on a free port.
    pub async fn start_with_section(section: &str, settings: &str) -> TestServer {
        let (dir, world) = fresh_world().await;
        let text = std::fs::read_to_string(&world.config).expect("the dev broker.toml");
        let header = format!("[{section}]\n");
        assert!(
            text.contains(&header),
            "the dev broker.toml has a [{section}] section"
        );
        let edited = text.replacen(&header, &format!("{header}{settings}\n"), 1);
        std::fs::write(&world.config, edited).expect("writing broker.toml");
        Self::start_in(dir, world).await
    }

    /// A dev world served with the shipped policy written beside its `broker.toml` (where the
    /// broker looks for it) after `edit` has changed the files in that directory, as an IG
    /// officer would.
    pub async fn start_with_policy(edit: impl FnOnce(&std::path::Path)) -> TestServer {
        let (dir, world) = fresh_world().await;
        let policies = dir.path().join("policies");
        broker::decision::policy::Files::embedded()
            .write_to(&policies)
            .expect("writing the policy");
        edit(&policies);
        Self::start_in(dir, world).await
    }

    /// Serves an existing world (its broker.toml as written or edited by the test).
    pub async fn start_in(dir: tempfile::TempDir, world: DevWorld) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        Self::start_on(dir, world, listener).await
    }

    /// Serves an existing world on `listener` (bound by the test, which may then name its
    /// port in broker.toml, as `[console] public_url`).
    pub async fn start_on(
        dir: tempfile::TempDir,
        world: DevWorld,
        listener: tokio::net::TcpListener,
    ) -> TestServer {
        let config = Config::load(&world.config).expect("the dev config loads");
        let state = AppState::build(config.clone())
            .await
            .expect("the broker builds");
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        let handle = tokio::spawn(async move {
            broker::server::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
        });
        TestServer {
            addr,
            dir,
            world,
            config,
            state,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// A client presenting `agency`'s dev certificate.
    pub fn client(&self, agency: &str) -> Client {
        Client::from_files(
            self.addr,
            &self.world.ca(),
            &self.world.client_cert(agency),
            &self.world.client_key(agency),
        )
        .expect("a client for the agency")
    }

    /// A raw mTLS connection presenting `agency`'s dev certificate, handshake done: for tests
    /// that write bytes no HTTP client would (trickles, idle connections, broken framing).
    pub async fn tls_stream(
        &self,
        agency: &str,
    ) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let read = |p: std::path::PathBuf| std::fs::read(&p).expect("a dev certificate file");
        let tls = broker::crypto::client_tls_config(
            &read(self.world.ca()),
            &read(self.world.client_cert(agency)),
            &read(self.world.client_key(agency)),
        )
        .expect("a client TLS config");
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connecting to the broker");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a server name");
        tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .expect("the TLS handshake")
    }

    /// Writes `bytes` on a fresh mTLS connection as `agency` and reads until the server
    /// closes it (at most 10 s): the raw answer, for requests an HTTP client would not send.
    pub async fn raw_exchange(&self, agency: &str, bytes: &[u8]) -> RawAnswer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tls = self.tls_stream(agency).await;
        // the server may answer and close before reading everything: a failed write is fine
        let _ = tls.write_all(bytes).await;
        let _ = tls.flush().await;
        let mut seen = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 8192];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(
            read.is_ok(),
            "the server neither answered nor closed within 10 s"
        );
        RawAnswer::parse(&seen)
    }

    /// A valid token for a person of `agency` with `roles`.
    pub fn token(&self, agency: &str, sub: &str, roles: &[Role]) -> String {
        dev_token(&self.config, agency, sub, roles, Duration::from_secs(600)).expect("a dev token")
    }

    /// Stops serving and closes the database (which stays).
    pub async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), handle).await;
        }
        self.state.db.close().await;
    }

    pub async fn stop(mut self) {
        self.halt().await;
        drop_postgres_database(&self.config.database.url).await;
    }

    /// Stops serving, lets `edit` rewrite the world's `broker.toml`, and serves the same world
    /// and database again, as an operator's restart after a configuration change would.
    pub async fn restart_with(mut self, edit: impl FnOnce(&str) -> String) -> TestServer {
        self.halt().await;
        let text = std::fs::read_to_string(&self.world.config).expect("reading broker.toml");
        std::fs::write(&self.world.config, edit(&text)).expect("writing broker.toml");
        let TestServer { dir, world, .. } = self;
        TestServer::start_in(dir, world).await
    }
}

#[allow(unused_imports)]
pub use flows::born_years_ago;

/// A client presenting `agency`'s dev certificate to a broker at `addr` (one not started by
/// [`TestServer`], e.g. a `broker serve` process).
pub fn world_client(world: &DevWorld, addr: SocketAddr, agency: &str) -> Client {
    Client::from_files(
        addr,
        &world.ca(),
        &world.client_cert(agency),
        &world.client_key(agency),
    )
    .expect("a client for the agency")
}

/// An HTTP/1.1 answer read off the wire.
#[derive(Debug)]
pub struct RawAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl RawAnswer {
    fn parse(bytes: &[u8]) -> RawAnswer {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        RawAnswer {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }

    pub fn is_problem(&self) -> bool {
        self.head.contains("content-type: application/problem+json")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}
