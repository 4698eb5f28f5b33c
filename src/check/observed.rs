//! The checks that need no case, on a response observed in traffic (a HAR, a recording, the
//! proxy). No second copy of any check: an error response gets exactly what
//! [`check_response`](super::check_response) gives every error whatever a case expected, and a
//! poll of a video generation that failed gets the failed-object check a case's `failure` runs.

use serde_json::Value;

use super::{
    CheckContext, CheckName, Checked, check_response, content_type, json, poll, rate_limit_headers,
    retry,
};
use crate::probe::Incoming;

/// What an observed response is, for the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// A response with an error status (≥ 400).
    Error,
    /// A success answering a poll of a video generation: a failed one must be the contract's
    /// failed-video object.
    Poll,
}

/// Run the case-free checks on `resp`. `body_recorded`: false when the capture left the body
/// out (a HAR without `content.text`): only the checks that read the head run, the rest are
/// "not recorded", never failed. `ctx.expect` is ignored: traffic has no case.
pub fn check_observed(
    ctx: &CheckContext<'_>,
    resp: &Incoming,
    what: Observed,
    body_recorded: bool,
) -> Checked {
    let ctx = CheckContext {
        contract: ctx.contract,
        expect: None,
        secrets: ctx.secrets,
        request: ctx.request,
        now: ctx.now,
    };
    if body_recorded && what == Observed::Error {
        return check_response(&ctx, resp);
    }
    let mut v = Checked::default();
    v.applied.insert(CheckName::RateLimitHeaders);
    v.findings.extend(rate_limit_headers::check(resp, ctx.now));
    if what == Observed::Error {
        // No body to read the code from; the head still says what it can. A Content-Type
        // that is there (one left out may belong to the body that was), and, where the status
        // is one code's alone (429 is `rate_limit`'s), that code's Retry-After rule.
        if resp.header("content-type").is_some() {
            v.applied.insert(CheckName::ContentType);
            v.findings.extend(content_type::check(resp));
        }
        if let [code] = ctx.contract.table.codes_with_status(resp.status)[..]
            && let Some(row) = ctx.contract.table.get(code)
        {
            v.applied.insert(CheckName::RetryAfter);
            v.findings
                .extend(retry::table_rules(resp, code, row, ctx.now));
        }
    }
    if !body_recorded || what != Observed::Poll {
        return v;
    }
    let Ok(body) = json::parse(&resp.body) else {
        return v;
    };
    if body.get("status").and_then(Value::as_str) == Some("failed") {
        v.applied.insert(CheckName::Poll);
        v.applied.insert(CheckName::NoLeak);
        v.findings.extend(poll::failed_object(&ctx, &body));
        v.code = body
            .pointer("/error/code")
            .and_then(Value::as_str)
            .map(String::from);
    }
    v.body = Some(body);
    v
}

/// `no_leak` for the keys a recording says it took out of the response (`labels`, from
/// NDJSON's `keys_redacted`): the response carried them when it was recorded. Added to what the
/// other checks found, so a recording is judged as the live exchange was.
pub fn redacted_when_recorded(checked: &mut Checked, labels: &[String]) {
    if labels.is_empty() {
        return;
    }
    checked.applied.insert(CheckName::NoLeak);
    if checked
        .findings
        .iter()
        .any(|f| f.check == CheckName::NoLeak)
    {
        return;
    }
    checked
        .findings
        .extend(super::no_leak::finding(vec![format!(
            "the response contained the API key of {} (taken out when it was recorded)",
            labels.join(", ")
        )]));
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{code_with, context, error_response, json_response, response};
    use crate::contract::RetryAfterRule;
    use crate::redact::Secrets;

    fn checks(v: &Checked) -> Vec<CheckName> {
        v.findings.iter().map(|f| f.check).collect()
    }

    #[test]
    fn an_observed_error_gets_every_envelope_check_and_nothing_a_case_expects() {
        let (code, _) = code_with(RetryAfterRule::Required);
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let v = check_observed(&ctx, &error_response(code), Observed::Error, true);
        assert!(v.passed(), "{:?}", v.findings);
        assert_eq!(v.code.as_deref(), Some(code));
        for c in [CheckName::Schema, CheckName::Table, CheckName::RetryAfter] {
            assert!(v.applied.contains(c), "{c}");
        }
        assert!(!v.applied.contains(CheckName::Status));
        let html = response(500, &[("content-type", "text/html")], "oops");
        let v = check_observed(&ctx, &html, Observed::Error, true);
        assert_eq!(
            checks(&v)[..2],
            [CheckName::Json, CheckName::ContentType],
            "{:?}",
            v.findings
        );
    }

    #[test]
    fn a_body_not_recorded_is_never_a_failure() {
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let bare = response(500, &[], "");
        let v = check_observed(&ctx, &bare, Observed::Error, false);
        assert!(v.passed(), "{:?}", v.findings);
        assert!(!v.applied.contains(CheckName::Json));
    }

    #[test]
    fn without_a_body_the_head_is_still_checked() {
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let html = response(500, &[("content-type", "text/html")], "");
        let v = check_observed(&ctx, &html, Observed::Error, false);
        assert_eq!(checks(&v), [CheckName::ContentType], "{:?}", v.findings);
        // The table's only code with the status names the rule: 429 is rate_limit's.
        let (code, _) = code_with(RetryAfterRule::Required);
        let status = ctx.contract.table.status_of(code).unwrap();
        assert_eq!(
            ctx.contract.table.codes_with_status(status),
            [code],
            "the table's Retry-After code has its status alone"
        );
        let json = [("content-type", "application/json")];
        let v = check_observed(&ctx, &response(status, &json, ""), Observed::Error, false);
        assert_eq!(checks(&v), [CheckName::RetryAfter], "{:?}", v.findings);
        let told = [("content-type", "application/json"), ("retry-after", "5")];
        let v = check_observed(&ctx, &response(status, &told, ""), Observed::Error, false);
        assert!(v.passed(), "{:?}", v.findings);
    }

    #[test]
    fn a_failed_poll_is_held_to_the_failed_video_object() {
        let (code, _) = code_with(RetryAfterRule::Allowed);
        let secrets = Secrets::new();
        let ctx = context(&secrets, None, None);
        let good = json!({"id": "req-1", "status": "failed", "error": {"code": code, "message": "It timed out."}});
        let v = check_observed(&ctx, &json_response(200, &[], &good), Observed::Poll, true);
        assert!(v.passed(), "{:?}", v.findings);
        assert!(v.applied.contains(CheckName::Poll));
        let bad = json!({"id": "req-1", "status": "failed", "error": {"code": "no_such_code", "message": "at /srv/app/x.py:3"}});
        let v = check_observed(&ctx, &json_response(200, &[], &bad), Observed::Poll, true);
        assert_eq!(checks(&v), [CheckName::Poll, CheckName::NoLeak]);
        let pending = json!({"id": "req-1", "status": "pending"});
        let v = check_observed(
            &ctx,
            &json_response(200, &[], &pending),
            Observed::Poll,
            true,
        );
        assert!(v.passed() && !v.applied.contains(CheckName::Poll));
    }
}
