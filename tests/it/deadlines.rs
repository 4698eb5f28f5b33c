//! Deadlines: a target that accepts connections and never answers, or a poll that never ends,
//! cannot hang a run. Each case ends failed (or inconclusive past the run deadline) and says
//! which limit passed, through the runner and through the whole `errcontract run` binary.
//!
//! The bounds asserted here are hang detectors (the run ends at all, well before a hang would
//! be noticed), not performance expectations.

use std::io::Read;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use errcontract::run::Outcome;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, Raw};

/// A flow with a poll that may take a minute: only the case deadline can end it early.
fn video_flow(timeout_ms: u64) -> String {
    format!(
        r#"{{
  "description": "a submitted video polls to completed",
  "tags": ["videos", "async"],
  "steps": [
    {{
      "name": "submit",
      "request": {{ "method": "POST", "path": "/v2/videos/generations", "json": {{ "model": "seedance-v1-pro", "prompt": "waves" }} }},
      "expect": {{ "status": 202 }},
      "capture": {{ "id": "/id" }}
    }},
    {{
      "name": "poll",
      "request": {{ "method": "GET", "path": "/v2/videos/generations/{{id}}" }},
      "poll": {{ "terminal": ["completed", "failed"], "interval_ms": 50, "timeout_ms": {timeout_ms} }},
      "expect": {{ "status": 200, "body": {{ "status": "completed" }} }}
    }}
  ]
}}"#
    )
}

/// A video API whose videos stay `pending` forever.
async fn forever_pending() -> MockServer {
    let server = MockServer::start().await;
    let pending = json!({"id": "req-01HXYZVIDEO1234", "status": "pending"});
    Mock::given(method("POST"))
        .and(path("/v2/videos/generations"))
        .respond_with(ResponseTemplate::new(202).set_body_json(&pending))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/v2/videos/generations/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&pending))
        .mount(&server)
        .await;
    server
}

fn failed_with(result: &errcontract::run::CaseResult, check: &str) -> bool {
    matches!(result.outcome, Outcome::Failed { .. })
        && support::failed_checks(result).contains(&check)
}

#[tokio::test]
async fn a_silent_target_fails_the_case_at_the_request_timeout() {
    let base = support::raw_server(Raw::Silent).await;
    let mut settings = support::settings();
    settings.timeout = Duration::from_secs(1);
    let runner = support::runner_with(&base, settings, support::keys());
    let case = support::case("deadlines/silent", support::RESOLUTION_CASE);
    let started = Instant::now();
    let result = runner.run_case(&case).await;
    let elapsed = started.elapsed();
    let rendered = errcontract::report::failure(&case, &result, runner.target());
    eprintln!("silent target, 1 s request timeout: ended in {elapsed:?}");
    assert!(failed_with(&result, "transport"), "{rendered}");
    assert!(
        rendered.contains("timed out after 1s (ERRCONTRACT_TIMEOUT_S)"),
        "{rendered}"
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

#[tokio::test]
async fn the_case_deadline_ends_a_case_the_request_timeout_would_not() {
    let base = support::raw_server(Raw::Silent).await;
    let mut settings = support::settings();
    settings.timeout = Duration::from_secs(60);
    settings.case_deadline = Duration::from_secs(1);
    let runner = support::runner_with(&base, settings, support::keys());
    let case = support::case("deadlines/case-deadline", support::RESOLUTION_CASE);
    let started = Instant::now();
    let result = runner.run_case(&case).await;
    let elapsed = started.elapsed();
    let rendered = errcontract::report::failure(&case, &result, runner.target());
    eprintln!("silent target, 60 s request timeout, 1 s case deadline: ended in {elapsed:?}");
    assert!(failed_with(&result, "transport"), "{rendered}");
    assert!(
        rendered.contains("the case deadline passed")
            && rendered.contains("ERRCONTRACT_CASE_DEADLINE_S"),
        "{rendered}"
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

#[tokio::test]
async fn a_poll_that_never_terminates_is_inconclusive_still_processing() {
    let server = forever_pending().await;
    let runner = support::runner(&server.uri());
    let case = support::case("deadlines/forever-pending", &video_flow(600));
    let started = Instant::now();
    let result = runner.run_case(&case).await;
    let elapsed = started.elapsed();
    eprintln!("forever pending, 600 ms poll timeout: ended in {elapsed:?}");
    match &result.outcome {
        Outcome::Inconclusive(why) => {
            let why = why.to_string();
            assert!(
                why.contains("still processing after") && why.contains("still \"pending\""),
                "{why}"
            );
        }
        other => panic!("a slow job is no breach of the contract: {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

/// The waits between polls are off the case's clock (a video takes minutes), so the run
/// deadline bounds them.
#[tokio::test]
async fn the_run_deadline_cuts_a_long_poll_short() {
    let server = forever_pending().await;
    let mut settings = support::settings();
    settings.case_deadline = Duration::from_secs(1);
    settings.run_deadline = Duration::from_secs(2);
    let runner = support::runner_with(&server.uri(), settings, support::keys());
    // The poll itself would give up after a minute.
    let case = support::case("deadlines/long-poll", &video_flow(60_000));
    let started = Instant::now();
    let result = runner.run_case(&case).await;
    let elapsed = started.elapsed();
    eprintln!("forever pending, 60 s poll timeout, 2 s run deadline: ended in {elapsed:?}");
    match &result.outcome {
        Outcome::Inconclusive(why) => {
            assert!(
                why.to_string().contains("ERRCONTRACT_RUN_DEADLINE_S"),
                "{why}"
            );
        }
        other => panic!("expected inconclusive at the run deadline, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

#[tokio::test]
async fn cases_under_way_or_started_after_the_run_deadline_are_inconclusive() {
    let base = support::raw_server(Raw::Silent).await;
    let mut settings = support::settings();
    settings.timeout = Duration::from_millis(500);
    settings.run_deadline = Duration::from_millis(300);
    let runner = support::runner_with(&base, settings, support::keys());
    let case = support::case("deadlines/run-deadline", support::RESOLUTION_CASE);
    // The first case starts in time; the run deadline passes while its request is unanswered
    // (the request timeout is later), so it ends there, inconclusive, not failed; the next one
    // must not be sent at all.
    let started = std::time::Instant::now();
    let first = runner.run_case(&case).await;
    assert!(
        matches!(first.outcome, Outcome::Inconclusive(_)),
        "{:?}",
        first.outcome
    );
    assert!(
        started.elapsed() < Duration::from_millis(480),
        "ended at the run deadline"
    );
    let second = runner.run_case(&case).await;
    match &second.outcome {
        Outcome::Inconclusive(why) => {
            assert!(
                why.to_string().contains("ERRCONTRACT_RUN_DEADLINE_S"),
                "{why}"
            );
            assert!(
                second.steps.is_empty(),
                "nothing is sent after the deadline"
            );
        }
        other => panic!("expected inconclusive, got {other:?}"),
    }
}

/// A target on loopback that accepts every connection and never answers, served from a plain
/// thread so it outlives no runtime and needs none.
fn silent_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            // Hold the connection open, unread and unanswered.
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

#[test]
fn the_whole_run_against_a_silent_target_ends_in_bounded_time() {
    let base = silent_target();
    let reports = tempfile::tempdir().expect("tempdir");
    let cases = crate::support::root().join("cases");
    let started = Instant::now();
    let mut child = crate::support::errcontract()
        .args(["run", "--test-threads", "4"])
        .env("ERRCONTRACT_BASE_URL", &base)
        .env("ERRCONTRACT_CASES", &cases)
        .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
        .env("ERRCONTRACT_REVOKED_API_KEY", support::REVOKED_KEY)
        .env("ERRCONTRACT_ZERO_BALANCE_API_KEY", support::ZERO_KEY)
        .env("ERRCONTRACT_THROTTLED_API_KEY", support::THROTTLED_KEY)
        .env(
            "ERRCONTRACT_FEATURES",
            "fault_injection,content_policy_trigger,video_failure_trigger",
        )
        .env("ERRCONTRACT_ALLOW_BILLABLE", "1")
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_TIMEOUT_S", "1")
        .env("ERRCONTRACT_RUN_DEADLINE_S", "2")
        // The stopped-answering guard would end this run first (tests/it/gate.rs has it).
        .env("ERRCONTRACT_MAX_TIMEOUTS", "1000000")
        .env("ERRCONTRACT_REPORT_DIR", reports.path())
        .env_remove("ERRCONTRACT_CASE_DEADLINE_S")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("errcontract runs");
    // Read both pipes on threads so a full pipe never stalls the child.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let bound = Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for errcontract") {
            break status;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!("errcontract run did not end within {bound:?} against a silent target");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed = started.elapsed();
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    eprintln!("errcontract run against a silent target: exit {status}, ended in {elapsed:?}");
    assert!(
        !status.success(),
        "a run where every case timed out must fail\n{stdout}"
    );
    assert!(
        stdout.contains("timed out after 1s (ERRCONTRACT_TIMEOUT_S)"),
        "stdout must name the timeout:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ERRCONTRACT_RUN_DEADLINE_S"),
        "cases past the run deadline must say so:\n{stdout}"
    );
    // No case passed: each failed at its timeout or was cut off by the run deadline.
    let passed = stdout.lines().filter(|l| l.ends_with("... ok")).count();
    assert_eq!(passed, 0, "{stdout}");
    let report = std::fs::read_to_string(reports.path().join("report.json"))
        .expect("report.json is written even when every case timed out");
    assert!(report.contains("inconclusive"), "{report}");
}
