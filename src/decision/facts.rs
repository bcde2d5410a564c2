//! Facts the rules need that Rust computes: age on the day, consent currency, assessments.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::London;

/// The calendar date in Europe/London at an instant (RULES.md 3.3).
pub fn london_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&London).date_naive()
}

/// Whole years from `dob` to `on`. A 29 February birthday is reached on 1 March in a year
/// without one, because (2, 28) < (2, 29) <= (3, 1).
pub fn age_on(dob: NaiveDate, on: NaiveDate) -> i32 {
    let mut years = on.year() - dob.year();
    if (on.month(), on.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    years
}

/// Still in force at `at`: expiry and withdrawal take effect at their instant, inclusive.
pub fn in_force(
    at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    withdrawn_at: Option<DateTime<Utc>>,
) -> bool {
    expires_at.is_none_or(|e| at < e) && withdrawn_at.is_none_or(|w| at < w)
}

/// The Gillick assessment as a policy term.
pub fn gillick_term(gillick_competent: Option<bool>) -> &'static str {
    match gillick_competent {
        Some(true) => "competent",
        Some(false) => "not_competent",
        None => "not_assessed",
    }
}

/// The mental capacity assessment as a policy term.
pub fn capacity_term(lacks_capacity: Option<bool>) -> &'static str {
    match lacks_capacity {
        Some(true) => "lacks_capacity",
        Some(false) => "has_capacity",
        None => "not_assessed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_birthday_today_counts() {
        assert_eq!(age_on(d("2014-03-01"), d("2026-02-28")), 11);
        assert_eq!(age_on(d("2014-03-01"), d("2026-03-01")), 12);
    }

    #[test]
    fn a_leap_day_child_is_older_on_the_first_of_march_in_a_common_year() {
        assert_eq!(age_on(d("2012-02-29"), d("2026-02-28")), 13);
        assert_eq!(age_on(d("2012-02-29"), d("2026-03-01")), 14);
        assert_eq!(age_on(d("2012-02-29"), d("2028-02-29")), 16);
    }

    #[test]
    fn half_past_eleven_utc_in_summer_is_the_next_day_in_london() {
        let at: DateTime<Utc> = "2026-06-14T23:30:00Z".parse().unwrap();
        assert_eq!(london_date(at), d("2026-06-15"));
        let winter: DateTime<Utc> = "2026-12-14T23:30:00Z".parse().unwrap();
        assert_eq!(london_date(winter), d("2026-12-14"));
    }

    #[test]
    fn a_consent_expiring_now_is_no_longer_in_force() {
        let at: DateTime<Utc> = "2026-06-14T10:00:00Z".parse().unwrap();
        assert!(!in_force(at, Some(at), None));
        assert!(!in_force(at, None, Some(at)));
        assert!(in_force(at, Some(at + chrono::Duration::seconds(1)), None));
    }
}
