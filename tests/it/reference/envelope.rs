//! Framework-level errors: routing misses, wrong methods, unreadable bodies, panics. All of
//! them in the envelope, never a framework default page.

use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Api, image_body, with};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let api = Api::start().await;
    for path in [
        "/",
        "/v1/models",
        "/v2/nope",
        "/v2/models/",
        "/v2/images/generations/x",
    ] {
        let reply = api.get_valid(path).await;
        reply.assert_error("not_found", None);
        assert!(reply.message().contains(path), "{reply:?}");
    }
    let reply = api.post("/v2/nope", &api.keys.valid, &json!({})).await;
    reply.assert_error("not_found", None);
}

#[tokio::test]
async fn wrong_methods_are_not_found_not_405() {
    let api = Api::start().await;
    let cases = [
        (reqwest::Method::GET, "/v2/images/generations"),
        (reqwest::Method::DELETE, "/v2/models"),
        (reqwest::Method::PUT, "/v2/billing/balance"),
        (reqwest::Method::POST, "/v2/videos/generations/req-X"),
        (reqwest::Method::PATCH, "/v2/videos/generations"),
        (reqwest::Method::OPTIONS, "/v2/models"),
    ];
    for (method, path) in cases {
        let request = api
            .client
            .request(method.clone(), api.url(path))
            .bearer_auth(&api.keys.valid);
        let reply = api.send(request).await;
        reply.assert_error("not_found", None);
        assert!(reply.message().contains(method.as_str()), "{reply:?}");
    }
}

#[tokio::test]
async fn routing_comes_before_authentication() {
    let api = Api::start().await;
    api.get("/v2/nope", None)
        .await
        .assert_error("not_found", None);
    api.get("/v2/nope", Some("sk_unknown"))
        .await
        .assert_error("not_found", None);
}

#[tokio::test]
async fn malformed_json_is_invalid_parameter_with_null_param() {
    let api = Api::start().await;
    for text in ["{", "{\"model\": }", "nul", "{\"a\":1}}", "\u{feff}{}"] {
        let request = post_raw(&api, "/v2/images/generations", text);
        let reply = api.send(request).await;
        reply.assert_error("invalid_parameter", None);
        assert!(reply.message().contains("not valid JSON"), "{reply:?}");
    }
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_crashing() {
    let api = Api::start().await;
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let request = post_raw(&api, "/v2/images/generations", text);
    api.send(request)
        .await
        .assert_error("invalid_parameter", None);
}

#[tokio::test]
async fn the_body_must_be_declared_json() {
    let api = Api::start().await;
    let body = image_body().to_string();
    for content_type in [Some("text/plain"), Some("application/jsonx"), None] {
        let mut request = api
            .client
            .post(api.url("/v2/images/generations"))
            .bearer_auth(&api.keys.valid)
            .body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let reply = api.send(request).await;
        reply.assert_error("invalid_parameter", None);
        assert!(reply.message().contains("Content-Type"), "{reply:?}");
    }
    // Parameters and case do not matter.
    let request = api
        .client
        .post(api.url("/v2/images/generations"))
        .bearer_auth(&api.keys.valid)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(body);
    assert_eq!(api.send(request).await.status, 200);
}

#[tokio::test]
async fn a_top_level_value_that_is_not_an_object_is_refused() {
    let api = Api::start().await;
    for body in [json!([]), json!("x"), json!(1), Value::Null] {
        api.post("/v2/videos/generations", &api.keys.valid, &body)
            .await
            .assert_error("invalid_parameter", None);
    }
}

#[tokio::test]
async fn an_empty_body_counts_as_an_empty_object() {
    let api = Api::start().await;
    for text in ["", "  \n"] {
        let request = post_raw(&api, "/v2/images/generations", text);
        api.send(request)
            .await
            .assert_error("parameter_missing", Some("model"));
    }
}

/// A JSON object of exactly `size` bytes: a valid request plus an unknown `pad` field.
fn padded_body(size: usize) -> String {
    let head = r#"{"model":"seedream-5-lite","prompt":"x","pad":""#;
    let tail = r#""}"#;
    format!("{head}{}{tail}", "a".repeat(size - head.len() - tail.len()))
}

#[tokio::test]
async fn bodies_up_to_25_mib_are_read_and_larger_ones_refused() {
    let api = Api::start().await;
    let send = |text: String| post_raw(&api, "/v2/images/generations", text);
    // Exactly at the limit: parsed, so the unknown field is what is reported.
    let reply = api.send(send(padded_body(25 * MIB))).await;
    reply.assert_error("invalid_parameter", Some("pad"));
    // One byte more: refused before parsing.
    let reply = api.send(send(padded_body(25 * MIB + 1))).await;
    reply.assert_error("invalid_parameter", None);
    assert!(reply.message().contains("25 MiB"), "{reply:?}");
    // The connection pool still works afterwards.
    assert_eq!(api.image(image_body()).await.status, 200);
}

/// Send raw bytes and read the whole response (the server closes or we read to the end of
/// a `Connection: close` response).
async fn raw_exchange(api: &Api, head: &str, body: &[u8]) -> (String, Value) {
    let mut stream = TcpStream::connect(api.server.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    // The server may answer and stop reading early; a failed write is then expected.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let json = serde_json::from_str(body.trim()).unwrap_or(Value::Null);
    (head.to_owned(), json)
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_in_the_envelope() {
    let api = Api::start().await;
    let head = format!(
        "POST /v2/images/generations HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        api.server.addr, api.keys.valid
    );
    let chunk = vec![b' '; MIB];
    let mut body = Vec::new();
    for _ in 0..26 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let (head, json) = raw_exchange(&api, &head, &body).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(json["error"]["code"], "invalid_parameter", "{json}");
    assert_eq!(json["error"]["param"], Value::Null);
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_in_the_envelope() {
    let api = Api::start().await;
    let head = format!(
        "POST /v2/images/generations HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        api.server.addr,
        api.keys.valid,
        25 * MIB + 1
    );
    let (head, json) = raw_exchange(&api, &head, &vec![b' '; 25 * MIB + 1]).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(json["error"]["code"], "invalid_parameter", "{json}");
}

#[tokio::test]
async fn a_handler_panic_is_a_server_error_envelope_and_the_server_lives_on() {
    let api = Api::start().await;
    for path in ["/v2/models", "/v2/nope"] {
        let request = api
            .client
            .get(api.url(path))
            .bearer_auth(&api.keys.valid)
            .header("x-errcontract-fault", "panic");
        api.send(request).await.assert_error("server_error", None);
    }
    assert_eq!(api.get_valid("/v2/models").await.status, 200);
}

#[tokio::test]
async fn head_is_served_where_get_is() {
    let api = Api::start().await;
    let request = api
        .client
        .head(api.url("/v2/models"))
        .bearer_auth(&api.keys.valid);
    let reply = api.send(request).await;
    assert_eq!(reply.status, 200);
    assert!(reply.bytes.is_empty());
}

#[tokio::test]
async fn every_code_of_the_table_is_produced() {
    let api = Api::start().await;
    let keys = api.keys.clone();
    let missing = api.image(json!({ "prompt": "x" })).await;
    let invalid = api
        .image(with(image_body(), "resolution", json!("4K")))
        .await;
    let unauthenticated = api.get("/v2/models", Some(&keys.revoked)).await;
    let quota = api
        .post("/v2/images/generations", &keys.zero_balance, &image_body())
        .await;
    let policy = api
        .image(with(
            image_body(),
            "prompt",
            json!("errcontract-trigger:content-policy"),
        ))
        .await;
    let limited = api
        .post("/v2/images/generations", &keys.throttled, &image_body())
        .await;
    let not_found = api.get_valid("/v2/videos/generations/req-NOPE").await;
    let server = api
        .send(
            api.client
                .get(api.url("/v2/models"))
                .bearer_auth(&keys.valid)
                .header("x-errcontract-fault", "server_error"),
        )
        .await;
    missing.assert_error("parameter_missing", Some("model"));
    invalid.assert_error("invalid_parameter", Some("resolution"));
    unauthenticated.assert_error("invalid_api_key", None);
    quota.assert_error("quota_exceeded", None);
    policy.assert_error("content_policy_violation", Some("prompt"));
    limited.assert_error("rate_limit", None);
    not_found.assert_error("not_found", Some("id"));
    server.assert_error("server_error", None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Whatever bytes arrive as a body, the answer is a 2xx or an envelope with a table
    /// status, never a bare framework error.
    #[test]
    fn any_body_gets_a_contract_answer(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let api = Api::start().await;
            for path in ["/v2/images/generations", "/v2/videos/generations"] {
                let request = post_raw(&api, path, bytes.clone());
                let reply = api.send(request).await;
                if reply.status >= 400 {
                    let code = reply.body["error"]["code"].as_str().unwrap_or("?").to_owned();
                    reply.assert_error(&code, reply.body["error"]["param"].as_str());
                }
            }
        });
    }
}

#[tokio::test]
async fn a_client_waiting_for_100_continue_is_refused_without_uploading() {
    let api = Api::start().await;
    let head = format!(
        "POST /v2/images/generations HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        api.server.addr,
        api.keys.valid,
        25 * MIB + 1
    );
    // No body is sent: the answer must come anyway, and not be a 100.
    let (head, json) = raw_exchange(&api, &head, b"").await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(json["error"]["code"], "invalid_parameter", "{json}");
}

/// A POST of raw bytes labelled JSON, with the valid key.
fn post_raw(api: &Api, path: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
    api.client
        .post(api.url(path))
        .bearer_auth(&api.keys.valid)
        .header("content-type", "application/json")
        .body(body)
}
