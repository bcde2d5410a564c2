//! The test harness: a real broker on a free loopback port with a generated dev world, real
//! mTLS, and a real database: SQLite in a temp dir by default, or a fresh PostgreSQL database
//! when `BROKER_TEST_DATABASE_URL` names a server (`.ci/run` runs the suite both ways).
#![allow(dead_code)]

pub mod flows;

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
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = test_database_url(dir.path()).await;
        let world = dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
        Self::start_in(dir, world).await
    }

    /// A dev world served with the shipped policy written beside its `broker.toml` (where the
    /// broker looks for it) after `edit` has changed the files in that directory, as an IG
    /// officer would.
    pub async fn start_with_policy(edit: impl FnOnce(&std::path::Path)) -> TestServer {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = test_database_url(dir.path()).await;
        let world = dev_init(dir.path(), false, "127.0.0.1:0", &url).expect("dev-init");
        let policies = dir.path().join("policies");
        broker::decision::policy::Files::embedded()
            .write_to(&policies)
            .expect("writing the policy");
        edit(&policies);
        Self::start_in(dir, world).await
    }

    /// Serves an existing world (its broker.toml as written or edited by the test).
    pub async fn start_in(dir: tempfile::TempDir, world: DevWorld) -> TestServer {
        let config = Config::load(&world.config).expect("the dev config loads");
        let state = AppState::build(config.clone())
            .await
            .expect("the broker builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
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

    /// A valid token for a person of `agency` with `roles`.
    pub fn token(&self, agency: &str, sub: &str, roles: &[Role]) -> String {
        dev_token(&self.config, agency, sub, roles, Duration::from_secs(600)).expect("a dev token")
    }

    /// Stops serving and closes the database (which stays).
    async fn halt(&mut self) {
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
