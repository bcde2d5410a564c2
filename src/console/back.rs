//! Where a sign-in returns: the console page the person asked for before being sent to sign in
//! (a link from an e-mail, a bookmark). Only a local console path passes ([`ReturnTo::parse`]),
//! so a crafted sign-in link cannot send the browser elsewhere (an open redirect), nor back into
//! the sign-in.

/// A local console path and query (`/ui/...`), safe to redirect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnTo(String);

/// The longest path a sign-in carries back.
const MAX_LEN: usize = 2048;

impl ReturnTo {
    /// The start page, where a sign-in with no (or no acceptable) page asked for lands.
    pub fn start() -> ReturnTo {
        ReturnTo("/ui/".to_owned())
    }

    /// `raw` if it is a console path: it starts with `/ui/`, holds no `//`, no backslash, no
    /// control, space or non-ASCII character and no `.` or `..` segment (a browser would resolve
    /// it elsewhere), and is not a sign-in page.
    pub fn parse(raw: &str) -> Option<ReturnTo> {
        let path = raw.split(['?', '#']).next().unwrap_or_default();
        let ok = raw.len() <= MAX_LEN
            && raw.starts_with("/ui/")
            && !raw.contains("//")
            && raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
            && !path
                .split('/')
                .any(|segment| matches!(dot_segment(segment).as_str(), "." | ".."))
            && !path.starts_with("/ui/signin");
        ok.then(|| ReturnTo(raw.to_owned()))
    }

    /// The path, or the start page when `raw` is none or not acceptable.
    pub fn or_start(raw: Option<&str>) -> ReturnTo {
        raw.and_then(ReturnTo::parse)
            .unwrap_or_else(ReturnTo::start)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path as a query-string value (`next=...`).
    pub fn encoded(&self) -> String {
        url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect()
    }
}

/// A segment with its percent-encoded dots decoded (`%2e` is a dot to a browser), lower case.
fn dot_segment(segment: &str) -> String {
    segment.to_ascii_lowercase().replace("%2e", ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_local_console_path_is_returned_to() {
        let id = "01a204f3-0000-7000-8000-000000000000";
        for good in [
            "/ui/".to_owned(),
            "/ui/inbox".into(),
            format!("/ui/inbox/{id}"),
            "/ui/audit?subject_id=x&from=2026-12-06T10:00&limit=1".into(),
            "/ui/cases?overdue=false".into(),
            "/ui/a.b/c..d".into(),
        ] {
            assert_eq!(
                ReturnTo::parse(&good).map(|r| r.0),
                Some(good.clone()),
                "{good}"
            );
        }
        for bad in [
            "",
            "/",
            "/ui",
            "/uix/",
            "ui/inbox",
            "/v1/inbox",
            "https://evil.example/ui/",
            "//evil.example/ui/",
            "/ui//evil.example",
            "/ui/inbox//x",
            "/ui/\\\\evil.example",
            "/ui/\\evil",
            "/ui/in box",
            "/ui/in\tbox",
            "/ui/in\nbox",
            "/ui/inbox\r",
            "/ui/\u{7f}",
            "/ui/caf\u{e9}",
            "/ui/../v1/inbox",
            "/ui/%2e%2e/v1/inbox",
            "/ui/%2E./x",
            "/ui/./inbox",
            "/ui/inbox/..",
            "/ui/signin",
            "/ui/signin?why=expired",
            "/ui/signin/start",
            "/ui/signin/callback?code=x",
            "javascript:alert(1)",
        ] {
            assert_eq!(ReturnTo::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            ReturnTo::parse(&format!("/ui/{}", "a".repeat(MAX_LEN))),
            None
        );
        assert_eq!(ReturnTo::or_start(Some("//evil")).as_str(), "/ui/");
        assert_eq!(ReturnTo::or_start(None).as_str(), "/ui/");
        assert_eq!(
            ReturnTo::parse("/ui/audit?a=1&b=2").unwrap().encoded(),
            "%2Fui%2Faudit%3Fa%3D1%26b%3D2"
        );
    }
}
