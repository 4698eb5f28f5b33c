//! Benchmark (not a test): the cost of checking one error response (schema, table and field
//! checks) and of loading and linting 1,000 case files. Goals: under 5 µs and under 100 ms.
//!
//! Run: `cargo bench --bench checks` (release). Prints one line per measurement.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use errcontract::case;
use errcontract::check::{CheckContext, check_response};
use errcontract::contract::{Contract, default_schemas_dir};
use errcontract::probe::Incoming;
use errcontract::redact::Secrets;

const CASE: &str = r#"{
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

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let contract = Contract::load(&default_schemas_dir()).expect("schemas compile");
    let dir = tempfile::tempdir().expect("tempdir");
    let one = dir.path().join("images/x.json");
    std::fs::create_dir_all(one.parent().expect("parent")).expect("mkdir");
    std::fs::write(&one, CASE).expect("write");
    let c = case::load(dir.path(), &one, &contract).expect("the bench case loads");
    let (_, step) = &c.steps[0];
    let mut secrets = Secrets::new();
    secrets.add("ERRCONTRACT_API_KEY", "sk_live_bench_0123456789abcdef");
    let body = r#"{"error":{"message":"Unsupported resolution '4K' for model 'seedream-5-lite'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;
    let response = Incoming {
        status: 400,
        reason: "Bad Request".into(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), body.len().to_string()),
        ],
        body: Bytes::from_static(body.as_bytes()),
    };
    let ctx = CheckContext {
        contract: &contract,
        expect: Some((&step.expect, "/expect")),
        secrets: &secrets,
        request: None,
        now: SystemTime::now(),
    };
    assert!(
        check_response(&ctx, &response).passed(),
        "the bench response conforms"
    );

    // 1. Checking one error response.
    let iterations = 20_000;
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        for _ in 0..iterations {
            black_box(check_response(black_box(&ctx), black_box(&response)));
        }
        rounds.push(started.elapsed() / iterations);
    }
    let per_check = median(rounds);
    println!(
        "check one error response (status, envelope, schema, table, code, param, message, retryable, no_leak): {:.2} µs median of 7 rounds x {iterations} (goal < 5 µs)",
        per_check.as_nanos() as f64 / 1000.0
    );

    // 2. Loading and linting 1,000 case files.
    let many = tempfile::tempdir().expect("tempdir");
    for i in 0..10_000 {
        let area = many.path().join(format!("area{}", i % 10));
        std::fs::create_dir_all(&area).expect("mkdir");
        std::fs::write(
            area.join(format!("case-{i:05}.json")),
            CASE.replace(" N", &format!(" {i}")),
        )
        .expect("write");
    }
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let loaded = case::load_all(many.path(), &contract).expect("load");
        rounds.push(started.elapsed());
        assert_eq!(loaded.cases.len(), 10_000);
        assert!(loaded.broken.is_empty());
    }
    println!(
        "load and lint 10,000 case files (read, UTF-8, depth, JSON, duplicate keys, case.schema.json, table lint): {:.1} ms median of 5 (goal < 100 ms)",
        median(rounds).as_secs_f64() * 1000.0
    );
}
