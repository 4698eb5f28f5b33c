//! `status`: the HTTP status is the one the case expects. A redirect is named as one, since
//! errcontract never follows it and a reader would otherwise wonder why the target was not
//! reached.

use super::{CheckName, Finding};
use crate::case::Expect;
use crate::probe::Incoming;

pub(super) fn check(e: &Expect, base: &str, resp: &Incoming) -> Option<Finding> {
    if resp.status == e.status {
        return None;
    }
    let actual = match (resp.status, resp.header("location")) {
        (300..=399, Some(loc)) => format!(
            "{} (a redirect to {loc}; errcontract never follows redirects)",
            resp.status
        ),
        _ => resp.status.to_string(),
    };
    Some(Finding::new(CheckName::Status, e.status.to_string(), actual).at(format!("{base}/status")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{expect, response};

    #[test]
    fn the_expected_status_passes() {
        let e = expect(json!({"status": 202}));
        assert_eq!(check(&e, "/expect", &response(202, &[], "")), None);
    }

    #[test]
    fn another_status_fails_at_the_expected_status() {
        let e = expect(json!({"status": 202}));
        let f = check(&e, "/steps/1/expect", &response(200, &[], "")).expect("a finding");
        assert_eq!(f.check, CheckName::Status);
        assert_eq!(f.expected, "202");
        assert_eq!(f.actual, "200");
        assert_eq!(f.expected_at.as_deref(), Some("/steps/1/expect/status"));
    }

    #[test]
    fn a_redirect_is_named_with_its_location() {
        let e = expect(json!({"status": 202}));
        let resp = response(302, &[("location", "https://elsewhere.example/v2")], "");
        let f = check(&e, "/expect", &resp).expect("a finding");
        assert_eq!(
            f.actual,
            "302 (a redirect to https://elsewhere.example/v2; errcontract never follows redirects)"
        );
    }

    #[test]
    fn a_location_outside_a_redirect_is_not_mentioned() {
        let e = expect(json!({"status": 202}));
        let resp = response(201, &[("location", "/v2/videos/1")], "");
        assert_eq!(
            check(&e, "/expect", &resp).expect("a finding").actual,
            "201"
        );
    }
}
