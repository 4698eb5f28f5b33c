//! `code`, `param`, `message`: the fields of `error` the case names are as it expects. The
//! failed-generation check (`poll`) holds its nested error to the same code and message rules.

use serde_json::Value;

use super::finding::shown;
use super::{CheckName, Finding};
use crate::case::Expect;
use crate::pattern::compiled;

/// The case's code, param and message expectations, in that order, against `error`.
pub(super) fn check(e: &Expect, base: &str, error: Option<&Value>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(expected) = &e.code {
        out.extend(code(expected, error, base));
    }
    if let Some(expected) = &e.param {
        out.extend(param(expected.as_deref(), error, base));
    }
    out.extend(message(
        error,
        e.message_contains.as_deref(),
        e.message_matches.as_deref(),
        base,
    ));
    out
}

/// `error.code` is the string `expected`.
pub(super) fn code(expected: &str, error: Option<&Value>, base: &str) -> Option<Finding> {
    let actual = error.and_then(|x| x.get("code"));
    (actual.and_then(Value::as_str) != Some(expected)).then(|| {
        Finding::new(CheckName::Code, format!("{expected:?}"), shown(actual))
            .at(format!("{base}/code"))
    })
}

/// `error.param` is the string `expected`, or null for None: present either way.
fn param(expected: Option<&str>, error: Option<&Value>, base: &str) -> Option<Finding> {
    let actual = error.and_then(|x| x.get("param"));
    let holds = match expected {
        Some(p) => actual.and_then(Value::as_str) == Some(p),
        None => actual.is_some_and(Value::is_null),
    };
    (!holds).then(|| {
        let expected = expected.map_or(Value::Null, Value::from);
        Finding::new(CheckName::Param, expected.to_string(), shown(actual))
            .at(format!("{base}/param"))
    })
}

/// `error.message` contains `contains` and matches `matches`, where given.
pub(super) fn message(
    error: Option<&Value>,
    contains: Option<&str>,
    matches: Option<&str>,
    base: &str,
) -> Vec<Finding> {
    let message = error.and_then(|x| x.get("message")).and_then(Value::as_str);
    let actual = || match message {
        Some(m) => format!("{m:?}"),
        None => "(no message)".into(),
    };
    let mut out = Vec::new();
    if let Some(sub) = contains
        && !message.is_some_and(|m| m.contains(sub))
    {
        out.push(
            Finding::new(
                CheckName::Message,
                format!("a message containing {sub:?}"),
                actual(),
            )
            .at(format!("{base}/message_contains")),
        );
    }
    if let Some(re) = matches
        && let Some(rx) = compiled(re)
        && !message.is_some_and(|m| rx.is_match(m))
    {
        out.push(
            Finding::new(
                CheckName::Message,
                format!("a message matching /{re}/"),
                actual(),
            )
            .at(format!("{base}/message_matches")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{code_with, error_body, error_status, expect};
    use crate::contract::RetryAfterRule;

    fn code_of_table() -> &'static str {
        code_with(RetryAfterRule::Forbidden).0
    }

    #[test]
    fn a_body_as_expected_passes() {
        let c = code_of_table();
        let mut body = error_body(c);
        body["error"]["param"] = json!("resolution");
        let e = expect(json!({
            "status": error_status(), "code": c, "param": "resolution",
            "message_contains": "cannot be", "message_matches": "^The .* served\\.$"
        }));
        assert_eq!(check(&e, "/expect", body.get("error")), []);
    }

    #[test]
    fn no_expectation_no_finding() {
        let e = expect(json!({"status": error_status()}));
        assert_eq!(check(&e, "/expect", None), []);
    }

    #[test]
    fn another_code_is_shown_as_json() {
        let body = error_body(code_of_table());
        let f = code("something_else", body.get("error"), "/expect").expect("a finding");
        assert_eq!(f.check, CheckName::Code);
        assert_eq!(f.expected, "\"something_else\"");
        assert_eq!(f.actual, format!("{:?}", code_of_table()));
        assert_eq!(f.expected_at.as_deref(), Some("/expect/code"));
    }

    #[test]
    fn a_missing_code_is_shown_missing() {
        let f = code(code_of_table(), None, "/expect").expect("a finding");
        assert_eq!(f.actual, "(missing)");
    }

    #[test]
    fn an_explicit_null_param_requires_null_not_absence() {
        let e = expect(json!({"status": error_status(), "param": null}));
        assert_eq!(check(&e, "/expect", Some(&json!({"param": null}))), []);
        let f = check(&e, "/expect", Some(&json!({})));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Param);
        assert_eq!(f[0].expected, "null");
        assert_eq!(f[0].actual, "(missing)");
        assert_eq!(f[0].expected_at.as_deref(), Some("/expect/param"));
    }

    #[test]
    fn a_param_other_than_expected_is_shown_as_json() {
        let e = expect(json!({"status": error_status(), "param": "prompt"}));
        let f = check(&e, "/expect", Some(&json!({"param": null})));
        assert_eq!(
            (f[0].expected.as_str(), f[0].actual.as_str()),
            ("\"prompt\"", "null")
        );
    }

    #[test]
    fn a_message_without_the_substring_fails_at_message_contains() {
        let f = message(
            Some(&json!({"message": "Bad request."})),
            Some("4K"),
            None,
            "/expect",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Message);
        assert_eq!(f[0].expected, "a message containing \"4K\"");
        assert_eq!(f[0].actual, "\"Bad request.\"");
        assert_eq!(
            f[0].expected_at.as_deref(),
            Some("/expect/message_contains")
        );
    }

    #[test]
    fn a_message_not_matching_fails_at_message_matches() {
        let f = message(None, None, Some("^Unsupported"), "/expect/failure");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].expected, "a message matching /^Unsupported/");
        assert_eq!(f[0].actual, "(no message)");
        assert_eq!(
            f[0].expected_at.as_deref(),
            Some("/expect/failure/message_matches")
        );
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_not_checked() {
        assert_eq!(message(None, None, Some("(unclosed"), "/expect"), []);
    }
}
