//! `headers`: the case's header expectations (present, absent, matching). One about
//! `Retry-After` or an `X-RateLimit-*` header is reported under that header's own check, where a
//! reader of the failure looks for it.

use super::{CheckName, Finding};
use crate::case::Expect;
use crate::locate;
use crate::pattern::compiled;
use crate::probe::Incoming;

/// One finding at most per header, in header-name order.
pub(super) fn check(e: &Expect, base: &str, resp: &Incoming) -> Vec<Finding> {
    let mut out = Vec::new();
    for (name, h) in &e.headers {
        let actual = resp.header(name);
        let came = || match actual {
            Some(a) => format!("{name}: {a}"),
            None => format!("no {name} header"),
        };
        let finding = |expected: String| {
            Finding::new(check_of(name), expected, came())
                .at(format!("{base}/headers/{}", locate::escape(name)))
        };
        if let Some(present) = h.present
            && present != actual.is_some()
        {
            let state = if present { "present" } else { "absent" };
            out.push(finding(format!("{name} {state}")));
            continue;
        }
        // `matches` implies presence: a missing header matches nothing.
        if let Some(re) = &h.matches
            && let Some(rx) = compiled(re)
            && !actual.is_some_and(|a| rx.is_match(a))
        {
            out.push(finding(format!("{name} matching /{re}/")));
        }
    }
    out
}

fn check_of(header: &str) -> CheckName {
    if header.eq_ignore_ascii_case("retry-after") {
        CheckName::RetryAfter
    } else if header.to_ascii_lowercase().starts_with("x-ratelimit-") {
        CheckName::RateLimitHeaders
    } else {
        CheckName::Headers
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{expect, response};

    fn findings(headers: serde_json::Value, resp: &[(&str, &str)]) -> Vec<Finding> {
        let e = expect(json!({"status": 202, "headers": headers}));
        check(&e, "/expect", &response(202, resp, ""))
    }

    #[test]
    fn headers_as_expected_pass() {
        let f = findings(
            json!({
                "X-Request-Id": {"present": true, "matches": "^req_"},
                "Set-Cookie": {"present": false}
            }),
            &[("x-request-id", "req_42")],
        );
        assert_eq!(f, []);
    }

    #[test]
    fn a_missing_header_fails_at_its_escaped_pointer() {
        let f = findings(json!({"X-Request/Id": {"present": true}}), &[]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Headers);
        assert_eq!(f[0].expected, "X-Request/Id present");
        assert_eq!(f[0].actual, "no X-Request/Id header");
        assert_eq!(
            f[0].expected_at.as_deref(),
            Some("/expect/headers/X-Request~1Id")
        );
    }

    #[test]
    fn a_header_that_should_be_absent_is_shown_and_not_matched_further() {
        let f = findings(
            json!({"Server": {"present": false, "matches": "^never$"}}),
            &[("server", "nginx/1.25")],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].expected, "Server absent");
        assert_eq!(f[0].actual, "Server: nginx/1.25");
    }

    #[test]
    fn a_value_not_matching_fails_and_so_does_a_missing_one() {
        let f = findings(
            json!({"X-Request-Id": {"matches": "^req_"}, "X-Trace": {"matches": "."}}),
            &[("x-request-id", "42")],
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].expected, "X-Request-Id matching /^req_/");
        assert_eq!(f[0].actual, "X-Request-Id: 42");
        assert_eq!(f[1].expected, "X-Trace matching /./");
        assert_eq!(f[1].actual, "no X-Trace header");
    }

    #[test]
    fn retry_and_rate_limit_headers_are_reported_under_their_own_checks_in_name_order() {
        let f = findings(
            json!({
                "Retry-After": {"present": true},
                "X-RateLimit-Limit": {"present": true},
                "Cache-Control": {"present": true}
            }),
            &[],
        );
        let checks: Vec<CheckName> = f.iter().map(|f| f.check).collect();
        assert_eq!(
            checks,
            [
                CheckName::Headers,
                CheckName::RetryAfter,
                CheckName::RateLimitHeaders
            ]
        );
    }
}
