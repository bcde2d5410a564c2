//! Reading the policy's files: comma-separated rows with their lines, each term checked
//! against the vocabulary of its column, the age bands and the numeric parameters.

#![allow(unused_imports)]
use super::*;

/// Comma-separated rows, `#` comments and blank lines skipped, fields trimmed.
pub(super) fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let line = raw.split('#').next().unwrap_or("").trim();
            (!line.is_empty()).then(|| Row {
                line: i + 1,
                fields: line.split(',').map(|f| f.trim().to_owned()).collect(),
            })
        })
        .collect()
}

pub(super) fn check_term(col: Col, value: &str, bands: &[AgeBand]) -> Result<(), String> {
    if value == "*" {
        return Ok(());
    }
    fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), String> {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(format!(
                "unknown {what} \"{value}\" (expected one of: {})",
                allowed.join(", ")
            ))
        }
    }
    let parsed = match col {
        Col::Role => value.parse::<Role>().map(drop),
        Col::RecordKind => value.parse::<RecordKind>().map(drop),
        Col::Basis => value.parse::<Basis>().map(drop),
        Col::AgencyKind => value.parse::<AgencyKind>().map(drop),
        Col::Section => value.parse::<Section>().map(drop),
        Col::Purpose => value.parse::<Purpose>().map(drop),
        Col::View => value.parse::<View>().map(drop),
        Col::Giver => value.parse::<Giver>().map(drop),
        Col::SubjectRole => value.parse::<SubjectRole>().map(drop),
        Col::Band => {
            let names: Vec<&str> = bands.iter().map(|b| b.name.as_str()).collect();
            return one_of("age band", value, &names);
        }
        Col::Gillick => return one_of("gillick assessment", value, GILLICK),
        Col::Capacity => return one_of("capacity assessment", value, CAPACITY),
        Col::BasisRequirement => return one_of("basis requirement", value, BASIS_REQUIREMENTS),
        Col::RecipientRequirement => {
            return one_of("recipient requirement", value, RECIPIENT_REQUIREMENTS);
        }
        Col::Control => return one_of("record control", value, CONTROLS),
        Col::Action => value.parse::<crate::vocab::Action>().map(drop),
        Col::Relation => return one_of("relation", value, RELATIONS),
        Col::MappaConsequence => {
            return one_of("MAPPA consequence", value, MAPPA_CONSEQUENCES);
        }
        Col::OwnedAct => return one_of("act", value, OWNED_ACTS),
        Col::AreaTie => return one_of("tie to the child", value, AREA_TIES),
        Col::Ownership => return one_of("relation to the record", value, OWNERSHIP),
        Col::Duty => {
            return if !value.is_empty() && value.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                Ok(())
            } else {
                Err(format!(
                    "duty name \"{value}\" is not lower_snake_case (a duty of duties.csv)"
                ))
            };
        }
    };
    parsed.map_err(|e| e.to_string())
}

pub(super) fn load_bands(files: &Files) -> Result<Vec<AgeBand>, PolicyError> {
    let path = files.path("age_bands.csv");
    let text = files.get("age_bands.csv")?;
    let mut bands: Vec<AgeBand> = Vec::new();
    for row in rows(text) {
        let [name, min, max] = row.fields.as_slice() else {
            return Err(err(
                &path,
                Some(row.line),
                "expected `band, min_age, max_age`",
            ));
        };
        let age = |s: &str| {
            s.parse::<i32>()
                .ok()
                .filter(|a| (0..=200).contains(a))
                .ok_or_else(|| {
                    err(
                        &path,
                        Some(row.line),
                        format!("\"{s}\" is not an age in years"),
                    )
                })
        };
        let (min, max) = (age(min)?, age(max)?);
        if min > max || name.is_empty() || name == "*" {
            return Err(err(
                &path,
                Some(row.line),
                "a band needs a name and min <= max",
            ));
        }
        if bands.iter().any(|b| &b.name == name) {
            return Err(err(
                &path,
                Some(row.line),
                format!("duplicate band \"{name}\""),
            ));
        }
        bands.push(AgeBand {
            name: name.clone(),
            min,
            max,
        });
    }
    Ok(bands)
}

/// The numeric parameters of `parameters.csv`: (justification_min_chars, rationale_min_chars).
pub(super) fn load_parameters(files: &Files) -> Result<(usize, usize), PolicyError> {
    let path = files.path("parameters.csv");
    let text = files.get("parameters.csv")?;
    let mut justification = None;
    let mut rationale = None;
    for row in rows(text) {
        match row.fields.as_slice() {
            [name, value] if name == "justification_min_chars" || name == "rationale_min_chars" => {
                let slot = if name == "justification_min_chars" {
                    &mut justification
                } else {
                    &mut rationale
                };
                *slot = Some(value.parse::<usize>().map_err(|_| {
                    err(
                        &path,
                        Some(row.line),
                        format!("\"{value}\" is not a number"),
                    )
                })?);
            }
            other => {
                return Err(err(
                    &path,
                    Some(row.line),
                    format!("unknown parameter \"{}\"", other.first().map_or("", |s| s)),
                ));
            }
        }
    }
    let justification =
        justification.ok_or_else(|| err(&path, None, "justification_min_chars is missing"))?;
    let rationale = rationale.ok_or_else(|| err(&path, None, "rationale_min_chars is missing"))?;
    Ok((justification, rationale))
}

/// The request fields a model declares (`r = a, b, c`).
pub(super) fn request_definition(text: &str) -> Option<Vec<String>> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[request_definition]";
        } else if in_section && let Some(rest) = line.strip_prefix("r") {
            let rest = rest.trim_start().strip_prefix('=')?;
            return Some(rest.split(',').map(|f| f.trim().to_owned()).collect());
        }
    }
    None
}
