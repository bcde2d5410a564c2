//! The audit log as IG officers read it through the API: pages and cursors of `GET /v1/audit`,
//! the review queue, and the small views of entries the tests compare.

use broker::client::Client;
use broker::vocab::Role;
use serde_json::Value;

use super::TestServer;
use super::world::Person;

/// The partnership's IG officer `ig.patel`, who sees every entry.
pub fn partnership_ig(server: &TestServer) -> Person {
    server.person("partnership", "ig.patel", Role::IgOfficer)
}

/// One page of `GET /v1/audit?{query}` through `client` with `token`.
pub async fn page(client: &Client, token: &str, query: &str) -> Value {
    let r = client
        .get(&format!("/v1/audit?{query}"), token)
        .await
        .unwrap_or_else(|e| panic!("GET /v1/audit?{query}: {e:#}"));
    assert_eq!(r.status, 200, "GET /v1/audit?{query}: {}", r.text());
    r.json()
}

/// The entries of one page.
pub fn entries(page: &Value) -> Vec<Value> {
    page["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("entries in {page}"))
        .clone()
}

/// Every entry `GET /v1/audit` shows this caller with `filters`, following the cursor.
pub async fn all(client: &Client, token: &str, filters: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut after = 0;
    loop {
        let query = format!("{filters}&after_seq={after}&limit=1000");
        let page = page(client, token, &query).await;
        found.extend(entries(&page));
        match page["next_after_seq"].as_i64() {
            Some(next) => after = next,
            None => return found,
        }
    }
}

/// The audit entries about a child, as the partnership's IG officer lists them.
pub async fn about(server: &TestServer, child: &str) -> Vec<Value> {
    let ig = partnership_ig(server);
    let query = format!("subject_id={child}&limit=500");
    entries(&page(&ig.client, &ig.token, &query).await)
}

/// The entry at `seq` among `entries`.
pub fn at(entries: &[Value], seq: i64) -> Value {
    entries
        .iter()
        .find(|e| e["seq"] == seq)
        .unwrap_or_else(|| panic!("no entry {seq} in {entries:?}"))
        .clone()
}

/// The overrides awaiting IG review, as `ig` sees the queue.
pub async fn awaiting_review(ig: &Person) -> Vec<Value> {
    let r = ig.get("/v1/audit/reviews").await;
    assert_eq!(r.status, 200, "the review queue: {}", r.text());
    r.json()["awaiting_review"]
        .as_array()
        .unwrap_or_else(|| panic!("a queue in {}", r.text()))
        .clone()
}

pub fn seq(entry: &Value) -> i64 {
    entry["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no seq in {entry}"))
}

pub fn seqs(entries: &[Value]) -> Vec<i64> {
    entries.iter().map(seq).collect()
}

pub fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Is `agency` the requester, an owner of the records or the recipient of this entry?
pub fn involves(entry: &Value, agency: &str) -> bool {
    entry["actor"]["agency"] == agency
        || entry["recipient"]["agency"] == agency
        || entry["owner_agencies"]
            .as_array()
            .is_some_and(|owners| owners.iter().any(|o| o == agency))
}

/// Only the entries up to `last` (later ones are the audit queries of the test itself).
pub fn upto(entries: &[Value], last: i64) -> Vec<Value> {
    entries.iter().filter(|e| seq(e) <= last).cloned().collect()
}

/// The seqs of a CSV export's rows (its first column), header skipped.
pub fn csv_seqs(text: &str) -> Vec<i64> {
    text.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("a CSV row starting with its seq: {l}"))
        })
        .collect()
}
