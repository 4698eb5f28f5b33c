//! The handshake between the session and a trial: the session fills a trial's slot once, when
//! its verdict is known; the trial takes it once and waits until then. A slot left unfilled
//! when the session's results end is filled with nothing, so no trial waits forever.

use std::sync::{Arc, Condvar, Mutex};

use crate::gate::Verdict;

/// Where a trial's verdict waits for it: filled once by the session, taken once by the trial,
/// which blocks until then.
#[derive(Default)]
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    filled: Condvar,
}

#[derive(Default)]
enum SlotState {
    #[default]
    Waiting,
    Filled(Option<Shown>),
    Taken,
}

impl Slot {
    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A slot already filled.
    pub(super) fn filled(shown: Shown) -> Arc<Slot> {
        let slot = Arc::new(Slot::default());
        slot.put(Some(shown));
        slot
    }

    pub(super) fn put(&self, verdict: Option<Shown>) {
        let mut state = self.state();
        if matches!(*state, SlotState::Waiting) {
            *state = SlotState::Filled(verdict);
            self.filled.notify_one();
        }
    }

    /// The trial's verdict, once the session knows it; `None` if the session ended without
    /// one (a bug), or if it was taken already.
    pub fn take(&self) -> Option<Shown> {
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

/// What a trial shows: its verdict, with the failure text or the reason it was not concluded.
#[derive(Debug, Clone)]
pub(crate) struct Shown {
    /// The verdict.
    pub verdict: Verdict,
    /// The failure text (redacted), for a verdict that fails the run.
    pub message: Option<Arc<str>>,
    /// Why the trial was not run or concluded, or is an expected failure (redacted).
    pub reason: Option<String>,
}
