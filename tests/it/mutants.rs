//! The mutation self-test: does the suite notice when a server breaks the contract?
//!
//! Each mutant is the reference server behind a faulty proxy that applies exactly one fault to
//! the reference's real answer (or to how it goes over the wire). A realistic case is run
//! through the real `Runner` against it; the mutant is killed when the case fails (never passes,
//! never ignored), the expected check is among the failed ones, and the rendered failure says
//! what is wrong without showing any key. The controls run every case through the same proxy
//! with no fault and must pass, so each kill is the fault's doing. Some faults touch only
//! requests no hand-written case sends: their cases are derived from the templates in cases/,
//! and a test shows the hand-written cases alone miss them. The catalog and its score are
//! documented in docs/mutants.md.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use errcontract::reference::{self, Config, Running};
use errcontract::run::Outcome;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support;

// --- The cases: realistic, one per error of the table, like those in cases/ ---

const MISSING_PROMPT: &str = r#"{
  "description": "an image generation without a prompt names the missing parameter",
  "tags": ["images", "parameter_missing"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "json": { "model": "seedream-5-lite" }
  },
  "expect": { "status": 400, "code": "parameter_missing", "param": "prompt", "message_contains": "prompt" }
}"#;

const REVOKED: &str = r#"{
  "description": "a revoked key is refused with invalid_api_key",
  "tags": ["auth", "invalid_api_key"],
  "request": { "method": "GET", "path": "/v2/models", "auth": "revoked" },
  "expect": { "status": 401, "code": "invalid_api_key", "param": null, "retryable": false }
}"#;

const ZERO_BALANCE: &str = r#"{
  "description": "a workspace with no balance cannot generate",
  "tags": ["billing", "quota_exceeded"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "auth": "zero_balance",
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" }
  },
  "expect": { "status": 402, "code": "quota_exceeded", "param": null }
}"#;

const CONTENT_POLICY: &str = r#"{
  "description": "a prompt that fails the safety checks is refused with 422",
  "tags": ["images", "content_policy_violation", "triggers"],
  "requires": ["content_policy_trigger"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "json": { "model": "seedream-5-lite", "prompt": "errcontract-trigger:content-policy" }
  },
  "expect": { "status": 422, "code": "content_policy_violation", "param": "prompt" }
}"#;

const UNKNOWN_MODEL: &str = r#"{
  "description": "an unknown model id is not found",
  "tags": ["models", "not_found"],
  "request": { "method": "GET", "path": "/v2/models/no-such-model" },
  "expect": { "status": 404, "code": "not_found", "param": "model" }
}"#;

const THROTTLED: &str = r#"{
  "description": "the throttled workspace gets 429 rate_limit with Retry-After",
  "tags": ["images", "rate_limit", "retry_after"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "auth": "throttled",
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" }
  },
  "expect": {
    "status": 429, "code": "rate_limit", "param": null, "retryable": true,
    "headers": { "Retry-After": { "present": true } }
  }
}"#;

const SERVER_ERROR: &str = r#"{
  "description": "an injected fault answers 500 server_error",
  "tags": ["faults", "server_error"],
  "requires": ["fault_injection"],
  "request": {
    "method": "POST",
    "path": "/v2/images/generations",
    "headers": { "X-Errcontract-Fault": "server_error" },
    "json": { "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" }
  },
  "expect": { "status": 500, "code": "server_error", "param": null, "retryable": true }
}"#;

const VIDEO_FAILURE: &str = r#"{
  "description": "a video that fails after submission polls to failed with server_error",
  "tags": ["videos", "async", "server_error", "triggers"],
  "requires": ["video_failure_trigger"],
  "steps": [
    {
      "name": "submit",
      "request": {
        "method": "POST",
        "path": "/v2/videos/generations",
        "json": { "model": "seedance-v1-pro", "prompt": "waves errcontract-trigger:video-failure" }
      },
      "expect": { "status": 202, "body": { "status": "pending" } },
      "capture": { "id": "/id" }
    },
    {
      "name": "poll",
      "request": { "method": "GET", "path": "/v2/videos/generations/{id}" },
      "poll": { "terminal": ["completed", "failed"], "interval_ms": 50, "timeout_ms": 1000 },
      "expect": { "status": 200, "failure": { "code": "server_error", "message_contains": "timed out" } }
    }
  ]
}"#;

/// The derived cases (from the templates in cases/) the catalog uses: name and case text.
const DERIVED: &[&str] = &[
    "images/generations/type/resolution/number",
    "images/generations/precedence/drop/prompt/before/unsupported/resolution",
];

/// Every case the templates below cases/ derive, loaded once, with its fault, and its text.
fn derived_cases() -> &'static [(Arc<errcontract::case::Case>, String)] {
    static CASES: std::sync::OnceLock<Vec<(Arc<errcontract::case::Case>, String)>> =
        std::sync::OnceLock::new();
    CASES.get_or_init(|| {
        let cases = crate::support::root().join("cases");
        errcontract::derive::derive_all(&cases, &support::contract())
            .expect("the templates load")
            .cases
            .into_iter()
            .map(|c| {
                let text = c.text().expect("a derived case keeps its text").to_string();
                (c, text)
            })
            .collect()
    })
}

/// The text of the derived case `name`.
fn derived(name: &str) -> &'static str {
    derived_cases()
        .iter()
        .find(|(c, _)| c.name == name)
        .map(|(_, text)| text.as_str())
        .unwrap_or_else(|| panic!("no derived case {name}"))
}

/// The case of a catalog entry: the derived case with that text (so its failure carries the
/// blame line), else the text parsed as a hand-written case.
fn subject(name: &str, text: &str) -> errcontract::case::Case {
    derived_cases()
        .iter()
        .find(|(_, t)| t == text)
        .map(|(c, _)| (**c).clone())
        .unwrap_or_else(|| support::case(name, text))
}

/// Every case the catalog uses, for the controls: the hand-written ones and the derived ones.
fn controls() -> Vec<(&'static str, &'static str)> {
    let mut all = CASES.to_vec();
    all.extend(DERIVED.iter().map(|name| (*name, derived(name))));
    all
}

/// Every hand-written case the catalog uses.
const CASES: &[(&str, &str)] = &[
    ("images/resolution", support::RESOLUTION_CASE),
    ("images/missing-prompt", MISSING_PROMPT),
    ("auth/revoked", REVOKED),
    ("billing/zero-balance", ZERO_BALANCE),
    ("images/content-policy", CONTENT_POLICY),
    ("models/unknown", UNKNOWN_MODEL),
    ("images/throttled", THROTTLED),
    ("faults/server-error", SERVER_ERROR),
    ("videos/failure", VIDEO_FAILURE),
];

// --- The faulty proxy ---

/// What the proxy saw of a request.
#[derive(Debug, Clone)]
struct Seen {
    /// The method.
    method: String,
    /// Path and query.
    target: String,
    /// The bearer token, when the request had one.
    token: String,
    /// The JSON body, when the request had one (else null).
    json: Value,
}

/// How the reply's length goes on the wire.
#[derive(Debug, Clone, Copy)]
enum Length {
    /// `Content-Length` of the body.
    Actual,
    /// `Content-Length` of this many bytes, whatever the body.
    Declared(usize),
    /// No `Content-Length`: the body ends when the connection closes.
    CloseDelimited,
}

/// How the reply is written.
#[derive(Debug, Clone, Copy)]
enum Wire {
    /// All at once, then close.
    Whole,
    /// Reset the connection instead of answering.
    Reset,
    /// One byte at a time with this pause.
    Trickle(Duration),
}

/// The reference server's answer, as the proxy will send it.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    /// Replaces `HTTP/1.1 <status> <reason>` when set.
    status_line: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    length: Length,
    wire: Wire,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn set_json(&mut self, v: &Value) {
        self.body = v.to_string().into_bytes();
    }

    /// Edit the JSON body in place.
    fn edit(&mut self, f: impl FnOnce(&mut Value)) {
        let mut v = self.json();
        f(&mut v);
        self.set_json(&v);
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.to_string()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// One fault, applied to each answer the proxy relays.
type Fault = Arc<dyn Fn(&Seen, &mut Reply) + Send + Sync>;

/// The reference server with the test keys, so the runner's keys are the ones it knows.
async fn reference_server() -> Running {
    let mut config = Config::default();
    config.valid.key = support::VALID_KEY.into();
    config.revoked.key = support::REVOKED_KEY.into();
    config.zero_balance.key = support::ZERO_KEY.into();
    config.throttled.key = support::THROTTLED_KEY.into();
    reference::start(config)
        .await
        .expect("the reference server starts")
}

/// A proxy on loopback relaying to `upstream` and applying `fault` to every answer; returns its
/// base URL. It lives as long as the runtime.
async fn faulty_proxy(upstream: String, fault: Fault) -> String {
    // reqwest is built without a default crypto provider; plain http needs one installed anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let (client, upstream, fault) = (client.clone(), upstream.clone(), fault.clone());
            tokio::spawn(async move {
                let _ = relay(sock, &client, &upstream, fault.as_ref()).await;
            });
        }
    });
    format!("http://{addr}")
}

struct Request {
    seen: Seen,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn relay(
    mut sock: TcpStream,
    client: &reqwest::Client,
    upstream: &str,
    fault: &(dyn Fn(&Seen, &mut Reply) + Send + Sync),
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut sock).await? else {
        return Ok(());
    };
    let mut reply = forward(client, upstream, &request).await;
    fault(&request.seen, &mut reply);
    write_reply(sock, reply).await
}

/// Read one HTTP/1.1 request (head, then a `Content-Length` body).
async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("GET").to_string();
    let target = request_line.next().unwrap_or("/").to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let token = header("authorization")
        .map(|a| a.trim_start_matches("Bearer ").trim().to_string())
        .unwrap_or_default();
    Ok(Some(Request {
        seen: Seen {
            method,
            target,
            token,
            json: serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null),
        },
        headers,
        body: buf[head_end..].to_vec(),
    }))
}

const HOP_BY_HOP: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
];

async fn forward(client: &reqwest::Client, upstream: &str, request: &Request) -> Reply {
    let method =
        reqwest::Method::from_bytes(request.seen.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = client.request(method, format!("{upstream}{}", request.seen.target));
    for (n, v) in &request.headers {
        if !HOP_BY_HOP.iter().any(|h| n.eq_ignore_ascii_case(h)) {
            builder = builder.header(n, v);
        }
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let response = match builder.send().await {
        Ok(r) => r,
        // The controls catch this: a proxy that cannot relay breaks every case.
        Err(e) => {
            return Reply {
                status: 599,
                status_line: None,
                headers: Vec::new(),
                body: format!("proxy: {e}").into_bytes(),
                length: Length::Actual,
                wire: Wire::Whole,
            };
        }
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(n, _)| !HOP_BY_HOP.contains(&n.as_str()))
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Reply {
        status,
        status_line: None,
        headers,
        body,
        length: Length::Actual,
        wire: Wire::Whole,
    }
}

async fn write_reply(mut sock: TcpStream, reply: Reply) -> std::io::Result<()> {
    if let Wire::Reset = reply.wire {
        sock.set_zero_linger()?;
        drop(sock);
        return Ok(());
    }
    let reason = reqwest::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Whatever");
    let mut out = reply
        .status_line
        .unwrap_or_else(|| format!("HTTP/1.1 {} {reason}", reply.status))
        .into_bytes();
    out.extend_from_slice(b"\r\n");
    for (n, v) in &reply.headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    match reply.length {
        Length::Actual => {
            out.extend_from_slice(format!("content-length: {}\r\n", reply.body.len()).as_bytes())
        }
        Length::Declared(n) => out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes()),
        Length::CloseDelimited => {}
    }
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(&reply.body);
    match reply.wire {
        Wire::Trickle(pause) => {
            for b in out {
                sock.write_all(&[b]).await?;
                tokio::time::sleep(pause).await;
            }
        }
        _ => sock.write_all(&out).await?,
    }
    sock.shutdown().await
}

// --- The catalog ---

/// One broken server and what must catch it.
struct Mutant {
    /// A short id.
    name: &'static str,
    /// The fault, in words (docs/mutants.md shows these).
    fault: &'static str,
    /// The case run against it.
    case: &'static str,
    /// The check that must be among the failed ones.
    check: &'static str,
    /// A phrase the rendered failure must contain: it says what is wrong.
    says: &'static str,
    fault_fn: Fault,
}

fn mutant(
    name: &'static str,
    fault: &'static str,
    case: &'static str,
    check: &'static str,
    says: &'static str,
    f: impl Fn(&Seen, &mut Reply) + Send + Sync + 'static,
) -> Mutant {
    Mutant {
        name,
        fault,
        case,
        check,
        says,
        fault_fn: Arc::new(f),
    }
}

/// Whether the request is a poll of a video (flows mutate only the poll).
fn is_poll(seen: &Seen) -> bool {
    seen.method == "GET" && seen.target.starts_with("/v2/videos/generations/")
}

fn is_failed_poll(seen: &Seen, reply: &Reply) -> bool {
    is_poll(seen) && reply.json()["status"] == "failed"
}

fn set_message(reply: &mut Reply, message: &str) {
    reply.edit(|v| v["error"]["message"] = json!(message));
}

const PYTHON_TRACE: &str = "Traceback (most recent call last):\n  File \"handlers/images.py\", line 88, in create\n    raise UpstreamError()\nUpstreamError: upstream failed";

const JAVA_TRACE: &str = "java.lang.NullPointerException: model is null\n\tat ai.getimg.api.ImagesController.create(ImagesController.java:57)\n\tat ai.getimg.api.Router.dispatch(Router.java:120)";

const GO_PANIC: &str = "panic: runtime error: invalid memory address or nil pointer dereference\n\ngoroutine 42 [running]:\nmain.generate()";

/// Every mutant. Adding one is adding a row.
fn catalog() -> Vec<Mutant> {
    vec![
        // The envelope and its fields.
        mutant(
            "wrong_type",
            "`error.type` is `api_error`, not `invalid_request_error`",
            support::RESOLUTION_CASE,
            "schema",
            "\"invalid_request_error\" was expected",
            |_, r| r.edit(|v| v["error"]["type"] = json!("api_error")),
        ),
        mutant(
            "type_missing",
            "`error.type` left out",
            MISSING_PROMPT,
            "schema",
            "\"type\" is a required property",
            |_, r| {
                r.edit(|v| {
                    v["error"].as_object_mut().map(|e| e.remove("type"));
                })
            },
        ),
        mutant(
            "status_disagrees_with_table",
            "402 `quota_exceeded` answered as 403",
            ZERO_BALANCE,
            "table",
            "status 402 for code \"quota_exceeded\" (the table)",
            |_, r| r.status = 403,
        ),
        mutant(
            "status_500_for_not_found",
            "404 `not_found` answered as 500",
            UNKNOWN_MODEL,
            "table",
            "status 404 for code \"not_found\" (the table)",
            |_, r| r.status = 500,
        ),
        mutant(
            "code_not_in_table",
            "`code` is `unsupported_resolution`, a code the table does not have",
            support::RESOLUTION_CASE,
            "table",
            "\"unsupported_resolution\", which the table does not have",
            |_, r| r.edit(|v| v["error"]["code"] = json!("unsupported_resolution")),
        ),
        mutant(
            "code_wrong",
            "`code` is `invalid_parameter` where the parameter is missing (same status)",
            MISSING_PROMPT,
            "code",
            "expected \"parameter_missing\"",
            |_, r| r.edit(|v| v["error"]["code"] = json!("invalid_parameter")),
        ),
        mutant(
            "param_missing",
            "`param` left out",
            support::RESOLUTION_CASE,
            "param",
            "got (missing)",
            |_, r| {
                r.edit(|v| {
                    v["error"].as_object_mut().map(|e| e.remove("param"));
                })
            },
        ),
        mutant(
            "param_wrong",
            "`param` names `id` where the unknown value is the `model`",
            UNKNOWN_MODEL,
            "param",
            "expected \"model\"",
            |_, r| r.edit(|v| v["error"]["param"] = json!("id")),
        ),
        mutant(
            "param_on_auth_error",
            "`param` is `authorization` on a 401 (the contract says null)",
            REVOKED,
            "param",
            "got \"authorization\"",
            |_, r| r.edit(|v| v["error"]["param"] = json!("authorization")),
        ),
        mutant(
            "empty_message",
            "`message` is the empty string",
            CONTENT_POLICY,
            "schema",
            "/error/message: value is shorter than 1 character",
            |_, r| set_message(r, ""),
        ),
        mutant(
            "non_string_message",
            "`message` is an array of strings",
            REVOKED,
            "schema",
            "is not of type \"string\"",
            |_, r| r.edit(|v| v["error"]["message"] = json!(["Incorrect API key provided."])),
        ),
        mutant(
            "message_without_value",
            "`message` does not name the unsupported value",
            support::RESOLUTION_CASE,
            "message",
            "a message containing \"4K\"",
            |_, r| set_message(r, "Invalid parameter."),
        ),
        mutant(
            "flattened_envelope",
            "the error's fields at the top level, no `error` object",
            support::RESOLUTION_CASE,
            "schema",
            "\"error\" is a required property",
            |_, r| r.edit(|v| *v = v["error"].clone()),
        ),
        mutant(
            "error_as_string",
            "`error` is a string",
            MISSING_PROMPT,
            "schema",
            "is not of type \"object\"",
            |_, r| r.edit(|v| v["error"] = json!("Missing required parameter 'prompt'.")),
        ),
        mutant(
            "extra_top_level_field",
            "a `request_id` beside `error` at the top level",
            support::RESOLUTION_CASE,
            "schema",
            "Additional properties are not allowed ('request_id' was unexpected)",
            |_, r| r.edit(|v| v["request_id"] = json!("req-01HXYZ")),
        ),
        mutant(
            "ok_with_error_body",
            "200 with the error body",
            support::RESOLUTION_CASE,
            "status",
            "got 200",
            |_, r| r.status = 200,
        ),
        mutant(
            "redirect_to_another_host",
            "a 307 redirect to another host",
            support::RESOLUTION_CASE,
            "status",
            "a redirect to https://api.elsewhere.example/v2/images/generations",
            |seen, r| {
                r.status = 307;
                r.set_header(
                    "location",
                    &format!("https://api.elsewhere.example{}", seen.target),
                );
            },
        ),
        mutant(
            "proxy_502_page",
            "a load balancer's 502 HTML page",
            SERVER_ERROR,
            "table",
            "status 502, which no code of the table has",
            |_, r| {
                r.status = 502;
                r.set_header("content-type", "text/html");
                r.body = b"<html><body><h1>502 Bad Gateway</h1></body></html>".to_vec();
            },
        ),
        // Content type and JSON.
        mutant(
            "html_error_page",
            "an HTML error page (status and code right, body HTML)",
            SERVER_ERROR,
            "json",
            "not JSON: expected value at line 1 column 1",
            |_, r| {
                r.set_header("content-type", "text/html; charset=utf-8");
                r.body = b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>".to_vec();
            },
        ),
        mutant(
            "text_plain",
            "`Content-Type: text/plain` on the JSON error",
            support::RESOLUTION_CASE,
            "content_type",
            "got text/plain",
            |_, r| r.set_header("content-type", "text/plain; charset=utf-8"),
        ),
        mutant(
            "two_content_types",
            "two `Content-Type` headers",
            support::RESOLUTION_CASE,
            "content_type",
            "2 Content-Type fields",
            |_, r| {
                r.headers
                    .push(("content-type".into(), "application/json".into()))
            },
        ),
        mutant(
            "empty_body",
            "the error with an empty body",
            ZERO_BALANCE,
            "json",
            "got an empty body",
            |_, r| r.body.clear(),
        ),
        mutant(
            "invalid_json",
            "the JSON cut off before its closing braces (length right)",
            REVOKED,
            "json",
            "not JSON: EOF while parsing an object",
            |_, r| {
                let n = r.body.len();
                r.body.truncate(n - 2);
            },
        ),
        mutant(
            "byte_order_mark",
            "a UTF-8 byte-order mark before the JSON",
            support::RESOLUTION_CASE,
            "json",
            "byte-order mark",
            |_, r| {
                r.body.splice(0..0, [0xEF, 0xBB, 0xBF]);
            },
        ),
        mutant(
            "invalid_utf8",
            "a byte sequence in the message that is not UTF-8",
            support::RESOLUTION_CASE,
            "json",
            "the body is not valid UTF-8",
            |_, r| {
                let at = r.body.windows(2).position(|w| w == b"4K").unwrap_or(0);
                r.body.splice(at..at, [0xC3, 0x28]);
            },
        ),
        mutant(
            "duplicate_keys",
            "`code` twice in the error object (the same value)",
            support::RESOLUTION_CASE,
            "json",
            "duplicate key",
            |_, r| {
                let text = String::from_utf8_lossy(&r.body).replacen(
                    "\"code\":\"invalid_parameter\"",
                    "\"code\":\"invalid_parameter\",\"code\":\"invalid_parameter\"",
                    1,
                );
                r.body = text.into_bytes();
            },
        ),
        mutant(
            "deeply_nested_json",
            "an extra `details` field nested 10,000 levels deep",
            support::RESOLUTION_CASE,
            "json",
            "JSON nested deeper than 64 levels",
            |_, r| {
                let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
                let text = String::from_utf8_lossy(&r.body).replacen(
                    "{\"error\":{",
                    &format!("{{\"error\":{{\"details\":{deep},"),
                    1,
                );
                r.body = text.into_bytes();
            },
        ),
        // Retryability and Retry-After.
        mutant(
            "retry_after_missing",
            "429 without `Retry-After`",
            THROTTLED,
            "retry_after",
            "no Retry-After",
            |_, r| r.remove_header("retry-after"),
        ),
        mutant(
            "retry_after_garbage",
            "429 with `Retry-After: in a minute`",
            THROTTLED,
            "retry_after",
            "neither delta-seconds nor an HTTP-date",
            |_, r| r.set_header("retry-after", "in a minute"),
        ),
        mutant(
            "retry_after_too_long",
            "429 with `Retry-After: 86400`",
            THROTTLED,
            "retry_after",
            "86400 s is longer than 3600 s",
            |_, r| r.set_header("retry-after", "86400"),
        ),
        mutant(
            "retry_after_on_non_retryable",
            "`Retry-After: 30` on 402 `quota_exceeded`",
            ZERO_BALANCE,
            "retryable",
            "\"quota_exceeded\" is not retryable (the table)",
            |_, r| r.set_header("retry-after", "30"),
        ),
        mutant(
            "rate_limit_reset_in_ms",
            "`X-RateLimit-Reset` in milliseconds",
            THROTTLED,
            "rate_limit_headers",
            "it looks like milliseconds",
            |_, r| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0);
                r.set_header("x-ratelimit-reset", &(now + 60_000).to_string());
            },
        ),
        mutant(
            "rate_limit_remaining_over_limit",
            "`X-RateLimit-Remaining` above `X-RateLimit-Limit`",
            THROTTLED,
            "rate_limit_headers",
            "X-RateLimit-Remaining 5 is more than X-RateLimit-Limit 0",
            |_, r| r.set_header("x-ratelimit-remaining", "5"),
        ),
        // doc_url.
        mutant(
            "relative_doc_url",
            "`doc_url` is a relative path",
            REVOKED,
            "doc_url",
            "got \"/guides/authentication\"",
            |_, r| r.edit(|v| v["error"]["doc_url"] = json!("/guides/authentication")),
        ),
        mutant(
            "http_doc_url",
            "`doc_url` is plain http",
            ZERO_BALANCE,
            "doc_url",
            "got \"http://docs.getimg.ai/guides/billing\"",
            |_, r| {
                r.edit(|v| v["error"]["doc_url"] = json!("http://docs.getimg.ai/guides/billing"))
            },
        ),
        // Async video failures.
        mutant(
            "failed_video_without_error",
            "a failed video with no `error` object",
            VIDEO_FAILURE,
            "poll",
            "\"error\" is a required property",
            |seen, r| {
                if is_failed_poll(seen, r) {
                    r.edit(|v| {
                        v.as_object_mut().map(|o| o.remove("error"));
                    });
                }
            },
        ),
        mutant(
            "failed_video_code_not_in_table",
            "a failed video whose code is `upstream_timeout`",
            VIDEO_FAILURE,
            "poll",
            "/error/code: value is not one of",
            |seen, r| {
                if is_failed_poll(seen, r) {
                    r.edit(|v| v["error"]["code"] = json!("upstream_timeout"));
                }
            },
        ),
        // Leaks.
        mutant(
            "stack_trace_python",
            "a Python traceback in the message",
            SERVER_ERROR,
            "no_leak",
            "the message carries a stack trace",
            |_, r| set_message(r, PYTHON_TRACE),
        ),
        mutant(
            "stack_trace_java",
            "a Java stack trace in the message",
            SERVER_ERROR,
            "no_leak",
            "the message carries a stack trace",
            |_, r| set_message(r, JAVA_TRACE),
        ),
        mutant(
            "stack_trace_go",
            "a Go panic in the message",
            SERVER_ERROR,
            "no_leak",
            "the message carries a stack trace",
            |_, r| set_message(r, GO_PANIC),
        ),
        mutant(
            "internal_file_path",
            "an internal file path in the message",
            SERVER_ERROR,
            "no_leak",
            "the message carries an internal file path: \"/srv/getimg/config/providers.yaml\"",
            |_, r| {
                set_message(
                    r,
                    "Could not load /srv/getimg/config/providers.yaml: permission denied",
                )
            },
        ),
        mutant(
            "source_file_and_line",
            "a source file and line in the message",
            support::RESOLUTION_CASE,
            "no_leak",
            "the message carries a source file and line",
            |_, r| {
                set_message(
                    r,
                    "Unsupported resolution '4K' (validate/resolution.go:214)",
                )
            },
        ),
        mutant(
            "internal_host",
            "an internal host and port in the message",
            SERVER_ERROR,
            "no_leak",
            "the message carries an internal host",
            |_, r| {
                set_message(
                    r,
                    "upstream connect error: redis-primary.default.svc.cluster.local:6379 refused",
                )
            },
        ),
        mutant(
            "request_key_in_message",
            "the request's own API key in the message",
            REVOKED,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_REVOKED_API_KEY",
            |seen, r| set_message(r, &format!("Incorrect API key provided: {}.", seen.token)),
        ),
        mutant(
            "request_key_base64",
            "the request's Authorization header, base64-encoded, in the message",
            support::RESOLUTION_CASE,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_API_KEY",
            |seen, r| {
                let b64 = base64::engine::general_purpose::STANDARD
                    .encode(format!("Bearer {}", seen.token));
                set_message(r, &format!("Unsupported resolution '4K' (trace {b64})"));
            },
        ),
        mutant(
            "request_key_in_doc_url",
            "the request's API key, URL-encoded, in a `doc_url` query",
            ZERO_BALANCE,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_ZERO_BALANCE_API_KEY",
            |seen, r| {
                let key = percent_encoding::utf8_percent_encode(
                    &seen.token,
                    percent_encoding::NON_ALPHANUMERIC,
                );
                r.edit(|v| {
                    v["error"]["doc_url"] =
                        json!(format!("https://docs.getimg.ai/guides/billing?key={key}"))
                });
            },
        ),
        mutant(
            "request_key_unicode_escaped",
            "the request's API key in the message, every character written as `\\uXXXX`",
            REVOKED,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_REVOKED_API_KEY",
            |seen, r| {
                set_message(r, "Incorrect API key provided: KEY.");
                let escaped: String = seen
                    .token
                    .chars()
                    .map(|c| format!("\\u{:04x}", c as u32))
                    .collect();
                let body = String::from_utf8_lossy(&r.body).replace("KEY", &escaped);
                r.body = body.into_bytes();
            },
        ),
        mutant(
            "request_key_hex",
            "the request's API key, hex-encoded, in the message",
            REVOKED,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_REVOKED_API_KEY",
            |seen, r| {
                let hex: String = seen.token.bytes().map(|b| format!("{b:02x}")).collect();
                set_message(r, &format!("Incorrect API key provided (id {hex})."));
            },
        ),
        mutant(
            "request_key_split_by_line_break",
            "the request's API key in the message, broken across two lines",
            REVOKED,
            "no_leak",
            "the body contains the API key of ERRCONTRACT_REVOKED_API_KEY",
            |seen, r| {
                let (a, b) = seen.token.split_at(seen.token.len() / 2);
                set_message(r, &format!("Incorrect API key provided: {a}\n{b}."));
            },
        ),
        mutant(
            "request_key_in_a_header",
            "the request's API key echoed only in a response header",
            support::RESOLUTION_CASE,
            "no_leak",
            "the header x-debug-token contains the API key of ERRCONTRACT_API_KEY",
            |seen, r| r.headers.push(("x-debug-token".into(), seen.token.clone())),
        ),
        // Transport.
        mutant(
            "connection_reset",
            "the connection reset instead of an answer",
            support::RESOLUTION_CASE,
            "transport",
            "the connection was reset by the server",
            |_, r| r.wire = Wire::Reset,
        ),
        mutant(
            "truncated_body",
            "the body cut short of its `Content-Length`",
            support::RESOLUTION_CASE,
            "transport",
            "the body was cut short after",
            |_, r| r.length = Length::Declared(r.body.len() + 64),
        ),
        mutant(
            "garbage_status_line",
            "a status line that is not HTTP",
            support::RESOLUTION_CASE,
            "transport",
            "the response is not valid HTTP",
            |_, r| r.status_line = Some("HTTX/9 four hundred".into()),
        ),
        mutant(
            "slow_trickle",
            "the answer one byte per 100 ms, past the 2 s timeout",
            support::RESOLUTION_CASE,
            "transport",
            "timed out after 2s",
            |_, r| r.wire = Wire::Trickle(Duration::from_millis(100)),
        ),
        mutant(
            "body_50_mb",
            "a 50 MB body (the envelope padded with spaces, no Content-Length)",
            SERVER_ERROR,
            "transport",
            "with a body larger than 1048576 bytes",
            |_, r| {
                r.body.resize(50 * 1024 * 1024, b' ');
                r.length = Length::CloseDelimited;
            },
        ),
        // Faults only derived cases catch: no hand-written case sends these requests.
        mutant(
            "param_wrong_for_one_field",
            "a copy-paste bug: a wrong JSON type for `resolution` is blamed on `aspect_ratio`",
            derived(DERIVED[0]),
            "param",
            "sent `resolution` as a number (42): the target blamed `aspect_ratio`",
            |seen, r| {
                if resolution_of_wrong_type(seen) && r.json()["error"]["param"] == "resolution" {
                    r.edit(|v| v["error"]["param"] = json!("aspect_ratio"));
                }
            },
        ),
        mutant(
            "value_checked_before_presence",
            "with `prompt` missing and `resolution` unsupported, the unsupported value is reported (the other order)",
            derived(DERIVED[1]),
            "code",
            "the target answered `invalid_parameter` blaming `resolution` (expected `parameter_missing` for `prompt`)",
            |seen, r| {
                if let Some(resolution) = unsupported_resolution_without_prompt(seen) {
                    r.edit(|v| {
                        v["error"] = json!({
                            "message": format!("Unsupported resolution '{resolution}' for model 'seedream-5-lite'."),
                            "type": "invalid_request_error",
                            "param": "resolution",
                            "code": "invalid_parameter",
                        })
                    });
                }
            },
        ),
    ]
}

fn is_image_generation(seen: &Seen) -> bool {
    seen.method == "POST" && seen.target == "/v2/images/generations"
}

/// An image generation whose `resolution` is there but not a string.
fn resolution_of_wrong_type(seen: &Seen) -> bool {
    is_image_generation(seen) && seen.json.get("resolution").is_some_and(|v| !v.is_string())
}

/// The resolution of an image generation on seedream-5-lite that has no prompt and a
/// resolution that model does not support (2K and 3K are its own).
fn unsupported_resolution_without_prompt(seen: &Seen) -> Option<String> {
    let body = &seen.json;
    let resolution = body.get("resolution")?.as_str()?;
    (is_image_generation(seen)
        && body.get("prompt").is_none()
        && body["model"] == "seedream-5-lite"
        && !["2K", "3K"].contains(&resolution))
    .then(|| resolution.to_string())
}

/// The mutants only derived cases catch, by name.
const DERIVED_ONLY: &[&str] = &["param_wrong_for_one_field", "value_checked_before_presence"];

// --- Judging ---

/// What one mutant came to.
struct Judged {
    name: &'static str,
    check: &'static str,
    failed: Vec<&'static str>,
    outcome: String,
    problems: Vec<String>,
}

fn outcome_word(o: &Outcome) -> String {
    match o {
        Outcome::Passed => "passed".into(),
        Outcome::Failed { step } => format!("failed at step {}", step + 1),
        Outcome::Ignored(why) => format!("ignored: {why}"),
        Outcome::Inconclusive(why) => format!("inconclusive: {why}"),
    }
}

/// Every form of every test key, to prove none is shown.
fn key_forms() -> Vec<(&'static str, String)> {
    [
        support::VALID_KEY,
        support::REVOKED_KEY,
        support::ZERO_KEY,
        support::THROTTLED_KEY,
    ]
    .into_iter()
    .flat_map(|k| {
        errcontract::redact::encoded_forms(k)
            .into_iter()
            .map(move |f| (k, f))
    })
    .collect()
}

/// Run `case` through the real runner against the reference behind a proxy applying `fault`.
async fn run_through(
    name: &str,
    case: &str,
    fault: Fault,
) -> (
    errcontract::case::Case,
    errcontract::run::CaseResult,
    String,
) {
    let server = reference_server().await;
    let proxy = faulty_proxy(server.base_url(), fault).await;
    let case = subject(name, case);
    let runner = support::runner(&proxy);
    let result = runner.run_case(&case).await;
    let rendered = errcontract::report::failure(&case, &result, runner.target());
    server.shutdown().await;
    (case, result, rendered)
}

async fn judge(m: Mutant) -> Judged {
    let (_, result, rendered) =
        run_through(&format!("mutants/{}", m.name), m.case, m.fault_fn.clone()).await;
    let failed = support::failed_checks(&result);
    let mut problems = Vec::new();
    if !matches!(result.outcome, Outcome::Failed { .. }) {
        problems.push(format!(
            "the case must fail, it {}",
            outcome_word(&result.outcome)
        ));
    } else {
        if !failed.contains(&m.check) {
            problems.push(format!("{} is not among the failed checks", m.check));
        }
        if !rendered.contains(m.says) {
            problems.push(format!("the output does not say {:?}", m.says));
        }
    }
    for (key, form) in key_forms() {
        if rendered.contains(&form) {
            problems.push(format!("the output shows the key {key} as {form:?}"));
        }
    }
    if !problems.is_empty() {
        problems.push(format!("rendered failure:\n{rendered}"));
    }
    Judged {
        name: m.name,
        check: m.check,
        failed,
        outcome: outcome_word(&result.outcome),
        problems,
    }
}

async fn judge_all(catalog: Vec<Mutant>) -> Vec<Judged> {
    // A few at a time: each mutant builds its own clients and servers, and on 2 cores a crowd
    // of them would starve each other past the 2 s request timeout.
    let slots = Arc::new(tokio::sync::Semaphore::new(4));
    let mut set = tokio::task::JoinSet::new();
    for (i, m) in catalog.into_iter().enumerate() {
        let slots = slots.clone();
        set.spawn(async move {
            let _slot = slots.acquire_owned().await;
            (i, judge(m).await)
        });
    }
    let mut judged = Vec::new();
    while let Some(joined) = set.join_next().await {
        judged.push(joined.expect("a mutant's task does not panic"));
    }
    judged.sort_by_key(|(i, _)| *i);
    judged.into_iter().map(|(_, j)| j).collect()
}

fn score_table(judged: &[Judged]) -> String {
    let mut out = format!(
        "{:<34} {:<20} {:<10} checks that failed\n",
        "mutant", "expected check", "killed"
    );
    for j in judged {
        let _ = writeln!(
            out,
            "{:<34} {:<20} {:<10} {}",
            j.name,
            j.check,
            if j.problems.is_empty() { "yes" } else { "NO" },
            if j.failed.is_empty() {
                format!("(none: {})", j.outcome)
            } else {
                j.failed.join(", ")
            }
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutant_is_killed() {
    let _alone = HEAVY.lock().await;
    let catalog = catalog();
    assert!(
        catalog.len() >= 30,
        "the catalog has {} mutants",
        catalog.len()
    );
    let mut names: Vec<&str> = catalog.iter().map(|m| m.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), catalog.len(), "mutant names are unique");

    let judged = judge_all(catalog).await;
    let killed = judged.iter().filter(|j| j.problems.is_empty()).count();
    let score = 100.0 * killed as f64 / judged.len() as f64;
    let table = score_table(&judged);
    let mut details = String::new();
    for j in judged.iter().filter(|j| !j.problems.is_empty()) {
        let _ = writeln!(details, "\n--- {} ({}):", j.name, j.outcome);
        for p in &j.problems {
            let _ = writeln!(details, "  {p}");
        }
    }
    assert!(
        killed == judged.len(),
        "mutation score {score:.1}% ({killed}/{} killed)\n\n{table}{details}",
        judged.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_through_the_proxy_without_a_fault() {
    let mut failures = Vec::new();
    for (name, text) in controls() {
        let (_, result, rendered) = run_through(name, text, Arc::new(|_, _| {})).await;
        if !support::passed(&result) {
            failures.push(format!(
                "{name}: {}\n{rendered}",
                outcome_word(&result.outcome)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Held by the tests that run many cases through proxies, so they do not run at once: on 2
/// cores their load together pushes the timing mutants (a 50 MB body in 2 s) past the timeout.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What each hand-written case of cases/ that sends an image generation comes to behind a
/// proxy applying `fault`: (trial, passed).
async fn hand_written_image_cases(fault: Fault) -> Vec<(String, bool)> {
    let cases = crate::support::root().join("cases");
    let loaded = errcontract::case::load_all(&cases, &support::contract()).expect("cases load");
    let server = reference_server().await;
    let proxy = faulty_proxy(server.base_url(), fault).await;
    let runner = support::runner(&proxy);
    let mut out = Vec::new();
    for case in &loaded.cases {
        let sends_images = case.steps.iter().any(|(_, s)| {
            s.request.method.as_str() == "POST" && s.request.path == "/v2/images/generations"
        });
        // Bodies generated to a size (25 MiB) carry no parameters to fault and only slow this down.
        let sized = case
            .steps
            .iter()
            .any(|(_, s)| s.request.body_size.is_some());
        if sends_images && !sized && case.ignore.is_none() {
            let result = runner.run_case(case).await;
            out.push((case.trial_name(), support::passed(&result)));
        }
    }
    server.shutdown().await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hand_written_cases_alone_miss_the_faults_only_derived_cases_catch() {
    let _alone = HEAVY.lock().await;
    let control = hand_written_image_cases(Arc::new(|_, _| {})).await;
    let passing: Vec<&String> = control
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(n, _)| n)
        .collect();
    assert!(
        passing.len() >= 20,
        "only {} hand-written image cases pass through the proxy: {control:?}",
        passing.len()
    );
    for m in catalog()
        .into_iter()
        .filter(|m| DERIVED_ONLY.contains(&m.name))
    {
        let mutated = hand_written_image_cases(m.fault_fn.clone()).await;
        let caught: Vec<&String> = mutated
            .iter()
            .filter(|(name, ok)| !ok && passing.contains(&name))
            .map(|(n, _)| n)
            .collect();
        assert!(
            caught.is_empty(),
            "{}: hand-written cases catch it too, so it does not show what derived cases add: {caught:?}",
            m.name
        );
    }
}

/// The suite sends no `Accept-Encoding`, so a target may compress any answer: every shipped
/// case passes against the reference server behind a proxy that gzips every body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_case_passes_when_the_target_gzips_its_bodies() {
    use std::io::Write;
    let _alone = HEAVY.lock().await;
    let cases = crate::support::root().join("cases");
    let loaded = errcontract::case::load_all(&cases, &support::contract()).expect("cases/");
    assert!(loaded.cases.len() > 50, "only {} cases", loaded.cases.len());
    let gzip: Fault = Arc::new(|_, r| {
        if r.body.is_empty() {
            return;
        }
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if e.write_all(&r.body).is_ok()
            && let Ok(zipped) = e.finish()
        {
            r.body = zipped;
            r.headers.push(("content-encoding".into(), "gzip".into()));
        }
    });
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &loaded.cases {
        let text = case.text().expect("the case file");
        let (_, result, rendered) = run_through(&case.name, &text, gzip.clone()).await;
        passed += usize::from(support::passed(&result));
        if !support::passed(&result) && !matches!(result.outcome, Outcome::Ignored(_)) {
            failures.push(format!(
                "{}: {}\n{rendered}",
                case.name,
                outcome_word(&result.outcome)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases fail on gzip bodies:\n{}",
        failures.len(),
        loaded.cases.len(),
        failures.join("\n")
    );
    assert!(
        passed > 50,
        "only {passed} cases ran and passed: the run proves little"
    );
}

#[test]
fn every_catalog_case_is_in_the_controls() {
    for m in catalog() {
        assert!(
            controls().iter().any(|(_, text)| *text == m.case),
            "{}: its case is not among the controls",
            m.name
        );
    }
}

/// Leaks in the shapes real servers produce them: each must fail `no_leak` naming what it is.
const LEAKS: &[(&str, &str)] = &[
    (
        "Traceback (most recent call last):\n  File \"/srv/api/images.py\", line 88, in create",
        "a stack trace",
    ),
    (
        "  File \"handlers/images.py\", line 88, in create",
        "a stack trace",
    ),
    (
        "TypeError: Cannot read properties of undefined\n    at generate (file:///app/dist/server.mjs:10:5)",
        "a stack trace",
    ),
    (
        "panic: runtime error: index out of range [3] with length 3",
        "a stack trace",
    ),
    (
        "thread 'tokio-runtime-worker' panicked at src/handlers.rs:42:9",
        "a stack trace",
    ),
    (
        "System.NullReferenceException: Object reference not set\n   at Getimg.Api.ImagesController.Create(ImageRequest req)",
        "a stack trace",
    ),
    (
        "Exception in thread \"main\" java.lang.RuntimeException",
        "a stack trace",
    ),
    (
        "NoMethodError: undefined method `url' for nil\napp/controllers/images_controller.rb:42:in `create'",
        "a source file and line",
    ),
    (
        "Uncaught Exception: boom in /var/www/html/api/images.php:12",
        "a source file and line",
    ),
    (
        "Error: ENOENT: no such file or directory, open '/app/config/prod.json'",
        "an internal file path",
    ),
    (
        "Could not open /Users/deploy/getimg/config.yaml",
        "an internal file path",
    ),
    (
        "read /run/secrets/provider_token: permission denied",
        "an internal file path",
    ),
    (
        "Could not load C:\\build\\Api\\appsettings.json",
        "an internal file path",
    ),
    (
        "dial tcp 10.0.3.7:5432: connect: connection refused",
        "an internal host",
    ),
    ("connect ECONNREFUSED 127.0.0.1:6379", "an internal host"),
    (
        "upstream http://localhost:8080/generate failed",
        "an internal host",
    ),
    (
        "dial tcp 169.254.169.254:80: i/o timeout",
        "an internal host",
    ),
    (
        "dial tcp [fd00::1]:5432: connection refused",
        "an internal host",
    ),
    (
        "upstream images-worker-7f9c.prod.getimg.internal timed out",
        "an internal host",
    ),
    (
        "could not reach postgres://app:hunter2@db:5432/images",
        "a URL with credentials",
    ),
];

/// Messages a conforming server sends (the reference's own among them): none is a leak.
const CLEAN: &[&str] = &[
    "The server had an error while processing your request.",
    "Unsupported resolution '4K' for model 'seedream-5-lite'.",
    "Invalid image URL in 'images[0].url': use an https:// URL or a data:image/(png|jpeg|webp);base64 URL.",
    "Incorrect API key provided. You can manage your API keys at https://getimg.ai/app/developer/api-keys",
    "Model 'seedance-v1-pro' is a video model; use it with POST /v2/videos/generations.",
    "Rate limit reached: this workspace may submit 600 image generation requests per 60 seconds. Retry after 12 seconds.",
    "Unrecognized request URL: GET /v2/tmp/x.",
    "The request body is not valid JSON: expected value at line 1 column 1.",
    "Invalid value for 'start': 2026-05-01T12:00:00Z is after 'end'.",
    "Unsupported aspect_ratio '16:9' for model 'z-image-turbo'.",
    "Upstream provider request timed out. Retry at 10.30 UTC.",
    "See https://docs.getimg.ai/guides/errors#server_error, version 1.2.3.4.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_leak_catches_each_shape_of_leak_and_passes_clean_messages() {
    let slots = Arc::new(tokio::sync::Semaphore::new(4));
    let mut set = tokio::task::JoinSet::new();
    let samples = LEAKS
        .iter()
        .map(|(m, what)| (*m, Some(*what)))
        .chain(CLEAN.iter().map(|m| (*m, None)));
    for (i, (message, what)) in samples.enumerate() {
        let slots = slots.clone();
        set.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let fault: Fault = Arc::new(move |_, r| set_message(r, message));
            let (_, result, rendered) =
                run_through(&format!("leaks/sample-{i}"), SERVER_ERROR, fault).await;
            let failed = support::failed_checks(&result);
            let problem = match what {
                Some(what) => {
                    let says = format!("the message carries {what}");
                    (!failed.contains(&"no_leak") || !rendered.contains(&says))
                        .then(|| format!("missed, expected {says:?}; failed: {failed:?}"))
                }
                None => (!support::passed(&result)).then(|| {
                    format!(
                        "a false alarm: {}\n{rendered}",
                        outcome_word(&result.outcome)
                    )
                }),
            };
            problem.map(|p| format!("{message:?}: {p}"))
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = set.join_next().await {
        problems.extend(joined.expect("a sample's task does not panic"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The catalog as the Markdown table docs/mutants.md shows.
fn docs_table() -> String {
    let mut out = String::from(
        "| # | mutant | fault | caught by | the output says |\n|---|---|---|---|---|\n",
    );
    for (i, m) in catalog().iter().enumerate() {
        let says = m.says.replace('\n', " ");
        // A code span holding backticks is fenced by two.
        let says = if says.contains('`') {
            format!("`` {says} ``")
        } else {
            format!("`{says}`")
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | `{}` | {says} |",
            i + 1,
            m.name,
            m.fault,
            m.check,
        );
    }
    out
}

#[test]
fn docs_mutants_md_shows_the_current_catalog() {
    let path = crate::support::root().join("docs/mutants.md");
    let docs = std::fs::read_to_string(&path).unwrap_or_default();
    let table = docs_table();
    assert!(
        docs.contains(&table),
        "docs/mutants.md does not show the current catalog; replace its table with:\n\n{table}"
    );
    // every_mutant_is_killed holds the score at 100%, so the documented one is all of them.
    let n = catalog().len();
    let score = format!("Score: {n} of {n} killed (100%)");
    assert!(docs.contains(&score), "docs/mutants.md must say {score:?}");
}
