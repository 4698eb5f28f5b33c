//! Fixtures shared by the checks' unit tests: the contract compiled once per test binary, and
//! in-memory responses and expectations. Codes and statuses are taken from the table by their
//! properties, so no test names one (the invariant of `src/`).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};

use super::CheckContext;
use crate::case::Expect;
use crate::contract::{CodeRow, Contract, RetryAfterRule, default_schemas_dir};
use crate::probe::Incoming;
use crate::redact::Secrets;
use crate::request::Request;

/// The contract of `schemas/`.
pub(super) fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::load(&default_schemas_dir()).expect("schemas/ compiles"))
}

/// The fixed clock of every test, as unix seconds.
pub(super) const NOW_S: u64 = 1_700_000_000;

/// The fixed clock of every test.
pub(super) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW_S)
}

/// The first code of the table with this `Retry-After` rule, and its row.
pub(super) fn code_with(rule: RetryAfterRule) -> (&'static str, &'static CodeRow) {
    let table = &contract().table;
    table
        .codes()
        .find_map(|c| {
            table
                .get(c)
                .filter(|r| r.retry_after == rule)
                .map(|r| (c, r))
        })
        .expect("the table has a code with each Retry-After rule")
}

/// An error status of the table, for checks that do not look at the status.
pub(super) fn error_status() -> u16 {
    code_with(RetryAfterRule::Forbidden).1.status
}

/// An error status no code of the table has.
pub(super) fn unknown_status() -> u16 {
    let table = &contract().table;
    (400..600)
        .find(|s| !table.has_status(*s))
        .expect("a status outside the table")
}

/// A conforming error body for `code`.
pub(super) fn error_body(code: &str) -> Value {
    json!({"error": {
        "message": "The request cannot be served.",
        "type": "invalid_request_error",
        "param": null,
        "code": code,
        "doc_url": "https://docs.getimg.ai/guides/errors"
    }})
}

/// A response with these headers and body bytes.
pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Incoming {
    Incoming {
        status,
        reason: String::new(),
        version: "HTTP/1.1".into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
            .collect(),
        body: body.into(),
        decoded_from: None,
    }
}

/// A JSON response with these extra headers.
pub(super) fn json_response(status: u16, headers: &[(&str, &str)], body: &Value) -> Incoming {
    let mut r = response(status, headers, body.to_string());
    r.headers
        .insert(0, ("content-type".into(), "application/json".into()));
    r
}

/// The conforming error response of `code`: its status, JSON, and `Retry-After` where the table
/// requires one.
pub(super) fn error_response(code: &str) -> Incoming {
    let row = contract().table.get(code).expect("a code of the table");
    let headers: &[(&str, &str)] = match row.retry_after {
        RetryAfterRule::Required => &[("retry-after", "30")],
        _ => &[],
    };
    json_response(row.status, headers, &error_body(code))
}

/// An expectation, as a case file would state it.
pub(super) fn expect(json: Value) -> Expect {
    serde_json::from_value(json).expect("a valid expectation")
}

/// A request that was sent, with a bearer token and an optional body.
pub(super) fn request(url: &str, token: &str, body: Option<&str>) -> Request {
    Request {
        method: "POST",
        url: url.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: body.map(|b| Bytes::copy_from_slice(b.as_bytes())),
        curl: String::new(),
    }
}

/// A context on the test contract and clock.
pub(super) fn context<'a>(
    secrets: &'a Secrets,
    request: Option<&'a Request>,
    expect: Option<(&'a Expect, &'a str)>,
) -> CheckContext<'a> {
    CheckContext {
        contract: contract(),
        expect,
        secrets,
        request,
        now: now(),
    }
}
