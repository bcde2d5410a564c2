//! The clocks of a case (PROCESS.md, Clocks): when each is due, from the timescales
//! (`policies/timescales.csv`) and the bank holidays of England and Wales
//! (`policies/bank_holidays.csv`), and its status against a `now` the caller passes. Pure: no
//! I/O and no reading of the system clock, so every case is a table-driven test.
//!
//! Counting, all in Europe/London:
//! - `hours`: elapsed time (48 hours across the clocks going forward is 49 on the wall clock).
//! - `days`: calendar days at the same wall-clock time; `months`: calendar months at the same
//!   wall-clock time, clamped to the month's last day (30 November + 3 months is 28 or 29
//!   February).
//! - `working_days`: whole working days after the day the clock starts (Saturdays, Sundays and
//!   listed bank holidays skipped); the clock is due at the end of the last of them
//!   (23:59:59.999999 local time).
//!
//! A wall-clock time that does not exist (the hour skipped when the clocks go forward) is
//! taken an hour later; one that happens twice (the hour repeated when they go back) is taken
//! the second time, so a deadline is never earlier than its wall-clock reading.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Europe::London;
use serde::{Deserialize, Serialize};

use crate::vocab::{EventKind, Route};

/// How a timescale's amount is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Hours,
    Days,
    WorkingDays,
    Months,
}

impl Unit {
    const NAMES: &'static [(&'static str, Unit)] = &[
        ("hours", Unit::Hours),
        ("days", Unit::Days),
        ("working_days", Unit::WorkingDays),
        ("months", Unit::Months),
    ];

    fn parse(text: &str) -> Option<Unit> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == text)
            .map(|(_, u)| *u)
    }
}

/// Where a clock starts: at the referral, or at a case event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Referral,
    Event(EventKind),
}

/// The largest amount a timescale may have (any unit), so every due time is a date chrono
/// can hold.
pub const MAX_AMOUNT: u32 = 9999;

/// The name of the start that means "the referral was received".
pub const REFERRAL: &str = "referral_received";

/// Which cases a clock runs on (PROCESS.md, Routes): every case, or the cases on one of these
/// routes. Before any route is decided a clock of some routes runs as usual.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Applies {
    #[default]
    Always,
    Routes(Vec<Route>),
}

impl Applies {
    /// `always`, or `route:<route>[|<route>]`.
    fn parse(text: &str) -> Result<Applies, String> {
        if text.is_empty() || text == "always" {
            return Ok(Applies::Always);
        }
        let Some(routes) = text.strip_prefix("route:") else {
            return Err(format!(
                "applies \"{text}\" is not \"always\" nor \"route:<route>[|<route>]\""
            ));
        };
        let routes = routes
            .split('|')
            .map(|r| {
                r.trim()
                    .parse::<Route>()
                    .map_err(|e| format!("applies: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Applies::Routes(routes))
    }

    /// Whether the clock is required on a case whose latest decided route is `route` (None:
    /// none decided yet).
    pub fn required_on(&self, route: Option<Route>) -> bool {
        match (self, route) {
            (Applies::Always, _) | (_, None) => true,
            (Applies::Routes(routes), Some(r)) => routes.contains(&r),
        }
    }
}

/// An amount of a unit (`3, months`; `6 months` in a `then` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub amount: u32,
    pub unit: Unit,
}

impl Interval {
    fn parse(amount: &str, unit: &str) -> Result<Interval, String> {
        let amount = amount
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_AMOUNT).contains(n))
            .ok_or_else(|| {
                format!("amount \"{amount}\" is not a whole number from 1 to {MAX_AMOUNT}")
            })?;
        let unit = Unit::parse(unit).ok_or_else(|| {
            let names: Vec<&str> = Unit::NAMES.iter().map(|(n, _)| *n).collect();
            format!("unit \"{unit}\" is not one of: {}", names.join(", "))
        })?;
        Ok(Interval { amount, unit })
    }
}

/// One row of `timescales.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timescale {
    pub clock: String,
    pub start: Start,
    pub stop: EventKind,
    pub amount: u32,
    pub unit: Unit,
    /// The routes it runs on (`applies`).
    pub applies: Applies,
    /// A repeating clock: each later occurrence starts when the one before stops and is due
    /// this long after (`then`; the review every 6 months, LLR §13).
    pub then: Option<Interval>,
}

/// A clock's state at `now` (PROCESS.md): running and not yet due, stopped on time, stopped
/// after its due time, running past its due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Met,
    Late,
    Overdue,
    /// A clock of a route the case did not take, or one a team manager said is not required:
    /// never late nor overdue (PROCESS.md, Routes).
    NotRequired,
}

/// The bank holidays of England and Wales for a run of whole years.
#[derive(Debug, Clone)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    first: NaiveDate,
    last: NaiveDate,
}

/// A due time the calendar cannot compute: it needs a day outside the listed years.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the bank-holiday calendar lists {first} to {last}; this clock needs {needed}")]
pub struct BeyondCalendar {
    pub first: NaiveDate,
    pub last: NaiveDate,
    pub needed: NaiveDate,
}

/// A problem in a clock policy file, with its line (1-based) where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

pub(crate) fn problem(line: Option<usize>, message: impl Into<String>) -> FileProblem {
    FileProblem {
        line,
        message: message.into(),
    }
}

/// `(line, fields)` of each row: `#` comments and blank lines skipped, fields trimmed.
pub(crate) fn rows(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, raw)| {
        let line = raw.split('#').next().unwrap_or("").trim();
        (!line.is_empty()).then(|| (i + 1, line.split(',').map(str::trim).collect()))
    })
}

impl Calendar {
    /// Parses `date, name` rows. The calendar covers every year from its first listed holiday
    /// to its last; a year in between with no holiday listed is refused (it would silently
    /// make every day of that year a working day), and so is one that ends less than a year
    /// after `today`.
    pub fn parse(text: &str, today: NaiveDate) -> Result<Calendar, FileProblem> {
        let mut by_year: BTreeMap<i32, usize> = BTreeMap::new();
        let mut holidays = BTreeSet::new();
        for (line, fields) in rows(text) {
            let [date, name] = fields.as_slice() else {
                return Err(problem(Some(line), "expected: date, name"));
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
                problem(Some(line), format!("\"{date}\" is not a date (YYYY-MM-DD)"))
            })?;
            if name.is_empty() {
                return Err(problem(Some(line), "a bank holiday needs a name"));
            }
            if !holidays.insert(date) {
                return Err(problem(Some(line), format!("{date} is listed twice")));
            }
            *by_year.entry(date.year()).or_default() += 1;
        }
        let (Some(&first), Some(&last)) = (by_year.keys().next(), by_year.keys().next_back())
        else {
            return Err(problem(None, "no bank holidays listed"));
        };
        if let Some(gap) = (first..=last).find(|y| !by_year.contains_key(y)) {
            return Err(problem(
                None,
                format!("no bank holiday listed for {gap}, between {first} and {last}"),
            ));
        }
        let calendar = Calendar {
            holidays,
            first: NaiveDate::from_ymd_opt(first, 1, 1).expect("1 January exists"),
            last: NaiveDate::from_ymd_opt(last, 12, 31).expect("31 December exists"),
        };
        let needed = today + Months::new(12);
        if calendar.last < needed {
            return Err(problem(
                None,
                format!(
                    "the calendar ends on {}, less than a year after today ({today}): \
                     list the bank holidays through {} at least",
                    calendar.last,
                    needed.year()
                ),
            ));
        }
        Ok(calendar)
    }

    /// The last day the calendar covers.
    pub fn last(&self) -> NaiveDate {
        self.last
    }

    /// Not a Saturday, a Sunday or a listed bank holiday; an error outside the listed years.
    pub fn is_working_day(&self, day: NaiveDate) -> Result<bool, BeyondCalendar> {
        if day < self.first || day > self.last {
            return Err(BeyondCalendar {
                first: self.first,
                last: self.last,
                needed: day,
            });
        }
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        Ok(!weekend && !self.holidays.contains(&day))
    }
}

impl Timescale {
    /// Parses `clock, start, stop, amount, unit[, applies[, then]]` rows: each clock named once,
    /// `start` is `referral_received` or an event kind, `stop` an event kind, `amount` a whole
    /// number from 1 to [`MAX_AMOUNT`], `applies` `always` (the default) or
    /// `route:<route>[|<route>]`, `then` empty or `<amount> <unit>`.
    pub fn parse_all(text: &str) -> Result<Vec<Timescale>, FileProblem> {
        let mut out: Vec<Timescale> = Vec::new();
        for (line, fields) in rows(text) {
            let at = |m: String| problem(Some(line), m);
            let (clock, start, stop, amount, unit, applies, then) = match fields.as_slice() {
                [c, s, t, a, u] => (*c, *s, *t, *a, *u, "", ""),
                [c, s, t, a, u, ap] => (*c, *s, *t, *a, *u, *ap, ""),
                [c, s, t, a, u, ap, th] => (*c, *s, *t, *a, *u, *ap, *th),
                _ => {
                    return Err(at(
                        "expected: clock, start, stop, amount, unit[, applies[, then]]".into(),
                    ));
                }
            };
            let named = !clock.is_empty()
                && clock
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !named {
                return Err(at(format!("\"{clock}\" is not a clock name ([a-z0-9_])")));
            }
            if out.iter().any(|t| t.clock == clock) {
                return Err(at(format!("clock \"{clock}\" is listed twice")));
            }
            let start = if start == REFERRAL {
                Start::Referral
            } else {
                Start::Event(
                    start
                        .parse()
                        .map_err(|e| at(format!("start: {e}, or {REFERRAL}")))?,
                )
            };
            let stop: EventKind = stop.parse().map_err(|e| at(format!("stop: {e}")))?;
            if start == Start::Event(stop) {
                return Err(at("a clock cannot stop at the event that starts it".into()));
            }
            let Interval { amount, unit } = Interval::parse(amount, unit).map_err(at)?;
            let applies = Applies::parse(applies).map_err(at)?;
            let then = match then.split_whitespace().collect::<Vec<_>>().as_slice() {
                [] => None,
                [amount, unit] => {
                    Some(Interval::parse(amount, unit).map_err(|m| at(format!("then: {m}")))?)
                }
                _ => return Err(at(format!("then \"{then}\" is not \"<amount> <unit>\""))),
            };
            out.push(Timescale {
                clock: clock.to_owned(),
                start,
                stop,
                amount,
                unit,
                applies,
                then,
            });
        }
        Ok(out)
    }
}

/// The instant a London wall-clock reading means (see the module notes for the hours that do
/// not exist or happen twice).
fn london(local: NaiveDateTime) -> DateTime<Utc> {
    match London.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(_, later) => later.with_timezone(&Utc),
        LocalResult::None => london(local + Duration::hours(1)),
    }
}

/// When a clock started at `start` with this `amount` and `unit` is due.
pub fn due_at(
    start: DateTime<Utc>,
    amount: u32,
    unit: Unit,
    calendar: &Calendar,
) -> Result<DateTime<Utc>, BeyondCalendar> {
    let local = start.with_timezone(&London).naive_local();
    Ok(match unit {
        Unit::Hours => start + Duration::hours(i64::from(amount)),
        Unit::Days => london(local + Days::new(u64::from(amount))),
        Unit::Months => london(
            local
                .checked_add_months(Months::new(amount))
                .expect("within chrono's range"),
        ),
        Unit::WorkingDays => {
            let mut day = local.date();
            let mut counted = 0;
            while counted < amount {
                day = day.succ_opt().expect("within chrono's range");
                if calendar.is_working_day(day)? {
                    counted += 1;
                }
            }
            let next = day.succ_opt().expect("within chrono's range");
            london(next.and_time(NaiveTime::MIN)) - Duration::microseconds(1)
        }
    })
}

/// A clock's status at `now`: a stopped clock is met or late by its stop, a running one
/// pending or overdue by `now`. Due exactly at the instant counts as on time.
pub fn status(due: DateTime<Utc>, stopped: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Status {
    match stopped {
        Some(at) if at <= due => Status::Met,
        Some(_) => Status::Late,
        None if now <= due => Status::Pending,
        None => Status::Overdue,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calendar shipped in `policies/`, as of a fixed day.
    fn shipped() -> Calendar {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/bank_holidays.csv"
        ));
        Calendar::parse(text, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn due_times_count_in_london_over_weekends_holidays_and_the_clock_changes() {
        let calendar = shipped();
        // (why, start, amount, unit, due)
        let table: &[(&str, &str, u32, Unit, &str)] = &[
            (
                "48 hours in winter",
                "2026-01-12T09:00:00Z",
                48,
                Unit::Hours,
                "2026-01-14T09:00:00Z",
            ),
            (
                "48 hours across the clocks going forward (29 March 2026): 10:00 BST on the wall",
                "2026-03-28T09:00:00Z",
                48,
                Unit::Hours,
                "2026-03-30T09:00:00Z",
            ),
            (
                "7 days across the clocks going forward keep the wall-clock time (09:00 GMT to 09:00 BST)",
                "2026-03-27T09:00:00Z",
                7,
                Unit::Days,
                "2026-04-03T08:00:00Z",
            ),
            (
                "7 days across the clocks going back (25 October 2026) keep the wall-clock time",
                "2026-10-22T08:00:00Z",
                7,
                Unit::Days,
                "2026-10-29T09:00:00Z",
            ),
            (
                "35 days",
                "2026-01-05T10:00:00Z",
                35,
                Unit::Days,
                "2026-02-09T10:00:00Z",
            ),
            (
                "a day from 29 February is 1 March",
                "2028-02-29T12:00:00Z",
                1,
                Unit::Days,
                "2028-03-01T12:00:00Z",
            ),
            (
                "8 working days from a Monday: the Wednesday week after, end of day (GMT)",
                "2026-01-12T09:00:00Z",
                8,
                Unit::WorkingDays,
                "2026-01-22T23:59:59.999999Z",
            ),
            (
                "8 working days from a Friday skip two weekends",
                "2026-01-16T15:00:00Z",
                8,
                Unit::WorkingDays,
                "2026-01-28T23:59:59.999999Z",
            ),
            (
                "a referral on a Saturday counts from the Monday",
                "2026-01-17T11:00:00Z",
                1,
                Unit::WorkingDays,
                "2026-01-19T23:59:59.999999Z",
            ),
            (
                "Easter 2026: Good Friday 3 April and Easter Monday 6 April skipped; end of day in BST",
                "2026-04-01T09:00:00Z",
                5,
                Unit::WorkingDays,
                "2026-04-10T22:59:59.999999Z",
            ),
            (
                "Easter 2027 falls in March: Good Friday 26 and Easter Monday 29 March skipped",
                "2027-03-24T09:00:00Z",
                3,
                Unit::WorkingDays,
                "2027-03-31T22:59:59.999999Z",
            ),
            (
                "Christmas 2026: 25 and 28 December (Boxing Day substitute) and 1 January skipped",
                "2026-12-23T09:00:00Z",
                3,
                Unit::WorkingDays,
                "2026-12-30T23:59:59.999999Z",
            ),
            (
                "the early May bank holiday 2026 (4 May)",
                "2026-05-01T09:00:00Z",
                1,
                Unit::WorkingDays,
                "2026-05-05T22:59:59.999999Z",
            ),
            (
                "working days across the clocks going back end at midnight GMT",
                "2026-10-23T09:00:00Z",
                1,
                Unit::WorkingDays,
                "2026-10-26T23:59:59.999999Z",
            ),
            (
                "a late-evening BST start is counted from its London date",
                "2026-06-01T23:30:00Z",
                1,
                Unit::WorkingDays,
                "2026-06-03T22:59:59.999999Z",
            ),
            (
                "3 months from 30 November end on 28 February",
                "2026-11-30T10:00:00Z",
                3,
                Unit::Months,
                "2027-02-28T10:00:00Z",
            ),
            (
                "3 months from 30 November 2027 end on 29 February 2028",
                "2027-11-30T10:00:00Z",
                3,
                Unit::Months,
                "2028-02-29T10:00:00Z",
            ),
            (
                "3 months from 31 May end on 31 August, BST both",
                "2026-05-31T09:00:00Z",
                3,
                Unit::Months,
                "2026-08-31T09:00:00Z",
            ),
            (
                "3 months from 31 January end on 30 April, wall-clock time kept into BST",
                "2026-01-31T10:00:00Z",
                3,
                Unit::Months,
                "2026-04-30T09:00:00Z",
            ),
            (
                "a month from 29 February 2028 is 29 March",
                "2028-02-29T10:00:00Z",
                1,
                Unit::Months,
                "2028-03-29T09:00:00Z",
            ),
            (
                "12 months from 29 February 2028 is 28 February 2029 (no calendar needed)",
                "2028-02-29T10:00:00Z",
                12,
                Unit::Months,
                "2029-02-28T10:00:00Z",
            ),
            (
                "a day from 01:30 GMT on the eve of the clocks going forward lands in the skipped hour: 02:30 BST",
                "2026-03-28T01:30:00Z",
                1,
                Unit::Days,
                "2026-03-29T01:30:00Z",
            ),
            (
                "a day to 01:30 on the night the clocks go back is the second 01:30 (GMT)",
                "2026-10-24T00:30:00Z",
                1,
                Unit::Days,
                "2026-10-25T01:30:00Z",
            ),
        ];
        for (why, start, amount, unit, due) in table {
            assert_eq!(
                due_at(utc(start), *amount, *unit, &calendar),
                Ok(utc(due)),
                "{why}"
            );
        }
    }

    #[test]
    fn working_days_past_the_calendar_are_an_error_never_a_guess() {
        let calendar = shipped();
        let start = utc("2028-12-20T09:00:00Z");
        assert_eq!(
            due_at(start, 10, Unit::WorkingDays, &calendar),
            Err(BeyondCalendar {
                first: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                last: NaiveDate::from_ymd_opt(2028, 12, 31).unwrap(),
                needed: NaiveDate::from_ymd_opt(2029, 1, 1).unwrap(),
            })
        );
        assert!(due_at(start, 10, Unit::Days, &calendar).is_ok());
    }

    #[test]
    fn every_status_follows_from_due_stop_and_now() {
        let due = utc("2026-01-14T09:00:00Z");
        let before = utc("2026-01-13T09:00:00Z");
        let after = utc("2026-01-15T09:00:00Z");
        let table = [
            ("stopped before due", Some(before), after, Status::Met),
            ("stopped exactly at due", Some(due), after, Status::Met),
            ("stopped after due", Some(after), after, Status::Late),
            ("running, not yet due", None, before, Status::Pending),
            ("running, due this instant", None, due, Status::Pending),
            ("running past due", None, after, Status::Overdue),
        ];
        for (why, stopped, now, expected) in table {
            assert_eq!(status(due, stopped, now), expected, "{why}");
        }
    }

    #[test]
    fn a_calendar_is_refused_unless_it_reaches_a_year_past_today_without_gaps() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        // through 31 December 2027 would reach 1 December 2027; through 2026 does not
        let short = "2026-12-25, Christmas Day\n2026-12-28, Boxing Day (substitute day)\n";
        let e = Calendar::parse(short, today).unwrap_err();
        assert!(e.message.contains("less than a year after today"), "{e}");
        let gap = "2026-12-25, Christmas\n2028-12-25, Christmas\n";
        let e = Calendar::parse(gap, today).unwrap_err();
        assert!(e.message.contains("no bank holiday listed for 2027"), "{e}");
        let bad = "2026-12-25, Christmas\n2027-13-01, Nonsense\n";
        assert_eq!(Calendar::parse(bad, today).unwrap_err().line, Some(2));
        let twice = "2027-12-27, Christmas\n2027-12-27, Christmas\n";
        assert_eq!(Calendar::parse(twice, today).unwrap_err().line, Some(2));
        assert!(Calendar::parse("", today).is_err());
        // the shipped calendar: the day after it was checked, still a year ahead
        assert!(shipped().last() >= today + Months::new(12));
    }

    #[test]
    fn the_shipped_holidays_are_weekdays_and_include_easter_and_the_substitutes() {
        let calendar = shipped();
        for day in &calendar.holidays {
            assert!(
                !matches!(day.weekday(), Weekday::Sat | Weekday::Sun),
                "{day} is a weekend day: a bank holiday falling on one is listed on its substitute"
            );
        }
        for (y, m, d) in [
            (2025, 4, 18),
            (2025, 4, 21),
            (2026, 4, 3),
            (2026, 4, 6),
            (2026, 12, 28),
            (2027, 3, 26),
            (2027, 3, 29),
            (2027, 12, 27),
            (2027, 12, 28),
            (2028, 1, 3),
            (2028, 4, 14),
            (2028, 4, 17),
        ] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(calendar.is_working_day(day), Ok(false), "{day}");
        }
    }

    #[test]
    fn timescale_rows_are_refused_with_their_line() {
        let cases = [
            (
                "strategy_discussion, referral_received, strategy_discussion_held, 48, fortnights",
                "unit",
            ),
            ("x, referral_received, tea_taken, 1, days", "stop"),
            ("x, kettle_on, review_held, 1, days", "start"),
            ("x, review_held, review_held, 1, days", "cannot stop"),
            ("x, referral_received, review_held, 0, days", "amount"),
            ("x, referral_received, review_held, 10000, months", "amount"),
            ("X y, referral_received, review_held, 1, days", "clock name"),
            ("x, referral_received, review_held, 1", "expected"),
        ];
        for (row, says) in cases {
            let text = format!("# header\n{row}\n");
            let e = Timescale::parse_all(&text).unwrap_err();
            assert_eq!(e.line, Some(2), "{row}");
            assert!(e.message.contains(says), "{row}: {e}");
        }
        let twice =
            "a, referral_received, review_held, 1, days\na, plan_agreed, review_held, 1, days\n";
        assert!(
            Timescale::parse_all(twice)
                .unwrap_err()
                .message
                .contains("twice")
        );
    }

    #[test]
    fn the_shipped_timescales_are_the_defaults_of_the_process_contract() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/timescales.csv"
        ));
        use EventKind::*;
        use Route::*;
        let s47 = Applies::Routes(vec![S47Enquiry]);
        let expected = [
            (
                "strategy_discussion",
                Start::Referral,
                StrategyDiscussionHeld,
                48,
                Unit::Hours,
                Applies::Always,
                None,
            ),
            (
                "initial_assessment",
                Start::Referral,
                InitialAssessmentCompleted,
                7,
                Unit::Days,
                Applies::Always,
                None,
            ),
            (
                "strategy_meeting",
                Start::Referral,
                StrategyMeetingHeld,
                8,
                Unit::WorkingDays,
                s47.clone(),
                None,
            ),
            (
                "minutes",
                Start::Event(StrategyMeetingHeld),
                MinutesCirculated,
                5,
                Unit::WorkingDays,
                s47,
                None,
            ),
            (
                "assessment",
                Start::Referral,
                AssessmentCompleted,
                35,
                Unit::Days,
                Applies::Routes(vec![S47Enquiry, SingleAssessment]),
                None,
            ),
            (
                "review",
                Start::Event(PlanAgreed),
                ReviewHeld,
                3,
                Unit::Months,
                Applies::Always,
                Some(Interval {
                    amount: 6,
                    unit: Unit::Months,
                }),
            ),
            (
                "end_summary",
                Start::Event(InterventionEnded),
                EndSummaryShared,
                14,
                Unit::Days,
                Applies::Always,
                None,
            ),
        ]
        .map(
            |(clock, start, stop, amount, unit, applies, then)| Timescale {
                clock: clock.to_owned(),
                start,
                stop,
                amount,
                unit,
                applies,
                then,
            },
        );
        assert_eq!(Timescale::parse_all(text).unwrap(), expected);
    }

    #[test]
    fn the_profiles_differ_where_their_protocols_do() {
        let read = |p: &str| {
            let root = env!("CARGO_MANIFEST_DIR");
            Timescale::parse_all(
                &std::fs::read_to_string(format!("{root}/policies/timescales/{p}.csv")).unwrap(),
            )
            .unwrap()
        };
        let (wales, england) = (read("wales"), read("england"));
        let find = |t: &[Timescale], c: &str| t.iter().find(|t| t.clock == c).cloned();
        let meeting = |t: &[Timescale]| find(t, "strategy_meeting").map(|t| (t.amount, t.unit));
        assert_eq!(meeting(&wales), Some((8, Unit::WorkingDays)));
        assert_eq!(meeting(&england), Some((3, Unit::WorkingDays)));
        assert!(find(&wales, "initial_assessment").is_some());
        assert!(
            find(&england, "initial_assessment").is_none(),
            "no 7-day initial assessment in England"
        );
        assert_eq!(
            find(&england, "assessment").map(|t| (t.amount, t.unit)),
            Some((35, Unit::Days))
        );
    }

    #[test]
    fn applies_and_then_are_checked_with_their_line() {
        let row = |extra: &str| {
            Timescale::parse_all(&format!(
                "a, referral_received, review_held, 3, days{extra}\n"
            ))
        };
        assert_eq!(row("").unwrap()[0].applies, Applies::Always);
        assert_eq!(row(", always,").unwrap()[0].then, None);
        assert_eq!(
            row(", route:early_help|no_further_action").unwrap()[0].applies,
            Applies::Routes(vec![Route::EarlyHelp, Route::NoFurtherAction])
        );
        assert_eq!(
            row(", always, 2 weeks").unwrap_err().to_string(),
            "line 1: then: unit \"weeks\" is not one of: hours, days, working_days, months"
        );
        assert!(
            row(", route:arrest")
                .unwrap_err()
                .to_string()
                .contains("unknown route")
        );
        assert!(
            row(", sometimes")
                .unwrap_err()
                .to_string()
                .contains("applies")
        );
        assert!(row(", always, 6").unwrap_err().to_string().contains("then"));
    }
}
