//! The modules of `src/` point only down the layer list of ARCHITECTURE.md ("## Layers"): a
//! module that names, through `crate::` paths (or the `with_db!` / `on_tx!` macros of `db`), a
//! module listed in a later (higher) layer fails, as does a module the list does not place.
//! Each top-level module is one node; the route modules (`routes/*.rs`), which compose the
//! layers below them, are a node each. Inside a folder, the files are nodes too, and a
//! `super::` path (or a `crate::` path into the same folder) between siblings is an edge: no
//! circle may close among them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's own code: its unit tests (after `#[cfg(test)]`) may reach anything.
fn code(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

fn word(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The paths after each `prefix` (`crate::`, `super::`) in `code`, as their segments, with a
/// `{a, b::c}` group expanded one level (`prefix::{a, b::c}` is `a` and `b::c`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i].ends_with('$') || code[..i].ends_with("::") {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let heads: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group.split(',').map(str::trim).collect()
            }
            None => vec![rest],
        };
        for head in heads {
            let mut segments = Vec::new();
            let mut at = head;
            loop {
                let w = word(at);
                if w.is_empty() {
                    break;
                }
                at = &at[w.len()..];
                segments.push(w);
                match at.strip_prefix("::") {
                    Some(next) => at = next,
                    None => break,
                }
            }
            if !segments.is_empty() {
                out.push(segments);
            }
        }
    }
    out
}

/// Every source file of `src/` with its module path (`audit/verify/mod.rs` is
/// `["audit", "verify"]`), `lib.rs` and `main.rs` left out.
fn files() -> Vec<(Vec<String>, String)> {
    let root = src();
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
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
            let rel = path.strip_prefix(&root).expect("under src/");
            let mut module: Vec<String> = rel
                .with_extension("")
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod") {
                module.pop();
            }
            if module == ["lib"] || module == ["main"] {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("reading a source file");
            out.push((module, text));
        }
    }
    out
}

/// The layer node of a module: `routes::<file>` for a route module, `routes` for the route
/// table (`routes/mod.rs`, which names every route module by its bare name, so those edges
/// are not read: the table is the top of the routes layer), else the top-level module.
fn node(module: &[String]) -> String {
    match module {
        [dir, file, ..] if dir == "routes" => format!("routes::{file}"),
        [top, ..] => top.clone(),
        [] => unreachable!("lib.rs is left out"),
    }
}

/// The layer graph: what each node's code names through `crate::` paths and the `db` macros,
/// and (inside routes) `super::` paths to other route modules.
fn graph() -> Graph {
    let modules: BTreeSet<Vec<String>> = files().into_iter().map(|(m, _)| m).collect();
    let mut graph = Graph::new();
    for (module, text) in files() {
        let from = node(&module);
        let code = code(&text);
        let mut to = BTreeSet::new();
        for path in paths_after(code, "crate::") {
            match path[0].as_str() {
                "on_tx" | "with_db" => {
                    to.insert("db".to_owned());
                }
                "routes" => {
                    let known = path
                        .get(1)
                        .filter(|sub| modules.contains(&vec!["routes".to_owned(), (*sub).clone()]));
                    to.insert(match known {
                        Some(sub) => format!("routes::{sub}"),
                        None => "routes".to_owned(),
                    });
                }
                top => {
                    to.insert(top.to_owned());
                }
            }
        }
        if from.starts_with("routes::") {
            for path in paths_after(code, "super::") {
                if modules.contains(&vec!["routes".to_owned(), path[0].clone()]) {
                    to.insert(format!("routes::{}", path[0]));
                }
            }
        }
        if code.contains("on_tx!") || code.contains("with_db!") {
            to.insert("db".to_owned());
        }
        to.remove(&from);
        graph.entry(from).or_default().extend(to);
    }
    graph
}

/// The edges between sibling modules inside each folder: `super::x` (or `crate::dir::x`) in
/// a module of `dir` names the sibling `dir::x`. A path to the folder's own `mod.rs` (an item
/// of `dir`, not a sibling) is no edge, nor is the folder's `mod.rs` naming its children.
fn sibling_graph() -> Graph {
    let modules: BTreeSet<Vec<String>> = files().into_iter().map(|(m, _)| m).collect();
    let mut graph = Graph::new();
    for (module, text) in files() {
        let Some((_, parent)) = module.split_last() else {
            continue;
        };
        if parent.is_empty() {
            continue;
        }
        let code = code(&text);
        let mut named: Vec<Vec<String>> = paths_after(code, "super::")
            .into_iter()
            .map(|p| parent.iter().cloned().chain(p).collect())
            .collect();
        named.extend(paths_after(code, "crate::"));
        for target in named {
            // the deepest module the path names
            let Some(target) = (1..=target.len())
                .rev()
                .map(|n| target[..n].to_vec())
                .find(|m| modules.contains(m))
            else {
                continue;
            };
            // the two siblings under the folder they share
            let shared = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == 0 || shared >= module.len() || shared >= target.len() {
                continue;
            }
            let from = module[..=shared].join("::");
            let to = target[..=shared].join("::");
            graph.entry(from).or_default().insert(to);
        }
    }
    graph
}

/// A cycle in `graph`, if any (depth-first).
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
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

/// The layers of the "## Layers" code block of `doc`, lowest first: each line's names (up to
/// the first run of two spaces) are one layer, `a → b` is two (`a` below `b`), `x::{a, b}` is
/// `x::a` and `x::b` (a group may run over lines), and `(...)` is a remark.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let section = doc
        .split("\n## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Layers\" section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the Layers section has a code block");
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut open = String::new();
    for line in block.lines().skip(1) {
        let continues = !open.is_empty();
        if line.starts_with(char::is_whitespace) && !continues {
            continue; // a description running over
        }
        let names = line.trim_start();
        let names = names[..names.find("  ").unwrap_or(names.len())].trim();
        open.push_str(names);
        if open.matches('{').count() > open.matches('}').count() {
            open.push(' ');
            continue;
        }
        let text = std::mem::take(&mut open);
        for layer in text.split('→') {
            let mut nodes = Vec::new();
            let mut rest = layer.trim();
            while !rest.is_empty() {
                let comma = rest.find(',');
                let group = rest.find('{').filter(|&b| comma.is_none_or(|c| b < c));
                let (item, after) = match (group, comma) {
                    (Some(_), _) => {
                        let end = rest.find('}').expect("a closed group");
                        (&rest[..=end], &rest[end + 1..])
                    }
                    (None, Some(c)) => (&rest[..c], &rest[c + 1..]),
                    (None, None) => (rest, ""),
                };
                let item = item.split('(').next().unwrap_or(item).trim();
                match item.split_once("::{") {
                    Some((prefix, group)) => nodes.extend(
                        group
                            .trim_end_matches('}')
                            .split(',')
                            .map(|n| format!("{prefix}::{}", n.trim())),
                    ),
                    None if !item.is_empty() => nodes.push(item.to_owned()),
                    None => {}
                }
                rest = after.trim_start_matches(',').trim();
            }
            if !nodes.is_empty() {
                out.push(nodes);
            }
        }
    }
    out
}

/// Every edge of `graph` that points up `layers` (from a node to one of a later layer), and
/// every node `layers` does not place.
fn violations(graph: &Graph, layers: &[Vec<String>]) -> Vec<String> {
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, names)| names.iter().map(move |n| (n.as_str(), i)))
        .collect();
    let mut out = Vec::new();
    for (from, to) in graph {
        let Some(&low) = level.get(from.as_str()) else {
            out.push(format!("{from} is in no layer of ARCHITECTURE.md"));
            continue;
        };
        for t in to {
            match level.get(t.as_str()) {
                None => out.push(format!("{t} (named by {from}) is in no layer")),
                Some(&high) if high > low => out.push(format!(
                    "{from} (layer {}) names {t}, a higher layer ({})",
                    low + 1,
                    high + 1
                )),
                Some(_) => {}
            }
        }
    }
    out
}

fn print(graph: &Graph) {
    for (from, to) in graph {
        println!(
            "{from} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
}

#[test]
fn every_module_of_src_names_only_modules_of_its_own_or_a_lower_layer() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .expect("reading ARCHITECTURE.md");
    let layers = layers(&doc);
    let graph = graph();
    print(&graph);
    assert!(
        graph.contains_key("writer") && graph.contains_key("routes::disclosures"),
        "the graph was not read: {graph:?}"
    );
    assert!(layers.len() > 10, "the layers were not read: {layers:?}");
    let wrong = violations(&graph, &layers);
    assert!(
        wrong.is_empty(),
        "against the layers of ARCHITECTURE.md {layers:?}:\n{}",
        wrong.join("\n")
    );
    if let Some(c) = cycle(&graph) {
        panic!("an import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn no_file_of_a_folder_names_a_sibling_that_names_it_back() {
    let graph = sibling_graph();
    print(&graph);
    assert!(
        graph
            .get("console::session")
            .is_some_and(|to| to.contains("console::view")),
        "the folders were not read: {graph:?}"
    );
    if let Some(c) = cycle(&graph) {
        panic!("an import cycle inside a folder: {}", c.join(" -> "));
    }
}

#[test]
fn the_checker_finds_a_cycle_when_there_is_one() {
    let mut graph = Graph::new();
    graph.insert("db".to_owned(), BTreeSet::from(["writer".to_owned()]));
    graph.insert("writer".to_owned(), BTreeSet::from(["db".to_owned()]));
    graph.insert("audit".to_owned(), BTreeSet::from(["db".to_owned()]));
    assert_eq!(
        cycle(&graph),
        Some(vec!["db".to_owned(), "writer".to_owned(), "db".to_owned()])
    );
    graph.get_mut("writer").unwrap().clear();
    assert_eq!(cycle(&graph), None);
}

#[test]
fn the_checker_reads_grouped_and_sibling_paths() {
    let code = "use super::{Posted, fields, query::Pairs};\nuse crate::{on_tx, db::Tx};\n\
                fn f() { $crate::x; crate::a::b::c() }";
    assert_eq!(
        paths_after(code, "super::"),
        [
            vec!["Posted".to_owned()],
            vec!["fields".to_owned()],
            vec!["query".to_owned(), "Pairs".to_owned()]
        ]
    );
    assert_eq!(
        paths_after(code, "crate::"),
        [
            vec!["on_tx".to_owned()],
            vec!["db".to_owned(), "Tx".to_owned()],
            vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]
        ]
    );
}

#[test]
fn the_checker_refuses_a_module_that_names_a_higher_layer_or_no_layer() {
    let doc = "# A\n\n## Layers\n\nText.\n\n```\nvocab, ids       words\n\
               db → writer      storage; group\n                 commit\n\
               routes::{extract,\n        cases}   the handlers\n\
               routes (mod.rs)  the table\n```\n";
    let layers = layers(doc);
    assert_eq!(
        layers,
        [
            vec!["vocab".to_owned(), "ids".to_owned()],
            vec!["db".to_owned()],
            vec!["writer".to_owned()],
            vec!["routes::extract".to_owned(), "routes::cases".to_owned()],
            vec!["routes".to_owned()],
        ]
    );
    let edges = |pairs: &[(&str, &str)]| -> Graph {
        let mut g = Graph::new();
        for (a, b) in pairs {
            g.entry((*a).to_owned())
                .or_default()
                .insert((*b).to_owned());
        }
        g
    };
    let down = edges(&[
        ("writer", "db"),
        ("routes::cases", "routes::extract"),
        ("vocab", "ids"),
    ]);
    assert_eq!(violations(&down, &layers), Vec::<String>::new());
    let up = edges(&[("db", "writer")]);
    assert_eq!(
        violations(&up, &layers),
        ["db (layer 2) names writer, a higher layer (3)"]
    );
    let unplaced = edges(&[("access", "db")]);
    assert_eq!(
        violations(&unplaced, &layers),
        ["access is in no layer of ARCHITECTURE.md"]
    );
}
