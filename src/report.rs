//! Reports for CI: `junit.xml` (one testcase per case, named `case::<area>/<name>`) and
//! `report.json` (outcomes, findings by check, the coverage matrix). Every string written is
//! redacted first.

use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;

use crate::coverage::Matrix;
use crate::redact::Secrets;
use crate::run::{CaseResult, Outcome};

/// One case's entry: its result and the rendered failure message (already redacted).
#[derive(Debug, Clone)]
pub struct Entry {
    /// `case::<area>/<name>`.
    pub trial: String,
    /// The case file, as displayed.
    pub file: String,
    /// What happened; None when the case file did not load.
    pub result: Option<CaseResult>,
    /// The failure text (a broken case file's errors, or the check failures).
    pub message: String,
}

impl Entry {
    fn outcome(&self) -> (&'static str, Option<String>) {
        match self.result.as_ref().map(|r| &r.outcome) {
            None => ("invalid_case", None),
            Some(Outcome::Passed) => ("passed", None),
            Some(Outcome::Failed { .. }) => ("failed", None),
            Some(Outcome::Ignored(why)) => ("ignored", Some(why.clone())),
            Some(Outcome::Inconclusive(why)) => ("inconclusive", Some(why.clone())),
        }
    }
}

/// Write `junit.xml` and `report.json` into `dir`; returns the files written.
pub fn write(
    dir: &Path,
    target: &str,
    entries: &[Entry],
    matrix: &Matrix,
    secrets: &Secrets,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut suite = TestSuite::new("errcontract");
    for e in entries {
        let (outcome, reason) = e.outcome();
        let status = match outcome {
            "passed" => TestCaseStatus::success(),
            "ignored" | "inconclusive" => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(
                    secrets.redact(&format!("{outcome}: {}", reason.unwrap_or_default())),
                );
                s
            }
            _ => {
                let kind = if outcome == "invalid_case" {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(kind);
                let first = e.message.lines().next().unwrap_or("").to_string();
                s.set_message(secrets.redact(&first));
                s.set_description(secrets.redact(&e.message));
                s
            }
        };
        let mut case = TestCase::new(e.trial.clone(), status);
        case.set_classname(e.file.clone());
        if let Some(r) = &e.result {
            case.set_time(r.elapsed);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("errcontract");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(std::io::Error::other)?;
    let junit = dir.join("junit.xml");
    std::fs::write(&junit, secrets.redact(&xml))?;

    let cases: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let (outcome, reason) = e.outcome();
            let findings: Vec<serde_json::Value> = e
                .result
                .as_ref()
                .map(|r| {
                    r.findings()
                        .iter()
                        .map(|f| json!({"check": f.check.as_str(), "expected": f.expected, "actual": f.actual, "detail": f.detail}))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "name": e.trial,
                "file": e.file,
                "outcome": outcome,
                "reason": reason,
                "findings": findings,
                "message": if e.message.is_empty() { None } else { Some(&e.message) },
                "notes": e.result.as_ref().map(|r| r.notes.clone()).unwrap_or_default(),
                "elapsed_ms": e.result.as_ref().map(|r| r.elapsed.as_millis() as u64),
            })
        })
        .collect();
    let count = |o: &str| entries.iter().filter(|e| e.outcome().0 == o).count();
    let doc = json!({
        "target": target,
        "summary": {
            "passed": count("passed"), "failed": count("failed"), "invalid_case": count("invalid_case"),
            "ignored": count("ignored"), "inconclusive": count("inconclusive"),
        },
        "cases": cases,
        "coverage": matrix,
    });
    let json_path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(&json_path, secrets.redact(&text))?;
    Ok(vec![junit, json_path])
}
