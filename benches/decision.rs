//! The decision function's cost (issue: median ≤ 20 µs per full decision with the shipped
//! policy, ≥ 4× faster than one naive casbin `enforce` over the same rules, and ≤ 2× slower
//! with a policy padded to 10× the rows).
//!
//! `cargo bench --bench decision`

use std::hint::black_box;
use std::path::Path;

use broker::decision::policy::{Files, naive_single_enforcer};
use broker::decision::scenario::{Scenario, load_file};
use broker::decision::{Family, Policy};
use broker::vocab::{AgencyKind, Basis, Purpose, Role, Section};
use casbin::CoreApi;
use criterion::{Criterion, criterion_group, criterion_main};

fn scenarios() -> Vec<Scenario> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("policies/tests").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            all.extend(load_file(&path).unwrap());
        }
    }
    all.sort_by(|a, b| a.name.cmp(&b.name));
    all
}

/// The shipped policy plus redundant rows that cannot change any decision: explicit `allow`
/// rows for tuples a wildcard already allows (and no `deny` row forbids), and `deny` rows for
/// tuples nothing allows, as a partnership's local agency-specific rows would add. Ten times the
/// shipped row count.
async fn padded(base: &Policy) -> (tempfile::TempDir, Policy) {
    let dir = tempfile::tempdir().unwrap();
    Files::embedded().write_to(dir.path()).unwrap();
    let target = base.rows() * 10;
    let mut sections = String::new();
    let mut bases = String::new();
    let mut added = 0;
    'outer: for kind in AgencyKind::ALL {
        for role in Role::ALL {
            for section in Section::ALL {
                for purpose in Purpose::ALL {
                    let t = [
                        kind.as_str(),
                        role.as_str(),
                        section.as_str(),
                        purpose.as_str(),
                    ];
                    let eft = if base.allows(Family::Sections, &t) {
                        "allow"
                    } else {
                        "deny"
                    };
                    sections.push_str(&format!("p, {}, {eft}\n", t.join(", ")));
                    added += 1;
                    if added >= target / 2 {
                        break 'outer;
                    }
                }
            }
        }
    }
    'outer2: for basis in Basis::ALL {
        for from in AgencyKind::ALL {
            for to in AgencyKind::ALL {
                let t = [basis.as_str(), from.as_str(), to.as_str()];
                let eft = if base.allows(Family::Bases, &t) {
                    "allow"
                } else {
                    "deny"
                };
                bases.push_str(&format!("p, {}, {}, {}, {eft}\n", t[0], t[1], t[2]));
                added += 1;
                if added >= target {
                    break 'outer2;
                }
            }
        }
    }
    for (file, extra) in [("sections.csv", sections), ("bases.csv", bases)] {
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}{extra}")).unwrap();
    }
    let policy = Policy::load(dir.path()).await.unwrap();
    (dir, policy)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shipped = rt.block_on(Policy::load("policies")).unwrap();
    let (_dir, padded) = rt.block_on(padded(&shipped));
    let naive = rt
        .block_on(naive_single_enforcer(
            &Files::from_dir(Path::new("policies")).unwrap(),
        ))
        .unwrap();
    let all = scenarios();
    // the padding is redundant: every scenario decides the same under both policies
    for s in &all {
        assert_eq!(
            s.decide(&shipped).codes(),
            s.decide(&padded).codes(),
            "{}",
            s.name
        );
    }
    eprintln!(
        "shipped policy: {} rows; padded: {} rows; {} scenarios",
        shipped.rows(),
        padded.rows(),
        all.len()
    );

    let mut group = c.benchmark_group("decision");
    let mut i = 0;
    group.bench_function("full_decision/shipped", |b| {
        b.iter(|| {
            i = (i + 1) % all.len();
            black_box(all[i].decide(&shipped))
        })
    });
    let mut j = 0;
    group.bench_function("full_decision/padded_10x", |b| {
        b.iter(|| {
            j = (j + 1) % all.len();
            black_box(all[j].decide(&padded))
        })
    });
    group.bench_function("one_naive_enforce/shipped", |b| {
        b.iter(|| {
            black_box(
                naive
                    .enforce(vec![
                        "sections",
                        "school",
                        "dsl",
                        "risk_management",
                        "safeguarding",
                    ])
                    .unwrap(),
            )
        })
    });
    group.bench_function("one_uncached_family_enforce/sections_padded_10x", |b| {
        b.iter(|| {
            black_box(padded.allows_uncached(
                Family::Sections,
                &["school", "dsl", "summary", "safeguarding"],
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
