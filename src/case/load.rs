//! Loading one case file in stages, each of which points at the place it rejects: size,
//! UTF-8, nesting depth, JSON syntax, duplicate keys, `case.schema.json` (unknown keys, wrong
//! types), then the case rules (`lint`). Spans are computed only when there is something to
//! point at, so a clean file costs one JSON parse and one schema check.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use crate::contract::Contract;
use crate::locate::{self, LineCol, SourceMap, SpanIndex};

use super::error::{CaseError, CaseErrors};
use super::model::{Case, CaseSpec, MAX_CASE_BYTES, Step};
use super::name::case_name;
use super::rules::{self, Problem};
use super::schema::{Violation, explain_schema_error, json_kind};

const START: LineCol = LineCol { line: 1, column: 1 };

/// Load and lint one case file; the case keeps no copy of the text.
pub fn load(root: &Path, path: &Path, contract: &Contract) -> Result<Case, CaseErrors> {
    let name = case_name(root, path);
    let cannot_read =
        |e: std::io::Error| one(path, START, "", format!("cannot read the file: {e}"), None);
    // Looked at before opening: opening a FIFO waits for a writer, and a huge file is refused
    // unread.
    let meta = std::fs::metadata(path).map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(one(
            path,
            START,
            "",
            "not a regular file".into(),
            Some("a case is a regular file".into()),
        ));
    }
    if meta.len() > MAX_CASE_BYTES as u64 {
        return Err(too_large(path, meta.len()));
    }
    let mut file = std::fs::File::open(path).map_err(cannot_read)?;
    let size = file.metadata().map_err(cannot_read)?.len();
    if size > MAX_CASE_BYTES as u64 {
        return Err(too_large(path, size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    // Read one byte past the cap so a file that grew since its metadata is still refused.
    (&mut file)
        .take(MAX_CASE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    parse_inner(name, path, &bytes, contract, None)
}

/// Parse and lint case text named `name` as if it were the file `path`; the case keeps the text.
pub fn parse(
    name: String,
    path: &Path,
    bytes: &[u8],
    contract: &Contract,
) -> Result<Case, CaseErrors> {
    let text = std::str::from_utf8(bytes).ok().map(Arc::from);
    parse_inner(name, path, bytes, contract, text)
}

fn too_large(path: &Path, size: u64) -> CaseErrors {
    one(
        path,
        START,
        "",
        format!("the file is {size} bytes; a case file may be at most {MAX_CASE_BYTES}"),
        Some("split it, or use `body_size` to send a large body".into()),
    )
}

fn parse_inner(
    name: String,
    path: &Path,
    bytes: &[u8],
    contract: &Contract,
    keep: Option<Arc<str>>,
) -> Result<Case, CaseErrors> {
    if bytes.len() > MAX_CASE_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // The prefix is valid UTF-8 by construction.
            let at = locate::line_col(std::str::from_utf8(valid).unwrap_or(""), valid.len());
            return Err(one(
                path,
                at,
                "",
                "the file is not valid UTF-8".into(),
                Some("save it as UTF-8".into()),
            ));
        }
    };
    if text.starts_with('\u{feff}') {
        return Err(one(
            path,
            START,
            "",
            "the file starts with a byte order mark (BOM), which JSON does not allow".into(),
            Some("save it as UTF-8 without a BOM".into()),
        ));
    }
    if text.trim().is_empty() {
        return Err(one(
            path,
            START,
            "",
            "the file is empty".into(),
            Some(
                "a case is a JSON object with description, tags, request and expect; see README.md"
                    .into(),
            ),
        ));
    }
    let (depth, at) = locate::nesting_depth(text.as_bytes(), locate::MAX_DEPTH);
    if depth > locate::MAX_DEPTH {
        return Err(one(
            path,
            locate::line_col(text, at),
            "",
            format!("JSON nested deeper than {} levels", locate::MAX_DEPTH),
            None,
        ));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        one(
            path,
            LineCol {
                line: e.line().max(1),
                column: e.column().max(1),
            },
            "",
            format!("not valid JSON: {}", locate::strip_position(&e.to_string())),
            None,
        )
    })?;
    let mut errors: Vec<CaseError> = Vec::new();
    let mut spans: Option<SpanIndex> = None;
    if locate::first_duplicate_key(text.as_bytes()).is_some() {
        let (index, dups) = SpanIndex::build(text).map_err(|(off, msg)| {
            one(
                path,
                locate::line_col(text, off),
                "",
                format!("not valid JSON: {msg}"),
                None,
            )
        })?;
        errors.extend(dups.iter().map(|d| CaseError {
            path: path.to_path_buf(),
            at: locate::line_col(text, d.span.start),
            pointer: d.pointer.clone(),
            message: "duplicate key".into(),
            help: Some("a key may appear once; JSON readers disagree on which copy wins".into()),
        }));
        spans = Some(index);
    }
    if !value.is_object() {
        errors.push(CaseError {
            path: path.to_path_buf(),
            at: START,
            pointer: String::new(),
            message: format!("a case is a JSON object, not {}", json_kind(&value)),
            help: Some("see README.md, \"The case format\"".into()),
        });
        return Err(CaseErrors(errors));
    }
    if !contract.case.is_valid(&value) {
        let spans = spans.get_or_insert_with(|| index(text));
        let mut explained: Vec<_> = contract
            .case
            .iter_errors(&value)
            .map(|err| explain_schema_error(&value, &err.instance_path().to_string(), &err))
            .collect();
        // A misspelt top-level key also breaks the request/expect/steps rule; the typo is the news.
        if explained
            .iter()
            .any(|e| e.kind == Violation::UnknownKey && e.pointer.matches('/').count() == 1)
        {
            explained.retain(|e| e.kind != Violation::CaseShape);
        }
        errors.extend(explained.into_iter().map(|e| {
            let span = match e.kind {
                Violation::UnknownKey => spans.key(&e.pointer),
                _ => spans.value(&e.pointer),
            };
            CaseError {
                path: path.to_path_buf(),
                at: locate::line_col(text, span.start),
                pointer: e.pointer,
                message: e.message,
                help: e.help,
            }
        }));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.at.line, e.at.column));
        errors.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
        return Err(CaseErrors(errors));
    }
    let spec: CaseSpec = serde_json::from_value(value).map_err(|e| {
        one(
            path,
            START,
            "",
            format!("does not fit the case format: {e}"),
            None,
        )
    })?;
    let case = into_case(name, path, spec, keep);
    let problems = rules::rules(&case, contract);
    if problems.is_empty() {
        return Ok(case);
    }
    let map = SourceMap::new(Arc::from(text));
    let mut errors: Vec<CaseError> = problems
        .into_iter()
        .map(|p: Problem| p.located(path, &map))
        .collect();
    errors.sort_by_key(|e| (e.at.line, e.at.column));
    Err(CaseErrors(errors))
}

fn index(text: &str) -> SpanIndex {
    SpanIndex::build(text).map(|(s, _)| s).unwrap_or_default()
}

/// The file as written into the loaded case: its steps moved out, never copied.
fn into_case(name: String, path: &Path, spec: CaseSpec, text: Option<Arc<str>>) -> Case {
    let steps: Vec<(String, Step)> = match (spec.steps, spec.request, spec.expect) {
        (Some(steps), _, _) => steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| (format!("/steps/{i}"), s))
            .collect(),
        (None, Some(request), Some(expect)) => vec![(
            String::new(),
            Step {
                name: None,
                request,
                expect,
                capture: BTreeMap::new(),
                poll: None,
            },
        )],
        // The schema's oneOf rules these out.
        _ => Vec::new(),
    };
    Case {
        name,
        path: path.to_path_buf(),
        text,
        description: spec.description,
        tags: spec.tags,
        ignore: spec.ignore,
        requires: spec.requires,
        billable_if_accepted: spec.billable_if_accepted,
        steps,
        derived: None,
    }
}

fn one(
    path: &Path,
    at: LineCol,
    pointer: &str,
    message: String,
    help: Option<String>,
) -> CaseErrors {
    CaseErrors(vec![CaseError {
        path: path.to_path_buf(),
        at,
        pointer: pointer.to_string(),
        message,
        help,
    }])
}
