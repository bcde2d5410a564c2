//! Places on the console's pages (PROCESS.md, Places): the partnership's areas and its
//! children's social care agencies by name for the forms' selects, and where a child lives in
//! plain English ("Lives in Southshire, looked after, placed by Northshire Children's Social
//! Care").

use super::labels::Choice;
use crate::app::places::{Residence, area_name, areas};
use crate::state::AppState;
use crate::vocab::AgencyKind;

/// The configured areas by name (none: the partnership is one area).
pub fn area_choices(state: &AppState) -> Vec<Choice> {
    areas(state)
        .iter()
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect()
}

/// The value of the residence form's area select that means "its home area" (null `area`).
pub const HOME: &str = "home";
/// The value of the placed-by select that means "not placed by a council here" (no `placed_by`).
pub const NOBODY: &str = "none";

/// Where the child may live: its home area first, then every other area by name.
pub fn residence_choices(state: &AppState, home: Option<&str>) -> Vec<Choice> {
    let mut out = vec![Choice::new(
        HOME,
        match home {
            Some(h) => format!("{} (its home area)", area_name(state, h)),
            None => "Its home area".to_owned(),
        },
    )];
    out.extend(
        area_choices(state)
            .into_iter()
            .filter(|c| Some(c.value.as_str()) != home),
    );
    out
}

/// The configured agencies of `kind` by name.
pub fn agencies_of(state: &AppState, kind: AgencyKind) -> Vec<Choice> {
    let mut out: Vec<Choice> = state
        .agencies
        .values()
        .filter(|a| a.kind == kind)
        .map(|a| Choice::new(a.id.clone(), a.name.clone()))
        .collect();
    out.sort_by(|a, b| a.label.cmp(&b.label));
    out
}

/// The children's social care agencies by name: who may have placed a looked-after child.
pub fn placing_choices(state: &AppState) -> Vec<Choice> {
    let mut out = agencies_of(state, AgencyKind::ChildrenSocialCare);
    out.push(Choice::new(NOBODY, "Not recorded"));
    out
}

/// The home area by name ("" when none is recorded).
pub fn home_text(state: &AppState, home: Option<&str>) -> String {
    home.map(|h| area_name(state, h).to_owned())
        .unwrap_or_default()
}

/// Where the child lives, in words.
pub fn lives(state: &AppState, home: Option<&str>, r: &Residence) -> String {
    let area = match (r.area.as_deref(), home) {
        (Some(a), _) => format!("Lives in {}", area_name(state, a)),
        (None, Some(h)) => format!("Lives in {}, its home area", area_name(state, h)),
        (None, None) => "Lives in its home area".to_owned(),
    };
    if !r.looked_after {
        return format!("{area}, not looked after");
    }
    match r.placed_by.as_deref() {
        Some(by) => format!(
            "{area}, looked after, placed by {}",
            state
                .agencies
                .get(by)
                .map_or_else(|| super::labels::humanise(by), |a| a.name.clone())
        ),
        None => format!("{area}, looked after"),
    }
}
