//! The process's metrics (issue 25): counters, gauges and histograms in one Prometheus
//! registry (`prometheus-client`), scraped from their own listener (`[metrics] listen`,
//! the scrape endpoint (`scrape.rs`)). Below everything that counts (the writer, the accept loop, identity, the
//! application layer), above only `decision` and `vocab`, whose closed vocabularies give the
//! labels.
//!
//! Every label value comes from a bounded set: a route *template* (never the raw path), a
//! status code, a method, a decision's outcome and reason codes, a duty and a clock named by
//! the policy, a refusal's code, the policy version. No child, record, case, person or free
//! text is ever a label. Counting is an atomic add (a family's child is found under a read
//! lock), so the hot paths stay cheap.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::decision::Decision;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    action: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    action: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DutyLabels {
    duty: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClockLabel {
    clock: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    version: String,
    profile: String,
}

/// What a decision was made for: the `action` label of the decision families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decided {
    /// `POST /v1/disclosures` (and the console's send).
    Disclosure,
    /// The dry run, `POST /v1/decisions` (and the console's preview).
    Check,
    /// A duty to notify carried out inside its trigger's action.
    Duty,
    /// A record deposited.
    Deposit,
}

impl Decided {
    fn as_str(self) -> &'static str {
        match self {
            Decided::Disclosure => "disclosure",
            Decided::Check => "check",
            Decided::Duty => "duty",
            Decided::Deposit => "deposit",
        }
    }
}

/// A connection the accept loop closed or refused (`broker_connections_closed_total`).
#[derive(Debug, Clone, Copy)]
enum Closed {
    Idle,
    MadeRoom,
    OverCap,
}

impl Closed {
    fn as_str(self) -> &'static str {
        match self {
            Closed::Idle => "idle",
            Closed::MadeRoom => "made_room",
            Closed::OverCap => "over_cap",
        }
    }
}

/// The write path's timings, shared with the writer that observes them.
#[derive(Clone, Debug)]
pub struct WriteTimings {
    /// One audit entry appended inside its action (the chain's insert round trip).
    pub append: Histogram,
    /// One batch made durable: the audit head stored and `COMMIT`.
    pub commit: Histogram,
    /// The actions one committed batch held.
    pub batch_actions: Histogram,
}

impl Default for WriteTimings {
    fn default() -> Self {
        WriteTimings {
            // 0.25 ms to about 4 s
            append: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            commit: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            // 1 to 1024 actions
            batch_actions: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
        }
    }
}

/// Every metric of the process. Cheap to share (`Arc<Metrics>` in the state).
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    reasons: Family<ReasonLabels, Counter>,
    tls_refusals: Family<ReasonLabel, Counter>,
    auth_refusals: Family<CodeLabel, Counter>,
    connections_closed: Family<ReasonLabel, Counter>,
    duties: Family<DutyLabels, Counter>,
    emails: Family<OutcomeLabel, Counter>,
    overdue: Family<ClockLabel, Gauge>,
    policy: Family<VersionLabels, Gauge>,
    writes: WriteTimings,
    // the totals the tests and the refusal summary read directly
    refused_authentications: AtomicU64,
    refused_handshakes: AtomicU64,
    refused_connections: AtomicU64,
    idle_closed: AtomicU64,
    closed_for_room: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(WriteTimings::default())
    }
}

impl Metrics {
    /// The registry with every family, the write path's histograms being `writes` (the
    /// writer's own, `writer::Stats::timings`).
    pub fn new(writes: WriteTimings) -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "broker_http_requests",
            "Requests answered, by route template, method and status",
            requests.clone(),
        );
        let decisions = Family::default();
        registry.register(
            "broker_decisions",
            "Decisions made and recorded, by action (disclosure, check, duty, deposit) and outcome",
            decisions.clone(),
        );
        let reasons = Family::default();
        registry.register(
            "broker_decision_reasons",
            "Failed rules of the decisions recorded, one per reason code a decision lists",
            reasons.clone(),
        );
        let tls_refusals = Family::default();
        registry.register(
            "broker_tls_refusals",
            "TLS handshakes refused, by reason (certificate_revoked, certificate_unknown_issuer, not_tls, timeout, ...)",
            tls_refusals.clone(),
        );
        let auth_refusals = Family::default();
        registry.register(
            "broker_authentication_refusals",
            "Requests refused 401 at authentication, by problem code (token_* for the bearer token, certificate_agency_* for the certificate's agency)",
            auth_refusals.clone(),
        );
        let connections_closed = Family::default();
        registry.register(
            "broker_connections_closed",
            "Connections the broker closed: idle, made_room (for a newcomer at a cap) or over_cap (refused 429)",
            connections_closed.clone(),
        );
        let duties = Family::default();
        registry.register(
            "broker_duties",
            "Duties to notify carried out, by duty (policies/duties.csv) and outcome (permit: delivered, deny: refused and kept)",
            duties.clone(),
        );
        let emails = Family::default();
        registry.register(
            "broker_emails",
            "'A packet waits' e-mails, by outcome (sent, failed after every attempt)",
            emails.clone(),
        );
        let overdue = Family::default();
        registry.register(
            "broker_overdue_clocks",
            "Running clocks of open cases past their due time, by clock (computed at each scrape)",
            overdue.clone(),
        );
        let policy = Family::default();
        registry.register(
            "broker_policy_version",
            "The policy version in force in this process: the value is its number (1, 2, ... in the order versions came into force), the labels its hash and timescale profile",
            policy.clone(),
        );
        registry.register(
            "broker_audit_append_seconds",
            "Time to append one audit entry inside its action",
            writes.append.clone(),
        );
        registry.register(
            "broker_audit_commit_seconds",
            "Time to make one batch durable (the audit head stored, then COMMIT)",
            writes.commit.clone(),
        );
        registry.register(
            "broker_writer_batch_actions",
            "Actions per committed batch (group commit)",
            writes.batch_actions.clone(),
        );
        let metrics = Metrics {
            registry,
            requests,
            decisions,
            reasons,
            tls_refusals,
            auth_refusals,
            connections_closed,
            duties,
            emails,
            overdue,
            policy,
            writes,
            refused_authentications: AtomicU64::new(0),
            refused_handshakes: AtomicU64::new(0),
            refused_connections: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            closed_for_room: AtomicU64::new(0),
        };
        // the bounded families appear, at zero, before the first of their events
        for action in [
            Decided::Disclosure,
            Decided::Check,
            Decided::Duty,
            Decided::Deposit,
        ] {
            for outcome in ["permit", "deny"] {
                let _ = metrics.decisions.get_or_create(&DecisionLabels {
                    action: action.as_str(),
                    outcome,
                });
            }
        }
        for why in [Closed::Idle, Closed::MadeRoom, Closed::OverCap] {
            let _ = metrics.connections_closed.get_or_create(&ReasonLabel {
                reason: why.as_str(),
            });
        }
        for outcome in ["sent", "failed"] {
            let _ = metrics.emails.get_or_create(&OutcomeLabel { outcome });
        }
        metrics
    }

    /// The registry to encode (the endpoint).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The write path's histograms.
    pub fn writes(&self) -> &WriteTimings {
        &self.writes
    }

    /// A request answered: `route` is the matched route's template (`None`: no route matched).
    pub fn request(&self, route: Option<&str>, method: &axum::http::Method, status: u16) {
        use axum::http::Method;
        let method = match *method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::PATCH => "PATCH",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.unwrap_or("unmatched").to_owned(),
                method,
                status,
            })
            .inc();
    }

    /// A decision recorded (its audit entry committed).
    pub fn decided(&self, action: Decided, decision: &Decision) {
        let outcome = if decision.permitted() {
            "permit"
        } else {
            "deny"
        };
        let action = action.as_str();
        self.decisions
            .get_or_create(&DecisionLabels { action, outcome })
            .inc();
        for reason in &decision.reasons {
            self.reasons
                .get_or_create(&ReasonLabels {
                    action,
                    outcome,
                    reason: reason.code.as_str(),
                })
                .inc();
        }
    }

    /// A duty carried out and committed, `permitted` or refused.
    pub fn duty(&self, duty: &str, permitted: bool) {
        let outcome = if permitted { "permit" } else { "deny" };
        self.duties
            .get_or_create(&DutyLabels {
                duty: duty.to_owned(),
                outcome,
            })
            .inc();
    }

    /// A packet's e-mail sent, or given up.
    pub fn email(&self, sent: bool) {
        let outcome = if sent { "sent" } else { "failed" };
        self.emails.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The overdue clocks now: every clock of the policy, with its count (none: 0).
    pub fn set_overdue(&self, clocks: &[String], counts: &[(String, i64)]) {
        self.overdue.clear();
        for clock in clocks {
            self.overdue
                .get_or_create(&ClockLabel {
                    clock: clock.clone(),
                })
                .set(0);
        }
        for (clock, n) in counts {
            self.overdue
                .get_or_create(&ClockLabel {
                    clock: clock.clone(),
                })
                .set(*n);
        }
    }

    /// The policy version in force: its `number`, `version` (hash) and timescale `profile`.
    pub fn set_policy(&self, number: i64, version: &str, profile: Option<&str>) {
        let labels = VersionLabels {
            version: version.to_owned(),
            profile: profile.unwrap_or("").to_owned(),
        };
        if self.policy.get(&labels).is_none_or(|g| g.get() != number) {
            self.policy.clear();
            self.policy.get_or_create(&labels).set(number);
        }
    }

    /// A request refused at authentication with the problem `code`.
    pub fn refused_authentication(&self, code: &'static str) {
        self.refused_authentications.fetch_add(1, Ordering::Relaxed);
        self.auth_refusals.get_or_create(&CodeLabel { code }).inc();
    }

    /// A TLS handshake refused, for `reason` (`crypto::handshake_refusal`, or `timeout`).
    pub fn refused_handshake(&self, reason: &'static str) {
        self.refused_handshakes.fetch_add(1, Ordering::Relaxed);
        self.tls_refusals
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    pub fn refused_connection(&self) {
        self.refused_connections.fetch_add(1, Ordering::Relaxed);
        self.closed(Closed::OverCap);
    }

    pub fn closed_idle(&self) {
        self.idle_closed.fetch_add(1, Ordering::Relaxed);
        self.closed(Closed::Idle);
    }

    pub fn closed_for_room(&self) {
        self.closed_for_room.fetch_add(1, Ordering::Relaxed);
        self.closed(Closed::MadeRoom);
    }

    fn closed(&self, why: Closed) {
        self.connections_closed
            .get_or_create(&ReasonLabel {
                reason: why.as_str(),
            })
            .inc();
    }

    pub fn refused_authentications(&self) -> u64 {
        self.refused_authentications.load(Ordering::Relaxed)
    }

    /// TLS handshakes that failed or timed out (no valid client certificate, not TLS).
    pub fn refused_handshakes(&self) -> u64 {
        self.refused_handshakes.load(Ordering::Relaxed)
    }

    /// Connections refused because their agency (or certificate) had its cap open, none idle.
    pub fn refused_connections(&self) -> u64 {
        self.refused_connections.load(Ordering::Relaxed)
    }

    /// Connections closed after `idle_timeout` with no request in flight.
    pub fn idle_closed(&self) -> u64 {
        self.idle_closed.load(Ordering::Relaxed)
    }

    /// Idle connections closed to make room for a new one of their agency or certificate.
    pub fn room_closed(&self) -> u64 {
        self.closed_for_room.load(Ordering::Relaxed)
    }
}
