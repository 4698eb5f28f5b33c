//! `json`: an error body is one JSON value a client can rely on. Parsing refuses what serde_json
//! would accept or what clients disagree on: a byte-order mark, nesting deep enough to overflow
//! a recursive parser, and duplicate keys (serde_json keeps the last copy, others the first).

use serde_json::Value;

use super::{CheckName, Finding};
use crate::locate;

const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];

/// The body as JSON, or the finding that says why it is not.
pub(super) fn parse(bytes: &[u8]) -> Result<Value, Finding> {
    let not_json = |actual: String| Finding::new(CheckName::Json, "a JSON body", actual);
    if bytes.starts_with(BOM) {
        return Err(not_json(
            "the body starts with a UTF-8 byte-order mark (EF BB BF), which JSON forbids".into(),
        ));
    }
    let (depth, _) = locate::nesting_depth(bytes, locate::MAX_DEPTH);
    if depth > locate::MAX_DEPTH {
        return Err(not_json(format!(
            "JSON nested deeper than {} levels",
            locate::MAX_DEPTH
        )));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        not_json(if bytes.is_empty() {
            "an empty body".into()
        } else if std::str::from_utf8(bytes).is_err() {
            "the body is not valid UTF-8".into()
        } else {
            format!(
                "not JSON: {} at line {} column {}",
                crate::locate::strip_position(&e.to_string()),
                e.line(),
                e.column()
            )
        })
    })
}

/// A key repeated within one object of a body that parsed.
pub(super) fn duplicate_key(bytes: &[u8]) -> Option<Finding> {
    locate::first_duplicate_key(bytes).map(|key| {
        Finding::new(
            CheckName::Json,
            "each key once per object",
            format!("duplicate key {key:?} (clients disagree on which copy wins)"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(bytes: &[u8]) -> String {
        let f = parse(bytes).expect_err("not JSON");
        assert_eq!(
            (f.check, f.expected.as_str()),
            (CheckName::Json, "a JSON body")
        );
        f.actual
    }

    #[test]
    fn one_json_value_parses() {
        let v = parse(br#"{"error": {"code": "x"}}"#).expect("JSON");
        assert_eq!(v["error"]["code"], "x");
        assert_eq!(duplicate_key(br#"{"a": {"b": 1}, "b": 2}"#), None);
    }

    #[test]
    fn a_byte_order_mark_is_refused() {
        assert_eq!(
            refusal(b"\xEF\xBB\xBF{}"),
            "the body starts with a UTF-8 byte-order mark (EF BB BF), which JSON forbids"
        );
    }

    #[test]
    fn nesting_past_the_bound_is_refused_and_up_to_it_parses() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(nested(locate::MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(
            refusal(nested(locate::MAX_DEPTH + 1).as_bytes()),
            format!("JSON nested deeper than {} levels", locate::MAX_DEPTH)
        );
    }

    #[test]
    fn empty_invalid_utf8_and_malformed_bodies_are_told_apart() {
        assert_eq!(refusal(b""), "an empty body");
        assert_eq!(refusal(b"{\"a\": \"\xFF\"}"), "the body is not valid UTF-8");
        assert_eq!(
            refusal(b"{\"a\": 1,\n}"),
            "not JSON: trailing comma at line 2 column 1"
        );
    }

    #[test]
    fn a_duplicate_key_is_named() {
        let f = duplicate_key(br#"{"error": {"code": "a", "code": "b"}}"#).expect("a finding");
        assert_eq!(f.check, CheckName::Json);
        assert_eq!(f.expected, "each key once per object");
        assert_eq!(
            f.actual,
            "duplicate key \"code\" (clients disagree on which copy wins)"
        );
    }
}
