//! What a case came to, as values: the outcome with its typed reason, and per step what a
//! report needs (kept compact: the exchange only of the step that failed).

use std::time::Duration;

use crate::case::{Feature, Role};
use crate::check::Finding;
use crate::probe::Exchange;

/// Why a case was not run: the target cannot serve it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum NotRun {
    /// A role's key was not given.
    NeedsKey(Role),
    /// The target does not offer a feature.
    NeedsFeature(Feature),
    /// The case would bill if the target wrongly accepted it.
    Billable,
    /// A derived fault the model lists leave no value for (the reason says which).
    NothingToSend(String),
    /// The run was interrupted before the case was concluded.
    Interrupted(super::Signal),
}

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotRun::NeedsKey(role) => write!(
                f,
                "needs a {} key: set {}",
                role.as_str(),
                role.env_var().unwrap_or("its key variable")
            ),
            NotRun::NeedsFeature(feature) => write!(
                f,
                "needs the target feature {}: add it to ERRCONTRACT_FEATURES if the target has it",
                feature.as_str()
            ),
            NotRun::Interrupted(signal) => write!(
                f,
                "not run: interrupted ({}): the run stopped sending",
                signal.as_str()
            ),
            NotRun::Billable => f.write_str(
                "billable if the target wrongly accepts it: set ERRCONTRACT_ALLOW_BILLABLE=1 to send it",
            ),
            NotRun::NothingToSend(why) => f.write_str(why),
        }
    }
}

/// Why no verdict could be reached.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Inconclusive {
    /// The target kept answering that it is throttling past the budget.
    Throttled {
        /// The throttling status the target answered with.
        status: u16,
        /// The code it carried.
        code: String,
        /// How long the case waited.
        waited: Duration,
        /// `ERRCONTRACT_THROTTLE_BUDGET_S`.
        budget: Duration,
        /// The next `Retry-After`, in seconds.
        next_retry_after: u64,
    },
    /// The run deadline passed before the case was concluded.
    RunDeadline(Duration),
    /// The target stopped answering (this many requests in a row got no answer) before the
    /// case could be concluded.
    StoppedAnswering {
        /// `ERRCONTRACT_MAX_TIMEOUTS`.
        after: usize,
        /// `ERRCONTRACT_TIMEOUT_S`.
        timeout: Duration,
    },
    /// The connection closed before any byte of the answer to a request that would bill if
    /// accepted: it may have been processed, so it is not sent again.
    ClosedBeforeAnswer {
        /// The request's method.
        method: &'static str,
        /// The endpoint (the case's path).
        endpoint: String,
    },
    /// The target asked to hold a request back longer than the case may wait (a `Retry-After`
    /// or a spent window); the case ended at once and the run went on.
    AskedToWait(Box<AskedToWait>),
    /// A long-running job was still processing when the poll budget ended: slow is not a
    /// breach of the contract.
    StillProcessing(Box<StillProcessing>),
    /// The case's own time ran out before it sent its first request.
    NeverSent {
        /// `ERRCONTRACT_CASE_DEADLINE_S`.
        deadline: Duration,
    },
}

impl std::fmt::Display for Inconclusive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Inconclusive::Throttled {
                status,
                code,
                waited,
                budget,
                next_retry_after,
            } => write!(
                f,
                "inconclusive: throttled: the target kept answering {status} {code}; waited {waited:?} of the {budget:?} budget (ERRCONTRACT_THROTTLE_BUDGET_S), next Retry-After {next_retry_after} s"
            ),
            Inconclusive::RunDeadline(d) => write!(
                f,
                "inconclusive: the run deadline ({d:?}, ERRCONTRACT_RUN_DEADLINE_S) passed before this case was concluded"
            ),
            Inconclusive::StoppedAnswering { after, timeout } => write!(
                f,
                "inconclusive: the target stopped answering ({after} requests in a row got no answer within {timeout:?}, ERRCONTRACT_TIMEOUT_S), so this case was not concluded"
            ),
            Inconclusive::ClosedBeforeAnswer { method, endpoint } => write!(
                f,
                "inconclusive: the connection closed before any byte of the answer to {method} {endpoint}; the request bills if accepted and may have been processed, so it was not sent again"
            ),
            Inconclusive::AskedToWait(asked) => asked.fmt(f),
            Inconclusive::StillProcessing(still) => still.fmt(f),
            Inconclusive::NeverSent { deadline } => write!(
                f,
                "inconclusive: the case deadline ({deadline:?}, ERRCONTRACT_CASE_DEADLINE_S) passed before its first request was sent; nothing was asked of the target"
            ),
        }
    }
}

/// What the target asked that a case could not wait for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AskedToWait {
    /// How long the target asked to wait, in whole seconds.
    pub secs: u64,
    /// Why the request is held.
    pub by: crate::run::HeldBy,
    /// The request's method.
    pub method: &'static str,
    /// The endpoint (the case's path).
    pub endpoint: String,
    /// Whose key: a role's, or (none) the case's own `Authorization`.
    pub role: Option<Role>,
    /// What the case may wait.
    pub may_wait: Duration,
}

impl std::fmt::Display for AskedToWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = match self.role {
            Some(role) => format!("{} key", role.as_str()),
            None => "case's own Authorization".to_string(),
        };
        write!(
            f,
            "inconclusive: the target asked to wait {} s before the next {} {} with the {key} ({}); more than the {} s this case may wait (ERRCONTRACT_THROTTLE_BUDGET_S, within ERRCONTRACT_RUN_DEADLINE_S), so it ended at once and the run went on",
            self.secs,
            self.method,
            self.endpoint,
            self.by,
            self.may_wait.as_secs()
        )
    }
}

/// A job still running when the poll budget ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StillProcessing {
    /// The status field polled.
    pub field: String,
    /// Its last value.
    pub state: String,
    /// Polls sent.
    pub polls: usize,
    /// How long the polling took.
    pub after: Duration,
    /// The poll budget.
    pub budget: Duration,
}

impl std::fmt::Display for StillProcessing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "inconclusive: still processing after {} polls in {} s ({} still {:?}); the poll budget is {} s (ERRCONTRACT_POLL_BUDGET_S, or the case's timeout_ms when longer)",
            self.polls,
            self.after.as_secs(),
            self.field,
            self.state,
            self.budget.as_secs_f64()
        )
    }
}

/// What a case came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every check held.
    Passed,
    /// A check failed, at this step.
    Failed {
        /// Index of the failing step.
        step: usize,
    },
    /// The target cannot serve the case.
    Ignored(NotRun),
    /// No verdict could be reached.
    Inconclusive(Inconclusive),
}

/// One step as it ran.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// Pointer of the step in the case file (`` or `/steps/N`).
    pub base: String,
    /// The method sent.
    pub method: &'static str,
    /// Path template of the request, for coverage.
    pub endpoint: String,
    /// The HTTP status of the last response, if one came.
    pub status: Option<u16>,
    /// The error code the last response carried, if any.
    pub code: Option<String>,
    /// The error code the case expected, if any (a gap in coverage when it did not come).
    pub expected: Option<String>,
    /// Requests the step sent (polls and throttled resends included).
    pub requests: usize,
    /// The checks that ran on the last exchange.
    pub applied: crate::check::CheckSet,
    /// What the checks found on the last exchange (empty: every check held).
    pub findings: Vec<Finding>,
    /// The last exchange of the step, kept only when the step failed (the evidence); boxed, so
    /// a passing step's record stays small.
    pub exchange: Option<Box<Exchange>>,
}

impl StepRecord {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Everything known about one case's run.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// `area/name`.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// Steps that ran, in order.
    pub steps: Vec<StepRecord>,
    /// Notes (extra fields, waits for Retry-After).
    pub notes: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
    /// The command that reruns this case alone, recorded when it failed.
    pub rerun: Option<String>,
    /// What the case tells the run-wide guards.
    pub signals: super::Signals,
}

impl CaseResult {
    /// The findings of the failing step.
    pub fn findings(&self) -> &[Finding] {
        match self.outcome {
            Outcome::Failed { step } => self
                .steps
                .get(step)
                .map(|s| s.findings.as_slice())
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The checks that ran in any step.
    pub fn applied(&self) -> crate::check::CheckSet {
        self.steps
            .iter()
            .fold(crate::check::CheckSet::default(), |all, s| {
                all.union(s.applied)
            })
    }

    /// The step that failed, if one did.
    pub fn failed_step(&self) -> Option<(usize, &StepRecord)> {
        match self.outcome {
            Outcome::Failed { step } => self.steps.get(step).map(|s| (step, s)),
            _ => None,
        }
    }
}
