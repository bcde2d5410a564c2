//! A packet: built from what the decision released of the records as loaded
//! (`store::facts`) and encrypted to its addressee's agency ([`seal`]). Called only by the
//! pipeline ([`super::prepare`]), for a disclosure's or a duty's packet and for the forum's
//! notification alike.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Child;
use crate::db::ts;
use crate::decision::{Decision, Facts};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::facts::Loaded;
use crate::store::packets::Sealed;
use crate::vocab::{Section, View};

/// Builds the packet of `decision` about `loaded`'s records and child for `facts.recipient`
/// (`loaded.facts`, or the forum's notification facts) and encrypts it to that agency.
pub(super) fn seal(
    state: &AppState,
    loaded: &Loaded,
    facts: &Facts,
    decision: &Decision,
    issued_at: chrono::DateTime<chrono::Utc>,
    notifies: Option<Value>,
) -> Result<Sealed, ApiError> {
    // a broker id like every other (`routes::extract::new_id`)
    let disclosure = crate::ids::new_id();
    let plain = packet(
        state,
        loaded,
        facts,
        decision,
        &disclosure,
        issued_at,
        notifies,
    )?;
    let recipient = state
        .agencies
        .get(&facts.recipient.agency)
        .ok_or_else(|| ApiError::internal("the recipient agency is not configured"))?;
    let armored = crate::crypto::encrypt_armored(&recipient.age_recipient, &plain)
        .map_err(ApiError::internal)?;
    Ok(Sealed {
        sha: crate::crypto::sha256_hex(armored.as_bytes()),
        disclosure,
        facts: facts.clone(),
        view: decision.view.unwrap_or(View::Notification),
        issued_at,
        armored,
    })
}

/// The packet's plaintext (API.md, Packets): the child it is about (`child`: name and date of
/// birth, read with the decision's facts), and only the content of the sections released from
/// each record (a record with none released is not even unsealed). `notifies` describes the
/// disclosure a MAPPA notification is about, or the duty a notice tells of; the agencies it
/// names are named for people too (`lead_agency_name`, `to_agency_name`).
fn packet(
    state: &AppState,
    loaded: &Loaded,
    facts: &Facts,
    decision: &Decision,
    disclosure: &str,
    issued_at: chrono::DateTime<chrono::Utc>,
    notifies: Option<Value>,
) -> Result<Vec<u8>, ApiError> {
    let records = &loaded.records;
    let child = Child::unseal(
        state,
        facts.subject.date_of_birth,
        loaded.display_name_enc.as_deref(),
    )?;
    let mut per_record = Vec::with_capacity(records.len());
    for record in records {
        let released = decision
            .released_by_record
            .get(&record.facts.id)
            .map_or(&[][..], Vec::as_slice);
        let mut sections = BTreeMap::new();
        if !released.is_empty() {
            let plain = state
                .at_rest
                .decrypt(&record.content_enc)
                .map_err(ApiError::internal)?;
            let content: BTreeMap<Section, Value> =
                serde_json::from_slice(&plain).map_err(ApiError::internal)?;
            sections = content
                .into_iter()
                .filter(|(s, _)| released.contains(s))
                .collect();
        }
        let withheld: Vec<Section> = record
            .facts
            .sections
            .iter()
            .filter(|s| !sections.contains_key(s))
            .copied()
            .collect();
        per_record.push((record, sections, withheld));
    }
    // a duty's notification about a case names no record
    let (record_id, record_kind, sections, withheld) = match per_record.first() {
        Some((first, s, w)) => (
            json!(first.facts.id),
            json!(first.facts.kind),
            json!(s),
            json!(w),
        ),
        None => (
            Value::Null,
            json!(crate::store::NO_RECORD_KIND),
            json!({}),
            json!([]),
        ),
    };
    let mut body = json!({
        "disclosure_id": disclosure,
        "record_id": record_id,
        "subject_id": facts.subject.id,
        "child": child,
        "record_kind": record_kind,
        "from_agency": facts.requester.agency,
        "to_agency": facts.recipient.agency,
        "to_role": facts.recipient.role,
        "to_sub": facts.recipient.sub,
        "purpose": facts.request.purpose,
        "basis": facts.request.basis,
        "view": decision.view,
        "sections": sections,
        "sections_withheld": withheld,
        "issued_at": ts(issued_at),
        "obligations": decision.obligations,
        "policy_version": decision.policy_version,
    });
    if let Some(mut about) = notifies {
        if let Value::Object(told) = &mut about {
            for key in ["lead_agency", "to_agency"] {
                let name = told
                    .get(key)
                    .and_then(Value::as_str)
                    .and_then(|id| state.agencies.get(id))
                    .map(|a| a.name.clone());
                if let Some(name) = name {
                    told.insert(format!("{key}_name"), json!(name));
                }
            }
        }
        body["notifies"] = about;
    }
    if per_record.len() > 1 {
        body["records"] = per_record
            .iter()
            .map(|(r, s, w)| json!({"record_id": r.facts.id, "record_kind": r.facts.kind, "sections": s, "sections_withheld": w}))
            .collect::<Vec<_>>()
            .into();
    }
    serde_json::to_vec(&body).map_err(ApiError::internal)
}
