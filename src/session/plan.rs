//! The trials of a run, planned: one per case (its slot waits for the verdict the reader
//! hands it), per broken file (its problems, at once) and for the gate's own check of the
//! known-failures file; the jobs of exactly the cases libtest will run; and the report entries
//! of what is selected but sends nothing (parked cases, broken files, the gate's check).

use std::path::Path;
use std::sync::Arc;

use crate::case::{Case, Loaded};
use crate::contract::Contract;
use crate::gate::{self, GATE_TRIAL, KnownFailures, Verdict};
use crate::locate::path_in_suite;
use crate::report::{Entry, Matrix};

use super::collect::Collected;
use super::slot::{Shown, Slot};
use super::{Choice, Selection};

/// A trial of the run.
pub(crate) struct Planned {
    /// Its name.
    pub name: String,
    /// Whether its file parks it (libtest shows it ignored unless asked to run it).
    pub parked: bool,
    /// Where its verdict arrives.
    pub slot: Arc<Slot>,
}

/// What a run is to do.
pub(super) struct Plan {
    /// Every trial, sorted by name.
    pub trials: Vec<Planned>,
    /// The cases to run, by job index, with their trials' slots.
    pub cases: Vec<(Arc<Case>, Arc<Slot>)>,
    /// The jobs for the scheduler: each case to run with its index.
    pub jobs: Vec<(usize, Arc<Case>)>,
    /// The entries of what sends nothing, and an empty matrix.
    pub collected: Collected,
}

/// Plan the trials of `loaded` as `selection` runs them.
pub(super) fn plan(
    loaded: &Loaded,
    selection: &Selection<'_>,
    gate: Option<&KnownFailures>,
    (contract, cases_dir): (&Contract, &Path),
    today: time::Date,
) -> Plan {
    let mut collected = Collected {
        entries: Vec::with_capacity(loaded.cases.len() + loaded.broken.len() + 1),
        matrix: Matrix::new(&contract.table, &contract.endpoints),
        sent: false,
    };
    let mut trials: Vec<Planned> = Vec::new();
    let mut cases = Vec::new();
    let mut jobs = Vec::new();
    for case in &loaded.cases {
        let name = case.trial_name();
        let parked = case.ignore.is_some();
        let slot = Arc::new(Slot::default());
        match (selection.choose)(&name, parked) {
            Choice::Run => {
                jobs.push((cases.len(), case.clone()));
                cases.push((case.clone(), slot.clone()));
            }
            // A parked case libtest will not run is still in the reports, with its reason.
            Choice::Skipped if parked => collected.entries.push(Entry::parked(
                name.clone(),
                path_in_suite(cases_dir, &case.path),
                case.ignore.as_deref().unwrap_or_default(),
            )),
            Choice::Skipped | Choice::FilteredOut => {}
        }
        trials.push(Planned { name, parked, slot });
    }
    for broken in &loaded.broken {
        let name = broken.trial_name();
        let message: Arc<str> = Arc::from(format!("{name}: {}", broken.errors));
        if (selection.choose)(&name, false) == Choice::Run {
            collected.entries.push(Entry::invalid(
                name.clone(),
                path_in_suite(cases_dir, &broken.path),
                message.clone(),
            ));
        }
        let shown = Shown {
            verdict: Verdict::InvalidCase,
            message: Some(message),
            reason: None,
        };
        trials.push(Planned {
            name,
            parked: false,
            slot: Slot::filled(shown),
        });
    }
    if let Some(gate) = gate {
        // Checked only when its trial runs: it needs every trial name there is.
        let slot = Arc::new(Slot::default());
        if (selection.choose)(GATE_TRIAL, false) == Choice::Run {
            let entry = gate_entry(gate, loaded, today);
            slot.put(Some(Shown {
                verdict: entry.kind,
                message: entry.message.clone(),
                reason: None,
            }));
            collected.entries.push(entry);
        } else {
            slot.put(None);
        }
        trials.push(Planned {
            name: GATE_TRIAL.to_string(),
            parked: false,
            slot,
        });
    }
    trials.sort_by(|a, b| a.name.cmp(&b.name));
    Plan {
        trials,
        cases,
        jobs,
        collected,
    }
}

/// The entry of the gate's own trial: the known-failures file checked against every trial
/// there is (derived ones included; a run whose gate trial runs has loaded them all).
fn gate_entry(gate: &KnownFailures, loaded: &Loaded, today: time::Date) -> Entry {
    let (judged, message) = gate::judge_file(gate, &loaded.trial_names(), today);
    Entry::gate(GATE_TRIAL.to_string(), gate.file.clone(), judged, message)
}
