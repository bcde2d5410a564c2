//! The metrics scrape as Prometheus reads it: `GET /metrics` on the broker's plain-HTTP
//! `[metrics] listen`, parsed by the Prometheus project's Python client
//! (`tests/metrics_parse.py`, `prometheus-client` pinned in tests/requirements.txt).

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;

use serde::Deserialize;

use super::TestServer;
use super::processes::{free_addr, python_with};

/// One parsed family.
#[derive(Debug, Clone, Deserialize)]
pub struct Family {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: serde_json::Value,
}

impl Sample {
    pub fn value(&self) -> f64 {
        self.value
            .as_f64()
            .unwrap_or_else(|| panic!("{} has no finite value: {}", self.name, self.value))
    }
}

/// A scrape, parsed.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub families: Vec<Family>,
}

impl Scrape {
    /// The family `name` (as the parser names it: a counter without `_total`).
    pub fn family(&self, name: &str) -> &Family {
        self.families
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no family {name} in the scrape; it has {:?}",
                    self.families.iter().map(|f| &f.name).collect::<Vec<_>>()
                )
            })
    }

    /// The sum of the samples named `sample` whose labels include every pair of `labels`.
    pub fn sum(&self, sample: &str, labels: &[(&str, &str)]) -> f64 {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .filter(|s| s.name == sample)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(Sample::value)
            .sum()
    }

    /// Every sample's name.
    pub fn sample_names(&self) -> std::collections::BTreeSet<String> {
        self.families
            .iter()
            .flat_map(|f| f.samples.iter().map(|s| s.name.clone()))
            .collect()
    }

    /// Every label value of every sample.
    pub fn label_values(&self) -> Vec<String> {
        self.families
            .iter()
            .flat_map(|f| &f.samples)
            .flat_map(|s| s.labels.values().cloned())
            .collect()
    }
}

/// Parses `text` in `format` (`prometheus` or `openmetrics`) with the Python client.
pub fn parse(text: &str, format: &str) -> Scrape {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metrics_parse.py");
    let mut child = python_with(
        "prometheus_client",
        "prometheus-client",
        "tests/metrics_parse.py",
    )
    .arg(script)
    .arg(format)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("running tests/metrics_parse.py");
    child
        .stdin
        .take()
        .expect("its stdin")
        .write_all(text.as_bytes())
        .expect("writing the scrape to the parser");
    let out = child.wait_with_output().expect("the parser ends");
    assert!(
        out.status.success(),
        "prometheus_client refused the {format} scrape: {}\n--- scrape ---\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Family> = serde_json::from_slice(&out.stdout).expect("the parser's JSON");
    Scrape { families }
}

/// `GET http://<addr>/metrics`, asking for `accept` (none: the Prometheus text format): the
/// status, the content type and the body.
pub async fn get(addr: SocketAddr, accept: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("http://{addr}/metrics"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("the metrics listener answers");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("a body"))
}

impl TestServer {
    /// A dev world whose `[metrics] listen` is a free loopback port (also returned), with
    /// `edit` applied to its broker.toml, served.
    pub async fn start_with_metrics(edit: impl FnOnce(&str) -> String) -> (TestServer, SocketAddr) {
        let (dir, world) = super::fresh_world().await;
        let text = std::fs::read_to_string(&world.config).expect("the dev broker.toml");
        let dev = "[metrics]\nlisten = \"127.0.0.1:0\"\n";
        assert!(text.contains(dev), "dev-init writes {dev:?}");
        let addr = free_addr();
        let text = text.replace(dev, &format!("[metrics]\nlisten = \"{addr}\"\n"));
        std::fs::write(&world.config, edit(&text)).expect("writing broker.toml");
        let server = TestServer::start_in(dir, world).await;
        // `serve` binds the listener as it starts, in its own task
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the metrics listener {addr} never opened"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        (server, addr)
    }
}

/// The scrape at `addr` in the Prometheus text format, parsed.
pub async fn scrape(addr: SocketAddr) -> Scrape {
    let (status, content_type, body) = get(addr, None).await;
    assert_eq!(status, 200, "GET /metrics: {body}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "the Prometheus text format: {content_type}"
    );
    parse(&body, "prometheus")
}
