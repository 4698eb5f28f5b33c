//! A failed check, and the one way to build one, so every finding carries the same parts in the
//! same shape whichever check made it.

use serde_json::Value;

use super::CheckName;

/// One failed check.
///
/// Build it with [`Finding::new`], then [`Finding::at`] and [`Finding::with_detail`] as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Which check.
    pub check: CheckName,
    /// The JSON Pointer, in the case file, of the expectation that failed (None for contract
    /// rules that hold whatever the case says).
    pub expected_at: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What came.
    pub actual: String,
    /// More lines (schema violations, hints).
    pub detail: Vec<String>,
}

impl Finding {
    /// A finding of `check`: what was expected and what came, tied to no line of the case.
    pub fn new(check: CheckName, expected: impl Into<String>, actual: impl Into<String>) -> Self {
        Finding {
            check,
            expected_at: None,
            expected: expected.into(),
            actual: actual.into(),
            detail: Vec::new(),
        }
    }

    /// Tie the finding to the expectation at this JSON Pointer of the case file.
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        self.expected_at = Some(pointer.into());
        self
    }

    /// Add lines shown below expected and actual.
    pub fn with_detail(mut self, lines: Vec<String>) -> Self {
        self.detail = lines;
        self
    }
}

/// A JSON value as a finding shows what came: its JSON text, or `(missing)`.
pub(super) fn shown(value: Option<&Value>) -> String {
    match value {
        None => "(missing)".into(),
        Some(v) => v.to_string(),
    }
}

/// `1 violation`, `3 violations`.
pub(super) fn violations(n: usize) -> String {
    format!("{n} violation{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_then_at_then_detail_fills_every_field() {
        let f = Finding::new(CheckName::Code, "\"a\"", "\"b\"")
            .at("/expect/code")
            .with_detail(vec!["one".into(), "two".into()]);
        assert_eq!(f.check, CheckName::Code);
        assert_eq!(f.expected, "\"a\"");
        assert_eq!(f.actual, "\"b\"");
        assert_eq!(f.expected_at.as_deref(), Some("/expect/code"));
        assert_eq!(f.detail, ["one", "two"]);
    }

    #[test]
    fn new_alone_is_tied_to_no_expectation_and_has_no_detail() {
        let f = Finding::new(CheckName::Json, "a JSON body", "an empty body");
        assert_eq!(f.expected_at, None);
        assert!(f.detail.is_empty());
    }

    #[test]
    fn shown_is_json_text_or_missing() {
        assert_eq!(shown(None), "(missing)");
        assert_eq!(shown(Some(&Value::Null)), "null");
        assert_eq!(shown(Some(&Value::String("x".into()))), "\"x\"");
    }

    #[test]
    fn violations_counts_in_the_singular_and_plural() {
        assert_eq!(violations(1), "1 violation");
        assert_eq!(violations(2), "2 violations");
    }
}
