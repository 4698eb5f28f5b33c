//! Conclude and write: a run's `Document` judged by the guards, its conclusion recorded in it,
//! and its reports written. A run, a merge of fragments (`errcontract report`) and a traffic
//! check all end here, so the same records give the same exit code and the same files.

use std::path::{Path, PathBuf};

use crate::gate::{Conclusion, Guard};
use crate::redact::Secrets;
use crate::report::{self, json::Document};

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
