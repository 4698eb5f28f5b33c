//! The reader of a run's events: each case's result is judged by the gate, its failure
//! rendered, counted in the coverage matrix and kept as a compact report entry, and its
//! verdict handed to the trial that waits for it. It runs on a thread of its own, never on a
//! runtime worker, the way nextest's reporters read its runner's events.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::case::Case;
use crate::gate::{self, KnownFailures};
use crate::locate::path_in_suite;
use crate::report::{self, Entry, Matrix};
use crate::run::{CaseResult, Event};
use crate::target::Target;

use super::slot::{Shown, Slot};

/// What the reader has gathered by the end of the run.
pub(super) struct Collected {
    /// Every case's report entry, in the order results came.
    pub entries: Vec<Entry>,
    /// The code × endpoint matrix of what was sent.
    pub matrix: Matrix,
    /// Whether any request was sent (else there is no matrix to show).
    pub sent: bool,
}

/// What judges and renders a case's result.
pub(super) struct Reader {
    /// The cases, by the index the scheduler was given them with, and each one's trial slot.
    pub cases: Vec<(Arc<Case>, Arc<Slot>)>,
    pub target: Arc<Target>,
    pub gate: Option<Arc<KnownFailures>>,
    pub today: time::Date,
    /// The cases directory: reports name case files below its parent.
    pub cases_dir: std::path::PathBuf,
}

impl Reader {
    /// Read every event until the scheduler is done; a trial whose case sent no event (it
    /// cannot happen but by a bug) is told so rather than left waiting.
    pub fn read(self, mut events: UnboundedReceiver<Event>, mut into: Collected) -> Collected {
        while let Some(event) = events.blocking_recv() {
            let (index, entry, shown) = match event {
                Event::Finished { index, result } => {
                    let (entry, shown) = self.judged(&self.cases[index].0, result, &mut into);
                    (index, entry, shown)
                }
                Event::Panicked { index, message } => {
                    let (entry, shown) = self.crashed(&self.cases[index].0, &message);
                    (index, entry, shown)
                }
            };
            into.entries.push(entry);
            self.cases[index].1.put(Some(shown));
        }
        for (_, slot) in &self.cases {
            slot.put(None);
        }
        into
    }

    /// A case's result, counted, and as the gate judges it: what its trial shows and what
    /// reports keep.
    fn judged(&self, case: &Case, result: CaseResult, into: &mut Collected) -> (Entry, Shown) {
        let secrets = &self.target.secrets;
        let trial = case.trial_name();
        into.matrix.add(&result);
        into.matrix.add_derived(case, &result);
        into.sent |= result.steps.iter().any(|s| s.requests > 0);
        let failed: BTreeSet<_> = result.findings().iter().map(|f| f.check).collect();
        let judged = gate::judge(
            self.gate.as_deref(),
            &trial,
            &result.outcome,
            &failed,
            self.today,
        );
        let text = report::failure(case, &result, &self.target);
        let text = match &judged.note {
            Some(note) if text.is_empty() => format!("{trial}: {note}"),
            Some(note) => format!("{text}\n  {note}"),
            None => text,
        };
        let message: Option<Arc<str>> =
            (!text.is_empty()).then(|| Arc::from(secrets.redact(&text)));
        let entry = Entry::of(
            trial,
            path_in_suite(&self.cases_dir, &case.path),
            result,
            judged,
            message,
            secrets,
        );
        let shown = Shown {
            verdict: entry.kind,
            message: entry.message.clone(),
            reason: entry.reason.clone(),
        };
        (entry, shown)
    }

    /// A case whose run panicked: its trial fails, and the reports say whose bug it is.
    fn crashed(&self, case: &Case, panic: &str) -> (Entry, Shown) {
        let trial = case.trial_name();
        let message: Arc<str> = Arc::from(self.target.secrets.redact(&format!(
            "{trial}: errcontract failed while running this case ({panic}); this is a bug in errcontract, not a verdict on the target: please report it"
        )));
        let entry = Entry::crashed(trial, path_in_suite(&self.cases_dir, &case.path), message);
        let shown = Shown {
            verdict: entry.kind,
            message: entry.message.clone(),
            reason: None,
        };
        (entry, shown)
    }
}
