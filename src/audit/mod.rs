//! The append-only, hash-chained audit log (RULES.md 8). An entry is written in the same
//! transaction as the action it records: if it cannot be written, the action does not happen.
//! Each entry's hash is SHA-256 over the previous hash and the entry's canonical encoding, so an
//! edited, deleted, inserted or reordered entry breaks the chain at the first bad `seq`.

mod verify;

pub use verify::{Verification, verify};

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, Tx, ts};
use crate::decision::Decision;
use crate::on_tx;

/// The hash before the first entry.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// One audit entry: identifiers, decisions, reasons, purposes, bases and justifications;
/// never record content. The field order is the canonical encoding.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub actor_agency: String,
    pub actor_sub: String,
    pub actor_roles: Vec<String>,
    pub action: String,
    pub subject_id: Option<String>,
    pub record_ids: Vec<String>,
    pub owner_agencies: Vec<String>,
    pub recipient_agency: Option<String>,
    pub recipient_role: Option<String>,
    pub recipient_sub: Option<String>,
    pub purpose: Option<String>,
    pub basis: Option<String>,
    pub justification: Option<String>,
    pub decision: Option<String>,
    pub reasons: Vec<String>,
    pub obligations: Vec<String>,
    pub policy_version: Option<String>,
    pub packet_sha256: Option<String>,
    pub detail: serde_json::Value,
}

/// Who acted, as the audit log records it: plain values, so this layer knows nothing of how
/// callers are identified (the identity layer's `Principal` is one).
pub trait Actor {
    fn agency(&self) -> &str;
    fn sub(&self) -> &str;
    fn roles(&self) -> Vec<&str>;
}

impl Entry {
    /// An entry for `action` by `actor`, now.
    pub fn new(actor: &impl Actor, action: &str) -> Entry {
        Entry {
            at: ts(crate::db::now()),
            actor_agency: actor.agency().to_owned(),
            actor_sub: actor.sub().to_owned(),
            actor_roles: actor.roles().into_iter().map(str::to_owned).collect(),
            action: action.to_owned(),
            detail: serde_json::json!({}),
            ..Entry::default()
        }
    }

    pub fn subject(mut self, id: &str) -> Entry {
        self.subject_id = Some(id.to_owned());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Entry {
        self.detail = detail;
        self
    }

    /// Copies a decision's outcome, reasons, obligations and policy version.
    pub fn decision(mut self, d: &Decision) -> Entry {
        self.decision = Some(if d.permitted() { "permit" } else { "deny" }.to_owned());
        self.reasons = d.reasons.iter().map(|r| r.code.to_string()).collect();
        self.obligations = d.obligations.iter().map(|o| o.to_string()).collect();
        self.policy_version = Some(d.policy_version.clone());
        self
    }

    /// `sha256:<hex>` of the previous hash and this entry's canonical JSON.
    pub fn hash(&self, prev_hash: &str) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(&canonical);
        format!("sha256:{}", hex::encode(h.finalize()))
    }
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The chain's head inside a write transaction that has locked it. Appends advance it in
/// memory; [`Chain::store`] writes it back before the commit. A batch of actions (group commit)
/// locks the head once, appends each action's entry, and stores the head once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub seq: i64,
    pub hash: String,
}

impl Chain {
    /// Locks the head row (the write lock on SQLite, the row lock on PostgreSQL), so appends
    /// are linear even across processes.
    pub async fn lock(tx: &mut Tx) -> Result<Chain, sqlx::Error> {
        on_tx!(tx, c => {
            let head = sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
                .fetch_one(&mut **c)
                .await?;
            Ok(Chain { seq: head.try_get("seq")?, hash: head.try_get("hash")? })
        })
    }

    /// Numbers `entry` after the head, hashes it onto the head and advances the head to it.
    /// Returns the previous hash (the entry's `prev_hash`).
    pub fn link(&mut self, entry: &mut Entry) -> String {
        entry.seq = self.seq + 1;
        let hash = entry.hash(&self.hash);
        self.seq = entry.seq;
        std::mem::replace(&mut self.hash, hash)
    }

    /// Inserts `entry` as the next link; the head advances only if the insert succeeded.
    pub async fn append(&mut self, tx: &mut Tx, mut entry: Entry) -> Result<i64, sqlx::Error> {
        let mut next = self.clone();
        let prev = next.link(&mut entry);
        insert(tx, &entry, &prev, &next.hash).await?;
        *self = next;
        Ok(entry.seq)
    }

    /// Writes the head back (in the same transaction as the entries).
    pub async fn store(&self, tx: &mut Tx) -> Result<(), sqlx::Error> {
        on_tx!(tx, c => sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(self.seq)
            .bind(&self.hash)
            .execute(&mut **c)
            .await
            .map(drop))
    }
}

/// Appends `entry` inside `tx` (locking, appending and storing the head). Returns its seq.
pub async fn append(tx: &mut Tx, entry: Entry) -> Result<i64, sqlx::Error> {
    let mut chain = Chain::lock(tx).await?;
    let seq = chain.append(tx, entry).await?;
    chain.store(tx).await?;
    Ok(seq)
}

/// The `audit_log` columns, in the order of [`insert`]'s statements.
pub const COLUMNS: &str = "seq, at, actor_agency, actor_sub, actor_roles, action, subject_id, \
    record_ids, owner_agencies, recipient_agency, recipient_role, recipient_sub, purpose, basis, \
    justification, decision, reasons, obligations, policy_version, packet_sha256, detail, \
    prev_hash, hash";

/// Inserts one entry row (and its record index rows) with the given links. On PostgreSQL it
/// is one statement (one round trip); on SQLite one per row.
async fn insert(tx: &mut Tx, entry: &Entry, prev: &str, hash: &str) -> Result<(), sqlx::Error> {
    const VALUES: &str = "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
        $15, $16, $17, $18, $19, $20, $21, $22, $23)";
    static SQLITE: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("INSERT INTO audit_log ({COLUMNS}) {VALUES}"));
    static POSTGRES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH entry AS (INSERT INTO audit_log ({COLUMNS}) {VALUES} RETURNING seq) \
             INSERT INTO audit_records (record_id, seq) \
             SELECT r, entry.seq FROM entry, unnest($24::text[]) AS r"
        )
    });
    macro_rules! bind_entry {
        ($sql:expr) => {
            sqlx::query($sql)
                .bind(entry.seq)
                .bind(&entry.at)
                .bind(&entry.actor_agency)
                .bind(&entry.actor_sub)
                .bind(json(&entry.actor_roles))
                .bind(&entry.action)
                .bind(&entry.subject_id)
                .bind(json(&entry.record_ids))
                .bind(json(&entry.owner_agencies))
                .bind(&entry.recipient_agency)
                .bind(&entry.recipient_role)
                .bind(&entry.recipient_sub)
                .bind(&entry.purpose)
                .bind(&entry.basis)
                .bind(&entry.justification)
                .bind(&entry.decision)
                .bind(json(&entry.reasons))
                .bind(json(&entry.obligations))
                .bind(&entry.policy_version)
                .bind(&entry.packet_sha256)
                .bind(json(&entry.detail))
                .bind(prev)
                .bind(hash)
        };
    }
    match tx {
        Tx::Sqlite(c) => {
            bind_entry!(SQLITE.as_str()).execute(&mut **c).await?;
            for record in &entry.record_ids {
                sqlx::query("INSERT INTO audit_records (record_id, seq) VALUES ($1, $2)")
                    .bind(record)
                    .bind(entry.seq)
                    .execute(&mut **c)
                    .await?;
            }
        }
        Tx::Postgres(c) => {
            bind_entry!(POSTGRES.as_str())
                .bind(&entry.record_ids)
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}

/// A row of `audit_log` as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor_agency: String,
    pub actor_sub: String,
    pub actor_roles: String,
    pub action: String,
    pub subject_id: Option<String>,
    pub record_ids: String,
    pub owner_agencies: String,
    pub recipient_agency: Option<String>,
    pub recipient_role: Option<String>,
    pub recipient_sub: Option<String>,
    pub purpose: Option<String>,
    pub basis: Option<String>,
    pub justification: Option<String>,
    pub decision: Option<String>,
    pub reasons: String,
    pub obligations: String,
    pub policy_version: Option<String>,
    pub packet_sha256: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRow {
    /// The entry exactly as stored, or `None` when a JSON column is not in the canonical form
    /// the broker writes (so an overwritten column cannot hide behind a lenient parse).
    pub fn strict_entry(&self) -> Option<Entry> {
        fn list(text: &str) -> Option<Vec<String>> {
            let v: Vec<String> = serde_json::from_str(text).ok()?;
            (serde_json::to_string(&v).ok()? == text).then_some(v)
        }
        let detail: serde_json::Value = serde_json::from_str(&self.detail).ok()?;
        if serde_json::to_string(&detail).ok()? != self.detail {
            return None;
        }
        Some(Entry {
            actor_roles: list(&self.actor_roles)?,
            record_ids: list(&self.record_ids)?,
            owner_agencies: list(&self.owner_agencies)?,
            reasons: list(&self.reasons)?,
            obligations: list(&self.obligations)?,
            detail,
            ..self.entry()
        })
    }

    /// The entry for display (lenient: a malformed column reads as empty).
    pub fn entry(&self) -> Entry {
        fn parse<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
            serde_json::from_str(text).unwrap_or_default()
        }
        Entry {
            seq: self.seq,
            at: self.at.clone(),
            actor_agency: self.actor_agency.clone(),
            actor_sub: self.actor_sub.clone(),
            actor_roles: parse(&self.actor_roles),
            action: self.action.clone(),
            subject_id: self.subject_id.clone(),
            record_ids: parse(&self.record_ids),
            owner_agencies: parse(&self.owner_agencies),
            recipient_agency: self.recipient_agency.clone(),
            recipient_role: self.recipient_role.clone(),
            recipient_sub: self.recipient_sub.clone(),
            purpose: self.purpose.clone(),
            basis: self.basis.clone(),
            justification: self.justification.clone(),
            decision: self.decision.clone(),
            reasons: parse(&self.reasons),
            obligations: parse(&self.obligations),
            policy_version: self.policy_version.clone(),
            packet_sha256: self.packet_sha256.clone(),
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}
