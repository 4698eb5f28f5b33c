//! The reference server under hostile input: random methods, paths, headers, credentials and
//! bodies (proptest), raw bytes on the socket, bodies past the 25 MiB limit, many connections
//! at once and a bounded load. Every error answer must be the contract's envelope with the
//! table's status for its code; no answer is a 5xx unless a fault was injected; the server
//! never stops answering.
//!
//! Case counts and durations are bounded so the file runs in a few seconds; nothing here
//! asserts speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use errcontract::contract::Contract;
use errcontract::reference::{self, Config, Keys, Running};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Cases per property: enough to wander, few enough to stay a few seconds.
const CASES: u32 = 128;

fn contract() -> &'static Contract {
    static C: std::sync::OnceLock<Contract> = std::sync::OnceLock::new();
    C.get_or_init(|| Contract::embedded().expect("the embedded schemas compile"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client")
}

fn prop_config() -> PropConfig {
    PropConfig {
        cases: CASES,
        // Shrunk failures are printed; nothing is written into the source tree.
        failure_persistence: None,
        ..PropConfig::default()
    }
}

/// One answer, read whole.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Whether `answer` keeps the contract: an error is the envelope with its code's table status,
/// and nothing is a 5xx unless the request injected a fault. `head`: the answer has no body.
fn in_contract(answer: &Answer, injected: bool, head: bool) -> Result<(), String> {
    let status = answer.status;
    if injected {
        if status != 500 {
            return Err(format!("an injected fault answered {status}, not 500"));
        }
    } else if status >= 500 {
        return Err(format!("{status} without an injected fault"));
    }
    if (200..300).contains(&status) {
        return Ok(());
    }
    if status < 400 {
        return Err(format!("status {status}: neither a success nor an error"));
    }
    let essence = answer.content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(format!(
            "{status} with Content-Type {:?}",
            answer.content_type
        ));
    }
    if head {
        return if contract().table.has_status(status) {
            Ok(())
        } else {
            Err(format!("HEAD answered {status}, a status of no code"))
        };
    }
    let body: Value = serde_json::from_slice(&answer.body).map_err(|e| {
        format!(
            "{status} body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&answer.body)
        )
    })?;
    if !contract().error.is_valid(&body) {
        return Err(format!("{status} body is not the envelope: {body}"));
    }
    let code = body["error"]["code"].as_str().unwrap_or("");
    match contract().table.status_of(code) {
        Some(s) if s == status => Ok(()),
        Some(s) => Err(format!(
            "{status} with code {code:?}, which the table gives {s}: {body}"
        )),
        None => Err(format!("code {code:?} is not in the table: {body}")),
    }
}

// --- Random requests ---

#[derive(Debug, Clone)]
struct Hostile {
    method: String,
    path: String,
    auth: Option<Vec<u8>>,
    content_type: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Hostile {
    /// Whether the request injects a fault the way the reference reads it: the first
    /// `X-Errcontract-Fault`, as visible ASCII, trimmed, case-insensitive.
    fn injected(&self) -> bool {
        let first = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(reference::FAULT_HEADER));
        first
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .filter(|v| v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
            .map(str::trim)
            .is_some_and(|v| {
                v.eq_ignore_ascii_case("server_error") || v.eq_ignore_ascii_case("panic")
            })
    }
}

fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![8 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\t')],
        0..max,
    )
}

fn keys() -> Keys {
    Config::default().keys()
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
            .prop_map(String::from),
        1 => "[A-Z]{1,12}",
        1 => "[!#$%&'*+.^_`|~0-9a-zA-Z-]{1,16}",
    ]
}

const KNOWN_PATHS: &[&str] = &[
    "/v2/images/generations",
    "/v2/videos/generations",
    "/v2/videos/generations/req-01HXYZVIDEO12345678901234",
    "/v2/models",
    "/v2/models/seedream-5-lite",
    "/v2/models?type=video",
    "/v2/billing/balance",
    "/v2/billing/costs?start=2026-01-01&end=2026-01-31",
    "/v2/downloads/req-01HXYZVIDEO12345678901234/0?exp=1&sig=00",
    "/",
];

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KNOWN_PATHS).prop_map(String::from),
        2 => (prop::sample::select(KNOWN_PATHS), "[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,30}")
            .prop_map(|(p, s)| format!("{p}/{s}")),
        1 => "/v2/models\\?type=[ -~]{0,20}",
        1 => "/v2/billing/costs\\?start=[ -~]{0,24}&end=[ -~]{0,24}",
        1 => "/[ -~]{0,80}",
        1 => "/\\PC{0,30}",
    ]
}

fn auth() -> impl Strategy<Value = Option<Vec<u8>>> {
    let k = keys();
    let bearer = |key: String| Some(format!("Bearer {key}").into_bytes());
    prop_oneof![
        6 => Just(bearer(k.valid)),
        1 => prop::sample::select(vec![k.revoked, k.zero_balance, k.throttled]).prop_map(bearer),
        1 => Just(None),
        1 => "(Bearer|bearer|Basic|) ?[ -~]{0,40}".prop_map(|s| Some(s.into_bytes())),
        1 => header_bytes(48).prop_map(Some),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        4 => Just(Some("application/json".to_string())),
        1 => prop::sample::select(vec![
            "application/json; charset=utf-8",
            "APPLICATION/JSON",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
        ])
        .prop_map(|s| Some(s.to_string())),
        1 => "[ -~]{0,40}".prop_map(Some),
    ]
}

fn extra_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        2 => Just(reference::FAULT_HEADER.to_string()),
        1 => Just("expect".to_string()),
        1 => prop::sample::select(vec!["accept", "accept-encoding", "x-request-id", "origin", "range", "if-none-match"])
            .prop_map(String::from),
        3 => "[a-z][a-z0-9-]{0,20}",
    ];
    let value = prop_oneof![
        1 => prop::sample::select(vec!["server_error", " Server_Error ", "panic", "PANIC", "100-continue", "gzip", "bytes=0-1"])
            .prop_map(|s| s.as_bytes().to_vec()),
        3 => header_bytes(64),
    ];
    proptest::collection::vec((name, value), 0..5)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A generation request with plausible and implausible values.
fn generation() -> impl Strategy<Value = Value> {
    let model = prop_oneof![
        prop::sample::select(vec![
            "seedream-5-lite",
            "seedream-4-5",
            "gpt-image-2",
            "z-image-turbo",
            "seedance-v1-pro",
            "seedance-v1-5-pro",
        ])
        .prop_map(|s| json!(s)),
        json_value(),
    ];
    let prompt = prop_oneof![
        "\\PC{0,60}".prop_map(|s| json!(s)),
        Just(json!("waves errcontract-trigger:video-failure")),
        Just(json!("errcontract-trigger:content-policy")),
        json_value(),
    ];
    let choice = |values: Vec<&'static str>| {
        prop_oneof![
            prop::sample::select(values).prop_map(|s| json!(s)),
            json_value(),
        ]
    };
    (
        model,
        prompt,
        proptest::option::of(choice(vec!["1:1", "16:9", "2:3", "4:5"])),
        proptest::option::of(choice(vec!["1K", "2K", "4K", "720p", "1080p"])),
        proptest::option::of(json_value()),
        proptest::option::of(json_value()),
    )
        .prop_map(|(model, prompt, ratio, resolution, images, extra)| {
            let mut o = serde_json::Map::new();
            o.insert("model".into(), model);
            o.insert("prompt".into(), prompt);
            if let Some(r) = ratio {
                o.insert("aspect_ratio".into(), r);
            }
            if let Some(r) = resolution {
                o.insert("resolution".into(), r);
            }
            if let Some(i) = images {
                o.insert("images".into(), i);
            }
            if let Some(e) = extra {
                o.insert("duration".into(), e);
            }
            Value::Object(o)
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        2 => proptest::collection::vec(any::<u8>(), 0..512),
        2 => json_value().prop_map(|v| v.to_string().into_bytes()),
        4 => generation().prop_map(|v| v.to_string().into_bytes()),
        1 => (1usize..400).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()),
        1 => Just(b"\xEF\xBB\xBF{}".to_vec()),
    ]
}

/// A route the reference serves, with a method it serves there.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v2/images/generations"),
    ("POST", "/v2/videos/generations"),
    (
        "GET",
        "/v2/videos/generations/req-01HXYZVIDEO12345678901234",
    ),
    ("GET", "/v2/models"),
    ("HEAD", "/v2/models"),
    ("GET", "/v2/models/seedream-5-lite"),
    ("GET", "/v2/billing/balance"),
    ("GET", "/v2/billing/costs?start=2026-01-01&end=2026-01-31"),
    (
        "GET",
        "/v2/downloads/req-01HXYZVIDEO12345678901234/0?exp=1&sig=00",
    ),
];

fn hostile() -> impl Strategy<Value = Hostile> {
    // Mostly requests that reach a handler; the rest go anywhere with any method.
    let target = prop_oneof![
        3 => prop::sample::select(ROUTES).prop_map(|(m, p)| (m.to_string(), p.to_string())),
        2 => (method(), path()),
    ];
    (target, auth(), content_type(), extra_headers(), body()).prop_map(
        |((method, path), auth, content_type, headers, body)| Hostile {
            method,
            path,
            auth,
            content_type,
            headers,
            body,
        },
    )
}

/// Names reqwest manages itself or that would change the connection, not the request.
const MANAGED: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "authorization",
    "content-type",
];

/// Send `h`; None when reqwest cannot express it (an invalid URL).
async fn send(client: &reqwest::Client, base: &str, h: &Hostile) -> Option<Result<Answer, String>> {
    let method = reqwest::Method::from_bytes(h.method.as_bytes()).ok()?;
    let url = reqwest::Url::parse(&format!("{base}{}", h.path)).ok()?;
    let mut b = client.request(method, url);
    if let Some(a) = &h.auth
        && let Ok(v) = reqwest::header::HeaderValue::from_bytes(a)
    {
        b = b.header(reqwest::header::AUTHORIZATION, v);
    }
    if let Some(ct) = &h.content_type
        && let Ok(v) = reqwest::header::HeaderValue::from_str(ct)
    {
        b = b.header(reqwest::header::CONTENT_TYPE, v);
    }
    for (n, v) in &h.headers {
        if MANAGED.contains(&n.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(n.as_bytes()),
            reqwest::header::HeaderValue::from_bytes(v),
        ) {
            b = b.header(n, v);
        }
    }
    if !h.body.is_empty() {
        b = b.body(h.body.clone());
    }
    Some(answer_of(b).await)
}

/// Send a request and read its status, content type and body.
async fn answer_of(b: reqwest::RequestBuilder) -> Result<Answer, String> {
    let r = b
        .send()
        .await
        .map_err(|e| format!("no answer: {}", errcontract::probe::chain(&e)))?;
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("the body broke off: {}", errcontract::probe::chain(&e)))?;
    Ok(Answer {
        status,
        content_type,
        body: body.to_vec(),
    })
}

#[test]
fn random_requests_are_answered_in_the_envelope() {
    let rt = runtime();
    let server: Running = rt
        .block_on(reference::start(Config::default()))
        .expect("the reference server starts");
    let base = server.base_url();
    let client = client();
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let mut runner = TestRunner::new(prop_config());
    let result = runner.run(&hostile(), |h| {
        let Some(answer) = rt.block_on(send(&client, &base, &h)) else {
            return Err(TestCaseError::reject("not expressible as a URL"));
        };
        let answer = answer.map_err(TestCaseError::fail)?;
        if let Ok(mut m) = statuses.lock() {
            *m.entry(answer.status).or_default() += 1;
        }
        // reqwest only sends methods that parse; HEAD answers carry no body.
        let head = h.method == "HEAD";
        in_contract(&answer, h.injected(), head).map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "random requests: answers by status {:?}",
        statuses.lock().map(|m| m.clone()).unwrap_or_default()
    );
}

// --- Raw bytes on the socket ---

/// Send `bytes` and read the answer: until it is complete, the server closes, or nothing comes
/// for `idle` (a request the server is still waiting to see the rest of). Our side stays open:
/// a client that half-closes may lose its answer (hyper's default), which is not under test.
async fn raw_exchange(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    idle: Duration,
) -> Result<Vec<u8>, String> {
    let mut sock = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    // A server that answers early and closes makes our write fail; its answer is still readable.
    let _ = sock.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let head_only = bytes.starts_with(b"HEAD ");
    while !is_complete(&out, head_only) {
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "no end of answer within 10 s; got {} bytes",
                out.len()
            ));
        }
        match tokio::time::timeout(idle, sock.read(&mut buf)).await {
            Err(_) if out.is_empty() => break,
            Err(_) => return Err(format!("the answer stalled after {} bytes", out.len())),
            // Closed, or reset after what arrived: judge what arrived.
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    Ok(out)
}

/// Whether `raw` holds a whole answer: its head and a body of its `Content-Length`, or a
/// finished chunked body (`head_only`: the answer to HEAD, which has no body).
fn is_complete(raw: &[u8], head_only: bool) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    if head.starts_with("http/1.1 1") {
        // An interim answer (100 Continue); the real one follows.
        return is_complete(&raw[end + 4..], head_only);
    }
    if head_only {
        return true;
    }
    if head.contains("transfer-encoding: chunked") {
        return raw.ends_with(b"0\r\n\r\n");
    }
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    length.is_some_and(|n| raw.len() >= end + 4 + n)
}

/// Split an HTTP/1.x answer into status, content type and body (Content-Length or chunked).
fn parse_answer(raw: &[u8], head_only: bool) -> Result<Answer, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no header end in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP/1.x status line: {status_line:?}"))?;
    let mut content_type = String::new();
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        match n.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = v.trim().to_string(),
            "content-length" => length = v.trim().parse::<usize>().ok(),
            "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    if (100..200).contains(&status) {
        // An interim answer (100 Continue); the real one follows.
        return parse_answer(rest, head_only);
    }
    let body = if head_only {
        Vec::new()
    } else if chunked {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or("a chunk size line is cut off")?;
            let size_text = String::from_utf8_lossy(&rest[at..at + line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_text:?}"))?;
            at += line_end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(at..at + size).ok_or("a chunk is cut off")?);
            at += size + 2;
        }
        body
    } else {
        match length {
            Some(n) => rest.get(..n).ok_or("the body is cut short")?.to_vec(),
            None => rest.to_vec(),
        }
    };
    Ok(Answer {
        status,
        content_type,
        body,
    })
}

/// What a raw exchange came to.
enum RawVerdict {
    /// No answer: the server waits for the rest of an incomplete request, or closed.
    Closed,
    /// The envelope (or a success).
    Enveloped,
    /// hyper's own bodiless 400/431 for a request it cannot parse: the documented known limit.
    HyperBare,
}

fn judge_raw(raw: &[u8], head_only: bool) -> Result<RawVerdict, String> {
    if raw.is_empty() {
        return Ok(RawVerdict::Closed);
    }
    let answer = parse_answer(raw, head_only)?;
    if matches!(answer.status, 400 | 431)
        && answer.body.is_empty()
        && answer.content_type.is_empty()
    {
        return Ok(RawVerdict::HyperBare);
    }
    // Raw requests never carry the fault header on purpose; a 5xx is a failure.
    in_contract(&answer, false, head_only).map(|_| RawVerdict::Enveloped)
}

/// Bytes for the socket, shown as text when proptest reports a failing case.
#[derive(Clone)]
struct RawRequest(Vec<u8>);

impl std::fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

fn raw_request() -> impl Strategy<Value = RawRequest> {
    let header_line = prop_oneof![
        6 => "[a-zA-Z-]{1,20}: [ -~]{0,40}",
        1 => "[ -~]{0,60}",
        1 => prop::sample::select(vec![
            "Content-Length: 5",
            "Content-Length: -1",
            "Content-Length: 99999999999999999999",
            "Transfer-Encoding: chunked",
            "Transfer-Encoding: gzip, chunked",
            "Expect: 100-continue",
            "Content-Type: application/json",
            "X-Errcontract-Fault: nonsense",
        ])
        .prop_map(String::from),
    ];
    let request_line = prop_oneof![
        // Mostly requests hyper parses, so the application sees them.
        6 => (
            method(),
            prop_oneof![
                prop::sample::select(KNOWN_PATHS).prop_map(|p| p.trim_start_matches('/').to_string()),
                "[a-zA-Z0-9._~%!$&'()*+,;=:@/?-]{0,60}",
            ],
            prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0"]),
        ),
        // And some it does not.
        1 => (
            method(),
            "[ -~]{0,60}",
            prop::sample::select(vec!["HTTP/1.1", "HTTP/2.0", "HTTP/9", "http/1.1", ""]),
        ),
    ];
    prop_oneof![
        // Garbage.
        1 => proptest::collection::vec(any::<u8>(), 1..512),
        // Something like HTTP, with odd parts.
        6 => (
            request_line,
            proptest::collection::vec(header_line, 0..6),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|((m, p, v), headers, body)| {
                let mut out = format!("{m} /{p} {v}\r\nHost: x\r\n").into_bytes();
                for h in headers {
                    out.extend_from_slice(h.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&body);
                out
            }),
    ]
    .prop_map(RawRequest)
}

#[test]
fn raw_bytes_never_break_the_server() {
    let rt = runtime();
    let server: Running = rt
        .block_on(reference::start(Config::default()))
        .expect("the reference server starts");
    let addr = server.addr;
    let base = server.base_url();
    let client = client();
    let bare = Arc::new(AtomicUsize::new(0));
    let enveloped = Arc::new(AtomicUsize::new(0));
    let mut runner = TestRunner::new(prop_config());
    let (counted, served) = (bare.clone(), enveloped.clone());
    let result = runner.run(&raw_request(), |RawRequest(bytes)| {
        let raw = rt
            .block_on(raw_exchange(addr, &bytes, Duration::from_millis(500)))
            .map_err(TestCaseError::fail)?;
        match judge_raw(&raw, bytes.starts_with(b"HEAD ")).map_err(TestCaseError::fail)? {
            RawVerdict::HyperBare => {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            RawVerdict::Enveloped => {
                served.fetch_add(1, Ordering::Relaxed);
            }
            RawVerdict::Closed => {}
        }
        // Still serving.
        let ok = rt.block_on(async {
            client
                .get(format!("{base}/v2/models"))
                .bearer_auth(keys().valid)
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
        prop_assert_eq!(
            ok.ok(),
            Some(200),
            "the server stopped answering after {:?}",
            String::from_utf8_lossy(&bytes)
        );
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "raw bytes: of {CASES}, {} answered by the application, {} by hyper's bare 400/431 (the documented known limit), the rest left waiting or closed",
        enveloped.load(Ordering::Relaxed),
        bare.load(Ordering::Relaxed)
    );
}

// --- Body and connection limits ---

const LIMIT: usize = 25 * 1024 * 1024;

fn assert_too_large(answer: &Answer) {
    in_contract(answer, false, false).unwrap_or_else(|e| panic!("{e}"));
    let body: Value = serde_json::from_slice(&answer.body).expect("JSON");
    assert_eq!(answer.status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_parameter", "{body}");
    assert_eq!(body["error"]["param"], Value::Null, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("25 MiB")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_25_mib_gets_the_400_envelope_however_it_is_sent() {
    let server = reference::start(Config::default()).await.expect("starts");
    let key = keys().valid;
    // With a Content-Length.
    let answer = send(
        &client(),
        &server.base_url(),
        &Hostile {
            method: "POST".into(),
            path: "/v2/images/generations".into(),
            auth: Some(format!("Bearer {key}").into_bytes()),
            content_type: Some("application/json".into()),
            headers: Vec::new(),
            body: errcontract::request::sized_body(LIMIT + 1).to_vec(),
        },
    )
    .await
    .expect("expressible")
    .expect("an answer, not a reset");
    assert_too_large(&answer);

    // Chunked, no length announced: counted while reading.
    let mut bytes = format!(
        "POST /v2/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..26 {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(&chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    let raw = raw_exchange(server.addr, &bytes, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert_too_large(&parse_answer(&raw, false).expect("HTTP"));

    // Announced as 30 MiB behind `Expect: 100-continue`, body never sent: answered at once.
    let head = format!(
        "POST /v2/videos/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        30 * 1024 * 1024
    );
    let mut sock = TcpStream::connect(server.addr).await.expect("connect");
    sock.write_all(head.as_bytes()).await.expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf))
        .await
        .expect("answered without the body")
        .expect("read");
    let text = &buf[..n];
    assert!(
        !text.starts_with(b"HTTP/1.1 100"),
        "asked for a body it will refuse: {:?}",
        String::from_utf8_lossy(text)
    );
    assert_too_large(&parse_answer(text, false).expect("HTTP"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_at_once_are_all_served() {
    let server = reference::start(Config::default()).await.expect("starts");
    let addr = server.addr;
    const CONNECTIONS: usize = 300;
    // Open them all first, then send on each, so they are truly open at once.
    let mut socks = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        socks.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, mut sock) in socks.into_iter().enumerate() {
        set.spawn(async move {
            let path = if i % 2 == 0 {
                "/v2/models"
            } else {
                "/v2/nowhere"
            };
            let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            sock.write_all(request.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(20), sock.read_to_end(&mut out))
                .await
                .map_err(|_| "no answer within 20 s".to_string())?
                .map_err(|e| e.to_string())?;
            let answer = parse_answer(&out, false)?;
            in_contract(&answer, false, false)?;
            // Without a key: models answers 401, the unknown path 404.
            let expected = if i % 2 == 0 { 401 } else { 404 };
            if answer.status != expected {
                return Err(format!("{path} answered {}, not {expected}", answer.status));
            }
            Ok::<(), String>(())
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined.expect("a connection's task does not panic") {
            problems.push(e);
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {CONNECTIONS} connections failed: {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    server.shutdown().await;
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_load_keeps_every_answer_in_the_contract() {
    const CONNECTIONS: usize = 256;
    const MAX_REQUESTS: usize = 20_000;
    const FOR: Duration = Duration::from_secs(3);
    let config = Config::default();
    let k = config.keys();
    let server = reference::start(config).await.expect("starts");
    let base = server.base_url();
    let before = peak_rss_kib();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .pool_max_idle_per_host(CONNECTIONS)
        .build()
        .expect("a client");
    let sent = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for worker in 0..CONNECTIONS {
        let (client, base, sent, k) = (client.clone(), base.clone(), sent.clone(), k.clone());
        set.spawn(async move {
            let mut problems = Vec::new();
            let mut i = worker;
            while started.elapsed() < FOR && sent.fetch_add(1, Ordering::Relaxed) < MAX_REQUESTS {
                let (method, path, key, body): (&str, &str, &str, Option<Value>) = match i % 7 {
                    0 => ("GET", "/v2/models", &k.valid, None),
                    1 => ("POST", "/v2/images/generations", &k.valid,
                          Some(json!({"model": "seedream-5-lite", "prompt": "a lighthouse", "resolution": "4K"}))),
                    2 => ("POST", "/v2/images/generations", &k.valid,
                          Some(json!({"model": "seedream-5-lite", "prompt": "a lighthouse"}))),
                    3 => ("POST", "/v2/images/generations", &k.throttled,
                          Some(json!({"model": "seedream-5-lite", "prompt": "a lighthouse"}))),
                    4 => ("POST", "/v2/videos/generations", &k.zero_balance,
                          Some(json!({"model": "seedance-v1-pro", "prompt": "waves"}))),
                    5 => ("GET", "/v2/videos/generations/req-01HXYZVIDEO12345678901234", &k.valid, None),
                    _ => ("DELETE", "/v2/models", &k.revoked, None),
                };
                i += 1;
                let mut b = client
                    .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_default(), format!("{base}{path}"))
                    .bearer_auth(key);
                if let Some(body) = body {
                    b = b.json(&body);
                }
                let answer = match answer_of(b).await {
                    Ok(answer) => answer,
                    Err(e) => {
                        problems.push(format!("{method} {path}: {e}"));
                        continue;
                    }
                };
                if let Err(e) = in_contract(&answer, false, false) {
                    problems.push(format!("{method} {path}: {e}"));
                }
            }
            problems
        });
    }
    let mut problems = Vec::new();
    while let Some(joined) = set.join_next().await {
        problems.extend(joined.expect("a worker does not panic"));
    }
    let elapsed = started.elapsed();
    let requests = sent.load(Ordering::Relaxed).min(MAX_REQUESTS);
    let after = peak_rss_kib();
    eprintln!(
        "load: {CONNECTIONS} connections, about {requests} requests in {elapsed:?}; VmHWM {before:?} -> {after:?} KiB"
    );
    assert!(
        problems.is_empty(),
        "{} problems, e.g. {:?}",
        problems.len(),
        &problems[..problems.len().min(5)]
    );
    assert!(
        requests >= CONNECTIONS,
        "the load never got going: {requests} requests"
    );
    if let (Some(before), Some(after)) = (before, after) {
        assert!(
            after.saturating_sub(before) < 500 * 1024,
            "peak memory grew by {} MiB under load",
            (after - before) / 1024
        );
    }
    server.shutdown().await;
}
