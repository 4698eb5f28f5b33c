//! Guards against runs that prove nothing, or less than they seem to: the target stopped
//! answering, every case sent with the `valid` key was refused (the key is wrong), too many
//! cases were inconclusive, or nothing was run at all. Each has its own message and exit code
//! ([`crate::exit`]). The guards that stop a run before anything is sent (no case selected,
//! the target unreachable, a blank `ERRCONTRACT_BASE_URL`, an unwritable report directory)
//! are the harness's, as they need no results.

use std::time::Duration;

use crate::exit;
use crate::report::Kind;
use crate::report::json::CaseRecord;
use crate::run::{KeyAnswer, StoppedAnswering};

/// Cases that must all be refused before the key is blamed: one or two refusals are more
/// likely a target's own bug on an endpoint.
const KEY_REJECTED_AT_LEAST: usize = 3;

/// What the run's cases came to, counted from their report records (of a run, or of merged
/// fragments). The gate's own trial is not a case.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Cases that passed or failed (expected failures and unexpected passes included).
    pub concluded: usize,
    /// Cases with no verdict.
    pub inconclusive: usize,
    /// Cases the target cannot serve.
    pub ignored: usize,
    /// Case files that did not load (they fail their own trials).
    pub invalid: usize,
    /// The target stopped answering.
    pub stopped: Option<StoppedAnswering>,
    /// Cases that sent the `valid` key not expecting it refused, and got an answer the key
    /// decides (answers given without looking at the key are not counted).
    pub valid_key_sent: usize,
    /// Of those, the cases it was refused in, and the status.
    pub valid_key_refused: usize,
    /// The status it was refused with.
    pub refused_with: Option<u16>,
}

impl Tally {
    /// Count the records of a run.
    pub fn of(records: &[CaseRecord]) -> Tally {
        let mut t = Tally::default();
        for r in records.iter().filter(|r| !r.name.starts_with("gate::")) {
            match r.outcome {
                Kind::Passed | Kind::Failed | Kind::ExpectedFailure | Kind::UnexpectedPass => {
                    t.concluded += 1
                }
                Kind::Inconclusive => t.inconclusive += 1,
                Kind::Ignored => t.ignored += 1,
                Kind::InvalidCase => t.invalid += 1,
            }
            t.stopped = t.stopped.or(r.stopped_answering);
            if let Some(answer) = r.valid_key {
                t.valid_key_sent += 1;
                if let KeyAnswer::Refused { status } = answer {
                    t.valid_key_refused += 1;
                    t.refused_with = Some(status);
                }
            }
        }
        t
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
                "every case whose answer depends on the valid key ({cases}) was refused with {status} (answers given before the key is looked at, such as an unknown path's 404 or an injected 500, are not counted): the key is wrong or expired, so these failures say nothing about the target's errors\n  help: check ERRCONTRACT_API_KEY (is the CI secret set, current, and for this target?)"
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
/// of one case picked by name (nextest's one process per case): what one case shows says
/// nothing of the suite, so only the merge of the processes' fragments is judged.
pub fn after_run(tally: &Tally, max_inconclusive: f64, whole: bool) -> Vec<Guard> {
    let mut fired = Vec::new();
    if !whole {
        return fired;
    }
    if let Some(s) = tally.stopped {
        fired.push(Guard::StoppedAnswering {
            after: s.after,
            timeout: Duration::from_millis(s.timeout_ms),
            left: tally.inconclusive,
        });
    }
    if let Some(status) = tally.refused_with
        && tally.valid_key_sent >= KEY_REJECTED_AT_LEAST
        && tally.valid_key_refused == tally.valid_key_sent
    {
        fired.push(Guard::KeyRejected {
            cases: tally.valid_key_sent,
            status,
        });
    }
    let run = tally.concluded + tally.inconclusive;
    if tally.stopped.is_none()
        && run > 0
        && tally.inconclusive as f64 > max_inconclusive * run as f64
    {
        fired.push(Guard::TooManyInconclusive {
            inconclusive: tally.inconclusive,
            of: run,
            max: max_inconclusive,
        });
    }
    if run == 0 && tally.invalid == 0 && tally.ignored > 0 {
        fired.push(Guard::NothingRun {
            ignored: tally.ignored,
        });
    }
    fired
}

/// What a finished run came to: the guards that fired, and its exit code (before reports).
#[derive(Debug, Clone)]
pub struct Conclusion {
    /// The guards that fired, the weightiest first.
    pub guards: Vec<Guard>,
    /// Whether a case failed (an unexpected pass and a broken case file included).
    pub cases_failed: bool,
    /// Whether the gate's own trial found the known-failures file out of date.
    pub out_of_date: bool,
}

impl Conclusion {
    /// Judge the records of a run (or of merged fragments); `failed_elsewhere`: a trial failed
    /// that left no record.
    pub fn of(
        records: &[CaseRecord],
        max_inconclusive: f64,
        whole: bool,
        failed_elsewhere: bool,
    ) -> Conclusion {
        let failing = |r: &&CaseRecord| r.outcome.fails_the_run();
        let (gate, cases): (Vec<&CaseRecord>, Vec<&CaseRecord>) =
            records.iter().partition(|r| r.name.starts_with("gate::"));
        Conclusion {
            guards: after_run(&Tally::of(records), max_inconclusive, whole),
            cases_failed: cases.iter().any(failing) || failed_elsewhere,
            out_of_date: gate.iter().any(failing),
        }
    }

    /// The exit code, given whether the reports were written.
    pub fn exit_code(&self, reports_written: bool) -> u8 {
        let guard = self
            .guards
            .first()
            .map(|g| (g.exit_code(), g.explains_failures()));
        exit::decide(guard, self.cases_failed, self.out_of_date, reports_written)
    }
}
