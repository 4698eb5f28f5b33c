//! Everything a run tells, each output in its own file: the failure text, the coverage matrix,
//! the not-run summary, the evidence of a failure, `junit.xml`, `report.json`, `summary.md`,
//! `report.html`, the fragments a nextest or sharded run leaves and their merge, the diff. Reports read results; none rebuilds a
//! request or re-runs a check. Every string written is redacted first.

mod blame;
mod coverage;
mod diff;
mod evidence;
mod failure;
mod faulted;
mod fragment;
mod html;
pub mod json;
mod junit;
mod not_run;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use coverage::{Cell, Matrix, OTHER};
pub use diff::diff;
pub use evidence::{Came, Evidence, Sent};
pub use failure::failure;
pub use faulted::FaultedRow;
pub use fragment::{MergeError, Merged, clear_others as clear_other_runs, merge, missing};
pub use not_run::{headline as ran_headline, summary as not_run_summary};
pub use summary::append_to_step_summary;

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
    /// The ticket of the case's known-failures entry, when the gate judged it by one.
    pub ticket: Option<String>,
    /// The checks that ran, in any step.
    pub applied: crate::check::CheckSet,
    /// What the failing step sent and got, redacted.
    pub evidence: Option<Box<Evidence>>,
    /// The command that reruns this case alone, for a failure.
    pub rerun: Option<String>,
    /// What the case tells the run-wide guards.
    pub signals: crate::run::Signals,
}

/// A case's verdict, as reports name it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Every check held.
    Passed,
    /// A check failed.
    Failed,
    /// A check failed as the known-failures file lists: does not fail the run.
    ExpectedFailure,
    /// Every check held, but the known-failures file lists the case: fails the run.
    UnexpectedPass,
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
            Kind::ExpectedFailure => "expected_failure",
            Kind::UnexpectedPass => "unexpected_pass",
            Kind::InvalidCase => "invalid_case",
            Kind::Ignored => "ignored",
            Kind::Inconclusive => "inconclusive",
        }
    }

    /// Whether a case of this kind fails the run.
    pub fn fails_the_run(self) -> bool {
        matches!(
            self,
            Kind::Failed | Kind::UnexpectedPass | Kind::InvalidCase
        )
    }

    /// Every kind, in report order.
    pub const ALL: [Kind; 7] = [
        Kind::Passed,
        Kind::Failed,
        Kind::ExpectedFailure,
        Kind::UnexpectedPass,
        Kind::InvalidCase,
        Kind::Ignored,
        Kind::Inconclusive,
    ];
}

impl Entry {
    /// The entry of a case that ran, with its failure text if it failed; the evidence is
    /// redacted here.
    pub fn of(
        trial: String,
        file: String,
        result: CaseResult,
        message: Option<Arc<str>>,
        secrets: &Secrets,
    ) -> Self {
        let (kind, reason) = match &result.outcome {
            Outcome::Passed => (Kind::Passed, None),
            Outcome::Failed { .. } => (Kind::Failed, None),
            Outcome::Ignored(why) => (Kind::Ignored, Some(why.to_string())),
            Outcome::Inconclusive(why) => (Kind::Inconclusive, Some(why.to_string())),
        };
        let findings = result.findings().to_vec();
        let evidence = Evidence::of(&result, secrets).map(Box::new);
        let applied = result.applied();
        let rerun = result.rerun.as_deref().map(|r| secrets.redact(r));
        Entry {
            trial,
            file,
            kind,
            reason,
            findings,
            notes: result.notes,
            elapsed: Some(result.elapsed),
            message,
            ticket: None,
            applied,
            evidence,
            rerun,
            signals: result.signals,
        }
    }

    /// The same entry as the gate judged it: `kind` and the entry's ticket.
    pub fn judged(mut self, kind: Kind, ticket: &str) -> Self {
        self.kind = kind;
        self.ticket = Some(ticket.to_string());
        if kind == Kind::ExpectedFailure {
            self.reason = Some(format!("expected failure ({ticket})"));
        }
        self
    }

    /// The checks that failed, each once, in check order.
    pub fn failed_checks(&self) -> Vec<crate::check::CheckName> {
        let set: std::collections::BTreeSet<_> = self.findings.iter().map(|f| f.check).collect();
        set.into_iter().collect()
    }

    /// The entry of the gate's own trial: it held, or the file is out of date (`message`).
    pub fn gate(trial: String, file: String, message: Option<String>) -> Self {
        Entry {
            trial,
            file,
            kind: if message.is_some() {
                Kind::Failed
            } else {
                Kind::Passed
            },
            reason: None,
            findings: Vec::new(),
            notes: Vec::new(),
            elapsed: None,
            message: message.map(Arc::from),
            ticket: None,
            applied: Default::default(),
            evidence: None,
            rerun: None,
            signals: Default::default(),
        }
    }

    /// The entry of a case its own file parks (`ignore`): selected, but not run.
    pub fn parked(trial: String, file: String, why: &str) -> Self {
        Entry {
            trial,
            file,
            kind: Kind::Ignored,
            reason: Some(format!("ignored by its file: {why}")),
            findings: Vec::new(),
            notes: Vec::new(),
            elapsed: None,
            message: None,
            ticket: None,
            applied: Default::default(),
            evidence: None,
            rerun: None,
            signals: Default::default(),
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
            ticket: None,
            applied: Default::default(),
            evidence: None,
            rerun: None,
            signals: Default::default(),
        }
    }
}

/// Write the four reports of `doc` into `dir` (`junit.xml`, `report.json`, `summary.md`,
/// `report.html`); returns the files written.
pub fn write(dir: &Path, doc: &json::Document, secrets: &Secrets) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = vec![
        junit::write(dir, doc, secrets)?,
        json::write(dir, doc, secrets)?,
        summary::write(dir, doc, secrets)?,
        html::write(dir, doc, secrets)?,
    ];
    Ok(files)
}

/// Write `doc` as the fragment `name` into `dir/fragments/`, for `errcontract report` to merge.
pub fn write_fragment(
    dir: &Path,
    doc: &json::Document,
    name: &str,
    secrets: &Secrets,
) -> std::io::Result<PathBuf> {
    fragment::write(dir, doc, name, secrets)
}

/// Whether reports can be written into `dir`: made if missing, and a file written and removed
/// there. Asked before anything is sent, so a run never ends having tested and told no one.
pub fn check_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // One name per process: nextest runs many at once into the same directory.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let probe = dir.join(format!(
        ".errcontract-write-check-{}-{nanos}",
        std::process::id()
    ));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
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
