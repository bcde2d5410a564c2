//! Places (PROCESS.md, Places; RULES 10): the partnership's areas, a child's home area (the
//! local authority responsible for it, given when it is registered) and where it lives, whether
//! it is looked after and which agency placed it (`PUT /v1/subjects/{id}/residence`). The
//! home area and the area the child lives in are facts of every decision (RULES 10.1) and
//! decide which agency of a kind a duty reaches (`decision::duties`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{Relation, may_as, may_somewhere, not_permitted};
use crate::audit::Entry;
use crate::config::AreaConfig;
use crate::error::ApiError;
use crate::identity::Principal;
use crate::ids::{AgencyId, SubjectId};
use crate::on_tx;
use crate::state::AppState;
use crate::vocab::{Action, AgencyKind};

/// The configured areas (none: the partnership is one area).
pub fn areas(state: &AppState) -> &[AreaConfig] {
    &state.config.areas
}

/// An area's name, or its id if it is not configured.
pub fn area_name<'a>(state: &'a AppState, id: &'a str) -> &'a str {
    areas(state)
        .iter()
        .find(|a| a.id == id)
        .map_or(id, |a| a.name.as_str())
}

/// 422 `unknown_area` naming `field` and listing the areas.
fn unknown_area(state: &AppState, field: &str, what: impl std::fmt::Display) -> ApiError {
    let known: Vec<String> = areas(state)
        .iter()
        .map(|a| format!("{} ({})", a.id, a.name))
        .collect();
    ApiError::invalid(
        "unknown_area",
        format!(
            "{field}: {what}; the partnership's areas are {}",
            if known.is_empty() {
                "not configured (it is one area)".to_owned()
            } else {
                known.join(", ")
            }
        ),
    )
}

/// An area asked for by id (a filter, `?area=`): the id when it is configured; otherwise 422
/// `unknown_area` naming `field` (with no areas configured, every id is unknown).
pub fn known_area(state: &AppState, field: &str, id: &str) -> Result<String, ApiError> {
    if areas(state).iter().any(|a| a.id == id) {
        Ok(id.to_owned())
    } else {
        Err(unknown_area(
            state,
            field,
            format!("no area \"{}\"", crate::text::escape(id)),
        ))
    }
}

/// The home area of a child being registered: with areas configured, `local_authority` must
/// name one; left out, it is the registering agency's area when that agency serves exactly
/// one (a council's own services, a school), and otherwise refused, because an agency that
/// serves every area (a police force, a health board) knows the child's council and the
/// broker cannot guess it. With no areas configured, `local_authority` is free text as
/// before.
pub fn home_area(
    state: &AppState,
    principal: &Principal,
    local_authority: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if areas(state).is_empty() {
        return Ok(local_authority.map(str::to_owned));
    }
    match local_authority {
        Some(id) => known_area(state, "local_authority", id).map(Some),
        None => match state
            .agencies
            .get(&*principal.agency)
            .and_then(|a| a.areas.as_deref())
        {
            Some([only]) => Ok(Some(only.clone())),
            _ => Err(unknown_area(
                state,
                "local_authority",
                "name the child's home area (the local authority responsible for the child): \
                 your agency serves more than one area",
            )),
        },
    }
}

/// Where a child lives (`PUT /v1/subjects/{id}/residence`). `area` must be present; `null`
/// means the child lives in its home area.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResidence {
    #[serde(deserialize_with = "super::present_or_null")]
    #[schemars(required, extend("type" = ["string", "null"]))]
    pub area: Option<String>,
    /// Looked after by a local authority (Children Act 1989 s.22).
    pub looked_after: bool,
    /// The children's social care agency that placed a looked-after child (its home authority).
    #[serde(default)]
    pub placed_by: Option<AgencyId>,
}

/// Where the child lives from now on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
pub struct Residence {
    /// The area it lives in when that is not its home area; null: its home area.
    pub area: Option<String>,
    pub looked_after: bool,
    pub placed_by: Option<String>,
}

/// The residence recorded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResidenceSet {
    pub subject_id: SubjectId,
    pub home_area: Option<String>,
    pub residence: Residence,
    pub previous: Residence,
    pub audit_seq: i64,
}

/// Does the caller's agency serve one of the child's areas (its home area, or `current`)?
pub fn childs_area(
    state: &AppState,
    principal: &Principal,
    home: Option<&str>,
    current: Option<&str>,
) -> Relation {
    let Some(agency) = state.agencies.get(&*principal.agency) else {
        return Relation::None;
    };
    let serves = match &agency.areas {
        None => true,
        Some(_) => [home, current]
            .into_iter()
            .flatten()
            .any(|a| agency.serves(a)),
    };
    if serves {
        Relation::ChildsArea
    } else {
        Relation::None
    }
}

/// Records where the child lives, as `record_residence` rows allow with the relation
/// `childs_area` (children's social care of the child's home area or of the area it lives in,
/// judged on the residence before the change, read inside the write action); anyone else of a
/// kind and role the rows allow is answered 404 as for an unknown child. Audited as
/// `subject.residence` with the old and new residence; from the commit on, decisions and duties
/// use it.
pub async fn set_residence(
    state: &AppState,
    principal: &Principal,
    subject: SubjectId,
    body: NewResidence,
) -> Result<ResidenceSet, ApiError> {
    if !may_somewhere(state, principal, Action::RecordResidence) {
        return Err(not_permitted(principal, Action::RecordResidence));
    }
    if let Some(area) = &body.area {
        known_area(state, "area", area)?;
    }
    if let Some(placed_by) = &body.placed_by {
        if !body.looked_after {
            return Err(ApiError::invalid_field(
                "placed_by",
                "is given only for a child looked after by a local authority",
            ));
        }
        if state.configured_agency("placed_by", placed_by)?.kind != AgencyKind::ChildrenSocialCare {
            return Err(ApiError::invalid_field(
                "placed_by",
                format!("\"{placed_by}\" is not a children's social care agency"),
            ));
        }
    }
    let mut tx = state.writer.begin().await?;
    type Row = (Option<String>, Option<String>, bool, Option<String>);
    let row: Option<Row> = on_tx!(&mut tx, c => sqlx::query_as(
        "SELECT local_authority, residence_area, looked_after, placed_by FROM subjects WHERE id = $1")
        .bind(&subject)
        .fetch_optional(&mut **c)
        .await?);
    // a child of no area the caller serves is answered as an unknown one: the refusal must not
    // tell another council that the child exists, nor where it lives
    let hidden = || {
        ApiError::not_found(format!(
            "no subject {subject} of an area your agency serves"
        ))
    };
    let Some((home, area, looked_after, placed_by)) = row else {
        return Err(hidden());
    };
    let relation = childs_area(state, principal, home.as_deref(), area.as_deref());
    if !may_as(state, principal, Action::RecordResidence, relation) {
        return Err(hidden());
    }
    let previous = Residence {
        area,
        looked_after,
        placed_by,
    };
    // living in the home area is no residence elsewhere
    let residence = Residence {
        area: body.area.filter(|a| Some(a) != home.as_ref()),
        looked_after: body.looked_after,
        placed_by: body.placed_by.map(String::from),
    };
    on_tx!(&mut tx, c => sqlx::query(
        "UPDATE subjects SET residence_area = $1, looked_after = $2, placed_by = $3 WHERE id = $4")
        .bind(&residence.area)
        .bind(residence.looked_after)
        .bind(&residence.placed_by)
        .bind(&subject)
        .execute(&mut **c)
        .await
        .map(drop)
        .map_err(ApiError::from)?);
    // the placing authority of a looked-after child becomes involved in the open cases another
    // agency leads (PROCESS.md P3)
    let involved_in = match residence
        .placed_by
        .as_deref()
        .filter(|_| residence.looked_after)
    {
        Some(placing) => {
            crate::cases::involved::involve_in_open_cases(&mut tx, &subject, placing).await?
        }
        None => Vec::new(),
    };
    let seq = tx
        .commit(
            Entry::new(principal, "subject.residence")
                .subject(&subject)
                .detail(
                    json!({"from": previous, "to": residence, "involved_in_cases": involved_in}),
                ),
        )
        .await?;
    Ok(ResidenceSet {
        subject_id: subject,
        home_area: home,
        residence,
        previous,
        audit_seq: seq,
    })
}
