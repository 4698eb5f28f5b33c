//! `errcontract report DIR…`: the fragments of one run (nextest's one process per trial, or
//! the shards of a run split over several machines) merged into one run, judged as the run
//! itself would be (a suite's cases without a result are a guard), and written through the
//! same conclude-and-write code as a run.

use std::path::{Path, PathBuf};

use crate::case::Loaded;
use crate::contract::Contract;
use crate::gate::{Conclusion, GATE_TRIAL, Guard};
use crate::redact::Secrets;
use crate::report::{self, MergeError, json::Document};
use crate::settings::Settings;

use super::{Concluded, Output, conclude};

/// What a merge came to.
#[derive(Debug)]
pub struct MergeOutcome {
    /// The merged run's conclusion and the files written.
    pub concluded: Concluded,
    /// Fragments merged.
    pub fragments: usize,
    /// Cases in the merged run.
    pub cases: usize,
    /// What the merge left out or settled, for the person to read.
    pub notes: Vec<String>,
}

/// Merge the fragments below `dirs` and write the reports into `out` (the first directory
/// when `None`). `settings` are this environment's: its keys are redacted too, its
/// `ERRCONTRACT_MAX_INCONCLUSIVE` judges the merged run, and its cases and schemas, when they
/// are the run's, say which cases must have a result (unless `partial`).
pub fn merge(
    dirs: &[PathBuf],
    out: Option<&Path>,
    partial: bool,
    settings: Option<&Settings>,
) -> Result<MergeOutcome, MergeError> {
    let mut merged = report::merge(dirs)?;
    let out = out.unwrap_or(&dirs[0]);
    let mut secrets = Secrets::new();
    for (role, key) in settings.iter().flat_map(|s| &s.keys) {
        secrets.add(role.env_var().unwrap_or("ERRCONTRACT_API_KEY"), key);
    }
    let max_inconclusive = settings.map_or(0.2, |s| s.max_inconclusive);
    // Cases their files park were never launched (nextest skips them): they go in as ignored;
    // the rest must have a result.
    let suite = settings.and_then(|s| suite_of(s, &merged.doc));
    if let (Some(suite), Some(settings)) = (&suite, settings) {
        merged.doc.add_parked(suite, &settings.cases_dir);
    } else if !partial {
        merged.notes.push(
            "every case's result could not be checked: the cases and schemas here (ERRCONTRACT_CASES, ERRCONTRACT_SCHEMAS) are not the run's".into(),
        );
    }
    let mut conclusion = Conclusion::of(&merged.doc.counted(), max_inconclusive, true, false);
    if let (Some(suite), false) = (&suite, partial) {
        let mut names = suite.trial_names();
        if merged.doc.expectations.is_some() {
            names.push(GATE_TRIAL.to_string());
        }
        let missing = report::missing(&merged.doc, &names);
        // Every report shows each of them (junit.xml an error testcase each).
        merged.doc.missing.clone_from(&missing);
        conclusion.guards.extend(Guard::incomplete(missing));
    }
    let cases = merged.doc.cases.len();
    let concluded = conclude(
        &mut merged.doc,
        conclusion,
        Some(out),
        &Output::Merge,
        &secrets,
    );
    Ok(MergeOutcome {
        concluded,
        fragments: merged.fragments,
        cases,
        notes: merged.notes,
    })
}

/// The suite the run was of, when the cases and schemas here are its.
fn suite_of(settings: &Settings, doc: &Document) -> Option<Loaded> {
    let contract = Contract::load(&settings.schemas_dir).ok()?;
    if contract.fingerprint != doc.contract {
        return None;
    }
    crate::derive::suite(&settings.cases_dir, &contract).ok()
}
