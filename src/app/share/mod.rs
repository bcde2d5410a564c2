//! The one sharing pipeline. A disclosure, a duty's notice and the forum's notification of
//! either (RULES 5, `notify_mappa`) all go out through it, in two steps:
//!
//! 1. [`prepare`], the seal step: the packet of a permitted decision is built from the records
//!    as loaded and encrypted to its addressee ([`packet`]); if the permit carries
//!    `notify_mappa`, the forum's notification is sealed too, or the reason it cannot be sent
//!    is noted ([`notice`]); the decision's audit entry is completed with what was shared.
//!    Pure computation: a disclosure runs it outside the write queue, before taking its turn
//!    (the encryption is most of its cost), a duty inside its trigger's write action.
//! 2. [`store`], the store step, in the caller's write action: the packet is stored only if
//!    the child's facts are still at the version they were read at, its entry is appended,
//!    then the notification is stored and its own entry, pointing at the first's `audit_seq`,
//!    appended. Once the action has committed, each addressee is told by e-mail that a packet
//!    waits (`mail`, after the commit, never blocking it).
//!
//! Nothing else in `src/` seals a packet.

mod child;
mod notice;
mod packet;

pub use self::child::Child;

use serde_json::{Value, json};

use self::notice::{Due, Notice};
use super::mail::{Announcement, Waiting};
use crate::audit::Entry;
use crate::decision::{Decision, Facts};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::state::AppState;
use crate::store::facts::Loaded;
use crate::store::packets::{Sealed, store_if_current};
use crate::vocab::Obligation;
use crate::writer::WriteTx;

/// The audit entry that records `d`, a decision about `facts`, as `action` by `principal`:
/// identifiers, decision, reasons, purpose, basis and justification, never content.
pub fn entry_for(principal: &Principal, action: &str, facts: &Facts, d: &Decision) -> Entry {
    let mut entry = Entry::new(principal, action)
        .subject(&facts.subject.id)
        .decision(d);
    entry.record_ids = facts.records.iter().map(|r| r.id.clone()).collect();
    let mut owners: Vec<String> = facts.records.iter().map(|r| r.owner.clone()).collect();
    owners.sort();
    owners.dedup();
    entry.owner_agencies = owners;
    entry.recipient_agency = Some(facts.recipient.agency.clone());
    entry.recipient_role = facts.recipient.role.map(|r| r.to_string());
    entry.recipient_sub = facts.recipient.sub.clone();
    entry.purpose = Some(facts.request.purpose.to_string());
    entry.basis = Some(facts.request.basis.to_string());
    entry.justification = facts.request.justification.clone();
    entry.detail = json!({
        "sections_released": d.sections_released, "sections_withheld": d.sections_withheld,
        "view": d.view, "legal_reference": facts.request.legal_reference,
        "mappa_decision_id": facts.request.mappa_decision_id,
    });
    entry
}

/// A permitted share, sealed and ready to store: its packet and audit entry, and the forum's
/// notification with its own entry when the forum is told.
pub struct Prepared {
    packet: Sealed,
    entry: Entry,
    forum: Option<(Sealed, Entry)>,
    /// The e-mail that tells each addressee a packet waits, sent once the action commits.
    announce: Announcement,
}

/// A share stored in the write action.
#[derive(Debug)]
pub struct Stored {
    /// The packet's id (`disclosure_id`).
    pub disclosure_id: String,
    /// The `audit_seq` of its entry.
    pub audit_seq: i64,
}

/// The seal step: seals the packet of `decision` (a permit, on `loaded`) for its addressee
/// (`loaded.facts.recipient`), issued at `issued_at`, with `about` as the packet's `notifies`
/// (what a notice is about), and completes `entry` (made by [`entry_for`]) with the packet's
/// digest and id. If the permit carries `notify_mappa`, the forum's notification is sealed as
/// well, and `entry` says whether and how the forum is told.
pub fn prepare(
    state: &AppState,
    principal: &Principal,
    loaded: &Loaded,
    decision: &Decision,
    entry: Entry,
    issued_at: chrono::DateTime<chrono::Utc>,
    about: Option<Value>,
) -> Result<Prepared, ApiError> {
    let (packet, mut entry) = sealed(
        state,
        loaded,
        &loaded.facts,
        decision,
        entry,
        issued_at,
        about,
    )?;
    let mut forum = None;
    if decision.obligations.contains(&Obligation::NotifyMappa) {
        let outcome = match notice::notice(state, loaded, decision, &packet.disclosure) {
            Notice::Due(due) => {
                let Due {
                    agency,
                    facts,
                    decision: notification,
                    about,
                } = *due;
                let told_entry = entry_for(principal, "disclosure", &facts, &notification);
                let (told, mut told_entry) = sealed(
                    state,
                    loaded,
                    &facts,
                    &notification,
                    told_entry,
                    issued_at,
                    Some(about),
                )?;
                if let Value::Object(detail) = &mut told_entry.detail {
                    detail.insert(
                        "notifies".into(),
                        json!({"obligation": "notify_mappa", "disclosure_id": packet.disclosure}),
                    );
                }
                let outcome = notice::told(&agency, &told.disclosure);
                forum = Some((told, told_entry));
                outcome
            }
            Notice::Unsent(unsent) => unsent.outcome(),
        };
        if let Value::Object(detail) = &mut entry.detail {
            detail.insert("notify_mappa".into(), outcome);
        }
    }
    Ok(Prepared {
        packet,
        entry,
        forum,
        announce: Announcement::new(state, principal),
    })
}

/// Seals one packet of `loaded`'s records about its child for `facts.recipient` (the only
/// call of [`packet::seal`]) and names it in its entry.
fn sealed(
    state: &AppState,
    loaded: &Loaded,
    facts: &Facts,
    decision: &Decision,
    mut entry: Entry,
    issued_at: chrono::DateTime<chrono::Utc>,
    about: Option<Value>,
) -> Result<(Sealed, Entry), ApiError> {
    let packet = packet::seal(state, loaded, facts, decision, issued_at, about)?;
    entry.packet_sha256 = Some(format!("sha256:{}", packet.sha));
    if let Value::Object(detail) = &mut entry.detail {
        detail.insert("disclosure_id".into(), json!(packet.disclosure));
    }
    Ok((packet, entry))
}

/// What the e-mail of a stored packet needs: its id, its child and its addressee.
fn waiting(packet: &Sealed) -> Waiting {
    Waiting {
        disclosure_id: packet.disclosure.clone(),
        subject_id: packet.facts.subject.id.clone(),
        recipient_agency: packet.facts.recipient.agency.clone(),
        recipient_role: packet.facts.recipient.role.map(|r| r.to_string()),
    }
}

/// The store step, inside the caller's write action: the packet stored and its entry
/// appended, then the forum's notification stored and its entry, pointing at the first's
/// `audit_seq`, appended; each packet only if the child's facts are still at `loaded`'s
/// version. `None` if they moved: the action may then hold part of the share, and the caller
/// must drop it (which undoes it) rather than finish it.
pub async fn store(
    tx: &mut WriteTx,
    loaded: &Loaded,
    prepared: Prepared,
) -> Result<Option<Stored>, ApiError> {
    let Prepared {
        packet,
        entry,
        forum,
        mut announce,
    } = prepared;
    if !store_if_current(tx.tx(), loaded, &packet).await? {
        return Ok(None);
    }
    let audit_seq = tx.append(entry).await?;
    announce.push(waiting(&packet));
    if let Some((told, mut told_entry)) = forum {
        // same action, same facts_version: stored unless the facts moved, like its parent
        if !store_if_current(tx.tx(), loaded, &told).await? {
            return Ok(None);
        }
        told_entry.detail["notifies"]["audit_seq"] = json!(audit_seq);
        tx.append(told_entry).await?;
        announce.push(waiting(&told));
    }
    // each addressee is told by e-mail once the action has committed, never before
    tx.after_commit(Box::new(move || announce.send()));
    Ok(Some(Stored {
        disclosure_id: packet.disclosure,
        audit_seq,
    }))
}
