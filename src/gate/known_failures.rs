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

/// One entry: a trial (`case`, its exact name) or several (`glob`) known to fail.
#[derive(Debug, Clone)]
pub struct KnownFailure {
    /// The trial (or glob) the entry names, with its prefix (`case::area/name`).
    pub case: String,
    matcher: Option<Glob>,
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

/// One entry as written: `case` names one trial exactly (`[0]` is literal), `glob` several.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    pub reason: String,
    pub ticket: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Vec<CheckName>>,
}

impl RawEntry {
    /// The trial the entry names exactly, with its prefix; `None` for a glob entry.
    pub(super) fn exact(&self) -> Option<String> {
        self.case.as_deref().map(entry_name)
    }

    /// Whether it covers the trial `name`: its exact name, or a match of its glob.
    pub(super) fn covers(&self, name: &str) -> bool {
        match (&self.case, &self.glob) {
            (Some(case), _) => entry_name(case) == name,
            (None, Some(glob)) => Glob::new(glob).is_ok_and(|g| g.is_match(name)),
            (None, None) => false,
        }
    }

    /// The entry's name or glob, as written, for messages.
    pub(super) fn shown(&self) -> &str {
        self.case.as_deref().or(self.glob.as_deref()).unwrap_or("")
    }
}

/// The trial an entry names: as written when it has a prefix (`derived::…`), else a case
/// file's (`area/name` is `case::area/name`).
pub(super) fn entry_name(case: &str) -> String {
    let case = case.trim();
    if case.contains("::") {
        case.to_string()
    } else {
        format!("{TRIAL_PREFIX}{case}")
    }
}

/// A `glob` entry's pattern over trial names. Its part before `::` is matched against the
/// trial's prefix (`case`, `derived`; `*` for both; left out: `case`), the rest against the
/// name after it, by `/`-separated parts: `*` and `?` within one part, `**` across any number
/// of them (`**` alone: every name), `[…]` one character of a class, `{a,b}` either, `\`
/// before a special character makes it literal (`images\[0\].url`, or `images[[]0].url`).
#[derive(Debug, Clone)]
pub(super) struct Glob {
    prefix: globset::GlobMatcher,
    rest: globset::GlobMatcher,
    /// Whether its first part (the area) is a pattern: it spans areas.
    pub spans_areas: bool,
}

impl Glob {
    pub(super) fn new(text: &str) -> Result<Glob, globset::Error> {
        let text = text.trim();
        let (prefix, rest) = text.split_once("::").unwrap_or(("case", text));
        let build = |g: &str| {
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map(|g| g.compile_matcher())
        };
        let area = rest.split('/').next().unwrap_or("");
        Ok(Glob {
            prefix: build(prefix)?,
            rest: build(rest)?,
            spans_areas: area.contains(['*', '?', '[', '{']),
        })
    }

    /// Whether it matches the trial `name` (`derived::images/generations/drop/prompt`).
    pub(super) fn is_match(&self, name: &str) -> bool {
        let (prefix, rest) = name.split_once("::").unwrap_or(("", name));
        self.prefix.is_match(prefix) && self.rest.is_match(rest)
    }
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
        // Editors on Windows save a BOM; it is no part of the JSON.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim_start().starts_with('[') {
            return Err(FileProblems(vec![FileProblem {
                path: path.to_path_buf(),
                at: LineCol { line: 1, column: 1 },
                field: String::new(),
                message: "the file is a JSON array; a known-failures file is an object".into(),
                help: "wrap the entries: {\"known_failures\": [ … ]} (see schemas/known-failures.schema.json)".into(),
            }]));
        }
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
                help: "a known-failures file is {\"known_failures\": [{\"case\" or \"glob\", \"reason\", \"ticket\", \"expires\"?, \"checks\"?}]}; see schemas/known-failures.schema.json".into(),
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
            let mut matcher = None;
            let case = match (&raw.case, &raw.glob) {
                (Some(_), Some(_)) | (None, None) => {
                    problem(
                        "case",
                        "an entry names its trials with `case` or with `glob`, exactly one of them"
                            .into(),
                        "`case` is one trial's exact name as `--list` shows it (`case::images/a`, `derived::images/generations/drop/images[0].url`); `glob` a pattern (`derived::images/**`)",
                    );
                    String::new()
                }
                (Some(case), None) => {
                    let case = entry_name(case);
                    if case.split_once("::").is_none_or(|(_, n)| n.is_empty()) {
                        problem(
                            "case",
                            "empty".into(),
                            "name a trial as `--list` shows it (`case::images/a`)",
                        );
                    } else if case.contains('*') {
                        problem(
                            "case",
                            format!(
                                "{case:?} is matched as an exact name, and no trial name has a `*`"
                            ),
                            "to name several trials, write the pattern as `glob` instead of `case` (`\"glob\": \"videos/*\"`)",
                        );
                    }
                    case
                }
                (None, Some(glob)) => {
                    match Glob::new(glob) {
                        Ok(g) => {
                            if g.spans_areas && raw.checks.is_none() {
                                problem(
                                    "checks",
                                    format!(
                                        "the glob {glob} spans areas and lists no checks: it would expect any failure of every case it covers, so no new failure there could ever be caught"
                                    ),
                                    "list the checks its cases fail in (`checks`), or name the area (`videos/*`)",
                                );
                            }
                            matcher = Some(g);
                        }
                        Err(e) => problem(
                            "glob",
                            format!("not a valid glob: {e}"),
                            "`*` matches within one part of a name, `**` across parts, `[…]` a class: e.g. `videos/*`, `derived::images/**`",
                        ),
                    }
                    glob.trim().to_string()
                }
            };
            if !case.is_empty() && !seen.insert(case.clone()) {
                problem(
                    if raw.glob.is_some() { "glob" } else { "case" },
                    format!("{case} is listed twice"),
                    "keep one entry per case; list every failing check in its `checks`",
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
    { "glob": "videos/*", "reason": "r", "ticket": "https://t.example/2", "expires": "2027-01-31" }
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
                r#"{{"known_failures": [{{"glob": "{glob}", "reason": "r", "ticket": "https://t/1"}}]}}"#
            );
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains("spans areas and lists no checks"),
                "{glob}: {err}"
            );
            let with_checks = text.replace("\"ticket\"", "\"checks\": [\"param\"], \"ticket\"");
            assert!(parse(&with_checks).is_ok(), "{glob} with checks");
        }
        for area in ["videos/*", "derived::images/**", "images/**"] {
            let text = format!(
                r#"{{"known_failures": [{{"glob": "{area}", "reason": "r", "ticket": "https://t/1"}}]}}"#
            );
            assert!(parse(&text).is_ok(), "{area} is one area");
        }
    }

    #[test]
    fn a_case_is_an_exact_name_and_a_glob_says_so() {
        let names = [
            "case::images/a",
            "case::videos/x",
            "derived::images/generations/drop/images[0].url",
            "derived::images/generations/drop/images0.url",
            "derived::images/generations/drop/prompt",
            "derived::videos/generations/auth/none",
        ];
        let matching = |entry: &str| -> Vec<&str> {
            let k = parse(&format!(
                r#"{{"known_failures": [{{{entry}, "checks": ["param"], "reason": "r", "ticket": "https://t/1"}}]}}"#
            ))
            .unwrap_or_else(|e| panic!("{entry}: {e}"));
            names
                .iter()
                .copied()
                .filter(|n| k.entries[0].covers(n))
                .collect()
        };
        assert_eq!(
            matching(r#""case": "derived::images/generations/drop/images[0].url""#),
            ["derived::images/generations/drop/images[0].url"],
            "`[0]` is literal in a case"
        );
        assert_eq!(matching(r#""case": "images/a""#), ["case::images/a"]);
        assert_eq!(
            matching(r#""glob": "**""#),
            ["case::images/a", "case::videos/x"]
        );
        assert_eq!(matching(r#""glob": "*::**""#), names);
        assert_eq!(matching(r#""glob": "derived::**""#).len(), 4);
        assert_eq!(matching(r#""glob": "derived::images/**""#).len(), 3);
        assert_eq!(
            matching(r#""glob": "derived::images/*""#).len(),
            0,
            "`*` stays in one part"
        );
        assert_eq!(
            matching(r#""glob": "derived::images/generations/*/*""#).len(),
            3
        );
        assert_eq!(
            matching(r#""glob": "derived::images/generations/drop/images[0].url""#),
            ["derived::images/generations/drop/images0.url"],
            "`[0]` is a class in a glob"
        );
        assert_eq!(
            matching(r#""glob": "derived::images/generations/drop/images\\[0\\].url""#),
            ["derived::images/generations/drop/images[0].url"],
            "`\\[` is literal"
        );
        let err = parse(
            r#"{"known_failures": [{"case": "videos/*", "reason": "r", "ticket": "https://t/1"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("write the pattern as `glob`"), "{err}");
        let err = parse(r#"{"known_failures": [{"case": "a/b", "glob": "a/*", "reason": "r", "ticket": "https://t/1"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exactly one of them"), "{err}");
    }

    #[test]
    fn a_bom_is_read_past_and_an_array_is_named() {
        let bom = format!("\u{feff}{GOOD}");
        assert!(parse(&bom).is_ok());
        let err = parse(r#"[{"case": "a/b", "reason": "r", "ticket": "https://t/1"}]"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the file is a JSON array"), "{err}");
    }

    #[test]
    fn a_case_listed_twice_is_refused() {
        let err = parse(r#"{"known_failures": [{"case": "a/b", "reason": "r", "ticket": "https://t/1"}, {"case": "case::a/b", "reason": "r", "ticket": "https://t/1"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("case::a/b is listed twice"), "{err}");
    }
}
