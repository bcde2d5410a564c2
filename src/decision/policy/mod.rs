//! Loading the casbin policy in `policies/` and answering its questions quickly.
//!
//! Each rule family is its own small casbin enforcer (`<family>.conf` + `<family>.csv`), so a
//! question scans only that family's rows. Answers are memoised per family on the request
//! tuple; a `Policy` is immutable and carries its own version, so the cache key is in effect
//! (family, request tuple, policy version) and a reload (a new `Policy`) starts empty.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use casbin::{CoreApi, DefaultModel, Enforcer, MemoryAdapter, MgmtApi};
use chrono::NaiveDate;
use sha2::{Digest, Sha256};

mod files;
mod parse;

use files::version_of;
pub use files::{EMBEDDED, Files, PROFILE_DIR};
use parse::*;

use super::clocks::{Calendar, FileProblem, Timescale};
use super::duties::Duty;
use super::thresholds::Thresholds;

use crate::vocab::{
    AgencyKind, Basis, Giver, Purpose, RecordKind, Role, Section, SubjectRole, View,
};

/// A policy file that cannot be used, with the file and line that is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct PolicyError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// What a policy column may hold.
#[derive(Debug, Clone, Copy)]
enum Col {
    Role,
    RecordKind,
    Basis,
    AgencyKind,
    Section,
    Purpose,
    View,
    Band,
    Gillick,
    Capacity,
    Giver,
    BasisRequirement,
    RecipientRequirement,
    Control,
    Action,
    Relation,
    SubjectRole,
    MappaConsequence,
    AreaTie,
    OwnedAct,
    Ownership,
    Duty,
}

pub const GILLICK: &[&str] = &["competent", "not_competent", "not_assessed"];
pub const CAPACITY: &[&str] = &["has_capacity", "lacks_capacity", "not_assessed"];
pub const BASIS_REQUIREMENTS: &[&str] = &[
    "consent",
    "override_role",
    "justification",
    "legal_reference",
    "forum_decision",
    "ig_review",
];
pub const RECIPIENT_REQUIREMENTS: &[&str] = &["own_pupil", "staff_designation", "role_named"];
pub const CONTROLS: &[&str] = &["chair_permission"];
pub const MAPPA_CONSEQUENCES: &[&str] = &["open", "ig_review", "notify_mappa"];
/// Facts about the caller and what it acts on that an `actions` row may require (`*`: none).
pub const RELATIONS: &[&str] = &[
    "none",
    "childs_school",
    "chair",
    "owner",
    "lead_agency",
    "knows_child",
    "transfer_to",
    "former_lead",
    "childs_area",
    "involved_agency",
    "placing_authority",
    "action_owner",
    "request_to",
];
/// What ties an out-of-area recipient to the child (`outside_area.csv`; RULES 10.2): it is the
/// looked-after child's placing authority, or nothing.
pub const AREA_TIES: &[&str] = &["placing_authority", "none"];
/// The acts of a decision on a record that `ownership.csv` governs.
pub const OWNED_ACTS: &[&str] = &["disclose", "deposit"];
/// The requester's relation to a record (`ownership.csv`).
pub const OWNERSHIP: &[&str] = &["owner", "not_owner"];

macro_rules! families {
    ($($variant:ident => $file:literal [$($field:literal : $col:ident),+]),+ $(,)?) => {
        /// The rule families, one casbin enforcer each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Family { $($variant),+ }

        impl Family {
            pub const ALL: &'static [Family] = &[$(Family::$variant),+];
            pub fn file_stem(self) -> &'static str {
                match self { $(Family::$variant => $file),+ }
            }
            /// The names of the family's fields, in order (the console's policy page).
            pub fn field_names(self) -> Vec<&'static str> {
                self.fields().iter().map(|(name, _)| *name).collect()
            }
            fn fields(self) -> &'static [(&'static str, Col)] {
                match self { $(Family::$variant => &[$(($field, Col::$col)),+]),+ }
            }
        }
    };
}

families! {
    Deposit => "deposit" ["agency_kind": AgencyKind, "role": Role, "record_kind": RecordKind],
    Initiate => "initiate" ["role": Role],
    Overrides => "overrides" ["basis": Basis, "role": Role],
    BasisRequirements => "basis_requirements" ["basis": Basis, "requirement": BasisRequirement],
    ConsentGivers => "consent_givers" ["age_band": Band, "gillick": Gillick, "capacity": Capacity, "giver": Giver],
    AgeRestrictions => "age_restrictions" ["purpose": Purpose, "age_band": Band, "subject_role": SubjectRole],
    Purposes => "purposes" ["purpose": Purpose, "recipient_kind": AgencyKind],
    Bases => "bases" ["basis": Basis, "requester_kind": AgencyKind, "recipient_kind": AgencyKind],
    Sections => "sections" ["recipient_kind": AgencyKind, "recipient_role": Role, "section": Section, "purpose": Purpose],
    Views => "views" ["recipient_kind": AgencyKind, "recipient_role": Role, "view": View],
    ViewSections => "view_sections" ["view": View, "section": Section],
    RecipientRequirements => "recipient_requirements" ["recipient_kind": AgencyKind, "recipient_role": Role, "requirement": RecipientRequirement],
    RecordControls => "record_controls" ["record_kind": RecordKind, "control": Control],
    ThirdParty => "third_party" ["section": Section, "subject_role": SubjectRole, "basis": Basis],
    MappaBases => "mappa_bases" ["basis": Basis, "consequence": MappaConsequence],
    Actions => "actions" ["action": Action, "agency_kind": AgencyKind, "role": Role, "relation": Relation],
    Ownership => "ownership" ["act": OwnedAct, "relation": Ownership],
    OutsideArea => "outside_area" ["basis": Basis, "recipient_kind": AgencyKind, "tie": AreaTie],
    DutyRoles => "duty_roles" ["duty": Duty, "role": Role],
}

impl Family {
    /// The family whose rows are the file `name` (`actions.csv`), if one is.
    pub fn of_file(name: &str) -> Option<Family> {
        let stem = name.strip_suffix(".csv")?;
        Family::ALL.iter().copied().find(|f| f.file_stem() == stem)
    }
}

/// A policy file's rows as a table: `#` comments and blank lines skipped, fields trimmed, and
/// a family file's leading `p` dropped, so that each row reads as its columns
/// ([`columns_of`]). The console shows these and `policy_versions` diffs them.
pub fn table_rows(name: &str, text: &str) -> Vec<Vec<String>> {
    let family = Family::of_file(name).is_some();
    rows(text)
        .into_iter()
        .map(|row| {
            let mut fields = row.fields;
            if family && fields.first().map(String::as_str) == Some("p") {
                fields.remove(0);
            }
            fields
        })
        .collect()
}

/// A policy file's column names: a family's fields and `effect`, else the names its
/// `# columns:` comment gives (each up to its first space), else none.
pub fn columns_of(name: &str, text: &str) -> Vec<String> {
    if let Some(family) = Family::of_file(name) {
        return family
            .field_names()
            .into_iter()
            .chain(["effect"])
            .map(str::to_owned)
            .collect();
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix('#')?.trim().strip_prefix("columns:"))
        .map(|list| {
            list.split(',')
                .filter_map(|c| c.split_whitespace().next().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "policies/{}.csv", self.file_stem())
    }
}

/// A named, inclusive range of whole years (`age_bands.csv`).
#[derive(Debug, Clone)]
pub struct AgeBand {
    pub name: String,
    pub min: i32,
    pub max: i32,
}

struct FamilyEnforcer {
    enforcer: Enforcer,
    cache: RwLock<HashMap<String, bool>>,
    rows: usize,
}

/// The loaded policy: immutable, versioned, shareable between threads.
pub struct Policy {
    version: String,
    dir: PathBuf,
    families: Vec<FamilyEnforcer>,
    bands: Vec<AgeBand>,
    justification_min_chars: usize,
    rationale_min_chars: usize,
    timescales: Vec<Timescale>,
    /// The shipped timescale profiles (`timescales/<profile>.csv`), by name.
    profiles: BTreeMap<String, Vec<Timescale>>,
    /// The profile in force (`[process] timescales`); None: `timescales.csv`.
    profile: Option<String>,
    thresholds: Thresholds,
    calendar: Calendar,
    duties: Vec<Duty>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("version", &self.version)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// One policy row with the line it came from.
struct Row {
    line: usize,
    fields: Vec<String>,
}

fn err(file: &Path, line: Option<usize>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        file: file.to_owned(),
        line,
        message: message.into(),
    }
}

impl Policy {
    /// Loads and validates every family from `dir`, refusing any unknown term with its line.
    pub async fn load(dir: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        Self::from_files(&Files::from_dir(dir.as_ref())?).await
    }

    /// Loads and validates a policy from its files, as of today in Europe/London (the
    /// bank-holiday calendar must reach a year past it).
    pub async fn from_files(files: &Files) -> Result<Policy, PolicyError> {
        Self::from_files_on(
            files,
            crate::decision::facts::london_date(chrono::Utc::now()),
        )
        .await
    }

    /// [`Policy::from_files`] as of `today`.
    pub async fn from_files_on(files: &Files, today: NaiveDate) -> Result<Policy, PolicyError> {
        let version = version_of(files);
        let bands = load_bands(files)?;
        let (justification_min_chars, rationale_min_chars) = load_parameters(files)?;
        let in_file = |name: &str, p: FileProblem| err(&files.path(name), p.line, p.message);
        let timescales = Timescale::parse_all(files.get("timescales.csv")?)
            .map_err(|p| in_file("timescales.csv", p))?;
        let mut profiles = BTreeMap::new();
        for (name, text) in files.profiles() {
            let file = format!("{}/{name}.csv", files::PROFILE_DIR);
            profiles.insert(
                name.to_owned(),
                Timescale::parse_all(text).map_err(|p| in_file(&file, p))?,
            );
        }
        let thresholds = Thresholds::parse(files.get("thresholds.csv")?)
            .map_err(|p| in_file("thresholds.csv", p))?;
        let calendar = Calendar::parse(files.get("bank_holidays.csv")?, today)
            .map_err(|p| in_file("bank_holidays.csv", p))?;
        let duties =
            Duty::parse_all(files.get("duties.csv")?).map_err(|p| in_file("duties.csv", p))?;
        let mut families = Vec::with_capacity(Family::ALL.len());
        for family in Family::ALL {
            families.push(load_family(files, *family, &bands).await?);
        }
        Ok(Policy {
            version,
            dir: files.origin.clone(),
            families,
            bands,
            justification_min_chars,
            rationale_min_chars,
            timescales,
            profiles,
            profile: None,
            thresholds,
            calendar,
            duties,
        })
    }

    /// The policy with the timescale profile `name` in force (`[process] timescales`; PROCESS.md,
    /// Routes) instead of `timescales.csv`; an error naming the profiles there are otherwise.
    pub fn with_profile(mut self, name: &str) -> Result<Policy, PolicyError> {
        let Some(timescales) = self.profiles.get(name) else {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            return Err(err(
                &self.dir.join(files::PROFILE_DIR),
                None,
                format!(
                    "no timescale profile \"{name}\" ([process] timescales); the profiles are: {}",
                    known.join(", ")
                ),
            ));
        };
        self.timescales = timescales.clone();
        self.profile = Some(name.to_owned());
        Ok(self)
    }

    /// The timescale profile in force; None when `timescales.csv` is.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The timescales of profile `name` (`timescales/<name>.csv`), for the clock scenarios.
    pub fn profile_timescales(&self, name: &str) -> Option<&[Timescale]> {
        self.profiles.get(name).map(Vec::as_slice)
    }

    /// Which routes each screening level permits (`thresholds.csv`).
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The clocks of a case (`timescales.csv`, or the profile in force), in file order.
    pub fn timescales(&self) -> &[Timescale] {
        &self.timescales
    }

    /// The duties to notify (`duties.csv`), in file order.
    pub fn duties(&self) -> &[Duty] {
        &self.duties
    }

    /// The bank holidays of England and Wales (`bank_holidays.csv`).
    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    pub fn justification_min_chars(&self) -> usize {
        self.justification_min_chars
    }

    /// The shortest rationale an outcome may have (PROCESS.md, Outcomes).
    pub fn rationale_min_chars(&self) -> usize {
        self.rationale_min_chars
    }

    /// The bands an age falls in.
    pub fn bands_for(&self, age: i32) -> impl Iterator<Item = &str> {
        self.bands
            .iter()
            .filter(move |b| (b.min..=b.max).contains(&age))
            .map(|b| b.name.as_str())
    }

    /// A family's rows as loaded, each its fields then its effect (`allow` or `deny`).
    pub fn rows_of(&self, family: Family) -> Vec<Vec<String>> {
        self.families[family as usize].enforcer.get_policy()
    }

    /// Total policy rows, for reporting.
    pub fn rows(&self) -> usize {
        self.families.iter().map(|f| f.rows).sum()
    }

    /// Does the family permit this request tuple? Memoised; an enforcement error (which
    /// validation at load makes impossible) denies.
    pub fn allows(&self, family: Family, request: &[&str]) -> bool {
        let f = &self.families[family as usize];
        let mut key = String::with_capacity(64);
        for part in request {
            key.push_str(part);
            key.push('\u{1f}');
        }
        if let Some(hit) = f.cache.read().ok().and_then(|c| c.get(&key).copied()) {
            return hit;
        }
        let answer = f.enforcer.enforce(request.to_vec()).unwrap_or_else(|e| {
            tracing::error!(family = %family, error = %e, "policy enforcement failed; denying");
            false
        });
        if let Ok(mut cache) = f.cache.write() {
            cache.insert(key, answer);
        }
        answer
    }

    /// Uncached: the same question straight through casbin (for benchmarks).
    pub fn allows_uncached(&self, family: Family, request: &[&str]) -> bool {
        self.families[family as usize]
            .enforcer
            .enforce(request.to_vec())
            .unwrap_or(false)
    }
}

async fn load_family(
    files: &Files,
    family: Family,
    bands: &[AgeBand],
) -> Result<FamilyEnforcer, PolicyError> {
    let conf_name = format!("{}.conf", family.file_stem());
    let csv_name = format!("{}.csv", family.file_stem());
    let (conf_path, csv_path) = (files.path(&conf_name), files.path(&csv_name));
    let conf = files.get(&conf_name)?;
    let fields = family.fields();
    let expected: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    match request_definition(conf) {
        Some(declared) if declared == expected => {}
        _ => {
            return Err(err(
                &conf_path,
                None,
                format!(
                    "the request definition must be `r = {}`",
                    expected.join(", ")
                ),
            ));
        }
    }
    let model = DefaultModel::from_str(conf)
        .await
        .map_err(|e| err(&conf_path, None, format!("not a casbin model: {e}")))?;
    let text = files.get(&csv_name)?;
    let mut policy_rows = Vec::new();
    for row in rows(text) {
        let at = Some(row.line);
        if row.fields.first().map(String::as_str) != Some("p") {
            return Err(err(&csv_path, at, "a row must start with `p`"));
        }
        let values = &row.fields[1..];
        if values.len() != fields.len() + 1 {
            return Err(err(
                &csv_path,
                at,
                format!(
                    "expected {} fields: p, {}, allow|deny",
                    fields.len() + 2,
                    expected.join(", ")
                ),
            ));
        }
        for ((name, col), value) in fields.iter().zip(values) {
            check_term(*col, value, bands)
                .map_err(|m| err(&csv_path, at, format!("column {name}: {m}")))?;
        }
        let eft = &values[fields.len()];
        if eft != "allow" && eft != "deny" {
            return Err(err(
                &csv_path,
                at,
                format!("the last field must be allow or deny, not \"{eft}\""),
            ));
        }
        policy_rows.push(values.to_vec());
    }
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .map_err(|e| err(&conf_path, None, format!("casbin refused the model: {e}")))?;
    let rows = policy_rows.len();
    if !policy_rows.is_empty() {
        enforcer
            .add_policies(policy_rows)
            .await
            .map_err(|e| err(&csv_path, None, format!("casbin refused the rows: {e}")))?;
    }
    Ok(FamilyEnforcer {
        enforcer,
        cache: RwLock::new(HashMap::new()),
        rows,
    })
}

/// The naive baseline for the benchmark: every family's rows in one enforcer with one generic
/// matcher, asked without a cache. Not used by the broker.
pub async fn naive_single_enforcer(files: &Files) -> Result<Enforcer, PolicyError> {
    let dir = &files.origin;
    let conf = "[request_definition]\nr = family, a, b, c, d\n\n[policy_definition]\np = family, a, b, c, d, eft\n\n[policy_effect]\ne = some(where (p.eft == allow)) && !some(where (p.eft == deny))\n\n[matchers]\nm = p.family == r.family && (p.a == r.a || p.a == \"*\") && (p.b == r.b || p.b == \"*\") && (p.c == r.c || p.c == \"*\") && (p.d == r.d || p.d == \"*\")\n";
    let model = DefaultModel::from_str(conf)
        .await
        .map_err(|e| err(dir, None, e.to_string()))?;
    let mut all = Vec::new();
    for family in Family::ALL {
        for row in rows(files.get(&format!("{}.csv", family.file_stem()))?) {
            let values = &row.fields[1..];
            let (eft, fields) = values.split_last().unwrap_or((&row.fields[0], &[]));
            let mut padded = vec![family.file_stem().to_owned()];
            padded.extend(fields.iter().cloned());
            padded.resize(5, "*".to_owned());
            padded.push(eft.clone());
            all.push(padded);
        }
    }
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .map_err(|e| err(dir, None, e.to_string()))?;
    enforcer
        .add_policies(all)
        .await
        .map_err(|e| err(dir, None, e.to_string()))?;
    Ok(enforcer)
}
