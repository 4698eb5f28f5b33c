//! `summary.md`: the run for a CI job summary: the verdict in one line, totals, what fails the
//! run first (with the first line of each failure), expected failures with their tickets, what
//! was not run and why, and the coverage matrix. Appended to `$GITHUB_STEP_SUMMARY` when set
//! (by the caller, which warns if it cannot).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::redact::Secrets;

use super::json::{CaseRecord, Document};
use crate::gate::Verdict;

/// Markdown text: `|` and line breaks in a table cell or list item made harmless.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// The first line of a failure, without the case's name it starts with (the list item names
/// the case already).
fn first_line(c: &CaseRecord) -> String {
    let text = c.message.as_deref().unwrap_or_default();
    let line = text.lines().next().unwrap_or_default();
    let line = line
        .strip_prefix(c.name.as_str())
        .map(|rest| rest.trim_start_matches(':').trim_start())
        .unwrap_or(line);
    md(line)
}

/// The Markdown text.
pub fn render(doc: &Document, secrets: &Secrets) -> String {
    let n = |k: Verdict| doc.summary.get(k.as_str()).copied().unwrap_or(0);
    let total: usize = doc.summary.values().sum();
    let failing: Vec<&CaseRecord> = doc
        .cases
        .iter()
        .filter(|c| {
            matches!(
                c.outcome,
                Verdict::Failed | Verdict::UnexpectedPass | Verdict::InvalidCase
            )
        })
        .collect();
    let mut out = format!("# errcontract: {}\n\n", md(&doc.target));
    let ran = super::not_run::headline(
        doc.cases
            .iter()
            .map(|c| (c.name.as_str(), c.outcome, c.reason.as_deref())),
        doc.missing.len(),
    );
    let _ = writeln!(out, "**{}.**\n", md(&ran));
    if let Some(first) = doc.guards.first() {
        let _ = writeln!(
            out,
            "**The run proves less than it seems (exit {}):** {}\n",
            doc.exit_code,
            md(first.message.lines().next().unwrap_or_default())
        );
        for guard in &doc.guards {
            let _ = writeln!(out, "> {}\n", md(&guard.message));
        }
    } else if failing.is_empty() {
        // How many ran, and why the rest did not, is the headline above.
        out.push_str("**No case failed.**\n\n");
    } else {
        let _ = writeln!(
            out,
            "**{} of {total} cases fail the run.**\n",
            failing.len()
        );
    }
    out.push_str("| verdict | cases |\n|---|---:|\n");
    for kind in Verdict::ALL {
        if n(kind) > 0 {
            let _ = writeln!(out, "| {} | {} |", kind.as_str().replace('_', " "), n(kind));
        }
    }
    if !failing.is_empty() {
        let _ = write!(out, "\n## Failures ({})\n\n", failing.len());
        for c in &failing {
            let _ = writeln!(
                out,
                "- `{}` ({}): {}",
                c.name,
                c.outcome.as_str().replace('_', " "),
                first_line(c)
            );
        }
    }
    let expected: Vec<&CaseRecord> = doc
        .cases
        .iter()
        .filter(|c| c.outcome == Verdict::ExpectedFailure)
        .collect();
    if !expected.is_empty() {
        let _ = write!(out, "\n## Expected failures ({})\n\n", expected.len());
        for c in expected {
            let said = c.reason.as_deref().or(c.ticket.as_deref());
            let _ = writeln!(out, "- `{}`: {}", c.name, md(said.unwrap_or_default()));
        }
    }
    let mut not_run: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &doc.cases {
        if matches!(c.outcome, Verdict::Ignored | Verdict::Inconclusive) {
            *not_run
                .entry(c.reason.as_deref().unwrap_or("(no reason)"))
                .or_default() += 1;
        }
    }
    if !not_run.is_empty() {
        let _ = write!(
            out,
            "\n## Not run or not concluded ({})\n\n",
            not_run.values().sum::<usize>()
        );
        for (why, count) in not_run {
            let _ = writeln!(out, "- {count} × {}", md(why));
        }
    }
    let m = &doc.coverage;
    out.push_str("\n## Coverage: error codes by endpoint\n\n");
    out.push_str("Responses with each code in cases that held / broke the contract; **gap**: a case expected the code and it never came.\n\n| endpoint |");
    for code in &m.codes {
        let _ = write!(out, " `{code}` |");
    }
    out.push_str("\n|---|");
    for _ in &m.codes {
        out.push_str("---:|");
    }
    out.push('\n');
    for (label, cells) in &m.rows {
        if cells.is_empty() && label == super::OTHER {
            continue;
        }
        let _ = write!(out, "| `{}` |", md(label));
        for code in &m.codes {
            let text = match cells.get(code) {
                None => "·".to_string(),
                Some(c) if c.held == 0 && c.broken == 0 && c.missing > 0 => "**gap**".into(),
                Some(c) if c.broken == 0 => c.held.to_string(),
                Some(c) => format!("{}/{} ✗", c.held, c.broken),
            };
            let more = match cells.get(code) {
                Some(c) if c.missing > 0 && (c.held > 0 || c.broken > 0) => {
                    format!(" +{} **gap**", c.missing)
                }
                _ => String::new(),
            };
            let _ = write!(out, " {text}{more} |");
        }
        out.push('\n');
    }
    secrets.redact(&out)
}

/// Write `summary.md` into `dir`.
pub fn write(dir: &Path, doc: &Document, secrets: &Secrets) -> std::io::Result<PathBuf> {
    let path = dir.join("summary.md");
    std::fs::write(&path, render(doc, secrets))?;
    Ok(path)
}

/// Append `summary.md` of `dir` to `$GITHUB_STEP_SUMMARY`, when that is set; the file
/// appended to. Its failure is the CI job's, not the run's: the caller warns and goes on.
pub fn append_to_step_summary(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let Some(step_summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    use std::io::Write as _;
    let text = std::fs::read(dir.join("summary.md"))?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&step_summary)?;
    f.write_all(&text)?;
    f.write_all(b"\n")?;
    Ok(Some(PathBuf::from(step_summary)))
}
