//! The reader of a run's events: each case's result is judged by the gate, its failure
//! rendered, counted in the coverage matrix and kept as a compact report entry, and its
//! verdict handed to the trial that waits for it. It runs on a thread of its own, never on a
//! runtime worker, the way nextest's reporters read its runner's events.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::case::Case;
use crate::gate::{self, KnownFailures};
use crate::locate::path_in_suite;
use crate::report::{self, Entry, Matrix};
use crate::run::{self, CaseResult, Event};
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
    /// Read every event until the scheduler is done. Judging a result that panics fails that
    /// case as errcontract's bug, not the run; a trial whose case sent no event (a bug too) is
    /// told so when reading ends, however it ends, rather than left waiting.
    pub fn read(self, mut events: UnboundedReceiver<Event>, mut into: Collected) -> Collected {
        let _unfilled = Unfilled(&self.cases);
        while let Some(event) = events.blocking_recv() {
            let index = event.index();
            let case = &self.cases[index].0;
            let judged = std::panic::catch_unwind(AssertUnwindSafe(|| match event {
                Event::Finished { result, .. } => self.judged(case, result, &mut into),
                Event::Panicked { message, .. } => self.crashed(case, &message),
            }));
            let (entry, shown) =
                judged.unwrap_or_else(|panic| self.crashed(case, &run::panic_text(&*panic)));
            into.entries.push(entry);
            self.cases[index].1.put(Some(shown));
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

/// Fills, as reading ends, every slot no event filled: their trials learn there is no result
/// instead of waiting for ever.
struct Unfilled<'a>(&'a [(Arc<Case>, Arc<Slot>)]);

impl Drop for Unfilled<'_> {
    fn drop(&mut self) {
        for (_, slot) in self.0 {
            slot.put(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, default_schemas_dir};

    fn case() -> Arc<Case> {
        let contract = Contract::load(&default_schemas_dir()).expect("the contract");
        let text = r#"{"description": "d", "tags": ["models"],
            "request": {"method": "GET", "path": "/v2/models"},
            "expect": {"status": 200}}"#;
        let path = std::path::Path::new("cases/t/a.json");
        Arc::new(
            crate::case::parse("t/a".into(), path, text.as_bytes(), &contract).expect("a case"),
        )
    }

    #[test]
    fn a_reader_that_dies_still_tells_every_waiting_trial() {
        let contract = Contract::load(&default_schemas_dir()).expect("the contract");
        let slot = Arc::new(Slot::default());
        let reader = Reader {
            cases: vec![(case(), slot.clone())],
            target: Arc::new(Target::new(
                "http://127.0.0.1:9",
                false,
                Default::default(),
                Default::default(),
            )),
            gate: None,
            today: crate::gate::today(),
            cases_dir: "cases".into(),
        };
        let (events, received) = tokio::sync::mpsc::unbounded_channel();
        // An event for a case the reader was never given: reading it panics.
        events
            .send(Event::Panicked {
                index: 7,
                message: "x".into(),
            })
            .expect("sent");
        drop(events);
        let collected = Collected {
            entries: Vec::new(),
            matrix: Matrix::new(&contract.table, &contract.endpoints),
            sent: false,
        };
        let died = std::thread::spawn(move || reader.read(received, collected)).join();
        assert!(died.is_err(), "the reader was meant to die");
        // The trial waits on its own thread, as libtest's do; it must not wait for ever.
        let (told, learnt) = std::sync::mpsc::channel();
        std::thread::spawn(move || told.send(slot.take().is_none()));
        assert_eq!(
            learnt.recv_timeout(std::time::Duration::from_secs(10)),
            Ok(true),
            "the waiting trial learns there is no result"
        );
    }
}
