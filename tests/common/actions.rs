//! Actions agreed on a case (PROCESS.md, Actions): agreeing one as the lead, marking it done
//! and listing an agency's own, through the API.

use broker::client::Response;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::cases::at;
use super::world::Person;

/// The body of an action owned by `owner`, due at `due`.
pub fn action(description: &str, owner: &str, due: DateTime<Utc>) -> Value {
    json!({"description": description, "owner_agency": owner, "due_at": at(due)})
}

impl Person {
    /// Asks to agree `body` on `case`; the answer as it came.
    pub async fn agree(&self, case: &str, body: &Value) -> Response {
        self.post(&format!("/v1/cases/{case}/actions"), body).await
    }

    /// Agrees `body` on `case`; insists on 201 and answers the action's id.
    pub async fn agreed(&self, case: &str, body: &Value) -> String {
        let r = self.agree(case, body).await;
        assert_eq!(r.status, 201, "agreeing an action: {}", r.text());
        r.json()["id"].as_str().expect("the action's id").to_owned()
    }

    /// Asks to mark action `aid` of `case` done with `note`; the answer as it came.
    pub async fn complete(&self, case: &str, aid: &str, note: &str) -> Response {
        self.post(
            &format!("/v1/cases/{case}/actions/{aid}/done"),
            &json!({"note": note}),
        )
        .await
    }

    /// `GET /v1/actions{query}`; insists on 200 and answers the actions.
    pub async fn own_actions(&self, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/v1/actions{query}")).await;
        assert_eq!(r.status, 200, "listing actions: {}", r.text());
        r.json()["actions"].as_array().expect("actions").clone()
    }
}

/// The ids of `actions`, in order.
pub fn ids(actions: &[Value]) -> Vec<String> {
    actions
        .iter()
        .map(|a| a["id"].as_str().expect("an id").to_owned())
        .collect()
}
