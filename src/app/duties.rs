//! Carrying out the duties to notify (`policies/duties.csv`, PROCESS.md) inside the write
//! action of their trigger (a case opened, an event recorded, a record deposited): who is told
//! is planned by `decision::duties::plan`, each notification (or, for a duty marked `+content`,
//! the delivery of the deposited record itself, PROCESS.md P2) is decided by `decide` with the
//! facts read inside the same transaction, a permitted one is sealed to its recipient and
//! stored as a packet, and every one, delivered or denied, gets its audit entry and its row
//! on the case. A denied duty is never dropped. A notice about a child under MAPPA management
//! carries `notify_mappa` like any disclosure on its basis, and the forum is told of it in the
//! same action: the notice goes out through the one sharing pipeline (`share`), as a
//! disclosure does.

use serde_json::{Value, json};

use super::share::{self, entry_for};
use crate::cases::store::{self, Case, Duty as DutyRow};
use crate::db::{now, ts};
use crate::decision::duties::{CaseLead, Known, Planned, Trigger, World, plan};
use crate::decision::{Recipient, RequestFacts, decide};
use crate::error::ApiError;
use crate::identity::Principal;
use crate::on_tx;
use crate::state::AppState;
use crate::store::facts::{self, Ask};
use crate::writer::WriteTx;

/// Where the duties a trigger sets off are listed: on the child's case, or, for a record
/// deposited about a child with no case open (a MERLIN notice before any referral), on the
/// record itself. Either way each is carried out, audited and counted.
pub enum ListedOn<'a> {
    Case(&'a Case),
    Record {
        subject: &'a str,
        record: &'a str,
    },
    /// A meeting of the case scheduled: listed on the case; `invitees` are the duty's
    /// recipients `invitees`, and each notice carries `about` (the meeting) as `meeting`.
    Meeting {
        case: &'a Case,
        invitees: &'a [String],
        about: Value,
    },
}

impl ListedOn<'_> {
    fn subject(&self) -> &str {
        match self {
            ListedOn::Case(case) | ListedOn::Meeting { case, .. } => &case.subject_id,
            ListedOn::Record { subject, .. } => subject,
        }
    }

    fn case(&self) -> Option<&Case> {
        match self {
            ListedOn::Case(case) | ListedOn::Meeting { case, .. } => Some(case),
            ListedOn::Record { .. } => None,
        }
    }
}

/// What the broker knows about the child when a duty falls due, read inside the action.
async fn world(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    on: &ListedOn<'_>,
    record: Option<&str>,
) -> Result<World, ApiError> {
    let subject_role: Option<String> = match record {
        Some(record) => on_tx!(tx, c => sqlx::query_scalar(
            "SELECT subject_role FROM records WHERE id = $1")
            .bind(record)
            .fetch_optional(&mut **c)
            .await?),
        None => None,
    };
    type ChildRow = (
        Option<String>,
        Option<String>,
        Option<String>,
        bool,
        Option<String>,
    );
    let child: Option<ChildRow> = on_tx!(tx, c => sqlx::query_as(
        "SELECT school_agency, local_authority, residence_area, looked_after, placed_by \
         FROM subjects WHERE id = $1")
        .bind(on.subject())
        .fetch_optional(&mut **c)
        .await?);
    let (school, home_area, current_area, looked_after, placed_by) = child.unwrap_or_default();
    let previous: Vec<(String, Option<String>)> = on_tx!(tx, c => sqlx::query_as(
        "SELECT to_agency, MIN(to_role) FROM packets WHERE subject_id = $1 \
         GROUP BY to_agency ORDER BY to_agency")
        .bind(on.subject())
        .fetch_all(&mut **c)
        .await?);
    let mut agencies: Vec<Known> = state
        .agencies
        .values()
        .map(|a| Known {
            agency: a.id.clone(),
            kind: a.kind,
            areas: a.areas.clone(),
        })
        .collect();
    agencies.sort_by(|a, b| a.agency.cmp(&b.agency));
    Ok(World {
        school,
        previous_recipients: previous
            .into_iter()
            .map(|(a, r)| (a, r.and_then(|r| r.parse().ok())))
            .collect(),
        agencies,
        acting_agency: principal.agency.to_string(),
        subject_role: subject_role
            .map(|r| crate::store::term(&r))
            .transpose()
            .map_err(ApiError::internal)?,
        home_area,
        current_area,
        case_lead: on.case().map(|c| CaseLead {
            agency: c.lead_agency.clone(),
            sub: c.lead_sub.clone(),
        }),
        placed_by: placed_by.filter(|_| looked_after),
        // the agencies involved in the case besides its lead (PROCESS.md P3)
        involved: match on.case() {
            Some(case) => crate::cases::involved::of_case_in(tx, &case.id).await?,
            None => Vec::new(),
        },
        invitees: match on {
            ListedOn::Meeting { invitees, .. } => invitees.to_vec(),
            _ => Vec::new(),
        },
    })
}

/// Carries out every duty `trigger` sets off about the child of `on`, about `record` where the
/// trigger has one. Returns the duties as recorded (on the case or on the record).
pub async fn carry_out(
    state: &AppState,
    principal: &Principal,
    tx: &mut WriteTx,
    trigger: Trigger,
    on: ListedOn<'_>,
    record: Option<&str>,
) -> Result<Vec<DutyRow>, ApiError> {
    let policy = state.policy();
    let duties = policy.duties();
    if !duties.iter().any(|d| d.fires_on(trigger)) {
        return Ok(Vec::new());
    }
    let world = world(state, principal, tx, &on, record).await?;
    let mut seq = match &on {
        ListedOn::Case(case) | ListedOn::Meeting { case, .. } => {
            store::next_duty_seq(tx, &case.id).await?
        }
        ListedOn::Record { .. } => 1,
    };
    let case = on.case();
    let mut done = Vec::new();
    for Planned {
        duty,
        agency,
        kind,
        role,
        sub,
    } in plan(duties, trigger, &world)
    {
        let row = duties
            .iter()
            .find(|d| d.duty == duty)
            .expect("planned from these duties");
        let ask = Ask {
            at: now(),
            subject: Some(on.subject().parse().map_err(ApiError::internal)?),
            record_ids: record
                .map(str::parse)
                .transpose()
                .map_err(ApiError::internal)?
                .into_iter()
                .collect(),
            requester: principal.requester(),
            recipient: Recipient {
                agency: agency.clone(),
                agency_kind: kind,
                role,
                sub,
                areas: state.agencies.get(&agency).and_then(|a| a.areas.clone()),
            },
            request: RequestFacts {
                purpose: row.purpose,
                basis: row.basis,
                justification: Some(format!(
                    "duty to notify {duty} ({trigger}), policies/duties.csv"
                )),
                legal_reference: Some(row.legal_reference.clone()),
                mappa_decision_id: None,
                // a concern delivers the record itself, as `decide` releases it to the
                // recipient (`+content` in duties.csv); every other duty only tells of the step
                notification: !row.delivers_record,
                duty: Some(duty.clone()),
            },
        };
        let loaded = facts::load(tx.tx().into(), &state.policy(), ask).await?;
        // the decision's instant is the packet's and the duty row's too
        let at = loaded.facts.at;
        let decision = decide(&state.policy(), &loaded.facts);
        let mut entry = entry_for(principal, "disclosure", &loaded.facts, &decision);
        let about: Value = json!({
            "duty": duty, "trigger": trigger.to_string(), "case_id": case.map(|c| &c.id),
        });
        if let Value::Object(detail) = &mut entry.detail {
            detail.insert("duty".into(), about);
        }
        let (disclosure, audit_seq) = if decision.permitted() {
            // what the recipient is told of the duty: the step and who leads (no one yet, with
            // no case open); a record's content only where the duty delivers it, in the
            // sections the decision released
            let mut notice = json!({
                "duty": duty, "trigger": trigger.to_string(),
                "legal_reference": row.legal_reference,
                "lead_agency": case.map(|c| &c.lead_agency),
                "lead_sub": case.map(|c| &c.lead_sub),
            });
            if let ListedOn::Meeting { about, .. } = &on {
                notice["meeting"] = about.clone();
            }
            // a child under MAPPA: the forum is told of the notice as of any disclosure (RULES 5)
            let prepared = share::prepare(
                state,
                principal,
                &loaded,
                &decision,
                entry,
                at,
                Some(notice),
            )?;
            // the facts were read inside this action and cannot move
            let stored = share::store(tx, &loaded, prepared).await?.ok_or_else(|| {
                ApiError::internal("the child's facts changed inside the write action")
            })?;
            (Some(stored.disclosure_id), stored.audit_seq)
        } else {
            if let Value::Object(detail) = &mut entry.detail {
                detail.insert("disclosure_id".into(), Value::Null);
            }
            (None, tx.append(entry).await?)
        };
        let recorded = DutyRow {
            seq,
            duty: duty.clone(),
            trigger_name: trigger.to_string(),
            recipient_agency: agency,
            decision: if decision.permitted() {
                "permit"
            } else {
                "deny"
            }
            .to_owned(),
            reasons: serde_json::to_string(
                &decision.reasons.iter().map(|r| r.code).collect::<Vec<_>>(),
            )
            .map_err(ApiError::internal)?,
            disclosure_id: disclosure,
            audit_seq: Some(audit_seq),
            created_at: ts(at),
        };
        match &on {
            ListedOn::Case(case) | ListedOn::Meeting { case, .. } => {
                store::insert_duty(tx, &case.id, &case.lead_agency, &recorded).await?;
            }
            ListedOn::Record { subject, record } => {
                store::insert_record_duty(tx, record, subject, &principal.agency, &recorded)
                    .await?;
            }
        }
        // counted once the trigger's action has committed (never for an undone one)
        let metrics = state.metrics.clone();
        let duty_name = duty.clone();
        tx.after_commit(Box::new(move || {
            metrics.decided(crate::metrics::Decided::Duty, &decision);
            metrics.duty(&duty_name, decision.permitted());
        }));
        done.push(recorded);
        seq += 1;
    }
    Ok(done)
}
