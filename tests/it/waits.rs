//! Waits never stall the run: a `Retry-After` or a spent window holds back only its key and
//! endpoint, and a wait longer than a case may afford ends the cases it blocks at once,
//! inconclusive, saying what the target asked; the other endpoints' cases run on. A wiremock
//! target on loopback.

use std::process::Output;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{RESOLUTION_CASE, UNKNOWN_PATH_CASE, VALID_KEY};
use crate::tls::text;

const NOT_FOUND: &str = r#"{"error":{"message":"Unknown path.","type":"invalid_request_error","param":null,"code":"not_found","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;
const RATE_LIMITED: &str = r#"{"error":{"message":"Too many requests.","type":"invalid_request_error","param":null,"code":"rate_limit","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;
const BAD_RESOLUTION: &str = r#"{"error":{"message":"Unsupported resolution '4K' for model 'seedream-5-lite'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;

/// Three image-generation cases and three cases on other paths.
fn cases() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..3 {
        let images = dir.path().join(format!("images/resolution-{i}.json"));
        std::fs::create_dir_all(images.parent().expect("parent")).expect("mkdir");
        std::fs::write(&images, RESOLUTION_CASE).expect("write");
        let routing = dir.path().join(format!("routing/r{i}.json"));
        std::fs::create_dir_all(routing.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            routing,
            UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", &format!("/v2/no-such-thing-{i}")),
        )
        .expect("write");
    }
    dir
}

async fn run(base: &str, envs: &[(&str, &str)]) -> Output {
    let cases = cases();
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env("ERRCONTRACT_BASE_URL", base)
        .env("ERRCONTRACT_API_KEY", VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_MAX_INCONCLUSIVE", "1")
        // Bounds the run had it stalled: its deadline ends every case left, and says so.
        .env("ERRCONTRACT_RUN_DEADLINE_S", "20")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("ERRCONTRACT_EXPECTATIONS");
    for var in crate::tls::AMBIENT {
        cmd.env_remove(var);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("runs");
    drop(cases);
    out
}

/// Whether libtest's line for the trial says it passed.
fn passed(out: &str, trial: &str) -> bool {
    out.lines()
        .any(|l| l.starts_with(&format!("test {trial} ")) && l.ends_with("... ok"))
}

async fn not_found_elsewhere(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(NOT_FOUND, "application/json"))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_retry_after_ends_only_the_cases_it_blocks_and_says_what_was_asked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/images/generations"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(RATE_LIMITED, "application/json")
                .insert_header("Retry-After", "3000"),
        )
        .mount(&server)
        .await;
    not_found_elsewhere(&server).await;
    let out = run(&server.uri(), &[]).await;
    let all = text(&out);
    assert!(
        all.contains(
            "asked to wait 3000 s before the next POST /v2/images/generations with the valid key (Retry-After)"
        ),
        "{all}"
    );
    assert!(
        !all.contains("run deadline"),
        "nothing waited for the deadline:\n{all}"
    );
    for i in 0..3 {
        assert!(
            passed(&all, &format!("case::routing/r{i}")),
            "the other endpoints' cases ran:\n{all}"
        );
    }
    let posts = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1, "nothing was sent into the held window:\n{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_in_milliseconds_is_a_finding_and_a_capped_wait_not_a_stall() {
    let server = MockServer::start().await;
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() + 60_000)
        .to_string();
    Mock::given(method("POST"))
        .and(path("/v2/images/generations"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(BAD_RESOLUTION, "application/json")
                .insert_header("X-RateLimit-Limit", "3")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", ms.as_str()),
        )
        .mount(&server)
        .await;
    not_found_elsewhere(&server).await;
    let out = run(&server.uri(), &[("ERRCONTRACT_THROTTLE_BUDGET_S", "5")]).await;
    let all = text(&out);
    assert!(all.contains("it looks like milliseconds"), "{all}");
    assert!(
        all.contains("asked to wait 60 s before the next POST /v2/images/generations with the valid key (its rate-limit window is spent until the reset)"),
        "the wait is capped at a window's length, and more than the case may wait:\n{all}"
    );
    assert!(!all.contains("run deadline"), "{all}");
    assert!(passed(&all, "case::routing/r0"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ietf_draft_ratelimit_field_holds_its_window_too() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/images/generations"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_raw(BAD_RESOLUTION, "application/json")
                .insert_header("RateLimit-Policy", r#""images";q=3;w=3600"#)
                .insert_header("RateLimit", r#""images";r=0;t=3000"#),
        )
        .mount(&server)
        .await;
    not_found_elsewhere(&server).await;
    let out = run(&server.uri(), &[]).await;
    let all = text(&out);
    assert!(
        all.contains("asked to wait 3000 s before the next POST /v2/images/generations with the valid key (its rate-limit window is spent until the reset)"),
        "{all}"
    );
    assert!(passed(&all, "case::routing/r1"), "{all}");
}
