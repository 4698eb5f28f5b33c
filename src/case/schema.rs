//! `case.schema.json` violations in a case author's words: which key, what is allowed there,
//! and what to write instead.

use serde_json::Value;

use crate::locate;

pub(super) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turn a schema violation into words a case author acts on, and the pointer to show.
pub(super) fn explain_schema_error(
    value: &Value,
    pointer: &str,
    err: &jsonschema::ValidationError<'_>,
) -> Explained {
    use jsonschema::error::ValidationErrorKind as K;
    let (pointer, message, help) = explain(value, pointer, err);
    let kind = match err.kind() {
        K::AdditionalProperties { .. } => Violation::UnknownKey,
        K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } if pointer.is_empty() => {
            Violation::CaseShape
        }
        _ => Violation::Other,
    };
    Explained {
        kind,
        pointer,
        message,
        help,
    }
}

/// Which kind of violation, for the loader's decisions (never a message's prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Violation {
    /// A key the schema does not allow: pointed at by its key, not its value.
    UnknownKey,
    /// Neither request + expect nor steps.
    CaseShape,
    /// Anything else.
    Other,
}

/// One violation, explained.
pub(super) struct Explained {
    pub kind: Violation,
    pub pointer: String,
    pub message: String,
    pub help: Option<String>,
}

fn explain(
    value: &Value,
    pointer: &str,
    err: &jsonschema::ValidationError<'_>,
) -> (String, String, Option<String>) {
    use jsonschema::error::ValidationErrorKind as K;
    match err.kind() {
        K::AdditionalProperties { unexpected } => {
            let key = unexpected.first().cloned().unwrap_or_default();
            let allowed = allowed_keys(pointer);
            (
                format!("{pointer}/{}", locate::escape(&key)),
                format!("unknown key {key:?}"),
                Some(match allowed {
                    Some(list) => format!("the keys allowed here are: {list}"),
                    None => "remove it, or check its spelling against schemas/case.schema.json".into(),
                }),
            )
        }
        K::OneOfNotValid { .. } | K::OneOfMultipleValid { .. } if pointer.is_empty() => (
            String::new(),
            "a case has either \"request\" and \"expect\", or \"steps\"".into(),
            Some("a one-request case: request + expect; a flow: steps (each with request and expect)".into()),
        ),
        K::Not { .. } if pointer.ends_with("/request") => (
            pointer.to_string(),
            "a request has at most one body: json, body or body_size".into(),
            None,
        ),
        K::AnyOf { .. } | K::Enum { .. } | K::Constant { .. } => {
            let found = value.pointer(pointer).map(|v| v.to_string()).unwrap_or_default();
            let tokens: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
            let parent = if tokens.len() >= 2 { tokens[tokens.len() - 2] } else { "" };
            let last = tokens.last().copied().unwrap_or("");
            let (what, help) = match (parent, last) {
                ("tags", _) => ("unknown tag", "use a tag listed in schemas/case.schema.json#/$defs/tag (an area, a code or a topic), or one of your own starting with x- (x-acme-nightly)"),
                ("requires", _) => ("unknown requirement", "use a role (valid, none, malformed, revoked, zero_balance, throttled) or a feature (fault_injection, content_policy_trigger, video_failure_trigger)"),
                (_, "auth") => ("unknown auth", "use a role (valid, none, malformed, revoked, zero_balance, throttled) or {\"authorization\": \"<header value>\"}"),
                (_, "method") => ("unknown method", "use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
                (_, "code") => ("", "use a code of schemas/codes.json"),
                _ => return (pointer.to_string(), err.to_string(), None),
            };
            let message = if what.is_empty() {
                format!("{found} is not a code of the table")
            } else {
                format!("{what} {found}")
            };
            (pointer.to_string(), message, Some(help.to_string()))
        }
        K::Type { .. } => {
            let actual = value.pointer(pointer).map(json_kind).unwrap_or("nothing");
            (pointer.to_string(), format!("{err}, found {actual}"), None)
        }
        _ => (pointer.to_string(), err.to_string(), None),
    }
}

fn allowed_keys(pointer: &str) -> Option<&'static str> {
    let tokens: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let last = tokens.last().copied().unwrap_or("");
    let prev = if tokens.len() >= 2 {
        tokens[tokens.len() - 2]
    } else {
        ""
    };
    Some(match (prev, last) {
        (_, "") => {
            "$schema, description, tags, see, ignore, requires, billable_if_accepted, request, expect, steps"
        }
        (_, "request") => "method, path, query, headers, auth, json, body, body_size",
        (_, "expect") => {
            "status, code, param, retryable, message_contains, message_matches, headers, body, failure"
        }
        ("steps", _) => "name, request, expect, capture, poll",
        (_, "poll") => "field, terminal, interval_ms, timeout_ms",
        (_, "failure") => "code, message_contains, message_matches",
        _ => return None,
    })
}
