//! The case model: what a case file says (serde, unknown keys rejected) and the loaded case.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

/// The largest case file accepted.
pub const MAX_CASE_BYTES: usize = 1024 * 1024;

/// The name prefix of every trial of a case file.
pub const TRIAL_PREFIX: &str = "case::";

/// The name prefix of every trial derived from a template.
pub const DERIVED_PREFIX: &str = "derived::";

/// An auth role: which credentials a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// `ERRCONTRACT_API_KEY`: a key with a balance.
    Valid,
    /// No Authorization header at all.
    None,
    /// A bearer token that is not an `sk_` key.
    Malformed,
    /// `ERRCONTRACT_REVOKED_API_KEY`.
    Revoked,
    /// `ERRCONTRACT_ZERO_BALANCE_API_KEY`.
    ZeroBalance,
    /// `ERRCONTRACT_THROTTLED_API_KEY`.
    Throttled,
}

impl Role {
    /// The role's name in case files.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Valid => "valid",
            Role::None => "none",
            Role::Malformed => "malformed",
            Role::Revoked => "revoked",
            Role::ZeroBalance => "zero_balance",
            Role::Throttled => "throttled",
        }
    }

    /// The environment variable that holds this role's key, for roles that need one.
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Role::Valid => Some("ERRCONTRACT_API_KEY"),
            Role::Revoked => Some("ERRCONTRACT_REVOKED_API_KEY"),
            Role::ZeroBalance => Some("ERRCONTRACT_ZERO_BALANCE_API_KEY"),
            Role::Throttled => Some("ERRCONTRACT_THROTTLED_API_KEY"),
            Role::None | Role::Malformed => None,
        }
    }

    /// Every role.
    pub const ALL: [Role; 6] = [
        Role::Valid,
        Role::None,
        Role::Malformed,
        Role::Revoked,
        Role::ZeroBalance,
        Role::Throttled,
    ];
}

/// A target feature a case may require.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// The target answers 500 `server_error` on `X-Errcontract-Fault: server_error`.
    FaultInjection,
    /// The target refuses prompts containing `errcontract-trigger:content-policy`.
    ContentPolicyTrigger,
    /// The target fails videos whose prompt contains `errcontract-trigger:video-failure`.
    VideoFailureTrigger,
}

impl Feature {
    /// The feature's name in case files and `ERRCONTRACT_FEATURES`.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::FaultInjection => "fault_injection",
            Feature::ContentPolicyTrigger => "content_policy_trigger",
            Feature::VideoFailureTrigger => "video_failure_trigger",
        }
    }

    /// Every feature.
    pub const ALL: [Feature; 3] = [
        Feature::FaultInjection,
        Feature::ContentPolicyTrigger,
        Feature::VideoFailureTrigger,
    ];

    /// Parse a feature name.
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// An item of `requires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(untagged)]
pub enum Requirement {
    /// A key role.
    Role(Role),
    /// A target feature.
    Feature(Feature),
}

/// Which credentials a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Auth {
    /// A role.
    Role(Role),
    /// An explicit Authorization header value (not a secret: it is in the case file).
    Explicit {
        /// The header value, sent as is.
        authorization: String,
    },
}

impl Default for Auth {
    fn default() -> Self {
        Auth::Role(Role::Valid)
    }
}

/// An HTTP method a case may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Method {
    /// GET
    GET,
    /// POST
    POST,
    /// PUT
    PUT,
    /// PATCH
    PATCH,
    /// DELETE
    DELETE,
    /// HEAD
    HEAD,
    /// OPTIONS
    OPTIONS,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            Method::OPTIONS => "OPTIONS",
        }
    }
}

/// What to send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// The method.
    pub method: Method,
    /// The path below the base URL, with `{placeholders}`.
    pub path: String,
    /// Query parameters.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Credentials.
    #[serde(default)]
    pub auth: Auth,
    /// A JSON body.
    #[serde(default)]
    pub json: Option<Value>,
    /// A raw body.
    #[serde(default)]
    pub body: Option<String>,
    /// A generated JSON body of exactly this many bytes.
    #[serde(default)]
    pub body_size: Option<usize>,
}

/// An expectation on one header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    /// Must be present (true) or absent (false).
    #[serde(default)]
    pub present: Option<bool>,
    /// Must match this regex.
    #[serde(default)]
    pub matches: Option<String>,
}

/// The terminal poll object is a failed generation with this error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureExpect {
    /// The error code.
    pub code: String,
    /// A substring of the message.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// A regex the message matches.
    #[serde(default)]
    pub message_matches: Option<String>,
}

/// What the answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The HTTP status.
    pub status: u16,
    /// The error code.
    #[serde(default)]
    pub code: Option<String>,
    /// The error's param: `Some(None)` is an explicit null.
    #[serde(default, deserialize_with = "explicit_null")]
    pub param: Option<Option<String>>,
    /// Whether the error is retryable (must agree with the table).
    #[serde(default)]
    pub retryable: Option<bool>,
    /// A substring of `error.message`.
    #[serde(default)]
    pub message_contains: Option<String>,
    /// A regex `error.message` matches.
    #[serde(default)]
    pub message_matches: Option<String>,
    /// Header expectations, by header name.
    #[serde(default)]
    pub headers: BTreeMap<String, HeaderExpect>,
    /// A subset the JSON body must contain.
    #[serde(default)]
    pub body: Option<Box<serde_json::Map<String, Value>>>,
    /// The terminal object is a failed generation.
    #[serde(default)]
    pub failure: Option<Box<FailureExpect>>,
}

fn explicit_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Polling: repeat the step's request until a terminal status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Poll {
    /// JSON Pointer to the status field.
    #[serde(default = "default_poll_field")]
    pub field: String,
    /// Terminal values of the status field.
    pub terminal: Vec<String>,
    /// Wait between polls.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
    /// Give up after this long.
    #[serde(default = "default_poll_timeout")]
    pub timeout_ms: u64,
}

fn default_poll_field() -> String {
    "/status".into()
}
fn default_interval() -> u64 {
    500
}
fn default_poll_timeout() -> u64 {
    60_000
}

/// One step of a flow.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A name for output.
    #[serde(default)]
    pub name: Option<String>,
    /// What to send.
    pub request: RequestSpec,
    /// What must come back (for a polled step: the terminal response).
    pub expect: Expect,
    /// Values to capture: name → JSON Pointer into the response body.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Poll until terminal.
    #[serde(default)]
    pub poll: Option<Box<Poll>>,
}

/// A case file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// The editor's schema link.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// What the case proves.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// A link.
    #[serde(default)]
    pub see: Option<String>,
    /// A static ignore reason.
    #[serde(default)]
    pub ignore: Option<String>,
    /// Preconditions.
    #[serde(default)]
    pub requires: Vec<Requirement>,
    /// Whether a wrong acceptance would bill.
    #[serde(default)]
    pub billable_if_accepted: bool,
    /// A one-step case's request.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// A one-step case's expectation.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// A flow's steps.
    #[serde(default)]
    pub steps: Option<Vec<Step>>,
}

/// A loaded, linted case. It holds no copy of its file's text: a failure re-reads the file to
/// point at lines (cases built from text in memory keep theirs).
#[derive(Debug, Clone)]
pub struct Case {
    /// `area/name`: the path below the cases directory without `.json`.
    pub name: String,
    /// The file, as given (relative to the working directory when possible).
    pub path: PathBuf,
    /// The text of a case that has no file (built in memory).
    pub(crate) text: Option<Arc<str>>,
    /// What the case proves.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// A static ignore reason (a ticket).
    pub ignore: Option<String>,
    /// Preconditions.
    pub requires: Vec<Requirement>,
    /// Whether a wrong acceptance would bill.
    pub billable_if_accepted: bool,
    /// The steps (one for a simple case), each with the JSON Pointer of its base in the file.
    pub steps: Vec<(String, Step)>,
    /// For a case derived from a template: the fault it injects.
    pub derived: Option<Arc<Derived>>,
}

/// What a derived case injects into its template's valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The template file.
    pub template: PathBuf,
    /// The fault's name: `drop/prompt`, `type/prompt/number`.
    pub fault: String,
    /// The fault in words: ``dropped `prompt` ``.
    pub words: String,
    /// The parameters it faults (`auth` for the credentials), for the coverage matrix.
    pub faulted: Vec<String>,
    /// Whether a value it sends comes from a model's list (the target's own may change it).
    pub from_model: bool,
    /// Why it is not sent to this target: the model lists leave no value to try.
    pub untried: Option<String>,
}

impl Case {
    /// The trial name: `case::<area>/<name>`, or `derived::<template>/<fault>`.
    pub fn trial_name(&self) -> String {
        let prefix = if self.derived.is_some() {
            DERIVED_PREFIX
        } else {
            TRIAL_PREFIX
        };
        format!("{prefix}{}", self.name)
    }

    /// The case file's text: kept for in-memory cases, read again from the file otherwise.
    pub fn text(&self) -> std::io::Result<Arc<str>> {
        match &self.text {
            Some(t) => Ok(t.clone()),
            None => std::fs::read_to_string(&self.path).map(Arc::from),
        }
    }

    /// Everything the target must offer: `requires` plus the roles of every step's auth.
    pub fn requirements(&self) -> BTreeSet<Requirement> {
        let mut all: BTreeSet<Requirement> = self.requires.iter().copied().collect();
        for (_, step) in &self.steps {
            if let Auth::Role(role) = step.request.auth {
                all.insert(Requirement::Role(role));
            }
        }
        all
    }

    /// The error codes this case expects, in step order.
    pub fn expected_codes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for (_, step) in &self.steps {
            if let Some(c) = &step.expect.code {
                out.push(c.as_str());
            }
            if let Some(f) = &step.expect.failure {
                out.push(f.code.as_str());
            }
        }
        out
    }
}
