//! The case queries at scale (issue 13): the timeliness report, the overdue morning list and
//! reading one case, over `BROKER_BENCH_CASES` cases (default 100,000) seeded in bulk into a
//! fresh SQLite file, or with `BROKER_BENCH_DATABASE_URL=postgres://.../postgres` into a fresh
//! PostgreSQL database on that server (dropped afterwards).
//!
//! `cargo bench --bench cases`
//!
//! Each case has the four clocks that start at the referral, and a third of them the minutes
//! clock too; referrals spread over the last year; most clocks stopped (some late), the rest
//! running (some overdue); a fifth of the cases closed; two lead agencies. Two fifths took the
//! single-assessment route (their running strategy meeting and minutes are `not_required`), and
//! a third agreed a plan a month after the referral, with its review repeating (3 months, then 6
//! monthly: up to three occurrences each).

use std::hint::black_box;
use std::time::{Duration, Instant};

use broker::cases::{report, store};
use broker::db::{Db, ts};
use broker::decision::clocks::{Interval, Start, Timescale, Unit};
use broker::vocab::EventKind;
use chrono::{Duration as Span, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlx::Connection;

const CLOCKS: [(&str, i64); 5] = [
    ("strategy_discussion", 48),
    ("initial_assessment", 7 * 24),
    ("strategy_meeting", 12 * 24),
    ("assessment", 35 * 24),
    ("minutes", 7 * 24),
];

/// The SELECT list of the seeded actions, over the VALUES columns (SQLite's names: PostgreSQL's
/// are `column1`... too when the derived table names none).
const ACTION_COLUMNS: &str = "column1, column2, CAST(column3 AS {INT}), {BLOB}, column4, column5, \
     column6, 'sw.bench', column7, column8, NULLIF(column9, ''), \
     CASE WHEN column9 = '' THEN NULL ELSE 'dsl.bench' END, CAST(NULLIF(column10, '') AS {INT}), \
     column11";

/// The SELECT list of the seeded requests for information.
const REQUEST_COLUMNS: &str = "column1, column2, column3, column4, 'sw.bench', 'health', \
     'assessment', '[\"summary\"]', column5, column6, NULLIF(column7, ''), column8";

/// A deterministic pseudo-random number (splitmix64), so every run seeds the same data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn id(kind: u32, i: u64) -> String {
    format!("01a20000-0000-7000-{kind:04x}-{i:012x}")
}

/// Multi-row INSERT statements of `rows` rows of `cols` placeholders each.
fn values(cols: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=cols).map(|c| format!("${}", r * cols + c)).collect();
            format!("({})", p.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn seed(db: &Db, n: u64) {
    let now = Utc::now();
    let batch = 500u64;
    let mut conn_sql: Vec<(String, Vec<String>)> = Vec::new();
    for start in (0..n).step_by(batch as usize) {
        let end = (start + batch).min(n);
        let (mut subjects, mut cases, mut clocks) = (Vec::new(), Vec::new(), Vec::new());
        let (mut actions, mut requests) = (Vec::new(), Vec::new());
        let mut clock_rows = 0;
        for i in start..end {
            let r = mix(i);
            let referral = now - Span::minutes((r % (365 * 24 * 60)) as i64);
            let lead = if r.is_multiple_of(2) {
                "csc"
            } else {
                "csc-north"
            };
            let closed = r.is_multiple_of(5);
            subjects.extend([id(1, i), "2014-01-01".into(), "csc".into(), ts(now)]);
            cases.extend([
                id(2, i),
                id(1, i),
                "harmful_behaviour".into(),
                lead.into(),
                "sw.bench".into(),
                ts(referral),
                if closed { "closed" } else { "open" }.into(),
                ts(referral),
                "sw.bench".into(),
            ]);
            let single_assessment = mix(r ^ 0x5eed) % 5 < 2;
            for (k, (clock, hours)) in CLOCKS.iter().enumerate() {
                if k == 4 && !r.is_multiple_of(3) {
                    continue;
                }
                let off_route =
                    single_assessment && (*clock == "strategy_meeting" || *clock == "minutes");
                let due = referral + Span::hours(*hours);
                let roll = mix(r ^ k as u64) % 100;
                // 70% stopped (a sixth of those late), 30% still running
                let stopped = (roll < 70).then(|| {
                    let frac = if roll < 12 {
                        1.3
                    } else {
                        0.2 + roll as f64 / 100.0
                    };
                    referral + Span::minutes((*hours as f64 * 60.0 * frac) as i64)
                });
                let stopped = stopped.filter(|s| *s <= now);
                clocks.extend([
                    id(2, i),
                    (*clock).into(),
                    lead.into(),
                    if closed { "closed" } else { "open" }.into(),
                    ts(referral),
                    ts(due),
                    stopped.map(ts).unwrap_or_default(),
                    stopped
                        .map(|s| (s - referral).num_seconds().to_string())
                        .unwrap_or_default(),
                    "1".into(),
                    if off_route && stopped.is_none() {
                        "1"
                    } else {
                        "0"
                    }
                    .into(),
                ]);
                clock_rows += 1;
            }
            // the review of a plan agreed a month after the referral, repeating
            let mut start = referral + Span::days(30);
            let mut span = Span::days(91);
            let mut occurrence = 1;
            while r % 3 == 1 && start <= now && occurrence <= 3 {
                let roll = mix(r ^ (0x1000 + occurrence)) % 100;
                let stop = start
                    + Span::minutes(
                        (span.num_minutes() as f64 * (0.6 + roll as f64 / 200.0)) as i64,
                    );
                let stopped = (stop <= now).then_some(stop);
                clocks.extend([
                    id(2, i),
                    "review".into(),
                    lead.into(),
                    if closed { "closed" } else { "open" }.into(),
                    ts(start),
                    ts(start + span),
                    stopped.map(ts).unwrap_or_default(),
                    stopped
                        .map(|s| (s - start).num_seconds().to_string())
                        .unwrap_or_default(),
                    occurrence.to_string(),
                    "0".into(),
                ]);
                clock_rows += 1;
                match stopped {
                    Some(s) => {
                        start = s;
                        span = Span::days(182);
                        occurrence += 1;
                    }
                    None => break,
                }
            }
            // half the cases agreed two actions a week after the referral, owned by the school,
            // the police or health, due a fortnight later; most done (some late)
            for seq in 1..=2u64 {
                let created = referral + Span::days(7);
                if !r.is_multiple_of(2) || created > now {
                    continue;
                }
                let roll = mix(r ^ (0x2000 + seq)) % 100;
                let owner = ["school-hillside", "police", "health"][(roll % 3) as usize];
                let due = created + Span::days(14);
                let done = (roll < 65)
                    .then(|| created + Span::hours(24 * (roll as i64 % 20) + 1))
                    .filter(|d| *d <= now);
                actions.extend([
                    format!("{}-{seq}", id(3, i)),
                    id(2, i),
                    seq.to_string(),
                    owner.to_owned(),
                    ts(due),
                    ts(created),
                    lead.to_owned(),
                    if done.is_some() { "done" } else { "open" }.to_owned(),
                    done.map(ts).unwrap_or_default(),
                    done.map(|d| (d - created).num_seconds().to_string())
                        .unwrap_or_default(),
                    if closed { "closed" } else { "open" }.to_owned(),
                ]);
            }
            // a third asked health for information, due in ten days; most answered
            if r.is_multiple_of(3) && referral + Span::days(2) <= now {
                let asked = referral + Span::days(2);
                let answered = (mix(r ^ 0x3000) % 100 < 70)
                    .then(|| asked + Span::days((mix(r ^ 0x3001) % 14) as i64))
                    .filter(|a| *a <= now);
                requests.extend([
                    id(4, i),
                    id(1, i),
                    id(2, i),
                    lead.to_owned(),
                    ts(asked + Span::days(10)),
                    if answered.is_some() {
                        "answered"
                    } else {
                        "open"
                    }
                    .to_owned(),
                    answered.map(ts).unwrap_or_default(),
                    ts(asked),
                ]);
            }
        }
        let rows = (end - start) as usize;
        let (action_rows, request_rows) = (actions.len() / 11, requests.len() / 8);
        conn_sql.push((
            format!(
                "INSERT INTO subjects (id, date_of_birth, registered_by, created_at) VALUES {}",
                values(4, rows)
            ),
            subjects,
        ));
        conn_sql.push((
            format!(
                "INSERT INTO cases (id, subject_id, subject_role, lead_agency, lead_sub, \
                 referral_received_at, status, opened_at, opened_by) VALUES {}",
                values(9, rows)
            ),
            cases,
        ));
        // empty text is NULL for the stop columns
        conn_sql.push((
            format!(
                "INSERT INTO case_clocks (case_id, clock, lead_agency, case_status, started_at, \
                 due_at, stopped_at, taken_seconds, occurrence, not_required) SELECT a, b, c, h, \
                 d, e, NULLIF(f, ''), CAST(NULLIF(g, '') AS BIGINT), CAST(o AS INTEGER), \
                 CAST(x AS INTEGER) FROM (VALUES {}) AS v(a, b, c, h, d, e, f, g, o, x)",
                values(10, clock_rows)
            ),
            clocks,
        ));
        if action_rows > 0 {
            conn_sql.push((
                format!(
                    "INSERT INTO case_actions (id, case_id, seq, description_enc, owner_agency, \
                     due_at, created_at, created_by, lead_agency, status, done_at, done_by, \
                     taken_seconds, case_status) SELECT {} FROM (VALUES {}) AS w",
                    ACTION_COLUMNS,
                    values(11, action_rows)
                ),
                actions,
            ));
        }
        if request_rows > 0 {
            conn_sql.push((
                format!(
                    "INSERT INTO info_requests (id, subject_id, case_id, from_agency, from_sub, \
                     to_agency, purpose, sections, due_at, status, answered_at, created_at) \
                     SELECT {} FROM (VALUES {}) AS w",
                    REQUEST_COLUMNS,
                    values(8, request_rows)
                ),
                requests,
            ));
        }
    }
    broker::with_db!(db, pool => {
        let mut tx = pool.begin().await.unwrap();
        for (sql, binds) in &conn_sql {
            let sql = sql
                .replace("{BLOB}", if matches!(db, Db::Sqlite { .. }) { "X'00'" } else { "'\\x00'::bytea" })
                .replace("{INT}", if matches!(db, Db::Sqlite { .. }) { "INTEGER" } else { "BIGINT" });
            let sql = if matches!(db, Db::Sqlite { .. }) {
                // SQLite names VALUES columns column1..: select them by position instead
                sql.replace(" AS v(a, b, c, h, d, e, f, g, o, x)", "")
                    .replace("SELECT a, b, c, h, d, e, NULLIF(f, ''), CAST(NULLIF(g, '') AS BIGINT), CAST(o AS INTEGER), CAST(x AS INTEGER)",
                        "SELECT column1, column2, column3, column4, column5, column6, NULLIF(column7, ''), CAST(NULLIF(column8, '') AS BIGINT), CAST(column9 AS INTEGER), CAST(column10 AS INTEGER)")
            } else {
                sql.clone()
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for b in binds {
                q = q.bind(b);
            }
            q.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        // as autovacuum (PostgreSQL) or a scheduled ANALYZE (SQLite) would after a bulk load
        sqlx::query("ANALYZE").execute(pool).await.unwrap();
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let n: u64 = std::env::var("BROKER_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    // BROKER_BENCH_ONLY_POSTGRES=1 skips SQLite (its bulk seeding takes minutes)
    let mut targets = Vec::new();
    if std::env::var_os("BROKER_BENCH_ONLY_POSTGRES").is_none() {
        targets.push((
            "sqlite",
            format!("sqlite://{}/bench.db", dir.path().display()),
        ));
    }
    let pg = std::env::var("BROKER_BENCH_DATABASE_URL").ok();
    let pg_db = format!("broker_bench_cases_{}", std::process::id());
    if let Some(url) = &pg {
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {pg_db}")))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
        targets.push(("postgres", format!("{base}/{pg_db}")));
    }
    // the report's lines: the seeded clocks, the review and its first occurrences
    let mut timescales: Vec<Timescale> = CLOCKS
        .iter()
        .map(|(c, h)| Timescale {
            clock: (*c).to_owned(),
            start: Start::Referral,
            stop: EventKind::AssessmentCompleted,
            amount: *h as u32,
            unit: Unit::Hours,
            applies: Default::default(),
            then: None,
        })
        .collect();
    timescales.push(Timescale {
        clock: "review".into(),
        start: Start::Event(EventKind::PlanAgreed),
        stop: EventKind::ReviewHeld,
        amount: 3,
        unit: Unit::Months,
        applies: Default::default(),
        then: Some(Interval {
            amount: 6,
            unit: Unit::Months,
        }),
    });
    let clocks = report::Target::of(&timescales);
    for (name, url) in &targets {
        let db = rt.block_on(async {
            let db = Db::connect(url, 4).await.unwrap();
            db.migrate().await.unwrap();
            let t = Instant::now();
            seed(&db, n).await;
            eprintln!(
                "{name}: seeded {n} cases in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            db
        });
        let mut g = c.benchmark_group(format!("cases_{n}/{name}"));
        g.sample_size(10).measurement_time(Duration::from_secs(5));
        let now = Utc::now();
        g.bench_function("timeliness_report_all_agencies_one_year", |b| {
            b.iter(|| {
                rt.block_on(report::timeliness(
                    &db,
                    &clocks,
                    now - Span::days(365),
                    now,
                    now,
                    report::Scope::default(),
                ))
                .map(black_box)
                .unwrap()
            })
        });
        g.bench_function("timeliness_report_one_agency_one_quarter", |b| {
            b.iter(|| {
                rt.block_on(report::timeliness(
                    &db,
                    &clocks,
                    now - Span::days(91),
                    now,
                    now,
                    report::Scope {
                        agency: Some("csc"),
                        area: None,
                    },
                ))
                .map(black_box)
                .unwrap()
            })
        });
        g.bench_function("timeliness_report_action_line_one_year", |b| {
            b.iter(|| {
                rt.block_on(report::actions::line(
                    &db,
                    now - Span::days(365),
                    now,
                    now,
                    report::Scope::default(),
                ))
                .map(black_box)
                .unwrap()
            })
        });
        let filter = store::Filter {
            lead_agency: Some("csc".into()),
            overdue_at: Some(now),
            limit: 100,
            ..store::Filter::default()
        };
        g.bench_function("overdue_list_first_100", |b| {
            b.iter(|| {
                rt.block_on(store::list(&db, &filter))
                    .map(black_box)
                    .unwrap()
            })
        });
        let one = id(2, n / 2);
        g.bench_function("read_one_case", |b| {
            b.iter(|| rt.block_on(store::load(&db, &one)).map(black_box).unwrap())
        });
        g.finish();
        rt.block_on(db.close());
    }
    if let Some(url) = &pg {
        rt.block_on(async {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
