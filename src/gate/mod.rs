//! The vendor regression gate and the guards a gate's verdicts rest on.
//!
//! Known failures (`known_failures.rs`, `ERRCONTRACT_EXPECTATIONS`) turn a partner's listed gaps
//! into expected failures, and the gate's rules (`judge.rs`) make anything else visible: a new
//! failure, an unexpected pass, an expired or stale entry. The guards (`guards.rs`) refuse runs
//! that prove nothing. `expectations.rs` writes the file from a run's `report.json`. No I/O
//! here but reading the file; the harness prints and chooses exit codes.

mod expectations;
mod guards;
mod judge;
mod known_failures;
mod verdict;

pub use expectations::{RunTrial, Written, schema_reference, write_from_run};
pub use guards::{Conclusion, Counted, Guard, Tally, after_run};
pub use judge::Judgement;
pub use known_failures::{
    FILL_IN, FileProblem, FileProblems, KnownFailure, KnownFailures, format_date,
};
pub use verdict::{Judged, Subject, Verdict, judge, judge_file};

/// The trial that checks the known-failures file itself (expired and stale entries): it runs
/// once per run, and under nextest in a process of its own.
pub const GATE_TRIAL: &str = "gate::known-failures";

/// Today, in UTC: entries hold through their expiry date.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}
