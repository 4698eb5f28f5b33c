//! The not-run summary: cases ignored or inconclusive, counted by reason, so a user sees what
//! to set to run more of them.

use std::collections::BTreeMap;

use crate::run::{CaseResult, Outcome};

/// The summary text, or nothing when every case ran to a verdict.
pub fn summary<'a>(results: impl IntoIterator<Item = &'a CaseResult>) -> String {
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        let why = match &r.outcome {
            Outcome::Ignored(why) => why.to_string(),
            Outcome::Inconclusive(why) => why.to_string(),
            Outcome::Passed | Outcome::Failed { .. } => continue,
        };
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
    let mut rows: Vec<(String, usize)> = by_reason.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (why, n) in rows {
        out.push_str(&format!("  {n:>4}  {why}\n"));
    }
    out
}
