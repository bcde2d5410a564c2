//! The `audit_log` row, defined once: its columns in order with how each is stored
//! ([`ENTRY_COLUMNS`]), the row as stored ([`AuditRow`], built from an [`Entry`] and its links
//! by [`AuditRow::linked`]), and its values as [`Cell`]s in column order, which every writer
//! binds (the audit append, `bench-seed`, the tests that tamper with rows) and every printer
//! walks (the CSV export).

use std::sync::LazyLock;

use super::Entry;

/// How a column of the entry is stored, and so how it enters the canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, JSON-escaped.
    Text,
    /// A string or `null`.
    OptText,
    /// JSON text of a list of strings.
    List,
    /// JSON text of any value.
    Value,
}

/// [`Entry`]'s fields after `seq`, in order (the canonical encoding's order): the JSON key,
/// which is also the column, and how it is stored. The row is `seq`, these, `prev_hash`, `hash`.
pub const ENTRY_COLUMNS: [(&str, Kind); 20] = [
    ("at", Kind::Text),
    ("actor_agency", Kind::Text),
    ("actor_sub", Kind::Text),
    ("actor_roles", Kind::List),
    ("action", Kind::Text),
    ("subject_id", Kind::OptText),
    ("record_ids", Kind::List),
    ("owner_agencies", Kind::List),
    ("recipient_agency", Kind::OptText),
    ("recipient_role", Kind::OptText),
    ("recipient_sub", Kind::OptText),
    ("purpose", Kind::OptText),
    ("basis", Kind::OptText),
    ("justification", Kind::OptText),
    ("decision", Kind::OptText),
    ("reasons", Kind::List),
    ("obligations", Kind::List),
    ("policy_version", Kind::OptText),
    ("packet_sha256", Kind::OptText),
    ("detail", Kind::Value),
];

/// Columns in a row: `seq`, the entry's, `prev_hash` and `hash`.
pub const ROW_COLUMNS: usize = ENTRY_COLUMNS.len() + 3;

/// The row's column names in order, comma-separated (for SELECT and INSERT).
pub fn columns() -> &'static str {
    static COLUMNS: LazyLock<String> = LazyLock::new(|| {
        std::iter::once("seq")
            .chain(ENTRY_COLUMNS.iter().map(|(name, _)| *name))
            .chain(["prev_hash", "hash"])
            .collect::<Vec<_>>()
            .join(", ")
    });
    &COLUMNS
}

/// One value of a row, to bind or print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell<'a> {
    Int(i64),
    Text(&'a str),
    OptText(Option<&'a str>),
}

impl<'a> Cell<'a> {
    /// Binds the value as the next parameter of `q`.
    pub fn bind<'q, DB: sqlx::Database>(
        self,
        q: sqlx::query::Query<'q, DB, DB::Arguments>,
    ) -> sqlx::query::Query<'q, DB, DB::Arguments>
    where
        i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
        Option<&'a str>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    {
        match self {
            Cell::Int(v) => q.bind(v),
            Cell::Text(v) => q.bind(v),
            Cell::OptText(v) => q.bind(v),
        }
    }

    /// The value as text (`None` for SQL NULL).
    pub fn text(self) -> Option<std::borrow::Cow<'a, str>> {
        match self {
            Cell::Int(v) => Some(v.to_string().into()),
            Cell::Text(v) => Some(v.into()),
            Cell::OptText(v) => v.map(Into::into),
        }
    }
}

/// A row of `audit_log` as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub seq: i64,
    pub at: String,
    pub actor_agency: String,
    pub actor_sub: String,
    pub actor_roles: String,
    pub action: String,
    pub subject_id: Option<String>,
    pub record_ids: String,
    pub owner_agencies: String,
    pub recipient_agency: Option<String>,
    pub recipient_role: Option<String>,
    pub recipient_sub: Option<String>,
    pub purpose: Option<String>,
    pub basis: Option<String>,
    pub justification: Option<String>,
    pub decision: Option<String>,
    pub reasons: String,
    pub obligations: String,
    pub policy_version: Option<String>,
    pub packet_sha256: Option<String>,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

impl AuditRow {
    /// The row that stores `entry`, already numbered and linked (see `Chain::link`), after
    /// `prev` with its own `hash`.
    pub fn linked(entry: Entry, prev: String, hash: String) -> AuditRow {
        AuditRow {
            actor_roles: json(&entry.actor_roles),
            record_ids: json(&entry.record_ids),
            owner_agencies: json(&entry.owner_agencies),
            reasons: json(&entry.reasons),
            obligations: json(&entry.obligations),
            detail: json(&entry.detail),
            seq: entry.seq,
            at: entry.at,
            actor_agency: entry.actor_agency,
            actor_sub: entry.actor_sub,
            action: entry.action,
            subject_id: entry.subject_id,
            recipient_agency: entry.recipient_agency,
            recipient_role: entry.recipient_role,
            recipient_sub: entry.recipient_sub,
            purpose: entry.purpose,
            basis: entry.basis,
            justification: entry.justification,
            decision: entry.decision,
            policy_version: entry.policy_version,
            packet_sha256: entry.packet_sha256,
            prev_hash: prev,
            hash,
        }
    }

    /// The row's values in [`columns`] order.
    pub fn cells(&self) -> [Cell<'_>; ROW_COLUMNS] {
        fn t(v: &str) -> Cell<'_> {
            Cell::Text(v)
        }
        fn o(v: &Option<String>) -> Cell<'_> {
            Cell::OptText(v.as_deref())
        }
        [
            Cell::Int(self.seq),
            t(&self.at),
            t(&self.actor_agency),
            t(&self.actor_sub),
            t(&self.actor_roles),
            t(&self.action),
            o(&self.subject_id),
            t(&self.record_ids),
            t(&self.owner_agencies),
            o(&self.recipient_agency),
            o(&self.recipient_role),
            o(&self.recipient_sub),
            o(&self.purpose),
            o(&self.basis),
            o(&self.justification),
            o(&self.decision),
            t(&self.reasons),
            t(&self.obligations),
            o(&self.policy_version),
            o(&self.packet_sha256),
            t(&self.detail),
            t(&self.prev_hash),
            t(&self.hash),
        ]
    }

    /// The entry exactly as stored, or `None` when a JSON column is not in the canonical form
    /// the broker writes (so an overwritten column cannot hide behind a lenient parse).
    pub fn strict_entry(&self) -> Option<Entry> {
        fn list(text: &str) -> Option<Vec<String>> {
            let v: Vec<String> = serde_json::from_str(text).ok()?;
            (serde_json::to_string(&v).ok()? == text).then_some(v)
        }
        let detail: serde_json::Value = serde_json::from_str(&self.detail).ok()?;
        if serde_json::to_string(&detail).ok()? != self.detail {
            return None;
        }
        Some(Entry {
            actor_roles: list(&self.actor_roles)?,
            record_ids: list(&self.record_ids)?,
            owner_agencies: list(&self.owner_agencies)?,
            reasons: list(&self.reasons)?,
            obligations: list(&self.obligations)?,
            detail,
            ..self.entry()
        })
    }

    /// The entry for display (lenient: a malformed column reads as empty).
    pub fn entry(&self) -> Entry {
        fn parse<T: serde::de::DeserializeOwned + Default>(text: &str) -> T {
            serde_json::from_str(text).unwrap_or_default()
        }
        Entry {
            seq: self.seq,
            at: self.at.clone(),
            actor_agency: self.actor_agency.clone(),
            actor_sub: self.actor_sub.clone(),
            actor_roles: parse(&self.actor_roles),
            action: self.action.clone(),
            subject_id: self.subject_id.clone(),
            record_ids: parse(&self.record_ids),
            owner_agencies: parse(&self.owner_agencies),
            recipient_agency: self.recipient_agency.clone(),
            recipient_role: self.recipient_role.clone(),
            recipient_sub: self.recipient_sub.clone(),
            purpose: self.purpose.clone(),
            basis: self.basis.clone(),
            justification: self.justification.clone(),
            decision: self.decision.clone(),
            reasons: parse(&self.reasons),
            obligations: parse(&self.obligations),
            policy_version: self.policy_version.clone(),
            packet_sha256: self.packet_sha256.clone(),
            detail: serde_json::from_str(&self.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_the_entrys_fields_in_its_canonical_order() {
        let encoded = serde_json::to_value(Entry::default()).unwrap();
        let keys: Vec<&str> = encoded
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec!["seq"];
        expected.extend(ENTRY_COLUMNS.iter().map(|(name, _)| *name));
        // serde_json's map is ordered by key unless preserve_order: compare as sets, and the
        // order through the canonical bytes
        let mut sorted = expected.clone();
        sorted.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, sorted);
        let canonical = String::from_utf8(serde_json::to_vec(&Entry::default()).unwrap()).unwrap();
        let positions: Vec<usize> = expected
            .iter()
            .map(|k| canonical.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{canonical}");
    }

    #[test]
    fn a_linked_entry_round_trips_through_its_row_and_cells() {
        let entry = Entry {
            seq: 7,
            at: "2026-01-01T00:00:00.000000Z".into(),
            actor_agency: "csc".into(),
            actor_roles: vec!["social_worker".into()],
            action: "disclosure".into(),
            record_ids: vec!["r1".into(), "r2".into()],
            justification: Some("a \"quoted\" reason".into()),
            detail: serde_json::json!({"view": "full"}),
            ..Entry::default()
        };
        let row = AuditRow::linked(entry.clone(), "sha256:prev".into(), "sha256:this".into());
        assert_eq!(row.strict_entry(), Some(entry));
        let cells = row.cells();
        assert_eq!(cells.len(), columns().split(", ").count());
        assert_eq!(cells[0], Cell::Int(7));
        assert_eq!(cells[7], Cell::Text("[\"r1\",\"r2\"]"));
        assert_eq!(cells[6], Cell::OptText(None));
        assert_eq!(cells[ROW_COLUMNS - 1], Cell::Text("sha256:this"));
    }
}
