//! The gate's rules over one case's outcome, and over the file itself: a listed case that fails
//! as listed is an expected failure; one that fails in a check its entry does not list is a new
//! failure; one that passes is an unexpected pass; an expired entry expects nothing; an entry
//! that names no case is stale.

use std::collections::BTreeSet;

use time::Date;

use crate::check::CheckName;
use crate::run::Outcome;

use super::known_failures::{KnownFailure, KnownFailures, format_date};

/// What the gate makes of one case's outcome.
#[derive(Debug, Clone)]
pub enum Judgement<'a> {
    /// Not listed (or neither passed nor failed): the outcome stands as it is.
    Unlisted,
    /// Failed as listed: does not fail the run. `fixed`: listed checks that held this time (a
    /// gap partly fixed, for the entry to be narrowed).
    Expected {
        /// The entry.
        entry: &'a KnownFailure,
        /// Listed checks that held.
        fixed: BTreeSet<CheckName>,
    },
    /// Listed, but failed in checks the entry does not list.
    NewFailure {
        /// The entry.
        entry: &'a KnownFailure,
        /// The failed checks it does not list.
        unlisted: BTreeSet<CheckName>,
    },
    /// Listed, failed, but the entry has expired.
    Expired(&'a KnownFailure),
    /// Listed, and passed: the gap is fixed; the entry must go.
    UnexpectedPass(&'a KnownFailure),
}

impl KnownFailures {
    /// Judge the trial `name` (`case::area/name`) that came to `outcome`, failing `failed` checks.
    pub fn judge(
        &self,
        name: &str,
        outcome: &Outcome,
        failed: &BTreeSet<CheckName>,
        today: Date,
    ) -> Judgement<'_> {
        let Some(entry) = self.entry_for(name) else {
            return Judgement::Unlisted;
        };
        match outcome {
            Outcome::Passed => Judgement::UnexpectedPass(entry),
            Outcome::Failed { .. } if entry.expired(today) => Judgement::Expired(entry),
            Outcome::Failed { .. } => match &entry.checks {
                Some(listed) if !failed.is_subset(listed) => Judgement::NewFailure {
                    entry,
                    unlisted: failed.difference(listed).copied().collect(),
                },
                Some(listed) if !entry.is_glob() => Judgement::Expected {
                    entry,
                    fixed: listed.difference(failed).copied().collect(),
                },
                _ => Judgement::Expected {
                    entry,
                    fixed: BTreeSet::new(),
                },
            },
            Outcome::Ignored(_) | Outcome::Inconclusive(_) => Judgement::Unlisted,
        }
    }

    /// What is out of date in the file, given every trial there is: expired entries and
    /// entries that name no trial. Empty: the file is current.
    pub fn out_of_date(&self, cases: &[String], today: Date) -> Vec<String> {
        let mut problems = Vec::new();
        for entry in &self.entries {
            let place = self.place(entry);
            if let Some(day) = entry.expires.filter(|_| entry.expired(today)) {
                problems.push(format!(
                    "{place}: the entry for {} ({}) expired on {}: fix the gap, or give the entry a new `expires` date if the fix is still coming",
                    entry.case,
                    entry.ticket,
                    format_date(day)
                ));
            }
            if !cases.iter().any(|c| entry.covers(c)) {
                let what = if entry.is_glob() {
                    format!("the glob {} matches no case", entry.case)
                } else {
                    format!("no case is named {}", entry.case)
                };
                problems.push(format!(
                    "{place}: stale entry ({}): {what}: remove it, or correct the name (`cargo test --test contract -- --list` lists the cases)",
                    entry.ticket
                ));
            }
        }
        problems
    }
}

impl Judgement<'_> {
    /// What the trial of an expected failure says: its ticket and reason, and a partial fix.
    pub fn expected_note(&self) -> Option<String> {
        let Judgement::Expected { entry, fixed } = self else {
            return None;
        };
        let mut note = format!("expected failure ({}): {}", entry.ticket, entry.reason);
        if !fixed.is_empty() {
            let names: Vec<&str> = fixed.iter().map(|c| c.as_str()).collect();
            note.push_str(&format!(
                "; partly fixed: [{}] held this time, narrow the entry's checks",
                names.join(", ")
            ));
        }
        Some(note)
    }

    /// The line a failing case's text gains, if the gate has something to say about it.
    pub fn failure_note(&self, file: &str) -> Option<String> {
        match self {
            Judgement::NewFailure { entry, unlisted } => {
                let listed: Vec<&str> = entry.checks.iter().flatten().map(|c| c.as_str()).collect();
                let new: Vec<&str> = unlisted.iter().map(|c| c.as_str()).collect();
                Some(format!(
                    "new failure: {file} lists {} as failing only in [{}] ({}); it now also fails [{}]",
                    entry.case,
                    listed.join(", "),
                    entry.ticket,
                    new.join(", ")
                ))
            }
            Judgement::Expired(entry) => Some(format!(
                "not an expected failure any more: its entry in {file} ({}) expired on {}",
                entry.ticket,
                entry.expires.map(format_date).unwrap_or_default()
            )),
            Judgement::UnexpectedPass(entry) if entry.is_glob() => Some(format!(
                "unexpected pass: the glob entry {} in {file} ({}) covers this case, which passes now: list the cases it still fails by name instead (`errcontract expectations --from report.json -o {file}` rewrites it so)",
                entry.case, entry.ticket
            )),
            Judgement::UnexpectedPass(entry) => Some(format!(
                "unexpected pass: remove it from {file} (the entry for {}, {}): the gap is fixed",
                entry.case, entry.ticket
            )),
            Judgement::Unlisted | Judgement::Expected { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{Inconclusive, NotRun};
    use std::path::Path;
    use time::macros::date;

    fn file() -> KnownFailures {
        KnownFailures::parse(
            Path::new("k.json"),
            r#"{"known_failures": [
                {"case": "images/a", "reason": "r", "ticket": "https://t/1", "checks": ["param"]},
                {"case": "images/b", "reason": "r", "ticket": "https://t/2", "expires": "2026-01-01"},
                {"glob": "videos/*", "reason": "r", "ticket": "https://t/3"},
                {"case": "gone/x", "reason": "r", "ticket": "https://t/4"}
            ]}"#,
        )
        .unwrap()
    }

    fn checks(names: &[CheckName]) -> BTreeSet<CheckName> {
        names.iter().copied().collect()
    }

    const TODAY: Date = date!(2026 - 12 - 01);
    const FAILED: Outcome = Outcome::Failed { step: 0 };

    #[test]
    fn a_listed_failure_in_listed_checks_is_expected() {
        let k = file();
        let j = k.judge(
            "case::images/a",
            &FAILED,
            &checks(&[CheckName::Param]),
            TODAY,
        );
        assert!(
            matches!(&j, Judgement::Expected { entry, fixed } if entry.ticket == "https://t/1" && fixed.is_empty())
        );
    }

    #[test]
    fn a_known_param_gap_does_not_hide_a_status_break() {
        let k = file();
        let j = k.judge(
            "case::images/a",
            &FAILED,
            &checks(&[CheckName::Param, CheckName::Status]),
            TODAY,
        );
        let Judgement::NewFailure { unlisted, .. } = &j else {
            panic!("{j:?}")
        };
        assert_eq!(unlisted, &checks(&[CheckName::Status]));
        let note = j.failure_note("k.json").unwrap();
        assert!(
            note.contains("only in [param]") && note.contains("also fails [status]"),
            "{note}"
        );
    }

    #[test]
    fn a_case_passing_under_a_glob_says_to_list_the_failing_ones_by_name() {
        let k = file();
        let j = k.judge("case::videos/x", &Outcome::Passed, &checks(&[]), TODAY);
        let note = j.failure_note("k.json").unwrap();
        assert!(
            note.contains("the glob entry videos/* in k.json") && note.contains("by name"),
            "{note}"
        );
    }

    #[test]
    fn a_gap_partly_fixed_is_still_expected_and_says_so() {
        let k = KnownFailures::parse(
            Path::new("k.json"),
            r#"{"known_failures": [{"case": "images/a", "reason": "r", "ticket": "https://t/1", "checks": ["param", "status"]}]}"#,
        )
        .unwrap();
        let j = k.judge(
            "case::images/a",
            &FAILED,
            &checks(&[CheckName::Param]),
            TODAY,
        );
        let note = j.expected_note().unwrap();
        assert!(
            note.contains("partly fixed: [status] held this time"),
            "{note}"
        );
    }

    #[test]
    fn passes_expiry_and_globs() {
        let k = file();
        assert!(matches!(
            k.judge("case::images/a", &Outcome::Passed, &checks(&[]), TODAY),
            Judgement::UnexpectedPass(_)
        ));
        assert!(matches!(
            k.judge(
                "case::images/b",
                &FAILED,
                &checks(&[CheckName::Code]),
                TODAY
            ),
            Judgement::Expired(_)
        ));
        assert!(matches!(
            k.judge(
                "case::videos/x",
                &FAILED,
                &checks(&[CheckName::Poll]),
                TODAY
            ),
            Judgement::Expected { .. }
        ));
        assert!(matches!(
            k.judge(
                "case::images/c",
                &FAILED,
                &checks(&[CheckName::Code]),
                TODAY
            ),
            Judgement::Unlisted
        ));
    }

    #[test]
    fn a_case_not_concluded_is_neither_expected_nor_a_pass() {
        let k = file();
        let not_run = Outcome::Ignored(NotRun::Billable);
        let inconclusive = Outcome::Inconclusive(Inconclusive::RunDeadline(Default::default()));
        for o in [not_run, inconclusive] {
            assert!(matches!(
                k.judge("case::images/a", &o, &checks(&[]), TODAY),
                Judgement::Unlisted
            ));
        }
    }

    #[test]
    fn expired_and_stale_entries_are_out_of_date() {
        let k = file();
        let cases = vec![
            "case::images/a".to_string(),
            "case::images/b".into(),
            "case::videos/v".into(),
        ];
        let problems = k.out_of_date(&cases, TODAY);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains("https://t/2") && problems[0].contains("expired on 2026-01-01")
        );
        assert!(problems[1].contains("stale entry (https://t/4): no case is named case::gone/x"));
        let without_videos = vec!["case::images/a".to_string(), "case::images/b".into()];
        assert!(
            k.out_of_date(&without_videos, TODAY)
                .iter()
                .any(|p| p.contains("the glob videos/* matches no case"))
        );
    }
}
