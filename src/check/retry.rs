//! `retryable` and `retry_after`: what a client may do next. The table decides per code whether
//! the error is retryable and whether `Retry-After` is required, allowed or forbidden; the case's
//! own `retryable` must agree with it; a `Retry-After` a client would obey must be well-formed
//! and near enough to wait for.

use std::time::SystemTime;

use super::{CheckName, Finding};
use crate::case::Expect;
use crate::contract::{CodeRow, CodeTable, RetryAfterRule};
use crate::probe::Incoming;

/// The longest `Retry-After` errcontract accepts as sane, in seconds.
pub const MAX_RETRY_AFTER_S: u64 = 3600;

/// The table's `Retry-After` rule for `code`, and the value's form where a client would use it.
pub(super) fn table_rules(
    resp: &Incoming,
    code: &str,
    row: &CodeRow,
    now: SystemTime,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(repeated) = super::singleton::repeated(resp, "Retry-After") {
        out.push(Finding::new(
            CheckName::RetryAfter,
            "one Retry-After field (a client cannot know which to obey)",
            repeated,
        ));
    }
    let header = resp.header("retry-after");
    match (row.retry_after, header) {
        (RetryAfterRule::Required, None) => out.push(Finding::new(
            CheckName::RetryAfter,
            format!("a Retry-After header on {code:?} (the table requires it)"),
            "no Retry-After",
        )),
        (RetryAfterRule::Forbidden, Some(h)) => out.push(Finding::new(
            CheckName::Retryable,
            format!("no Retry-After: {code:?} is not retryable (the table)"),
            format!("Retry-After: {h}"),
        )),
        _ => {}
    }
    if let Some(h) = header
        && (row.retryable || row.retry_after != RetryAfterRule::Forbidden)
        && let Err(why) = parse_retry_after(h, now)
    {
        out.push(Finding::new(
            CheckName::RetryAfter,
            format!("delta-seconds or an HTTP-date within {MAX_RETRY_AFTER_S} s"),
            format!("Retry-After: {h} ({why})"),
        ));
    }
    out
}

/// The case's `retryable`, against the table's row for the code that came.
pub(super) fn expected(
    table: &CodeTable,
    e: &Expect,
    base: &str,
    code: Option<&str>,
) -> Option<Finding> {
    let expected = e.retryable?;
    let code = code?;
    let table_says = table.get(code)?.retryable;
    let kind = |retryable: bool| {
        if retryable {
            "retryable"
        } else {
            "non-retryable"
        }
    };
    (table_says != expected).then(|| {
        Finding::new(
            CheckName::Retryable,
            format!("a {} error", kind(expected)),
            format!("{code:?}, which the table says is {}", kind(table_says)),
        )
        .at(format!("{base}/retryable"))
    })
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
    let when = httpdate::parse_http_date(value)
        .map_err(|_| "neither delta-seconds nor an HTTP-date".to_string())?;
    // A date already past means "now".
    let secs = when.duration_since(now).map_or(0, |d| d.as_secs());
    if secs > MAX_RETRY_AFTER_S {
        Err(format!(
            "the date is {secs} s away, more than {MAX_RETRY_AFTER_S} s"
        ))
    } else {
        Ok(secs)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::check::testing::{code_with, contract, error_status, expect, now, response};

    fn rules(rule: RetryAfterRule, retry_after: Option<&str>) -> Vec<Finding> {
        let (code, row) = code_with(rule);
        let headers: Vec<(&str, &str)> = retry_after
            .map(|h| ("retry-after", h))
            .into_iter()
            .collect();
        table_rules(&response(row.status, &headers, "{}"), code, row, now())
    }

    #[test]
    fn each_rule_holds_for_a_conforming_response() {
        assert_eq!(rules(RetryAfterRule::Required, Some("30")), []);
        assert_eq!(rules(RetryAfterRule::Allowed, None), []);
        assert_eq!(rules(RetryAfterRule::Allowed, Some("5")), []);
        assert_eq!(rules(RetryAfterRule::Forbidden, None), []);
    }

    #[test]
    fn a_required_retry_after_that_is_missing_fails() {
        let code = code_with(RetryAfterRule::Required).0;
        let f = rules(RetryAfterRule::Required, None);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::RetryAfter);
        assert_eq!(
            f[0].expected,
            format!("a Retry-After header on {code:?} (the table requires it)")
        );
        assert_eq!(f[0].actual, "no Retry-After");
    }

    #[test]
    fn a_forbidden_retry_after_is_a_retryable_finding_and_its_form_is_not_judged() {
        let code = code_with(RetryAfterRule::Forbidden).0;
        let f = rules(RetryAfterRule::Forbidden, Some("soon"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].check, CheckName::Retryable);
        assert_eq!(
            f[0].expected,
            format!("no Retry-After: {code:?} is not retryable (the table)")
        );
        assert_eq!(f[0].actual, "Retry-After: soon");
    }

    #[test]
    fn a_malformed_retry_after_says_why() {
        let f = rules(RetryAfterRule::Required, Some("7200"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::RetryAfter);
        assert_eq!(f[0].expected, "delta-seconds or an HTTP-date within 3600 s");
        assert_eq!(
            f[0].actual,
            "Retry-After: 7200 (7200 s is longer than 3600 s)"
        );
    }

    #[test]
    fn delta_seconds_parse_within_bounds() {
        assert_eq!(parse_retry_after(" 30 ", now()), Ok(30));
        assert_eq!(parse_retry_after("3600", now()), Ok(3600));
        assert_eq!(
            parse_retry_after("3601", now()),
            Err("3601 s is longer than 3600 s".into())
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Err("too large a number".into())
        );
        assert_eq!(
            parse_retry_after("-5", now()),
            Err("neither delta-seconds nor an HTTP-date".into())
        );
        assert_eq!(
            parse_retry_after("", now()),
            Err("neither delta-seconds nor an HTTP-date".into())
        );
    }

    #[test]
    fn an_http_date_is_seconds_from_now_and_a_past_one_is_zero() {
        let at = |d: Duration| httpdate::fmt_http_date(now() + d);
        assert_eq!(
            parse_retry_after(&at(Duration::from_secs(90)), now()),
            Ok(90)
        );
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now()), Ok(0));
        assert_eq!(
            parse_retry_after(&at(Duration::from_secs(7200)), now()),
            Err("the date is 7200 s away, more than 3600 s".into())
        );
    }

    #[test]
    fn the_case_must_agree_with_the_table() {
        let table = &contract().table;
        let (code, row) = code_with(RetryAfterRule::Required);
        assert!(row.retryable);
        let agrees = expect(json!({"status": row.status, "retryable": row.retryable}));
        assert_eq!(expected(table, &agrees, "/expect", Some(code)), None);
        let disagrees = expect(json!({"status": row.status, "retryable": false}));
        let f = expected(table, &disagrees, "/expect", Some(code)).expect("a finding");
        assert_eq!(f.check, CheckName::Retryable);
        assert_eq!(f.expected_at.as_deref(), Some("/expect/retryable"));
        assert_eq!(
            (f.expected.as_str(), f.actual),
            (
                "a non-retryable error",
                format!("{code:?}, which the table says is retryable")
            )
        );
    }

    #[test]
    fn a_retryable_expectation_on_a_non_retryable_code_reads_as_words() {
        let table = &contract().table;
        let (code, row) = code_with(RetryAfterRule::Forbidden);
        assert!(!row.retryable);
        let e = expect(json!({"status": row.status, "retryable": true}));
        let f = expected(table, &e, "/expect", Some(code)).expect("a finding");
        assert_eq!(
            (f.expected.as_str(), f.actual),
            (
                "a retryable error",
                format!("{code:?}, which the table says is non-retryable")
            )
        );
    }

    #[test]
    fn without_a_code_of_the_table_the_case_is_not_judged() {
        let table = &contract().table;
        let e = expect(json!({"status": error_status(), "retryable": true}));
        assert_eq!(expected(table, &e, "/expect", None), None);
        assert_eq!(expected(table, &e, "/expect", Some("no_such_code")), None);
    }
}
