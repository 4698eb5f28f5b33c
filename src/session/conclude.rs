//! Conclude and write: a run's `Document` judged by the guards, its conclusion recorded in it,
//! and its reports written. A run, a merge of fragments (`errcontract report`) and a traffic
//! check all end here, so the same records give the same exit code and the same files.

use std::path::{Path, PathBuf};

use crate::gate::{Conclusion, Guard, Verdict};
use crate::redact::Secrets;
use crate::report::{self, Entry, Matrix, json::Document};

/// Which reports a process writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// None: no report directory, or a one-case rerun by hand (the run's reports stay).
    Nothing,
    /// Only its fragment, named after its one trial, for `errcontract report` to merge
    /// (nextest's one process per trial).
    Fragment(String),
    /// The four reports and the run's fragment; fragments of earlier runs are cleared.
    Run,
    /// A run of part of the suite (a filter): the four reports and its fragment; earlier
    /// runs' fragments stay, as they hold results this run did not replace.
    PartRun,
    /// The four reports of merged fragments.
    Merge,
}

/// What came of writing the reports.
#[derive(Debug)]
pub enum Written {
    /// Nothing was to be written.
    Nothing,
    /// A one-case rerun by hand: the reports in the directory stay the run's.
    KeptTheRuns(PathBuf),
    /// The files written, and whether appending to the CI job's summary failed.
    Files {
        /// The files.
        files: Vec<PathBuf>,
        /// Why `summary.md` could not be added to `$GITHUB_STEP_SUMMARY`, if it could not.
        step_summary: Option<std::io::Error>,
    },
    /// The reports could not be written.
    Failed {
        /// The directory.
        dir: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// What a finished run (or merge) came to.
#[derive(Debug)]
pub struct Concluded {
    /// The guards that fired, the weightiest first.
    pub guards: Vec<Guard>,
    /// What was written.
    pub written: Written,
    /// The exit code ([`crate::exit`]).
    pub exit_code: u8,
}

/// What a run came to, for concluding: a run of cases or a traffic check.
#[derive(Debug)]
pub struct Results {
    /// The target, as reports name it.
    pub target: String,
    /// The contract's fingerprint.
    pub contract: String,
    /// The known-failures file the run was gated by, as displayed.
    pub gate_file: Option<String>,
    /// Every trial's entry.
    pub entries: Vec<Entry>,
    /// The code × endpoint matrix of what was seen.
    pub matrix: Matrix,
    /// Whether anything was sent or seen (else there is no matrix to show).
    pub sent: bool,
    /// Guards the caller found itself (a traffic check that checked nothing), the weightiest
    /// first; they come before those the results fire.
    pub guards: Vec<Guard>,
}

/// How a run's results are judged.
#[derive(Debug, Clone, Copy)]
pub struct Judging {
    /// `ERRCONTRACT_MAX_INCONCLUSIVE`.
    pub max_inconclusive: f64,
    /// Whether the run is of the whole selection (not one trial of nextest's): only then do
    /// the run-wide guards judge it.
    pub whole: bool,
    /// How many trials the adapter saw fail: one that failed without an entry still fails
    /// the run.
    pub failed_trials: u64,
}

/// What a finished run says and came to.
#[derive(Debug)]
pub struct Finished {
    /// What to show after the trials: the coverage matrix, the not-run summary, the expected
    /// failures.
    pub closing: Vec<String>,
    /// The guards, the reports written, the exit code.
    pub concluded: Concluded,
}

/// Conclude a run: the closing text, the `Document` of its entries, the guards over them, and
/// its reports written into `dir` as `output` says.
pub fn finish(
    mut results: Results,
    judging: &Judging,
    dir: Option<&Path>,
    output: &Output,
    secrets: &Secrets,
) -> Finished {
    let entries = &mut results.entries;
    entries.sort_by(|a, b| a.trial.cmp(&b.trial));
    let mut closing = Vec::new();
    // First how much of the run ran, and the top reasons the rest did not.
    if judging.whole {
        let ran = report::ran_headline(
            entries
                .iter()
                .map(|e| (e.trial.as_str(), e.kind, e.reason.as_deref())),
            0,
        );
        closing.push(format!("{ran}.\n"));
    }
    if results.sent {
        closing.push(results.matrix.render());
    }
    let not_run = report::not_run_summary(entries);
    if !not_run.is_empty() {
        closing.push(not_run);
    }
    let expected: Vec<String> = entries
        .iter()
        .filter(|e| e.kind == Verdict::ExpectedFailure)
        .map(|e| format!("  {} ({})", e.trial, e.ticket.as_deref().unwrap_or("")))
        .collect();
    if let (false, Some(file)) = (expected.is_empty(), &results.gate_file) {
        closing.push(format!(
            "{} expected failure{} ({file}; they do not fail the run):\n{}\n",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" },
            expected.join("\n")
        ));
    }
    let mut doc = Document::of(
        &results.target,
        &results.contract,
        results.gate_file.as_deref(),
        entries,
        &results.matrix,
    );
    let counted = doc.counted();
    let recorded = counted.iter().filter(|c| c.verdict.fails_the_run()).count();
    let mut conclusion = Conclusion::of(
        &counted,
        judging.max_inconclusive,
        judging.whole,
        judging.failed_trials > recorded as u64,
    );
    conclusion.guards.splice(0..0, results.guards);
    let concluded = conclude(&mut doc, conclusion, dir, output, secrets);
    Finished { closing, concluded }
}

/// Judge `doc` with `conclusion`, record it there, and write its reports into `dir` as
/// `output` says.
pub fn conclude(
    doc: &mut Document,
    conclusion: Conclusion,
    dir: Option<&Path>,
    output: &Output,
    secrets: &Secrets,
) -> Concluded {
    doc.conclude(&conclusion);
    let written = match dir {
        None => Written::Nothing,
        Some(dir) => write(dir, doc, output, secrets),
    };
    let ok = !matches!(written, Written::Failed { .. });
    Concluded {
        exit_code: conclusion.exit_code(ok),
        guards: conclusion.guards,
        written,
    }
}

fn write(dir: &Path, doc: &Document, output: &Output, secrets: &Secrets) -> Written {
    let files = match output {
        Output::Nothing => return Written::KeptTheRuns(dir.to_path_buf()),
        Output::Fragment(name) => report::write_fragment(dir, doc, name, secrets).map(|f| vec![f]),
        Output::Run => report::write(dir, doc, secrets).and_then(|mut files| {
            report::clear_other_runs(dir, &doc.run)?;
            files.push(report::write_fragment(dir, doc, "run", secrets)?);
            Ok(files)
        }),
        Output::PartRun => report::write(dir, doc, secrets).and_then(|mut files| {
            files.push(report::write_fragment(dir, doc, "run", secrets)?);
            Ok(files)
        }),
        Output::Merge => report::write(dir, doc, secrets),
    };
    match files {
        Err(error) => Written::Failed {
            dir: dir.to_path_buf(),
            error,
        },
        Ok(files) => {
            // A failure there costs the job's page, not the run's verdict.
            let step_summary = files
                .iter()
                .any(|f| f.ends_with("summary.md"))
                .then(|| report::append_to_step_summary(dir).err())
                .flatten();
            Written::Files {
                files,
                step_summary,
            }
        }
    }
}
