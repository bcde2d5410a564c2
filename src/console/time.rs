//! Times and dates as a person reads them (CONSOLE.md): in UK time (Europe/London, so summer
//! time is shown as the clock on the wall said it), in one format: "6 December 2026 at
//! 4:19pm", "6 December 2026", with "midday" and "midnight" as GOV.UK writes them.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::London;

/// An instant in UK time: "6 December 2026 at 4:19pm".
pub fn uk(at: &DateTime<Utc>) -> String {
    let local = at.with_timezone(&London);
    let clock = match (local.hour(), local.minute()) {
        (12, 0) => "midday".to_owned(),
        (0, 0) => "midnight".to_owned(),
        _ => local.format("%-I:%M%P").to_string(),
    };
    format!("{} at {clock}", local.format("%-d %B %Y"))
}

/// A date: "6 December 2026".
pub fn uk_date(date: &NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// A stored instant (RFC 3339 text, as `db::ts` writes it) in UK time; text that is not an
/// instant is shown as it is (it never is, for what the broker stores).
pub fn uk_text(stored: &str) -> String {
    match DateTime::parse_from_rfc3339(stored) {
        Ok(at) => uk(&at.with_timezone(&Utc)),
        Err(_) => stored.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_instant_is_shown_in_uk_time_in_one_format() {
        assert_eq!(
            uk(&at("2026-12-06T16:19:07.123456Z")),
            "6 December 2026 at 4:19pm"
        );
        // British Summer Time: 09:05 UTC is 10:05 on the wall
        assert_eq!(uk(&at("2026-07-01T09:05:00Z")), "1 July 2026 at 10:05am");
        assert_eq!(uk(&at("2026-01-01T12:00:00Z")), "1 January 2026 at midday");
        assert_eq!(uk(&at("2026-06-30T23:00:00Z")), "1 July 2026 at midnight");
        assert_eq!(
            uk_text("2026-12-06T16:19:07.123456+00:00"),
            "6 December 2026 at 4:19pm"
        );
        assert_eq!(
            uk_date(&NaiveDate::from_ymd_opt(2015, 6, 1).unwrap()),
            "1 June 2015"
        );
    }
}
