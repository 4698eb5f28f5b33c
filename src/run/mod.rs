//! Running cases against the target: one case to a typed [`CaseResult`] (preconditions, steps,
//! deadlines), and the scheduler that runs the selected cases with the user's concurrency.
//! Results are returned, never written from below.

mod budget;
mod clock;
mod interrupt;
mod liveness;
mod outcome;
mod rate_limit_draft;
mod schedule;
mod signals;
mod step;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use budget::{Budget, Held, HeldBy, IMPLAUSIBLE_RESET_WAIT};
pub use interrupt::{GRACE, Interrupt, Signal};
pub use outcome::{
    AskedToWait, CaseResult, Inconclusive, NotRun, Outcome, StepRecord, StillProcessing,
};
pub use schedule::{Event, panic_text, spawn};
pub use signals::{KeyAnswer, Signals, StoppedAnswering};

use crate::case::{Case, Requirement};
use crate::check::{CheckName, Finding};
use crate::contract::Contract;
use crate::probe::Probe;
use crate::request::{self, Vars};
use crate::settings::Settings;
use crate::target::Target;
use clock::Clock;
use liveness::Liveness;

/// Runs cases; one per process, shared by every case.
pub struct Runner {
    probe: Probe,
    contract: Arc<Contract>,
    target: Target,
    settings: Settings,
    budget: Budget,
    liveness: Liveness,
    started: Instant,
    interrupt: Interrupt,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("target", &self.target.base_url)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over one client.
    pub fn new(probe: Probe, contract: Arc<Contract>, target: Target, settings: Settings) -> Self {
        Runner {
            budget: Budget::new(settings.rps, settings.concurrency),
            liveness: Liveness::new(settings.max_timeouts),
            probe,
            contract,
            target,
            settings,
            started: Instant::now(),
            interrupt: Interrupt::default(),
        }
    }

    /// The runner, stopped by `interrupt`: no request is sent after its signal, and the cases
    /// under way end "not run: interrupted" once the requests in flight had [`GRACE`].
    pub fn interruptible(mut self, interrupt: Interrupt) -> Self {
        self.interrupt = interrupt;
        self
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The contract.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Why the target cannot serve this case, if it cannot.
    pub fn precondition(&self, case: &Case) -> Option<NotRun> {
        if let Some(why) = case.derived.as_ref().and_then(|d| d.untried.clone()) {
            return Some(NotRun::NothingToSend(why));
        }
        for req in case.requirements() {
            match req {
                Requirement::Role(role) => {
                    if role.env_var().is_some() && !self.target.keys.contains_key(&role) {
                        return Some(NotRun::NeedsKey(role));
                    }
                }
                Requirement::Feature(f) => {
                    if !self.target.features.contains(&f) {
                        return Some(NotRun::NeedsFeature(f));
                    }
                }
            }
        }
        if case.billable_if_accepted && !self.target.reference && !self.settings.allow_billable {
            return Some(NotRun::Billable);
        }
        None
    }

    /// Run one case to its outcome.
    pub async fn run_case(&self, case: &Case) -> CaseResult {
        let started = Instant::now();
        let early = |outcome| CaseResult {
            name: case.name.clone(),
            outcome,
            steps: Vec::new(),
            notes: Vec::new(),
            elapsed: Duration::ZERO,
            rerun: None,
            signals: Signals::default(),
        };
        if let Some(why) = self.precondition(case) {
            return early(Outcome::Ignored(why));
        }
        if let Some(signal) = self.interrupt.raised() {
            return early(Outcome::Ignored(NotRun::Interrupted(signal)));
        }
        if self.started.elapsed() > self.settings.run_deadline {
            return early(Outcome::Inconclusive(Inconclusive::RunDeadline(
                self.settings.run_deadline,
            )));
        }
        let stopped = Outcome::Inconclusive(Inconclusive::StoppedAnswering {
            after: self.liveness.limit(),
            timeout: self.settings.timeout,
        });
        if self.liveness.has_stopped() {
            return early(stopped);
        }
        let clock = Clock::new(self.settings.case_deadline);
        // Waits off the case's clock are still bounded: by the run deadline.
        let run_ends = tokio::time::Instant::from_std(self.started + self.settings.run_deadline);
        let mut vars = Vars::new();
        let mut steps = Vec::new();
        let mut notes = Vec::new();
        let mut outcome = Outcome::Passed;
        for (index, (base, step)) in case.steps.iter().enumerate() {
            let ran = tokio::select! {
                biased;
                ran = clock.within(self.step(base, step, &vars, &clock, case.billable_if_accepted)) => ran,
                _ = self.liveness.stopped() => {
                    outcome = stopped;
                    break;
                }
                _ = tokio::time::sleep_until(run_ends) => {
                    outcome = Outcome::Inconclusive(Inconclusive::RunDeadline(self.settings.run_deadline));
                    break;
                }
                signal = self.interrupt.grace_over() => {
                    outcome = Outcome::Ignored(NotRun::Interrupted(signal));
                    break;
                }
            };
            let Some(ran) = ran else {
                if clock.any_sent() {
                    steps.push(self.deadline_passed(base, step, clock.waited()));
                    outcome = Outcome::Failed { step: index };
                } else {
                    outcome = Outcome::Inconclusive(Inconclusive::NeverSent {
                        deadline: self.settings.case_deadline,
                    });
                }
                break;
            };
            notes.extend(ran.notes);
            match ran.end {
                step::End::Inconclusive(why) => {
                    steps.push(ran.record);
                    outcome = Outcome::Inconclusive(why);
                    break;
                }
                step::End::Checked(captured) => {
                    let failed = !ran.record.passed();
                    steps.push(ran.record);
                    if failed {
                        outcome = Outcome::Failed { step: index };
                        break;
                    }
                    vars.extend(captured);
                }
            }
        }
        let rerun = matches!(outcome, Outcome::Failed { .. }).then(|| {
            request::rerun_command(
                &case.trial_name(),
                &self.target,
                self.settings.cases_dir_named(),
                self.settings.expectations.as_deref(),
            )
        });
        CaseResult {
            name: case.name.clone(),
            signals: Signals::of(case, &outcome, &steps, &self.contract.table),
            outcome,
            steps,
            notes,
            elapsed: started.elapsed(),
            rerun,
        }
    }

    fn deadline_passed(
        &self,
        base: &str,
        step: &crate::case::Step,
        waited: Duration,
    ) -> StepRecord {
        let deadline = self.settings.case_deadline;
        StepRecord {
            base: base.to_string(),
            method: step.request.method.as_str(),
            endpoint: step.request.path.clone(),
            status: None,
            code: None,
            expected: step.expect.code.clone(),
            requests: 0,
            applied: crate::check::CheckSet::default(),
            findings: vec![Finding::new(
                CheckName::Transport,
                format!(
                    "the case done within {deadline:?} of its own time (ERRCONTRACT_CASE_DEADLINE_S)"
                ),
                format!(
                    "the case deadline passed while the target had not answered ({:.1} s waiting for the rate limit, request slots or Retry-After not counted)",
                    waited.as_secs_f64()
                ),
            )],
            exchange: None,
        }
    }
}
