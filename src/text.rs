//! Which characters the broker accepts in text from outside (ARCHITECTURE.md, "Text at the
//! edge"). One rule for every entry point, so both databases see the same strings: PostgreSQL
//! cannot store a NUL in `text`, and SQLite would.
//!
//! - **Everywhere**: NUL and the other C0 controls, DEL and the C1 controls are refused, except
//!   tab, line feed and carriage return in free text.
//! - **Single-line values** (ids, subs, names, agencies, roles, query parameters, path
//!   segments, token claims, object keys): every control character is refused, and so are the
//!   Unicode line and paragraph separators and the bidirectional overrides that can make a value
//!   display as another.

use std::fmt::Write;

use serde_json::Value;

/// How much of the control-character rule applies to a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One line: no control character at all.
    SingleLine,
    /// Paragraphs a person pastes: tab, line feed and carriage return are allowed.
    FreeText,
}

fn refused(c: char, kind: Kind) -> bool {
    match kind {
        Kind::FreeText => c.is_control() && !matches!(c, '\t' | '\n' | '\r'),
        Kind::SingleLine => {
            c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        }
    }
}

/// The characters [`Kind::SingleLine`] refuses, as the inside of a regular-expression class
/// (ECMA-262 and Python alike), for the JSON Schemas of the OpenAPI document.
const SINGLE_LINE_REFUSED: &str =
    "\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069";
/// The characters [`Kind::FreeText`] refuses (every control but tab, line feed and carriage
/// return), as the inside of a class.
const FREE_TEXT_REFUSED: &str = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F";

/// The JSON Schema `pattern` of what `kind` accepts; with `non_blank`, a value must also hold a
/// character that is not white space (what a handler that trims and refuses an empty value
/// accepts).
pub fn pattern(kind: Kind, non_blank: bool) -> String {
    let refused = match kind {
        Kind::SingleLine => SINGLE_LINE_REFUSED,
        Kind::FreeText => FREE_TEXT_REFUSED,
    };
    if non_blank {
        format!("^[^{refused}]*[^\\s{refused}][^{refused}]*$")
    } else {
        format!("^[^{refused}]*$")
    }
}

/// A single-line query value as a schema pattern: what `routes::extract::check_query` lets
/// through (one line, no control character, no Unicode line separator, no bidirectional
/// override).
pub const QUERY_TEXT: &str =
    "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u202A-\\u202E\\u2066-\\u2069]*$";

/// Why `text` is refused as `kind`, naming the first offending character, or `None`.
pub fn problem(text: &str, kind: Kind) -> Option<String> {
    let c = text.chars().find(|&c| refused(c, kind))?;
    let what = match c {
        '\0' => "a NUL character".to_owned(),
        '\n' | '\r' | '\t' => format!("a {} (a single-line value)", control_name(c)),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        c => format!("the layout character U+{:04X}", c as u32),
    };
    Some(format!("contains {what}, which is not allowed here"))
}

fn control_name(c: char) -> &'static str {
    match c {
        '\n' => "line feed",
        '\r' => "carriage return",
        _ => "tab",
    }
}

/// The first refused string in a JSON document: its JSON path (`record_ids[0]`,
/// `sections.summary`) and why. Object keys are single-line; a string under a top-level field
/// named in `free_text` is free text, every other string single-line.
pub fn check_json(value: &Value, free_text: &[&str]) -> Result<(), (String, String)> {
    walk(value, &mut String::new(), Kind::SingleLine, free_text)
}

fn walk(
    value: &Value,
    path: &mut String,
    kind: Kind,
    free_text: &[&str],
) -> Result<(), (String, String)> {
    match value {
        Value::String(s) => match problem(s, kind) {
            Some(why) => Err((path_or_body(path), why)),
            None => Ok(()),
        },
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                let _ = write!(path, "[{i}]");
                walk(item, path, kind, free_text)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&escape(key));
                if let Some(why) = problem(key, Kind::SingleLine) {
                    return Err((path_or_body(path), format!("the field name {why}")));
                }
                let kind = if len == 0 && free_text.contains(&key.as_str()) {
                    Kind::FreeText
                } else {
                    kind
                };
                walk(item, path, kind, free_text)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn path_or_body(path: &str) -> String {
    if path.is_empty() {
        "body".into()
    } else {
        path.to_owned()
    }
}

/// `text` fit for a log line or a message: control and layout characters escaped (`\n`,
/// `\u{1b}`), at most 200 characters, so an untrusted string cannot forge a line or move the
/// cursor.
pub fn escape(text: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(text.len().min(MAX + 8));
    for (n, c) in text.chars().enumerate() {
        if n == MAX {
            out.push_str("...");
            break;
        }
        if refused(c, Kind::SingleLine) || c == '\\' {
            if c.escape_debug().len() == 1 {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            } else {
                out.extend(c.escape_debug());
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_nul_is_refused_in_free_text_and_single_line_values() {
        assert!(problem("a\0b", Kind::FreeText).unwrap().contains("NUL"));
        assert!(problem("a\0b", Kind::SingleLine).unwrap().contains("NUL"));
    }

    #[test]
    fn free_text_keeps_tab_line_feed_and_carriage_return_and_refuses_other_controls() {
        assert_eq!(problem("para one\r\n\tpara two", Kind::FreeText), None);
        for c in ['\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert!(problem(&format!("x{c}"), Kind::FreeText).is_some(), "{c:?}");
        }
    }

    #[test]
    fn a_single_line_value_refuses_every_control_and_layout_character() {
        for c in [
            '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{202e}',
        ] {
            assert!(
                problem(&format!("x{c}"), Kind::SingleLine).is_some(),
                "{c:?}"
            );
        }
        assert_eq!(problem("Hillside Primary — Ü café", Kind::SingleLine), None);
    }

    #[test]
    fn the_json_walk_names_the_path_and_allows_free_text_only_where_named() {
        let body = json!({"justification": "line one\nline two", "record_ids": ["ok", "b\u{0}d"]});
        let (path, why) = check_json(&body, &["justification"]).unwrap_err();
        assert_eq!(path, "record_ids[1]");
        assert!(why.contains("NUL"), "{why}");
        let nested = json!({"sections": {"summary": {"text": "a\nb", "x": "\u{1b}[2J"}}});
        let (path, _) = check_json(&nested, &["sections"]).unwrap_err();
        assert_eq!(path, "sections.summary.x");
        assert!(check_json(&json!({"recipient_sub": "a\nb"}), &["justification"]).is_err());
        assert!(check_json(&json!({"k\u{0}": 1}), &[]).is_err());
        assert!(check_json(&json!({"justification": "a\nb"}), &["justification"]).is_ok());
    }

    #[test]
    fn escaping_leaves_no_control_character_and_bounds_the_length() {
        let forged = "EdDSA\n2026-01-01T00:00:00Z INFO forged\u{1b}[31m\\";
        let e = escape(forged);
        assert!(!e.chars().any(|c| c.is_control()), "{e}");
        assert!(
            e.contains("\\n") && e.contains("\\u{1b}") && e.contains("\\\\"),
            "{e}"
        );
        assert_eq!(escape(&"a".repeat(1000)).chars().count(), 203);
    }
}
