//! Every named check against a wiremock target: a conforming server passes, and for each check
//! a response that breaks (as far as the contract allows) only that check fails, naming it. The
//! failure output of each is snapshot-tested so its quality can be reviewed.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support;

const IMAGES: &str = "/v2/images/generations";

const THROTTLED_CASE: &str = r#"{
  "description": "the throttled workspace gets 429 rate_limit",
  "tags": ["images", "rate_limit"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "auth": "throttled",
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" }
  },
  "expect": { "status": 429, "code": "rate_limit", "param": null, "retryable": true }
}"#;

const SUBMIT_CASE: &str = r#"{
  "description": "a video submission is accepted as pending",
  "tags": ["videos", "success"],
  "request": {
    "method": "POST",
    "path": "/v2/videos/generations",
    "json": { "model": "seedance-v1-pro", "prompt": "waves" }
  },
  "expect": { "status": 202, "body": { "status": "pending" }, "headers": { "X-Request-Id": { "present": true } } }
}"#;

const CAPTURE_CASE: &str = r#"{
  "description": "a submitted video can be polled by its id",
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
      "poll": { "terminal": ["completed", "failed"], "interval_ms": 20, "timeout_ms": 300 },
      "expect": { "status": 200, "failure": { "code": "server_error", "message_contains": "timed out" } }
    }
  ]
}"#;

fn error_body(message: &str, param: Value, code: &str) -> Value {
    json!({"error": {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
        "doc_url": "https://docs.getimg.ai/guides/errors"
    }})
}

fn good_400() -> Value {
    error_body(
        "Unsupported resolution '4K' for model 'seedream-5-lite'.",
        json!("resolution"),
        "invalid_parameter",
    )
}

fn json_response(status: u16, body: &Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string().into_bytes(), "application/json")
}

fn good_429() -> ResponseTemplate {
    json_response(
        429,
        &error_body("Too many requests.", Value::Null, "rate_limit"),
    )
    .insert_header("Retry-After", "1")
    .insert_header("X-RateLimit-Limit", "0")
    .insert_header("X-RateLimit-Remaining", "0")
    .insert_header("X-RateLimit-Reset", now_plus(60).as_str())
}

fn now_plus(secs: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (now + secs).to_string()
}

/// One row: a server, a case, and the checks that must fail (exactly).
struct Row {
    name: &'static str,
    case: &'static str,
    mounts: Vec<(&'static str, &'static str, ResponseTemplate)>,
    fails: &'static [&'static str],
}

fn rows() -> Vec<Row> {
    let mut dup = good_400().to_string();
    // The same object twice: parses (the last copy wins), but clients may keep either.
    dup = format!("{{\"error\":{},{}", good_400()["error"], &dup[1..]);
    let pending = json!({"id": "req-01HXYZVIDEO1234", "status": "pending"});
    vec![
        Row {
            name: "conforming_400",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, json_response(400, &good_400()))],
            fails: &[],
        },
        Row {
            name: "conforming_429",
            case: THROTTLED_CASE,
            mounts: vec![("POST", IMAGES, good_429())],
            fails: &[],
        },
        Row {
            name: "status",
            case: SUBMIT_CASE,
            mounts: vec![(
                "POST",
                "/v2/videos/generations",
                json_response(200, &pending).insert_header("X-Request-Id", "r1"),
            )],
            fails: &["status"],
        },
        Row {
            name: "content_type",
            case: support::RESOLUTION_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                ResponseTemplate::new(400)
                    .set_body_raw(good_400().to_string().into_bytes(), "text/plain"),
            )],
            fails: &["content_type"],
        },
        Row {
            name: "json",
            case: support::RESOLUTION_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                ResponseTemplate::new(400).set_body_raw(dup.into_bytes(), "application/json"),
            )],
            fails: &["json"],
        },
        Row {
            name: "schema",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["type"] = json!("api_error");
                json_response(400, &b)
            })],
            fails: &["schema"],
        },
        Row {
            name: "table",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["code"] = json!("not_found");
                json_response(400, &b)
            })],
            // A code the table gives another status is also not the code the case expects.
            fails: &["code", "table"],
        },
        Row {
            name: "code",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["code"] = json!("parameter_missing");
                json_response(400, &b)
            })],
            fails: &["code"],
        },
        Row {
            name: "param",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["param"] = json!("aspect_ratio");
                json_response(400, &b)
            })],
            fails: &["param"],
        },
        Row {
            name: "message",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["message"] = json!("Bad request.");
                json_response(400, &b)
            })],
            fails: &["message"],
        },
        Row {
            name: "retryable",
            case: support::RESOLUTION_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                json_response(400, &good_400()).insert_header("Retry-After", "5"),
            )],
            fails: &["retryable"],
        },
        Row {
            name: "retry_after_missing",
            case: THROTTLED_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                json_response(
                    429,
                    &error_body("Too many requests.", Value::Null, "rate_limit"),
                ),
            )],
            fails: &["retry_after"],
        },
        Row {
            name: "retry_after_garbage",
            case: THROTTLED_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                json_response(
                    429,
                    &error_body("Too many requests.", Value::Null, "rate_limit"),
                )
                .insert_header("Retry-After", "soon"),
            )],
            fails: &["retry_after"],
        },
        Row {
            name: "rate_limit_headers",
            case: THROTTLED_CASE,
            mounts: vec![(
                "POST",
                IMAGES,
                good_429().insert_header("X-RateLimit-Reset", "1795601099000"),
            )],
            fails: &["rate_limit_headers"],
        },
        Row {
            name: "doc_url",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["doc_url"] = json!("/guides/errors");
                json_response(400, &b)
            })],
            fails: &["doc_url"],
        },
        Row {
            name: "no_leak",
            case: support::RESOLUTION_CASE,
            mounts: vec![("POST", IMAGES, {
                let mut b = good_400();
                b["error"]["message"] =
                    json!("Unsupported resolution '4K' (at /srv/api/src/validate.rs:42)");
                json_response(400, &b)
            })],
            fails: &["no_leak"],
        },
        Row {
            name: "headers",
            case: SUBMIT_CASE,
            mounts: vec![(
                "POST",
                "/v2/videos/generations",
                json_response(202, &pending),
            )],
            fails: &["headers"],
        },
        Row {
            name: "body",
            case: SUBMIT_CASE,
            mounts: vec![(
                "POST",
                "/v2/videos/generations",
                json_response(
                    202,
                    &json!({"id": "req-01HXYZVIDEO1234", "status": "queued"}),
                )
                .insert_header("X-Request-Id", "r1"),
            )],
            fails: &["body"],
        },
        Row {
            name: "capture",
            case: CAPTURE_CASE,
            mounts: vec![(
                "POST",
                "/v2/videos/generations",
                json_response(202, &json!({"status": "pending"})),
            )],
            fails: &["capture"],
        },
        Row {
            name: "poll",
            case: CAPTURE_CASE,
            mounts: vec![
                (
                    "POST",
                    "/v2/videos/generations",
                    json_response(202, &pending),
                ),
                (
                    "GET",
                    "/v2/videos/generations/req-01HXYZVIDEO1234",
                    // Failed as the case expects, but with an empty `id`.
                    json_response(
                        200,
                        &json!({"id": "", "status": "failed", "error":
                            {"code": "server_error", "message": "Generation timed out."}}),
                    ),
                ),
            ],
            fails: &["poll"],
        },
        Row {
            name: "poll_conforming",
            case: CAPTURE_CASE,
            mounts: vec![
                (
                    "POST",
                    "/v2/videos/generations",
                    json_response(202, &pending),
                ),
                (
                    "GET",
                    "/v2/videos/generations/req-01HXYZVIDEO1234",
                    json_response(
                        200,
                        &json!({"id": "req-01HXYZVIDEO1234", "status": "failed",
                                "error": {"code": "server_error", "message": "Upstream provider request timed out."}}),
                    ),
                ),
            ],
            fails: &[],
        },
    ]
}

/// Replace what changes from run to run (ports, timings, unix times) so snapshots are stable.
pub fn normalize(text: &str, base_url: &str) -> String {
    let text = text.replace(base_url, "http://TARGET");
    let ms = regex::Regex::new(r"\(\d+ ms").expect("regex");
    let text = ms.replace_all(&text, "(N ms");
    let polls = regex::Regex::new(r"\d+ polls in \d+ ms").expect("regex");
    let text = polls.replace_all(&text, "N polls in N ms");
    let requests = regex::Regex::new(r"\d+ requests").expect("regex");
    let text = requests.replace_all(&text, "N requests").into_owned();
    let unix = regex::Regex::new(r"\b1[7-9]\d{8}\b").expect("regex");
    unix.replace_all(&text, "UNIXTIME").into_owned()
}

#[tokio::test]
async fn each_check_fails_on_the_response_that_breaks_it() {
    let mut problems = Vec::new();
    for row in rows() {
        let server = MockServer::start().await;
        for (m, p, response) in row.mounts {
            Mock::given(method(m))
                .and(path(p))
                .respond_with(response)
                .mount(&server)
                .await;
        }
        let runner = support::runner(&server.uri());
        let case = support::case(&format!("self/{}", row.name), row.case);
        let result = runner.run_case(&case).await;
        let failed = support::failed_checks(&result);
        if failed != row.fails {
            problems.push(format!(
                "{}: expected failed checks {:?}, got {:?} ({:?})",
                row.name, row.fails, failed, result.outcome
            ));
            continue;
        }
        let message = errcontract::report::failure(&case, &result, runner.target());
        if row.fails.is_empty() {
            assert!(
                support::passed(&result),
                "{}: {:?}",
                row.name,
                result.outcome
            );
            continue;
        }
        for check in row.fails {
            assert!(
                message.contains(&format!("[{check}]")),
                "{}: the output does not name [{check}]:\n{message}",
                row.name
            );
        }
        assert!(message.contains("reproduce:"), "{message}");
        assert!(
            message.contains(&format!(
                "cargo test --test contract -- --exact case::self/{}",
                row.name
            )),
            "{message}"
        );
        for key in [support::VALID_KEY, support::THROTTLED_KEY] {
            assert!(
                !message.contains(key),
                "{}: the key is in the output",
                row.name
            );
        }
        insta::assert_snapshot!(
            format!("failure_{}", row.name),
            normalize(&message, &server.uri())
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn envelope_checks_run_on_every_error_response_whatever_the_case_expected() {
    // The case expects a success; the target answers an error that also breaks the envelope.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/videos/generations"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_raw("<html>Service Unavailable</html>", "text/html"),
        )
        .mount(&server)
        .await;
    let (_, result) = support::run(&server.uri(), "self/success", SUBMIT_CASE).await;
    assert_eq!(
        support::failed_checks(&result),
        vec!["body", "content_type", "headers", "json", "status", "table"]
    );
}

#[tokio::test]
async fn an_unexpected_429_is_waited_out_then_the_case_is_judged() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(good_429())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(json_response(400, &good_400()))
        .mount(&server)
        .await;
    let (_, result) = support::run(
        &server.uri(),
        "self/throttled_once",
        support::RESOLUTION_CASE,
    )
    .await;
    assert!(support::passed(&result), "{:?}", result.outcome);
    assert!(
        result.notes.iter().any(|n| n.contains("waited 1 s")),
        "{:?}",
        result.notes
    );
    assert_eq!(
        server.received_requests().await.map(|r| r.len()),
        Some(2),
        "one resend after the wait"
    );
}

#[tokio::test]
async fn throttled_past_the_budget_is_inconclusive_never_pass_or_fail() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(good_429().insert_header("Retry-After", "1"))
        .mount(&server)
        .await;
    let (_, result) = support::run(&server.uri(), "self/throttled", support::RESOLUTION_CASE).await;
    match &result.outcome {
        errcontract::run::Outcome::Inconclusive(why) => {
            assert!(
                why.to_string().starts_with("inconclusive: throttled"),
                "{why}"
            )
        }
        other => panic!("expected inconclusive, got {other:?}"),
    }
}

#[tokio::test]
async fn a_redirect_is_a_finding_never_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            "https://elsewhere.example/v2/images/generations",
        ))
        .mount(&server)
        .await;
    let (case, result) =
        support::run(&server.uri(), "self/redirect", support::RESOLUTION_CASE).await;
    assert!(support::failed_checks(&result).contains(&"status"));
    assert_eq!(server.received_requests().await.map(|r| r.len()), Some(1));
    let msg = errcontract::report::failure(
        &case,
        &result,
        &support::runner(&server.uri()).target().clone(),
    );
    assert!(
        msg.contains("a redirect to https://elsewhere.example"),
        "{msg}"
    );
}

#[tokio::test]
async fn the_client_side_rate_limit_spaces_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(json_response(400, &good_400()))
        .mount(&server)
        .await;
    let mut settings = support::settings();
    settings.rps = 4.0;
    let runner = support::runner_with(&server.uri(), settings, support::keys());
    let case = support::case("self/rate", support::RESOLUTION_CASE);
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert!(support::passed(&runner.run_case(&case).await));
    }
    // Five requests at 4 per second, burst 1: at least four quarter-second gaps.
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_header_expected_to_match_must_be_present() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(json_response(400, &good_400()))
        .mount(&server)
        .await;
    let case = support::RESOLUTION_CASE.replace(
        "\"message_contains\": \"4K\" }",
        "\"message_contains\": \"4K\", \"headers\": { \"X-RateLimit-Limit\": { \"matches\": \"^\\\\d+$\" } } }",
    );
    let (_, result) = support::run(&server.uri(), "self/header_missing", &case).await;
    assert_eq!(support::failed_checks(&result), vec!["rate_limit_headers"]);
    assert_eq!(result.findings()[0].actual, "no X-RateLimit-Limit header");
}

#[tokio::test]
async fn no_leak_lets_a_message_quote_what_the_request_sent() {
    // The request names a model that looks like a host; quoting it back is not a leak.
    let server = MockServer::start().await;
    let body = error_body(
        "Unknown model 'db.internal'.",
        json!("model"),
        "invalid_parameter",
    );
    Mock::given(method("POST"))
        .and(path(IMAGES))
        .respond_with(json_response(400, &body))
        .mount(&server)
        .await;
    let case = support::RESOLUTION_CASE
        .replace(
            "\"seedream-5-lite\", \"prompt\"",
            "\"db.internal\", \"prompt\"",
        )
        .replace(
            "\"param\": \"resolution\", \"message_contains\": \"4K\"",
            "\"param\": \"model\"",
        );
    let (_, result) = support::run(&server.uri(), "self/echo", &case).await;
    assert!(support::passed(&result), "{:?}", result.findings());
    // The same message to a request that did not send it is a leak.
    let (_, result) = support::run(
        &server.uri(),
        "self/echo",
        &support::RESOLUTION_CASE.replace(
            "\"param\": \"resolution\", \"message_contains\": \"4K\"",
            "\"param\": \"model\"",
        ),
    )
    .await;
    assert_eq!(support::failed_checks(&result), vec!["no_leak"]);
}

/// The shipped throttling cases state only what the contract promises: a target that gives
/// `Retry-After` as an HTTP-date conforms, and passes them.
#[tokio::test]
async fn shipped_throttle_cases_accept_an_http_date_retry_after() {
    let in_a_minute =
        httpdate::fmt_http_date(std::time::SystemTime::now() + std::time::Duration::from_secs(60));
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() + 60)
        .unwrap_or_default();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"error": {
                    "message": "Too many requests; retry after a minute.",
                    "type": "invalid_request_error",
                    "param": null,
                    "code": "rate_limit",
                    "doc_url": "https://docs.getimg.ai/guides/errors"
                }}))
                .insert_header("retry-after", in_a_minute.as_str())
                .insert_header("x-ratelimit-limit", "10")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str()),
        )
        .mount(&server)
        .await;
    for area in ["images", "videos"] {
        let file = crate::support::root().join(format!("cases/{area}/rate-limit-throttled.json"));
        let text = std::fs::read_to_string(&file).expect("the shipped case");
        let (_, result) = support::run(
            &server.uri(),
            &format!("{area}/rate-limit-throttled"),
            &text,
        )
        .await;
        assert!(
            support::passed(&result),
            "{area}: {:?} {:?}",
            result.outcome,
            result.findings()
        );
    }
}
