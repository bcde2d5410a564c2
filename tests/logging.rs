//! What reaches the log, read from a real subscriber in the broker's human format: untrusted
//! strings (a token's `alg`, its claims, a client's request id) arrive escaped, and refused TLS
//! handshakes and 503s are counted and summarised in one line per interval, not written one by
//! one.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use common::TestServer;
use hyper::Method;

/// Every line the process logs, for the tests of this file (one subscriber per process).
fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .init();
        log
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_text() -> String {
    String::from_utf8_lossy(&captured().lock().unwrap()).into_owned()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn a_forged_alg_and_request_id_reach_the_log_escaped_never_as_a_line_of_their_own() {
    captured();
    let server = TestServer::start().await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let header = format!(
        r#"{{"alg":"EdDSA\n2026-01-01T00:00:00.000000Z  INFO broker: forged-{marker}\u001b[2J","typ":"JWT"}}"#
    );
    let token = format!("{}.{}.c2ln", b64(header.as_bytes()), b64(b"{}"));
    let r = server
        .client("csc")
        .send(Method::GET, "/v1/inbox", Some(&token), None)
        .await
        .unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    let log = log_text();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("forged-{marker}")))
        .unwrap_or_else(|| panic!("the refusal is logged with the alg it quotes:\n{log}"));
    assert!(line.contains("authentication refused"), "{line}");
    assert!(
        line.contains("EdDSA\\\\n2026") || line.contains("EdDSA\\n2026"),
        "{line}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no raw escape sequence reaches the log"
    );
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00.000000Z")),
        "no forged line"
    );
    server.stop().await;
}

#[tokio::test]
async fn refused_tls_handshakes_are_counted_and_summarised_in_one_line_per_interval() {
    captured();
    let server = TestServer::start_with("refusal_log_interval_ms = 700").await;
    let ca = std::fs::read(server.world.ca()).unwrap();
    let anonymous = broker::crypto::anonymous_client_tls_config(&ca).unwrap();
    let attempts = 40u64;
    let start = Instant::now();
    for _ in 0..attempts {
        let client = broker::client::Client::new(server.addr, anonymous.clone());
        let result = client.send(Method::GET, "/healthz", None, None).await;
        assert!(result.is_err(), "an anonymous connection got an answer");
    }
    let metrics = server.state.metrics.clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.refused_handshakes() < attempts {
        assert!(
            Instant::now() < deadline,
            "{} of {attempts} refusals counted",
            metrics.refused_handshakes()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // let the summariser write the last window, then stop the server (which writes any rest)
    tokio::time::sleep(Duration::from_millis(900)).await;
    let elapsed = start.elapsed();
    server.stop().await;
    let log = log_text();
    let summaries: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("TLS handshakes refused"))
        .collect();
    let total: u64 = summaries
        .iter()
        .filter_map(|l| l.split("refused=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    println!(
        "{attempts} refused handshakes in {elapsed:?}: {} summary lines, {total} counted in them",
        summaries.len()
    );
    assert!(
        total >= attempts,
        "the summaries count every refusal:\n{}",
        summaries.join("\n")
    );
    let windows = (elapsed.as_millis() / 700) as usize + 2;
    assert!(
        summaries.len() <= windows,
        "at most one line per interval ({windows}), got {}",
        summaries.len()
    );
    assert!(
        !log.contains("TLS handshake refused"),
        "no line per handshake at info level"
    );
}

#[tokio::test]
async fn answers_503_are_logged_once_per_interval_with_a_count_not_a_line_each() {
    captured();
    let server =
        TestServer::start_with_section("database", "unavailable_log_interval_ms = 700").await;
    let sw = server.social_worker();
    let pupil = common::hillside_pupil(&sw.client, &sw.token).await;
    // every audit insert now fails: each disclosure is answered 503
    common::db::break_the_audit_log(&server.state.db).await;
    let marker = "audit disk full";
    let attempts = 30u64;
    let start = Instant::now();
    for _ in 0..attempts {
        let r = sw
            .disclose(&serde_json::json!({"record_ids": [pupil.record],
                "recipient_agency": "school-hillside", "recipient_role": "dsl",
                "purpose": "safeguarding", "basis": "consent"}))
            .await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert_eq!(r.json()["code"], "unavailable", "{}", r.text());
        assert!(!r.text().contains(marker), "a 503 says nothing internal");
    }
    // let the summariser write the last window, then stop the server (which writes any rest)
    tokio::time::sleep(Duration::from_millis(900)).await;
    let elapsed = start.elapsed();
    common::db::mend_the_audit_log(&server.state.db).await;
    server.stop().await;
    let log = log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("storage unavailable") && l.contains(marker))
        .collect();
    let summarised: u64 = lines
        .iter()
        .filter_map(|l| l.split("answered_503=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    let at_once = lines
        .iter()
        .filter(|l| !l.contains("answered_503="))
        .count() as u64;
    println!(
        "{attempts} answers 503 in {elapsed:?}: {} lines ({at_once} at once, the rest \
         summarising {summarised})",
        lines.len()
    );
    assert!(
        at_once >= 1,
        "the first 503 is logged at once with its cause:\n{log}"
    );
    assert_eq!(
        at_once + summarised,
        attempts,
        "every 503 is in a line, once:\n{}",
        lines.join("\n")
    );
    let windows = (elapsed.as_millis() / 700) as usize + 2;
    assert!(
        lines.len() <= 2 * windows,
        "at most a line at once and a summary per interval ({windows} intervals), got {}:\n{}",
        lines.len(),
        lines.join("\n")
    );
    assert!(
        lines.len() < attempts as usize / 2,
        "not a line per 503: {} lines for {attempts}",
        lines.len()
    );
}
