//! The policy page (`/ui/policy`): the version this process decides with (its number, a
//! short hash, when and by whom it was brought into force), the history of versions with the
//! rows each added and removed in words, and every rule file as a table with plain-English
//! headings and cells (`policy_words.rs`). It calls `app::policy::in_force` and
//! `app::policy::versions`, as `GET /v1/policy` and `GET /v1/policy/versions` do, so it shows
//! what the API gives the same person (`read_policy`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;

use super::policy_words::{cells, heading, row, title};
use super::session::Session;
use super::time::uk;
use super::view::{Frame, PageResult, page, refused};
use crate::app::policy::{self as app, PolicyFile};
use crate::policy_versions::Version;
use crate::state::AppState;

/// A version as the page names it.
struct Named {
    number: i64,
    /// `sha256:` and the first 12 hex digits.
    short: String,
    /// The whole version, for scripts and tests (`data-version`).
    version: String,
    when: String,
    by: String,
    /// The timescales in force, in words.
    timescales: String,
}

impl Named {
    fn of(v: &Version) -> Named {
        Named {
            number: v.number,
            short: short(&v.version),
            version: v.version.clone(),
            when: uk(&v.loaded_at),
            by: v.loaded_by.clone(),
            timescales: match &v.profile {
                None => "The partnership's own (timescales.csv)".to_owned(),
                Some(p) => format!("The {} profile", super::labels::humanise(p)),
            },
        }
    }
}

fn short(version: &str) -> String {
    match version.strip_prefix("sha256:") {
        Some(hex) => format!("sha256:{}", &hex[..hex.len().min(12)]),
        None => version.to_owned(),
    }
}

/// One version of the history.
struct Past {
    named: Named,
    /// "2 rows added and 1 removed in 2 files", or that no rule changed.
    summary: String,
    files: Vec<Changed>,
}

/// A file's changed rows, in words.
struct Changed {
    file: String,
    title: String,
    added: Vec<String>,
    removed: Vec<String>,
}

/// A rule file as a table.
struct Table {
    id: String,
    file: String,
    title: String,
    headings: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn of(f: &PolicyFile) -> Table {
        let stem = f.name.strip_suffix(".csv").unwrap_or(&f.name);
        let rows: Vec<Vec<String>> = f
            .rows
            .iter()
            .map(|r| cells(&f.columns, r).into_iter().map(|(_, v)| v).collect())
            .collect();
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let headings = (0..width)
            .map(|i| {
                f.columns
                    .get(i)
                    .map_or_else(|| format!("Column {}", i + 1), |c| heading(c))
            })
            .collect();
        Table {
            id: format!("family-{}", stem.replace('/', "-")),
            file: f.name.clone(),
            title: title(&f.name),
            headings,
            rows,
        }
    }
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    frame: Frame,
    current: Named,
    /// The newest version in the database, when this process has not yet swapped to it.
    newer: Option<i64>,
    history: Vec<Past>,
    tables: Vec<Table>,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The policy in force, its history and its rules (`read_policy`).
pub async fn show(State(state): State<AppState>, session: Session) -> PageResult {
    let current = app::in_force(&state, &session.principal)
        .await
        .map_err(refused)?;
    let versions = app::versions(&state, &session.principal)
        .await
        .map_err(refused)?;
    let columns_of = |file: &str| {
        current
            .files
            .iter()
            .find(|f| f.name == file)
            .map(|f| f.columns.clone())
            .unwrap_or_default()
    };
    let history = versions
        .versions
        .iter()
        .map(|v| {
            let added: usize = v.changes.iter().map(|c| c.added.len()).sum();
            let removed: usize = v.changes.iter().map(|c| c.removed.len()).sum();
            let summary = if v.number == 1 {
                "The first version recorded, so there is nothing to compare it with".to_owned()
            } else if v.changes.is_empty() {
                "No rule changed (only comments, spacing or order)".to_owned()
            } else {
                format!(
                    "{} added and {} removed in {}",
                    plural(added, "row", "rows"),
                    removed,
                    plural(v.changes.len(), "file", "files")
                )
            };
            let files = v
                .changes
                .iter()
                .map(|c| {
                    let columns = columns_of(&c.file);
                    Changed {
                        file: c.file.clone(),
                        title: title(&c.file),
                        added: c.added.iter().map(|r| row(&columns, r)).collect(),
                        removed: c.removed.iter().map(|r| row(&columns, r)).collect(),
                    }
                })
                .collect();
            Past {
                named: Named::of(v),
                summary,
                files,
            }
        })
        .collect();
    let running = Version {
        number: current.number,
        version: current.version.clone(),
        profile: current.profile.clone(),
        loaded_by: current.loaded_by.clone(),
        loaded_at: current.loaded_at,
        audit_seq: current.audit_seq,
        changes: Vec::new(),
    };
    Ok(page(
        StatusCode::OK,
        &PolicyPage {
            frame: Frame::of(&session, "Policy"),
            current: Named::of(&running),
            newer: (current.newest_number > current.number).then_some(current.newest_number),
            history,
            tables: current.files.iter().map(Table::of).collect(),
        },
    ))
}
