//! `errcontract expectations --from report.json`: the known-failures file a run implies. Every
//! failing case gets an entry; entries already written keep their reason, ticket and expiry;
//! an entry whose case now passes is dropped; a glob some of whose cases pass now is replaced by
//! exact entries for those still failing; an entry's `checks` narrow to what still fails; entries
//! for cases the run did not conclude are kept. New entries, and entries whose `checks` had to
//! grow (a new break), say `FILL IN` where a person must write or confirm: the gate refuses
//! them until then.

use std::collections::BTreeSet;

use super::{Subject, Verdict};
use crate::check::CheckName;

use std::path::Path;

use super::known_failures::{FILL_IN, RawEntry, RawFile};

/// The file written, and what changed, for the person to read.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// The new file's text.
    pub text: String,
    /// Cases given a new entry to fill in.
    pub added: Vec<String>,
    /// Entries dropped: their cases pass now.
    pub removed: Vec<String>,
    /// Entries whose `checks` grew to cover this run's failures: marked for a person to confirm.
    pub widened: Vec<String>,
    /// Entries whose `checks` shrank to what still fails.
    pub narrowed: Vec<String>,
    /// Globs replaced by exact entries, as some of their cases pass now.
    pub expanded: Vec<String>,
    /// Entries kept as they were.
    pub kept: usize,
}

/// One trial of a run, as the known-failures file sees it (from a `report.json` record).
#[derive(Debug, Clone, Copy)]
pub struct RunTrial<'a> {
    /// The trial's name.
    pub name: &'a str,
    /// What it is of: only cases are listed.
    pub subject: Subject,
    /// Its verdict.
    pub verdict: Verdict,
    /// The checks it failed.
    pub failed: &'a [CheckName],
}

/// The `$schema` a known-failures file in `dir` points at: the path from there to `schemas`
/// (this build's), or `None` when they share nothing but the filesystem's root (a path
/// through `/` breaks as soon as either moves).
pub fn schema_reference(dir: &Path, schemas: &Path) -> Option<String> {
    let dir = std::fs::canonicalize(dir).ok()?;
    let schemas = std::fs::canonicalize(schemas).ok()?;
    let common = dir
        .components()
        .zip(schemas.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return None;
    }
    let mut parts: Vec<String> = dir
        .components()
        .skip(common)
        .map(|_| "..".to_string())
        .collect();
    if parts.is_empty() {
        parts.push(".".into());
    }
    for c in schemas.components().skip(common) {
        parts.push(c.as_os_str().to_str()?.to_string());
    }
    parts.push("known-failures.schema.json".into());
    Some(parts.join("/"))
}

/// The known-failures file for a run's `trials`, keeping what `existing` (the text of the
/// file being rewritten) already says; a new file's `$schema` is `schema`. Fails only when
/// `existing` is not a known-failures file. (A run that ended on a guard is refused by the
/// caller, which reads its report.)
pub fn write_from_run<'a>(
    trials: impl IntoIterator<Item = RunTrial<'a>>,
    existing: Option<&str>,
    schema: Option<String>,
) -> Result<Written, String> {
    let file: RawFile = match existing {
        Some(text) => serde_json::from_str(text.strip_prefix('\u{feff}').unwrap_or(text))
            .map_err(|e| format!("the file to update is not a known-failures file: {e}"))?,
        None => RawFile {
            schema,
            description: Some(
                "Known gaps of this target: each failing case, why, and the ticket tracking it (errcontract, ERRCONTRACT_EXPECTATIONS)".into(),
            ),
            known_failures: Vec::new(),
        },
    };
    let failing = |k: Verdict| matches!(k, Verdict::Failed | Verdict::ExpectedFailure);
    let passing = |k: Verdict| matches!(k, Verdict::Passed | Verdict::UnexpectedPass);
    // Cases only: the gate's own trial is not a case to list.
    let cases: Vec<(&str, Verdict, &[CheckName])> = trials
        .into_iter()
        .filter(|t| t.subject == Subject::Case)
        .map(|t| (t.name, t.verdict, t.failed))
        .collect();
    let mut written = Written::default();
    let mut entries: Vec<RawEntry> = Vec::new();
    for mut entry in file.known_failures {
        let shown = entry.shown().to_string();
        let matched: Vec<&(&str, Verdict, &[CheckName])> =
            cases.iter().filter(|(c, _, _)| entry.covers(c)).collect();
        if !matched.is_empty() && matched.iter().all(|(_, k, _)| passing(*k)) {
            written.removed.push(shown);
            continue;
        }
        if entry.exact().is_none() {
            if matched.iter().any(|(_, k, _)| passing(*k)) {
                // Part of the area is fixed: the glob would now pass cases it lists.
                written.expanded.push(shown);
                for (case, _, _) in matched.iter().filter(|(_, k, _)| failing(*k)) {
                    entries.push(RawEntry {
                        case: Some(case.to_string()),
                        glob: None,
                        ..entry.clone()
                    });
                }
            } else {
                written.kept += 1;
                entries.push(entry);
            }
            continue;
        }
        if let (Some(listed), Some((_, kind, failed))) = (&mut entry.checks, matched.first())
            && failing(*kind)
        {
            let before: BTreeSet<CheckName> = listed.iter().copied().collect();
            let now: BTreeSet<CheckName> = failed.iter().copied().collect();
            let grown: Vec<&str> = now.difference(&before).map(|c| c.as_str()).collect();
            if !grown.is_empty() {
                // A new break is never accepted unseen: a person confirms it.
                entry.reason = format!(
                    "{FILL_IN}: it now also fails [{}]; confirm, then say why: {}",
                    grown.join(", "),
                    entry.reason
                );
                written.widened.push(shown);
            } else if now != before {
                written.narrowed.push(shown);
            } else {
                written.kept += 1;
            }
            *listed = now.into_iter().collect();
        } else {
            written.kept += 1;
        }
        entries.push(entry);
    }
    for (name, kind, failed) in &cases {
        if !failing(*kind) || entries.iter().any(|e| e.covers(name)) {
            continue;
        }
        written.added.push(name.to_string());
        entries.push(RawEntry {
            case: Some(name.to_string()),
            glob: None,
            reason: format!("{FILL_IN}: why this case fails on this target"),
            ticket: format!("{FILL_IN}: the URL of the issue tracking it"),
            expires: None,
            checks: Some(failed.to_vec()),
        });
    }
    entries.sort_by_key(|e| e.exact().unwrap_or_else(|| e.shown().to_string()));
    let file = RawFile {
        known_failures: entries,
        ..file
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| format!("the file to update is not a known-failures file: {e}"))?;
    text.push('\n');
    written.text = text;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of `cases`: (name, verdict, failed checks); `gate::` names the file's own trial.
    fn report(
        cases: &[(&'static str, &str, &[&str])],
    ) -> Vec<(&'static str, Subject, Verdict, Vec<CheckName>)> {
        cases
            .iter()
            .map(|(name, verdict, failed)| {
                let subject = if name.starts_with("gate::") {
                    Subject::KnownFailuresFile
                } else {
                    Subject::Case
                };
                let verdict =
                    serde_json::from_value(serde_json::json!(verdict)).expect("a verdict");
                let failed = failed
                    .iter()
                    .map(|c| serde_json::from_value(serde_json::json!(c)).expect("a check"))
                    .collect();
                (*name, subject, verdict, failed)
            })
            .collect()
    }

    fn write_from_report(
        run: &[(&'static str, Subject, Verdict, Vec<CheckName>)],
        existing: Option<&str>,
    ) -> Result<Written, String> {
        write_from_run(
            run.iter().map(|(name, subject, verdict, failed)| RunTrial {
                name,
                subject: *subject,
                verdict: *verdict,
                failed,
            }),
            existing,
            None,
        )
    }

    fn entries(text: &str) -> Vec<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_str(text).expect("json");
        doc["known_failures"].as_array().expect("entries").clone()
    }

    const EXISTING: &str = r#"{"known_failures": [
        {"glob": "videos/*", "reason": "video errors are not enveloped", "ticket": "https://t/1"},
        {"case": "images/a", "reason": "names the wrong param", "ticket": "https://t/2", "checks": ["param", "status"]},
        {"case": "images/b", "reason": "no doc_url", "ticket": "https://t/3", "checks": ["doc_url"]}
    ]}"#;

    #[test]
    fn a_glob_part_of_whose_area_passes_is_replaced_by_the_cases_it_still_fails() {
        let r = report(&[
            ("case::videos/x", "expected_failure", &["schema"]),
            ("case::videos/y", "passed", &[]),
            ("case::images/a", "expected_failure", &["param", "status"]),
            ("case::images/b", "expected_failure", &["doc_url"]),
        ]);
        let w = write_from_report(&r, Some(EXISTING)).unwrap();
        let e = entries(&w.text);
        assert_eq!(w.expanded, ["videos/*"]);
        let x = e
            .iter()
            .find(|e| e["case"] == "case::videos/x")
            .expect("videos/x listed");
        assert_eq!(
            x["ticket"], "https://t/1",
            "the glob's reason and ticket kept"
        );
        assert!(
            !e.iter()
                .any(|e| e["glob"] == "videos/*" || e["case"] == "case::videos/y")
        );
    }

    #[test]
    fn checks_narrow_to_what_still_fails_and_a_grown_entry_is_marked_for_a_person() {
        let r = report(&[
            ("case::images/a", "expected_failure", &["param"]),
            ("case::images/b", "failed", &["doc_url", "status"]),
            ("gate::known-failures", "failed", &[]),
        ]);
        let w = write_from_report(&r, Some(EXISTING)).unwrap();
        let e = entries(&w.text);
        assert_eq!(w.narrowed, ["images/a"]);
        assert_eq!(w.widened, ["images/b"]);
        let a = e.iter().find(|e| e["case"] == "images/a").unwrap();
        assert_eq!(a["checks"], serde_json::json!(["param"]));
        let b = e.iter().find(|e| e["case"] == "images/b").unwrap();
        assert!(
            b["reason"]
                .as_str()
                .unwrap()
                .starts_with("FILL IN: it now also fails [status]"),
            "{b}"
        );
        assert!(
            !e.iter()
                .any(|e| e["case"].as_str().is_some_and(|c| c.starts_with("gate::"))),
            "the gate's own trial is no case to list"
        );
        assert!(
            w.text.contains("videos/*"),
            "a glob none of whose cases ran is kept"
        );
    }
}
