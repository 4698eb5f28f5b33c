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
pub use diff::{diff, new_failures};
pub use evidence::{Came, Evidence, Sent};
pub use failure::failure;
pub use faulted::FaultedRow;
pub use fragment::{MergeError, Merged, clear_others as clear_other_runs, merge, missing};
pub use not_run::{headline as ran_headline, summary as not_run_summary};
pub use summary::append_to_step_summary;

use crate::check::Finding;
use crate::gate::{Judged, Subject, Verdict};
use crate::redact::Secrets;
use crate::run::CaseResult;

/// What reports keep of one case, compact: a passing case's exchanges and steps are gone by
/// now (the coverage matrix has counted them); a failure keeps its findings and its text.
#[derive(Debug, Clone)]
pub struct Entry {
    /// `case::<area>/<name>`.
    pub trial: String,
    /// What the trial is of.
    pub subject: Subject,
    /// The case file, as displayed.
    pub file: String,
    /// The verdict.
    pub kind: Verdict,
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

impl Entry {
    /// The entry of a case that ran, as the gate judged it, with its failure text if it
    /// failed; the evidence is redacted here.
    pub fn of(
        trial: String,
        file: String,
        result: CaseResult,
        judged: Judged,
        message: Option<Arc<str>>,
        secrets: &Secrets,
    ) -> Self {
        let findings = result.findings().to_vec();
        let evidence = Evidence::of(&result, secrets).map(Box::new);
        let applied = result.applied();
        let rerun = result.rerun.as_deref().map(|r| secrets.redact(r));
        Entry {
            trial,
            subject: Subject::Case,
            file,
            kind: judged.verdict,
            reason: judged.reason.map(|r| secrets.redact(&r)),
            findings,
            notes: result.notes,
            elapsed: Some(result.elapsed),
            message,
            ticket: judged.ticket,
            applied,
            evidence,
            rerun,
            signals: result.signals,
        }
    }

    /// The checks that failed, each once, in check order.
    pub fn failed_checks(&self) -> Vec<crate::check::CheckName> {
        let set: std::collections::BTreeSet<_> = self.findings.iter().map(|f| f.check).collect();
        set.into_iter().collect()
    }

    /// An entry of a trial that sent nothing, as the gate judged it.
    fn bare(trial: String, file: String, judged: Judged) -> Self {
        Entry {
            trial,
            subject: Subject::Case,
            file,
            kind: judged.verdict,
            reason: judged.reason,
            findings: Vec::new(),
            notes: Vec::new(),
            elapsed: None,
            message: None,
            ticket: judged.ticket,
            applied: Default::default(),
            evidence: None,
            rerun: None,
            signals: Default::default(),
        }
    }

    /// The entry of the gate's own trial, as `gate::judge_file` judged the file (`message`:
    /// what is out of date).
    pub fn gate(trial: String, file: String, judged: Judged, message: Option<String>) -> Self {
        Entry {
            subject: Subject::KnownFailuresFile,
            message: message.map(Arc::from),
            ..Entry::bare(trial, file, judged)
        }
    }

    /// The entry of a case its own file parks (`ignore`): selected, but not run.
    pub fn parked(trial: String, file: String, why: &str) -> Self {
        Entry::bare(trial, file, Judged::parked(why))
    }

    /// The entry of a case file that did not load.
    pub fn invalid(trial: String, file: String, message: Arc<str>) -> Self {
        Entry {
            message: Some(message),
            ..Entry::bare(trial, file, Judged::invalid())
        }
    }

    /// The entry of a case whose run panicked, saying whose bug it is.
    pub fn crashed(trial: String, file: String, message: Arc<str>) -> Self {
        Entry {
            message: Some(message),
            ..Entry::bare(trial, file, Judged::crashed())
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
