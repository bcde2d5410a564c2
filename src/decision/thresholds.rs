//! Screening thresholds (`policies/thresholds.csv`; PROCESS.md, Screening): which routes a
//! screening level permits. A route the latest screening does not permit is "below the
//! threshold": `actions.csv` says who may still decide it (`decide_route_below_threshold`).

use super::clocks::{FileProblem, problem, rows};
use crate::vocab::{Route, ScreeningLevel};

/// The routes each screening level permits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thresholds {
    permits: Vec<(ScreeningLevel, Vec<Route>)>,
}

impl Thresholds {
    /// Parses `level, permits` rows: `permits` is routes joined by `|`, or `*` for every
    /// route. Every level is listed exactly once, so no screening is silently unbounded.
    pub fn parse(text: &str) -> Result<Thresholds, FileProblem> {
        let mut permits: Vec<(ScreeningLevel, Vec<Route>)> = Vec::new();
        for (line, fields) in rows(text) {
            let at = |m: String| problem(Some(line), m);
            let [level, routes] = fields.as_slice() else {
                return Err(at("expected: level, permits".into()));
            };
            let level: ScreeningLevel = level.parse().map_err(|e| at(format!("{e}")))?;
            if permits.iter().any(|(l, _)| *l == level) {
                return Err(at(format!("level \"{level}\" is listed twice")));
            }
            let routes = if *routes == "*" {
                Route::ALL.to_vec()
            } else {
                routes
                    .split('|')
                    .map(|r| r.trim().parse::<Route>().map_err(|e| at(format!("{e}"))))
                    .collect::<Result<Vec<_>, _>>()?
            };
            permits.push((level, routes));
        }
        if let Some(missing) = ScreeningLevel::ALL
            .iter()
            .find(|l| !permits.iter().any(|(p, _)| p == *l))
        {
            return Err(problem(
                None,
                format!("level \"{missing}\" is not listed: say which routes it permits"),
            ));
        }
        Ok(Thresholds { permits })
    }

    /// Whether a screening at `level` permits `route`.
    pub fn permits(&self, level: ScreeningLevel, route: Route) -> bool {
        self.permits
            .iter()
            .any(|(l, routes)| *l == level && routes.contains(&route))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_thresholds_are_the_contracts() {
        let text = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/thresholds.csv"
        ));
        let t = Thresholds::parse(text).unwrap();
        use Route::*;
        use ScreeningLevel::*;
        for (level, route, permitted) in [
            (Red, S47Enquiry, true),
            (Red, SingleAssessment, false),
            (Red, EarlyHelp, false),
            (Red, NoFurtherAction, false),
            (Amber, S47Enquiry, true),
            (Amber, SingleAssessment, true),
            (Amber, EarlyHelp, false),
            (Amber, NoFurtherAction, false),
            (Green, NoFurtherAction, true),
            (Green, EarlyHelp, true),
            (Green, S47Enquiry, true),
        ] {
            assert_eq!(t.permits(level, route), permitted, "{level} {route}");
        }
    }

    #[test]
    fn a_level_missing_twice_listed_or_unknown_is_refused_with_its_line() {
        let missing = Thresholds::parse("red, s47_enquiry\namber, *\n").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "level \"green\" is not listed: say which routes it permits"
        );
        let twice = Thresholds::parse("red, *\nred, *\n").unwrap_err();
        assert_eq!(twice.line, Some(2));
        let unknown = Thresholds::parse("purple, *\n").unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("line 1: unknown screening level")
        );
        let route = Thresholds::parse("red, arrest\n").unwrap_err();
        assert!(route.to_string().contains("unknown route"), "{route}");
    }
}
