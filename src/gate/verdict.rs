//! The verdict of a trial, and the gate's reading of a case's outcome into one: a listed case
//! that failed as listed is an expected failure, a listed case that passed an unexpected pass.
//! Reports read verdicts; nothing downstream decides one.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::check::CheckName;
use crate::run::Outcome;

use super::{Judgement, KnownFailures};

/// A trial's verdict, as every report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check held.
    Passed,
    /// A check failed.
    Failed,
    /// A check failed as the known-failures file lists: does not fail the run.
    ExpectedFailure,
    /// Every check held, but the known-failures file lists the case: fails the run.
    UnexpectedPass,
    /// The case file did not load.
    InvalidCase,
    /// The target cannot serve the case.
    Ignored,
    /// No verdict could be reached.
    Inconclusive,
}

impl Verdict {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::ExpectedFailure => "expected_failure",
            Verdict::UnexpectedPass => "unexpected_pass",
            Verdict::InvalidCase => "invalid_case",
            Verdict::Ignored => "ignored",
            Verdict::Inconclusive => "inconclusive",
        }
    }

    /// Whether a trial of this verdict fails the run.
    pub fn fails_the_run(self) -> bool {
        matches!(
            self,
            Verdict::Failed | Verdict::UnexpectedPass | Verdict::InvalidCase
        )
    }

    /// Whether the trial ran to a conclusion (passed or failed, as listed or not).
    pub fn concluded(self) -> bool {
        matches!(
            self,
            Verdict::Passed | Verdict::Failed | Verdict::ExpectedFailure | Verdict::UnexpectedPass
        )
    }

    /// Every verdict, in report order.
    pub const ALL: [Verdict; 7] = [
        Verdict::Passed,
        Verdict::Failed,
        Verdict::ExpectedFailure,
        Verdict::UnexpectedPass,
        Verdict::InvalidCase,
        Verdict::Ignored,
        Verdict::Inconclusive,
    ];
}

/// What a trial is of: its name says so to a reader, this says so to the code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// A case file, or a case a template derives.
    #[default]
    Case,
    /// The known-failures file itself (`gate::known-failures`): expired and stale entries.
    KnownFailuresFile,
}

/// A case's outcome as the gate judges it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The verdict.
    pub verdict: Verdict,
    /// Why the case was not run, not concluded, or is expected to fail (the entry's ticket and
    /// the reason its author wrote).
    pub reason: Option<String>,
    /// The ticket of the case's known-failures entry, when the gate judged it by one.
    pub ticket: Option<String>,
    /// What the gate adds to a failing case's text (a new failure, an expired entry, an
    /// unexpected pass).
    pub note: Option<String>,
}

impl Judged {
    /// A verdict alone, with nothing more to say.
    fn only(verdict: Verdict) -> Judged {
        Judged {
            verdict,
            reason: None,
            ticket: None,
            note: None,
        }
    }

    /// A case its own file parks (`ignore`): selected, but not run.
    pub fn parked(why: &str) -> Judged {
        Judged {
            reason: Some(format!("ignored by its file: {why}")),
            ..Judged::only(Verdict::Ignored)
        }
    }

    /// A case file that did not load: it fails its own trial.
    pub fn invalid() -> Judged {
        Judged::only(Verdict::InvalidCase)
    }

    /// A case whose run panicked: a bug in errcontract, which fails the run so it is seen.
    pub fn crashed() -> Judged {
        Judged::only(Verdict::Failed)
    }
}

/// The gate's check of its own file against every trial there is (`trials`): passed, or
/// failed with what is out of date (expired and stale entries).
pub fn judge_file(
    gate: &KnownFailures,
    trials: &[String],
    today: Date,
) -> (Judged, Option<String>) {
    let problems = gate.out_of_date(trials, today);
    if problems.is_empty() {
        return (Judged::only(Verdict::Passed), None);
    }
    let message = format!(
        "{}: {} is out of date ({} problem{}):\n{}",
        super::GATE_TRIAL,
        gate.file,
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.join("\n")
    );
    (Judged::only(Verdict::Failed), Some(message))
}

/// Judge a case's `outcome` (failing the `failed` checks) by the known failures, if the run is
/// gated; ungated, the outcome stands as it is.
pub fn judge(
    gate: Option<&KnownFailures>,
    trial: &str,
    outcome: &Outcome,
    failed: &BTreeSet<CheckName>,
    today: Date,
) -> Judged {
    let (verdict, reason) = match outcome {
        Outcome::Passed => (Verdict::Passed, None),
        Outcome::Failed { .. } => (Verdict::Failed, None),
        Outcome::Ignored(why) => (Verdict::Ignored, Some(why.to_string())),
        Outcome::Inconclusive(why) => (Verdict::Inconclusive, Some(why.to_string())),
    };
    let standing = Judged {
        verdict,
        reason,
        ticket: None,
        note: None,
    };
    let Some(gate) = gate else {
        return standing;
    };
    let judgement = gate.judge(trial, outcome, failed, today);
    let note = judgement.failure_note(&gate.file);
    let listed = |verdict, entry: &super::KnownFailure, reason| Judged {
        verdict,
        reason,
        ticket: Some(entry.ticket.clone()),
        note: note.clone(),
    };
    match &judgement {
        Judgement::Unlisted => standing,
        Judgement::Expected { entry, .. } => {
            listed(Verdict::ExpectedFailure, entry, judgement.expected_note())
        }
        Judgement::UnexpectedPass(entry) => listed(Verdict::UnexpectedPass, entry, None),
        Judgement::NewFailure { entry, .. } | Judgement::Expired(entry) => {
            listed(Verdict::Failed, entry, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Inconclusive, NotRun};
    use std::path::Path;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 12 - 01);

    fn gate() -> KnownFailures {
        KnownFailures::parse(
            Path::new("k.json"),
            r#"{"known_failures": [
                {"case": "images/a", "reason": "the target names the wrong param", "ticket": "https://t/1"}
            ]}"#,
        )
        .unwrap()
    }

    fn failed() -> BTreeSet<CheckName> {
        [CheckName::Param].into_iter().collect()
    }

    #[test]
    fn a_listed_failure_is_expected_with_its_ticket_and_the_authors_reason() {
        let j = judge(
            Some(&gate()),
            "case::images/a",
            &Outcome::Failed { step: 0 },
            &failed(),
            TODAY,
        );
        assert_eq!(j.verdict, Verdict::ExpectedFailure);
        assert_eq!(j.ticket.as_deref(), Some("https://t/1"));
        assert_eq!(
            j.reason.as_deref(),
            Some("expected failure (https://t/1): the target names the wrong param")
        );
        assert!(!j.verdict.fails_the_run());
    }

    #[test]
    fn a_listed_pass_is_unexpected_and_fails_the_run() {
        let j = judge(
            Some(&gate()),
            "case::images/a",
            &Outcome::Passed,
            &BTreeSet::new(),
            TODAY,
        );
        assert_eq!(j.verdict, Verdict::UnexpectedPass);
        assert!(j.verdict.fails_the_run());
        assert!(
            j.note
                .unwrap()
                .contains("unexpected pass: remove it from k.json")
        );
    }

    #[test]
    fn without_a_gate_or_a_conclusion_the_outcome_stands() {
        let inconclusive = Outcome::Inconclusive(Inconclusive::RunDeadline(Default::default()));
        let ignored = Outcome::Ignored(NotRun::Billable);
        for (gate, outcome, verdict) in [
            (None, Outcome::Failed { step: 0 }, Verdict::Failed),
            (Some(gate()), inconclusive, Verdict::Inconclusive),
            (Some(gate()), ignored, Verdict::Ignored),
        ] {
            let j = judge(gate.as_ref(), "case::images/a", &outcome, &failed(), TODAY);
            assert_eq!(j.verdict, verdict);
            assert_eq!(j.ticket, None);
        }
    }
}
