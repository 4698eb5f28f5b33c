//! The scheduler: the selected cases run on the async runtime, as many at once as the budget
//! lets through, whatever libtest's `--test-threads` is. Each case's result goes to whoever
//! waits for it (the libtest trial of that case), as soon as it is known.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::case::Case;

use super::{CaseResult, Runner};

/// Cases under way per request slot: a case waiting between polls, or being checked, holds no
/// request slot, so more cases than slots keep the slots busy; a bound keeps memory flat
/// however many cases are selected.
const CASES_PER_SLOT: usize = 2;

/// What to do with a case's result: called once, on a runtime worker.
pub type Done = Box<dyn FnOnce(&Case, CaseResult) + Send>;

/// One case to run, and what to do with its result.
pub struct Job {
    /// The case.
    pub case: Arc<Case>,
    /// Called with the result.
    pub done: Done,
}

/// Start running `jobs` in order on `runtime`; returns at once.
pub fn spawn(runtime: &tokio::runtime::Handle, runner: Arc<Runner>, jobs: Vec<Job>) {
    let in_progress = Arc::new(Semaphore::new(
        runner.settings().concurrency.max(1) * CASES_PER_SLOT,
    ));
    runtime.spawn(async move {
        for job in jobs {
            // The semaphore is never closed; were it, the case would start unbounded.
            let permit = in_progress.clone().acquire_owned().await.ok();
            let runner = runner.clone();
            tokio::spawn(async move {
                let result = runner.run_case(&job.case).await;
                (job.done)(&job.case, result);
                drop(permit);
            });
        }
    });
}
