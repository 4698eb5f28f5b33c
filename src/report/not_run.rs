//! The not-run summary: cases ignored or inconclusive, counted by reason, so a user sees what
//! to set to run more of them; and the headline every summary starts with: how many cases
//! ran, of how many, and the top reasons the rest did not.

use std::collections::BTreeMap;

use super::Entry;
use crate::gate::Verdict;

/// The summary text, or nothing when every case ran to a verdict.
pub fn summary(entries: &[Entry]) -> String {
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    let not_run = entries
        .iter()
        .filter(|e| matches!(e.kind, Verdict::Ignored | Verdict::Inconclusive));
    for why in not_run.filter_map(|e| e.reason.as_deref()) {
        *by_reason.entry(why).or_default() += 1;
    }
    if by_reason.is_empty() {
        return String::new();
    }
    let total: usize = by_reason.values().sum();
    let mut out = format!(
        "{total} case{} not run or not concluded:\n",
        if total == 1 { "" } else { "s" }
    );
    let mut rows: Vec<(&str, usize)> = by_reason.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (why, n) in rows {
        out.push_str(&format!("  {n:>4}  {why}\n"));
    }
    out
}

/// How many of the top reasons the headline names.
const TOP_REASONS: usize = 3;

/// The first line of a summary: `N of M cases ran to a verdict`, and the most common reasons
/// the rest did not (ignored, inconclusive, or a case file that did not load), each counted.
/// `cases` are each case's verdict and reason; the gate's own trial is no case. `missing`:
/// cases of the suite with no result at all (a merge missing a shard).
pub fn headline<'a>(
    cases: impl IntoIterator<Item = (&'a str, Verdict, Option<&'a str>)>,
    missing: usize,
) -> String {
    let mut total = missing;
    let mut ran = 0;
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    if missing > 0 {
        by_reason.insert("no result in the fragments (a shard missing?)", missing);
    }
    for (name, kind, reason) in cases {
        if name.starts_with("gate::") {
            continue;
        }
        total += 1;
        match kind {
            Verdict::Passed
            | Verdict::Failed
            | Verdict::ExpectedFailure
            | Verdict::UnexpectedPass => ran += 1,
            Verdict::InvalidCase => {
                *by_reason.entry("the case file did not load").or_default() += 1
            }
            Verdict::Ignored | Verdict::Inconclusive => {
                *by_reason
                    .entry(reason.unwrap_or("(no reason)"))
                    .or_default() += 1
            }
        }
    }
    let mut out = format!("{ran} of {total} cases ran to a verdict");
    if by_reason.is_empty() {
        return out;
    }
    let mut rows: Vec<(&str, usize)> = by_reason.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let shown: Vec<String> = rows
        .iter()
        .take(TOP_REASONS)
        .map(|(why, n)| format!("{n} × {why}"))
        .collect();
    out.push_str(&format!(
        "; the other {}: {}",
        total - ran,
        shown.join("; ")
    ));
    if rows.len() > TOP_REASONS {
        let more: usize = rows[TOP_REASONS..].iter().map(|(_, n)| n).sum();
        out.push_str(&format!("; {more} for other reasons"));
    }
    out
}
