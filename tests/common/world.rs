//! Worlds the tests start from, built through the API as the agencies would build them: the
//! people of the dev agencies, and the Hillside pupil most flows share.

use broker::client::{Client, Response};
use broker::vocab::Role;
use serde_json::{Value, json};

use super::TestServer;
use super::flows::{
    ask, born_years_ago, consent, deposit, deposit_as, inbox, open_packet, register,
};

/// Someone of a dev agency: the agency's client certificate and a token carrying `roles`.
pub struct Person {
    pub agency: String,
    pub client: Client,
    pub token: String,
}

impl Person {
    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(path, &self.token)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:#}"))
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(path, &self.token, body)
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e:#}"))
    }

    pub async fn put(&self, path: &str, body: &Value) -> Response {
        self.client
            .put(path, &self.token, body)
            .await
            .unwrap_or_else(|e| panic!("PUT {path}: {e:#}"))
    }

    /// `POST /v1/disclosures`.
    pub async fn disclose(&self, body: &Value) -> Response {
        self.post("/v1/disclosures", body).await
    }

    /// Registers a child `years` old (at `school`); insists on 201.
    pub async fn register(&self, years: u32, school: Option<&str>) -> String {
        register(&self.client, &self.token, &born_years_ago(years), school).await
    }

    /// Deposits a record about the child who displayed the behaviour; insists on 201.
    pub async fn deposit(&self, child: &str, kind: &str, sections: Value) -> String {
        deposit(&self.client, &self.token, child, kind, sections).await
    }

    /// Asks to deposit a record about `child` in `subject_role`; the answer as it came.
    pub async fn deposit_as(
        &self,
        child: &str,
        kind: &str,
        subject_role: &str,
        sections: Value,
    ) -> Response {
        deposit_as(
            &self.client,
            &self.token,
            child,
            kind,
            subject_role,
            sections,
        )
        .await
    }

    /// Records a consent given by `given_by`; insists on 201.
    pub async fn consent(
        &self,
        child: &str,
        given_by: &str,
        purposes: &[&str],
        kinds: &[&str],
    ) -> String {
        consent(&self.client, &self.token, child, given_by, purposes, kinds).await
    }

    /// A head teacher's designation of `staff_sub` to receive about `child`; the answer as it
    /// came.
    pub async fn designate(&self, child: &str, staff_sub: &str, reason: &str) -> Response {
        let body = json!({"staff_sub": staff_sub, "reason": reason});
        let path = format!("/v1/subjects/{child}/staff-designations");
        self.post(&path, &body).await
    }

    /// The disclosure ids in this person's inbox.
    pub async fn inbox(&self) -> Vec<String> {
        inbox(&self.client, &self.token).await
    }
}

impl TestServer {
    /// `sub` of `agency` holding `role`.
    pub fn person(&self, agency: &str, sub: &str, role: Role) -> Person {
        Person {
            agency: agency.to_owned(),
            client: self.client(agency),
            token: self.token(agency, sub, &[role]),
        }
    }

    /// csc's social worker `sw.amara`, who registers most children.
    pub fn social_worker(&self) -> Person {
        self.person("csc", "sw.amara", Role::SocialWorker)
    }

    /// Fetches packet `disclosure` as `who` and decrypts it with their agency's `age` key.
    pub async fn open(&self, who: &Person, disclosure: &str) -> Value {
        open_packet(self, &who.agency, &who.token, disclosure).await
    }
}

/// A child of ten at Hillside registered by csc's social worker `sw`, with a risk management
/// plan (summary and risk management) and a parent's consent to share with schools for
/// safeguarding: the ids.
pub struct Pupil {
    pub child: String,
    pub record: String,
    pub consent: String,
}

/// The sections of the plan [`hillside_pupil`] deposits.
pub fn short_plan() -> Value {
    json!({"summary": "s", "risk_management": "r"})
}

/// Registers a [`Pupil`] through the API as csc's social worker holding `sw`.
pub async fn hillside_pupil(client: &Client, sw: &str) -> Pupil {
    hillside_pupil_with(client, sw, short_plan()).await
}

/// A [`Pupil`] whose plan holds `sections`.
pub async fn hillside_pupil_with(client: &Client, sw: &str, sections: Value) -> Pupil {
    let child = register(client, sw, &born_years_ago(10), Some("school-hillside")).await;
    let record = deposit(client, sw, &child, "risk_management_plan", sections).await;
    let consent = consent(client, sw, &child, "parent", &["safeguarding"], &["school"]).await;
    Pupil {
        child,
        record,
        consent,
    }
}

/// A broker holding a [`Pupil`], and the social worker who registered it (`sw.amara` of csc).
pub struct World {
    pub server: TestServer,
    pub csc: Client,
    pub sw: String,
    pub child: String,
    pub record: String,
    pub consent: String,
}

impl World {
    /// A fresh broker with a Hillside pupil whose plan has a summary and risk management.
    pub async fn start() -> World {
        World::with_plan(short_plan()).await
    }

    /// A fresh broker with a Hillside pupil whose plan holds `sections`.
    pub async fn with_plan(sections: Value) -> World {
        World::on(TestServer::start().await, sections).await
    }

    /// The Hillside pupil registered on `server`.
    pub async fn on(server: TestServer, sections: Value) -> World {
        let csc = server.client("csc");
        let sw = server.token("csc", "sw.amara", &[Role::SocialWorker]);
        let Pupil {
            child,
            record,
            consent,
        } = hillside_pupil_with(&csc, &sw, sections).await;
        World {
            server,
            csc,
            sw,
            child,
            record,
            consent,
        }
    }

    /// The social worker as a [`Person`].
    pub fn social_worker(&self) -> Person {
        Person {
            agency: "csc".into(),
            client: self.server.client("csc"),
            token: self.sw.clone(),
        }
    }

    /// A request for the plan to `recipient` (`agency/role`).
    pub fn ask(&self, recipient: &str, purpose: &str, basis: &str) -> Value {
        ask(&[&self.record], recipient, purpose, basis)
    }

    /// The plan to Hillside's DSL for safeguarding on the parent's consent: a permit.
    pub fn to_dsl(&self) -> Value {
        self.ask("school-hillside/dsl", "safeguarding", "consent")
    }

    /// A deposit about the pupil that would be accepted.
    pub fn a_deposit(&self) -> Value {
        json!({"subject_id": self.child, "kind": "referral", "subject_role": "other",
               "sections": {"summary": "s"}})
    }

    /// A consent that would be recorded.
    pub fn a_consent(&self) -> Value {
        json!({"given_by": "parent", "purposes": ["assessment"],
               "recipient_kinds": ["early_help"]})
    }

    /// `POST /v1/disclosures` as the social worker.
    pub async fn disclose(&self, body: &Value) -> Response {
        self.csc
            .post("/v1/disclosures", &self.sw, body)
            .await
            .expect("sending a disclosure")
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// A child registered by csc's social worker `sw.amara` on a fresh broker, with one record
/// deposited about them as the child who displayed the behaviour.
pub struct Child {
    pub server: TestServer,
    pub sw: Person,
    pub child: String,
    pub record: String,
}

impl Child {
    /// A child `years` old (at `school`) with a `kind` record holding `sections`.
    pub async fn with_record(
        years: u32,
        school: Option<&str>,
        kind: &str,
        sections: Value,
    ) -> Child {
        let server = TestServer::start().await;
        let sw = server.social_worker();
        let child = sw.register(years, school).await;
        let record = sw.deposit(&child, kind, sections).await;
        Child {
            server,
            sw,
            child,
            record,
        }
    }

    /// A parent's consent to share for `purposes` with `kinds` of agency; its id.
    pub async fn parent_consents(&self, purposes: &[&str], kinds: &[&str]) -> String {
        self.sw
            .consent(&self.child, "parent", purposes, kinds)
            .await
    }

    /// A request for the record to `recipient` (`agency/role`).
    pub fn ask(&self, recipient: &str, purpose: &str, basis: &str) -> Value {
        ask(&[&self.record], recipient, purpose, basis)
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}
