//! The policy's files, from a directory or embedded in the binary (the shipped defaults),
//! and the version: a SHA-256 over every file by name.

#![allow(unused_imports)]
use super::*;

/// The policy's files by name, from a directory or embedded in the binary.
pub struct Files {
    pub(super) origin: PathBuf,
    pub(super) map: BTreeMap<String, String>,
}

impl Files {
    /// Every `.conf` and `.csv` file of a directory, and the timescale profiles of its
    /// `timescales/` directory (named `timescales/<profile>.csv`).
    pub fn from_dir(dir: &Path) -> Result<Files, PolicyError> {
        let mut map = BTreeMap::new();
        read_files(dir, "", &mut map)?;
        let profiles = dir.join(PROFILE_DIR);
        if profiles.is_dir() {
            read_files(&profiles, &format!("{PROFILE_DIR}/"), &mut map)?;
        }
        Ok(Files {
            origin: dir.to_owned(),
            map,
        })
    }

    /// Files held elsewhere (a version stored in `policy_versions`), by name; `origin` names
    /// where they came from in any error about them.
    pub fn from_map(origin: impl Into<PathBuf>, map: BTreeMap<String, String>) -> Files {
        Files {
            origin: origin.into(),
            map,
        }
    }

    /// The files' text by name (what `policy_versions` stores, so every replica loads the
    /// same bytes).
    pub fn texts(&self) -> &BTreeMap<String, String> {
        &self.map
    }

    /// The version these files load as: [`Policy::version`] without loading them.
    pub fn version(&self) -> String {
        version_of(self)
    }

    /// The default policy shipped in `policies/`, compiled into the binary.
    pub fn embedded() -> Files {
        Files {
            origin: PathBuf::from("(embedded default policy)"),
            map: EMBEDDED
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect(),
        }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.origin.join(name)
    }

    pub(super) fn get(&self, name: &str) -> Result<&str, PolicyError> {
        self.map
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| err(&self.path(name), None, "missing policy file"))
    }

    /// Writes the files into `dir` (for `dev-init` and `demo`).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, text) in &self.map {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        Ok(())
    }

    /// The timescale profiles (`timescales/<profile>.csv`), by profile name.
    pub(super) fn profiles(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().filter_map(|(name, text)| {
            let profile = name.strip_prefix(PROFILE_DIR)?.strip_prefix('/')?;
            Some((profile.strip_suffix(".csv")?, text.as_str()))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// The directory of the timescale profiles (PROCESS.md, Routes: `[process] timescales`).
pub const PROFILE_DIR: &str = "timescales";

/// Adds every `.conf` and `.csv` file of `dir` to `map`, named `prefix` + its file name.
fn read_files(
    dir: &Path,
    prefix: &str,
    map: &mut BTreeMap<String, String>,
) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| err(dir, None, format!("cannot read the policy directory: {e}")))?;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let policy_file = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("conf" | "csv")
        );
        if path.is_file() && policy_file {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| err(&path, None, format!("cannot read: {e}")))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            map.insert(format!("{prefix}{name}"), text);
        }
    }
    Ok(())
}

macro_rules! embedded {
    ($($name:literal),+ $(,)?) => {
        /// The shipped policy files, compiled in.
        pub const EMBEDDED: &[(&str, &str)] = &[
            $(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/", $name)))),+
        ];
    };
}

embedded!(
    "actions.conf",
    "actions.csv",
    "age_bands.csv",
    "bank_holidays.csv",
    "age_restrictions.conf",
    "age_restrictions.csv",
    "bases.conf",
    "bases.csv",
    "basis_requirements.conf",
    "basis_requirements.csv",
    "consent_givers.conf",
    "consent_givers.csv",
    "deposit.conf",
    "deposit.csv",
    "duties.csv",
    "duty_roles.conf",
    "duty_roles.csv",
    "initiate.conf",
    "initiate.csv",
    "mappa_bases.conf",
    "mappa_bases.csv",
    "overrides.conf",
    "overrides.csv",
    "ownership.conf",
    "ownership.csv",
    "outside_area.conf",
    "outside_area.csv",
    "parameters.csv",
    "purposes.conf",
    "purposes.csv",
    "recipient_requirements.conf",
    "recipient_requirements.csv",
    "record_controls.conf",
    "record_controls.csv",
    "sections.conf",
    "sections.csv",
    "third_party.conf",
    "third_party.csv",
    "thresholds.csv",
    "timescales.csv",
    "timescales/england.csv",
    "timescales/wales.csv",
    "view_sections.conf",
    "view_sections.csv",
    "views.conf",
    "views.csv",
);

/// SHA-256 over every policy file, by name.
pub(super) fn version_of(files: &Files) -> String {
    let mut hash = Sha256::new();
    for (name, text) in &files.map {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    format!("sha256:{}", hex::encode(hash.finalize()))
}
