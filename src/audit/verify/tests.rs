use super::*;
use rand::{Rng, SeedableRng};

/// An entry with every field set, strings that need escapes, and a detail serde_json
/// writes in ways the scan leaves to the exact test (negative and fractional numbers).
fn awkward_entry() -> Entry {
    Entry {
        seq: 42,
        at: "2026-11-22T10:00:00.000000Z".into(),
        actor_agency: "csc".into(),
        actor_sub: "sw.\"quoted\" \\ back\u{1}slash\n".into(),
        actor_roles: vec!["social_worker".into(), "team\tmanager".into()],
        action: "disclosure".into(),
        subject_id: Some("01a204f3-0000-7000-8000-000000000001".into()),
        record_ids: vec!["r1".into(), "r\u{7f}2 é ✓".into()],
        owner_agencies: vec!["csc".into()],
        recipient_agency: Some("school-hillside".into()),
        recipient_role: Some("dsl".into()),
        recipient_sub: Some("t.smith".into()),
        purpose: Some("safeguarding".into()),
        basis: Some("consent".into()),
        justification: Some("line one\r\nline two \u{0b} / </script>".into()),
        decision: Some("permit".into()),
        reasons: vec![],
        obligations: vec!["ig_review".into()],
        policy_version: Some("sha256:96d5".into()),
        packet_sha256: Some("sha256:abcd".into()),
        detail: serde_json::json!({"z": -1, "a": [1.5, null, {"k": "v\"w"}], "m": 0}),
    }
}

/// The row `insert` stores for `e`, as [`verify`] reads it (text columns only).
fn stored(e: &Entry, prev: &str, hash: &str) -> Vec<Option<String>> {
    let row = AuditRow::linked(e.clone(), prev.to_owned(), hash.to_owned());
    row.cells()
        .into_iter()
        .skip(1)
        .map(|cell| cell.text().map(|t| t.into_owned()))
        .collect()
}

fn as_row(row: &[Option<String>]) -> [Option<&str>; ROW_TEXTS] {
    std::array::from_fn(|i| row[i].as_deref())
}

#[test]
fn the_stored_columns_encode_to_the_entrys_canonical_json_and_hash() {
    for entry in [
        awkward_entry(),
        Entry::default(),
        Entry {
            seq: 1,
            detail: serde_json::json!({}),
            ..Entry::default()
        },
    ] {
        let hash = entry.hash(GENESIS);
        let row = stored(&entry, GENESIS, &hash);
        let mut out = Vec::new();
        assert!(encode_stored(entry.seq, &as_row(&row), &mut out));
        assert_eq!(
            String::from_utf8_lossy(&out),
            serde_json::to_string(&entry).unwrap()
        );
        assert!(hash_holds(
            entry.seq,
            &as_row(&row),
            GENESIS,
            &hash,
            &mut out
        ));
        assert!(!hash_holds(
            entry.seq + 1,
            &as_row(&row),
            GENESIS,
            &hash,
            &mut out
        ));
        assert!(!hash_holds(
            entry.seq,
            &as_row(&row),
            &hash,
            &hash,
            &mut out
        ));
    }
}

/// A frame as SQLite's `concat` builds it ([`frame`]).
fn frame_of(seq: i64, texts: &[Option<&str>]) -> String {
    let mut f = format!("{seq}:");
    for t in texts {
        match t {
            Some(t) => f.push_str(&format!("{}:{t}", t.len())),
            None => f.push(':'),
        }
    }
    f
}

#[test]
fn a_frame_splits_back_into_its_columns_whatever_they_hold() {
    let mut texts: Vec<Option<&str>> = vec![Some("x"); ROW_TEXTS];
    texts[0] = Some("12:34::5:");
    texts[1] = Some("");
    texts[2] = None;
    texts[3] = Some("é ✓ \u{1}\n");
    texts[ROW_TEXTS - 1] = Some("sha256:ab");
    let one = frame_of(-7, &texts);
    let two = format!("{one}{}", frame_of(8, &texts));
    let (seq, spans, len) = parse_frame(&two).unwrap();
    assert_eq!((seq, len), (-7, one.len()));
    let got: Vec<Option<&str>> = spans.iter().map(|s| s.map(|(a, b)| &two[a..b])).collect();
    assert_eq!(got, texts);
    let (seq, _, rest) = parse_frame(&two[len..]).unwrap();
    assert_eq!((seq, len + rest), (8, two.len()));
    for broken in ["", "7", "x:1:a", "7:99:a", &one[..one.len() - 1], "7:1:é"] {
        assert!(parse_frame(broken).is_none(), "{broken:?}");
    }
}

/// The old check: parse, re-serialise, compare.
fn exact_list(text: &str) -> bool {
    serde_json::from_str::<Vec<String>>(text)
        .is_ok_and(|v| serde_json::to_string(&v).unwrap() == text)
}

fn exact_value(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text)
        .is_ok_and(|v| serde_json::to_string(&v).unwrap() == text)
}

/// Asserts the checks agree on `text`; counts it as canonical by the scan, canonical only
/// by the exact test, or not canonical (as a value).
fn agree(text: &str, counts: &mut [usize; 3]) {
    assert_eq!(canonical_list(text), exact_list(text), "list {text:?}");
    assert_eq!(canonical_value(text), exact_value(text), "value {text:?}");
    if plain_list(text.as_bytes()) {
        assert!(
            exact_list(text),
            "the scan accepted a non-canonical list {text:?}"
        );
    }
    let scanned = plain_value(text.as_bytes(), 16) == Some(&[][..]);
    if scanned {
        assert!(
            exact_value(text),
            "the scan accepted a non-canonical value {text:?}"
        );
    }
    counts[if scanned {
        0
    } else if exact_value(text) {
        1
    } else {
        2
    }] += 1;
}

const SEEDS: &[&str] = &[
    "[]",
    "[\"a\"]",
    "[\"social_worker\",\"team_manager\"]",
    "[\"a\\\"b\",\"c\\\\d\",\"e\\u0001\",\"\\n\"]",
    "{}",
    "{\"a\":1,\"b\":[true,false,null,\"x\"],\"c\":{\"d\":\"e\"}}",
    "{\"legal_reference\":null,\"mappa_decision_id\":null,\"sections_released\":[\"summary\"],\"sections_withheld\":[],\"view\":\"limited_summary\"}",
    "{\"$serde_json::private::RawValue\":\"[1]\"}",
    "{\"a\":-1,\"b\":1.5,\"c\":1e5,\"d\":-0}",
    "\"x\"",
    "null",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
    "{\"é\":\"✓\",\"z\":\"\u{7f}\"}",
];

#[test]
fn the_scans_agree_with_parsing_and_re_serialising_on_known_cases() {
    let cases = [
        "",
        " ",
        "[ ]",
        "[] ",
        " []",
        "[\"a\",]",
        "[,\"a\"]",
        "[\"a\" ,\"b\"]",
        "[\"a\"]]",
        "[1]",
        "[null]",
        "\"[]\"",
        "[\"\\/\"]",
        "[\"\\u0041\"]",
        "[\"\\u000a\"]",
        "[\"\\u001f\"]",
        "[\"\\u001F\"]",
        "[\"\\ud83d\\ude00\"]",
        "[\"\u{1}\"]",
        "{\"a\":1}",
        "{\"b\":1,\"a\":2}",
        "{\"a\":1,\"a\":2}",
        "{\"a\" :1}",
        "{\"a\":01}",
        "{\"a\":1.0}",
        "{\"a\":-0}",
        "{\"a\":1E5}",
        "{\"$x\":1}",
        "{\"a\\\"\":1}",
        "{\"a\":{}}",
        "{\"a\":[]}",
        "nul",
        "truex",
        "[true]",
        "00",
        "-1",
        "1 ",
    ];
    let mut counts = [0; 3];
    for text in SEEDS.iter().chain(&cases) {
        agree(text, &mut counts);
    }
}

/// Random edits of canonical texts: inserted, deleted and swapped characters, including
/// whitespace and bytes moved from one place to another.
#[test]
fn the_scans_agree_with_parsing_and_re_serialising_on_random_edits() {
    let alphabet: Vec<char> = "[]{}\",:\\ \t\n0123456789-.eE$atnulfrsé\u{1}/"
        .chars()
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut counts = [0; 3];
    for _ in 0..100_000 {
        let mut text: Vec<char> = SEEDS[rng.gen_range(0..SEEDS.len())].chars().collect();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..=text.len());
            match rng.gen_range(0..3) {
                0 => text.insert(at, alphabet[rng.gen_range(0..alphabet.len())]),
                1 if at < text.len() => {
                    text.remove(at);
                }
                _ if !text.is_empty() => {
                    let from = rng.gen_range(0..text.len());
                    let c = text.remove(from);
                    text.insert(at.min(text.len()), c);
                }
                _ => {}
            }
        }
        agree(&text.into_iter().collect::<String>(), &mut counts);
    }
    // every way through the checks is taken many times
    eprintln!("scanned, exact only, not canonical: {counts:?}");
    assert!(counts.iter().all(|&n| n > 500), "{counts:?}");
}
