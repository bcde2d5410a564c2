//! `broker` as real processes: `broker serve` on a free loopback port with its log in a file
//! beside the world's `broker.toml` (killed when dropped, so also when an assertion fails), and
//! any other subcommand run to completion.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use broker::client::Client;
use broker::devinit::DevWorld;
use hyper::Method;

/// The `broker serve` processes started by a test.
#[derive(Default)]
pub struct Servers {
    children: Vec<Child>,
    logs: Vec<PathBuf>,
}

impl Servers {
    pub fn new() -> Servers {
        Servers::default()
    }

    /// Starts `broker serve` for `world` on `addr`; returns its index.
    pub fn serve(&mut self, world: &DevWorld, addr: SocketAddr) -> usize {
        let i = self.children.len();
        let log = world.dir.join(format!("serve-{i}.log"));
        let file = std::fs::File::create(&log).expect("a log file");
        let child = broker_command(&world.config, &["serve"])
            .env("BROKER_SERVER_LISTEN", addr.to_string())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("starting broker serve");
        self.children.push(child);
        self.logs.push(log);
        i
    }

    /// What process `i` has logged so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(&self.logs[i]).unwrap_or_default()
    }

    pub fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    /// Panics with its log if process `i` has exited.
    pub fn assert_running(&mut self, i: usize) {
        if let Some(status) = self.children[i].try_wait().unwrap() {
            panic!("broker serve {i} exited {status}:\n{}", self.log(i));
        }
    }

    /// Waits until process `i` answers `/healthz` over mTLS.
    pub async fn wait_healthy(&mut self, i: usize, client: &Client) {
        let started = Instant::now();
        loop {
            self.assert_running(i);
            if let Ok(r) = client.send(Method::GET, "/healthz", None, None).await
                && r.status == 200
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "broker serve {i} did not answer /healthz within 60 s:\n{}",
                self.log(i)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGHUP to process `i` (through `kill`, which the test needs on its PATH).
    pub fn hang_up(&self, i: usize) {
        let status = Command::new("kill")
            .args(["-HUP", &self.pid(i).to_string()])
            .status()
            .expect("running `kill -HUP` (the kill command is needed on the PATH)");
        assert!(status.success(), "kill -HUP {} failed", self.pid(i));
    }

    pub fn kill(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback address nobody listens on (bound, then released for the broker).
pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().unwrap()
}

/// `broker <args> --config <config>`, with no database or listen address from the test's own
/// environment.
pub fn broker_command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_broker"));
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("BROKER_DATABASE_URL")
        .env_remove("BROKER_SERVER_LISTEN");
    command
}

/// `python3`, checked to import `module` (from PyPI's `package`); otherwise the test fails
/// saying what to install. `runs` names what the test runs with it.
pub fn python_with(module: &str, package: &str, runs: &str) -> Command {
    let probe = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "python3 is missing ({e}): these tests run {runs}; install Python 3.11 or \
                 later, then pip install -r tests/requirements.txt"
            )
        });
    assert!(
        probe.status.success(),
        "the Python package {package} is missing: pip install -r tests/requirements.txt\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    Command::new("python3")
}

/// A finished command's exit code and output, for an assertion's message.
pub fn says(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
