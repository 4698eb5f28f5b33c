//! What a case's result tells the run-wide guards (`gate::guards`): how the target answered
//! the `valid` key, and whether the case was cut off because the target stopped answering.
//! Kept in the case's report record, so a merge of fragments is judged as the run would be.

use serde::{Deserialize, Serialize};

use crate::case::{Auth, Case, Role};
use crate::contract::CodeTable;

use super::{Inconclusive, Outcome, StepRecord};

/// How the target answered the `valid` key in a case that did not expect it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum KeyAnswer {
    /// A status that comes only after the key was accepted (a success, a validation error).
    Accepted,
    /// With the status of the code that refuses a key.
    Refused {
        /// That status.
        status: u16,
    },
}

/// The target stopped answering while this case was under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedAnswering {
    /// `ERRCONTRACT_MAX_TIMEOUTS`.
    pub after: usize,
    /// `ERRCONTRACT_TIMEOUT_S`, in milliseconds.
    pub timeout_ms: u64,
}

/// What a case's result tells the guards, kept in its report record so a merge of fragments
/// judges a run as the run itself would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signals {
    /// How the `valid` key was answered, if the case sent it.
    pub valid_key: Option<KeyAnswer>,
    /// Whether the case was cut off because the target stopped answering.
    pub stopped: Option<StoppedAnswering>,
}

impl Signals {
    /// The signals of a case that came to `outcome` in `steps`.
    pub fn of(case: &Case, outcome: &Outcome, steps: &[StepRecord], table: &CodeTable) -> Signals {
        let stopped = match outcome {
            Outcome::Inconclusive(Inconclusive::StoppedAnswering { after, timeout }) => {
                Some(StoppedAnswering {
                    after: *after,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
            _ => None,
        };
        // The first step that sent the valid key, did not expect it refused, and got an answer
        // the key decides: a refusal, or one that comes only after the key was accepted. An
        // unknown path's 404 or an injected 500 is answered without looking at the key, so it
        // tells nothing (`answered_before_key` in the table).
        let valid_key = table.key_refusal_status().and_then(|refusal| {
            steps.iter().enumerate().find_map(|(i, record)| {
                let (_, step) = case.steps.get(i)?;
                let status = record.status?;
                if step.request.auth != Auth::Role(Role::Valid) || step.expect.status == refusal {
                    return None;
                }
                if status == refusal {
                    Some(KeyAnswer::Refused { status })
                } else {
                    table
                        .shows_key_accepted(status)
                        .then_some(KeyAnswer::Accepted)
                }
            })
        });
        Signals { valid_key, stopped }
    }
}
