//! The handshake between a case's job and its libtest trial: the job fills the slot once, the
//! trial takes it once and waits until then; a job that ends without a verdict fills it with
//! nothing as it is dropped, so no trial waits forever.

use std::sync::{Arc, Condvar, Mutex};

/// Where a case's verdict waits for its trial: filled once by the job, taken once by the
/// trial, which blocks until then. A job that ends without a verdict (it panicked) fills it
/// with nothing as it is dropped, so no trial waits forever.
#[derive(Default)]
pub(super) struct Slot {
    state: Mutex<SlotState>,
    filled: Condvar,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    Filled(Option<Verdict>),
    Taken,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn put(&self, verdict: Option<Verdict>) {
        let mut state = self.state();
        if matches!(*state, SlotState::Waiting) {
            *state = SlotState::Filled(verdict);
            self.filled.notify_one();
        }
    }

    pub(super) fn take(&self) -> Option<Verdict> {
        let mut state = self.state();
        loop {
            match std::mem::replace(&mut *state, SlotState::Taken) {
                SlotState::Filled(verdict) => return verdict,
                SlotState::Taken => return None,
                SlotState::Waiting => {
                    *state = SlotState::Waiting;
                    state = self
                        .filled
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
            }
        }
    }
}

/// Fills its slot with nothing when dropped unfilled.
pub(super) struct Unfilled(pub(super) Arc<Slot>);

impl Drop for Unfilled {
    fn drop(&mut self) {
        self.0.put(None);
    }
}

/// What a trial learns of its case's run.
pub(super) enum Verdict {
    Passed,
    Failed(Arc<str>),
    NotRun(String),
}
