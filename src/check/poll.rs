//! `poll` (with `code`, `message` and `no_leak`): the terminal object of an async flow that the
//! case expects to have failed. It is a failed generation valid against
//! `video-failure.schema.json`, with the expected code and message, and its error leaks no more
//! than an error response may.

use serde_json::Value;

use super::finding::violations;
use super::{CheckContext, CheckName, Finding, fields, no_leak};
use crate::case::FailureExpect;
use crate::contract::pointer_or_root;

/// `base` is the pointer of the case's `failure` object.
pub(super) fn check(
    ctx: &CheckContext<'_>,
    f: &FailureExpect,
    base: &str,
    body: Option<&Value>,
) -> Vec<Finding> {
    let Some(body) = body else {
        return vec![
            Finding::new(
                CheckName::Poll,
                "a failed generation object",
                "the body is not JSON",
            )
            .at(base),
        ];
    };
    let mut out: Vec<Finding> = schema(ctx, body, Some(base)).into_iter().collect();
    let error = body.get("error");
    out.extend(fields::code(&f.code, error, base));
    out.extend(fields::message(
        error,
        f.message_contains.as_deref(),
        f.message_matches.as_deref(),
        base,
    ));
    out.extend(leak(ctx, body));
    out
}

/// What every failed generation must be, expected by a case or only observed in traffic: valid
/// against `video-failure.schema.json` (its code one of the table's), its error leaking no more
/// than an error response may.
pub(super) fn failed_object(ctx: &CheckContext<'_>, body: &Value) -> Vec<Finding> {
    schema(ctx, body, None)
        .into_iter()
        .chain(leak(ctx, body))
        .collect()
}

/// The body against `video-failure.schema.json`; `base`: where the case expects it.
fn schema(ctx: &CheckContext<'_>, body: &Value, base: Option<&str>) -> Option<Finding> {
    let schema = &ctx.contract.video_failure;
    if schema.is_valid(body) {
        return None;
    }
    let lines: Vec<String> = schema
        .iter_errors(body)
        .map(|err| {
            let at = err.instance_path().to_string();
            format!("{}: {}", pointer_or_root(&at), err.masked())
        })
        .collect();
    let finding = Finding::new(
        CheckName::Poll,
        "a failed generation valid against video-failure.schema.json",
        violations(lines.len()),
    )
    .with_detail(lines);
    Some(match base {
        Some(base) => finding.at(base),
        None => finding,
    })
}

/// Keys anywhere in the object; traces, paths and hosts in its message.
fn leak(ctx: &CheckContext<'_>, body: &Value) -> Option<Finding> {
    let message = body.pointer("/error/message").and_then(Value::as_str);
    no_leak::scan(ctx, &body.to_string(), message.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{code_with, context};
    use crate::contract::RetryAfterRule;
    use crate::redact::Secrets;

    fn failure_of(code: &str, contains: Option<&str>) -> FailureExpect {
        serde_json::from_value(json!({"code": code, "message_contains": contains}))
            .expect("a failure expectation")
    }

    fn failed(code: &str, message: &str) -> Value {
        json!({"id": "vid_1", "status": "failed", "error": {"code": code, "message": message}})
    }

    fn run(f: &FailureExpect, body: Option<&Value>) -> Vec<Finding> {
        let secrets = Secrets::new();
        check(
            &context(&secrets, None, None),
            f,
            "/steps/1/expect/failure",
            body,
        )
    }

    #[test]
    fn the_expected_failure_passes() {
        let code = code_with(RetryAfterRule::Allowed).0;
        let body = failed(code, "The generation timed out.");
        assert_eq!(run(&failure_of(code, Some("timed out")), Some(&body)), []);
    }

    #[test]
    fn a_body_that_is_not_json_is_one_poll_finding() {
        let code = code_with(RetryAfterRule::Allowed).0;
        let f = run(&failure_of(code, Some("timed out")), None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Poll);
        assert_eq!(f[0].expected, "a failed generation object");
        assert_eq!(f[0].actual, "the body is not JSON");
        assert_eq!(f[0].expected_at.as_deref(), Some("/steps/1/expect/failure"));
    }

    #[test]
    fn a_completed_generation_fails_the_schema_code_and_message() {
        let code = code_with(RetryAfterRule::Allowed).0;
        let body = json!({"id": "vid_1", "status": "completed"});
        let f = run(&failure_of(code, Some("timed out")), Some(&body));
        let checks: Vec<CheckName> = f.iter().map(|f| f.check).collect();
        assert_eq!(
            checks,
            [CheckName::Poll, CheckName::Code, CheckName::Message]
        );
        assert_eq!(
            f[0].expected,
            "a failed generation valid against video-failure.schema.json"
        );
        assert_eq!(f[0].actual, "2 violations");
        assert!(
            f[0].detail.iter().any(|l| l.starts_with("/status: ")),
            "{:?}",
            f[0].detail
        );
        assert!(
            f[0].detail.iter().any(|l| l.starts_with("(root): ")),
            "{:?}",
            f[0].detail
        );
        assert_eq!(
            f[1].expected_at.as_deref(),
            Some("/steps/1/expect/failure/code")
        );
        assert_eq!(f[1].actual, "(missing)");
        assert_eq!(
            f[2].expected_at.as_deref(),
            Some("/steps/1/expect/failure/message_contains")
        );
    }

    #[test]
    fn another_code_is_a_code_finding() {
        let code = code_with(RetryAfterRule::Allowed).0;
        let other = code_with(RetryAfterRule::Required).0;
        let f = run(&failure_of(code, None), Some(&failed(other, "Slow down.")));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Code);
        assert_eq!(f[0].actual, format!("{other:?}"));
    }

    #[test]
    fn a_leaking_failure_message_is_a_no_leak_finding() {
        let code = code_with(RetryAfterRule::Allowed).0;
        let body = failed(code, "worker crashed at /srv/render/job.py:88");
        let f = run(&failure_of(code, None), Some(&body));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].check, CheckName::NoLeak);
        assert!(
            f[0].actual
                .starts_with("the message carries a source file and line: "),
            "{}",
            f[0].actual
        );
    }
}
