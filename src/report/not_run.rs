//! The not-run summary: cases ignored or inconclusive, counted by reason, so a user sees what
//! to set to run more of them.

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
