//! The timeliness report's chart: the on-time rate of each clock as a horizontal bar, drawn as
//! SVG on the server (`console/templates/chart.html`), so it needs no script and no inline
//! style (the CSP allows neither: the colours are classes of `console.css`). It is an image
//! with a title and a description for assistive technology; its numbers are also the report's
//! table. Pure: the geometry is computed here from the report's lines and unit-tested.

use askama::Template;

use crate::cases::report::Line;

/// The width of a full (100%) bar, in the chart's units.
const BAR_WIDTH: i64 = 360;
/// Where the bars start at the least (the clock names are left of it; a longer name moves
/// them right).
const BAR_X: i64 = 230;
/// A generous width of one character of the chart's text, in the chart's units (the text is
/// GOV.UK's 16px type), so no name or value is clipped.
const CHAR: i64 = 9;
/// The height of one clock's row, and of its bar.
const ROW: i64 = 40;
const BAR_HEIGHT: i64 = 24;
/// The margin above the first row.
const TOP: i64 = 8;

/// The on-time rate of a clock: of its clocks that are decided (stopped, overdue, or left
/// unmet by a closed case, i.e. every started one not still pending), the share met on time,
/// as a whole percentage (rounded half up) with its numerator and denominator; `None` when
/// none is decided yet (no started clock, or all pending): "no data", never a division by zero.
pub fn rate(line: &Line) -> Option<Rate> {
    let decided = line.started - line.pending;
    (decided > 0).then(|| Rate {
        percent: (line.met_on_time * 200 + decided) / (2 * decided),
        on_time: line.met_on_time,
        decided,
    })
}

/// An on-time rate (see [`rate`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub percent: i64,
    pub on_time: i64,
    pub decided: i64,
}

impl Rate {
    /// `67% (2 of 3)`.
    pub fn text(&self) -> String {
        format!("{}% ({} of {})", self.percent, self.on_time, self.decided)
    }
}

/// One clock's bar.
#[derive(Debug)]
pub struct Bar {
    pub clock: String,
    pub label: String,
    /// The row's top and the baseline of its text.
    pub y: i64,
    pub text_y: i64,
    /// The value bar's width (`None`: no data, no bar drawn).
    pub width: Option<i64>,
    /// What the bar says: the rate, or "no data".
    pub value: String,
}

/// The chart as the template draws it.
#[derive(Template, Debug)]
#[template(path = "chart.html")]
pub struct Chart {
    pub bars: Vec<Bar>,
    pub width: i64,
    pub height: i64,
    pub bar_x: i64,
    pub bar_width: i64,
    pub bar_height: i64,
    pub value_x: i64,
    pub description: String,
}

/// The chart of `lines` (one bar per line, in order).
pub fn chart(lines: &[Line]) -> Chart {
    let bars: Vec<Bar> = lines
        .iter()
        .zip(0..)
        .map(|(l, i)| {
            let rate = rate(l);
            let y = TOP + i * ROW;
            Bar {
                clock: l.clock.clone(),
                label: l.clock.replace('_', " "),
                y,
                text_y: y + BAR_HEIGHT / 2 + 6,
                width: rate.map(|r| r.on_time * BAR_WIDTH / r.decided),
                value: rate.map_or_else(|| "no data".to_owned(), |r| r.text()),
            }
        })
        .collect();
    let description = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.value))
        .collect::<Vec<_>>()
        .join("; ");
    let longest = |text: fn(&Bar) -> &str| {
        bars.iter()
            .map(|b| text(b).chars().count() as i64)
            .max()
            .unwrap_or(0)
    };
    let bar_x = BAR_X.max(longest(|b| &b.label) * CHAR + 10);
    let value_x = bar_x + BAR_WIDTH + 10;
    Chart {
        height: TOP * 2 + ROW * bars.len() as i64,
        width: value_x + longest(|b| &b.value).max(10) * CHAR,
        bars,
        bar_x,
        bar_width: BAR_WIDTH,
        bar_height: BAR_HEIGHT,
        value_x,
        description: format!(
            "The share of each clock's decided clocks that met their timescale. {description}."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(clock: &str, [started, on_time, late, overdue, pending, unmet]: [i64; 6]) -> Line {
        Line {
            clock: clock.to_owned(),
            started,
            met_on_time: on_time,
            met_late: late,
            overdue_now: overdue,
            pending,
            closed_unmet: unmet,
            not_required: 0,
            median_hours: None,
        }
    }

    #[test]
    fn the_rate_counts_the_decided_clocks_and_is_none_without_any() {
        let cases = [
            ([3, 3, 0, 0, 0, 0], Some((100, 3))),
            ([2, 0, 1, 1, 0, 0], Some((0, 2))),
            ([4, 2, 0, 1, 1, 0], Some((67, 3))),
            ([3, 1, 0, 0, 1, 1], Some((50, 2))),
            ([8, 1, 7, 0, 0, 0], Some((13, 8))),
            ([0, 0, 0, 0, 0, 0], None),
            ([2, 0, 0, 0, 2, 0], None),
        ];
        for (counts, expected) in cases {
            let got = rate(&line("x", counts)).map(|r| (r.percent, r.decided));
            assert_eq!(got, expected, "{counts:?}");
        }
    }

    #[test]
    fn the_chart_draws_a_bar_per_clock_full_empty_or_no_data() {
        let chart = chart(&[
            line("strategy_discussion", [3, 3, 0, 0, 0, 0]),
            line("initial_assessment", [2, 0, 2, 0, 0, 0]),
            line("end_summary", [0, 0, 0, 0, 0, 0]),
        ]);
        let widths: Vec<Option<i64>> = chart.bars.iter().map(|b| b.width).collect();
        assert_eq!(widths, [Some(BAR_WIDTH), Some(0), None]);
        let svg = chart.render().expect("the chart renders");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("role=\"img\""), "{svg}");
        assert!(svg.contains("<title id=\"chart-title\">"), "{svg}");
        assert!(svg.contains("<desc id=\"chart-desc\">"), "{svg}");
        assert_eq!(svg.matches("class=\"app-chart__bar\"").count(), 3, "{svg}");
        assert_eq!(
            svg.matches("class=\"app-chart__value\"").count(),
            2,
            "{svg}"
        );
        assert_eq!(
            svg.matches("class=\"app-chart__track\"").count(),
            3,
            "{svg}"
        );
        for text in [
            ">strategy discussion<",
            ">100% (3 of 3)<",
            ">0% (0 of 2)<",
            ">no data<",
            "end summary: no data",
        ] {
            assert!(svg.contains(text), "{text} in {svg}");
        }
        assert!(!svg.contains("style"), "no inline style: {svg}");
    }

    #[test]
    fn a_long_clock_name_or_a_large_count_moves_the_bars_or_widens_the_chart() {
        let short = chart(&[line("minutes", [3, 3, 0, 0, 0, 0])]);
        // "100% (3 of 3)": 13 characters
        assert_eq!(
            (short.bar_x, short.width),
            (BAR_X, BAR_X + BAR_WIDTH + 10 + 13 * CHAR)
        );
        let name = "initial_assessment_of_a_child_referred_by_a_school";
        let long = chart(&[line(name, [12345, 12345, 0, 0, 0, 0])]);
        let (label, value) = (&long.bars[0].label, &long.bars[0].value);
        assert_eq!(value, "100% (12345 of 12345)");
        assert!(long.bar_x >= label.len() as i64 * CHAR, "{long:?}");
        assert!(
            long.width >= long.value_x + value.len() as i64 * CHAR,
            "{long:?}"
        );
    }

    #[test]
    fn a_report_without_clocks_draws_an_empty_chart() {
        let chart = chart(&[]);
        assert!(chart.bars.is_empty());
        assert_eq!(chart.height, TOP * 2);
        assert!(chart.render().expect("renders").contains("<svg"));
    }
}
