//! Prometheus metrics (issue 25): the broker's `[metrics] listen` serves `GET /metrics` in
//! plain HTTP; the scrape parses with the Prometheus project's own Python client, holds every
//! family the issue names, counts what the test did over real mTLS, and names no child, record
//! or person in any label. The shipped Grafana dashboard asks only for what the broker exports.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use broker::crypto::DevCa;
use broker::vocab::Role;
use common::cases::ago;
use common::certs::Handshake;
use common::flows::with;
use common::metrics::{Scrape, get, parse, scrape};
use common::world::short_plan;
use common::{TestServer, World};
use rustls::AlertDescription;
use serde_json::{Value, json};

/// Every family the issue names, as the parser names them (a counter without `_total`).
const FAMILIES: &[&str] = &[
    "broker_http_requests",
    "broker_decisions",
    "broker_decision_reasons",
    "broker_audit_append_seconds",
    "broker_audit_commit_seconds",
    "broker_writer_batch_actions",
    "broker_tls_refusals",
    "broker_authentication_refusals",
    "broker_duties",
    "broker_overdue_clocks",
    "broker_emails",
    "broker_policy_version",
];

/// broker.toml with `[notify]` through an SMTP port nobody listens on (one try), and an inbox
/// address for Hillside: every "a packet waits" e-mail fails, quickly.
fn with_failing_mail(toml: &str) -> String {
    let closed = common::processes::free_addr();
    let hillside = "id = \"school-hillside\"\n";
    assert!(toml.contains(hillside), "the dev world has Hillside");
    let toml = toml.replacen(
        hillside,
        &format!("{hillside}inbox_email = \"dsl@hillside.example\"\n"),
        1,
    );
    format!(
        "{toml}\n[notify]\nsmtp_url = \"smtp://{closed}\"\nfrom = \"broker@partnership.example\"\n\
         attempts = 1\nretry_ms = 10\ntimeout_ms = 2000\n"
    )
}

/// Scrapes until `ready` holds (at most 20 s): for what happens after an answer (e-mails).
async fn scrape_until(addr: std::net::SocketAddr, ready: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let scraped = scrape(addr).await;
        if ready(&scraped) {
            return scraped;
        }
        assert!(
            Instant::now() < deadline,
            "the scrape never showed what was expected: {scraped:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A broker that has done one of each thing the metrics count, and its scrape.
struct Busy {
    world: World,
    addr: std::net::SocketAddr,
    /// The permitted disclosure's answer.
    permitted: Value,
    case: String,
    scrape: Scrape,
}

/// Over real mTLS: a disclosure permitted and one refused, a record's decisions read (a route
/// with an id in its path), a bad token, a certificate from an unknown CA, a case opened ten
/// days after its referral (the duty to tell the school; the 48-hour strategy discussion
/// overdue), and "a packet waits" e-mails through an SMTP port nobody listens on.
async fn busy() -> Busy {
    let (server, addr) = TestServer::start_with_metrics(with_failing_mail).await;
    let world = World::on(server, short_plan()).await;

    // a disclosure permitted, and one refused (Riverside is not the child's school)
    let permitted = world.disclose(&world.to_dsl()).await;
    assert_eq!(permitted.status, 201, "{}", permitted.text());
    let refused = world
        .disclose(&with(
            world.to_dsl(),
            json!({"recipient_agency": "school-riverside"}),
        ))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let path = format!("/v1/records/{}/disclosures", world.record);
    let read = world.csc.get(&path, &world.sw).await.expect("an answer");
    assert_eq!(read.status, 200, "{}", read.text());
    let bad = world
        .csc
        .get("/v1/inbox", "not-a-jwt")
        .await
        .expect("an answer");
    assert_eq!(bad.status, 401, "{}", bad.text());
    assert_eq!(bad.json()["code"], "token_malformed", "{}", bad.text());
    let rogue = DevCa::generate("Rogue CA")
        .and_then(|ca| ca.client_cert("Rogue", Some("csc")))
        .expect("a rogue certificate");
    assert_eq!(
        world.server.handshake(&rogue).await,
        Handshake::Refused(AlertDescription::UnknownCA)
    );
    let case = world
        .opened(&world.child, ago(chrono::Duration::days(10)))
        .await;
    // every e-mail fails (nothing listens on the SMTP port); wait for the failures' count
    let scrape = scrape_until(addr, |s| {
        s.sum("broker_emails_total", &[("outcome", "failed")]) >= 2.0
    })
    .await;
    Busy {
        world,
        addr,
        permitted: permitted.json(),
        case,
        scrape,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_parses_and_counts_what_happened_with_no_child_record_or_person_in_a_label() {
    let Busy {
        world,
        permitted,
        case,
        scrape: s,
        ..
    } = busy().await;
    for family in FAMILIES {
        s.family(family);
    }
    // requests by route template and status
    let requests = |route: &str, method: &str, status: &str| {
        s.sum(
            "broker_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(requests("/v1/disclosures", "POST", "201"), 1.0);
    assert_eq!(requests("/v1/disclosures", "POST", "403"), 1.0);
    assert_eq!(requests("/v1/records/{id}/disclosures", "GET", "200"), 1.0);
    assert_eq!(requests("/v1/inbox", "GET", "401"), 1.0);
    assert_eq!(requests("/v1/cases", "POST", "201"), 1.0);
    // decisions by outcome and reason
    let decisions = |action: &str, outcome: &str| {
        s.sum(
            "broker_decisions_total",
            &[("action", action), ("outcome", outcome)],
        )
    };
    assert_eq!(decisions("disclosure", "permit"), 1.0);
    assert_eq!(decisions("disclosure", "deny"), 1.0);
    assert_eq!(decisions("deposit", "permit"), 1.0);
    assert_eq!(
        decisions("check", "permit") + decisions("check", "deny"),
        0.0
    );
    assert!(decisions("duty", "permit") >= 1.0, "the school's duty");
    assert_eq!(
        s.sum(
            "broker_decision_reasons_total",
            &[
                ("action", "disclosure"),
                ("outcome", "deny"),
                ("reason", "not_pupil_of_school")
            ]
        ),
        1.0
    );
    // refusals
    assert_eq!(
        s.sum(
            "broker_authentication_refusals_total",
            &[("code", "token_malformed")]
        ),
        1.0
    );
    assert_eq!(
        s.sum(
            "broker_tls_refusals_total",
            &[("reason", "certificate_unknown_issuer")]
        ),
        1.0
    );
    // duties by outcome, overdue clocks by clock
    assert_eq!(
        s.sum(
            "broker_duties_total",
            &[("duty", "involvement_school"), ("outcome", "permit")]
        ),
        1.0
    );
    assert_eq!(
        s.sum("broker_overdue_clocks", &[("clock", "strategy_discussion")]),
        1.0
    );
    // e-mails: the permitted packet's and the duties' to Hillside, every one failed
    assert_eq!(s.sum("broker_emails_total", &[("outcome", "sent")]), 0.0);
    assert!(s.sum("broker_emails_total", &[("outcome", "failed")]) >= 2.0);
    // the policy version in force, by number, hash and profile
    let version = world.server.state.policy().version().to_owned();
    assert_eq!(
        s.sum(
            "broker_policy_version",
            &[("version", &version), ("profile", "wales")]
        ),
        1.0
    );
    // the write path: appends, commits and batches observed
    for histogram in [
        "broker_audit_append_seconds",
        "broker_audit_commit_seconds",
        "broker_writer_batch_actions",
    ] {
        assert!(
            s.sum(&format!("{histogram}_count"), &[]) >= 5.0,
            "{histogram} observed every write"
        );
    }

    // no child, record, case, person, token or certificate name in any label
    let mut secret: BTreeSet<String> = [
        world.child.clone(),
        world.record.clone(),
        world.consent.clone(),
        case.clone(),
        "sw.amara".to_owned(),
        "not-a-jwt".to_owned(),
        "Rogue".to_owned(),
    ]
    .into();
    if let Value::String(id) = &permitted["disclosure_id"] {
        secret.insert(id.clone());
    }
    for value in s.label_values() {
        for id in &secret {
            assert!(
                !value.contains(id.as_str()),
                "the label value {value:?} holds {id:?}"
            );
        }
    }
    world.stop().await;
}

#[tokio::test]
async fn the_openmetrics_scrape_parses_too_and_only_metrics_is_served() {
    let (server, addr) = TestServer::start_with_metrics(|toml| toml.to_owned()).await;
    let sw = server.person("csc", "sw.amara", Role::SocialWorker);
    let child = sw.register(10, Some("school-hillside")).await;
    let text = scrape(addr).await;
    let (status, content_type, body) =
        get(addr, Some("application/openmetrics-text; version=1.0.0")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(
        body.ends_with("# EOF\n"),
        "an OpenMetrics exposition ends with # EOF"
    );
    let s = parse(&body, "openmetrics");
    // every family with a sample (the parser leaves out those with none yet)
    for family in text.families.iter().filter(|f| !f.samples.is_empty()) {
        s.family(&family.name);
    }
    assert_eq!(
        s.sum(
            "broker_http_requests_total",
            &[("route", "/v1/subjects"), ("status", "201")]
        ),
        1.0
    );
    assert!(
        !s.label_values().iter().any(|v| v.contains(&child)),
        "no child in a label"
    );
    // nothing else on the listener, and nothing of the gateway
    let other = reqwest::get(format!("http://{addr}/v1/inbox"))
        .await
        .expect("an answer");
    assert_eq!(other.status().as_u16(), 404);
    server.stop().await;
}

#[tokio::test]
async fn the_grafana_dashboard_parses_and_asks_only_for_families_the_broker_exports() {
    let Busy { world, addr, .. } = busy().await;
    let s = scrape(addr).await;
    let exported = s.sample_names();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ops/grafana/broker.json");
    let text = std::fs::read_to_string(&path).expect("ops/grafana/broker.json");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(
        exprs.len() >= FAMILIES.len(),
        "a panel for each family: {exprs:?}"
    );
    let name = regex::Regex::new(r"\bbroker_[a-z_]+\b").expect("a pattern");
    let mut asked = BTreeSet::new();
    for expr in &exprs {
        for m in name.find_iter(expr) {
            asked.insert(m.as_str().to_owned());
        }
    }
    for metric in &asked {
        assert!(
            exported.contains(metric),
            "the dashboard asks for {metric}, which the broker does not export; it exports {exported:?}"
        );
    }
    for family in FAMILIES {
        assert!(
            asked.iter().any(|m| m.starts_with(family)),
            "the dashboard shows {family}"
        );
    }
    world.stop().await;
}

/// Every `expr` string of the dashboard's panels' targets.
fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}
