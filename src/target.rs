//! The target under test: its base URL, the keys it was given by role, the features it offers,
//! and the secrets derived from those keys (for redaction and leak detection).

use std::collections::{BTreeMap, BTreeSet};

use crate::case::{Feature, Role};
use crate::redact::Secrets;

/// The target under test.
#[derive(Debug, Clone)]
pub struct Target {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Whether this is the built-in reference server (all roles and features; nothing billable).
    pub reference: bool,
    /// Keys by role.
    pub keys: BTreeMap<Role, String>,
    /// Features the target offers.
    pub features: BTreeSet<Feature>,
    /// Every key, for redaction and leak detection.
    pub secrets: Secrets,
    /// Whether the server lives in this process and ends with the run (the harness's built-in
    /// server), so a reproduction must say how to start one again.
    pub in_process: bool,
}

impl Target {
    /// How reports name the built-in reference server: its port differs from process to
    /// process, and the fragments of one run must name one target.
    pub const REFERENCE: &'static str = "(the built-in reference server)";

    /// The target as reports name it: its base URL, or [`Target::REFERENCE`].
    pub fn identity(&self) -> &str {
        if self.reference {
            Self::REFERENCE
        } else {
            &self.base_url
        }
    }

    /// A target with these keys; the secrets are derived from them.
    pub fn new(
        base_url: &str,
        reference: bool,
        keys: BTreeMap<Role, String>,
        features: BTreeSet<Feature>,
    ) -> Self {
        let mut secrets = Secrets::new();
        for (role, key) in &keys {
            secrets.add(role.env_var().unwrap_or("ERRCONTRACT_API_KEY"), key);
        }
        Target {
            base_url: base_url.trim_end_matches('/').to_string(),
            reference,
            keys,
            features,
            in_process: false,
            secrets,
        }
    }
}
