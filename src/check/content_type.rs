//! `content_type`: an error body is declared `application/json`, once. Parameters such as
//! `charset` are allowed; a second `Content-Type` is a finding because clients disagree on which
//! one wins.

use super::{CheckName, Finding};
use crate::probe::Incoming;

pub(super) fn check(resp: &Incoming) -> Vec<Finding> {
    let mut out = Vec::new();
    let content_type = resp.header("content-type").unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        let actual = if content_type.is_empty() {
            "(no Content-Type)"
        } else {
            content_type
        };
        out.push(Finding::new(
            CheckName::ContentType,
            "application/json",
            actual,
        ));
    }
    if let Some(repeated) = super::singleton::repeated(resp, "Content-Type") {
        out.push(Finding::new(
            CheckName::ContentType,
            "one Content-Type field",
            repeated,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testing::{error_status, response};

    fn actual_of(headers: &[(&str, &str)]) -> Vec<String> {
        check(&response(error_status(), headers, "{}"))
            .into_iter()
            .inspect(|f| assert_eq!(f.check, CheckName::ContentType))
            .map(|f| f.actual)
            .collect()
    }

    #[test]
    fn json_with_parameters_in_any_case_passes() {
        assert!(actual_of(&[("content-type", "application/json")]).is_empty());
        assert!(actual_of(&[("content-type", "Application/JSON ; charset=utf-8")]).is_empty());
    }

    #[test]
    fn another_media_type_is_named() {
        assert_eq!(
            actual_of(&[("content-type", "text/html; charset=utf-8")]),
            ["text/html; charset=utf-8"]
        );
    }

    #[test]
    fn a_missing_content_type_says_so() {
        let f = check(&response(error_status(), &[], "{}"));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].expected, "application/json");
        assert_eq!(f[0].actual, "(no Content-Type)");
    }

    #[test]
    fn two_content_types_are_shown_both() {
        let f = check(&response(
            error_status(),
            &[
                ("content-type", "application/json"),
                ("content-type", "text/plain"),
            ],
            "{}",
        ));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].expected, "one Content-Type field");
        assert_eq!(
            f[0].actual,
            r#"2 Content-Type fields: "application/json", "text/plain""#
        );
    }
}
