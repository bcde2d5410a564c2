//! The modules of `src/` only point down: no module reaches, through `crate::` paths (or the
//! `with_db!` / `on_tx!` macros of `db`), a module that reaches it back. Each top-level module
//! is one node; the route modules (`routes/*.rs`), which compose the layers below them, are a
//! node each, so a route module that doubles back through another is caught too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The node a source file belongs to: `routes::<file>` for route modules, `routes` for the
/// route table (`routes/mod.rs`, which names every route module by its bare name, so those
/// edges are not read: the table is the top of the routes layer), else the top-level module
/// (`audit/verify.rs` is `audit`).
fn node(rel: &Path) -> Option<String> {
    let parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [one] if one == "lib" || one == "main" => None,
        [one] => Some(one.clone()),
        [dir, file] if dir == "routes" && file != "mod" => Some(format!("routes::{file}")),
        [dir, ..] => Some(dir.clone()),
        [] => None,
    }
}

/// What a file's code names: `crate::x` (and `crate::routes::y`), `super::y` inside routes.
fn targets(from: &str, text: &str) -> BTreeSet<String> {
    // a file's own unit tests may reach anything
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let word = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with('$') {
            continue;
        }
        let first = word(&code[i + 7..]);
        if first == "routes" {
            // a route module by name, or the route table's items (`routes::router`)
            let sub = code[i + 7 + first.len()..]
                .strip_prefix("::")
                .map(word)
                .unwrap_or_default();
            let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("src/routes/{sub}.rs"));
            if !sub.is_empty() && file.exists() {
                out.insert(format!("routes::{sub}"));
            } else {
                out.insert("routes".to_owned());
            }
        } else if first == "on_tx" || first == "with_db" {
            // the database macros live in db
            out.insert("db".to_owned());
        } else if !first.is_empty() {
            out.insert(first);
        }
    }
    if from.starts_with("routes::") {
        for (i, _) in code.match_indices("super::") {
            let sub = word(&code[i + 7..]);
            if !sub.is_empty() {
                out.insert(format!("routes::{sub}"));
            }
        }
    }
    if code.contains("on_tx!") || code.contains("with_db!") {
        out.insert("db".to_owned());
    }
    out.remove(from);
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("reading src/") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src/");
            let Some(from) = node(rel) else { continue };
            let text = std::fs::read_to_string(&path).expect("reading a source file");
            let to = targets(&from, &text);
            graph.entry(from).or_default().extend(to);
        }
    }
    graph
}

/// A cycle in `graph`, if any (depth-first).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        at: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == at) {
            let mut found = path[i..].to_vec();
            found.push(at.to_owned());
            return Some(found);
        }
        if done.contains(at) {
            return None;
        }
        path.push(at.to_owned());
        for next in graph.get(at).into_iter().flatten() {
            if let Some(c) = visit(graph, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(at.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(graph, start, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_of_src_depends_on_a_module_that_depends_on_it() {
    let graph = graph();
    for (from, to) in &graph {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(
        graph.contains_key("writer") && graph.contains_key("routes::disclosures"),
        "the graph was not read: {graph:?}"
    );
    if let Some(c) = cycle(&graph) {
        panic!("an import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn the_checker_finds_a_cycle_when_there_is_one() {
    let mut graph = BTreeMap::new();
    graph.insert("db".to_owned(), BTreeSet::from(["writer".to_owned()]));
    graph.insert("writer".to_owned(), BTreeSet::from(["db".to_owned()]));
    graph.insert("audit".to_owned(), BTreeSet::from(["db".to_owned()]));
    assert_eq!(
        cycle(&graph),
        Some(vec!["db".to_owned(), "writer".to_owned(), "db".to_owned()])
    );
    graph.get_mut("writer").unwrap().clear();
    assert_eq!(cycle(&graph), None);
    assert_eq!(
        targets(
            "routes::a",
            "use super::b;\nuse crate::db::Tx;\nfn f() { $crate::x }"
        ),
        BTreeSet::from(["routes::b".to_owned(), "db".to_owned()])
    );
}
