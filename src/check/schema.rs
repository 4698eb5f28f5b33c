//! `schema` (and `doc_url`): the body against `error.schema.json`, every violation with its path
//! and schema location. A violation a more specific check names is reported under that check
//! instead, so each fault is named once, by the check a reader looks for: a bad `doc_url` is a
//! `doc_url` finding, and a string code outside the table is left to `table`.

use serde_json::Value;

use super::finding::{shown, violations};
use super::{CheckName, Finding};
use crate::contract::{Contract, SCHEMA_BASE, pointer_or_root};

/// `doc_url` findings first, then one `schema` finding listing the other violations.
pub(super) fn check(contract: &Contract, body: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    if contract.error.is_valid(body) {
        return out;
    }
    let string_code = body.pointer("/error/code").is_some_and(Value::is_string);
    let mut lines = Vec::new();
    for err in contract.error.iter_errors(body) {
        let at = err.instance_path().to_string();
        let location = err
            .absolute_keyword_location()
            .map(|u| u.as_str().trim_start_matches(SCHEMA_BASE).to_string())
            .unwrap_or_default();
        let line = format!("{}: {} ({location})", pointer_or_root(&at), err.masked());
        match at.as_str() {
            "/error/doc_url" => out.push(
                Finding::new(
                    CheckName::DocUrl,
                    "an absolute https URI",
                    shown(body.pointer(&at)),
                )
                .with_detail(vec![line]),
            ),
            "/error/code" if string_code => {}
            _ => lines.push(line),
        }
    }
    if !lines.is_empty() {
        out.push(
            Finding::new(
                CheckName::Schema,
                "a body valid against error.schema.json",
                violations(lines.len()),
            )
            .with_detail(lines),
        );
    }
    out
}

/// The note naming fields inside `error` that the schema does not define: allowed, since the
/// contract is forward compatible, but worth a reader's eye.
pub(super) fn extra_fields(contract: &Contract, body: &Value) -> Option<String> {
    let error = body.get("error").and_then(Value::as_object)?;
    let extra: Vec<&str> = error
        .keys()
        .filter(|k| !contract.error_fields.contains(k))
        .map(String::as_str)
        .collect();
    (!extra.is_empty()).then(|| {
        format!(
            "error has fields beyond the contract (allowed, forward compatible): {}",
            extra.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::check::testing::{code_with, contract, error_body};
    use crate::contract::RetryAfterRule;

    fn good() -> Value {
        error_body(code_with(RetryAfterRule::Forbidden).0)
    }

    #[test]
    fn a_conforming_body_has_no_violation_and_no_note() {
        assert_eq!(check(contract(), &good()), []);
        assert_eq!(extra_fields(contract(), &good()), None);
    }

    #[test]
    fn every_violation_is_listed_with_its_path_and_schema_location() {
        let mut body = good();
        body["error"]["type"] = json!("api_error");
        body["error"].as_object_mut().unwrap().remove("param");
        let f = check(contract(), &body);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, CheckName::Schema);
        assert_eq!(f[0].expected, "a body valid against error.schema.json");
        assert_eq!(f[0].actual, "2 violations");
        assert_eq!(f[0].expected_at, None);
        let joined = f[0].detail.join("\n");
        assert!(
            joined.contains(
                "/error: \"param\" is a required property (error.schema.json#/$defs/error/required)"
            ),
            "{joined}"
        );
        assert!(joined.contains("/error/type: "), "{joined}");
    }

    #[test]
    fn a_bad_doc_url_is_a_doc_url_finding_only() {
        let mut body = good();
        body["error"]["doc_url"] = json!("http://docs.getimg.ai/guides/errors");
        let f = check(contract(), &body);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].check, CheckName::DocUrl);
        assert_eq!(f[0].expected, "an absolute https URI");
        assert_eq!(f[0].actual, "\"http://docs.getimg.ai/guides/errors\"");
        assert_eq!(f[0].detail.len(), 1);
        assert!(
            f[0].detail[0].starts_with("/error/doc_url: "),
            "{:?}",
            f[0].detail
        );
    }

    #[test]
    fn a_string_code_outside_the_table_is_left_to_the_table_check() {
        let mut body = good();
        body["error"]["code"] = json!("no_such_code");
        assert_eq!(check(contract(), &body), []);
    }

    #[test]
    fn a_code_that_is_not_a_string_is_a_schema_violation() {
        let mut body = good();
        body["error"]["code"] = json!(7);
        let f = check(contract(), &body);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].actual, "1 violation");
        assert!(
            f[0].detail[0].ends_with(" (error.schema.json#/$defs/code/enum)")
                && f[0].detail[0].starts_with("/error/code: "),
            "{:?}",
            f[0].detail
        );
    }

    #[test]
    fn a_root_violation_is_shown_at_the_root() {
        let f = check(contract(), &json!([]));
        assert_eq!(f[0].check, CheckName::Schema);
        assert!(f[0].detail[0].starts_with("(root): "), "{:?}", f[0].detail);
    }

    #[test]
    fn fields_beyond_the_contract_are_a_note_in_body_order() {
        let mut body = good();
        body["error"]["request_id"] = json!("req_1");
        body["error"]["hint"] = json!("try again");
        assert_eq!(check(contract(), &body), []);
        assert_eq!(
            extra_fields(contract(), &body).as_deref(),
            Some(
                "error has fields beyond the contract (allowed, forward compatible): request_id, hint"
            )
        );
    }
}
