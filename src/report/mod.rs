//! Everything a run tells, each output in its own file: the failure text, the coverage matrix,
//! the not-run summary, `junit.xml` and `report.json`. Reports read results; none rebuilds a
//! request or re-runs a check. Every string written is redacted first.

mod blame;
mod coverage;
mod failure;
mod faulted;
mod json;
mod junit;
mod not_run;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use coverage::{Cell, Matrix, OTHER};
pub use failure::failure;
pub use faulted::FaultedRow;
pub use not_run::summary as not_run_summary;

use crate::check::Finding;
use crate::redact::Secrets;
use crate::run::{CaseResult, Outcome};

/// What reports keep of one case, compact: a passing case's exchanges and steps are gone by
/// now (the coverage matrix has counted them); a failure keeps its findings and its text.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `case::<area>/<name>`.
    pub trial: String,
    /// The case file, as displayed.
    pub file: String,
    /// The verdict.
    pub kind: Kind,
    /// Why the case was not run or not concluded.
    pub reason: Option<String>,
    /// The findings of the failing step.
    pub findings: Vec<Finding>,
    /// Notes (extra fields, waits for Retry-After).
    pub notes: Vec<String>,
    /// Wall time, for a case that ran.
    pub elapsed: Option<Duration>,
    /// The failure text (a broken case file's errors, or the check failures), redacted.
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
    /// The entry of a case that ran, with its failure text if it failed.
    pub fn of(trial: String, file: String, result: CaseResult, message: Option<Arc<str>>) -> Self {
        let (kind, reason) = match &result.outcome {
            Outcome::Passed => (Kind::Passed, None),
            Outcome::Failed { .. } => (Kind::Failed, None),
            Outcome::Ignored(why) => (Kind::Ignored, Some(why.to_string())),
            Outcome::Inconclusive(why) => (Kind::Inconclusive, Some(why.to_string())),
        };
        let findings = result.findings().to_vec();
        Entry {
            trial,
            file,
            kind,
            reason,
            findings,
            notes: result.notes,
            elapsed: Some(result.elapsed),
            message,
        }
    }

    /// The entry of a case file that did not load.
    pub fn invalid(trial: String, file: String, message: Arc<str>) -> Self {
        Entry {
            trial,
            file,
            kind: Kind::InvalidCase,
            reason: None,
            findings: Vec::new(),
            notes: Vec::new(),
            elapsed: None,
            message: Some(message),
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
    // Asked once per process: every case of a run asks.
    static CWD: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| std::env::current_dir().ok());
    let rel = cwd
        .as_ref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    rel.display().to_string()
}
