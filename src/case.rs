//! Case files: the model, loading with `file:line:column` errors, and the lint against the
//! table (`errcontract lint`).
//!
//! A case is loaded in stages, each of which points at the place in the file it rejects:
//! size and UTF-8, nesting depth, JSON syntax, duplicate keys, `case.schema.json` (unknown keys,
//! wrong types), then the semantic lint against the code table (a case expecting `rate_limit`
//! with status 400 is a case error, never a test failure).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::contract::{Contract, RetryAfterRule};
use crate::locate::{self, LineCol, Span, SpanIndex};

/// The largest case file accepted.
pub const MAX_CASE_BYTES: usize = 1024 * 1024;

/// The name prefix of every trial.
pub const TRIAL_PREFIX: &str = "case::";

/// An auth role: which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `ERRCONTRACT_API_KEY`: a key with a balance.
    Valid,
    /// No Authorization header at all.
    None,
    /// A bearer token that is not an `sk_` key.
    Malformed,
    /// `ERRCONTRACT_REVOKED_API_KEY`.
    Revoked,
    /// `ERRCONTRACT_ZERO_BALANCE_API_KEY`.
    ZeroBalance,
    /// `ERRCONTRACT_THROTTLED_API_KEY`.
    Throttled,
}

impl Role {
    /// The role's name in case files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Valid => "valid",
            Role::None => "none",
            Role::Malformed => "malformed",
            Role::Revoked => "revoked",
            Role::ZeroBalance => "zero_balance",
            Role::Throttled => "throttled",
        }
    }

    /// The environment variable that holds this role's key, for roles that need one.
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Role::Valid => Some("ERRCONTRACT_API_KEY"),
            Role::Revoked => Some("ERRCONTRACT_REVOKED_API_KEY"),
            Role::ZeroBalance => Some("ERRCONTRACT_ZERO_BALANCE_API_KEY"),
            Role::Throttled => Some("ERRCONTRACT_THROTTLED_API_KEY"),
            Role::None | Role::Malformed => None,
        }
    }

    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Valid,
        Role::None,
        Role::Malformed,
        Role::Revoked,
        Role::ZeroBalance,
        Role::Throttled,
    ];
}

/// A target feature a case may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The target answers 500 `server_error` on `X-Errcontract-Fault: server_error`.
    FaultInjection,
    /// The target refuses prompts containing `errcontract-trigger:content-policy`.
    ContentPolicyTrigger,
    /// The target fails videos whose prompt contains `errcontract-trigger:video-failure`.
    VideoFailureTrigger,
}

impl Feature {
    /// The feature's name in case files and `ERRCONTRACT_FEATURES`.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::FaultInjection => "fault_injection",
            Feature::ContentPolicyTrigger => "content_policy_trigger",
            Feature::VideoFailureTrigger => "video_failure_trigger",
        }
    }

    /// Every feature.
    pub const ALL: [Feature; 3] = [
        Feature::FaultInjection,
        Feature::ContentPolicyTrigger,
        Feature::VideoFailureTrigger,
    ];

    /// Parse a feature name.
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// An item of `requires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(untagged)]
pub enum Requirement {
    /// A key role.
    Role(Role),
    /// A target feature.
    Feature(Feature),
}

/// Which credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Auth {
    /// A role.
    Role(Role),
    /// An explicit Authorization header value (not a secret: it is in the case file).
    Explicit {
        /// The header value, sent as is.
        authorization: String,
    },
}

impl Default for Auth {
    fn default() -> Self {
        Auth::Role(Role::Valid)
    }
}

/// An HTTP method a case may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Method {
    /// GET
    GET,
    /// POST
    POST,
    /// PUT
    PUT,
    /// PATCH
    PATCH,
    /// DELETE
    DELETE,
    /// HEAD
    HEAD,
    /// OPTIONS
    OPTIONS,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
        }
    }
}

/// What to send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The method.
    pub method: Method,
    /// The path below the base URL, with `{placeholders}`.
    pub path: String,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Credentials.
    #[serde(default)]
    pub auth: Auth,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<Value>,
    /// A raw body.
    #[serde(default)]
    pub body: Option<String>,
    /// A generated JSON body of exactly this many bytes.
    #[serde(default)]
    pub body_size: Option<usize>,
}

/// An expectation on one header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    /// Must be present (true) or absent (false).
    #[serde(default)]
    pub present: Option<bool>,
    /// Must match this regex.
    #[serde(default)]
    pub matches: Option<String>,
}

/// The terminal poll object is a failed generation with this error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureExpect {
    /// The error code.
    pub code: String,
    /// A substring of the message.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// A regex the message matches.
    #[serde(default)]
    pub message_matches: Option<String>,
}

/// What the answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The HTTP status.
    pub status: u16,
    /// The error code.
    #[serde(default)]
    pub code: Option<String>,
    /// The error's param: `Some(None)` is an explicit null.
    #[serde(default, deserialize_with = "explicit_null")]
    pub param: Option<Option<String>>,
    /// Whether the error is retryable (must agree with the table).
    #[serde(default)]
    pub retryable: Option<bool>,
    /// A substring of `error.message`.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// A regex `error.message` matches.
    #[serde(default)]
    pub message_matches: Option<String>,
    /// Header expectations, by header name.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpect>,
    /// A subset the JSON body must contain.
    #[serde(default)]
    pub body: Option<serde_json::Map<String, Value>>,
    /// The terminal object is a failed generation.
    #[serde(default)]
    pub failure: Option<FailureExpect>,
}

fn explicit_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Polling: repeat the step's request until a terminal status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// JSON Pointer to the status field.
    #[serde(default = "default_poll_field")]
    pub field: String,
    /// Terminal values of the status field.
    pub terminal: Vec<String>,
    /// Wait between polls.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// Give up after this long.
    #[serde(default = "default_poll_timeout")]
    pub timeout_ms: u64,
}

fn default_poll_field() -> String {
    "/status".into()
}
fn default_interval() -> u64 {
    500
}
fn default_poll_timeout() -> u64 {
    60_000
}

/// One step of a flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A name for output.
    #[serde(default)]
    pub name: Option<String>,
    /// What to send.
    pub request: RequestSpec,
    /// What must come back (for a polled step: the terminal response).
    pub expect: Expect,
    /// Values to capture: name → JSON Pointer into the response body.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Poll until terminal.
    #[serde(default)]
    pub poll: Option<Poll>,
}

/// A case file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// The editor's schema link.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// What the case proves.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// A link.
    #[serde(default)]
    pub see: Option<String>,
    /// A static ignore reason.
    #[serde(default)]
    pub ignore: Option<String>,
    /// Preconditions.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// Whether a wrong acceptance would bill.
    #[serde(default)]
    pub billable_if_accepted: bool,
    /// A one-step case's request.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// A one-step case's expectation.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// A flow's steps.
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
}

/// A loaded, linted case.
#[derive(Debug, Clone)]
pub struct Case {
    /// `area/name`: the path below the cases directory without `.json`.
    pub name: String,
    /// The file, as given (relative to the working directory when possible).
    pub path: PathBuf,
    /// The file's text, for pointing at lines.
    pub source: Arc<str>,
    /// Spans of the file's values.
    pub spans: Arc<SpanIndex>,
    /// What the file says.
    pub spec: CaseSpec,
    /// The steps (one for a simple case), each with the JSON Pointer of its base in the file.
    pub steps: Vec<(String, Step)>,
}

impl Case {
    /// The trial name: `case::<area>/<name>`.
    pub fn trial_name(&self) -> String {
        format!("{TRIAL_PREFIX}{}", self.name)
    }

    /// Where a JSON Pointer of this file is, as line and column.
    pub fn locate(&self, pointer: &str) -> LineCol {
        locate::line_col(&self.source, self.spans.value(pointer).start)
    }

    /// Everything the target must offer: `requires` plus the roles of every step's auth.
    pub fn requirements(&self) -> BTreeSet<Requirement> {
        let mut all: BTreeSet<Requirement> = self.spec.requires.iter().copied().collect();
        for (_, step) in &self.steps {
            if let Auth::Role(role) = step.request.auth {
                all.insert(Requirement::Role(role));
            }
        }
        all
    }

    /// The error codes this case expects, in step order.
    pub fn expected_codes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for (_, step) in &self.steps {
            if let Some(c) = &step.expect.code {
                out.push(c.as_str());
            }
            if let Some(f) = &step.expect.failure {
                out.push(f.code.as_str());
            }
        }
        out
    }
}

/// One problem in one case file, with where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The file.
    pub path: PathBuf,
    /// Where in it.
    pub at: LineCol,
    /// The JSON Pointer of the value at fault (empty for the whole file).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.at)?;
        if !self.pointer.is_empty() {
            write!(f, "{}: ", field_name(&self.pointer))?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CaseError {}

/// Every problem of one case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseErrors(pub Vec<CaseError>);

impl std::fmt::Display for CaseErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "invalid case file ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CaseErrors {}

/// A JSON Pointer as a dotted field name: `/expect/headers/Retry-After` → `expect.headers.Retry-After`.
pub fn field_name(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// serde_json's messages end with " at line L column C"; the position is rendered separately.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The trial name of a case file below `root`: `area/name`.
pub fn case_name(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    let s: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    s.join("/").trim_end_matches(".json").to_string()
}

/// Every `*.json` file below `root`, sorted by case name. Unreadable directories are errors.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort_by_key(|p| case_name(root, p));
    Ok(out)
}

/// The file of the trial `name` (`case::area/x` or `area/x`) below `root`, for the `--exact` fast path.
pub fn file_of(root: &Path, name: &str) -> PathBuf {
    let rel = name.strip_prefix(TRIAL_PREFIX).unwrap_or(name);
    root.join(format!("{rel}.json"))
}

/// Load and lint one case file.
pub fn load(root: &Path, path: &Path, contract: &Contract) -> Result<Case, CaseErrors> {
    let name = case_name(root, path);
    let bytes = std::fs::read(path).map_err(|e| {
        one(
            path,
            LineCol { line: 1, column: 1 },
            "",
            format!("cannot read the file: {e}"),
            None,
        )
    })?;
    parse(name, path, &bytes, contract)
}

/// Parse and lint case text (the file's bytes) named `name`.
pub fn parse(
    name: String,
    path: &Path,
    bytes: &[u8],
    contract: &Contract,
) -> Result<Case, CaseErrors> {
    let start = LineCol { line: 1, column: 1 };
    if bytes.len() > MAX_CASE_BYTES {
        return Err(one(
            path,
            start,
            "",
            format!(
                "the file is {} bytes; a case file may be at most {MAX_CASE_BYTES}",
                bytes.len()
            ),
            Some("split it, or use `body_size` to send a large body".into()),
        ));
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
    if text.trim().is_empty() {
        return Err(one(
            path,
            start,
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
            format!("not valid JSON: {}", strip_position(&e.to_string())),
            None,
        )
    })?;
    let (spans, dups) = SpanIndex::build(text).map_err(|(off, msg)| {
        one(
            path,
            locate::line_col(text, off),
            "",
            format!("not valid JSON: {msg}"),
            None,
        )
    })?;
    let at = |p: &str| locate::line_col(text, spans.value(p).start);
    let mut errors: Vec<CaseError> = dups
        .iter()
        .map(|d| CaseError {
            path: path.to_path_buf(),
            at: locate::line_col(text, d.span.start),
            pointer: d.pointer.clone(),
            message: "duplicate key".into(),
            help: Some("a key may appear once; JSON readers disagree on which copy wins".into()),
        })
        .collect();

    if !value.is_object() {
        errors.push(CaseError {
            path: path.to_path_buf(),
            at: start,
            pointer: String::new(),
            message: format!("a case is a JSON object, not {}", json_kind(&value)),
            help: Some("see README.md, \"The case format\"".into()),
        });
        return Err(CaseErrors(errors));
    }
    for err in contract.case.iter_errors(&value) {
        let pointer = err.instance_path().to_string();
        let (pointer, message, help) = explain_schema_error(&value, &pointer, &err);
        let location = if message.starts_with("unknown key") {
            locate::line_col(text, spans.key(&pointer).start)
        } else {
            at(&pointer)
        };
        errors.push(CaseError {
            path: path.to_path_buf(),
            at: location,
            pointer,
            message,
            help,
        });
    }
    // A misspelt top-level key also breaks the request/expect/steps rule; the typo is the news.
    if errors
        .iter()
        .any(|e| e.message.starts_with("unknown key") && e.pointer.matches('/').count() == 1)
    {
        errors.retain(|e| !(e.pointer.is_empty() && e.message.starts_with("a case has either")));
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| (e.at.line, e.at.column));
        errors.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
        return Err(CaseErrors(errors));
    }
    let spec: CaseSpec = serde_json::from_value(value).map_err(|e| {
        one(
            path,
            start,
            "",
            format!("does not fit the case format: {e}"),
            None,
        )
    })?;
    let steps: Vec<(String, Step)> = match (&spec.steps, &spec.request, &spec.expect) {
        (Some(steps), _, _) => steps
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("/steps/{i}"), s.clone()))
            .collect(),
        (None, Some(request), Some(expect)) => vec![(
            String::new(),
            Step {
                name: None,
                request: request.clone(),
                expect: expect.clone(),
                capture: BTreeMap::new(),
                poll: None,
            },
        )],
        // The schema's oneOf rules these out.
        _ => Vec::new(),
    };
    let case = Case {
        name,
        path: path.to_path_buf(),
        source: Arc::from(text),
        spans: Arc::new(spans),
        spec,
        steps,
    };
    let mut problems = lint(&case, contract);
    problems.sort_by_key(|e| (e.at.line, e.at.column));
    if problems.is_empty() {
        Ok(case)
    } else {
        Err(CaseErrors(problems))
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

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turn a schema violation into words a case author acts on, and the pointer to show.
fn explain_schema_error(
    value: &Value,
    pointer: &str,
    err: &jsonschema::ValidationError<'_>,
) -> (String, String, Option<String>) {
    use jsonschema::error::ValidationErrorKind as K;
    match err.kind() {
        K::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            let allowed = allowed_keys(pointer);
            (
                format!("{pointer}/{}", locate::escape(&key)),
                format!("unknown key {key:?}"),
                Some(match allowed {
                    Some(list) => format!("the keys allowed here are: {list}"),
                    None => "remove it, or check its spelling against schemas/case.schema.json".into(),
                }),
            )
        }
        K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } if pointer.is_empty() => (
            String::new(),
            "a case has either \"request\" and \"expect\", or \"steps\"".into(),
            Some("a one-request case: request + expect; a flow: steps (each with request and expect)".into()),
        ),
        K::Not { .. } if pointer.ends_with("/request") => (
            pointer.to_string(),
            "a request has at most one body: json, body or body_size".into(),
            None,
        ),
        K::AnyOf { .. } | K::Enum { .. } | K::Constant { .. } => {
            let found = value.pointer(pointer).map(|v| v.to_string()).unwrap_or_default();
            let tokens: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
            let parent = if tokens.len() >= 2 { tokens[tokens.len() - 2] } else { "" };
            let last = tokens.last().copied().unwrap_or("");
            let (what, help) = match (parent, last) {
                ("tags", _) => ("unknown tag", "use a tag listed in schemas/case.schema.json#/$defs/tag: an area, a code or a topic"),
                ("requires", _) => ("unknown requirement", "use a role (valid, none, malformed, revoked, zero_balance, throttled) or a feature (fault_injection, content_policy_trigger, video_failure_trigger)"),
                (_, "auth") => ("unknown auth", "use a role (valid, none, malformed, revoked, zero_balance, throttled) or {\"authorization\": \"<header value>\"}"),
                (_, "method") => ("unknown method", "use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
                (_, "code") => ("", "use a code of schemas/codes.json"),
                _ => return (pointer.to_string(), err.to_string(), None),
            };
            let message = if what.is_empty() {
                format!("{found} is not a code of the table")
            } else {
                format!("{what} {found}")
            };
            (pointer.to_string(), message, Some(help.to_string()))
        }
        K::Type { .. } => {
            let actual = value.pointer(pointer).map(json_kind).unwrap_or("nothing");
            (pointer.to_string(), format!("{err}, found {actual}"), None)
        }
        _ => (pointer.to_string(), err.to_string(), None),
    }
}

fn allowed_keys(pointer: &str) -> Option<&'static str> {
    let tokens: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let last = tokens.last().copied().unwrap_or("");
    let prev = if tokens.len() >= 2 {
        tokens[tokens.len() - 2]
    } else {
        ""
    };
    Some(match (prev, last) {
        (_, "") => {
            "$schema, description, tags, see, ignore, requires, billable_if_accepted, request, expect, steps"
        }
        (_, "request") => "method, path, query, headers, auth, json, body, body_size",
        (_, "expect") => {
            "status, code, param, retryable, message_contains, message_matches, headers, body, failure"
        }
        ("steps", _) => "name, request, expect, capture, poll",
        (_, "poll") => "field, terminal, interval_ms, timeout_ms",
        (_, "failure") => "code, message_contains, message_matches",
        _ => return None,
    })
}

/// The semantic rules the schema cannot say: the expectation against the table, regexes that
/// compile, placeholders bound by an earlier capture.
pub fn lint(case: &Case, contract: &Contract) -> Vec<CaseError> {
    let mut errs = Vec::new();
    let mut push = |pointer: String, message: String, help: Option<String>| {
        errs.push(CaseError {
            path: case.path.clone(),
            at: case.locate(&pointer),
            pointer,
            message,
            help,
        });
    };
    let table = &contract.table;
    let mut bound: BTreeSet<String> = BTreeSet::new();
    for (base, step) in &case.steps {
        let e = &step.expect;
        let ep = format!("{base}/expect");
        match &e.code {
            Some(code) => match table.get(code) {
                Some(row) => {
                    if row.status != e.status {
                        push(
                            format!("{ep}/status"),
                            format!(
                                "expects status {} with code {code:?}, but the table gives {code:?} status {}",
                                e.status, row.status
                            ),
                            Some(format!(
                                "set \"status\": {} or pick a code of status {}",
                                row.status, e.status
                            )),
                        );
                    }
                    if let Some(r) = e.retryable
                        && r != row.retryable
                    {
                        push(
                            format!("{ep}/retryable"),
                            format!(
                                "expects retryable {r}, but the table says {code:?} is retryable: {}",
                                row.retryable
                            ),
                            Some(format!("set \"retryable\": {} or remove it", row.retryable)),
                        );
                    }
                    for (name, h) in &e.headers {
                        if name.eq_ignore_ascii_case("retry-after")
                            && h.present == Some(true)
                            && row.retry_after == RetryAfterRule::Forbidden
                        {
                            push(
                                format!("{ep}/headers/{}", locate::escape(name)),
                                format!(
                                    "expects Retry-After on {code:?}, which the table says is not retryable"
                                ),
                                Some("remove this header expectation".into()),
                            );
                        }
                    }
                }
                None => push(
                    format!("{ep}/code"),
                    format!("{code:?} is not a code of the table"),
                    Some(format!(
                        "use one of: {}",
                        table.codes().collect::<Vec<_>>().join(", ")
                    )),
                ),
            },
            None => {
                if e.status >= 400 && e.failure.is_none() {
                    push(
                        format!("{ep}/status"),
                        format!("expects error status {} but names no code", e.status),
                        Some(match table.codes_with_status(e.status).as_slice() {
                            [] => format!("no code of the table has status {}", e.status),
                            codes => {
                                format!("add \"code\" (one of: {}) and \"param\"", codes.join(", "))
                            }
                        }),
                    );
                }
            }
        }
        if e.status < 400 && e.code.is_some() {
            push(
                format!("{ep}/code"),
                format!("a code is expected with success status {}", e.status),
                Some("an error code goes with its error status".into()),
            );
        }
        if let Some(f) = &e.failure {
            if table.get(&f.code).is_none() {
                push(
                    format!("{ep}/failure/code"),
                    format!("{:?} is not a code of the table", f.code),
                    None,
                );
            }
            for (key, re) in [("message_matches", &f.message_matches)] {
                if let Some(re) = re
                    && let Err(err) = regex::Regex::new(re)
                {
                    push(
                        format!("{ep}/failure/{key}"),
                        format!("not a valid regex: {err}"),
                        None,
                    );
                }
            }
        }
        if let Some(re) = &e.message_matches
            && let Err(err) = regex::Regex::new(re)
        {
            push(
                format!("{ep}/message_matches"),
                format!("not a valid regex: {err}"),
                None,
            );
        }
        for (name, h) in &e.headers {
            if let Some(re) = &h.matches
                && let Err(err) = regex::Regex::new(re)
            {
                push(
                    format!("{ep}/headers/{}/matches", locate::escape(name)),
                    format!("not a valid regex: {err}"),
                    None,
                );
            }
        }
        for placeholder in placeholders(&step.request.path) {
            if !bound.contains(&placeholder) {
                push(
                    format!("{base}/request/path"),
                    format!("placeholder {{{placeholder}}} is not captured by an earlier step"),
                    Some(format!(
                        "add \"capture\": {{\"{placeholder}\": \"/id\"}} to an earlier step"
                    )),
                );
            }
        }
        for name in step.capture.keys() {
            bound.insert(name.clone());
        }
        if let Some(poll) = &step.poll
            && poll.interval_ms > poll.timeout_ms
        {
            push(
                format!("{base}/poll/interval_ms"),
                "the poll interval is longer than its timeout".into(),
                None,
            );
        }
    }
    errs
}

/// The `{names}` in a path.
pub fn placeholders(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(after[..close].to_string());
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// The outcome of loading a directory: the good cases and, per bad file, its errors.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Cases that loaded and linted clean, sorted by name.
    pub cases: Vec<Case>,
    /// Files that did not, with their case names, sorted by name.
    pub broken: Vec<(String, PathBuf, CaseErrors)>,
}

/// Load every case below `root`; one bad file never stops the others.
pub fn load_all(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    let mut loaded = Loaded::default();
    for path in discover(root)? {
        match load(root, &path, contract) {
            Ok(c) => loaded.cases.push(c),
            Err(e) => loaded.broken.push((case_name(root, &path), path, e)),
        }
    }
    Ok(loaded)
}

/// Span of a pointer's value in a case, for rendering.
pub fn span_of(case: &Case, pointer: &str) -> Span {
    case.spans.value(pointer)
}
