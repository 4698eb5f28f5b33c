//! The named checks over one response. No I/O: a response and an expectation in, findings out.
//!
//! The envelope checks (`content_type`, `json`, `schema`, `table`, `retryable`, `retry_after`,
//! `doc_url`, `no_leak`) run on every non-2xx response, whatever the case expected. No code or
//! status is named here: they all come from the table.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde_json::Value;

use crate::case::{Expect, FailureExpect};
use crate::contract::{Contract, RetryAfterRule, pointer_or_root};
use crate::locate;
use crate::probe::Incoming;

/// The longest `Retry-After` errcontract accepts as sane, in seconds.
pub const MAX_RETRY_AFTER_S: u64 = 3600;
/// How far `X-RateLimit-Reset` may be from now, in seconds, to be a plausible unix time.
pub const MAX_RESET_SKEW_S: i64 = 86_400;

/// A check's stable name, as shown in output and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckName {
    /// No complete response arrived.
    Transport,
    /// The HTTP status.
    Status,
    /// Error bodies are `application/json`.
    ContentType,
    /// The body parses as JSON (one value, no duplicate keys, no BOM).
    Json,
    /// The body against `error.schema.json`.
    Schema,
    /// The response's status and code agree with the table.
    Table,
    /// `error.code` as expected.
    Code,
    /// `error.param` as expected.
    Param,
    /// `error.message` as expected.
    Message,
    /// Retryability: the case agrees with the table; a non-retryable error has no `Retry-After`.
    Retryable,
    /// `Retry-After` present where required, well-formed and sane.
    RetryAfter,
    /// `X-RateLimit-*` well-formed where present.
    RateLimitHeaders,
    /// `doc_url` an absolute https URI.
    DocUrl,
    /// No stack trace, internal path or host, or key in an error.
    NoLeak,
    /// An async flow reached its terminal state as expected.
    Poll,
    /// Other header expectations of the case.
    Headers,
    /// Success body expectations of the case.
    Body,
    /// A value a later step needs was captured.
    Capture,
}

impl CheckName {
    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Transport => "transport",
            CheckName::Status => "status",
            CheckName::ContentType => "content_type",
            CheckName::Json => "json",
            CheckName::Schema => "schema",
            CheckName::Table => "table",
            CheckName::Code => "code",
            CheckName::Param => "param",
            CheckName::Message => "message",
            CheckName::Retryable => "retryable",
            CheckName::RetryAfter => "retry_after",
            CheckName::RateLimitHeaders => "rate_limit_headers",
            CheckName::DocUrl => "doc_url",
            CheckName::NoLeak => "no_leak",
            CheckName::Poll => "poll",
            CheckName::Headers => "headers",
            CheckName::Body => "body",
            CheckName::Capture => "capture",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failed check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Which check.
    pub check: CheckName,
    /// The JSON Pointer, in the case file, of the expectation that failed (None for contract
    /// rules that hold whatever the case says).
    pub expected_at: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What came.
    pub actual: String,
    /// More lines (schema violations, hints).
    pub detail: Vec<String>,
}

impl Finding {
    pub fn new(check: CheckName, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Finding {
            check,
            expected_at: None,
            expected: expected.into(),
            actual: actual.into(),
            detail: Vec::new(),
        }
    }

    pub fn at(mut self, pointer: String) -> Self {
        self.expected_at = Some(pointer);
        self
    }

    pub fn with_detail(mut self, detail: Vec<String>) -> Self {
        self.detail = detail;
        self
    }
}

/// What the checks found on one response.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    /// Failed checks, in check order.
    pub findings: Vec<Finding>,
    /// Observations that are not failures (extra fields in `error`).
    pub notes: Vec<String>,
    /// The parsed body, when it parsed.
    pub body: Option<Value>,
    /// The error code the response carried, when it had one.
    pub code: Option<String>,
}

impl Verdict {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Everything a check may need besides the response.
pub struct CheckContext<'a> {
    /// The contract.
    pub contract: &'a Contract,
    /// The expectation, and the pointer of its object in the case file.
    pub expect: Option<(&'a Expect, &'a str)>,
    /// Secret values the response must never contain (the request's own key first).
    pub secrets: &'a crate::redact::Secrets,
    /// The request that was sent: its bearer token must never come back, and what it sent
    /// (path, query, body) may be echoed without counting as a leak.
    pub request: Option<&'a crate::request::Request>,
    /// The clock, for Retry-After dates and X-RateLimit-Reset.
    pub now: SystemTime,
}

/// Run every applicable check on one response.
pub fn check_response(ctx: &CheckContext<'_>, resp: &Incoming) -> Verdict {
    let mut v = Verdict::default();
    let is_error = !(200..300).contains(&resp.status);
    if let Some((e, base)) = ctx.expect
        && resp.status != e.status
    {
        let actual = match (resp.status, resp.header("location")) {
            (300..=399, Some(loc)) => format!(
                "{} (a redirect to {loc}; errcontract never follows redirects)",
                resp.status
            ),
            _ => resp.status.to_string(),
        };
        v.findings.push(
            Finding::new(CheckName::Status, e.status.to_string(), actual)
                .at(format!("{base}/status")),
        );
    }
    let body = parse_body(resp, is_error, &mut v);
    if is_error {
        check_envelope(ctx, resp, body.as_ref(), &mut v);
    }
    check_rate_limit_headers(ctx, resp, &mut v);
    if let Some((e, base)) = ctx.expect {
        check_expectations(ctx, e, base, resp, body.as_ref(), &mut v);
    }
    v.body = body;
    v
}

fn parse_body(resp: &Incoming, is_error: bool, v: &mut Verdict) -> Option<Value> {
    let bytes = &resp.body[..];
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        if is_error {
            v.findings.push(Finding::new(
                CheckName::Json,
                "a JSON body",
                "the body starts with a UTF-8 byte-order mark (EF BB BF), which JSON forbids",
            ));
        }
        return None;
    }
    let (depth, _) = locate::nesting_depth(bytes, locate::MAX_DEPTH);
    if depth > locate::MAX_DEPTH {
        if is_error {
            v.findings.push(Finding::new(
                CheckName::Json,
                "a JSON body",
                format!("JSON nested deeper than {} levels", locate::MAX_DEPTH),
            ));
        }
        return None;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => {
            // serde_json keeps the last of duplicate keys silently; a client may keep the first.
            if is_error && let Some(key) = locate::first_duplicate_key(bytes) {
                v.findings.push(Finding::new(
                    CheckName::Json,
                    "each key once per object",
                    format!("duplicate key {key:?} (clients disagree on which copy wins)"),
                ));
            }
            Some(value)
        }
        Err(e) => {
            if is_error {
                let actual = if bytes.is_empty() {
                    "an empty body".to_string()
                } else if std::str::from_utf8(bytes).is_err() {
                    "the body is not valid UTF-8".to_string()
                } else {
                    format!(
                        "not JSON: {} at line {} column {}",
                        crate::locate::strip_position(&e.to_string()),
                        e.line(),
                        e.column()
                    )
                };
                v.findings
                    .push(Finding::new(CheckName::Json, "a JSON body", actual));
            }
            None
        }
    }
}

fn check_envelope(ctx: &CheckContext<'_>, resp: &Incoming, body: Option<&Value>, v: &mut Verdict) {
    let table = &ctx.contract.table;
    let content_type = resp.header("content-type").unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        v.findings.push(Finding::new(
            CheckName::ContentType,
            "application/json",
            if content_type.is_empty() {
                "(no Content-Type)".to_string()
            } else {
                content_type.to_string()
            },
        ));
    }
    if resp.header_count("content-type") > 1 {
        v.findings.push(Finding::new(
            CheckName::ContentType,
            "one Content-Type",
            format!("{} Content-Type headers", resp.header_count("content-type")),
        ));
    }
    // The no_leak scan covers the raw body, so it runs even when the body is not JSON.
    check_no_leak(ctx, &String::from_utf8_lossy(&resp.body), body, v);

    let code = body
        .and_then(|b| b.pointer("/error/code"))
        .and_then(Value::as_str)
        .map(String::from);
    v.code = code.clone();
    if let Some(body) = body {
        if !ctx.contract.error.is_valid(body) {
            let mut schema_lines = Vec::new();
            for err in ctx.contract.error.iter_errors(body) {
                let at = err.instance_path().to_string();
                let location = err
                    .absolute_keyword_location()
                    .map(|u| {
                        u.as_str()
                            .trim_start_matches(crate::contract::SCHEMA_BASE)
                            .to_string()
                    })
                    .unwrap_or_default();
                let line = format!("{}: {} ({location})", pointer_or_root(&at), err.masked());
                // Violations a more specific check names are reported under that check, so each
                // fault is named once, by the check a reader looks for.
                if at == "/error/doc_url" {
                    v.findings.push(
                        Finding::new(
                            CheckName::DocUrl,
                            "an absolute https URI",
                            describe(body.pointer(&at)),
                        )
                        .with_detail(vec![line]),
                    );
                } else if at == "/error/code" && code.is_some() {
                    // A string code not in the table: the table check names it below.
                } else {
                    schema_lines.push(line);
                }
            }
            if !schema_lines.is_empty() {
                let n = schema_lines.len();
                v.findings.push(
                    Finding::new(
                        CheckName::Schema,
                        "a body valid against error.schema.json",
                        format!("{n} violation{}", if n == 1 { "" } else { "s" }),
                    )
                    .with_detail(schema_lines),
                );
            }
        }
        if let Some(err) = body.get("error").and_then(Value::as_object) {
            let extra: Vec<&String> = err
                .keys()
                .filter(|k| !ctx.contract.error_fields.contains(k))
                .collect();
            if !extra.is_empty() {
                v.notes.push(format!(
                    "error has fields beyond the contract (allowed, forward compatible): {}",
                    extra
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    match code.as_deref().map(|c| (c, table.get(c))) {
        Some((c, Some(row))) => {
            if row.status != resp.status {
                v.findings.push(Finding::new(
                    CheckName::Table,
                    format!("status {} for code {c:?} (the table)", row.status),
                    format!("status {} with code {c:?}", resp.status),
                ));
            }
            check_retry_after(resp, c, row.retryable, row.retry_after, ctx.now, v);
        }
        Some((c, None)) => v.findings.push(
            Finding::new(
                CheckName::Table,
                "a code of the table",
                format!("{c:?}, which the table does not have"),
            )
            .with_detail(vec![format!(
                "codes: {}",
                table.codes().collect::<Vec<_>>().join(", ")
            )]),
        ),
        None => {
            if !table.has_status(resp.status) {
                v.findings.push(Finding::new(
                    CheckName::Table,
                    "an error status of the table",
                    format!("status {}, which no code of the table has", resp.status),
                ));
            }
        }
    }
}

fn describe(v: Option<&Value>) -> String {
    match v {
        None => "(missing)".into(),
        Some(v) => v.to_string(),
    }
}

fn check_retry_after(
    resp: &Incoming,
    code: &str,
    retryable: bool,
    rule: RetryAfterRule,
    now: SystemTime,
    v: &mut Verdict,
) {
    let header = resp.header("retry-after");
    match (rule, header) {
        (RetryAfterRule::Required, None) => v.findings.push(Finding::new(
            CheckName::RetryAfter,
            format!("a Retry-After header on {code:?} (the table requires it)"),
            "no Retry-After",
        )),
        (RetryAfterRule::Forbidden, Some(h)) => v.findings.push(Finding::new(
            CheckName::Retryable,
            format!("no Retry-After: {code:?} is not retryable (the table)"),
            format!("Retry-After: {h}"),
        )),
        _ => {}
    }
    if let Some(h) = header
        && (retryable || rule != RetryAfterRule::Forbidden)
        && let Err(why) = parse_retry_after(h, now)
    {
        v.findings.push(Finding::new(
            CheckName::RetryAfter,
            format!("delta-seconds or an HTTP-date within {MAX_RETRY_AFTER_S} s"),
            format!("Retry-After: {h} ({why})"),
        ));
    }
}

/// Parse a `Retry-After` value (delta-seconds or an HTTP-date) into seconds to wait, within bounds.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Result<u64, String> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = value
            .parse()
            .map_err(|_| "too large a number".to_string())?;
        if secs > MAX_RETRY_AFTER_S {
            return Err(format!("{secs} s is longer than {MAX_RETRY_AFTER_S} s"));
        }
        return Ok(secs);
    }
    match httpdate::parse_http_date(value) {
        Ok(when) => {
            let secs = when.duration_since(now).map(|d| d.as_secs()).unwrap_or(0);
            if secs > MAX_RETRY_AFTER_S {
                Err(format!(
                    "the date is {secs} s away, more than {MAX_RETRY_AFTER_S} s"
                ))
            } else {
                Ok(secs)
            }
        }
        Err(_) => Err("neither delta-seconds nor an HTTP-date".into()),
    }
}

fn check_rate_limit_headers(ctx: &CheckContext<'_>, resp: &Incoming, v: &mut Verdict) {
    let num = |name: &str| -> Option<Result<i64, String>> {
        resp.header(name).map(|h| {
            let t = h.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                t.parse::<i64>()
                    .map_err(|_| format!("{name}: {h} (too large)"))
            } else {
                Err(format!("{name}: {h:?} (not a non-negative integer)"))
            }
        })
    };
    let mut problems = Vec::new();
    let limit = num("x-ratelimit-limit");
    let remaining = num("x-ratelimit-remaining");
    let reset = num("x-ratelimit-reset");
    for r in [&limit, &remaining, &reset].into_iter().flatten() {
        if let Err(e) = r {
            problems.push(e.clone());
        }
    }
    if let (Some(Ok(l)), Some(Ok(r))) = (&limit, &remaining)
        && r > l
    {
        problems.push(format!(
            "X-RateLimit-Remaining {r} is more than X-RateLimit-Limit {l}"
        ));
    }
    if let Some(Ok(reset)) = reset {
        let now = ctx
            .now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if (reset - now).abs() > MAX_RESET_SKEW_S {
            problems.push(format!(
                "X-RateLimit-Reset {reset} is not a unix time in seconds near now ({now}){}",
                if reset > 1_000_000_000_000 {
                    "; it looks like milliseconds"
                } else if reset < 1_000_000_000 {
                    "; it looks like a countdown"
                } else {
                    ""
                }
            ));
        }
    }
    if !problems.is_empty() {
        v.findings.push(
            Finding::new(
                CheckName::RateLimitHeaders,
                "X-RateLimit-Limit/Remaining/Reset: non-negative integers, Remaining <= Limit, Reset a unix time in seconds",
                problems.join("; "),
            ),
        );
    }
}

/// The leak patterns, and a set of them all so a clean message costs one scan.
fn leak_patterns() -> &'static (regex::RegexSet, Vec<(Regex, &'static str)>) {
    static PATTERNS: OnceLock<(regex::RegexSet, Vec<(Regex, &'static str)>)> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let list: [(&str, &'static str); 6] = [
            (
                r#"Traceback \(most recent call last\)|\bFile "[^"\n]+", line \d+|panicked at |panic: runtime error|stack backtrace:|Exception in thread|goroutine \d+ \[|^\s*at [\w$.<>]+\(|\n\s*at [\w$./<>]+[(:]|\n\s+at [^\n]*:\d+:\d+|\bat [\w$.]+\([\w$.]+\.(java|kt|cs|js|ts):\d+\)"#,
                "a stack trace",
            ),
            (r"[\w./-]+\.(rs|go|py|js|mjs|cjs|jsx|ts|tsx|java|rb|php|cs|cpp|cc|c|h|hpp|kt|scala|swift|ex|exs):\d+", "a source file and line"),
            (
                r#"(^|[\s'"(=:])/(home|Users|usr|var|srv|opt|etc|root|tmp|src|app|data|mnt|run|workspace|build|proc)/[\w./-]+|\bfile:///[\w./-]+"#,
                "an internal file path",
            ),
            (r"\b[A-Za-z]:\\[\w\\. -]+", "an internal file path"),
            (
                r"\blocalhost(:\d+)?\b|\b127\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b10\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|\b192\.168\.\d{1,3}\.\d{1,3}\b|\b172\.(1[6-9]|2\d|3[01])\.\d{1,3}\.\d{1,3}\b|\b169\.254\.\d{1,3}\.\d{1,3}\b|\[(::1|f[cd][0-9a-f]{2}:[0-9a-f:]*)\]|[\w-]+\.(internal|local|svc\.cluster\.local|corp|lan)\b",
                "an internal host",
            ),
            (r"\b[a-z][a-z0-9+.-]*://[^\s/@:]+:[^\s/@]+@[^\s/]+", "a URL with credentials"),
        ];
        let set = regex::RegexSet::new(list.iter().map(|(re, _)| *re)).expect("leak patterns compile");
        let each = list.iter().map(|(re, what)| (Regex::new(re).expect("leak pattern compiles"), *what)).collect();
        (set, each)
    })
}

fn check_no_leak(ctx: &CheckContext<'_>, raw: &str, body: Option<&Value>, v: &mut Verdict) {
    let mut problems = Vec::new();
    let found = ctx.secrets.found_in(raw);
    if !found.is_empty() {
        problems.push(format!(
            "the body contains the API key of {}",
            found.join(", ")
        ));
    }
    let token = ctx.request.and_then(|r| {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .map(|(_, v)| v.split_once(' ').map_or(v.as_str(), |(_, t)| t).trim())
    });
    if let Some(token) = token
        && token.len() >= 8
        && raw.contains(token)
    {
        problems.push("the body echoes the request's own bearer token".to_string());
    }
    let message = body
        .and_then(|b| b.pointer("/error/message"))
        .and_then(Value::as_str);
    let text = message.unwrap_or(if body.is_none() { raw } else { "" });
    let (set, each) = leak_patterns();
    for index in set.matches(text).iter() {
        let (re, what) = &each[index];
        // What the request itself sent (an unknown path, a model name) may be quoted back.
        let echoed = |m: &str| {
            ctx.request.is_some_and(|r| {
                // The path and query only: the target's own host is no excuse to name it.
                let sent_path = r.url.splitn(4, '/').nth(3).unwrap_or("");
                sent_path.contains(m.trim_start_matches('/'))
                    || r.body
                        .as_ref()
                        .is_some_and(|b| String::from_utf8_lossy(b).contains(m))
            })
        };
        if let Some(m) = re.find_iter(text).find(|m| !echoed(m.as_str().trim())) {
            let excerpt: String = m.as_str().chars().take(80).collect();
            problems.push(format!(
                "the message carries {what}: {:?}",
                ctx.secrets.redact(excerpt.trim())
            ));
        }
    }
    if !problems.is_empty() {
        v.findings.push(Finding::new(
            CheckName::NoLeak,
            "an error message with no stack trace, internal path or host, or API key",
            problems.join("; "),
        ));
    }
}

fn check_expectations(
    ctx: &CheckContext<'_>,
    e: &Expect,
    base: &str,
    resp: &Incoming,
    body: Option<&Value>,
    v: &mut Verdict,
) {
    let error = body.and_then(|b| b.get("error"));
    if let Some(code) = &e.code {
        let actual = error.and_then(|x| x.get("code"));
        if actual.and_then(Value::as_str) != Some(code.as_str()) {
            v.findings.push(
                Finding::new(CheckName::Code, format!("{code:?}"), describe(actual))
                    .at(format!("{base}/code")),
            );
        }
    }
    if let Some(param) = &e.param {
        let expected = match param {
            Some(p) => Value::String(p.clone()),
            None => Value::Null,
        };
        let actual = error.and_then(|x| x.get("param"));
        if actual != Some(&expected) {
            v.findings.push(
                Finding::new(CheckName::Param, expected.to_string(), describe(actual))
                    .at(format!("{base}/param")),
            );
        }
    }
    let message = error.and_then(|x| x.get("message")).and_then(Value::as_str);
    check_message(
        message,
        e.message_contains.as_deref(),
        e.message_matches.as_deref(),
        base,
        CheckName::Message,
        v,
    );
    if let Some(r) = e.retryable {
        let table_says = v
            .code
            .as_deref()
            .and_then(|c| ctx.contract.table.get(c))
            .map(|row| row.retryable);
        if let Some(t) = table_says
            && t != r
        {
            v.findings.push(
                Finding::new(
                    CheckName::Retryable,
                    format!("a retryable error: {r}"),
                    format!(
                        "{:?}, which the table says is retryable: {t}",
                        v.code.as_deref().unwrap_or("")
                    ),
                )
                .at(format!("{base}/retryable")),
            );
        }
    }
    for (name, h) in &e.headers {
        let check = if name.eq_ignore_ascii_case("retry-after") {
            CheckName::RetryAfter
        } else if name.to_ascii_lowercase().starts_with("x-ratelimit-") {
            CheckName::RateLimitHeaders
        } else {
            CheckName::Headers
        };
        let at = format!("{base}/headers/{}", locate::escape(name));
        let actual = resp.header(name);
        if let Some(present) = h.present
            && present != actual.is_some()
        {
            v.findings.push(
                Finding::new(
                    check,
                    format!("{name} {}", if present { "present" } else { "absent" }),
                    match actual {
                        Some(a) => format!("{name}: {a}"),
                        None => format!("no {name} header"),
                    },
                )
                .at(at.clone()),
            );
            continue;
        }
        // `matches` implies presence: a missing header matches nothing.
        if let Some(re) = &h.matches
            && let Some(rx) = compiled(re)
            && !actual.is_some_and(|a| rx.is_match(a))
        {
            v.findings.push(
                Finding::new(
                    check,
                    format!("{name} matching /{re}/"),
                    match actual {
                        Some(a) => format!("{name}: {a}"),
                        None => format!("no {name} header"),
                    },
                )
                .at(at),
            );
        }
    }
    if let Some(subset) = &e.body {
        let mut misses = Vec::new();
        match body {
            Some(b) => subset_mismatches(
                &Value::Object(subset.clone()),
                b,
                String::new(),
                &mut misses,
            ),
            None => misses.push("the body is not JSON".to_string()),
        }
        if !misses.is_empty() {
            v.findings.push(
                Finding::new(
                    CheckName::Body,
                    Value::Object(subset.clone()).to_string(),
                    misses.join("; "),
                )
                .at(format!("{base}/body")),
            );
        }
    }
    if let Some(f) = &e.failure {
        check_failure(ctx, f, &format!("{base}/failure"), body, v);
    }
}

fn check_message(
    message: Option<&str>,
    contains: Option<&str>,
    matches: Option<&str>,
    base: &str,
    check: CheckName,
    v: &mut Verdict,
) {
    if let Some(sub) = contains
        && !message.is_some_and(|m| m.contains(sub))
    {
        v.findings.push(
            Finding::new(
                check,
                format!("a message containing {sub:?}"),
                describe_str(message),
            )
            .at(format!("{base}/message_contains")),
        );
    }
    if let Some(re) = matches
        && let Some(rx) = compiled(re)
        && !message.is_some_and(|m| rx.is_match(m))
    {
        v.findings.push(
            Finding::new(
                check,
                format!("a message matching /{re}/"),
                describe_str(message),
            )
            .at(format!("{base}/message_matches")),
        );
    }
}

/// A case's regex, compiled once per process (lint has already proved it compiles; a pattern
/// that does not is never matched).
fn compiled(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Option<Regex>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut map = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

fn describe_str(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("{s:?}"),
        None => "(no message)".into(),
    }
}

fn subset_mismatches(expected: &Value, actual: &Value, at: String, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{at}/{}", locate::escape(k));
                match a.get(k) {
                    Some(av) => subset_mismatches(ev, av, p, out),
                    None => out.push(format!("{p}: missing")),
                }
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{}: {}", pointer_or_root(&at), actual)),
    }
}

/// The terminal object of a poll: a failed generation valid against `video-failure.schema.json`,
/// with a code of the table, no leak, and the expected error.
fn check_failure(
    ctx: &CheckContext<'_>,
    f: &FailureExpect,
    base: &str,
    body: Option<&Value>,
    v: &mut Verdict,
) {
    let Some(body) = body else {
        v.findings.push(
            Finding::new(
                CheckName::Poll,
                "a failed generation object",
                "the body is not JSON",
            )
            .at(base.to_string()),
        );
        return;
    };
    if !ctx.contract.video_failure.is_valid(body) {
        let lines: Vec<String> = ctx
            .contract
            .video_failure
            .iter_errors(body)
            .map(|err| {
                format!(
                    "{}: {}",
                    pointer_or_root(&err.instance_path().to_string()),
                    err.masked()
                )
            })
            .collect();
        v.findings.push(
            Finding::new(
                CheckName::Poll,
                "a failed generation valid against video-failure.schema.json",
                format!(
                    "{} violation{}",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" }
                ),
            )
            .at(base.to_string())
            .with_detail(lines),
        );
    }
    let code = body.pointer("/error/code").and_then(Value::as_str);
    if code != Some(f.code.as_str()) {
        v.findings.push(
            Finding::new(
                CheckName::Code,
                format!("{:?}", f.code),
                describe(body.pointer("/error/code")),
            )
            .at(format!("{base}/code")),
        );
    }
    let message = body.pointer("/error/message").and_then(Value::as_str);
    check_message(
        message,
        f.message_contains.as_deref(),
        f.message_matches.as_deref(),
        base,
        CheckName::Message,
        v,
    );
    let raw = body.to_string();
    let wrapped = serde_json::json!({ "error": { "message": message.unwrap_or("") } });
    check_no_leak(ctx, &raw, Some(&wrapped), v);
}
