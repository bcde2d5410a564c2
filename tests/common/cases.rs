//! The steps of a case (PROCESS.md): a world with csc's social worker and a Hillside pupil,
//! opening cases, recording events, and reading cases, lists and the audit trail.

use broker::client::{Client, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::flows;

/// An instant as a caller sends it.
pub fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `d` ago, to the second (what a caller sends).
pub fn ago(d: chrono::Duration) -> DateTime<Utc> {
    use chrono::SubsecRound;
    (Utc::now() - d).trunc_subsecs(0)
}

/// The clock named `name` among a case's (or an answer's) `clocks`.
pub fn clock(case: &Value, name: &str) -> Value {
    case["clocks"]
        .as_array()
        .unwrap_or_else(|| panic!("clocks is a list: {case}"))
        .iter()
        .find(|c| c["clock"] == name)
        .unwrap_or_else(|| panic!("no clock {name} in {case}"))
        .clone()
}

/// The world the case tests run in: [`super::world::World`] (a Hillside pupil with a risk plan
/// and a parent's consent, registered by csc's `sw.amara`), with the case steps below.
pub use super::world::World;

impl World {
    /// Registers another child (aged 10, at Hillside).
    pub async fn another_child(&self) -> String {
        flows::register(
            &self.csc,
            &self.sw,
            &flows::born_years_ago(10),
            Some("school-hillside"),
        )
        .await
    }

    /// csc's social worker, recording case steps.
    pub fn caseworker(&self) -> Caseworker<'_> {
        Caseworker {
            client: &self.csc,
            token: &self.sw,
        }
    }

    /// Asks csc's social worker to open a case; the answer as it came.
    pub async fn open(
        &self,
        child: &str,
        role: &str,
        referral: DateTime<Utc>,
        linked: &[&str],
    ) -> Response {
        self.caseworker().open(child, role, referral, linked).await
    }

    /// Opens a case about the child who displayed the behaviour; insists on 201.
    pub async fn opened(&self, child: &str, referral: DateTime<Utc>) -> String {
        self.caseworker().opened(child, referral).await
    }

    /// Posts an event as csc's social worker; the answer as it came.
    pub async fn event(&self, case: &str, body: Value) -> Response {
        self.caseworker().event(case, body).await
    }

    /// Records an event of `kind` at `when`; insists on 201.
    pub async fn step(&self, case: &str, kind: &str, when: DateTime<Utc>) {
        self.caseworker().step(case, kind, when).await
    }

    /// Records a no-further-action outcome and closes the case at `when`.
    pub async fn close_with_outcome(&self, case: &str, when: DateTime<Utc>) {
        self.caseworker().close_with_outcome(case, when).await
    }

    /// The case as its lead agency reads it; insists on 200.
    pub async fn read(&self, case: &str) -> Value {
        let r = self
            .csc
            .get(&format!("/v1/cases/{case}"), &self.sw)
            .await
            .expect("reading a case");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// csc's list of cases with this query (`?overdue=true`); insists on 200.
    pub async fn list(&self, query: &str) -> Value {
        let r = self
            .csc
            .get(&format!("/v1/cases{query}"), &self.sw)
            .await
            .expect("listing cases");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The actions of the audit entries about `subject` other than the world's own set-up
    /// (registering, depositing, consenting), in order.
    pub async fn audit_actions(&self, subject: &str) -> Vec<String> {
        broker::with_db!(&self.server.state.db, pool => {
            sqlx::query_scalar::<_, String>(
                "SELECT action FROM audit_log WHERE subject_id = $1 AND action LIKE 'case.%' ORDER BY seq")
                .bind(subject)
                .fetch_all(pool)
                .await
                .expect("reading the audit log")
        })
    }

    /// Every audit entry's columns as one text, to search for what must never be there.
    pub async fn audit_text(&self) -> String {
        broker::with_db!(&self.server.state.db, pool => {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT action, detail, COALESCE(justification, '') FROM audit_log ORDER BY seq")
                .fetch_all(pool)
                .await
                .expect("reading the audit log");
            rows.iter().map(|(a, d, j)| format!("{a} {d} {j}\n")).collect()
        })
    }
}

/// A children's social care worker recording the steps of cases through the API, on any
/// server (a test's own world, or the console's).
pub struct Caseworker<'a> {
    pub client: &'a Client,
    pub token: &'a str,
}

impl Caseworker<'_> {
    /// Asks to open a case; the answer as it came.
    pub async fn open(
        &self,
        child: &str,
        role: &str,
        referral: DateTime<Utc>,
        linked: &[&str],
    ) -> Response {
        self.client
            .post(
                "/v1/cases",
                self.token,
                &json!({"subject_id": child, "subject_role": role,
                    "referral_received_at": at(referral), "linked_case_ids": linked}),
            )
            .await
            .expect("opening a case")
    }

    /// Opens a case about the child who displayed the behaviour; insists on 201.
    pub async fn opened(&self, child: &str, referral: DateTime<Utc>) -> String {
        flows::created(&self.open(child, "harmful_behaviour", referral, &[]).await)
    }

    /// Opens the victim's case, linked to `linked` and led by `lead_sub` (a worker other than
    /// the linked case's, PROCESS.md P5); insists on 201.
    pub async fn opened_victim_led_by(
        &self,
        child: &str,
        referral: DateTime<Utc>,
        linked: &str,
        lead_sub: &str,
    ) -> String {
        let r = self
            .client
            .post(
                "/v1/cases",
                self.token,
                &json!({"subject_id": child, "subject_role": "victim",
                    "referral_received_at": at(referral), "linked_case_ids": [linked],
                    "lead_sub": lead_sub}),
            )
            .await
            .expect("opening a case");
        flows::created(&r)
    }

    /// Posts an event; the answer as it came.
    pub async fn event(&self, case: &str, body: Value) -> Response {
        self.client
            .post(&format!("/v1/cases/{case}/events"), self.token, &body)
            .await
            .expect("recording an event")
    }

    /// Records an event of `kind` at `when`; insists on 201.
    pub async fn step(&self, case: &str, kind: &str, when: DateTime<Utc>) {
        let r = self
            .event(case, json!({"kind": kind, "occurred_at": at(when)}))
            .await;
        assert_eq!(r.status, 201, "{kind}: {}", r.text());
    }

    /// Records a no-further-action outcome and closes the case at `when`.
    pub async fn close_with_outcome(&self, case: &str, when: DateTime<Utc>) {
        let r = self
            .event(
                case,
                json!({"kind": "outcome_recorded", "occurred_at": at(when),
                    "outcome": "no_further_action",
                    "rationale": "Strategy discussion: no further action; parents are protective."}),
            )
            .await;
        assert_eq!(r.status, 201, "outcome: {}", r.text());
        self.step(case, "case_closed", when).await;
    }
}
