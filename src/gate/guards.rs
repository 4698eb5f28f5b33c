//! Guards against runs that prove nothing, or less than they seem to: the target stopped
//! answering, every case sent with the `valid` key was refused (the key is wrong), too many
//! cases were inconclusive, nothing was run at all, or a merge lacks cases of the suite. Each
//! has its own message and exit code ([`crate::exit`]). What stops a run before anything is
//! sent (no case selected, the target unreachable, a blank `ERRCONTRACT_BASE_URL`, an
//! unwritable report directory) is a `session::SetupError`: it needs no results.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::exit;
use crate::run::{KeyAnswer, Signals, StoppedAnswering};

use super::{Subject, Verdict};

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

/// What the guards read of one trial of a run (from its result, or its report record).
#[derive(Debug, Clone, Copy)]
pub struct Counted {
    /// What the trial is of: only cases are counted.
    pub subject: Subject,
    /// Its verdict.
    pub verdict: Verdict,
    /// What its case told the guards.
    pub signals: Signals,
}

impl Tally {
    /// Count the trials of a run.
    pub fn of(trials: &[Counted]) -> Tally {
        let mut t = Tally::default();
        for r in trials.iter().filter(|r| r.subject == Subject::Case) {
            match r.verdict {
                Verdict::Passed
                | Verdict::Failed
                | Verdict::ExpectedFailure
                | Verdict::UnexpectedPass => t.concluded += 1,
                Verdict::Inconclusive => t.inconclusive += 1,
                Verdict::Ignored => t.ignored += 1,
                Verdict::InvalidCase => t.invalid += 1,
            }
            t.stopped = t.stopped.or(r.signals.stopped);
            if let Some(answer) = r.signals.valid_key {
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

/// How many of the cases without a result a guard names.
const NAMED: usize = 10;

/// A guard that fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
pub enum Guard {
    /// The target stopped answering; the cases left were not concluded.
    StoppedAnswering {
        /// `ERRCONTRACT_MAX_TIMEOUTS`.
        after: usize,
        /// `ERRCONTRACT_TIMEOUT_S`, in milliseconds.
        timeout_ms: u64,
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
    /// A traffic check saw no exchange to check: no error and no video poll.
    NothingChecked {
        /// Exchanges read.
        exchanges: usize,
    },
    /// The proxy checked nothing: its upstream could not be asked (refused, unreachable, TLS).
    UpstreamFailed {
        /// Requests that got the proxy's own 502.
        failures: usize,
        /// Of those, failures of TLS.
        tls: usize,
        /// The first reason, with what to do.
        first: Vec<String>,
    },
    /// A merge of fragments lacks cases of the suite (a shard missing, a process killed).
    Incomplete {
        /// How many cases have no result.
        missing: usize,
        /// The first of them, by name.
        first: Vec<String>,
    },
}

impl Guard {
    /// The guard over a merge whose fragments lack the cases `missing` (none if none are).
    pub fn incomplete(missing: Vec<String>) -> Option<Guard> {
        (!missing.is_empty()).then(|| Guard::Incomplete {
            missing: missing.len(),
            first: missing.into_iter().take(NAMED).collect(),
        })
    }

    /// The exit code of the guard.
    pub fn exit_code(&self) -> u8 {
        match self {
            Guard::StoppedAnswering { .. } => exit::STOPPED_ANSWERING,
            Guard::KeyRejected { .. } => exit::KEY_REJECTED,
            Guard::TooManyInconclusive { .. } => exit::TOO_MANY_INCONCLUSIVE,
            Guard::NothingRun { .. } | Guard::NothingChecked { .. } => exit::NO_CASE_RUN,
            Guard::Incomplete { .. } => exit::INCOMPLETE,
            // As a run whose target failed TLS, or does not accept connections.
            Guard::UpstreamFailed { failures, tls, .. } if tls == failures => exit::TLS,
            Guard::UpstreamFailed { .. } => exit::UNREACHABLE,
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
                timeout_ms,
                left,
            } => write!(
                f,
                "the target stopped answering: {after} requests in a row got no answer within {:?}, so the {left} cases left were not concluded (inconclusive)\n  help: check that the service is up and answering at ERRCONTRACT_BASE_URL; a slow target may need a larger ERRCONTRACT_TIMEOUT_S, a flaky one a larger ERRCONTRACT_MAX_TIMEOUTS",
                Duration::from_millis(*timeout_ms)
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
            Guard::Incomplete { missing, first } => write!(
                f,
                "{missing} case(s) of the suite have no result in the fragments (a shard missing, a process killed?): {}{}\n  help: merge every shard's directory, or pass --partial for a run of part of the suite",
                first.join(", "),
                if *missing > first.len() { ", …" } else { "" }
            ),
            Guard::NothingChecked { exchanges } => write!(
                f,
                "nothing was checked: of the {exchanges} exchange(s) read, none was an error (status 400 or more) or a poll of a video generation, so the traffic tested nothing\n  help: check traffic that holds errors (a client's test suite exercises them), or the capture's filter; a HAR with every body left out still counts its errors"
            ),
            Guard::UpstreamFailed {
                failures,
                tls,
                first,
            } => write!(
                f,
                "nothing was checked: the upstream could not be asked ({failures} request(s) got the proxy's own 502, not checked); the first: {}\n  help: {}",
                first.first().map_or("", String::as_str),
                if tls == failures {
                    "fix the upstream's TLS as the first failure says, then send the traffic through the proxy again"
                } else {
                    "check --upstream (scheme, host and port) and that the service is up and answering there, then send the traffic through the proxy again"
                }
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
            timeout_ms: s.timeout_ms,
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
    /// Judge the trials of a run (or of merged fragments); `failed_elsewhere`: a trial failed
    /// that left no record.
    pub fn of(
        trials: &[Counted],
        max_inconclusive: f64,
        whole: bool,
        failed_elsewhere: bool,
    ) -> Conclusion {
        let failing = |r: &&Counted| r.verdict.fails_the_run();
        let (gate, cases): (Vec<&Counted>, Vec<&Counted>) = trials
            .iter()
            .partition(|r| r.subject == Subject::KnownFailuresFile);
        Conclusion {
            guards: after_run(&Tally::of(trials), max_inconclusive, whole),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_the_proxy_could_not_ask_has_a_runs_code_for_it() {
        let failed = |failures, tls| Guard::UpstreamFailed {
            failures,
            tls,
            first: vec!["http://127.0.0.1:1/v2/models: refused".into()],
        };
        assert_eq!(failed(2, 0).exit_code(), exit::UNREACHABLE);
        assert_eq!(failed(1, 1).exit_code(), exit::TLS);
        assert_eq!(failed(2, 1).exit_code(), exit::UNREACHABLE, "not only TLS");
        let said = failed(2, 0).to_string();
        assert!(said.contains("could not be asked (2 request(s)"), "{said}");
        assert!(said.contains("--upstream") && !said.contains("ERRCONTRACT_BASE_URL"));
    }
}
