//! `junit.xml`: one testcase per case, named `case::<area>/<name>`, its class the case file;
//! the failure text as the message; an expected failure is skipped with its ticket, an
//! unexpected pass a failure.

use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::redact::Secrets;

use super::{Entry, Kind};

/// Write `junit.xml` into `dir`.
pub fn write(dir: &Path, entries: &[Entry], secrets: &Secrets) -> std::io::Result<PathBuf> {
    let mut suite = TestSuite::new("errcontract");
    for e in entries {
        let kind = e.kind;
        let status = match kind {
            Kind::Passed => TestCaseStatus::success(),
            Kind::ExpectedFailure => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(secrets.redact(e.reason.as_deref().unwrap_or("expected failure")));
                if let Some(text) = e.message.as_deref() {
                    s.set_description(secrets.redact(text));
                }
                s
            }
            Kind::Ignored | Kind::Inconclusive => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(secrets.redact(&format!(
                    "{}: {}",
                    kind.as_str(),
                    e.reason.as_deref().unwrap_or_default()
                )));
                s
            }
            Kind::Failed | Kind::InvalidCase | Kind::UnexpectedPass => {
                let non_success = if kind == Kind::InvalidCase {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(non_success);
                let message = e.message.as_deref().unwrap_or("");
                s.set_message(secrets.redact(message.lines().next().unwrap_or("")));
                s.set_description(secrets.redact(message));
                s
            }
        };
        let mut case = TestCase::new(e.trial.clone(), status);
        case.set_classname(e.file.clone());
        if let Some(elapsed) = e.elapsed {
            case.set_time(elapsed);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("errcontract");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(std::io::Error::other)?;
    let path = dir.join("junit.xml");
    std::fs::write(&path, secrets.redact(&xml))?;
    Ok(path)
}
