//! Everything a run tells, each output in its own file: the failure text, the coverage matrix,
//! the not-run summary, `junit.xml` and `report.json`. Reports read results; none rebuilds a
//! request or re-runs a check. Every string written is redacted first.

mod coverage;
mod failure;
mod json;
mod junit;
mod not_run;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use coverage::{Cell, Matrix, OTHER};
pub use failure::failure;
pub use not_run::summary as not_run_summary;

use crate::redact::Secrets;
use crate::run::{CaseResult, Outcome};

/// One case's entry: its result and, for a failure, the rendered text (already redacted).
#[derive(Debug, Clone)]
pub struct Entry {
    /// `case::<area>/<name>`.
    pub trial: String,
    /// The case file, as displayed.
    pub file: String,
    /// What happened; None when the case file did not load.
    pub result: Option<CaseResult>,
    /// The failure text (a broken case file's errors, or the check failures).
    pub message: Option<Arc<str>>,
}

/// A case's verdict, as reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every check held.
    Passed,
    /// A check failed.
    Failed,
    /// The case file did not load.
    InvalidCase,
    /// The target cannot serve the case.
    Ignored,
    /// No verdict could be reached.
    Inconclusive,
}

impl Kind {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Passed => "passed",
            Kind::Failed => "failed",
            Kind::InvalidCase => "invalid_case",
            Kind::Ignored => "ignored",
            Kind::Inconclusive => "inconclusive",
        }
    }

    /// Every kind, in report order.
    pub const ALL: [Kind; 5] = [
        Kind::Passed,
        Kind::Failed,
        Kind::InvalidCase,
        Kind::Ignored,
        Kind::Inconclusive,
    ];
}

impl Entry {
    /// The verdict.
    pub fn kind(&self) -> Kind {
        match self.result.as_ref().map(|r| &r.outcome) {
            None => Kind::InvalidCase,
            Some(Outcome::Passed) => Kind::Passed,
            Some(Outcome::Failed { .. }) => Kind::Failed,
            Some(Outcome::Ignored(_)) => Kind::Ignored,
            Some(Outcome::Inconclusive(_)) => Kind::Inconclusive,
        }
    }

    /// Why the case was not run or not concluded.
    pub fn reason(&self) -> Option<String> {
        match self.result.as_ref().map(|r| &r.outcome) {
            Some(Outcome::Ignored(why)) => Some(why.to_string()),
            Some(Outcome::Inconclusive(why)) => Some(why.to_string()),
            _ => None,
        }
    }
}

/// Write `junit.xml` and `report.json` into `dir`; returns the files written.
pub fn write(
    dir: &Path,
    target: &str,
    entries: &[Entry],
    matrix: &Matrix,
    secrets: &Secrets,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    Ok(vec![
        junit::write(dir, entries, secrets)?,
        json::write(dir, target, entries, matrix, secrets)?,
    ])
}

/// A path as the user would type it: relative to the working directory when below it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let rel = cwd
        .as_ref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    rel.display().to_string()
}
