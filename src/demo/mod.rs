//! `broker demo`: the main job on the embedded default. In a temp directory, on SQLite, it
//! starts the broker in-process on a free port and plays a realistic case over real mTLS as
//! the agencies would, prints the timeline and each recipient's decrypted view, then verifies
//! the audit chain. Any unexpected answer stops it with a non-zero exit.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::client::Client;
use crate::config::Config;
use crate::devinit::{DevWorld, dev_init, dev_token};
use crate::state::AppState;
use crate::vocab::Role;

mod case;
mod story;
use story::play;

struct Demo {
    world: DevWorld,
    config: Config,
    addr: std::net::SocketAddr,
    clients: BTreeMap<String, Client>,
    packets: Vec<(String, String, String)>,
    kinds: BTreeMap<String, String>,
}

impl Demo {
    fn client(&mut self, agency: &str) -> anyhow::Result<&Client> {
        if !self.clients.contains_key(agency) {
            let c = Client::from_files(
                self.addr,
                &self.world.ca(),
                &self.world.client_cert(agency),
                &self.world.client_key(agency),
            )?;
            self.clients.insert(agency.to_owned(), c);
        }
        Ok(&self.clients[agency])
    }

    fn token(&self, agency: &str, sub: &str, role: Role) -> anyhow::Result<String> {
        dev_token(&self.config, agency, sub, &[role], Duration::from_secs(900))
    }

    /// POSTs (or PUTs) as a person and insists on the expected status.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &mut self,
        agency: &str,
        sub: &str,
        role: Role,
        method: &str,
        path: &str,
        body: Value,
        expect: u16,
    ) -> anyhow::Result<Value> {
        let token = self.token(agency, sub, role)?;
        let client = self.client(agency)?;
        let r = match method {
            "PUT" => client.put(path, &token, &body).await?,
            "GET" => client.get(path, &token).await?,
            _ => client.post(path, &token, &body).await?,
        };
        if r.status.as_u16() != expect {
            bail!(
                "{method} {path} as {agency}/{sub}: expected {expect}, got {}: {}",
                r.status,
                r.text()
            );
        }
        let answer = r.json();
        if path == "/v1/records"
            && let (Some(id), Some(kind)) = (answer["id"].as_str(), answer["kind"].as_str())
        {
            self.kinds.insert(id.to_owned(), kind.to_owned());
        }
        Ok(answer)
    }

    /// The packets waiting for a person.
    async fn inbox(&mut self, who: (&str, &str, Role)) -> anyhow::Result<Vec<Value>> {
        let list = self
            .call(who.0, who.1, who.2, "GET", "/v1/inbox", json!({}), 200)
            .await?;
        Ok(list.as_array().cloned().unwrap_or_default())
    }

    /// A disclosure that must come out as `expect` ("permit" or "deny" with these codes).
    #[allow(clippy::too_many_arguments)]
    async fn disclose(
        &mut self,
        who: (&str, &str, Role),
        record: &str,
        to: (&str, Option<Role>, Option<&str>),
        purpose: &str,
        basis: &str,
        extra: Value,
        expect: &[&str],
    ) -> anyhow::Result<Value> {
        let mut body = json!({"record_ids": [record], "recipient_agency": to.0, "recipient_role": to.1, "recipient_sub": to.2, "purpose": purpose, "basis": basis});
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let permit = expect == ["permit"];
        let d = self
            .call(
                who.0,
                who.1,
                who.2,
                "POST",
                "/v1/disclosures",
                body,
                if permit { 201 } else { 403 },
            )
            .await?;
        let codes: Vec<&str> = d["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["code"].as_str())
            .collect();
        if !permit && codes != expect {
            bail!(
                "disclosure to {}: expected reasons {expect:?}, got {codes:?}",
                to.0
            );
        }
        let to_text = format!(
            "{}{}{}",
            to.0,
            to.1.map(|r| format!(" {r}")).unwrap_or_default(),
            to.2.map(|s| format!(" ({s})")).unwrap_or_default()
        );
        println!(
            "  #{:<3} {} {} ({}) → {}: {} for {} on {}: {}{}{}",
            d["audit_seq"],
            who.0,
            who.1,
            who.2,
            to_text,
            self.kinds.get(record).map_or("record", String::as_str),
            purpose,
            basis,
            if permit { "PERMIT" } else { "DENY" },
            d["view"]
                .as_str()
                .map(|v| format!(" [{v}: {}]", list(&d["sections_released"])))
                .unwrap_or_default(),
            if permit {
                obligations(&d)
            } else {
                format!(" because {}", codes.join(", "))
            },
        );
        if permit {
            let id = d["disclosure_id"]
                .as_str()
                .context("a disclosure id")?
                .to_owned();
            let role = to.1.map(|r| r.to_string()).unwrap_or_default();
            self.packets.push((to.0.to_owned(), role, id));
        }
        Ok(d)
    }
}

fn list(v: &Value) -> String {
    let items = names(v);
    if items.is_empty() {
        "no content".into()
    } else {
        items.join(", ")
    }
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn obligations(d: &Value) -> String {
    let o = list(&d["obligations"]);
    if o == "no content" {
        String::new()
    } else {
        format!(" +{o}")
    }
}

fn step(text: &str) {
    println!("\n{text}");
}

pub async fn run() -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("a temp directory")?;
    let world = dev_init(dir.path(), false, "127.0.0.1:0", "sqlite://data/broker.db")?;
    let config = Config::load(&world.config)?;
    let state = AppState::build(config.clone()).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = state.clone();
    let server = tokio::spawn(async move {
        crate::server::serve(listener, served, async {
            let _ = stopped.await;
        })
        .await
    });
    println!(
        "broker demo: a Northshire case, played over mTLS against {addr} (SQLite in {})",
        dir.path().display()
    );
    println!("policy {}", state.policy().version());
    let mut demo = Demo {
        world,
        config,
        addr,
        clients: BTreeMap::new(),
        packets: Vec::new(),
        kinds: BTreeMap::new(),
    };
    let result = play(&mut demo).await;
    let verified = crate::audit::verify(&state.db).await;
    let _ = stop.send(());
    let _ = server.await;
    state.db.close().await;
    result?;
    let v = verified?;
    step("The audit chain, verified straight from the database:");
    println!(
        "  ok={} entries={} head={} first_bad_seq={:?}",
        v.ok, v.entries, v.head_hash, v.first_bad_seq
    );
    if !v.ok {
        bail!("the audit chain does not verify");
    }
    println!("\ndemo complete");
    Ok(())
}
