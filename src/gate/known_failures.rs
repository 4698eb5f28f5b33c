//! The known-failures file of a vendor gate (`ERRCONTRACT_EXPECTATIONS`): which cases are known
//! to fail, why, tracked where, until when, and in which checks. Loaded once, every problem
//! located (`file:line:column`, field) and said with what to do; an entry not filled in (as
//! `errcontract expectations` leaves new ones) is refused, so no gap hides without a ticket.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::case::TRIAL_PREFIX;
use crate::check::CheckName;
use crate::locate::{LineCol, SourceMap};

/// What `errcontract expectations` writes where a person must fill in a value.
pub const FILL_IN: &str = "FILL IN";

/// The known-failures file, loaded.
#[derive(Debug, Clone)]
pub struct KnownFailures {
    /// The file, as displayed.
    pub file: String,
    /// Its entries, in file order.
    pub entries: Vec<KnownFailure>,
}

/// One entry: a case (or an area, by glob) known to fail.
#[derive(Debug, Clone)]
pub struct KnownFailure {
    /// The trial (or glob) the entry names, with its prefix (`case::area/name`).
    pub case: String,
    matcher: Option<globset::GlobMatcher>,
    /// Why it fails.
    pub reason: String,
    /// Where the gap is tracked.
    pub ticket: String,
    /// The last day the entry holds.
    pub expires: Option<Date>,
    /// The checks expected to fail; `None`: any.
    pub checks: Option<BTreeSet<CheckName>>,
    /// Where the entry is in the file.
    pub at: LineCol,
}

impl KnownFailure {
    /// Whether the entry names a whole area by glob.
    pub fn is_glob(&self) -> bool {
        self.matcher.is_some()
    }

    /// Whether it covers the trial `name` (`case::area/name`).
    pub fn covers(&self, name: &str) -> bool {
        match &self.matcher {
            Some(glob) => glob.is_match(name),
            None => self.case == name,
        }
    }

    /// Whether it has expired by `today` (it holds through its expiry date).
    pub fn expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|d| d < today)
    }
}

/// A problem in the known-failures file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProblem {
    /// The file.
    pub path: PathBuf,
    /// Where.
    pub at: LineCol,
    /// The field at fault, dotted (`known_failures[2].ticket`); empty for the file.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: String,
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.at)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}\n  help: {}", self.message, self.help)
    }
}

/// Every problem of the file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.0))]
pub struct FileProblems(pub Vec<FileProblem>);

fn render(problems: &[FileProblem]) -> String {
    let n = problems.len();
    let mut out = format!(
        "the known-failures file (ERRCONTRACT_EXPECTATIONS) has {n} problem{}:",
        if n == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push('\n');
        out.push_str(&p.to_string());
    }
    out
}

/// The file as written, before any check: what `errcontract expectations` reads and writes.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub known_failures: Vec<RawEntry>,
}

/// One entry as written.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    pub case: String,
    pub reason: String,
    pub ticket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckName>>,
}

/// The trial (or glob of trials) an entry names: as written when it has a prefix
/// (`derived::…`), else a case file's (`area/name` is `case::area/name`).
pub(super) fn entry_name(case: &str) -> String {
    let case = case.trim();
    if case.contains("::") {
        case.to_string()
    } else {
        format!("{TRIAL_PREFIX}{case}")
    }
}

/// How `errcontract expectations` writes a trial's name: a case file's without `case::`.
pub(super) fn written_name(trial: &str) -> &str {
    trial.strip_prefix(TRIAL_PREFIX).unwrap_or(trial)
}

/// The matcher of a glob entry; `None` for an exact name (or a glob that does not compile).
pub(super) fn glob_of(case: &str) -> Option<globset::GlobMatcher> {
    if !case.contains(['*', '?', '[', '{']) {
        return None;
    }
    globset::GlobBuilder::new(case)
        .literal_separator(true)
        .build()
        .ok()
        .map(|g| g.compile_matcher())
}

/// The format of `expires`.
const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

/// The date as the file writes it.
pub fn format_date(date: Date) -> String {
    date.format(DATE).unwrap_or_else(|_| date.to_string())
}

impl KnownFailures {
    /// Read and check the file at `path`.
    pub fn load(path: &Path) -> Result<Self, FileProblems> {
        let whole = |message: String, help: &str| {
            FileProblems(vec![FileProblem {
                path: path.to_path_buf(),
                at: LineCol { line: 1, column: 1 },
                field: String::new(),
                message,
                help: help.into(),
            }])
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            whole(
                format!("cannot read it: {e}"),
                "point ERRCONTRACT_EXPECTATIONS at a known-failures.json (write one with `errcontract expectations --from report.json`)",
            )
        })?;
        Self::parse(path, &text)
    }

    /// Check the text of a known-failures file named `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, FileProblems> {
        let raw: RawFile = serde_json::from_str(text).map_err(|e| {
            let at = LineCol {
                line: e.line().max(1),
                column: e.column().max(1),
            };
            FileProblems(vec![FileProblem {
                path: path.to_path_buf(),
                at,
                field: String::new(),
                message: crate::locate::strip_position(&e.to_string()),
                help: "a known-failures file is {\"known_failures\": [{\"case\", \"reason\", \"ticket\", \"expires\"?, \"checks\"?}]}; see schemas/known-failures.schema.json".into(),
            }])
        })?;
        let map = SourceMap::new(Arc::from(text));
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        for (i, raw) in raw.known_failures.into_iter().enumerate() {
            let mut problem = |field: &str, message: String, help: &str| {
                let pointer = format!("/known_failures/{i}/{field}");
                problems.push(FileProblem {
                    path: path.to_path_buf(),
                    at: map.value_at(&pointer),
                    field: format!("known_failures[{i}].{field}"),
                    message,
                    help: help.into(),
                });
            };
            let case = entry_name(&raw.case);
            let mut matcher = None;
            if written_name(&case).is_empty() {
                problem(
                    "case",
                    "empty".into(),
                    "name a case as `area/name` (as `--list` shows it, without `case::`), or an area as `area/*`",
                );
            } else if case.contains(['*', '?', '[', '{']) {
                match globset::GlobBuilder::new(&case)
                    .literal_separator(true)
                    .build()
                {
                    Ok(g) => matcher = Some(g.compile_matcher()),
                    Err(e) => problem(
                        "case",
                        format!("not a valid glob: {e}"),
                        "`*` matches within one directory, `**` across them: e.g. `videos/*`",
                    ),
                }
            }
            if !seen.insert(case.clone()) {
                problem(
                    "case",
                    format!("{case} is listed twice"),
                    "keep one entry per case; list every failing check in its `checks`",
                );
            }
            let across_areas = written_name(&case)
                .split('/')
                .next()
                .is_some_and(|area| area.contains(['*', '?', '[', '{']))
                || case.contains("**");
            if matcher.is_some() && across_areas && raw.checks.is_none() {
                problem(
                    "checks",
                    format!(
                        "the glob {case} spans areas and lists no checks: it would expect any failure of every case it covers, so no new failure there could ever be caught"
                    ),
                    "list the checks its cases fail in (`checks`), or name the area (`videos/*`)",
                );
            }
            if raw.reason.trim().is_empty() || raw.reason.starts_with(FILL_IN) {
                problem(
                    "reason",
                    "not filled in".into(),
                    "say in a sentence why the case fails on this target",
                );
            }
            let ticket_ok = reqwest::Url::parse(raw.ticket.trim())
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ticket_ok {
                let message = if raw.ticket.starts_with(FILL_IN) || raw.ticket.trim().is_empty() {
                    "not filled in".to_string()
                } else {
                    format!("{:?} is not an http(s) URL", raw.ticket)
                };
                problem(
                    "ticket",
                    message,
                    "link the issue that tracks this gap, e.g. https://tracker.example.com/API-123",
                );
            }
            let expires = match raw.expires.as_deref().map(str::trim) {
                None => None,
                Some(d) => match Date::parse(d, DATE) {
                    Ok(date) => Some(date),
                    Err(_) => {
                        problem(
                            "expires",
                            format!("{d:?} is not a date"),
                            "write the last day the entry holds as YYYY-MM-DD, or leave `expires` out",
                        );
                        None
                    }
                },
            };
            if raw.checks.as_ref().is_some_and(Vec::is_empty) {
                problem(
                    "checks",
                    "empty: no failure would be expected".into(),
                    "list the checks expected to fail (e.g. [\"param\"]), or leave `checks` out to expect any",
                );
            }
            entries.push(KnownFailure {
                at: map.value_at(&format!("/known_failures/{i}")),
                case,
                matcher,
                reason: raw.reason,
                ticket: raw.ticket.trim().to_string(),
                expires,
                checks: raw.checks.map(|c| c.into_iter().collect()),
            });
        }
        if !problems.is_empty() {
            return Err(FileProblems(problems));
        }
        Ok(KnownFailures {
            file: crate::locate::display_path(path),
            entries,
        })
    }

    /// The entry that covers the trial `name` (`case::area/name`): an exact one before a glob.
    pub fn entry_for(&self, name: &str) -> Option<&KnownFailure> {
        self.entries
            .iter()
            .find(|e| !e.is_glob() && e.covers(name))
            .or_else(|| self.entries.iter().find(|e| e.is_glob() && e.covers(name)))
    }

    /// Where an entry is, as `file:line:column`.
    pub fn place(&self, entry: &KnownFailure) -> String {
        format!("{}:{}", self.file, entry.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<KnownFailures, FileProblems> {
        KnownFailures::parse(Path::new("known-failures.json"), text)
    }

    const GOOD: &str = r#"{
  "known_failures": [
    { "case": "case::images/a", "reason": "r", "ticket": "https://t.example/1", "checks": ["param"] },
    { "case": "videos/*", "reason": "r", "ticket": "https://t.example/2", "expires": "2027-01-31" }
  ]
}"#;

    #[test]
    fn exact_entries_win_over_globs() {
        let k = parse(GOOD).unwrap();
        assert_eq!(
            k.entry_for("case::images/a").unwrap().ticket,
            "https://t.example/1"
        );
        assert_eq!(
            k.entry_for("case::videos/x").unwrap().ticket,
            "https://t.example/2"
        );
        assert!(
            k.entry_for("case::videos/deep/x").is_none(),
            "`*` stays in one directory"
        );
        assert!(k.entry_for("case::images/b").is_none());
        assert!(
            k.entry_for("derived::videos/x").is_none(),
            "a case entry is not a derived one"
        );
    }

    #[test]
    fn an_entry_holds_through_its_expiry_date() {
        let k = parse(GOOD).unwrap();
        let e = &k.entries[1];
        assert!(!e.expired(time::macros::date!(2027 - 01 - 31)));
        assert!(e.expired(time::macros::date!(2027 - 02 - 01)));
    }

    #[test]
    fn entries_not_filled_in_are_refused_where_they_are() {
        let text = "{\"known_failures\": [\n  {\"case\": \"images/a\", \"reason\": \"FILL IN: why\", \"ticket\": \"FILL IN\", \"expires\": \"soon\", \"checks\": [\"param\"]}\n]}";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("known-failures.json:2:"), "{err}");
        assert!(
            err.contains("known_failures[0].reason: not filled in"),
            "{err}"
        );
        assert!(
            err.contains("known_failures[0].ticket: not filled in"),
            "{err}"
        );
        assert!(err.contains("\"soon\" is not a date"), "{err}");
    }

    #[test]
    fn an_unknown_check_or_field_is_named() {
        let err = parse(r#"{"known_failures": [{"case": "a/b", "reason": "r", "ticket": "https://t/1", "checks": ["parm"]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown variant `parm`"), "{err}");
        let err = parse(r#"{"known_failures": [{"case": "a/b", "reason": "r", "tiket": "x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `tiket`"), "{err}");
    }

    #[test]
    fn a_glob_across_areas_must_list_its_checks() {
        for glob in ["**", "*/*", "case::**", "*/resolution-*"] {
            let text = format!(
                r#"{{"known_failures": [{{"case": "{glob}", "reason": "r", "ticket": "https://t/1"}}]}}"#
            );
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains("spans areas and lists no checks"),
                "{glob}: {err}"
            );
            let with_checks = text.replace("\"ticket\"", "\"checks\": [\"param\"], \"ticket\"");
            assert!(parse(&with_checks).is_ok(), "{glob} with checks");
        }
        assert!(parse(r#"{"known_failures": [{"case": "videos/*", "reason": "r", "ticket": "https://t/1"}]}"#).is_ok());
    }

    #[test]
    fn a_case_listed_twice_is_refused() {
        let err = parse(r#"{"known_failures": [{"case": "a/b", "reason": "r", "ticket": "https://t/1"}, {"case": "case::a/b", "reason": "r", "ticket": "https://t/1"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("case::a/b is listed twice"), "{err}");
    }
}
