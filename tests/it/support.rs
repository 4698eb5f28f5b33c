//! Shared helpers for the self-tests: build cases from text, run them through the real
//! runner against a target the test controls (wiremock, a raw TCP server, the reference server).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use errcontract::case::{self, Case, Feature, Role};
use errcontract::contract::{Contract, default_schemas_dir};
use errcontract::probe::{Probe, ProbeConfig};
use errcontract::run::{CaseResult, Outcome, Runner};
use errcontract::settings::Settings;
use errcontract::target::Target;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The contract from `schemas/`, compiled once.
pub fn contract() -> Arc<Contract> {
    static C: OnceLock<Arc<Contract>> = OnceLock::new();
    C.get_or_init(|| Arc::new(Contract::load(&default_schemas_dir()).expect("schemas/ compiles")))
        .clone()
}

/// The guide's own example, the case most self-tests send: 4K on seedream-5-lite.
pub const RESOLUTION_CASE: &str = r#"{
  "description": "4K is not a resolution seedream-5-lite supports",
  "tags": ["images", "invalid_parameter"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk", "resolution": "4K" }
  },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "resolution", "message_contains": "4K" }
}"#;

/// A case for an unknown path: passes against the reference server, needs no key.
pub const UNKNOWN_PATH_CASE: &str = r#"{
  "description": "unknown path",
  "tags": ["routing", "not_found"],
  "request": { "method": "GET", "path": "/v2/no-such-thing" },
  "expect": { "status": 404, "code": "not_found", "param": null }
}"#;

/// Keys the test targets use; distinctive so leaks are easy to find.
pub const VALID_KEY: &str = "sk_test_selftest_valid_4f9a";
pub const REVOKED_KEY: &str = "sk_test_selftest_revoked_77c1";
pub const ZERO_KEY: &str = "sk_test_selftest_zero_0b3e";
pub const THROTTLED_KEY: &str = "sk_test_selftest_throttled_9d2f";

/// A case parsed from JSON text, as if it were `cases/<name>.json`.
pub fn case(name: &str, json: &str) -> Case {
    match try_case(name, json) {
        Ok(c) => c,
        Err(e) => panic!("test case {name} does not load:\n{e}"),
    }
}

/// Parse case text, returning the case errors.
pub fn try_case(name: &str, json: &str) -> Result<Case, case::CaseErrors> {
    let path = Path::new("cases").join(format!("{name}.json"));
    case::parse(name.to_string(), &path, json.as_bytes(), &contract())
}

/// Settings with the defaults and short timeouts suited to tests.
pub fn settings() -> Settings {
    let mut s = Settings::from_lookup(|_| None).expect("default settings");
    s.timeout = Duration::from_secs(2);
    s.connect_timeout = Duration::from_secs(1);
    s.case_deadline = Duration::from_secs(10);
    s.throttle_budget = Duration::from_secs(2);
    // A case's own poll timeout governs, as short as the test makes it.
    s.poll_budget = Duration::ZERO;
    s
}

/// Keys for every role.
pub fn keys() -> BTreeMap<Role, String> {
    BTreeMap::from([
        (Role::Valid, VALID_KEY.to_string()),
        (Role::Revoked, REVOKED_KEY.to_string()),
        (Role::ZeroBalance, ZERO_KEY.to_string()),
        (Role::Throttled, THROTTLED_KEY.to_string()),
    ])
}

/// A runner against `base_url` with every role and feature (treated like the reference server,
/// so billable cases run).
pub fn runner_with(base_url: &str, settings: Settings, keys: BTreeMap<Role, String>) -> Runner {
    // Direct: the targets are on loopback, whatever proxy the machine names.
    let probe = Probe::new(ProbeConfig::of(&settings, true)).expect("client builds");
    let target = Target::new(base_url, true, keys, Feature::ALL.into_iter().collect());
    Runner::new(probe, contract(), target, settings)
}

/// A runner with test settings and keys.
pub fn runner(base_url: &str) -> Runner {
    runner_with(base_url, settings(), keys())
}

/// Run one case text against `base_url`.
pub async fn run(base_url: &str, name: &str, json: &str) -> (Case, CaseResult) {
    let c = case(name, json);
    let r = runner(base_url).run_case(&c).await;
    (c, r)
}

/// The names of the checks that failed, sorted and deduplicated.
pub fn failed_checks(result: &CaseResult) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = result.findings().iter().map(|f| f.check.as_str()).collect();
    v.sort();
    v.dedup();
    v
}

/// Whether the case passed.
pub fn passed(result: &CaseResult) -> bool {
    matches!(result.outcome, Outcome::Passed)
}

/// What a raw TCP server does with each connection.
#[derive(Clone, Debug)]
pub enum Raw {
    /// Write these bytes, then close.
    Reply(Vec<u8>),
    /// Reset the connection (RST) after reading the request.
    Reset,
    /// Write these bytes one at a time with this pause between them.
    Trickle(Vec<u8>, Duration),
    /// Accept and never answer.
    Silent,
}

/// A raw TCP server on loopback; returns its base URL. It lives as long as the runtime.
pub async fn raw_server(behaviour: Raw) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = tokio::time::timeout(Duration::from_millis(500), sock.read(&mut buf)).await;
                match behaviour {
                    Raw::Reply(bytes) => {
                        let _ = sock.write_all(&bytes).await;
                        let _ = sock.shutdown().await;
                    }
                    Raw::Reset => {
                        let _ = sock.set_zero_linger();
                        drop(sock);
                    }
                    Raw::Trickle(bytes, pause) => {
                        for b in bytes {
                            if sock.write_all(&[b]).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(pause).await;
                        }
                    }
                    Raw::Silent => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// A one-request case text expecting an error.
pub fn error_case(
    method: &str,
    path: &str,
    status: u16,
    code: &str,
    param: Option<&str>,
) -> String {
    let param = match param {
        Some(p) => format!("\"{p}\""),
        None => "null".into(),
    };
    format!(
        r#"{{
  "description": "self-test",
  "tags": ["images"],
  "request": {{ "method": "{method}", "path": "{path}", "json": {{ "model": "m", "prompt": "p" }} }},
  "expect": {{ "status": {status}, "code": "{code}", "param": {param} }}
}}"#
    )
}

/// The repository's root: `cases/`, `schemas/`, `README.md`, the workflow. Self-tests find the
/// tree through this, never through the working directory (which is `tests/`, this package's).
pub fn root() -> &'static Path {
    static ROOT: OnceLock<std::path::PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the self-test package lives in the repository's tests/")
            .to_path_buf()
    })
}

/// The `errcontract` binary under test, as a command to add arguments to. The one place the
/// self-tests name it: this package builds it from the root's `src/main.rs` under a second
/// name, so that the main job never waits on it.
pub fn errcontract() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_errcontract-under-test"))
}
