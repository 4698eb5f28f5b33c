//! Every call the benchmarks make into the errcontract library, in one place, so that when the
//! harness internals move only this file changes. Everything else drives the `errcontract`
//! binary through its user interface (arguments and `ERRCONTRACT_*` variables).
//!
//! Included by `benches/checks.rs` and `benches/suite.rs` with `#[path]`; a bench need not use
//! every function.
#![allow(dead_code)]

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use errcontract::case;
use errcontract::check::{CheckContext, check_response};
use errcontract::contract::{Contract, default_schemas_dir};
use errcontract::probe::Incoming;
use errcontract::redact::Secrets;

/// A case like those in `cases/`: 400 `invalid_parameter`, with the message, param and
/// retryability expected. ` N` is replaced to make copies distinct.
pub const CASE: &str = r#"{
  "$schema": "../../schemas/case.schema.json",
  "description": "4K is not a resolution seedream-5-lite supports (variant N)",
  "tags": ["images", "invalid_parameter"],
  "billable_if_accepted": true,
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "auth": "valid",
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk N", "resolution": "4K" }
  },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "resolution", "retryable": false, "message_contains": "4K" }
}"#;

/// The response [`CASE`] expects.
const BODY: &str = r#"{"error":{"message":"Unsupported resolution '4K' for model 'seedream-5-lite'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;

fn contract() -> Result<Contract, String> {
    Contract::load(&default_schemas_dir()).map_err(|e| format!("schemas do not compile: {e}"))
}

/// Time `check_response` on one conforming 400: `rounds` rounds of `iterations` checks each;
/// returns the time per check of every round.
pub fn time_check_one_response(iterations: u32, rounds: usize) -> Result<Vec<Duration>, String> {
    let contract = contract()?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let one = dir.path().join("images/x.json");
    std::fs::create_dir_all(dir.path().join("images")).map_err(|e| e.to_string())?;
    std::fs::write(&one, CASE).map_err(|e| e.to_string())?;
    let c = case::load(dir.path(), &one, &contract).map_err(|e| e.to_string())?;
    let (_, step) = &c.steps[0];
    let mut secrets = Secrets::new();
    secrets.add("ERRCONTRACT_API_KEY", "sk_live_bench_0123456789abcdef");
    let response = Incoming {
        status: 400,
        reason: "Bad Request".into(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), BODY.len().to_string()),
        ],
        body: Bytes::from_static(BODY.as_bytes()),
        decoded_from: None,
    };
    let ctx = CheckContext {
        contract: &contract,
        expect: Some((&step.expect, "/expect")),
        secrets: &secrets,
        request: None,
        now: SystemTime::now(),
    };
    if !check_response(&ctx, &response).passed() {
        return Err("the bench response does not conform".into());
    }
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(check_response(black_box(&ctx), black_box(&response)));
        }
        out.push(started.elapsed() / iterations);
    }
    Ok(out)
}

/// Time loading and linting every case file below `dir` (`rounds` times); each round must
/// load exactly `expected` clean cases.
pub fn time_load_all(dir: &Path, expected: usize, rounds: usize) -> Result<Vec<Duration>, String> {
    let contract = contract()?;
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        let loaded = case::load_all(dir, &contract).map_err(|e| e.to_string())?;
        out.push(started.elapsed());
        if loaded.cases.len() != expected || !loaded.broken.is_empty() {
            return Err(format!(
                "loaded {} clean and {} broken case files, expected {expected} clean",
                loaded.cases.len(),
                loaded.broken.len()
            ));
        }
        black_box(loaded);
    }
    Ok(out)
}

/// Start the reference server on the current tokio runtime with the `valid` workspace limited
/// to `limit` image generations per `window`; returns it and the `valid` key.
pub async fn start_reference(
    limit: u32,
    window: Duration,
) -> std::io::Result<(errcontract::reference::Running, String)> {
    let mut config = errcontract::reference::Config::default();
    config.valid.limits.image_rpm = limit;
    config.rate_window = window;
    let key = config.keys().valid;
    let server = errcontract::reference::start(config).await?;
    Ok((server, key))
}
