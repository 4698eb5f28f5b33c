//! The reproduction a failure prints is exact: its curl command, run in a shell, sends the
//! target the same method, path, key and body bytes as the suite did, for a literal body over
//! 4 KiB (the corpus's 4097-character prompt), a generated `body_size` body and a raw body
//! with bytes a shell cannot quote.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use errcontract::case;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support;

/// One request as it arrived: method, path, the headers a case can set, body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Arrived {
    method: String,
    path: String,
    /// Lower-case names and values, sorted; the client's own (`user-agent`, `accept`, `host`,
    /// `content-length`) left out.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A target on loopback that records every request and answers `200 {}`, which no error case
/// expects, so every case fails and prints its reproduction.
async fn recording_target() -> (String, Arc<Mutex<Vec<Arrived>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    let seen: Arc<Mutex<Vec<Arrived>>> = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                if let Some(arrived) = read_request(&mut sock).await {
                    log.lock().expect("log").push(arrived);
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                    .await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Arrived> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        if let Ok(httparse::Status::Complete(head)) = req.parse(&buf) {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            let length: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut headers: Vec<(String, String)> = req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .filter(|(n, _)| {
                    !matches!(
                        n.as_str(),
                        "user-agent" | "accept" | "host" | "content-length"
                    )
                })
                .collect();
            headers.sort();
            let (method, path) = (
                req.method.unwrap_or("").to_string(),
                req.path.unwrap_or("").to_string(),
            );
            while buf.len() < head + length {
                read_more(sock, &mut chunk, &mut buf).await?;
            }
            return Some(Arrived {
                method,
                path,
                headers,
                body: buf[head..head + length].to_vec(),
            });
        }
        read_more(sock, &mut chunk, &mut buf).await?;
    }
}

/// Append what the socket has next to `buf`; None when it closes, fails or stalls.
async fn read_more(
    sock: &mut tokio::net::TcpStream,
    chunk: &mut [u8],
    buf: &mut Vec<u8>,
) -> Option<()> {
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(chunk))
        .await
        .ok()?
        .ok()?;
    (n > 0).then(|| buf.extend_from_slice(&chunk[..n]))
}

/// The curl line of a rendered failure.
fn curl_line(failure: &str) -> String {
    let mut lines = failure.lines().skip_while(|l| l.trim() != "reproduce:");
    lines.next();
    lines
        .next()
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no reproduction in:\n{failure}"))
}

fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run `case_text` against the recording target, then its printed curl, and compare what
/// arrived each time.
async fn reproduction_sends_the_same(name: &str, case_text: &str) {
    if !have("curl") || !have("bash") {
        eprintln!(
            "skipped {name}: this test runs the printed reproduction with curl and bash; install them (apt-get install curl bash)"
        );
        return;
    }
    let (base, seen) = recording_target().await;
    let runner = support::runner(&base);
    let c = support::case(name, case_text);
    let result = runner.run_case(&c).await;
    let failure = errcontract::report::failure(&c, &result, runner.target());
    let curl = curl_line(&failure);
    assert!(
        !curl.contains(support::VALID_KEY),
        "the key is never printed: {curl}"
    );
    let command = format!("{curl} --silent --output /dev/null");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(command)
            .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
            .output()
    })
    .await
    .expect("the shell's thread")
    .expect("bash runs");
    assert!(
        output.status.success(),
        "the reproduction failed to run: {}\n{curl}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2, "one request from the suite, one from curl");
    let (suite, again) = (&seen[0], &seen[1]);
    assert_eq!(again.method, suite.method);
    assert_eq!(again.path, suite.path);
    assert_eq!(again.headers, suite.headers, "{curl:.300}");
    assert_eq!(
        again.body.len(),
        suite.body.len(),
        "the body curl sent has another length: {curl:.300}"
    );
    assert!(again.body == suite.body, "the body curl sent differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_of_a_literal_body_over_4_kib_sends_the_same_bytes() {
    let file = crate::support::root().join("cases/images/prompt-4097-chars.json");
    let text = std::fs::read_to_string(&file).expect("the corpus has the 4097-character case");
    reproduction_sends_the_same("images/prompt-4097-chars", &text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_of_a_generated_body_sends_the_same_bytes() {
    let text = r#"{
  "description": "a generated body",
  "tags": ["images"],
  "request": { "method": "POST", "path": "/v2/images/generations", "body_size": 30000 },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "model" }
}"#;
    reproduction_sends_the_same("self/generated-body", text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_of_a_raw_body_with_unquotable_bytes_sends_the_same_bytes() {
    let text = r#"{
  "description": "a raw body with a quote, a percent sign, a backslash and control bytes",
  "tags": ["images"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "headers": { "Content-Type": "application/json" },
    "body": "{\"prompt\": \"it's 100% \\\\ \u0001\u001b\r\n\"}"
  },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "prompt" }
}"#;
    reproduction_sends_the_same("self/raw-body", text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_of_a_raw_body_without_content_type_or_starting_with_at_sends_the_same() {
    let text = r#"{
  "description": "a raw body curl would read as a file name, with no content type",
  "tags": ["images"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "headers": { "X-Empty": "" },
    "body": "@/etc/hostname"
  },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "prompt" }
}"#;
    reproduction_sends_the_same("self/at-body", text).await;
}

#[test]
fn the_corpus_case_is_a_literal_body_over_4_kib() {
    // The first test above is only worth its name while the case it reads is what it says.
    let contract = support::contract();
    let root = crate::support::root().join("cases");
    let c = case::load(
        &root,
        &root.join("images/prompt-4097-chars.json"),
        &contract,
    )
    .expect("the case loads");
    let json = c.steps[0].1.request.json.as_ref().expect("a json body");
    assert!(serde_json::to_vec(json).expect("serializes").len() > 4096);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_of_a_query_with_quotes_sends_the_same_bytes_and_the_rerun_quotes_the_name() {
    let text = r#"{
  "description": "a query value the client percent-encodes",
  "tags": ["models"],
  "request": { "method": "GET", "path": "/v2/models", "query": { "x": "'y'", "z": "a~b!*()" } },
  "expect": { "status": 400, "code": "invalid_parameter", "param": "x" }
}"#;
    reproduction_sends_the_same("self/query quotes", text).await;
    let (base, _) = recording_target().await;
    let runner = support::runner(&base);
    let c = support::case("self/query quotes", text);
    let result = runner.run_case(&c).await;
    let failure = errcontract::report::failure(&c, &result, runner.target());
    assert!(
        failure.contains("x=%27y%27"),
        "the curl line shows the bytes sent: {failure}"
    );
    assert!(
        failure.contains("--exact 'case::self/query quotes'"),
        "a name with a space is one shell word: {failure}"
    );
}
