//! The scheduler: the selected cases run on the async runtime, as many at once as the budget
//! lets through, whatever libtest's `--test-threads` is. Each case's result is sent as an
//! [`Event`] as soon as it is known; whoever reads the events (the session) judges and
//! reports. Nothing is judged or rendered here, on a runtime worker.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::case::Case;

use super::{CaseResult, Runner};

/// Cases under way per request slot: a case waiting between polls, or being checked, holds no
/// request slot, so more cases than slots keep the slots busy; a bound keeps memory flat
/// however many cases are selected.
const CASES_PER_SLOT: usize = 2;

/// What the scheduler says of a case, by the index it was given with.
#[derive(Debug)]
pub enum Event {
    /// The case came to a result.
    Finished {
        /// The case's index among the jobs.
        index: usize,
        /// Its result.
        result: CaseResult,
    },
    /// Running the case panicked: a bug in errcontract, not a verdict on the target.
    Panicked {
        /// The case's index among the jobs.
        index: usize,
        /// The panic's message.
        message: String,
    },
}

impl Event {
    /// The index of the case it is of.
    pub fn index(&self) -> usize {
        match self {
            Event::Finished { index, .. } | Event::Panicked { index, .. } => *index,
        }
    }
}

/// Start running `jobs` (each case with its index) in order on `runtime`; returns at once. The
/// events end when every case has sent one.
pub fn spawn(
    runtime: &tokio::runtime::Handle,
    runner: Arc<Runner>,
    jobs: Vec<(usize, Arc<Case>)>,
) -> mpsc::UnboundedReceiver<Event> {
    let (events, received) = mpsc::unbounded_channel();
    let in_progress = Arc::new(Semaphore::new(
        runner.settings().concurrency.max(1) * CASES_PER_SLOT,
    ));
    runtime.spawn(async move {
        for (index, case) in jobs {
            // The semaphore is never closed; were it, the case would start unbounded.
            let permit = in_progress.clone().acquire_owned().await.ok();
            let runner = runner.clone();
            let events = events.clone();
            let job = tokio::spawn(async move { runner.run_case(&case).await });
            tokio::spawn(async move {
                let event = match job.await {
                    Ok(result) => Event::Finished { index, result },
                    Err(e) => Event::Panicked {
                        index,
                        message: panic_message(e),
                    },
                };
                // The reader left (the run is over): nobody waits for this result.
                let _ = events.send(event);
                drop(permit);
            });
        }
    });
    received
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => panic_text(&*payload),
        Err(e) => e.to_string(),
    }
}

/// What a panic said.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}
