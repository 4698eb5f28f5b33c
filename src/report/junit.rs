//! `junit.xml`: one testcase per case, named `case::<area>/<name>`, its class the case file;
//! the failure text as the message; an expected failure is skipped with its ticket, an
//! unexpected pass a failure, a case not run or not concluded skipped with its reason.

use std::path::{Path, PathBuf};
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::redact::Secrets;

use super::json::Document;
use crate::gate::Verdict;

/// The XML text.
pub fn render(doc: &Document, secrets: &Secrets) -> std::io::Result<String> {
    let mut suite = TestSuite::new("errcontract");
    for c in &doc.cases {
        let kind = c.outcome;
        let status = match kind {
            Verdict::Passed => TestCaseStatus::success(),
            Verdict::ExpectedFailure => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(secrets.redact(c.reason.as_deref().unwrap_or("expected failure")));
                if let Some(text) = c.message.as_deref() {
                    s.set_description(secrets.redact(text));
                }
                s
            }
            Verdict::Ignored | Verdict::Inconclusive => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(secrets.redact(&format!(
                    "{}: {}",
                    kind.as_str(),
                    c.reason.as_deref().unwrap_or_default()
                )));
                s
            }
            Verdict::Failed | Verdict::InvalidCase | Verdict::UnexpectedPass => {
                let non_success = if kind == Verdict::InvalidCase {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(non_success);
                let message = c.message.as_deref().unwrap_or("");
                s.set_message(secrets.redact(message.lines().next().unwrap_or("")));
                s.set_description(secrets.redact(message));
                s
            }
        };
        let mut case = TestCase::new(c.name.clone(), status);
        case.set_classname(c.file.clone());
        if let Some(ms) = c.elapsed_ms {
            case.set_time(Duration::from_millis(ms));
        }
        suite.add_test_case(case);
    }
    // A case with no result in a merge is an error: a CI test view must not read green.
    for name in &doc.missing {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message("no result in the merged fragments (a shard missing, a process killed?)");
        suite.add_test_case(TestCase::new(name.clone(), s));
    }
    // A case not run is skipped, not disabled: JUnit readers count `skipped` apart from tests
    // switched off in the code.
    let skipped = std::mem::take(&mut suite.disabled);
    suite
        .extra
        .insert("skipped".into(), skipped.to_string().into());
    let mut report = Report::new("errcontract");
    report.add_test_suite(suite);
    let xml = report.to_string().map_err(std::io::Error::other)?;
    Ok(secrets.redact(&xml))
}

/// Write `junit.xml` into `dir`.
pub fn write(dir: &Path, doc: &Document, secrets: &Secrets) -> std::io::Result<PathBuf> {
    let path = dir.join("junit.xml");
    std::fs::write(&path, render(doc, secrets)?)?;
    Ok(path)
}
