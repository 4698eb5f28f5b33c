//! The rules of one case file, and advice: expectations stricter than the contract.

use std::collections::BTreeSet;

use crate::contract::{Contract, RetryAfterRule};
use crate::locate;

use super::super::model::Case;
use super::problem::Problem;

/// The semantic rules the schema cannot say: the expectation against the table, regexes that
/// compile, placeholders bound by an earlier capture.
pub fn rules(case: &Case, contract: &Contract) -> Vec<Problem> {
    let mut errs = Vec::new();
    let mut push = |pointer: String, message: String, help: Option<String>| {
        errs.push(Problem {
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
                                "expects a {} error, but the table says {code:?} is {}",
                                retryable_word(r),
                                retryable_word(row.retryable)
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
                    && let Err(err) = crate::pattern::compile(re)
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
            && let Err(err) = crate::pattern::compile(re)
        {
            push(
                format!("{ep}/message_matches"),
                format!("not a valid regex: {err}"),
                None,
            );
        }
        for (name, h) in &e.headers {
            if let Some(re) = &h.matches
                && let Err(err) = crate::pattern::compile(re)
            {
                push(
                    format!("{ep}/headers/{}/matches", locate::escape(name)),
                    format!("not a valid regex: {err}"),
                    None,
                );
            }
        }
        for problem in wire_problems(&step.request) {
            push(
                format!("{base}/request/{}", problem.pointer),
                problem.message,
                problem.help,
            );
        }
        if let Some(at) = unclosed_placeholder(&step.request.path) {
            push(
                format!("{base}/request/path"),
                format!(
                    "the placeholder at character {} of the path is never closed",
                    at + 1
                ),
                Some("close it with `}` (\"/v2/videos/{id}\"), or take out the `{`".into()),
            );
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

/// What the loader accepts and the wire refuses, found before it is blamed on the target: a
/// header name or value HTTP does not allow (a line break would inject a header of its own), a
/// `.` or `..` segment in the path (it climbs out of a base path such as `/api`), a control
/// character or space in the path. Pointers are below the request.
fn wire_problems(request: &crate::case::RequestSpec) -> Vec<Problem> {
    use reqwest::header::{HeaderName, HeaderValue};
    let mut out = Vec::new();
    for (name, value) in &request.headers {
        let at = format!("headers/{}", locate::escape(name));
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            out.push(Problem {
                pointer: at.clone(),
                message: format!("{name:?} is not a valid HTTP header name"),
                help: Some(
                    "a header name is letters, digits and !#$%&'*+-.^_`|~ only, no space or colon"
                        .into(),
                ),
            });
        }
        if HeaderValue::from_str(value).is_err() {
            out.push(Problem {
                pointer: at,
                message: format!("{value:?} is not a valid HTTP header value"),
                help: Some(
                    "a header value is visible characters, spaces and tabs: no line break or other control character".into(),
                ),
            });
        }
    }
    if let crate::case::Auth::Explicit { authorization } = &request.auth
        && HeaderValue::from_str(authorization).is_err()
    {
        out.push(Problem {
            pointer: "auth/authorization".into(),
            message: format!("{authorization:?} is not a valid HTTP header value"),
            help: Some(
                "no line break or other control character in the Authorization value".into(),
            ),
        });
    }
    let path = request.path.split(['?', '#']).next().unwrap_or_default();
    if path.split('/').any(|s| s == ".." || s == ".") {
        out.push(Problem {
            pointer: "path".into(),
            message: format!("{:?} has a `.` or `..` segment", request.path),
            help: Some(
                "write the path as the target serves it: a `..` climbs out of a base path such as /api, and clients resolve it away"
                    .into(),
            ),
        });
    }
    if path.chars().any(|c| c.is_control() || c == ' ') {
        out.push(Problem {
            pointer: "path".into(),
            message: format!("{:?} has a space or control character", request.path),
            help: Some("percent-encode it (%20) or send it in `query`".into()),
        });
    }
    out
}

fn retryable_word(retryable: bool) -> &'static str {
    if retryable {
        "retryable"
    } else {
        "non-retryable"
    }
}

/// Where a `{` opens a placeholder that no `}` closes.
fn unclosed_placeholder(path: &str) -> Option<usize> {
    let mut open = None;
    for (i, c) in path.chars().enumerate() {
        match c {
            // A second `{` before a `}`: the first is never closed.
            '{' if open.is_some() => return open,
            '{' => open = Some(i),
            '}' => open = None,
            _ => {}
        }
    }
    open
}

/// Values the contract allows for `Retry-After`: delta-seconds and an HTTP-date.
const RETRY_AFTER_SAMPLES: [&str; 2] = ["120", "Wed, 21 Oct 2026 07:28:00 GMT"];

/// Advice, not errors: expectations stricter than the table's rule for their code, which a
/// conforming target may fail.
pub fn advice(case: &Case, contract: &Contract) -> Vec<Problem> {
    let mut out = Vec::new();
    for (base, step) in &case.steps {
        let e = &step.expect;
        let Some((code, row)) = e
            .code
            .as_deref()
            .and_then(|c| Some((c, contract.table.get(c)?)))
        else {
            continue;
        };
        for (name, h) in &e.headers {
            if !name.eq_ignore_ascii_case("retry-after") {
                continue;
            }
            let at = format!("{base}/expect/headers/{}", locate::escape(name));
            if h.present == Some(true) && row.retry_after == RetryAfterRule::Allowed {
                out.push(Problem {
                    pointer: format!("{at}/present"),
                    message: format!(
                        "expects Retry-After, which the table only allows for {code:?}: a conforming target may leave it out"
                    ),
                    help: Some("remove \"present\": true".into()),
                });
            }
            let Some(re) = h.matches.as_deref().and_then(crate::pattern::compiled) else {
                continue;
            };
            if row.retry_after == RetryAfterRule::Forbidden {
                continue;
            }
            let refused: Vec<&str> = RETRY_AFTER_SAMPLES
                .into_iter()
                .filter(|v| !re.is_match(v))
                .collect();
            if !refused.is_empty() {
                out.push(Problem {
                    pointer: format!("{at}/matches"),
                    message: format!(
                        "refuses a Retry-After the contract allows for {code:?} (delta-seconds or an HTTP-date): {}",
                        refused
                            .iter()
                            .map(|v| format!("{v:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    help: Some(
                        "remove \"matches\": the retry_after check already holds Retry-After to the contract".into(),
                    ),
                });
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::unclosed_placeholder;

    #[test]
    fn an_unclosed_placeholder_is_found_wherever_it_is() {
        assert_eq!(unclosed_placeholder("/v2/videos/{id}"), None);
        assert_eq!(unclosed_placeholder("/v2/videos/{id"), Some(11));
        assert_eq!(unclosed_placeholder("/v2/{a/b/{c}"), Some(4));
        assert_eq!(unclosed_placeholder("/v2/{a}/{b}"), None);
    }
}
