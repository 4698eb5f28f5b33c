//! A case's name: its path below the cases directory, and back (the `--exact` fast path).

use std::path::{Path, PathBuf};

use super::model::TRIAL_PREFIX;

/// The trial name of a case file below `root`: `area/name` (`/` on every platform, the
/// `.json` taken off once).
pub fn case_name(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).to_string_lossy();
    let rel = if std::path::MAIN_SEPARATOR == '/' {
        rel.into_owned()
    } else {
        rel.replace(std::path::MAIN_SEPARATOR, "/")
    };
    match rel.strip_suffix(".json") {
        Some(name) => name.to_string(),
        None => rel,
    }
}

/// Why an `--exact` name cannot be a case file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a case name: a name is a path below the cases directory, without `..`, `.` or empty parts"
)]
pub struct BadName(pub String);

/// The file of the trial `name` (`case::area/x` or `area/x`) below `root`, for the `--exact`
/// fast path; a name that would leave the cases directory is refused.
pub fn file_of(root: &Path, name: &str) -> Result<PathBuf, BadName> {
    let rel = name.strip_prefix(TRIAL_PREFIX).unwrap_or(name);
    let ok = !rel.is_empty()
        && rel.split('/').all(|part| {
            !part.is_empty() && part != "." && part != ".." && !part.contains(['\\', '\0'])
        })
        && !Path::new(rel).has_root();
    if !ok {
        return Err(BadName(name.to_string()));
    }
    Ok(root.join(format!("{rel}.json")))
}
