//! `body`: the JSON body contains the case's subset. Objects are compared key by key, anything
//! else by equality, so a case states only what it cares about; every miss is listed with its
//! pointer so one run shows them all.

use serde_json::{Map, Value};

use super::{CheckName, Finding};
use crate::contract::pointer_or_root;
use crate::locate;

pub(super) fn check(
    subset: &Map<String, Value>,
    base: &str,
    body: Option<&Value>,
) -> Option<Finding> {
    let mut misses = Vec::new();
    match body {
        Some(b) => object_misses(subset, b, "", &mut misses),
        None => misses.push("the body is not JSON".to_string()),
    }
    (!misses.is_empty()).then(|| {
        // The text of the object value, without cloning the map into one (it cannot fail).
        let expected = serde_json::to_string(subset).unwrap_or_default();
        Finding::new(CheckName::Body, expected, misses.join("; ")).at(format!("{base}/body"))
    })
}

fn object_misses(expected: &Map<String, Value>, actual: &Value, at: &str, out: &mut Vec<String>) {
    let Value::Object(actual) = actual else {
        out.push(format!("{}: {actual}", pointer_or_root(at)));
        return;
    };
    for (k, ev) in expected {
        let p = format!("{at}/{}", locate::escape(k));
        match actual.get(k) {
            Some(av) => value_misses(ev, av, &p, out),
            None => out.push(format!("{p}: missing")),
        }
    }
}

fn value_misses(expected: &Value, actual: &Value, at: &str, out: &mut Vec<String>) {
    match expected {
        Value::Object(e) => object_misses(e, actual, at, out),
        _ if expected == actual => {}
        _ => out.push(format!("{}: {actual}", pointer_or_root(at))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn subset(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("a subset is an object")
    }

    #[test]
    fn a_body_containing_the_subset_passes() {
        let s = subset(json!({"status": "pending", "meta": {"n": 1}}));
        let body = json!({"id": "v1", "status": "pending", "meta": {"n": 1, "m": 2}});
        assert_eq!(check(&s, "/expect", Some(&body)), None);
    }

    #[test]
    fn every_miss_is_listed_with_its_pointer() {
        let s = subset(json!({"status": "pending", "meta": {"a/b": 1}, "id": "v1"}));
        let body = json!({"status": "failed", "meta": {}});
        let f = check(&s, "/steps/0/expect", Some(&body)).expect("a finding");
        assert_eq!(f.check, CheckName::Body);
        assert_eq!(
            f.expected,
            r#"{"status":"pending","meta":{"a/b":1},"id":"v1"}"#
        );
        assert_eq!(
            f.actual,
            "/status: \"failed\"; /meta/a~1b: missing; /id: missing"
        );
        assert_eq!(f.expected_at.as_deref(), Some("/steps/0/expect/body"));
    }

    #[test]
    fn an_object_expected_where_another_value_came_is_shown() {
        let s = subset(json!({"meta": {"n": 1}}));
        let f = check(&s, "/expect", Some(&json!({"meta": [1]}))).expect("a finding");
        assert_eq!(f.actual, "/meta: [1]");
        let f = check(&s, "/expect", Some(&json!([]))).expect("a finding");
        assert_eq!(f.actual, "(root): []");
    }

    #[test]
    fn a_body_that_is_not_json_says_so() {
        let s = subset(json!({}));
        let f = check(&s, "/expect", None).expect("a finding");
        assert_eq!(
            (f.expected.as_str(), f.actual.as_str()),
            ("{}", "the body is not JSON")
        );
    }
}
