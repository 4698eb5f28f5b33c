//! `rate_limit_headers`: `X-RateLimit-Limit`, `-Remaining` and `-Reset`, where present, are what
//! a client's throttling logic can use: non-negative integers, Remaining no more than Limit, and
//! Reset a unix time in seconds (the usual mistakes, milliseconds and a countdown, are named).
//! Every problem is one line of a single finding, since they share one fix.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{CheckName, Finding};
use crate::probe::Incoming;

/// How far `X-RateLimit-Reset` may be from now, in seconds, to be a plausible unix time.
pub const MAX_RESET_SKEW_S: i64 = 86_400;

pub(super) fn check(resp: &Incoming, now: SystemTime) -> Option<Finding> {
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
    let limit = num("x-ratelimit-limit");
    let remaining = num("x-ratelimit-remaining");
    let reset = num("x-ratelimit-reset");
    let mut problems: Vec<String> = [
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
    ]
    .into_iter()
    .filter_map(|name| super::singleton::repeated(resp, name))
    .map(|repeated| format!("{repeated} (one value is allowed)"))
    .collect();
    problems.extend(
        [&limit, &remaining, &reset]
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_ref().err().cloned()),
    );
    if let (Some(Ok(l)), Some(Ok(r))) = (&limit, &remaining)
        && r > l
    {
        problems.push(format!(
            "X-RateLimit-Remaining {r} is more than X-RateLimit-Limit {l}"
        ));
    }
    if let Some(Ok(reset)) = reset {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if (reset - now).abs() > MAX_RESET_SKEW_S {
            let hint = if reset > 1_000_000_000_000 {
                "; it looks like milliseconds"
            } else if reset < 1_000_000_000 {
                "; it looks like a countdown"
            } else {
                ""
            };
            problems.push(format!(
                "X-RateLimit-Reset {reset} is not a unix time in seconds near now ({now}){hint}"
            ));
        }
    }
    (!problems.is_empty()).then(|| {
        Finding::new(
            CheckName::RateLimitHeaders,
            "X-RateLimit-Limit/Remaining/Reset: non-negative integers, Remaining <= Limit, Reset a unix time in seconds",
            problems.join("; "),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{NOW_S, now, response};

    fn problems(headers: &[(&str, &str)]) -> Option<String> {
        check(&response(200, headers, ""), now()).map(|f| {
            assert_eq!(f.check, CheckName::RateLimitHeaders);
            assert_eq!(f.expected_at, None);
            f.actual
        })
    }

    #[test]
    fn absent_or_well_formed_headers_pass() {
        assert_eq!(problems(&[]), None);
        let reset = (NOW_S + 60).to_string();
        assert_eq!(
            problems(&[
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "60"),
                ("x-ratelimit-reset", &reset),
            ]),
            None
        );
    }

    #[test]
    fn a_value_that_is_not_a_non_negative_integer_is_quoted() {
        assert_eq!(
            problems(&[("x-ratelimit-limit", "-1")]).as_deref(),
            Some("x-ratelimit-limit: \"-1\" (not a non-negative integer)")
        );
        assert_eq!(
            problems(&[("x-ratelimit-remaining", "99999999999999999999")]).as_deref(),
            Some("x-ratelimit-remaining: 99999999999999999999 (too large)")
        );
    }

    #[test]
    fn remaining_above_limit_fails() {
        assert_eq!(
            problems(&[("x-ratelimit-limit", "10"), ("x-ratelimit-remaining", "11")]).as_deref(),
            Some("X-RateLimit-Remaining 11 is more than X-RateLimit-Limit 10")
        );
    }

    #[test]
    fn a_reset_far_from_now_names_the_likely_mistake() {
        let ms = (NOW_S * 1000).to_string();
        assert_eq!(
            problems(&[("x-ratelimit-reset", &ms)]),
            Some(format!(
                "X-RateLimit-Reset {ms} is not a unix time in seconds near now ({NOW_S}); it looks like milliseconds"
            ))
        );
        assert_eq!(
            problems(&[("x-ratelimit-reset", "30")]),
            Some(format!(
                "X-RateLimit-Reset 30 is not a unix time in seconds near now ({NOW_S}); it looks like a countdown"
            ))
        );
        let later = NOW_S as i64 + MAX_RESET_SKEW_S + 1;
        assert_eq!(
            problems(&[("x-ratelimit-reset", &later.to_string())]),
            Some(format!(
                "X-RateLimit-Reset {later} is not a unix time in seconds near now ({NOW_S})"
            ))
        );
        let edge = (NOW_S as i64 + MAX_RESET_SKEW_S).to_string();
        assert_eq!(problems(&[("x-ratelimit-reset", &edge)]), None);
    }

    #[test]
    fn every_problem_is_one_line_of_one_finding() {
        assert_eq!(
            problems(&[("x-ratelimit-limit", "many"), ("x-ratelimit-reset", "soon")]).as_deref(),
            Some(
                "x-ratelimit-limit: \"many\" (not a non-negative integer); x-ratelimit-reset: \"soon\" (not a non-negative integer)"
            )
        );
    }
}
