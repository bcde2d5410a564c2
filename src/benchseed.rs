//! `broker bench-seed`: synthetic children, records and audit entries written straight to the
//! configured database in big batched transactions, for measurements at scale (a million of
//! each in a few minutes at most, on SQLite or PostgreSQL).
//!
//! Everything it writes is marked as synthetic: subjects are `registered_by = "bench-seed"`,
//! records `deposited_by = "bench-seed"`, audit entries `actor_sub = "bench-seed"`. It refuses
//! to run unless told `--i-understand-this-writes-synthetic-data`, and unless the database holds
//! nothing but what bench-seed wrote before (an empty database qualifies, and so does one where
//! a broker only started and recorded its policy version), so it cannot be pointed at a
//! partnership's live data by accident.
//!
//! The records are real: each has the sections a risk management plan has and `content_enc` is
//! an `age` ciphertext to the broker's at-rest key that the broker decrypts and discloses like
//! any other. It is encrypted once and the same ciphertext is reused for every seeded record,
//! so a million records cost one encryption.
//!
//! The audit entries are chained onto the existing head with the same semantics as
//! [`Chain::append`](crate::audit::Chain::append) by [`append_entries`] (seq = head + 1, hash = [`Entry::hash`] over the previous hash), many rows
//! per statement, and the head is stored in the same transaction, so `broker audit verify`
//! holds afterwards. The first entries record the deposit of each seeded record, the rest are
//! dry-run decisions (`decision.check`) about them, the shape of a real disclosure entry without
//! a packet.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::audit::{Entry, append_entries};
use crate::config::Config;
use crate::crypto::AtRestKey;
use crate::db::bulk::{Val, insert_rows};
use crate::db::{Db, now, ts};
use crate::decision::Policy;
use crate::vocab::{AgencyKind, RecordKind, Section};
use crate::with_db;

/// The mark on everything bench-seed writes.
pub const SEEDER: &str = "bench-seed";

/// Rows written per transaction.
const ROWS_PER_TRANSACTION: u64 = 10_000;

/// What to write.
#[derive(Debug, Clone)]
pub struct Options {
    /// Children to write, each with one record.
    pub records: u64,
    /// Audit entries to chain onto the head.
    pub audit_entries: u64,
    /// The operator said `--i-understand-this-writes-synthetic-data`.
    pub confirmed: bool,
}

/// What was written, printed as one JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub database: &'static str,
    pub subjects: u64,
    pub records: u64,
    pub audit_entries: u64,
    pub audit_head_seq: i64,
    pub records_seconds: f64,
    pub audit_seconds: f64,
    pub elapsed_seconds: f64,
}

/// Migrates the configured database, checks it holds only synthetic data, and seeds it.
pub async fn run(config: &Config, options: &Options) -> anyhow::Result<Summary> {
    if !options.confirmed {
        bail!(
            "bench-seed writes synthetic children, records and audit entries into {}; \
             pass --i-understand-this-writes-synthetic-data to go ahead",
            config.database.url
        );
    }
    let started = Instant::now();
    let db = Db::connect(&config.database.url, 2).await?;
    db.migrate().await.context("applying migrations")?;
    let result = seed(&db, config, options, started).await;
    db.close().await;
    result
}

/// Seeds an open, migrated database.
async fn seed(
    db: &Db,
    config: &Config,
    options: &Options,
    started: Instant,
) -> anyhow::Result<Summary> {
    ensure_only_synthetic(db).await?;
    let world = Synthetic::new(config).await?;
    world.write_records(db, options.records).await?;
    let records_seconds = started.elapsed().as_secs_f64();
    let entries = (0..options.audit_entries).map(|i| world.entry(i, options.records));
    let head = append_entries(db, entries).await?;
    let elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(Summary {
        database: db.kind(),
        subjects: options.records,
        records: options.records,
        audit_entries: options.audit_entries,
        audit_head_seq: head.seq,
        records_seconds,
        audit_seconds: elapsed_seconds - records_seconds,
        elapsed_seconds,
    })
}

/// Refuses a database holding anything bench-seed did not write.
async fn ensure_only_synthetic(db: &Db) -> anyhow::Result<()> {
    let checks = [
        (
            "subjects",
            "SELECT COUNT(*) AS n FROM subjects WHERE registered_by <> $1",
        ),
        (
            "records",
            "SELECT COUNT(*) AS n FROM records WHERE deposited_by <> $1",
        ),
        (
            "audit entries",
            // a broker that started on the database recorded its policy version: that is the
            // broker's own record, not a partnership's data
            "SELECT COUNT(*) AS n FROM audit_log WHERE actor_sub <> $1 \
             AND action <> 'policy_in_force'",
        ),
    ];
    for (what, sql) in checks {
        let n: i64 = with_db!(db, pool => sqlx::query(sql)
            .bind(SEEDER)
            .fetch_one(pool)
            .await?
            .try_get("n")?);
        if n > 0 {
            bail!(
                "the database holds {n} {what} that bench-seed did not write; it seeds only an \
                 empty database or one it seeded before"
            );
        }
    }
    Ok(())
}

/// Ids for one run: a fresh UUIDv7 whose last 48 bits are replaced by the row's index, so the
/// ids are valid, unique and computable from the index without keeping a million in memory.
#[derive(Debug, Clone, Copy)]
struct IdSeq([u8; 16]);

impl IdSeq {
    fn new() -> IdSeq {
        IdSeq(*uuid::Uuid::now_v7().as_bytes())
    }

    fn id(&self, i: u64) -> String {
        let mut bytes = self.0;
        bytes[10..].copy_from_slice(&i.to_be_bytes()[2..]);
        uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
    }
}

/// The shape of the synthetic data, taken from the configuration.
struct Synthetic {
    /// The children's social care agency that owns every record.
    owner: String,
    /// The configured schools, which the children attend in turn.
    schools: Vec<String>,
    /// The one ciphertext of the record content.
    sealed: Vec<u8>,
    /// The record's section names, as the API stores them.
    sections: Vec<Section>,
    policy_version: String,
    subjects: IdSeq,
    records: IdSeq,
}

impl Synthetic {
    async fn new(config: &Config) -> anyhow::Result<Synthetic> {
        let owner = config
            .agencies
            .iter()
            .find(|a| a.kind == AgencyKind::ChildrenSocialCare)
            .context("bench-seed needs a children_social_care agency in the configuration")?
            .id
            .clone();
        let schools = config
            .agencies
            .iter()
            .filter(|a| a.kind == AgencyKind::School)
            .map(|a| a.id.clone())
            .collect();
        let at_rest =
            AtRestKey::load(&config.storage.age_identity).context("storage.age_identity")?;
        let content: BTreeMap<Section, serde_json::Value> = BTreeMap::from([
            (
                Section::Summary,
                json!("Synthetic plan written by bench-seed."),
            ),
            (
                Section::RiskManagement,
                json!("Supervised at break and lunch; separate classroom seating."),
            ),
            (
                Section::AllegationDetails,
                json!("Synthetic allegation details, withheld from schools."),
            ),
        ]);
        let sealed = at_rest.encrypt(&serde_json::to_vec(&content)?)?;
        let policy = match &config.policy.dir {
            Some(dir) => Policy::load(dir).await,
            None => Policy::from_files(&crate::decision::policy::Files::embedded()).await,
        }
        .context("loading the policy")?;
        Ok(Synthetic {
            owner,
            schools,
            sealed,
            sections: content.into_keys().collect(),
            policy_version: policy.version().to_owned(),
            subjects: IdSeq::new(),
            records: IdSeq::new(),
        })
    }

    /// The school child `i` attends, if any school is configured.
    fn school(&self, i: u64) -> Option<&str> {
        let n = self.schools.len() as u64;
        (n > 0).then(|| self.schools[(i % n) as usize].as_str())
    }

    /// Child `i`'s date of birth: aged 10 to 16 today, spread over the year.
    fn date_of_birth(i: u64) -> String {
        let today = crate::decision::facts::london_date(chrono::Utc::now());
        let years = 10 + (i % 7) as u32;
        let born = today - chrono::Months::new(years * 12) - chrono::Days::new(30 + i % 300);
        born.to_string()
    }

    /// Writes `n` children and their records, [`ROWS_PER_TRANSACTION`] per transaction.
    async fn write_records(&self, db: &Db, n: u64) -> anyhow::Result<()> {
        let sections = serde_json::to_string(&self.sections)?;
        let mut start = 0;
        while start < n {
            let end = n.min(start + ROWS_PER_TRANSACTION);
            let created = ts(now());
            let subject_ids: Vec<String> = (start..end).map(|i| self.subjects.id(i)).collect();
            let record_ids: Vec<String> = (start..end).map(|i| self.records.id(i)).collect();
            let births: Vec<String> = (start..end).map(Synthetic::date_of_birth).collect();
            let mut subjects = Vec::new();
            let mut records = Vec::new();
            for (k, i) in (start..end).enumerate() {
                subjects.extend([
                    Val::Text(&subject_ids[k]),
                    Val::Text(&births[k]),
                    Val::OptText(self.school(i)),
                    Val::Text(SEEDER),
                    Val::Text(&created),
                ]);
                records.extend([
                    Val::Text(&record_ids[k]),
                    Val::Text(&subject_ids[k]),
                    Val::Text(&self.owner),
                    Val::Text(RecordKind::RiskManagementPlan.as_str()),
                    Val::Text("harmful_behaviour"),
                    Val::Text(&sections),
                    Val::Bytes(&self.sealed),
                    Val::Text(SEEDER),
                    Val::Text(&created),
                ]);
            }
            let mut tx = db.begin().await?;
            insert_rows(
                &mut tx,
                "subjects (id, date_of_birth, school_agency, registered_by, created_at)",
                5,
                &subjects,
            )
            .await?;
            insert_rows(
                &mut tx,
                "records (id, subject_id, owner_agency, kind, subject_role, sections, \
                 content_enc, deposited_by, created_at)",
                9,
                &records,
            )
            .await?;
            tx.commit().await?;
            start = end;
        }
        Ok(())
    }

    /// Audit entry `i` of this run: the deposit of record `i` for the first `records` entries,
    /// then dry-run decisions about the records in turn. With no records, a bare entry.
    fn entry(&self, i: u64, records: u64) -> Entry {
        let mut entry = Entry {
            at: ts(now()),
            actor_agency: self.owner.clone(),
            actor_sub: SEEDER.to_owned(),
            actor_roles: vec!["social_worker".to_owned()],
            action: "bench.seed".to_owned(),
            decision: Some("permit".to_owned()),
            policy_version: Some(self.policy_version.clone()),
            detail: json!({}),
            ..Entry::default()
        };
        if records == 0 {
            return entry;
        }
        let r = i % records;
        entry.subject_id = Some(self.subjects.id(r));
        entry.record_ids = vec![self.records.id(r)];
        entry.owner_agencies = vec![self.owner.clone()];
        if i < records {
            entry.action = "record.deposit".to_owned();
            entry.detail =
                json!({"kind": RecordKind::RiskManagementPlan, "sections": self.sections});
            return entry;
        }
        entry.action = "decision.check".to_owned();
        entry.recipient_agency = self.school(r).map(str::to_owned);
        entry.recipient_role = Some("dsl".to_owned());
        entry.purpose = Some("safeguarding".to_owned());
        entry.basis = Some("consent".to_owned());
        entry.detail = json!({
            "legal_reference": null, "mappa_decision_id": null,
            "sections_released": [Section::Summary, Section::RiskManagement],
            "sections_withheld": [Section::AllegationDetails], "view": "limited_summary",
        });
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_distinct_uuids_computed_from_the_index() {
        let ids = IdSeq::new();
        let a = ids.id(0);
        let b = ids.id(1_000_000);
        assert_ne!(a, b);
        assert_eq!(ids.id(0), a);
        for id in [a, b] {
            let parsed = uuid::Uuid::parse_str(&id).unwrap();
            assert_eq!(parsed.get_version_num(), 7, "{id}");
        }
    }
}
