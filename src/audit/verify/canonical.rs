//! Is a stored JSON column exactly what serde_json writes for its value? A scan recognises the
//! common case; anything else gets the exact test (a parse and a re-serialisation).

/// Is `text` exactly what serde_json writes for some list of strings (as
/// [`AuditRow::strict_entry`] requires)? The common case is recognised by a scan; anything
/// else gets the exact test, a parse and a re-serialisation.
pub(super) fn canonical_list(text: &str) -> bool {
    plain_list(text.as_bytes()) || {
        serde_json::from_str::<Vec<String>>(text)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .is_some_and(|again| again == text)
    }
}

/// Is `text` exactly what serde_json writes for some JSON value? As [`canonical_list`].
pub(super) fn canonical_value(text: &str) -> bool {
    plain_value(text.as_bytes(), 16) == Some(&[][..]) || {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string(&v).ok())
            .is_some_and(|again| again == text)
    }
}

/// `[]` or `["a","b",...]` of [`plain_string`]s and nothing else. Every text this accepts is
/// canonical; some canonical texts (strings with escapes) are left to the exact test.
pub(super) fn plain_list(text: &[u8]) -> bool {
    let Some(mut rest) = text.strip_prefix(b"[") else {
        return false;
    };
    if rest == b"]" {
        return true;
    }
    loop {
        let Some(after) = plain_string(rest) else {
            return false;
        };
        match after {
            b"]" => return true,
            [b',', tail @ ..] => rest = tail,
            _ => return false,
        }
    }
}

/// A JSON string at the start of `text` with no escape and no control character (serde_json
/// writes every such string exactly so); the text after it.
pub(super) fn plain_string(text: &[u8]) -> Option<&[u8]> {
    let body = text.strip_prefix(b"\"")?;
    let end = body
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    (body[end] == b'"').then(|| &body[end + 1..])
}

/// One JSON value at the start of `text` that serde_json would write exactly so, nested at
/// most `depth` deep; the text after it. Recognised: `null`, `true`, `false`, integers from 0
/// to `u64::MAX` without leading zeros, [`plain_string`]s, arrays, and objects whose keys are
/// plain strings in strictly increasing order (a `serde_json::Map` is sorted and has no
/// duplicates) not starting with `$` (serde_json's private keys). Anything else, e.g. a
/// negative or fractional number, is left to the exact test.
pub(super) fn plain_value(text: &[u8], depth: u8) -> Option<&[u8]> {
    match text.first()? {
        b'n' => text.strip_prefix(b"null"),
        b't' => text.strip_prefix(b"true"),
        b'f' => text.strip_prefix(b"false"),
        b'"' => plain_string(text),
        b'0'..=b'9' => plain_integer(text),
        b'[' if depth > 0 => {
            let mut rest = &text[1..];
            if let Some(after) = rest.strip_prefix(b"]") {
                return Some(after);
            }
            loop {
                rest = plain_value(rest, depth - 1)?;
                match rest.split_first()? {
                    (b',', tail) => rest = tail,
                    (b']', tail) => return Some(tail),
                    _ => return None,
                }
            }
        }
        b'{' if depth > 0 => {
            let mut rest = &text[1..];
            if let Some(after) = rest.strip_prefix(b"}") {
                return Some(after);
            }
            let mut last_key: Option<&[u8]> = None;
            loop {
                let after = plain_string(rest)?;
                let key = &rest[1..rest.len() - after.len() - 1];
                if key.first() == Some(&b'$') || last_key.is_some_and(|last| last >= key) {
                    return None;
                }
                last_key = Some(key);
                rest = plain_value(after.strip_prefix(b":")?, depth - 1)?;
                match rest.split_first()? {
                    (b',', tail) => rest = tail,
                    (b'}', tail) => return Some(tail),
                    _ => return None,
                }
            }
        }
        _ => None,
    }
}

/// A non-negative integer without leading zeros that fits a `u64` (serde_json writes those back
/// as they are); the text after it.
pub(super) fn plain_integer(text: &[u8]) -> Option<&[u8]> {
    let len = text
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(len);
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    Some(rest)
}
