//! Fields that allow one value, sent twice: a client cannot know which to obey, so the check
//! that owns the field fails and shows both values (a wiremock target).

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support;

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

fn reset() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (now + 60).to_string()
}

fn throttled() -> ResponseTemplate {
    let body = json!({"error": {"message": "Too many requests.", "type": "invalid_request_error",
        "param": null, "code": "rate_limit", "doc_url": "https://docs.getimg.ai/guides/errors"}});
    ResponseTemplate::new(429)
        .set_body_raw(body.to_string().into_bytes(), "application/json")
        .insert_header("X-RateLimit-Limit", "10")
        .insert_header("X-RateLimit-Remaining", "0")
        .insert_header("X-RateLimit-Reset", reset().as_str())
}

async fn failure_of(answer: ResponseTemplate) -> (Vec<&'static str>, String) {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&server).await;
    let case = support::case("rate_limit/throttled", THROTTLED_CASE);
    let result = support::runner(&server.uri()).run_case(&case).await;
    let findings = result
        .findings()
        .iter()
        .map(|f| format!("{}: {}", f.expected, f.actual))
        .collect::<Vec<_>>()
        .join("\n");
    (support::failed_checks(&result), findings)
}

#[tokio::test]
async fn one_retry_after_passes_and_two_fail_retry_after_showing_both() {
    let (failed, _) = failure_of(throttled().insert_header("Retry-After", "1")).await;
    assert!(failed.is_empty(), "{failed:?}");
    let (failed, text) = failure_of(
        throttled()
            .append_header("Retry-After", "1")
            .append_header("Retry-After", "3000"),
    )
    .await;
    assert_eq!(failed, ["retry_after"], "{text}");
    assert!(
        text.contains(r#"2 Retry-After fields: "1", "3000""#),
        "{text}"
    );
}

#[tokio::test]
async fn a_rate_limit_field_sent_twice_fails_rate_limit_headers() {
    let (failed, text) = failure_of(
        throttled()
            .insert_header("Retry-After", "1")
            .append_header("X-RateLimit-Limit", "99"),
    )
    .await;
    assert_eq!(failed, ["rate_limit_headers"], "{text}");
    assert!(
        text.contains(r#"2 X-RateLimit-Limit fields: "10", "99""#),
        "{text}"
    );
}
