//! The named checks over one response. No I/O: a response and an expectation in, findings out.
//!
//! One module per check (or family of checks that share their inputs); each returns its findings
//! and [`check_response`] collects them in check order, which is the order a reader sees. The
//! envelope checks (`content_type`, `json`, `schema`, `table`, `retryable`, `retry_after`,
//! `doc_url`, `no_leak`) run on every non-2xx response, whatever the case expected. No code or
//! status is named here: they all come from the table.

use std::borrow::Cow;
use std::time::SystemTime;

use serde_json::Value;

use crate::case::Expect;
use crate::contract::Contract;
use crate::probe::Incoming;

mod body;
mod content_type;
mod fields;
mod finding;
mod headers;
mod json;
mod no_leak;
mod observed;
mod poll;
mod rate_limit_headers;
mod retry;
mod schema;
mod singleton;
mod status;
mod table;
#[cfg(test)]
pub(crate) mod testing;

pub use finding::Finding;
pub use observed::{Observed, check_observed, redacted_when_recorded};
pub use rate_limit_headers::MAX_RESET_SKEW_S;
pub use retry::{MAX_RETRY_AFTER_S, parse_retry_after};

/// A check's stable name, as shown in output and reports.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
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
    /// Every check, in check order.
    pub const ALL: [CheckName; 18] = [
        CheckName::Transport,
        CheckName::Status,
        CheckName::ContentType,
        CheckName::Json,
        CheckName::Schema,
        CheckName::Table,
        CheckName::Code,
        CheckName::Param,
        CheckName::Message,
        CheckName::Retryable,
        CheckName::RetryAfter,
        CheckName::RateLimitHeaders,
        CheckName::DocUrl,
        CheckName::NoLeak,
        CheckName::Poll,
        CheckName::Headers,
        CheckName::Body,
        CheckName::Capture,
    ];

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

/// A set of checks (which ran on a response), one bit each.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckSet(u32);

impl CheckSet {
    /// Add a check.
    pub fn insert(&mut self, check: CheckName) {
        self.0 |= 1 << (check as u32);
    }

    /// Add a check when `applies`.
    pub fn insert_if(&mut self, check: CheckName, applies: bool) {
        if applies {
            self.insert(check);
        }
    }

    /// Whether it holds `check`.
    pub fn contains(self, check: CheckName) -> bool {
        self.0 & (1 << (check as u32)) != 0
    }

    /// Both sets.
    pub fn union(self, other: CheckSet) -> CheckSet {
        CheckSet(self.0 | other.0)
    }

    /// The checks, in check order.
    pub fn iter(self) -> impl Iterator<Item = CheckName> {
        CheckName::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

/// What the checks found on one response.
#[derive(Debug, Default, Clone)]
pub struct Checked {
    /// Failed checks, in check order.
    pub findings: Vec<Finding>,
    /// The checks that ran (those that found nothing held).
    pub applied: CheckSet,
    /// Observations that are not failures (extra fields in `error`).
    pub notes: Vec<String>,
    /// The parsed body, when it parsed.
    pub body: Option<Value>,
    /// The error code the response carried, when it had one.
    pub code: Option<String>,
}

impl Checked {
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
pub fn check_response(ctx: &CheckContext<'_>, resp: &Incoming) -> Checked {
    let mut v = Checked::default();
    let found = &mut v.findings;
    let is_error = !(200..300).contains(&resp.status);
    let applied = &mut v.applied;
    applied.insert(CheckName::Transport);
    applied.insert(CheckName::RateLimitHeaders);
    for check in [
        CheckName::Json,
        CheckName::ContentType,
        CheckName::NoLeak,
        CheckName::Table,
    ] {
        applied.insert_if(check, is_error);
    }
    if let Some((e, _)) = ctx.expect {
        applied.insert(CheckName::Status);
        applied.insert_if(CheckName::Code, e.code.is_some());
        applied.insert_if(CheckName::Param, e.param.is_some());
        applied.insert_if(
            CheckName::Message,
            e.message_contains.is_some() || e.message_matches.is_some(),
        );
        applied.insert_if(CheckName::Retryable, e.retryable.is_some());
        applied.insert_if(CheckName::Headers, !e.headers.is_empty());
        applied.insert_if(CheckName::Body, e.body.is_some());
        applied.insert_if(CheckName::Poll, e.failure.is_some());
    }
    if let Some((e, base)) = ctx.expect {
        found.extend(status::check(e, base, resp));
    }
    let body = match json::parse(&resp.body) {
        Ok(value) => {
            if is_error {
                found.extend(json::duplicate_key(&resp.body));
            }
            Some(value)
        }
        Err(finding) => {
            if is_error {
                found.push(finding);
            }
            None
        }
    };
    if is_error {
        found.extend(content_type::check(resp));
        // The raw body is scanned, so a body that is not JSON is covered too. (`from_utf8`
        // checks a word at a time; the lossy copy is only made for a body that needs it.)
        let raw = match std::str::from_utf8(&resp.body) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&resp.body),
        };
        found.extend(no_leak::check(ctx, &raw, body.as_ref(), &resp.headers));
        v.code = body
            .as_ref()
            .and_then(|b| b.pointer("/error/code"))
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(b) = &body {
            v.applied.insert(CheckName::Schema);
            v.applied.insert(CheckName::DocUrl);
            found.extend(schema::check(ctx.contract, b));
            v.notes.extend(schema::extra_fields(ctx.contract, b));
        }
        let table = &ctx.contract.table;
        let code = v.code.as_deref();
        found.extend(table::check(table, resp.status, code));
        if let Some((c, row)) = code.and_then(|c| Some((c, table.get(c)?))) {
            v.applied.insert(CheckName::Retryable);
            v.applied.insert(CheckName::RetryAfter);
            found.extend(retry::table_rules(resp, c, row, ctx.now));
        }
    }
    found.extend(rate_limit_headers::check(resp, ctx.now));
    if let Some((e, base)) = ctx.expect {
        let error = body.as_ref().and_then(|b| b.get("error"));
        found.extend(fields::check(e, base, error));
        found.extend(retry::expected(
            &ctx.contract.table,
            e,
            base,
            v.code.as_deref(),
        ));
        found.extend(headers::check(e, base, resp));
        if let Some(subset) = &e.body {
            found.extend(body::check(subset, base, body.as_ref()));
        }
        if let Some(f) = &e.failure {
            found.extend(poll::check(
                ctx,
                f,
                &format!("{base}/failure"),
                body.as_ref(),
            ));
        }
    }
    v.body = body;
    v
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::{
        code_with, context, error_body, error_response, error_status, expect, json_response,
        response, unknown_status,
    };
    use super::*;
    use crate::contract::RetryAfterRule;
    use crate::redact::Secrets;

    #[test]
    fn a_conforming_error_passes_and_records_its_code_and_body() {
        let (code, row) = code_with(RetryAfterRule::Required);
        let e =
            expect(json!({"status": row.status, "code": code, "param": null, "retryable": true}));
        let secrets = Secrets::new();
        let v = check_response(
            &context(&secrets, None, Some((&e, "/expect"))),
            &error_response(code),
        );
        assert!(v.passed(), "{:?}", v.findings);
        assert_eq!(v.code.as_deref(), Some(code));
        assert_eq!(v.body, Some(error_body(code)));
        assert!(v.notes.is_empty());
    }

    #[test]
    fn a_success_is_spared_the_envelope_checks_but_not_the_case() {
        let e = expect(json!({"status": 200, "headers": {"X-Request-Id": {"present": true}}}));
        let resp = response(
            200,
            &[
                ("content-type", "text/plain"),
                ("x-ratelimit-limit", "many"),
            ],
            "\u{feff}ok",
        );
        let secrets = Secrets::new();
        let v = check_response(&context(&secrets, None, Some((&e, "/expect"))), &resp);
        let checks: Vec<CheckName> = v.findings.iter().map(|f| f.check).collect();
        assert_eq!(checks, [CheckName::RateLimitHeaders, CheckName::Headers]);
        assert_eq!((v.body, v.code), (None, None));
    }

    #[test]
    fn findings_come_in_check_order() {
        let (code, row) = code_with(RetryAfterRule::Forbidden);
        let other = code_with(RetryAfterRule::Allowed);
        let body = format!(
            r#"{{"error":{{"message":"boom in /srv/app/main","type":"api_error","param":null,"param":"p","code":"{code}","doc_url":"http://docs","trace":1}}}}"#
        );
        let resp = response(
            other.1.status,
            &[
                ("content-type", "text/plain"),
                ("retry-after", "30"),
                ("x-ratelimit-limit", "many"),
            ],
            body,
        );
        let e = expect(json!({
            "status": row.status, "code": other.0, "param": null, "message_contains": "nope",
            "retryable": !row.retryable, "headers": {"X-Request-Id": {"present": true}},
            "body": {"id": "x"}
        }));
        let secrets = Secrets::new();
        let v = check_response(&context(&secrets, None, Some((&e, "/expect"))), &resp);
        let checks: Vec<(CheckName, Option<&str>)> = v
            .findings
            .iter()
            .map(|f| (f.check, f.expected_at.as_deref()))
            .collect();
        assert_eq!(
            checks,
            [
                (CheckName::Status, Some("/expect/status")),
                (CheckName::Json, None),
                (CheckName::ContentType, None),
                (CheckName::NoLeak, None),
                (CheckName::DocUrl, None),
                (CheckName::Schema, None),
                (CheckName::Table, None),
                (CheckName::Retryable, None),
                (CheckName::RateLimitHeaders, None),
                (CheckName::Code, Some("/expect/code")),
                (CheckName::Param, Some("/expect/param")),
                (CheckName::Message, Some("/expect/message_contains")),
                (CheckName::Retryable, Some("/expect/retryable")),
                (CheckName::Headers, Some("/expect/headers/X-Request-Id")),
                (CheckName::Body, Some("/expect/body")),
            ]
        );
        assert_eq!(v.code.as_deref(), Some(code));
        assert_eq!(
            v.notes,
            ["error has fields beyond the contract (allowed, forward compatible): trace"]
        );
    }

    #[test]
    fn an_error_that_is_not_json_is_still_scanned_and_held_to_the_table() {
        let known = error_status();
        let unknown = unknown_status();
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let checks = |status: u16| -> Vec<CheckName> {
            let html = response(status, &[("content-type", "text/html")], "at /srv/app/main");
            check_response(&ctx, &html)
                .findings
                .iter()
                .map(|f| f.check)
                .collect()
        };
        let not_json = [CheckName::Json, CheckName::ContentType, CheckName::NoLeak];
        assert_eq!(checks(known), not_json);
        assert_eq!(
            checks(unknown),
            [&not_json[..], &[CheckName::Table]].concat()
        );
    }

    #[test]
    fn a_failure_expectation_is_checked_at_its_own_pointer() {
        let e = expect(
            json!({"status": 200, "failure": {"code": code_with(RetryAfterRule::Allowed).0}}),
        );
        let resp = json_response(200, &[], &json!({"id": "v", "status": "completed"}));
        let secrets = Secrets::new();
        let v = check_response(
            &context(&secrets, None, Some((&e, "/steps/1/expect"))),
            &resp,
        );
        let at: Vec<(CheckName, Option<&str>)> = v
            .findings
            .iter()
            .map(|f| (f.check, f.expected_at.as_deref()))
            .collect();
        assert_eq!(
            at,
            [
                (CheckName::Poll, Some("/steps/1/expect/failure")),
                (CheckName::Code, Some("/steps/1/expect/failure/code")),
            ]
        );
    }

    #[test]
    fn check_names_are_stable() {
        let names: Vec<String> = [
            CheckName::RetryAfter,
            CheckName::RateLimitHeaders,
            CheckName::NoLeak,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["retry_after", "rate_limit_headers", "no_leak"]);
    }
}
