//! The facts of recent disclosures, kept in memory so that a disclosure about a child seen
//! lately makes no read at all before the write queue.
//!
//! It is safe because nothing decided on cached facts is committed unchecked: every decision
//! is committed only if the child's `facts_version` (bumped by the database's own triggers on
//! every change to a fact the rules use: consents, assessments, MAPPA status and decisions,
//! staff designations, chair permissions, school, residence) is still the one its facts were
//! read at ([`super::facts::Loaded::still_current`], or the packet's conditional insert). A
//! cached child whose facts have moved, here or in another broker on the same database, fails
//! that check once; the caller then [forgets](FactsCache::forget) it and decides again on
//! facts read afresh.
//!
//! What is kept:
//! - a record's facts and its content, still sealed to the at-rest key (records are never
//!   changed after deposit; only a key rotation rewrites their ciphertext, and an entry made
//!   under an older key file is not used: [`crate::crypto::AtRestKey::generation`]);
//! - a child's facts at a version: the child's row, its consents, and the staff designations
//!   at each recipient school asked about so far.
//!
//! Not kept: a record with a chair (its permissions are read each time), a named MAPPA forum
//! decision (read each time). A request naming either is read whole from the database.
//!
//! Both maps are bounded ([`CHILDREN`], [`RECORDS`]); a full map lets go of an arbitrary
//! entry for each one it takes in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::facts::{Ask, Loaded, StoredRecord};
use crate::decision::{
    ConsentFacts, Facts, Policy, RecordFacts, StaffDesignation, Subject, has_chair,
};
use crate::error::ApiError;

/// The children kept at most.
pub const CHILDREN: usize = 20_000;
/// The records kept at most (their sealed content is a few hundred bytes to a few KiB each).
pub const RECORDS: usize = 20_000;

/// A child's facts at one `facts_version`.
#[derive(Debug, Clone)]
struct Child {
    version: i64,
    subject: Subject,
    consents: Vec<ConsentFacts>,
    /// The designations of staff at a school, by the school asked about.
    designations: HashMap<String, Vec<StaffDesignation>>,
    mappa_agency: Option<String>,
    display_name_enc: Option<Vec<u8>>,
}

/// A record's facts and sealed content, as read under the at-rest key file of `generation`.
#[derive(Debug)]
struct Record {
    facts: RecordFacts,
    content_enc: Vec<u8>,
    generation: u64,
}

/// What a hit gives back: everything [`Loaded`] needs but the request's own facts.
pub struct Hit {
    pub records: Vec<StoredRecord>,
    pub subject: Subject,
    pub consents: Vec<ConsentFacts>,
    pub staff_designations: Vec<StaffDesignation>,
    pub version: i64,
    pub mappa_agency: Option<String>,
    pub display_name_enc: Option<Vec<u8>>,
}

/// The process's cache of disclosure facts (one per process, in the application state).
#[derive(Debug, Default)]
pub struct FactsCache {
    children: Mutex<HashMap<String, Arc<Child>>>,
    records: Mutex<HashMap<String, Arc<Record>>>,
}

/// Takes `key` in, letting go of an arbitrary other entry if the map is full.
fn put<V>(map: &mut HashMap<String, V>, bound: usize, key: String, value: V) {
    if map.len() >= bound
        && !map.contains_key(&key)
        && let Some(victim) = map.keys().next().cloned()
    {
        map.remove(&victim);
    }
    map.insert(key, value);
}

impl FactsCache {
    pub fn new() -> FactsCache {
        FactsCache::default()
    }

    /// The facts of `records` (in order) and of their child as a disclosure to a recipient of
    /// agency `recipient` needs them, if all are kept (and the records were read under the
    /// at-rest key file of `generation`). The records' child is the first record's; a record
    /// about another child is returned as it is, for the rules to refuse.
    pub fn get(&self, records: &[String], recipient: &str, generation: u64) -> Option<Hit> {
        let stored: Vec<StoredRecord> = {
            let map = self.records.lock().unwrap_or_else(|p| p.into_inner());
            records
                .iter()
                .map(|id| {
                    map.get(id)
                        .filter(|r| r.generation == generation)
                        .map(|r| StoredRecord {
                            facts: r.facts.clone(),
                            content_enc: r.content_enc.clone(),
                        })
                })
                .collect::<Option<_>>()?
        };
        let subject = &stored.first()?.facts.subject_id;
        let child = self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(subject)
            .cloned()?;
        let staff_designations = child.designations.get(recipient)?.clone();
        Some(Hit {
            records: stored,
            subject: child.subject.clone(),
            consents: child.consents.clone(),
            staff_designations,
            version: child.version,
            mappa_agency: child.mappa_agency.clone(),
            display_name_enc: child.display_name_enc.clone(),
        })
    }

    /// Keeps what `loaded` read for a recipient of agency `recipient`, under the at-rest key
    /// file of `generation`. Records with a chair are not kept; a child already kept at the
    /// same version gains this school's designations, one at another version is replaced.
    pub fn keep(&self, loaded: &Loaded, recipient: &str, generation: u64) {
        {
            let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
            for r in &loaded.records {
                if r.facts.chair.is_some() {
                    continue;
                }
                let record = Record {
                    facts: RecordFacts {
                        chair_permissions: Vec::new(),
                        ..r.facts.clone()
                    },
                    content_enc: r.content_enc.clone(),
                    generation,
                };
                put(&mut map, RECORDS, r.facts.id.clone(), Arc::new(record));
            }
        }
        let facts = &loaded.facts;
        let mut map = self.children.lock().unwrap_or_else(|p| p.into_inner());
        let mut child = match map.get(&facts.subject.id) {
            Some(kept) if kept.version == loaded.version => Child::clone(kept),
            _ => Child {
                version: loaded.version,
                subject: facts.subject.clone(),
                consents: facts.consents.clone(),
                designations: HashMap::new(),
                mappa_agency: loaded.mappa_agency.clone(),
                display_name_enc: loaded.display_name_enc.clone(),
            },
        };
        child
            .designations
            .insert(recipient.to_owned(), facts.staff_designations.clone());
        put(
            &mut map,
            CHILDREN,
            facts.subject.id.clone(),
            Arc::new(child),
        );
    }

    /// Lets go of a child's facts (they moved since they were kept).
    pub fn forget(&self, subject: &str) {
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(subject);
    }

    /// (children, records) kept now.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.children
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len(),
            self.records.lock().unwrap_or_else(|p| p.into_inner()).len(),
        )
    }
}

/// [`load`](super::facts::load) on the read pool through the process's [`FactsCache`]: a request about records
/// and a child kept there (read under the at-rest key file of `generation`) makes no read at
/// all; any other is read whole, and what it read is kept. A request naming a child instead of
/// records, or a MAPPA forum decision, or touching a record with a chair, is always read.
///
/// Facts from the cache may be older than the database's: the caller commits only on facts
/// still current, and [forgets](FactsCache::forget) the child when they were not.
pub async fn load_cached(
    db: &crate::db::Db,
    cache: &FactsCache,
    generation: u64,
    policy: &Policy,
    ask: Ask,
) -> Result<Loaded, ApiError> {
    let cacheable = ask.subject.is_none() && ask.request.mappa_decision_id.is_none();
    if cacheable {
        let ids: Vec<String> = ask.record_ids.iter().map(|r| r.to_string()).collect();
        if let Some(hit) = cache.get(&ids, &ask.recipient.agency, generation)
            && !hit.records.iter().any(|r| has_chair(policy, r.facts.kind))
        {
            return Ok(from_cache(hit, ask));
        }
    }
    let recipient = ask.recipient.agency.clone();
    let loaded = super::facts::load(db.into(), policy, ask).await?;
    if cacheable {
        cache.keep(&loaded, &recipient, generation);
    }
    Ok(loaded)
}

/// The [`Loaded`] of a cache hit for `ask`.
fn from_cache(hit: Hit, ask: Ask) -> Loaded {
    let Ask {
        at,
        requester,
        recipient,
        request,
        ..
    } = ask;
    Loaded {
        facts: Facts {
            // as in `load`: never a moment before the facts were taken
            at: at.max(crate::db::now()),
            requester,
            recipient,
            subject: hit.subject,
            records: hit.records.iter().map(|r| r.facts.clone()).collect(),
            consents: hit.consents,
            mappa_decisions: Vec::new(),
            staff_designations: hit.staff_designations,
            request,
        },
        records: hit.records,
        version: hit.version,
        mappa_agency: hit.mappa_agency,
        display_name_enc: hit.display_name_enc,
    }
}
