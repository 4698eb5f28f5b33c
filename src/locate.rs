//! Source locations in case files: JSON Pointer → byte range → line and column.
//!
//! serde_json keeps no spans, so the text is parsed a second time with jsonc-parser (strict
//! JSON options) into an AST whose nodes carry byte ranges.

use std::collections::HashMap;

use jsonc_parser::ast::{ObjectPropName, Value as Ast};
use jsonc_parser::{CollectOptions, ParseOptions};

/// The deepest nesting a case file may have; deeper input is refused before any recursive parse.
pub const MAX_DEPTH: usize = 64;

/// A byte range in a source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl std::fmt::Display for LineCol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Spans of every value (and of every property key) in one JSON text, by JSON Pointer.
#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    values: HashMap<String, Span>,
    keys: HashMap<String, Span>,
}

/// Problems found while indexing: duplicate keys are errors in case files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// Pointer of the duplicated member.
    pub pointer: String,
    /// Where the second occurrence's key is.
    pub span: Span,
}

impl SpanIndex {
    /// Index `text`. `Err` carries the parse error's byte offset and message; callers use
    /// serde_json's own error for syntax problems, so this only fails where serde_json does.
    pub fn build(text: &str) -> Result<(Self, Vec<Duplicate>), (usize, String)> {
        let options = ParseOptions {
            allow_comments: false,
            allow_loose_object_property_names: false,
            allow_trailing_commas: false,
            allow_missing_commas: false,
            allow_single_quoted_strings: false,
            allow_hexadecimal_numbers: false,
            allow_unary_plus_numbers: false,
            allow_bare_decimal_point_numbers: false,
            allow_non_finite_numbers: false,
            allow_extended_string_escapes: false,
        };
        let parsed = jsonc_parser::parse_to_ast(text, &CollectOptions::default(), &options)
            .map_err(|e| (e.range().start, e.kind().to_string()))?;
        let mut index = SpanIndex::default();
        let mut dups = Vec::new();
        if let Some(value) = &parsed.value {
            index.walk(value, String::new(), &mut dups);
        }
        Ok((index, dups))
    }

    fn walk(&mut self, value: &Ast<'_>, pointer: String, dups: &mut Vec<Duplicate>) {
        let range = value_range(value);
        self.values.insert(
            pointer.clone(),
            Span {
                start: range.0,
                end: range.1,
            },
        );
        match value {
            Ast::Object(obj) => {
                let mut seen = std::collections::HashSet::new();
                for prop in &obj.properties {
                    let name = match &prop.name {
                        ObjectPropName::String(s) => s.value.to_string(),
                        ObjectPropName::Word(w) => w.value.to_string(),
                    };
                    let child = format!("{pointer}/{}", escape(&name));
                    let key_range = match &prop.name {
                        ObjectPropName::String(s) => s.range,
                        ObjectPropName::Word(w) => w.range,
                    };
                    let key_span = Span {
                        start: key_range.start,
                        end: key_range.end,
                    };
                    if !seen.insert(name) {
                        dups.push(Duplicate {
                            pointer: child.clone(),
                            span: key_span,
                        });
                        continue;
                    }
                    self.keys.insert(child.clone(), key_span);
                    self.walk(&prop.value, child, dups);
                }
            }
            Ast::Array(arr) => {
                for (i, el) in arr.elements.iter().enumerate() {
                    self.walk(el, format!("{pointer}/{i}"), dups);
                }
            }
            _ => {}
        }
    }

    /// The span of the value at `pointer`, or of its nearest existing ancestor.
    pub fn value(&self, pointer: &str) -> Span {
        let mut p = pointer.to_string();
        loop {
            if let Some(s) = self.values.get(&p) {
                return *s;
            }
            match p.rfind('/') {
                Some(i) => p.truncate(i),
                None => return Span { start: 0, end: 0 },
            }
        }
    }

    /// The span of the key of the member at `pointer` (the value's span if it has no key).
    pub fn key(&self, pointer: &str) -> Span {
        self.keys
            .get(pointer)
            .copied()
            .unwrap_or_else(|| self.value(pointer))
    }
}

fn value_range(value: &Ast<'_>) -> (usize, usize) {
    let r = match value {
        Ast::StringLit(v) => v.range,
        Ast::NumberLit(v) => v.range,
        Ast::BooleanLit(v) => v.range,
        Ast::Object(v) => v.range,
        Ast::Array(v) => v.range,
        Ast::NullKeyword(v) => v.range,
    };
    (r.start, r.end)
}

/// Escape one JSON Pointer reference token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The 1-based line and column of a byte offset (columns count characters).
pub fn line_col(text: &str, offset: usize) -> LineCol {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    LineCol { line, column }
}

/// The byte offset of a 1-based line and column, as serde_json reports them.
pub fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col_bytes: usize = l
                .chars()
                .take(column.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return (offset + col_bytes).min(text.len());
        }
        offset += l.len();
    }
    text.len()
}

/// How deeply the JSON text nests, counting `[` and `{` outside strings; stops counting past
/// `limit` so hostile input costs no more than one linear scan.
pub fn nesting_depth(text: &[u8], limit: usize) -> (usize, usize) {
    let (mut depth, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for (i, &b) in text.iter().enumerate() {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > limit {
                        return (max, i);
                    }
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (max, text.len())
}

/// The first duplicate key of any object in a JSON text already known to be valid. One linear
/// scan and no tree, so it is cheap enough to run on every error body.
pub fn first_duplicate_key(text: &[u8]) -> Option<String> {
    // One entry per open container: `Some(keys so far)` for an object, `None` for an array.
    let mut stack: Vec<Option<Vec<&[u8]>>> = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < text.len() && text[j] != b'"' {
                    j += if text[j] == b'\\' { 2 } else { 1 };
                }
                let s = &text[start..j.min(text.len())];
                let mut k = j + 1;
                while k < text.len() && text[k].is_ascii_whitespace() {
                    k += 1;
                }
                if k < text.len()
                    && text[k] == b':'
                    && let Some(Some(keys)) = stack.last_mut()
                {
                    if keys.contains(&s) {
                        return Some(String::from_utf8_lossy(s).into_owned());
                    }
                    keys.push(s);
                }
                i = j + 1;
            }
            b'{' => {
                stack.push(Some(Vec::new()));
                i += 1;
            }
            b'[' => {
                stack.push(None);
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

/// serde_json's messages end with " at line L column C"; the position is rendered separately.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// A text and the spans of its values, for pointing at a JSON Pointer by line and column.
/// Built only when something must be pointed at (a broken case, a failure), never on the
/// happy path.
#[derive(Debug)]
pub struct SourceMap {
    text: std::sync::Arc<str>,
    spans: SpanIndex,
}

impl SourceMap {
    /// Index `text`; text that is not JSON gets an empty index (everything at 1:1).
    pub fn new(text: std::sync::Arc<str>) -> Self {
        let spans = SpanIndex::build(&text).map(|(s, _)| s).unwrap_or_default();
        SourceMap { text, spans }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The span of the value at `pointer` (or its nearest existing ancestor).
    pub fn span(&self, pointer: &str) -> Span {
        self.spans.value(pointer)
    }

    /// Line and column of the value at `pointer`.
    pub fn value_at(&self, pointer: &str) -> LineCol {
        line_col(&self.text, self.spans.value(pointer).start)
    }
}

/// A case file as reports name it: below the cases directory's parent (`cases/images/x.json`),
/// whatever directory the run was started in, so a single run's reports and a merge of
/// fragments from other processes or machines name it alike; else as [`display_path`] does.
pub fn path_in_suite(cases_dir: &std::path::Path, path: &std::path::Path) -> String {
    let root = cases_dir.parent().unwrap_or(cases_dir);
    match path.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        _ => display_path(path),
    }
}

/// A path as the user would type it: relative to the working directory when below it.
pub fn display_path(path: &std::path::Path) -> String {
    // Asked once per process: every case of a run asks.
    static CWD: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let cwd = CWD.get_or_init(|| std::env::current_dir().ok());
    let rel = cwd
        .as_ref()
        .and_then(|c| path.strip_prefix(c).ok())
        .unwrap_or(path);
    rel.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_map_to_lines_and_columns() {
        let text = "{\n  \"expect\": { \"status\": 400 }\n}\n";
        let (idx, dups) = SpanIndex::build(text).unwrap();
        assert!(dups.is_empty());
        let s = idx.value("/expect/status");
        assert_eq!(&text[s.start..s.end], "400");
        assert_eq!(
            line_col(text, s.start),
            LineCol {
                line: 2,
                column: 25
            }
        );
        assert_eq!(offset_of(text, 2, 25), s.start);
    }

    #[test]
    fn duplicate_keys_are_found() {
        let (_, dups) = SpanIndex::build("{\"a\": 1, \"a\": 2}").unwrap();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].pointer, "/a");
    }

    #[test]
    fn duplicate_keys_are_found_by_the_scanner() {
        assert_eq!(
            first_duplicate_key(br#"{"error":{"code":"a","code":"b"}}"#).as_deref(),
            Some("code")
        );
        assert_eq!(
            first_duplicate_key(br#"{"a":{"x":1},"b":{"x":1},"s":"\"a\":"}"#),
            None
        );
        assert_eq!(first_duplicate_key(br#"[{"a":1},{"a":1}]"#), None);
    }

    #[test]
    fn depth_scan_ignores_brackets_in_strings() {
        assert_eq!(nesting_depth(br#"{"a": "[[[[", "b": [1]}"#, 10).0, 2);
        assert!(nesting_depth(&[b'['; 1000], 64).0 > 64);
    }
}
