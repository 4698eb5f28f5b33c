//! Guards against runs that prove nothing, or less than they seem to: the target stopped
//! answering, every case sent with the `valid` key was refused (the key is wrong), too many
//! cases were inconclusive, or nothing was run at all. Each has its own message and exit code
//! ([`crate::exit`]). The guards that stop a run before anything is sent (no case selected,
//! the target unreachable, a blank `ERRCONTRACT_BASE_URL`, an unwritable report directory)
//! are the harness's, as they need no results.

use std::time::Duration;

use crate::case::{Auth, Case, Role};
use crate::contract::CodeTable;
use crate::exit;
use crate::run::{CaseResult, Inconclusive, Outcome};

/// What the run's cases came to, counted as they finish.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Cases that passed or failed (expected failures included).
    pub concluded: usize,
    /// Cases with no verdict.
    pub inconclusive: usize,
    /// Cases the target cannot serve.
    pub ignored: usize,
    /// Case files that did not load (they fail their own trials).
    pub invalid: usize,
    /// The target stopped answering: after so many requests, each allowed so long.
    pub stopped: Option<(usize, Duration)>,
    /// Cases that sent the `valid` key not expecting it to be refused.
    pub valid_key_sent: usize,
    /// Of those, the cases it was refused in.
    pub valid_key_refused: usize,
    /// The status it was refused with.
    pub refused_with: Option<u16>,
}

impl Tally {
    /// Count one case.
    pub fn add(&mut self, case: &Case, result: &CaseResult, table: &CodeTable) {
        match &result.outcome {
            Outcome::Passed | Outcome::Failed { .. } => self.concluded += 1,
            Outcome::Ignored(_) => self.ignored += 1,
            Outcome::Inconclusive(why) => {
                self.inconclusive += 1;
                if let Inconclusive::StoppedAnswering { after, timeout } = why {
                    self.stopped = Some((*after, *timeout));
                }
            }
        }
        let Some(refusal) = table.key_refusal_status() else {
            return;
        };
        // The first step that sent the valid key and did not expect it refused.
        let sent = result.steps.iter().enumerate().find_map(|(i, record)| {
            let (_, step) = case.steps.get(i)?;
            let status = record.status?;
            (step.request.auth == Auth::Role(Role::Valid) && step.expect.status != refusal)
                .then_some(status)
        });
        if let Some(status) = sent {
            self.valid_key_sent += 1;
            if status == refusal {
                self.valid_key_refused += 1;
                self.refused_with = Some(refusal);
            }
        }
    }

    /// Count a case file that did not load.
    pub fn add_invalid(&mut self) {
        self.invalid += 1;
    }
}

/// A guard that fired.
#[derive(Debug, Clone, PartialEq)]
pub enum Guard {
    /// The target stopped answering; the cases left were not concluded.
    StoppedAnswering {
        /// `ERRCONTRACT_MAX_TIMEOUTS`.
        after: usize,
        /// `ERRCONTRACT_TIMEOUT_S`.
        timeout: Duration,
        /// Cases left inconclusive.
        left: usize,
    },
    /// Every case sent with the `valid` key was refused.
    KeyRejected {
        /// How many cases.
        cases: usize,
        /// The status they got.
        status: u16,
    },
    /// More cases were inconclusive than allowed.
    TooManyInconclusive {
        /// Inconclusive cases.
        inconclusive: usize,
        /// Cases run.
        of: usize,
        /// `ERRCONTRACT_MAX_INCONCLUSIVE`.
        max: f64,
    },
    /// Every selected case was not run.
    NothingRun {
        /// Cases the target cannot serve.
        ignored: usize,
    },
}

impl Guard {
    /// The exit code of the guard.
    pub fn exit_code(&self) -> u8 {
        match self {
            Guard::StoppedAnswering { .. } => exit::STOPPED_ANSWERING,
            Guard::KeyRejected { .. } => exit::KEY_REJECTED,
            Guard::TooManyInconclusive { .. } => exit::TOO_MANY_INCONCLUSIVE,
            Guard::NothingRun { .. } => exit::NO_CASE_RUN,
        }
    }

    /// Whether it outranks a failed case for the exit code: it explains the failures.
    pub fn explains_failures(&self) -> bool {
        matches!(
            self,
            Guard::StoppedAnswering { .. } | Guard::KeyRejected { .. }
        )
    }
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Guard::StoppedAnswering {
                after,
                timeout,
                left,
            } => write!(
                f,
                "the target stopped answering: {after} requests in a row got no answer within {timeout:?}, so the {left} cases left were not concluded (inconclusive)\n  help: check that the service is up and answering at ERRCONTRACT_BASE_URL; a slow target may need a larger ERRCONTRACT_TIMEOUT_S, a flaky one a larger ERRCONTRACT_MAX_TIMEOUTS"
            ),
            Guard::KeyRejected { cases, status } => write!(
                f,
                "every case sent with the valid key ({cases}) was refused with {status}: the key is wrong or expired, so these failures say nothing about the target's errors\n  help: check ERRCONTRACT_API_KEY (is the CI secret set, current, and for this target?)"
            ),
            Guard::TooManyInconclusive {
                inconclusive,
                of,
                max,
            } => write!(
                f,
                "{inconclusive} of {of} cases run were inconclusive, more than ERRCONTRACT_MAX_INCONCLUSIVE ({:.0}%) allows: the run proves too little\n  help: see each case's reason above (throttled: lower ERRCONTRACT_RPS or raise ERRCONTRACT_THROTTLE_BUDGET_S; deadlines: raise ERRCONTRACT_RUN_DEADLINE_S)",
                max * 100.0
            ),
            Guard::NothingRun { ignored } => write!(
                f,
                "no case was run: every one of the {ignored} selected cases was ignored, so the run tested nothing\n  help: give the target what the cases need (the not-run summary above says which variables), or select other cases"
            ),
        }
    }
}

/// The guards that fire on a finished run, the weightiest first. `whole` is false for a run
/// of one case picked by name (nextest's one process per case), where shares and "nothing
/// run" say nothing of the suite.
pub fn after_run(tally: &Tally, max_inconclusive: f64, whole: bool) -> Vec<Guard> {
    let mut fired = Vec::new();
    if let Some((after, timeout)) = tally.stopped {
        fired.push(Guard::StoppedAnswering {
            after,
            timeout,
            left: tally.inconclusive,
        });
    }
    if let Some(status) = tally.refused_with
        && tally.valid_key_refused == tally.valid_key_sent
    {
        fired.push(Guard::KeyRejected {
            cases: tally.valid_key_sent,
            status,
        });
    }
    let run = tally.concluded + tally.inconclusive;
    if whole
        && tally.stopped.is_none()
        && run > 0
        && tally.inconclusive as f64 > max_inconclusive * run as f64
    {
        fired.push(Guard::TooManyInconclusive {
            inconclusive: tally.inconclusive,
            of: run,
            max: max_inconclusive,
        });
    }
    if whole && run == 0 && tally.invalid == 0 && tally.ignored > 0 {
        fired.push(Guard::NothingRun {
            ignored: tally.ignored,
        });
    }
    fired
}
