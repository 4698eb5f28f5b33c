//! The guards against runs that prove nothing or mislead, each run as a user runs it against a
//! wiremock or raw-TCP target, each with its own exit code and a message saying what to do;
//! the README's exit-code table lists every code.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use errcontract::exit;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{self, UNKNOWN_PATH_CASE};

fn cases(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn errcontract(cases: &Path, envs: &[(&str, &str)]) -> Command {
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases)
        .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("ERRCONTRACT_EXPECTATIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A target that answers every request as the routing cases expect: 404 `not_found`.
async fn not_found_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_json(envelope("not_found")))
        .mount(&server)
        .await;
    server
}

fn envelope(code: &str) -> serde_json::Value {
    serde_json::json!({"error": {"message": "m", "type": "invalid_request_error", "param": null,
        "code": code, "doc_url": "https://docs.getimg.ai/guides/errors"}})
}

/// Cases on distinct paths, each its own rate window, each expecting a 404.
fn routing_cases(n: usize) -> tempfile::TempDir {
    let files: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("routing/r{i}"),
                UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", &format!("/v2/no-such-thing-{i}")),
            )
        })
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    cases(&files)
}

#[test]
fn a_filter_that_selects_no_case_is_refused_not_green() {
    let dir = routing_cases(1);
    let o = errcontract(dir.path(), &[])
        .arg("no-such-case")
        .output()
        .expect("runs");
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::NO_CASE_RUN)),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("no case matches the filter \"no-such-case\" (of 1 cases)"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_blank_base_url_is_refused_not_swapped_for_the_built_in_server() {
    let dir = routing_cases(1);
    let o = errcontract(dir.path(), &[("ERRCONTRACT_BASE_URL", "")])
        .output()
        .expect("runs");
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::BLANK_TARGET)),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("set but empty"), "{}", text(&o));
    assert!(!text(&o).contains("running "), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_report_directory_is_found_before_anything_is_sent() {
    let server = not_found_server().await;
    let dir = routing_cases(2);
    // A regular file where the directory should be: no one can write below it.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").expect("write");
    let reports = blocker.join("reports");
    let cmd = errcontract(
        dir.path(),
        &[
            ("ERRCONTRACT_BASE_URL", &server.uri()),
            ("ERRCONTRACT_REPORT_DIR", reports.to_str().expect("utf-8")),
        ],
    );
    let o = output(cmd).await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::REPORT_DIR_UNWRITABLE)),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("cannot write reports to"), "{}", text(&o));
    let sent = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(
        sent, 0,
        "nothing may be sent before the reports are known to be writable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_key_case_refused_says_the_key_is_wrong() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_json(envelope("invalid_api_key")))
        .mount(&server)
        .await;
    let dir = routing_cases(3);
    let reports = tempfile::tempdir().expect("temp dir");
    let o = output(errcontract(
        dir.path(),
        &[
            ("ERRCONTRACT_BASE_URL", &server.uri()),
            (
                "ERRCONTRACT_REPORT_DIR",
                reports.path().to_str().expect("utf-8"),
            ),
        ],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::KEY_REJECTED)),
        "{}",
        text(&o)
    );
    assert!(
        text(&o)
            .contains("every case whose answer depends on the valid key (3) was refused with 401")
            && text(&o).contains("check ERRCONTRACT_API_KEY"),
        "{}",
        text(&o)
    );
    // The report says which guard fired as data, for CI to branch on without reading prose.
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(reports.path().join("report.json")).expect("report.json"),
    )
    .expect("json");
    crate::gate::valid_report(&doc);
    let guard = &doc["guards"][0];
    assert_eq!(guard["guard"], "key_rejected", "{guard}");
    assert_eq!(guard["status"], 401, "{guard}");
    assert_eq!(guard["exit_code"], exit::KEY_REJECTED, "{guard}");
    assert_eq!(doc["exit_code"], exit::KEY_REJECTED);
}

/// A target whose key check comes after routing and fault injection, as most do: unknown
/// paths get 404 and a fault header 500 whatever the key, everything else 401.
async fn wrong_key_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path_regex("^/v2/no-such-thing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(envelope("not_found")))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::header_exists("x-errcontract-fault"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(envelope("server_error"))
                .append_header("Retry-After", "1"),
        )
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_json(envelope("invalid_api_key")))
        .mount(&server)
        .await;
    server
}

/// Two routing cases and a fault case (answered before the key) beside three that the key
/// decides.
fn cases_some_answered_before_the_key() -> tempfile::TempDir {
    let fault = r#"{
  "description": "fault", "tags": ["images", "server_error"], "requires": ["fault_injection"],
  "request": { "method": "POST", "path": "/v2/images/generations",
               "headers": { "X-Errcontract-Fault": "server_error" }, "json": { "model": "m", "prompt": "p" } },
  "expect": { "status": 500, "code": "server_error", "param": null, "retryable": true }
}"#;
    let mut files = vec![
        (
            "routing/r0",
            UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", "/v2/no-such-thing-0"),
        ),
        (
            "routing/r1",
            UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", "/v2/no-such-thing-1"),
        ),
        ("images/fault", fault.to_string()),
    ];
    for name in ["images/a", "images/b", "images/c"] {
        files.push((name, support::RESOLUTION_CASE.to_string()));
    }
    cases(&files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_named_though_routing_and_faults_are_answered_before_it() {
    let server = wrong_key_server().await;
    let dir = cases_some_answered_before_the_key();
    let envs = [
        ("ERRCONTRACT_BASE_URL", server.uri()),
        ("ERRCONTRACT_FEATURES", "fault_injection".to_string()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let o = output(errcontract(dir.path(), &envs)).await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::KEY_REJECTED)),
        "one process: {}",
        text(&o)
    );
    assert!(
        text(&o).contains("every case whose answer depends on the valid key (3) was refused"),
        "{}",
        text(&o)
    );

    // nextest: one process per case, each leaving its fragment, merged by `errcontract report`.
    let reports = tempfile::tempdir().expect("tempdir");
    let mut list = errcontract(dir.path(), &envs);
    list.args(["--list", "--format", "terse"]);
    let list = output(list).await;
    let names: Vec<String> = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(String::from)
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for name in &names {
        let mut cmd = errcontract(dir.path(), &envs);
        cmd.args([name.as_str(), "--exact", "--nocapture"])
            .env("ERRCONTRACT_REPORT_DIR", reports.path())
            .env("NEXTEST", "1")
            .env("NEXTEST_RUN_ID", "wrong-key")
            .env("NEXTEST_EXECUTION_MODE", "process-per-test");
        output(cmd).await;
    }
    let out = reports.path().join("merged");
    let m = crate::support::errcontract()
        .arg("report")
        .arg(reports.path())
        .arg("--out")
        .arg(&out)
        .env("ERRCONTRACT_CASES", dir.path())
        .output()
        .expect("errcontract report runs");
    assert_eq!(
        m.status.code(),
        Some(i32::from(exit::KEY_REJECTED)),
        "merged: {}",
        text(&m)
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    assert!(summary.contains("the key is wrong or expired"), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_inconclusive_cases_than_allowed_fail_the_run() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "100")
                .set_body_json(envelope("rate_limit")),
        )
        .mount(&server)
        .await;
    let dir = routing_cases(3);
    let uri = server.uri();
    let envs = [
        ("ERRCONTRACT_BASE_URL", uri.as_str()),
        ("ERRCONTRACT_THROTTLE_BUDGET_S", "1"),
    ];
    let o = output(errcontract(dir.path(), &envs)).await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::TOO_MANY_INCONCLUSIVE)),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains(
            "3 of 3 cases run were inconclusive, more than ERRCONTRACT_MAX_INCONCLUSIVE (20%)"
        ),
        "{}",
        text(&o)
    );
    // The share is the user's to set.
    let mut cmd = errcontract(dir.path(), &envs);
    cmd.env("ERRCONTRACT_MAX_INCONCLUSIVE", "100%");
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(i32::from(exit::OK)), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_spent_waiting_for_the_suite_own_limiter_never_fails_a_case() {
    let server = not_found_server().await;
    let dir = routing_cases(4);
    let uri = server.uri();
    // One request per second, one at a time, and half a second per case: the last case
    // waits ~3 s for the limiter, far past its own deadline.
    let o = output(errcontract(
        dir.path(),
        &[
            ("ERRCONTRACT_BASE_URL", uri.as_str()),
            ("ERRCONTRACT_RPS", "1"),
            ("ERRCONTRACT_CONCURRENCY", "1"),
            ("ERRCONTRACT_CASE_DEADLINE_S", "0.5"),
        ],
    ))
    .await;
    assert_eq!(o.status.code(), Some(i32::from(exit::OK)), "{}", text(&o));
    assert!(text(&o).contains("4 passed; 0 failed"), "{}", text(&o));
}

/// Issue 9's bound: against a server that never answers, the whole corpus with default
/// settings (30 s per request) ends within 2 minutes, saying why.
#[test]
fn a_target_that_stopped_answering_ends_the_run_in_bounded_time() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let corpus = crate::support::root().join("cases");
    let started = Instant::now();
    let mut cmd = errcontract(&corpus, &[("ERRCONTRACT_BASE_URL", &base)]);
    cmd.env_remove("ERRCONTRACT_RPS")
        .env_remove("ERRCONTRACT_TIMEOUT_S")
        .env_remove("ERRCONTRACT_MAX_TIMEOUTS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("runs");
    // Both pipes are read on threads, so a full pipe never stalls the run.
    let out = reader(child.stdout.take().expect("stdout"));
    let err = reader(child.stderr.take().expect("stderr"));
    let bound = Duration::from_secs(120);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > bound {
            let _ = child.kill();
            panic!("the run did not end within {bound:?} against a target that never answers");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().expect("status");
    let t = format!(
        "{}{}",
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default()
    );
    assert_eq!(
        status.code(),
        Some(i32::from(exit::STOPPED_ANSWERING)),
        "{t}"
    );
    assert!(
        t.contains("the target stopped answering: 5 requests in a row got no answer within 30s"),
        "{t}"
    );
    assert!(
        t.contains("inconclusive: the target stopped answering"),
        "{t}"
    );
}

fn reader(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_where_every_selected_case_is_ignored_tested_nothing() {
    let server = not_found_server().await;
    // Every case needs a feature this target is not said to have.
    let files: Vec<(String, String)> = (0..3)
        .map(|i| {
            (
                format!("routing/r{i}"),
                UNKNOWN_PATH_CASE.replace(
                    "\"tags\"",
                    "\"requires\": [\"fault_injection\"],\n  \"tags\"",
                ),
            )
        })
        .collect();
    let files: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let dir = cases(&files);
    let o = output(errcontract(
        dir.path(),
        &[("ERRCONTRACT_BASE_URL", &server.uri())],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::NO_CASE_RUN)),
        "{}",
        text(&o)
    );
    assert!(
        text(&o).contains("no case was run: every one of the 3 selected cases was ignored"),
        "{}",
        text(&o)
    );
    let sent = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hung_endpoint_among_answering_ones_fails_its_cases_not_the_run() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path_regex("^/v2/no-such-thing-[0-5]$"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(envelope("not_found"))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404).set_body_json(envelope("not_found")))
        .mount(&server)
        .await;
    // Cases 0-5 hang past the timeout; 6-17 are answered at once, at the same time.
    let dir = routing_cases(18);
    let uri = server.uri();
    let o = output(errcontract(
        dir.path(),
        &[
            ("ERRCONTRACT_BASE_URL", uri.as_str()),
            ("ERRCONTRACT_TIMEOUT_S", "1"),
            ("ERRCONTRACT_MAX_TIMEOUTS", "3"),
        ],
    ))
    .await;
    assert_eq!(
        o.status.code(),
        Some(i32::from(exit::FAILED)),
        "{}",
        text(&o)
    );
    assert!(!text(&o).contains("stopped answering"), "{}", text(&o));
    assert!(text(&o).contains("12 passed; 6 failed"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diff_names_the_cases_that_became_inconclusive() {
    let answering = not_found_server().await;
    let throttling = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "100")
                .set_body_json(envelope("rate_limit")),
        )
        .mount(&throttling)
        .await;
    let dir = routing_cases(2);
    let reports = tempfile::tempdir().expect("tempdir");
    for (run, uri) in [("old", answering.uri()), ("new", throttling.uri())] {
        let out = reports.path().join(run);
        let o = output(errcontract(
            dir.path(),
            &[
                ("ERRCONTRACT_BASE_URL", uri.as_str()),
                ("ERRCONTRACT_THROTTLE_BUDGET_S", "1"),
                ("ERRCONTRACT_MAX_INCONCLUSIVE", "100%"),
                ("ERRCONTRACT_REPORT_DIR", out.to_str().expect("utf-8")),
            ],
        ))
        .await;
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    }
    let d = crate::support::errcontract()
        .arg("diff")
        .arg(reports.path().join("old/report.json"))
        .arg(reports.path().join("new/report.json"))
        .output()
        .expect("diff runs");
    let md = String::from_utf8_lossy(&d.stdout);
    assert!(
        md.contains("## Newly inconclusive (2)\n\n- `case::routing/r0` (was passed, now inconclusive: inconclusive: throttled"),
        "{md}"
    );
    assert!(
        md.contains("Note: the runs tested different targets"),
        "{md}"
    );
}

#[test]
fn the_readme_lists_every_exit_code() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let table = readme
        .split("### Exit codes")
        .nth(1)
        .expect("an Exit codes section")
        .split("\n#")
        .next()
        .unwrap_or("");
    let listed: Vec<u8> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(' ').next())
        .filter_map(|c| c.parse().ok())
        .collect();
    let codes: Vec<u8> = exit::ALL.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        listed, codes,
        "README's exit-code table, in order, against src/exit.rs"
    );
}

/// What a user may set is documented: exit 8 for an empty key, and what `ERRCONTRACT_RPS=0`
/// means.
#[test]
fn the_readme_documents_an_empty_key_and_no_rate_limit() {
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).expect("README");
    let row = |start: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row("| 8 |").contains("ERRCONTRACT_API_KEY"),
        "{}",
        row("| 8 |")
    );
    assert!(
        row("| `ERRCONTRACT_RPS` |").contains("`0`: no limit"),
        "{}",
        row("| `ERRCONTRACT_RPS` |")
    );
}
