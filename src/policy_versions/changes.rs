//! What changed between two versions of the policy, per file: the rows added and removed.
//! Rows are compared as the console shows them (`decision::policy::table_rows`: comments and
//! spacing ignored), as a multiset, so moving a row or rewording a comment changes the version's
//! hash but no row.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::decision::policy::table_rows;

/// One file's changed rows (only files with a row added or removed are listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileChange {
    /// The file's name in the policy directory (`actions.csv`, `timescales/wales.csv`).
    pub file: String,
    /// The rows added, each its fields in the file's column order.
    pub added: Vec<Vec<String>>,
    /// The rows removed.
    pub removed: Vec<Vec<String>>,
}

/// The rows added and removed from `before` to `after`, per file, in file name order.
pub fn between(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> Vec<FileChange> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let rows = |files: &BTreeMap<String, String>| {
                files
                    .get(name)
                    .map(|text| table_rows(name, text))
                    .unwrap_or_default()
            };
            let (old, new) = (rows(before), rows(after));
            let added = missing_from(&old, &new);
            let removed = missing_from(&new, &old);
            (!added.is_empty() || !removed.is_empty()).then(|| FileChange {
                file: name.clone(),
                added,
                removed,
            })
        })
        .collect()
}

/// The rows of `these` not matched by one of `from` (each row of `from` matches once), in
/// the order of `these`.
fn missing_from(from: &[Vec<String>], these: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut left: BTreeMap<&Vec<String>, usize> = BTreeMap::new();
    for row in from {
        *left.entry(row).or_default() += 1;
    }
    these
        .iter()
        .filter(|row| match left.get_mut(row) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect()
    }

    fn row(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|f| f.to_string()).collect()
    }

    #[test]
    fn a_row_added_and_one_removed_are_named_with_their_file() {
        let before = files(&[
            (
                "actions.csv",
                "# who\np, read_audit, *, ig_officer, *, allow\n",
            ),
            ("initiate.csv", "p, dsl, allow\n"),
        ]);
        let after = files(&[
            (
                "actions.csv",
                "# who may\np,read_audit,*,ig_officer,*,allow\np, read_policy, *, ig_officer, *, allow\n",
            ),
            ("initiate.csv", "p, social_worker, allow\n"),
        ]);
        assert_eq!(
            between(&before, &after),
            [
                FileChange {
                    file: "actions.csv".into(),
                    added: vec![row(&["read_policy", "*", "ig_officer", "*", "allow"])],
                    removed: vec![],
                },
                FileChange {
                    file: "initiate.csv".into(),
                    added: vec![row(&["social_worker", "allow"])],
                    removed: vec![row(&["dsl", "allow"])],
                },
            ]
        );
    }

    #[test]
    fn comments_spacing_and_order_change_no_row() {
        let before = files(&[("age_bands.csv", "a, 0, 9\nb, 10, 12\n")]);
        let after = files(&[("age_bands.csv", "# bands\nb,10,12\na, 0, 9 # young\n")]);
        assert!(between(&before, &after).is_empty());
    }

    #[test]
    fn a_duplicate_row_counts_once_each() {
        let after = files(&[("initiate.csv", "p, dsl, allow\np, dsl, allow\n")]);
        let before = files(&[("initiate.csv", "p, dsl, allow\n")]);
        assert_eq!(between(&before, &after)[0].added.len(), 1);
        assert_eq!(between(&after, &before)[0].removed.len(), 1);
        assert_eq!(between(&BTreeMap::new(), &after)[0].added.len(), 2);
    }

    #[test]
    fn a_file_dropped_removes_its_rows() {
        let before = files(&[("thresholds.csv", "red, s47_enquiry\n")]);
        let changes = between(&before, &BTreeMap::new());
        assert_eq!(changes[0].removed, vec![row(&["red", "s47_enquiry"])]);
    }
}
