//! What `broker policy test` shares across its kinds of scenario (decisions, clocks, duties):
//! the files of a folder, parsed, the error naming a file and where, and the report. Below
//! each runner, so that the decision runner can call the clock and duty runners.

use std::path::{Path, PathBuf};

/// A scenario file that cannot be read, naming the scenario and the JSON path.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: not JSON: {source}")]
    Json {
        file: PathBuf,
        source: serde_json::Error,
    },
    #[error("{file}: {message}")]
    Shape { file: PathBuf, message: String },
    #[error("{file}: scenario {index} ({name}): at {path}: {message}")]
    Scenario {
        file: PathBuf,
        index: usize,
        name: String,
        path: String,
        message: String,
    },
}

/// The outcome of `broker policy test`.
#[derive(Debug, Default)]
pub struct TestReport {
    pub files: usize,
    pub passed: usize,
    pub failures: Vec<String>,
}

impl TestReport {
    /// One scenario's result: a pass when nothing is `wrong`, else a failure listing it.
    pub(super) fn record(&mut self, file: &Path, name: &str, wrong: &[String]) {
        if wrong.is_empty() {
            self.passed += 1;
        } else {
            self.failures.push(format!(
                "{}: \"{name}\"\n    {}",
                file.display(),
                wrong.join("\n    ")
            ));
        }
    }
}

/// Each `*.json` file of `dir` (none if `dir` does not exist), parsed as a `T`, with its path;
/// a file that does not parse is an error naming the file and where.
pub(super) fn parsed_files<T: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<Vec<(PathBuf, T)>, ScenarioError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for file in json_files(dir)? {
        let text = std::fs::read_to_string(&file).map_err(|source| ScenarioError::Io {
            file: file.clone(),
            source,
        })?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let parsed: T =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ScenarioError::Shape {
                file: file.clone(),
                message: format!("at {}: {}", e.path(), e.inner()),
            })?;
        out.push((file, parsed));
    }
    Ok(out)
}

/// The `*.json` files of `dir`, sorted by name.
pub(super) fn json_files(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ScenarioError::Io {
            file: dir.to_owned(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
        .collect();
    files.sort();
    Ok(files)
}
