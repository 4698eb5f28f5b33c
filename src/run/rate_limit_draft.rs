//! The IETF draft's rate-limit fields (draft-ietf-httpapi-ratelimit-headers): `RateLimit`
//! (`"default";r=50;t=30`: `r` requests left, `t` seconds to the reset) and `RateLimit-Policy`
//! (`"default";q=100;w=60`: `q` the quota). Both are Structured Field lists (RFC 9651, parsed by
//! `sfv`); a malformed field is ignored, as the draft tells clients to. The budget reads them
//! where a target sends no `X-RateLimit-*`; a `Retry-After` wins over both.

use std::time::Duration;

use sfv::{BareItem, List, ListEntry, Parser, key_ref};

use crate::probe::Incoming;

/// What the draft fields say of the tightest policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DraftLimit {
    /// Requests left (`r`).
    pub remaining: u64,
    /// Time to the reset (`t`).
    pub reset_in: Option<Duration>,
    /// The policy's quota (`q`), when `RateLimit-Policy` names it.
    pub limit: Option<u64>,
}

/// The tightest policy of `RateLimit` (fewest left), with its quota from `RateLimit-Policy`.
pub(super) fn read(r: &Incoming) -> Option<DraftLimit> {
    let limits = list(r, "ratelimit")?;
    let (name, remaining, reset_in) = limits
        .iter()
        .filter_map(|entry| {
            let ListEntry::Item(item) = entry else {
                return None;
            };
            let remaining = param(&item.params, "r")?;
            let reset_in = param(&item.params, "t").map(Duration::from_secs);
            Some((item.bare_item.clone(), remaining, reset_in))
        })
        .min_by_key(|(_, remaining, _)| *remaining)?;
    let limit = list(r, "ratelimit-policy").and_then(|policies| {
        policies.iter().find_map(|entry| match entry {
            ListEntry::Item(p) if p.bare_item == name => param(&p.params, "q"),
            _ => None,
        })
    });
    Some(DraftLimit {
        remaining,
        reset_in,
        limit,
    })
}

/// A field as a list; several field lines are one list (RFC 9651 3.1), joined in order.
fn list(r: &Incoming, name: &str) -> Option<List> {
    let joined = r
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if joined.is_empty() {
        return None;
    }
    let parsed: List = Parser::new(&joined).parse().ok()?;
    Some(parsed)
}

fn param(params: &sfv::Parameters, key: &str) -> Option<u64> {
    match params.get(key_ref(key)) {
        Some(BareItem::Integer(n)) => u64::try_from(i64::from(*n)).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::response;

    #[test]
    fn the_tightest_policy_and_its_quota_are_read() {
        let r = response(
            200,
            &[
                ("ratelimit", r#""burst";r=50;t=30, "day";r=3;t=600"#),
                (
                    "ratelimit-policy",
                    r#""burst";q=100;w=60, "day";q=1000;w=86400"#,
                ),
            ],
            "{}",
        );
        assert_eq!(
            read(&r),
            Some(DraftLimit {
                remaining: 3,
                reset_in: Some(Duration::from_secs(600)),
                limit: Some(1000),
            })
        );
    }

    #[test]
    fn a_malformed_or_missing_field_is_ignored() {
        assert_eq!(read(&response(200, &[("ratelimit", "r=;;")], "{}")), None);
        assert_eq!(read(&response(200, &[], "{}")), None);
    }
}
