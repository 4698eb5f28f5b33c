//! `report.json`: per case the verdict, the reason, the ticket of an expected failure, the
//! failed checks with their findings, the failure text and the timings; totals and the coverage
//! matrix. Versioned ([`VERSION`]; `schemas/report.schema.json`), and read back by
//! `errcontract expectations` and `errcontract diff`: the one typed model both sides use.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check::CheckName;
use crate::redact::Secrets;
use crate::run::{KeyAnswer, Signals, StoppedAnswering};

use super::{Entry, Evidence, Matrix};
use crate::gate::{Conclusion, Counted, Guard, Subject, Verdict};

/// The version of the format; a reader refuses other versions.
pub const VERSION: u32 = 2;

/// The whole document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// [`VERSION`].
    pub version: u32,
    /// The errcontract that wrote it.
    pub tool: String,
    /// The target's base URL.
    pub target: String,
    /// The contract's fingerprint (`Contract::fingerprint`).
    pub contract: String,
    /// The run that wrote it: nextest's `NEXTEST_RUN_ID`, shared by the processes of one
    /// nextest run, or one of this process's own.
    pub run: String,
    /// When it was written, in milliseconds since the Unix epoch.
    pub written_ms: u64,
    /// The known-failures file the run was gated by, as displayed.
    #[serde(default)]
    pub expectations: Option<String>,
    /// Cases per verdict, every verdict named.
    pub summary: BTreeMap<String, usize>,
    /// Every case, sorted by name.
    pub cases: Vec<CaseRecord>,
    /// The code × endpoint coverage matrix.
    pub coverage: Matrix,
    /// The guards that fired, the weightiest first.
    #[serde(default)]
    pub guards: Vec<GuardRecord>,
    /// The run's exit code (`src/exit.rs`), reports aside.
    #[serde(default)]
    pub exit_code: u8,
    /// Cases of the suite with no result in a merge's fragments (a shard missing, a process
    /// killed): each report shows them as errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// A guard that fired, with its exit code and what it says (with its help).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardRecord {
    /// The guard, with its figures.
    #[serde(flatten)]
    pub guard: Guard,
    /// Its exit code.
    pub exit_code: u8,
    /// What it says, with its help.
    pub message: String,
}

impl GuardRecord {
    /// The record of `guard`.
    pub fn of(guard: &Guard) -> GuardRecord {
        GuardRecord {
            guard: guard.clone(),
            exit_code: guard.exit_code(),
            message: guard.to_string(),
        }
    }
}

/// One case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRecord {
    /// `case::<area>/<name>`.
    pub name: String,
    /// What the trial is of (a case, or the known-failures file).
    #[serde(default, skip_serializing_if = "is_case")]
    pub subject: Subject,
    /// The case file.
    pub file: String,
    /// The verdict.
    pub outcome: Verdict,
    /// Why it was not run or concluded.
    pub reason: Option<String>,
    /// The ticket of its known-failures entry, when it is listed.
    #[serde(default)]
    pub ticket: Option<String>,
    /// Each check that ran, and whether it held.
    pub checks: BTreeMap<CheckName, CheckResult>,
    /// The checks that failed (also of an expected failure).
    pub failed_checks: Vec<CheckName>,
    /// What each failed check found.
    pub findings: Vec<FindingRecord>,
    /// The failure text.
    pub message: Option<String>,
    /// Notes.
    pub notes: Vec<String>,
    /// Wall time, for a case that ran.
    pub elapsed_ms: Option<u64>,
    /// What the failing step sent and got (redacted), for a failure.
    pub evidence: Option<Evidence>,
    /// The command that reruns the case alone, for a failure.
    pub rerun: Option<String>,
    /// How the target answered the `valid` key, if the case sent it not expecting a refusal.
    #[serde(default)]
    pub valid_key: Option<KeyAnswer>,
    /// Set when the case was cut off because the target stopped answering.
    #[serde(default)]
    pub stopped_answering: Option<StoppedAnswering>,
}

impl CaseRecord {
    /// What the guards read of it.
    pub fn counted(&self) -> Counted {
        Counted {
            subject: self.subject,
            verdict: self.outcome,
            signals: Signals {
                valid_key: self.valid_key,
                stopped: self.stopped_answering,
            },
        }
    }

    /// The record of one report entry.
    pub fn of(e: &Entry) -> CaseRecord {
        CaseRecord {
            name: e.trial.clone(),
            subject: e.subject,
            file: e.file.clone(),
            outcome: e.kind,
            reason: e.reason.clone(),
            ticket: e.ticket.clone(),
            checks: {
                let failed = e.failed_checks();
                e.applied
                    .iter()
                    .chain(failed.iter().copied())
                    .map(|c| {
                        let result = if failed.contains(&c) {
                            CheckResult::Failed
                        } else {
                            CheckResult::Passed
                        };
                        (c, result)
                    })
                    .collect()
            },
            failed_checks: e.failed_checks(),
            findings: e
                .findings
                .iter()
                .map(|f| FindingRecord {
                    check: f.check,
                    expected_at: f.expected_at.clone(),
                    expected: f.expected.clone(),
                    actual: f.actual.clone(),
                    detail: f.detail.clone(),
                })
                .collect(),
            message: e.message.as_deref().map(String::from),
            notes: e.notes.clone(),
            elapsed_ms: e.elapsed.map(|d| d.as_millis() as u64),
            evidence: e.evidence.as_deref().cloned(),
            rerun: e.rerun.clone(),
            valid_key: e.signals.valid_key,
            stopped_answering: e.signals.stopped,
        }
    }
}

fn is_case(subject: &Subject) -> bool {
    *subject == Subject::Case
}

/// A check's result in one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    /// It ran and held.
    Passed,
    /// It found something.
    Failed,
}

/// One failed check.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingRecord {
    /// The check.
    pub check: CheckName,
    /// The expectation's JSON Pointer in the case file.
    pub expected_at: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What came.
    pub actual: String,
    /// More lines.
    pub detail: Vec<String>,
}

/// Why a `report.json` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a report of this version.
    #[error("{path} is not an errcontract report.json (version {VERSION}): {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Document {
    /// The document of a run.
    pub fn of(
        target: &str,
        contract: &str,
        expectations: Option<&str>,
        entries: &[Entry],
        matrix: &Matrix,
    ) -> Document {
        let cases: Vec<CaseRecord> = entries.iter().map(CaseRecord::of).collect();
        Document {
            version: VERSION,
            tool: format!("errcontract {}", env!("CARGO_PKG_VERSION")),
            target: target.to_string(),
            contract: contract.to_string(),
            run: run_id(),
            written_ms: now_ms(),
            expectations: expectations.map(String::from),
            summary: summary(&cases),
            cases,
            coverage: matrix.clone(),
            guards: Vec::new(),
            exit_code: crate::exit::OK,
            missing: Vec::new(),
        }
    }

    /// Add, as ignored, the cases of `suite` its files park that have no record (nextest never
    /// launches them); the records stay sorted and counted.
    pub fn add_parked(&mut self, suite: &crate::case::Loaded, cases_dir: &std::path::Path) {
        for case in &suite.cases {
            let trial = case.trial_name();
            if let Some(why) = &case.ignore
                && !self.cases.iter().any(|c| c.name == trial)
            {
                let file = crate::locate::path_in_suite(cases_dir, &case.path);
                self.cases
                    .push(CaseRecord::of(&Entry::parked(trial, file, why)));
            }
        }
        self.cases.sort_by(|a, b| a.name.cmp(&b.name));
        self.summary = summary(&self.cases);
    }

    /// What the guards read of every trial.
    pub fn counted(&self) -> Vec<Counted> {
        self.cases.iter().map(CaseRecord::counted).collect()
    }

    /// Record what the run came to.
    pub fn conclude(&mut self, conclusion: &Conclusion) {
        self.guards = conclusion.guards.iter().map(GuardRecord::of).collect();
        self.exit_code = conclusion.exit_code(true);
    }

    /// Read a `report.json`.
    pub fn read(path: &Path) -> Result<Document, ReadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        let format = |message: String| ReadError::Format {
            path: shown.clone(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => {
                return Err(format(format!(
                    "it is version {v}, written by another errcontract: run the suite again with this one"
                )));
            }
            None => return Err(format("it has no version".into())),
        }
        serde_json::from_value(value).map_err(|e| format(e.to_string()))
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// This process's run: nextest's run id when under nextest, else the time and the process id.
fn run_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        std::env::var("NEXTEST_RUN_ID")
            .ok()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| format!("{}-{}", now_ms(), std::process::id()))
    })
    .clone()
}

/// Cases per verdict, every verdict named.
pub fn summary(cases: &[CaseRecord]) -> BTreeMap<String, usize> {
    Verdict::ALL
        .into_iter()
        .map(|k| {
            let n = cases.iter().filter(|c| c.outcome == k).count();
            (k.as_str().to_string(), n)
        })
        .collect()
}

/// Write `report.json` into `dir`.
pub fn write(dir: &Path, doc: &Document, secrets: &Secrets) -> std::io::Result<PathBuf> {
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
    std::fs::write(&path, secrets.redact(&text))?;
    Ok(path)
}
