//! The status/code table (`schemas/codes.json`): each code's one HTTP status, whether it is
//! retryable, and its `Retry-After` rule. The only place outside the reference server that
//! knows what a code means.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::EMBEDDED_CODES;

/// Whether a code's responses carry `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterRule {
    /// Every response with this code carries `Retry-After`.
    Required,
    /// It may carry one.
    Allowed,
    /// It must not: the error is not retryable.
    Forbidden,
}

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRow {
    /// The one HTTP status of this code.
    pub status: u16,
    /// Whether a client may retry the same request.
    pub retryable: bool,
    /// The `Retry-After` rule.
    pub retry_after: RetryAfterRule,
    /// What the code means.
    pub description: String,
    /// What a client does about it.
    #[serde(default)]
    pub fix: Option<String>,
    /// This code says the API key itself was refused.
    #[serde(default)]
    pub refuses_key: bool,
    /// A target may give this code without looking at the key (an unknown path, an outage or
    /// an injected fault, throttling at its edge): such an answer says nothing of the key.
    #[serde(default)]
    pub answered_before_key: bool,
}

/// The status/code table: code → row.
#[derive(Debug, Clone)]
pub struct CodeTable {
    rows: BTreeMap<String, CodeRow>,
}

#[derive(Deserialize)]
struct CodesFile {
    codes: BTreeMap<String, CodeRow>,
}

impl CodeTable {
    /// Parse the text of a `codes.json`.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let file: serde_json::Value = serde_json::from_str(text)?;
        let file: CodesFile = serde_json::from_value(file)?;
        Ok(CodeTable { rows: file.codes })
    }

    /// The table compiled into this binary.
    pub fn embedded() -> Self {
        // The embedded table is checked by every test run (`contract::tests`), so it parses.
        Self::parse(EMBEDDED_CODES).expect("the embedded schemas/codes.json parses")
    }

    /// The row of a code, if the table has it.
    pub fn get(&self, code: &str) -> Option<&CodeRow> {
        self.rows.get(code)
    }

    /// The status of a code, if the table has it.
    pub fn status_of(&self, code: &str) -> Option<u16> {
        self.get(code).map(|r| r.status)
    }

    /// Every code with this status, in table order.
    pub fn codes_with_status(&self, status: u16) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|(_, r)| r.status == status)
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// Whether some code of the table has this status.
    pub fn has_status(&self, status: u16) -> bool {
        self.rows.values().any(|r| r.status == status)
    }

    /// All codes, sorted.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.rows.keys().map(String::as_str)
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether `status` is how the target says "slow down": the status of a retryable code
    /// whose responses must carry `Retry-After`. Such a response to a step that did not expect
    /// it is waited out, not judged.
    pub fn is_throttle_status(&self, status: u16) -> bool {
        self.rows
            .values()
            .any(|r| r.status == status && r.retryable && r.retry_after == RetryAfterRule::Required)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The status of the code that refuses the API key itself, if the table marks one.
    pub fn key_refusal_status(&self) -> Option<u16> {
        self.rows.values().find(|r| r.refuses_key).map(|r| r.status)
    }

    /// Whether an answer with `status` shows the key was looked at and accepted: a success, or
    /// the status of codes that come only after the key (none `answered_before_key`, none
    /// refusing it). A status outside the table (a proxy's 405 or 413) shows nothing.
    pub fn shows_key_accepted(&self, status: u16) -> bool {
        if (200..300).contains(&status) {
            return true;
        }
        let mut rows = self.rows.values().filter(|r| r.status == status).peekable();
        rows.peek().is_some() && rows.all(|r| !r.answered_before_key && !r.refuses_key)
    }
}
