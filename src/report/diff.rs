//! `errcontract diff OLD NEW`: what changed between two runs' `report.json`, in Markdown: new
//! failures first, then fixed cases, cases that fail differently, newly inconclusive and newly
//! ignored cases, and cases added or removed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::json::{CaseRecord, Document};
use crate::gate::Verdict;

/// What a verdict says of the target's behaviour, for comparing runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Failing,
    Passing,
    Inconclusive,
    Ignored,
}

fn behaviour(kind: Verdict) -> Behaviour {
    match kind {
        Verdict::Failed | Verdict::InvalidCase | Verdict::ExpectedFailure => Behaviour::Failing,
        Verdict::Passed | Verdict::UnexpectedPass => Behaviour::Passing,
        Verdict::Inconclusive => Behaviour::Inconclusive,
        Verdict::Ignored => Behaviour::Ignored,
    }
}

fn checks(c: &CaseRecord) -> String {
    if c.failed_checks.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = c.failed_checks.iter().map(|k| k.as_str()).collect();
    format!(": [{}]", names.join(", "))
}

fn line(out: &mut String, old: Option<&CaseRecord>, new: &CaseRecord) {
    let was = old.map_or(String::new(), |o| format!("was {}, ", o.outcome.as_str()));
    let mut why = checks(new);
    if let Some(reason) = new
        .reason
        .as_deref()
        .filter(|_| new.failed_checks.is_empty())
    {
        why = format!(": {reason}");
    }
    let _ = writeln!(
        out,
        "- `{}` ({was}now {}{why})",
        new.name,
        new.outcome.as_str()
    );
}

/// The cases failing in `new` that did not fail in `old` (were passing, inconclusive,
/// ignored, or absent): what `errcontract diff --fail-on-new` fails on.
pub fn new_failures(old: &Document, new: &Document) -> Vec<String> {
    let before: BTreeMap<&str, &CaseRecord> =
        old.cases.iter().map(|c| (c.name.as_str(), c)).collect();
    new.cases
        .iter()
        .filter(|c| behaviour(c.outcome) == Behaviour::Failing)
        .filter(|c| {
            before
                .get(c.name.as_str())
                .is_none_or(|was| behaviour(was.outcome) != Behaviour::Failing)
        })
        .map(|c| c.name.clone())
        .collect()
}

/// The Markdown diff of two reports.
pub fn diff(old: &Document, new: &Document, old_name: &str, new_name: &str) -> String {
    let before: BTreeMap<&str, &CaseRecord> =
        old.cases.iter().map(|c| (c.name.as_str(), c)).collect();
    let after: BTreeMap<&str, &CaseRecord> =
        new.cases.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut sections: Vec<(&str, String)> = vec![
        ("New failures", String::new()),
        ("Fixed", String::new()),
        ("Failing differently", String::new()),
        ("Newly inconclusive", String::new()),
        ("Newly ignored", String::new()),
        ("Added", String::new()),
        ("Removed", String::new()),
    ];
    for (name, now) in &after {
        let Some(was) = before.get(name) else {
            line(&mut sections[5].1, None, now);
            continue;
        };
        let (b, a) = (behaviour(was.outcome), behaviour(now.outcome));
        let section = match (b, a) {
            (b, Behaviour::Failing) if b != Behaviour::Failing => Some(0),
            (Behaviour::Failing, Behaviour::Passing) => Some(1),
            (Behaviour::Failing, Behaviour::Failing) if was.failed_checks != now.failed_checks => {
                Some(2)
            }
            (b, Behaviour::Inconclusive) if b != Behaviour::Inconclusive => Some(3),
            (b, Behaviour::Ignored) if b != Behaviour::Ignored => Some(4),
            _ => None,
        };
        if let Some(i) = section {
            line(&mut sections[i].1, Some(was), now);
        }
    }
    for (name, was) in &before {
        if !after.contains_key(name) {
            let _ = writeln!(sections[6].1, "- `{name}` (was {})", was.outcome.as_str());
        }
    }
    let mut out = format!("# errcontract: {old_name} → {new_name}\n\n");
    if old.target != new.target {
        let _ = writeln!(
            out,
            "Note: the runs tested different targets ({} and {}).\n",
            old.target, new.target
        );
    }
    out.push_str("| verdict | old | new |\n|---|---:|---:|\n");
    for kind in Verdict::ALL {
        let n = |d: &Document| d.summary.get(kind.as_str()).copied().unwrap_or(0);
        let (o, n) = (n(old), n(new));
        if o > 0 || n > 0 {
            let _ = writeln!(out, "| {} | {o} | {n} |", kind.as_str());
        }
    }
    let mut changed = false;
    for (title, body) in &sections {
        if !body.is_empty() {
            changed = true;
            let count = body.lines().count();
            let _ = write!(out, "\n## {title} ({count})\n\n{body}");
        }
    }
    if !changed {
        out.push_str("\nNo case changed its verdict.\n");
    }
    out
}
