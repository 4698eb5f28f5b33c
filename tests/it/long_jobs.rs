//! Long-running jobs: a video that takes longer than a case's own `timeout_ms` is polled for
//! `ERRCONTRACT_POLL_BUDGET_S`, following the `Retry-After` the poll answers carry; one still
//! running when that budget ends is inconclusive, never a contract failure. A wiremock target.

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::VALID_KEY;
use crate::tls::text;

/// A flow whose poll gives up after 100 ms on its own.
const FLOW: &str = r#"{
  "description": "a submitted video polls to completed",
  "tags": ["videos", "async"],
  "steps": [
    {
      "name": "submit",
      "request": { "method": "POST", "path": "/v2/videos/generations", "json": { "model": "seedance-v1-pro", "prompt": "waves" } },
      "expect": { "status": 202 },
      "capture": { "id": "/id" }
    },
    {
      "name": "poll",
      "request": { "method": "GET", "path": "/v2/videos/generations/{id}" },
      "poll": { "terminal": ["completed", "failed"], "interval_ms": 20, "timeout_ms": 100 },
      "expect": { "status": 200, "body": { "status": "completed" } }
    }
  ]
}"#;

/// Videos that answer `pending` (with `Retry-After: 1`) to their first `pending_polls` polls.
async fn videos(pending_polls: u64) -> MockServer {
    let server = MockServer::start().await;
    let pending = json!({"id": "req-01HXYZVIDEO1234", "status": "pending"});
    Mock::given(method("POST"))
        .and(path("/v2/videos/generations"))
        .respond_with(ResponseTemplate::new(202).set_body_json(&pending))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v2/videos/generations/[^/]+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(&pending)
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(pending_polls)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v2/videos/generations/[^/]+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "req-01HXYZVIDEO1234", "status": "completed"})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

async fn run(base: &str, poll_budget_s: &str) -> std::process::Output {
    let cases = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(cases.path().join("videos")).expect("mkdir");
    std::fs::write(cases.path().join("videos/flow.json"), FLOW).expect("write");
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env("ERRCONTRACT_BASE_URL", base)
        .env("ERRCONTRACT_API_KEY", VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_ALLOW_BILLABLE", "1")
        .env("ERRCONTRACT_MAX_INCONCLUSIVE", "1")
        .env("ERRCONTRACT_POLL_BUDGET_S", poll_budget_s)
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("ERRCONTRACT_EXPECTATIONS");
    for var in crate::tls::AMBIENT {
        cmd.env_remove(var);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("runs");
    drop(cases);
    out
}

async fn polls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_slower_than_the_cases_timeout_completes_within_the_poll_budget() {
    let server = videos(2).await;
    let out = run(&server.uri(), "30").await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    // Retry-After: 1 was followed: three polls, not one every 20 ms.
    assert_eq!(polls(&server).await, 3, "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_still_running_when_the_budget_ends_is_inconclusive() {
    let server = videos(1000).await;
    let out = run(&server.uri(), "2").await;
    let all = text(&out);
    assert!(
        all.contains("inconclusive: still processing after")
            && all.contains("ERRCONTRACT_POLL_BUDGET_S"),
        "{all}"
    );
    assert!(!all.contains("[poll]"), "not a failure: {all}");
    assert_ne!(out.status.code(), Some(101), "{all}");
}
