//! Transport faults a wiremock server cannot make, from a raw TCP server: each fails the case
//! cleanly with the `transport` check and says what happened; none panics or hangs.

use std::time::{Duration, Instant};

use crate::support::{self, Raw};

const CASE: &str = r#"{
  "description": "unknown model",
  "tags": ["images", "invalid_parameter"],
  "request": { "method": "POST", "path": "/v2/images/generations", "json": { "model": "nope", "prompt": "p" } },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "model" }
}"#;

const BODY: &str = r#"{"error":{"message":"Unknown model 'nope'.","type":"invalid_request_error","param":"model","code":"invalid_parameter"}}"#;

async fn transport_failure(raw: Raw) -> (String, Duration) {
    let base = support::raw_server(raw).await;
    let started = Instant::now();
    let (case, result) = support::run(&base, "self/transport", CASE).await;
    let elapsed = started.elapsed();
    assert_eq!(
        support::failed_checks(&result),
        vec!["transport"],
        "{:?}",
        result.outcome
    );
    let message = errcontract::report::failure(&case, &result, support::runner(&base).target());
    (message, elapsed)
}

#[tokio::test]
async fn a_well_formed_raw_reply_passes() {
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let base = support::raw_server(Raw::Reply(reply.into_bytes())).await;
    let (_, result) = support::run(&base, "self/raw_ok", CASE).await;
    assert!(support::passed(&result), "{:?}", result.outcome);
}

#[tokio::test]
async fn a_reset_connection_fails_cleanly() {
    let (message, _) = transport_failure(Raw::Reset).await;
    assert!(
        message.contains("reset") || message.contains("closed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_truncated_body_fails_cleanly() {
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        BODY.len() + 50,
        BODY
    );
    let (message, _) = transport_failure(Raw::Reply(reply.into_bytes())).await;
    assert!(message.contains("cut short"), "{message}");
}

#[tokio::test]
async fn a_garbage_status_line_fails_cleanly() {
    let (message, _) = transport_failure(Raw::Reply(b"HTTX/9 four hundred\r\n\r\n".to_vec())).await;
    assert!(
        message.contains("not valid HTTP") || message.contains("closed"),
        "{message}"
    );
}

#[tokio::test]
async fn a_slow_trickle_past_the_timeout_fails_in_bounded_time() {
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let (message, elapsed) =
        transport_failure(Raw::Trickle(reply.into_bytes(), Duration::from_millis(200))).await;
    assert!(message.contains("timed out"), "{message}");
    // The request timeout in support::settings() is 2 s; the trickle would take ~30 s.
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
}

#[tokio::test]
async fn a_body_over_the_cap_fails_without_reading_it_all() {
    let big = vec![b'x'; 2 * 1024 * 1024];
    let mut reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    reply.extend_from_slice(&big);
    let (message, _) = transport_failure(Raw::Reply(reply)).await;
    assert!(message.contains("larger than"), "{message}");
    // The status line did arrive: the failure says which, never "no response".
    assert!(
        message.contains("-> HTTP 400, body over ERRCONTRACT_MAX_BODY (too_large)")
            && message.contains("the target answered 400"),
        "{message}"
    );
    assert!(!message.contains("no response"), "{message}");
}

#[tokio::test]
async fn an_unreachable_target_fails_the_case_with_connect() {
    // Bind then drop a listener: the port is (almost certainly) closed now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    let base = format!("http://127.0.0.1:{port}");
    let (_, result) = support::run(&base, "self/unreachable", CASE).await;
    assert_eq!(support::failed_checks(&result), vec!["transport"]);
    assert!(
        result.findings()[0].actual.contains("connect"),
        "{:?}",
        result.findings()
    );
}

/// The body in each content coding a target may use, with its `Content-Encoding` value.
fn compressed(body: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(body).expect("in memory");
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(body).expect("in memory");
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(body).expect("in memory");
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &body[..], &mut br, &Default::default()).expect("in memory");
    vec![
        ("gzip", gzip.finish().expect("in memory")),
        ("deflate", zlib.finish().expect("in memory")),
        ("deflate", raw.finish().expect("in memory")),
        ("br", br),
    ]
}

fn reply_with(coding: &str, body: &[u8]) -> Vec<u8> {
    let mut reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    reply.extend_from_slice(body);
    reply
}

/// The suite sends no Accept-Encoding, so by RFC 9110 any coding is acceptable: a target that
/// compresses its errors conforms.
#[tokio::test]
async fn compressed_error_bodies_are_decoded_and_pass() {
    for (coding, body) in compressed(BODY.as_bytes()) {
        let base = support::raw_server(Raw::Reply(reply_with(coding, &body))).await;
        let (_, result) = support::run(&base, "self/compressed", CASE).await;
        assert!(
            support::passed(&result),
            "{coding}: {:?} {:?}",
            result.outcome,
            result.findings()
        );
    }
}

#[tokio::test]
async fn a_failure_dump_shows_content_encoding_and_the_decoded_body() {
    let wrong = BODY.replace("\"model\"", "\"prompt\"");
    let (coding, body) = compressed(wrong.as_bytes()).remove(0);
    let base = support::raw_server(Raw::Reply(reply_with(coding, &body))).await;
    let (case, result) = support::run(&base, "self/compressed", CASE).await;
    assert_eq!(support::failed_checks(&result), ["param"]);
    let message = errcontract::report::failure(&case, &result, support::runner(&base).target());
    assert!(message.contains("content-encoding: gzip"), "{message}");
    assert!(
        message.contains(&format!(
            "body ({} bytes, decoded from {} on the wire)",
            wrong.len(),
            body.len()
        )),
        "{message}"
    );
    assert!(message.contains("Unknown model 'nope'."), "{message}");
    assert!(
        message.contains("add --compressed to read it with curl"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unknown_or_corrupt_coding_fails_transport_saying_which() {
    let (message, _) = transport_failure(Raw::Reply(reply_with("zstd", BODY.as_bytes()))).await;
    assert!(
        message.contains("Content-Encoding: zstd, which errcontract cannot decode"),
        "{message}"
    );
    let (message, _) = transport_failure(Raw::Reply(reply_with("gzip", BODY.as_bytes()))).await;
    assert!(
        message.contains("does not decode as Content-Encoding: gzip"),
        "{message}"
    );
}

/// A target that answers and closes while a large body is still being sent makes the client's
/// next write fail (EPIPE): the case fails, and the run goes on. (With SIGPIPE's default
/// disposition the whole run died there, killed by the signal, with no word.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_closing_mid_body_fails_the_case_not_the_run() {
    let reply = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_vec();
    let base = support::raw_server(Raw::Reply(reply)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let case = r#"{
  "description": "a body of 25 MiB and one byte",
  "tags": ["images"],
  "request": { "method": "POST", "path": "/v2/images/generations", "body_size": 26214401 },
  "expect": { "status": 400, "code": "invalid_parameter", "param": null }
}"#;
    std::fs::create_dir_all(dir.path().join("images")).expect("mkdir");
    std::fs::write(dir.path().join("images/big.json"), case).expect("write");
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_BASE_URL", &base)
        .env("ERRCONTRACT_CASES", dir.path())
        .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env_remove("ERRCONTRACT_REPORT_DIR");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("errcontract runs");
    use std::os::unix::process::ExitStatusExt;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.signal(), None, "killed by a signal:\n{text}");
    assert_eq!(out.status.code(), Some(101), "{text}");
    assert!(text.contains("case::images/big ... FAILED"), "{text}");
    assert!(
        text.contains("test result: FAILED. 0 passed; 1 failed"),
        "{text}"
    );
}
