//! The policy page's words: what each policy file is about, its columns as headings, and each
//! cell and changed row in plain English, built on the one table of labels (`labels.rs`), so
//! the page shows the rules as tables a person reads rather than casbin rows.

use std::borrow::Cow;

use super::labels::{self, humanise};
use crate::vocab::{
    AgencyKind, Basis, EventKind, Giver, Purpose, RecordKind, Role, Section, SubjectRole, View,
};

/// What a policy file decides, as the caption of its table.
pub fn title(file: &str) -> String {
    let stem = file.strip_suffix(".csv").unwrap_or(file);
    let known = match stem {
        "actions" => "Who may do each action",
        "deposit" => "Who may deposit each kind of record",
        "initiate" => "Roles that may share records",
        "overrides" => "Who may share without consent, on each basis",
        "basis_requirements" => "What each basis for sharing requires",
        "consent_givers" => "Who may consent for a child, by age and competence",
        "age_restrictions" => "Purposes restricted by the child's age",
        "purposes" => "Purposes each kind of agency may receive information for",
        "bases" => "Bases for sharing between kinds of agency",
        "sections" => "Sections each recipient may receive, by purpose",
        "views" => "Views each recipient may be given",
        "view_sections" => "Sections in each view",
        "recipient_requirements" => "What a recipient must be",
        "record_controls" => "Kinds of record with a chair's control",
        "third_party" => "Sections about another child, withheld on some bases",
        "mappa_bases" => "Bases for sharing about a child under MAPPA management",
        "ownership" => "What a record's owner may do",
        "outside_area" => "Sharing with an agency outside the child's area",
        "duty_roles" => "Duties carried out for roles that may not share",
        "duties" => "Duties to notify",
        "age_bands" => "Age bands",
        "parameters" => "Numbers the rules use",
        "thresholds" => "Routes each screening level permits",
        "timescales" => "Timescales of a case's clocks",
        "bank_holidays" => "Bank holidays",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_owned();
    }
    match stem.strip_prefix("timescales/") {
        Some(profile) => format!(
            "Timescales of a case's clocks ({} profile)",
            humanise(profile)
        ),
        None => humanise(stem),
    }
}

/// A column's heading.
pub fn heading(column: &str) -> String {
    let known = match column {
        "action" => "Action",
        "agency_kind" => "Kind of agency",
        "role" => "Role",
        "relation" => "Only where",
        "effect" => "Effect",
        "record_kind" => "Kind of record",
        "basis" => "Basis for sharing",
        "requirement" => "Requirement",
        "age_band" | "band" => "Age band",
        "gillick" => "Gillick competence",
        "capacity" => "Mental capacity",
        "giver" => "Consent given by",
        "purpose" => "Purpose",
        "subject_role" => "The child's part in the record",
        "recipient_kind" => "Kind of recipient agency",
        "requester_kind" => "Kind of sharing agency",
        "recipient_role" => "Recipient's role",
        "section" => "Section",
        "view" => "View",
        "control" => "Control",
        "consequence" => "Under MAPPA",
        "act" => "Act",
        "tie" => "Tie to the child",
        "duty" => "Duty",
        "min_age" => "From age",
        "max_age" => "To age",
        "date" => "Date",
        "name" => "Name",
        "value" => "Value",
        "level" => "Screening level",
        "permits" => "Routes permitted",
        "clock" => "Clock",
        "start" => "Starts at",
        "stop" => "Stops at",
        "amount" => "Within",
        "unit" => "Unit",
        "applies" => "Applies",
        "then" => "Then repeats every",
        "trigger" => "Set off by",
        "recipients" => "Who is told",
        "legal_reference" => "Legal reference",
        _ => "",
    };
    if known.is_empty() {
        humanise(column)
    } else {
        known.to_owned()
    }
}

/// A cell of `column`, in words.
pub fn cell(column: &str, value: &str) -> Cow<'static, str> {
    if value == "*" {
        return if column == "relation" {
            "No condition"
        } else {
            "Any"
        }
        .into();
    }
    match column {
        "effect" => match value {
            "allow" => "Allowed".into(),
            "deny" => "Refused".into(),
            other => code_words(other).into(),
        },
        "role" | "recipient_role" => labels::of::<Role>(value),
        "agency_kind" | "recipient_kind" | "requester_kind" => labels::of::<AgencyKind>(value),
        "record_kind" => labels::of::<RecordKind>(value),
        "basis" => labels::of::<Basis>(value),
        "section" => labels::of::<Section>(value),
        "purpose" => labels::of::<Purpose>(value),
        "view" => labels::of::<View>(value),
        "giver" => labels::of::<Giver>(value),
        "subject_role" => labels::of::<SubjectRole>(value),
        "start" | "stop" => labels::of::<EventKind>(value),
        "duty" => labels::duty(value),
        "clock" => labels::clock(value),
        "relation" => relation(value).map_or_else(|| code_words(value).into(), Cow::Borrowed),
        _ => code_words(value).into(),
    }
}

/// A relation an `actions.csv` row requires, as who the caller must be.
fn relation(code: &str) -> Option<&'static str> {
    Some(match code {
        "none" => "No condition",
        "childs_school" => "The caller's agency is the child's school",
        "chair" => "The caller chaired the meeting",
        "owner" => "The caller's agency owns the record",
        "lead_agency" => "The caller's agency leads the case",
        "knows_child" => "The caller's agency knows the child",
        "transfer_to" => "The case is being transferred to the caller's agency",
        "former_lead" => "The caller's agency led the case before a transfer",
        "childs_area" => "The caller's agency serves the child's area",
        "involved_agency" => "The caller's agency is involved in the case",
        "placing_authority" => "The caller's agency placed the child",
        "action_owner" => "The caller's agency owns the action",
        "request_to" => "The request is addressed to the caller's agency",
        _ => return None,
    })
}

/// A value that is a code (lower case, no spaces) in words, alternatives joined by "or"; any
/// other value (a number, a date, a legal reference) as it is.
fn code_words(value: &str) -> String {
    let is_code = value.chars().any(|c| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_:|.-+@".contains(c));
    if !is_code || value.starts_with(|c: char| c.is_ascii_digit()) {
        return value.to_owned();
    }
    value
        .split('|')
        .map(|part| humanise(&part.replace(['+', '@'], " ")))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// A row of a file in words, each cell after its heading: "Action: Read policy; Kind of
/// agency: Any; ...". Fields beyond the columns (free text with commas) go with the last.
pub fn row(columns: &[String], fields: &[String]) -> String {
    cells(columns, fields)
        .into_iter()
        .map(|(heading, value)| format!("{heading}: {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A row's cells in words, with their headings (as many as the file has columns; a file that
/// names none gets "Column 1", ...).
pub fn cells(columns: &[String], fields: &[String]) -> Vec<(String, String)> {
    let width = if columns.is_empty() {
        fields.len()
    } else {
        columns.len()
    };
    let mut out = Vec::with_capacity(width);
    for i in 0..width.min(fields.len()) {
        let value = if i + 1 == width && fields.len() > width {
            fields[i..].join(", ")
        } else {
            fields[i].clone()
        };
        let (heading, value) = match columns.get(i) {
            Some(column) => (heading(column), cell(column, &value).into_owned()),
            None => (format!("Column {}", i + 1), code_words(&value)),
        };
        out.push((heading, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_actions_row_reads_as_words() {
        let columns = strings(&["action", "agency_kind", "role", "relation", "effect"]);
        let fields = strings(&["read_policy", "*", "ig_officer", "*", "allow"]);
        let words = row(&columns, &fields);
        assert_eq!(
            words,
            format!(
                "Action: Read policy; Kind of agency: Any; Role: {}; Only where: No condition; Effect: Allowed",
                labels::of::<Role>("ig_officer")
            )
        );
        assert!(!words.contains('_'), "{words}");
    }

    #[test]
    fn numbers_dates_and_references_stay_as_they_are_and_codes_become_words() {
        assert_eq!(cell("amount", "48"), "48");
        assert_eq!(cell("date", "2026-12-25"), "2026-12-25");
        assert_eq!(
            cell("legal_reference", "Children Act 1989 s.47"),
            "Children Act 1989 s.47"
        );
        assert_eq!(
            cell("permits", "s47_enquiry|single_assessment"),
            "S47 enquiry or Single assessment"
        );
        assert_eq!(
            cell("relation", "lead_agency"),
            "The caller's agency leads the case"
        );
    }

    #[test]
    fn extra_fields_join_the_last_column() {
        let columns = strings(&["duty", "legal_reference"]);
        let fields = strings(&["court_decision", "Children Act 1989", "s.47"]);
        let c = cells(&columns, &fields);
        assert_eq!(c[1].1, "Children Act 1989, s.47");
    }

    #[test]
    fn every_file_of_the_shipped_policy_has_a_title_in_words() {
        for (name, _) in crate::decision::policy::EMBEDDED {
            if name.ends_with(".csv") {
                let t = title(name);
                assert!(!t.contains('_') && !t.contains(".csv"), "{name}: {t}");
            }
        }
    }
}
