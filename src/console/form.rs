//! The console's form kit. A POST form (`application/x-www-form-urlencoded`) is decoded
//! strictly: a name or value that is not UTF-8 once percent-decoded, or a field sent twice that
//! the handler did not declare a list, is refused with a 400 page naming it (`invalid_form`), as
//! the API refuses such a query or JSON body; nothing is replaced by U+FFFD and no field
//! silently wins.
//!
//! A page then turns the fields into the API's own request body and parses it with the API's
//! own type ([`FormFields::to_json`] by a [`Field`] spec, then [`parse`]): the field names are
//! the API's JSON member names (CONSOLE.md, Forms), a date is three inputs (`<field>-day`,
//! `-month`, `-year`) and a time two more (`-hour`, `-minute`, UK time), a list is a repeated
//! field, a record's sections are `sections[<section>]`. What is refused, by the form or by the
//! action, becomes [`Errors`] (field → message) and the page is shown again with what was
//! typed ([`Form`]), an error summary and each message beside its field: never a dead end.
//! The templates' side is `console/templates/kit.html` (askama macros).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use chrono::{DateTime, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::view::{Refusal, error_page, refused};
use crate::error::ApiError;
use crate::routes::extract::form_decode;

/// A POST form as the handlers take it. A body that is not a form counts as an empty one, so
/// its missing CSRF token is what refuses it (403); a form that does not decode is refused
/// (400) when the handler asks for its [`fields`].
pub struct Posted(Result<Option<Bytes>, Refusal>);

/// The fields of a [`Posted`] form (none when the body was not a form), each name once, or the
/// page refusing a form that does not decode.
pub fn fields(posted: Posted) -> Result<FormFields, Refusal> {
    fields_with(posted, &[])
}

/// As [`fields`], the names in `lists` allowed to repeat (checkboxes: `purposes`, `seq`).
pub fn fields_with(posted: Posted, lists: &[&str]) -> Result<FormFields, Refusal> {
    match posted.0? {
        Some(body) => FormFields::decode_with(&body, lists).map_err(refused),
        None => Ok(FormFields::default()),
    }
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_form(req.headers()) {
            return Ok(Posted(Ok(None)));
        }
        let body = match Bytes::from_request(req, state).await {
            Ok(body) => Ok(Some(body)),
            Err(e) => Err(error_page(
                e.status(),
                "There is a problem",
                &format!(
                    "The form could not be read: {}",
                    crate::text::escape(&e.body_text())
                ),
            )),
        };
        Ok(Posted(body))
    }
}

/// `application/x-www-form-urlencoded`, parameters allowed.
fn is_form(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A form's fields as sent: each name once, except the names declared lists.
#[derive(Debug, Default, Clone)]
pub struct FormFields(HashMap<String, Vec<String>>);

impl FormFields {
    /// `body` as fields: UTF-8 once percent-decoded (`+` a space), no name twice.
    pub fn decode(body: &[u8]) -> Result<FormFields, ApiError> {
        Self::decode_with(body, &[])
    }

    /// As [`FormFields::decode`], the names in `lists` allowed to repeat.
    pub fn decode_with(body: &[u8], lists: &[&str]) -> Result<FormFields, ApiError> {
        let refuse =
            |detail: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_form", detail);
        let text =
            std::str::from_utf8(body).map_err(|_| refuse("the form is not UTF-8".to_owned()))?;
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = form_decode(raw_name).ok_or_else(|| {
                refuse(format!(
                    "the field name \"{}\" is not UTF-8 once percent-decoded",
                    crate::text::escape(raw_name)
                ))
            })?;
            let shown = crate::text::escape(&name);
            let value = form_decode(raw_value).ok_or_else(|| {
                refuse(format!(
                    "the field {shown} is not UTF-8 once percent-decoded"
                ))
            })?;
            let values = fields.entry(name).or_default();
            if !values.is_empty() && !lists.contains(&shown.as_str()) {
                return Err(refuse(format!("the field {shown} is sent more than once")));
            }
            values.push(value);
        }
        Ok(FormFields(fields))
    }

    /// A field's value (the first, for a list).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of a repeated field, in the order sent.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// A field's value trimmed, `None` when absent or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Sets a field (a page's defaults, e.g. the child a link named).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(name.to_owned(), vec![value.into()]);
    }

    /// The names sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The text rule of the API (`crate::text`): free text for `free`, one line for the rest.
    /// A dead-end page: for fields a person types, use [`FormFields::to_json`], whose refusals
    /// go beside the field.
    pub fn check(&self, free: &[&str]) -> Result<(), Refusal> {
        match self.problems(free).first() {
            None => Ok(()),
            Some((name, why)) => Err(error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                "There is a problem",
                &format!("The field {} {why}.", crate::text::escape(name)),
            )),
        }
    }

    /// Every field that breaks the text rule, with why.
    fn problems(&self, free: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, values) in &self.0 {
            let kind = if free.contains(&name.as_str()) {
                crate::text::Kind::FreeText
            } else {
                crate::text::Kind::SingleLine
            };
            for value in values {
                if let Some(why) = crate::text::problem(value, kind) {
                    out.push((name.clone(), why.to_string()));
                }
            }
        }
        out.sort();
        out
    }

    /// A date typed as three inputs `<field>-day`, `-month`, `-year`: `Ok(None)` when all three
    /// are blank; otherwise the date, or what is wrong in GOV.UK's words about `label`.
    pub fn date(&self, field: &str, label: &str) -> Result<Option<NaiveDate>, String> {
        let part = |p: &str| self.text(&format!("{field}-{p}"));
        let (day, month, year) = (part("day"), part("month"), part("year"));
        if day.is_none() && month.is_none() && year.is_none() {
            return Ok(None);
        }
        let missing: Vec<&str> = [("a day", day), ("a month", month), ("a year", year)]
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(n, _)| *n)
            .collect();
        if !missing.is_empty() {
            return Err(format!("{label} must include {}", missing.join(" and ")));
        }
        let number = |v: Option<&str>| v.and_then(|v| v.parse::<u32>().ok());
        let (Some(d), Some(m), Some(y)) = (number(day), number(month), number(year)) else {
            return Err(format!("{label} must be a real date"));
        };
        if !(1000..=9999).contains(&y) {
            return Err(format!("{label}: the year must include 4 numbers"));
        }
        NaiveDate::from_ymd_opt(y as i32, m, d)
            .map(Some)
            .ok_or_else(|| format!("{label} must be a real date"))
    }

    /// A date and time typed as five inputs (the date's three, `<field>-hour` and `-minute`,
    /// 24-hour) in UK time, as the instant it names; `Ok(None)` when all five are blank. An hour
    /// the clocks skip in spring is refused; an hour they repeat in autumn is the first.
    pub fn datetime(&self, field: &str, label: &str) -> Result<Option<DateTime<Utc>>, String> {
        let hour = self.text(&format!("{field}-hour"));
        let minute = self.text(&format!("{field}-minute"));
        let date = self.date(field, label)?;
        let Some(date) = date else {
            if hour.is_none() && minute.is_none() {
                return Ok(None);
            }
            return Err(format!("{label} must include a date"));
        };
        let Some(hour) = hour else {
            return Err(format!("{label} must include a time"));
        };
        let h = hour.parse::<u32>().ok();
        let m = minute.map_or(Some(0), |m| m.parse::<u32>().ok());
        let time = h
            .zip(m)
            .and_then(|(h, m)| NaiveTime::from_hms_opt(h, m, 0))
            .ok_or_else(|| format!("{label} must be a real time, from 00:00 to 23:59"))?;
        match London.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                Ok(Some(at.with_timezone(&Utc)))
            }
            LocalResult::None => Err(format!(
                "{label}: that time did not happen in the UK (the clocks went forward)"
            )),
        }
    }

    /// The request body the fields describe, as the API would receive it, by `spec`, with
    /// what is wrong in the fields themselves (a date that is not one, a number that is not
    /// one, the text rule). Blank single fields are left out, so the API's own "required"
    /// refusal names them.
    pub fn to_json(&self, spec: &[Field<'_>]) -> (Value, Errors) {
        let mut body = Map::new();
        let mut errors = Errors::default();
        for field in spec {
            match *field {
                Field::Text(name) => {
                    if let Some(v) = self.get(name).filter(|v| !v.trim().is_empty()) {
                        body.insert(name.to_owned(), Value::from(v));
                    }
                }
                Field::Trimmed(name) => {
                    if let Some(v) = self.text(name) {
                        body.insert(name.to_owned(), Value::from(v));
                    }
                }
                Field::List(name) => {
                    let values: Vec<Value> = self
                        .all(name)
                        .into_iter()
                        .filter(|v| !v.trim().is_empty())
                        .map(Value::from)
                        .collect();
                    body.insert(name.to_owned(), Value::Array(values));
                }
                Field::Bool(name) => match self.text(name) {
                    Some("true" | "yes") => {
                        body.insert(name.to_owned(), Value::Bool(true));
                    }
                    Some("false" | "no") => {
                        body.insert(name.to_owned(), Value::Bool(false));
                    }
                    Some(_) => errors.add(name, "Choose yes or no"),
                    None => {}
                },
                Field::Int(name, label) => {
                    if let Some(v) = self.text(name) {
                        match v.parse::<i64>() {
                            Ok(n) => {
                                body.insert(name.to_owned(), Value::from(n));
                            }
                            Err(_) => errors.add(name, &format!("{label} must be a number")),
                        }
                    }
                }
                Field::Date(name, label) => match self.date(name, label) {
                    Ok(Some(d)) => {
                        body.insert(name.to_owned(), Value::from(d.to_string()));
                    }
                    Ok(None) => {}
                    Err(why) => errors.add(name, &why),
                },
                Field::DateTime(name, label) => match self.datetime(name, label) {
                    Ok(Some(at)) => {
                        body.insert(
                            name.to_owned(),
                            Value::from(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                        );
                    }
                    Ok(None) => {}
                    Err(why) => errors.add(name, &why),
                },
                Field::Sections(name) => {
                    let prefix = format!("{name}[");
                    let mut sections = Map::new();
                    let mut keys: Vec<&String> = self.0.keys().collect();
                    keys.sort();
                    for key in keys {
                        if let Some(section) =
                            key.strip_prefix(&prefix).and_then(|k| k.strip_suffix(']'))
                            && let Some(v) = self.get(key).filter(|v| !v.trim().is_empty())
                        {
                            sections.insert(section.to_owned(), Value::from(v));
                        }
                    }
                    body.insert(name.to_owned(), Value::Object(sections));
                }
            }
        }
        let value = Value::Object(body);
        if let Err((path, why)) =
            crate::text::check_json(&value, crate::routes::extract::FREE_TEXT_FIELDS)
        {
            errors.add(&form_field(&path), &format!("This {why}"));
        }
        (value, errors)
    }
}

/// How a form field becomes a member of the API's request body ([`FormFields::to_json`]).
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A string as typed (free text keeps its lines); blank is left out.
    Text(&'a str),
    /// A string trimmed; blank is left out.
    Trimmed(&'a str),
    /// A repeated field (checkboxes): an array, empty when none is ticked.
    List(&'a str),
    /// `true`/`yes` or `false`/`no` (radios).
    Bool(&'a str),
    /// A whole number, with the label its refusal names.
    Int(&'a str, &'a str),
    /// Three inputs `<name>-day/-month/-year`: `YYYY-MM-DD`.
    Date(&'a str, &'a str),
    /// Five inputs in UK time: an RFC 3339 instant.
    DateTime(&'a str, &'a str),
    /// `<name>[<section>]` text areas: an object of the filled ones.
    Sections(&'a str),
}

/// The form's fields and what a person calls each: (field name, label), e.g.
/// `("date_of_birth", "Date of birth")`. A refusal's message starts with the label.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// The request body `value` as the API's type `T`, exactly as the API parses it; a refusal
/// names the form field it is about, by its label in `labels`.
pub fn parse<T: DeserializeOwned>(value: Value, labels: Labels<'_>) -> Result<T, Errors> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let mut errors = Errors::default();
        let message = e.inner().to_string();
        let missing = message
            .strip_prefix("missing field `")
            .map(|m| m.trim_end_matches('`').to_owned());
        let field = match (&missing, path.as_str()) {
            (Some(name), ".") => name.clone(),
            (_, ".") => String::new(),
            _ => form_field(&path),
        };
        let message = match missing {
            Some(_) => format!("Enter {}", label_of(labels, &field).to_lowercase()),
            None => worded(labels, &field, &message),
        };
        errors.add(&field, &message);
        errors
    })
}

/// What a person calls `field` (its label, or its name in words).
fn label_of(labels: Labels<'_>, field: &str) -> String {
    let top = field.split('[').next().unwrap_or(field);
    labels
        .iter()
        .find(|(f, _)| *f == top)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| super::labels::humanise(top))
}

/// A refusal's message about `field` as a sentence that names it: "Date of birth is in the
/// future".
fn worded(labels: Labels<'_>, field: &str, message: &str) -> String {
    if field.is_empty() {
        return plain(message);
    }
    format!("{} {message}", label_of(labels, field))
}

/// The form field of a JSON path: `purposes[0]` → `purposes`, `sections.summary` →
/// `sections[summary]`.
fn form_field(path: &str) -> String {
    let top = path.split('[').next().unwrap_or(path);
    match top.split_once('.') {
        Some((name, member)) => format!("{name}[{member}]"),
        None => top.to_owned(),
    }
}

/// A message that names no field, as a sentence.
fn plain(message: &str) -> String {
    let mut m = message.to_owned();
    if let Some(first) = m.get(..1) {
        m.replace_range(..1, &first.to_uppercase());
    }
    m
}

/// What is wrong with a form: messages by field (`""` for the form as a whole), in the order
/// found, at most one per field.
#[derive(Debug, Default, Clone)]
pub struct Errors(Vec<(String, String)>);

impl Errors {
    pub fn add(&mut self, field: &str, message: &str) {
        if !self.0.iter().any(|(f, _)| f == field) {
            self.0.push((field.to_owned(), message.to_owned()));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message beside `field`, if any.
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }

    /// Every (field, message), for the error summary.
    pub fn items(&self) -> &[(String, String)] {
        &self.0
    }

    /// Adds `other`'s messages.
    pub fn extend(&mut self, other: Errors) {
        for (f, m) in other.0 {
            self.add(&f, &m);
        }
    }

    /// An action's refusal as a form's errors: an `invalid_field` (or a code of its own whose
    /// detail starts `<field>: `) naming a field of `labels` goes beside it, worded with the
    /// field's label; anything else goes to the top of the form.
    pub fn from_api(e: &ApiError, labels: Labels<'_>) -> Errors {
        let mut errors = Errors::default();
        let detail = e.detail.as_str();
        let named = detail.split_once(": ").and_then(|(path, message)| {
            let field = form_field(path);
            labels
                .iter()
                .any(|(f, _)| *f == field || field.starts_with(&format!("{f}[")))
                .then_some((field, message))
        });
        match named {
            Some((field, message)) => errors.add(&field, &worded(labels, &field, message)),
            None => errors.add("", &plain(detail)),
        }
        errors
    }
}

/// A form as a page shows it: what was typed and what was refused. `Form::default()` is a new,
/// empty form.
#[derive(Debug, Default, Clone)]
pub struct Form {
    pub values: FormFields,
    pub errors: Errors,
}

impl Form {
    /// A form re-shown with what was typed and why it was refused.
    pub fn refused(values: FormFields, errors: Errors) -> Form {
        Form { values, errors }
    }

    /// A field's typed value ("" for none).
    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).unwrap_or_default()
    }

    /// A date part (`day`, `month`, `year`, `hour`, `minute`) of a date field.
    pub fn part(&self, name: &str, part: &str) -> &str {
        self.values
            .get(&format!("{name}-{part}"))
            .unwrap_or_default()
    }

    /// Whether `value` was chosen for `name` (a radio, a checkbox or an option).
    pub fn chosen(&self, name: &str, value: &str) -> bool {
        self.values.all(name).contains(&value)
    }

    /// The message beside `name`, or "".
    pub fn error(&self, name: &str) -> &str {
        self.errors.of(name).unwrap_or_default()
    }

    pub fn has_error(&self, name: &str) -> bool {
        self.errors.of(name).is_some()
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The summary's lines: (the id of the input to jump to, message). A field's id is its
    /// name with `[` `]` made `-` (`sections[summary]` → `sections-summary`), a date's its day.
    pub fn summary(&self) -> Vec<(String, String)> {
        self.errors
            .items()
            .iter()
            .map(|(f, m)| (self.anchor(f), m.clone()))
            .collect()
    }

    fn anchor(&self, field: &str) -> String {
        if field.is_empty() {
            return "main-content".to_owned();
        }
        if self.values.names().any(|n| n == format!("{field}-day")) {
            return format!("{}-day", id(field));
        }
        id(field)
    }
}

/// An element id for a field name: `sections[summary]` → `sections-summary`.
pub fn id(name: &str) -> String {
    name.replace('[', "-").replace(']', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_decodes_plus_as_a_space_and_percent_escapes_as_utf8() {
        let f = FormFields::decode(b"note=caf%C3%A9+au+lait&outcome=upheld&empty=").unwrap();
        assert_eq!(f.get("note"), Some("café au lait"));
        assert_eq!(f.get("outcome"), Some("upheld"));
        assert_eq!(f.get("empty"), Some(""));
    }

    #[test]
    fn a_value_or_name_that_is_not_utf8_once_decoded_is_refused_naming_it() {
        for (body, mentions) in [
            (&b"sub=dsl.%FF&role=dsl"[..], "sub"),
            (b"%C0%AF=x", "C0"),
            (b"note=\xff", "not UTF-8"),
        ] {
            let e = FormFields::decode(body).expect_err("refused");
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.code, "invalid_form");
            assert!(e.detail.contains(mentions), "{}", e.detail);
        }
    }

    #[test]
    fn a_field_sent_twice_is_refused_naming_it() {
        let e = FormFields::decode(b"role=dsl&sub=a&role=ig_officer").expect_err("refused");
        assert_eq!(e.code, "invalid_form");
        assert!(e.detail.contains("role"), "{}", e.detail);
        // unless the page declared it a list, and then only that one
        let f = FormFields::decode_with(b"seq=4&seq=7&note=x", &["seq"]).unwrap();
        assert_eq!(f.all("seq"), ["4", "7"]);
        let e = FormFields::decode_with(b"seq=4&note=x&note=y", &["seq"]).expect_err("refused");
        assert!(e.detail.contains("note"), "{}", e.detail);
    }

    fn form(body: &str) -> FormFields {
        FormFields::decode_with(body.as_bytes(), &["purposes"]).unwrap()
    }

    #[test]
    fn a_date_is_three_boxes_and_each_mistake_is_named_in_words() {
        let f = form("dob-day=1&dob-month=6&dob-year=2015");
        assert_eq!(
            f.date("dob", "Date of birth"),
            Ok(NaiveDate::from_ymd_opt(2015, 6, 1))
        );
        assert_eq!(form("").date("dob", "Date of birth"), Ok(None));
        assert_eq!(
            form("dob-day=1&dob-year=2015").date("dob", "Date of birth"),
            Err("Date of birth must include a month".to_owned())
        );
        assert_eq!(
            form("dob-day=31&dob-month=2&dob-year=2015").date("dob", "Date of birth"),
            Err("Date of birth must be a real date".to_owned())
        );
        assert!(
            form("dob-day=1&dob-month=2&dob-year=15")
                .date("dob", "Date of birth")
                .unwrap_err()
                .contains("4 numbers")
        );
    }

    #[test]
    fn a_time_is_uk_time_and_an_hour_the_clocks_skip_is_refused() {
        let summer = form("at-day=1&at-month=7&at-year=2026&at-hour=10&at-minute=05");
        assert_eq!(
            summer.datetime("at", "When").unwrap().unwrap().to_rfc3339(),
            "2026-07-01T09:05:00+00:00"
        );
        let winter = form("at-day=6&at-month=12&at-year=2026&at-hour=16&at-minute=19");
        assert_eq!(
            winter.datetime("at", "When").unwrap().unwrap().to_rfc3339(),
            "2026-12-06T16:19:00+00:00"
        );
        let skipped = form("at-day=29&at-month=3&at-year=2026&at-hour=1&at-minute=30");
        assert!(
            skipped
                .datetime("at", "When")
                .unwrap_err()
                .contains("did not happen")
        );
        let no_time = form("at-day=6&at-month=12&at-year=2026");
        assert_eq!(
            no_time.datetime("at", "When"),
            Err("When must include a time".to_owned())
        );
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        purposes: Vec<crate::vocab::Purpose>,
        given_by: crate::vocab::Giver,
        expires_at: Option<NaiveDate>,
        sections: Map<String, Value>,
    }

    #[test]
    fn a_form_becomes_the_apis_body_and_a_refusal_names_its_field() {
        let spec = [
            Field::List("purposes"),
            Field::Trimmed("given_by"),
            Field::Date("expires_at", "Expiry date"),
            Field::Sections("sections"),
        ];
        let f = form(
            "purposes=safeguarding&purposes=assessment&given_by=parent&sections%5Bsummary%5D=S%0D%0Aline&sections%5Brisk_management%5D=",
        );
        let (value, errors) = f.to_json(&spec);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            value,
            serde_json::json!({"purposes": ["safeguarding", "assessment"], "given_by": "parent",
                               "sections": {"summary": "S\r\nline"}})
        );
        let labels = [("purposes", "Purposes"), ("given_by", "Who gave it")];
        let body: Body = parse(value, &labels).unwrap();
        assert_eq!(body.purposes.len(), 2);

        let f = form("purposes=safeguarding&purposes=sweets&given_by=parent");
        let (value, _) = f.to_json(&spec);
        let errors = parse::<Body>(value, &labels).unwrap_err();
        assert!(
            errors
                .of("purposes")
                .is_some_and(|m| m.starts_with("Purposes unknown purpose \"sweets\"")),
            "{errors:?}"
        );
        let (value, _) = form("purposes=safeguarding").to_json(&spec);
        assert_eq!(
            parse::<Body>(value, &labels).unwrap_err().of("given_by"),
            Some("Enter who gave it")
        );
        let (_, errors) = form("given_by=par%07ent").to_json(&spec);
        assert!(errors.of("given_by").is_some(), "{errors:?}");
    }

    #[test]
    fn an_actions_refusal_goes_beside_the_field_it_names() {
        let labels = [("date_of_birth", "Date of birth"), ("sections", "Section")];
        let e = ApiError::invalid_field("date_of_birth", "is in the future");
        let errors = Errors::from_api(&e, &labels);
        assert_eq!(
            errors.of("date_of_birth"),
            Some("Date of birth is in the future")
        );
        let e = ApiError::invalid_field("sections.summary", "is empty");
        assert_eq!(
            Errors::from_api(&e, &labels).of("sections[summary]"),
            Some("Section is empty")
        );
        let e = ApiError::not_found("no subject 7");
        assert_eq!(Errors::from_api(&e, &labels).of(""), Some("No subject 7"));
        let mut values = FormFields::default();
        values.set("date_of_birth-day", "1");
        let shown = Form::refused(
            values,
            Errors::from_api(
                &ApiError::invalid_field("date_of_birth", "is in the future"),
                &labels,
            ),
        );
        assert_eq!(
            shown.summary(),
            [(
                "date_of_birth-day".to_owned(),
                "Date of birth is in the future".to_owned()
            )]
        );
    }
}

#[cfg(test)]
mod kit_tests {
    use askama::Template;

    use super::*;
    use crate::console::labels::{Choice, choices};
    use crate::vocab::Purpose;

    /// Every macro of `console/templates/kit.html`, as a page calls them.
    #[derive(Template)]
    #[template(
        ext = "html",
        source = r#"{% import "kit.html" as kit %}
{% call kit::error_summary(form) %}
{% call kit::input(form, "display_name", "Name", "As the family uses it") %}
{% call kit::textarea(form, "sections[summary]", "Summary", "") %}
{% call kit::select(form, "school_agency", "School", "", schools) %}
{% call kit::radios(form, "given_by", "Who gave it", "", givers) %}
{% call kit::checkboxes(form, "purposes", "Purposes", "Tick all that apply", purposes) %}
{% call kit::date(form, "date_of_birth", "Date of birth", "For example, 27 3 2015") %}
{% call kit::datetime(form, "occurred_at", "When", "") %}"#
    )]
    struct KitPage {
        form: Form,
        schools: Vec<Choice>,
        givers: Vec<Choice>,
        purposes: Vec<Choice>,
    }

    #[test]
    fn a_refused_form_is_shown_again_with_what_was_typed_and_each_message_by_its_field() {
        let typed = FormFields::decode_with(
            b"display_name=Sam+%3Cb%3E&sections%5Bsummary%5D=two%0D%0Alines&school_agency=school-hillside\
              &given_by=parent&purposes=safeguarding&purposes=court&date_of_birth-day=1\
              &date_of_birth-month=13&date_of_birth-year=2015&occurred_at-hour=9",
            &["purposes"],
        )
        .unwrap();
        let mut errors = Errors::default();
        errors.add("date_of_birth", "Date of birth must be a real date");
        errors.add("", "The child is not registered");
        let html = KitPage {
            form: Form::refused(typed, errors),
            schools: vec![Choice::new("school-hillside", "Hillside Primary School")],
            givers: choices::<crate::vocab::Giver>(),
            purposes: choices::<Purpose>(),
        }
        .render()
        .unwrap();
        for shown in [
            r##"<a href="#date_of_birth-day">Date of birth must be a real date</a>"##,
            r##"<a href="#main-content">The child is not registered</a>"##,
            r#"value="Sam &#60;b&#62;""#,
            "two\r\nlines</textarea>",
            r#"<option value="school-hillside" selected>Hillside Primary School</option>"#,
            r#"id="given_by-parent" name="given_by" type="radio" value="parent" checked"#,
            r#"id="purposes-court" name="purposes" type="checkbox" value="court" checked"#,
            r#"id="date_of_birth-month" name="date_of_birth-month" type="text" inputmode="numeric" value="13""#,
            r#"id="occurred_at-hour" name="occurred_at-hour" type="text" inputmode="numeric" value="9""#,
            r#"<p id="date_of_birth-error" class="govuk-error-message">"#,
            "Court proceedings",
        ] {
            assert!(html.contains(shown), "{shown} in\n{html}");
        }
        assert!(!html.contains(r#"value="assessment" checked"#));
        assert!(!html.contains("<b>"), "what was typed is escaped");
        // a new form: no summary, nothing chosen
        let empty = KitPage {
            form: Form::default(),
            schools: vec![],
            givers: vec![],
            purposes: choices::<Purpose>(),
        }
        .render()
        .unwrap();
        assert!(!empty.contains("error-summary") && !empty.contains("checked"));
    }
}
