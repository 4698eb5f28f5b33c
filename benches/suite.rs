//! Benchmark (not a test) of the whole suite, driven through the `errcontract` binary only:
//! `errcontract run` as a child process per measurement, configured by `ERRCONTRACT_*`
//! variables, against targets this benchmark starts on 127.0.0.1. Prints one table.
//!
//! Run: `cargo bench --bench suite` (see BENCHMARKS.md for the rows and the goals).
//!
//! Rows:
//! - `check`: checking one error response (library call, median of 7 rounds);
//! - `load`: loading and linting 10,000 case files (library call, median of 5), and
//!   `errcontract lint` on the same directory (child process);
//! - `throughput`: N generated error cases (cycling over the 8 codes of `schemas/codes.json`)
//!   against a minimal HTTP/1.1 target in this process, at each concurrency C: errcontract
//!   with `--test-threads C` and with libtest's default threads (`ERRCONTRACT_CONCURRENCY=C`,
//!   `ERRCONTRACT_RPS=0` in both), a plain reqwest loop sending the same requests with no
//!   checks (this binary re-executed with `--plain-loop`), and curl and Hurl when installed.
//!   Every run must exit 0, report N passed (libtest's closing line, or the peer's own count),
//!   and the target must have answered exactly N requests; otherwise the row says INVALID.
//!   Wall time is spawn to exit; peak RSS is the child's own `ru_maxrss` from `wait4`. The
//!   peak RSS rows follow from the errcontract runs;
//! - `rate`: errcontract against the reference server with a small rate limit, through a
//!   proxy that counts the 429s the server sent.
//!
//! Selection (environment): `SUITE_BENCH_ROWS` (comma list of `check,load,throughput,rate`;
//! default all), `SUITE_BENCH_CORPORA` (comma list of `role,case`, default both: the cases
//! authenticate with the run's key, or each with its own literal `Authorization` value), `SUITE_BENCH_N` (default `1000,10000,100000`), `SUITE_BENCH_CONCURRENCY`
//! (default `8,64`), `SUITE_BENCH_RUNS` (runs per cell, median, default 3; cells with N above
//! 10,000 run `SUITE_BENCH_LARGE_RUNS` times, default 1), `SUITE_BENCH_PEERS_MAX_N` (largest N
//! curl and Hurl run at, default 10000), `SUITE_BENCH_RATE_LIMIT` / `SUITE_BENCH_RATE_WINDOW_S`
//! / `SUITE_BENCH_RATE_N` (default 10 per 10 s, i.e. R = 60/min, and N = 40),
//! `SUITE_BENCH_TARGET_THREADS` (worker threads of the fast target, default 1),
//! `SUITE_BENCH_TIMEOUT_S` (per child process, default 600), `SUITE_BENCH_HURL` /
//! `SUITE_BENCH_CURL` (the binaries; default: found on PATH).
//!
//! Without `--bench` (e.g. `cargo test --benches`) it runs a smoke: N = 200, C = 8, one run,
//! throughput rows only. `--write-cases DIR N` writes the generated files (cases, rate budget
//! cases, Hurl files) below DIR, to read or lint, and exits.

#[path = "support/library.rs"]
mod library;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::{Read, Seek};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The key sent for role `valid` to the fast target (which accepts anything).
const BENCH_KEY: &str = "sk_bench_errcontract_0123456789abcdef";
const DOC_URL: &str = "https://docs.getimg.ai/guides/errors";
const HURL_INSTALL: &str = "not in Debian 12; `apt-get install libcurl4-openssl-dev libxml2-dev libclang-dev pkg-config`, then `cargo install hurl@8.0.1 --locked` (8.1 needs a newer rustc than 1.95) and put ~/.cargo/bin on PATH (see BENCHMARKS.md)";
const CURL_INSTALL: &str = "`apt-get install curl`";

// ---------------------------------------------------------------------------------------------
// The cases: one per error of the table, cycled.

/// One error of the table as the fast target answers it, and the request that asks for it.
struct Kind {
    code: &'static str,
    status: u16,
    reason: &'static str,
    retryable: bool,
    param: Option<&'static str>,
    message: &'static str,
    /// What the case expects the message to contain.
    contains: &'static str,
    method: &'static str,
    /// Sends `Authorization: Bearer BENCH_KEY` (case role `valid`) or nothing (role `none`).
    auth: bool,
    /// The JSON body, compact (errcontract re-serializes the case's `json` the same way).
    body: Option<&'static str>,
}

const PROMPT_BODY: &str = r#"{"model":"seedream-5-lite","prompt":"a lighthouse at dusk"}"#;

const KINDS: [Kind; 8] = [
    Kind {
        code: "invalid_api_key",
        status: 401,
        reason: "Unauthorized",
        retryable: false,
        param: None,
        message: "Invalid API key provided. Check the Authorization header.",
        contains: "API key",
        method: "POST",
        auth: false,
        body: Some(PROMPT_BODY),
    },
    Kind {
        code: "parameter_missing",
        status: 400,
        reason: "Bad Request",
        retryable: false,
        param: Some("prompt"),
        message: "Missing required parameter: prompt.",
        contains: "prompt",
        method: "POST",
        auth: true,
        body: Some(r#"{"model":"seedream-5-lite"}"#),
    },
    Kind {
        code: "invalid_parameter",
        status: 400,
        reason: "Bad Request",
        retryable: false,
        param: Some("resolution"),
        message: "Unsupported resolution '4K' for model 'seedream-5-lite'.",
        contains: "4K",
        method: "POST",
        auth: true,
        body: Some(
            r#"{"model":"seedream-5-lite","prompt":"a lighthouse at dusk","resolution":"4K"}"#,
        ),
    },
    Kind {
        code: "quota_exceeded",
        status: 402,
        reason: "Payment Required",
        retryable: false,
        param: None,
        message: "Insufficient balance: add credits to run this generation.",
        contains: "balance",
        method: "POST",
        auth: true,
        body: Some(PROMPT_BODY),
    },
    Kind {
        code: "content_policy_violation",
        status: 422,
        reason: "Unprocessable Entity",
        retryable: false,
        param: Some("prompt"),
        message: "Your prompt was flagged by our safety checks.",
        contains: "safety",
        method: "POST",
        auth: true,
        body: Some(PROMPT_BODY),
    },
    Kind {
        code: "rate_limit",
        status: 429,
        reason: "Too Many Requests",
        retryable: true,
        param: None,
        message: "Rate limit reached. Retry after 1 seconds.",
        contains: "Rate limit",
        method: "POST",
        auth: true,
        body: Some(PROMPT_BODY),
    },
    Kind {
        code: "not_found",
        status: 404,
        reason: "Not Found",
        retryable: false,
        param: None,
        message: "No generation with this id exists.",
        contains: "No generation",
        method: "GET",
        auth: true,
        body: None,
    },
    Kind {
        code: "server_error",
        status: 500,
        reason: "Internal Server Error",
        retryable: true,
        param: None,
        message: "An unexpected error occurred. Retry with backoff.",
        contains: "unexpected",
        method: "POST",
        auth: true,
        body: Some(PROMPT_BODY),
    },
];

/// How the cases that authenticate carry their key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Corpus {
    /// The role `valid`: the run's one key (`ERRCONTRACT_API_KEY`).
    RoleKeys,
    /// Each case its own literal `Authorization` value, as the shipped auth cases do.
    CaseKeys,
}

impl Corpus {
    fn name(self) -> &'static str {
        match self {
            Corpus::RoleKeys => "role keys",
            Corpus::CaseKeys => "per-case keys",
        }
    }

    fn parse(text: &str) -> Option<Corpus> {
        match text {
            "role" | "rolekeys" => Some(Corpus::RoleKeys),
            "case" | "percase" | "casekeys" => Some(Corpus::CaseKeys),
            _ => None,
        }
    }

    /// The `Authorization` value case `i` sends.
    fn authorization(self, i: usize) -> String {
        match self {
            Corpus::RoleKeys => format!("Bearer {BENCH_KEY}"),
            Corpus::CaseKeys => format!("Bearer case-key-{i:08}"),
        }
    }
}

fn kind(i: usize) -> &'static Kind {
    &KINDS[i % KINDS.len()]
}

/// The headers every tool sends for case `i`, besides its own User-Agent.
fn headers(corpus: Corpus, i: usize) -> Vec<(&'static str, String)> {
    let k = kind(i);
    let mut h = Vec::new();
    if k.auth {
        h.push(("Authorization", corpus.authorization(i)));
    }
    if k.body.is_some() {
        h.push(("Content-Type", "application/json".to_string()));
    }
    h
}

/// Case `i`'s file below a cases directory, without the extension.
fn rel(i: usize) -> String {
    format!("g{:03}/{}-{i:06}", i / 1000, kind(i).code)
}

/// The table must be the one the bench was written for: each code once, same status and
/// retryability as `schemas/codes.json`.
fn check_table() -> Result<(), String> {
    let path = repo_root().join("schemas/codes.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let table: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let codes = table["codes"]
        .as_object()
        .ok_or("codes.json has no codes")?;
    if codes.len() != KINDS.len() {
        return Err(format!(
            "codes.json has {} codes, the bench knows {}",
            codes.len(),
            KINDS.len()
        ));
    }
    for k in &KINDS {
        let row = &codes[k.code];
        if row["status"].as_u64() != Some(u64::from(k.status))
            || row["retryable"].as_bool() != Some(k.retryable)
        {
            return Err(format!(
                "codes.json's {} is not status {} retryable {}",
                k.code, k.status, k.retryable
            ));
        }
    }
    Ok(())
}

fn case_text(corpus: Corpus, i: usize) -> String {
    let k = kind(i);
    let auth = match (k.auth, corpus) {
        (false, _) => json!("none"),
        (true, Corpus::RoleKeys) => json!("valid"),
        (true, Corpus::CaseKeys) => json!({ "authorization": corpus.authorization(i) }),
    };
    let mut request = json!({
        "method": k.method,
        "path": format!("/bench/{}", k.code),
        "auth": auth,
    });
    if let Some(body) = k.body {
        request["json"] = serde_json::from_str(body).expect("bench bodies are JSON");
    }
    let mut expect = json!({
        "status": k.status,
        "code": k.code,
        "param": k.param,
        "retryable": k.retryable,
        "message_contains": k.contains,
    });
    if k.code == "rate_limit" {
        expect["headers"] = json!({ "Retry-After": { "matches": "^\\d+$" } });
    }
    let case = json!({
        "description": format!("bench case {i}: the target answers {} {}", k.status, k.code),
        "tags": [k.code],
        "request": request,
        "expect": expect,
    });
    serde_json::to_string_pretty(&case).expect("a Value serializes")
}

fn hurl_text(corpus: Corpus, i: usize, base: &str) -> String {
    let k = kind(i);
    let mut s = format!("{} {base}/bench/{}\n", k.method, k.code);
    for (name, value) in headers(corpus, i) {
        let _ = writeln!(s, "{name}: {value}");
    }
    if let Some(body) = k.body {
        let _ = writeln!(s, "{body}");
    }
    let _ = write!(
        s,
        "HTTP {}\n[Asserts]\njsonpath \"$.error.code\" == \"{}\"\n",
        k.status, k.code
    );
    s
}

fn curl_entry(corpus: Corpus, i: usize, base: &str, out: &mut String) {
    let k = kind(i);
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    // `next` separates transfers; one after the last would start an empty one (no URL).
    if i > 0 {
        out.push_str("next\n");
    }
    let _ = writeln!(out, "url = \"{base}/bench/{}\"", k.code);
    let _ = writeln!(out, "request = \"{}\"", k.method);
    for (name, value) in headers(corpus, i) {
        let _ = writeln!(out, "header = \"{name}: {}\"", quote(&value));
    }
    if let Some(body) = k.body {
        let _ = writeln!(out, "data-binary = \"{}\"", quote(body));
    }
    out.push_str("output = \"/dev/null\"\nwrite-out = \"%{http_code}\\n\"\n");
}

/// Write `n` files below `dir`: file `i` at `name(i).ext` holds `text(i)`.
fn write_tree(
    dir: &Path,
    n: usize,
    ext: &str,
    name: impl Fn(usize) -> String,
    text: impl Fn(usize) -> String,
) -> Result<(), String> {
    for i in 0..n {
        let path = dir.join(format!("{}.{ext}", name(i)));
        if i.is_multiple_of(1000) {
            std::fs::create_dir_all(path.parent().expect("a parent"))
                .map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        }
        std::fs::write(&path, text(i)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The minimal fast target: HTTP/1.1 keep-alive, one canned response per `/bench/<code>`.

struct Canned {
    by_code: Vec<(&'static str, Vec<u8>)>,
    unknown: Vec<u8>,
}

fn response_bytes(
    status: u16,
    reason: &str,
    code: &str,
    param: Option<&str>,
    message: &str,
) -> Vec<u8> {
    let body = json!({ "error": {
        "message": message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
        "doc_url": DOC_URL,
    }})
    .to_string();
    let retry_after = if code == "rate_limit" {
        "retry-after: 1\r\n"
    } else {
        ""
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry_after}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl Canned {
    fn new() -> Self {
        Canned {
            by_code: KINDS
                .iter()
                .map(|k| {
                    (
                        k.code,
                        response_bytes(k.status, k.reason, k.code, k.param, k.message),
                    )
                })
                .collect(),
            unknown: response_bytes(
                404,
                "Not Found",
                "not_found",
                None,
                "No route for this path.",
            ),
        }
    }

    fn for_path(&self, path: &str) -> &[u8] {
        let path = path.split('?').next().unwrap_or_default();
        path.strip_prefix("/bench/")
            .and_then(|code| self.by_code.iter().find(|(c, _)| *c == code))
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&self.unknown)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Serve one connection: read a request head and its `Content-Length` body, answer, repeat.
async fn serve_connection(mut sock: TcpStream, canned: Arc<Canned>, served: Arc<AtomicU64>) {
    let _ = sock.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(p) = find(&buf, b"\r\n\r\n") {
                break p + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let mut length = 0usize;
        let mut close = false;
        for line in lines {
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        while buf.len() < head_end + length {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        served.fetch_add(1, Ordering::Relaxed);
        if sock.write_all(canned.for_path(&path)).await.is_err() || close {
            return;
        }
    }
}

async fn fast_target(listener: TcpListener, served: Arc<AtomicU64>) {
    let canned = Arc::new(Canned::new());
    while let Ok((sock, _)) = listener.accept().await {
        tokio::spawn(serve_connection(sock, canned.clone(), served.clone()));
    }
}

// ---------------------------------------------------------------------------------------------
// The counting proxy in front of the reference server (rate budget row).

#[derive(Default)]
struct ProxyCounts {
    responses: AtomicU64,
    too_many: AtomicU64,
}

/// Count the matches of `needle` in `window` that end past `old` (the carried-over bytes, whose
/// matches were counted with the previous chunk).
fn count_new(window: &[u8], old: usize, needle: &[u8]) -> u64 {
    window
        .windows(needle.len())
        .enumerate()
        .filter(|(start, w)| *w == needle && start + needle.len() > old)
        .count() as u64
}

async fn proxy_connection(client: TcpStream, upstream: SocketAddr, counts: Arc<ProxyCounts>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let down = async move {
        let mut chunk = [0u8; 16 * 1024];
        let mut window: Vec<u8> = Vec::new();
        loop {
            let n = match server_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let old = window.len();
            window.extend_from_slice(&chunk[..n]);
            counts
                .responses
                .fetch_add(count_new(&window, old, b"HTTP/1.1 "), Ordering::Relaxed);
            counts
                .too_many
                .fetch_add(count_new(&window, old, b"HTTP/1.1 429 "), Ordering::Relaxed);
            let keep = window.len().min(12);
            window.drain(..window.len() - keep);
            if client_write.write_all(&chunk[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(up, down);
}

async fn counting_proxy(listener: TcpListener, upstream: SocketAddr, counts: Arc<ProxyCounts>) {
    while let Ok((sock, _)) = listener.accept().await {
        tokio::spawn(proxy_connection(sock, upstream, counts.clone()));
    }
}

// ---------------------------------------------------------------------------------------------
// Child processes: wall time from spawn to exit, and the child's own peak RSS (wait4).

struct Measured {
    wall: Duration,
    rss_kib: u64,
    /// The exit code, or why there is none.
    exit: Result<i32, String>,
    stdout: String,
    stderr: String,
}

fn read_back(mut f: std::fs::File) -> String {
    let mut bytes = Vec::new();
    let _ = f.rewind();
    let _ = f.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What the spawn helper saw of its one child.
struct Waited {
    wall: Duration,
    rss_kib: u64,
    exit: Result<i32, String>,
}

/// Spawn `cmd`, wait for it with `wait4`, and kill it past `timeout`. Wall time is spawn to
/// exit; the RSS is the child's own `ru_maxrss`.
fn spawn_and_wait(cmd: &mut Command, timeout: Duration) -> Result<Waited, String> {
    let started = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let pid = child.id() as libc::pid_t;
    let (done, wait_done) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait_done.recv_timeout(timeout) {
            // SAFETY: `pid` is our child, not yet reaped (the main thread is in wait4).
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        } else {
            false
        }
    });
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: valid pointers to locals; pid is our child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall = started.elapsed();
    let _ = done.send(());
    let killed = watchdog.join().unwrap_or(false);
    // Reaped by wait4 above: dropping the handle neither waits nor kills.
    drop(child);
    if reaped != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let exit = if killed {
        Err(format!("killed after the {timeout:?} timeout"))
    } else if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Err(format!("killed by signal {}", libc::WTERMSIG(status)))
    } else {
        Err(format!("ended with wait status {status}"))
    };
    Ok(Waited {
        wall,
        rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit,
    })
}

/// `--spawn REPORT TIMEOUT_S -- PROGRAM ARGS...`: run PROGRAM (same stdio and environment),
/// and write its wall time, peak RSS and exit to REPORT.
///
/// Why a helper: Linux keeps a process's `ru_maxrss` across `execve`, and a child spawned from
/// this benchmark starts in (a copy of) this benchmark's memory, target and all. The helper is
/// a fresh, small process, so the child it spawns is charged only the helper's few MiB, which
/// the header reports as the floor.
fn spawn_helper(args: &[String]) -> ExitCode {
    let (Some(report), Some(timeout), Some(program)) = (args.first(), args.get(1), args.get(3))
    else {
        eprintln!("usage: --spawn REPORT TIMEOUT_S -- PROGRAM ARGS...");
        return ExitCode::from(2);
    };
    let timeout = Duration::from_secs(timeout.parse().unwrap_or(600));
    let mut cmd = Command::new(program);
    cmd.args(&args[4..]);
    let text = match spawn_and_wait(&mut cmd, timeout) {
        Ok(w) => format!(
            "{}\n{}\n{}\n",
            w.wall.as_nanos(),
            w.rss_kib,
            match w.exit {
                Ok(code) => format!("exit {code}"),
                Err(why) => why,
            }
        ),
        Err(e) => format!("0\n0\n{e}\n"),
    };
    match std::fs::write(report, text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

/// Run `cmd` through the spawn helper, its stdout and stderr captured.
fn measure(cmd: &mut Command, timeout: Duration) -> Result<Measured, String> {
    let out = tempfile::tempfile().map_err(|e| e.to_string())?;
    let err = tempfile::tempfile().map_err(|e| e.to_string())?;
    let report = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut helper = Command::new(me);
    helper
        .arg("--spawn")
        .arg(report.path())
        .arg(timeout.as_secs().to_string())
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (name, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(name, v),
            None => helper.env_remove(name),
        };
    }
    helper
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(err.try_clone().map_err(|e| e.to_string())?);
    let status = helper
        .status()
        .map_err(|e| format!("cannot start the spawn helper: {e}"))?;
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    let mut lines = text.lines();
    let (Some(wall), Some(rss), Some(exit)) = (
        lines.next().and_then(|l| l.parse::<u64>().ok()),
        lines.next().and_then(|l| l.parse::<u64>().ok()),
        lines.next(),
    ) else {
        return Err(format!("the spawn helper failed ({status})"));
    };
    let exit = match exit.strip_prefix("exit ").map(str::parse::<i32>) {
        Some(Ok(code)) => Ok(code),
        _ => Err(exit.to_string()),
    };
    if wall == 0 {
        return Err(exit.err().unwrap_or_default());
    }
    Ok(Measured {
        wall: Duration::from_nanos(wall),
        rss_kib: rss,
        exit,
        stdout: read_back(out),
        stderr: read_back(err),
    })
}

/// libtest's closing line: (passed, failed, ignored).
fn libtest_result(stdout: &str) -> Option<(usize, usize, usize)> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("test result: "))?;
    let number = |what: &str| -> Option<usize> {
        line.split(';')
            .find(|part| part.trim_end().ends_with(what))?
            .split_whitespace()
            .rev()
            .nth(1)?
            .parse()
            .ok()
    };
    Some((number(" passed")?, number(" failed")?, number(" ignored")?))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

/// A command with no inherited `ERRCONTRACT_*` variable.
fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("ERRCONTRACT_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The repository root (this benchmark belongs to the self-test package in `tests/`).
fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the self-test package lives in tests/")
}

fn errcontract() -> &'static str {
    env!("CARGO_BIN_EXE_errcontract-under-test")
}

// ---------------------------------------------------------------------------------------------
// Settings.

struct Settings {
    rows: Vec<String>,
    corpora: Vec<Corpus>,
    ns: Vec<usize>,
    concurrencies: Vec<usize>,
    runs: usize,
    large_runs: usize,
    peers_max_n: usize,
    rate_limit: u32,
    rate_window_s: u64,
    rate_n: usize,
    target_threads: usize,
    timeout: Duration,
    hurl: Option<PathBuf>,
    curl: Option<PathBuf>,
    full: bool,
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
        .split(',')
        .map(|s| s.trim().replace('_', ""))
        .filter(|s| !s.is_empty())
        .collect()
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn tool(var: &str, name: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        _ => on_path(name),
    }
}

impl Settings {
    fn from_env() -> Settings {
        let full = std::env::args().any(|a| a == "--bench");
        let (rows, ns, cs, runs) = if full {
            ("check,load,throughput,rate", "1000,10000,100000", "8,64", 3)
        } else {
            ("throughput", "200", "8", 1)
        };
        let nums = |name: &str, default: &str| -> Vec<usize> {
            env_list(name, default)
                .iter()
                .filter_map(|s| s.parse().ok())
                .filter(|n| *n > 0)
                .collect()
        };
        Settings {
            rows: env_list("SUITE_BENCH_ROWS", rows),
            corpora: {
                let mut c = Vec::new();
                for name in env_list("SUITE_BENCH_CORPORA", "role,case") {
                    match Corpus::parse(&name.to_ascii_lowercase().replace('-', "")) {
                        Some(corpus) => c.push(corpus),
                        None => {
                            eprintln!(
                                "suite bench: SUITE_BENCH_CORPORA: no corpus {name:?}; the corpora are `role` and `case`"
                            );
                            std::process::exit(2);
                        }
                    }
                }
                c.sort();
                c.dedup();
                c
            },
            ns: nums("SUITE_BENCH_N", ns),
            concurrencies: nums("SUITE_BENCH_CONCURRENCY", cs),
            runs: env_num("SUITE_BENCH_RUNS", runs).max(1),
            large_runs: env_num("SUITE_BENCH_LARGE_RUNS", 1).max(1),
            peers_max_n: env_num("SUITE_BENCH_PEERS_MAX_N", 10_000),
            rate_limit: env_num("SUITE_BENCH_RATE_LIMIT", 10).max(1),
            rate_window_s: env_num("SUITE_BENCH_RATE_WINDOW_S", 10).max(1),
            rate_n: env_num("SUITE_BENCH_RATE_N", 40).max(1),
            target_threads: env_num("SUITE_BENCH_TARGET_THREADS", 1).max(1),
            timeout: Duration::from_secs(env_num("SUITE_BENCH_TIMEOUT_S", 600).max(1)),
            hurl: tool("SUITE_BENCH_HURL", "hurl"),
            curl: tool("SUITE_BENCH_CURL", "curl"),
            full,
        }
    }

    fn row(&self, name: &str) -> bool {
        self.rows.iter().any(|r| r == name)
    }

    fn runs_for(&self, n: usize) -> usize {
        if n > 10_000 {
            self.large_runs
        } else {
            self.runs
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The table.

#[derive(Default, Clone)]
struct Row {
    measurement: String,
    n: String,
    conc: String,
    tool: String,
    rate: String,
    wall: String,
    rss: String,
    ratio: String,
    goal: String,
    met: String,
}

fn print_table(rows: &[Row]) -> String {
    let header = Row {
        measurement: "measurement".into(),
        n: "N".into(),
        conc: "concurrency".into(),
        tool: "tool".into(),
        rate: "cases/s".into(),
        wall: "wall ms".into(),
        rss: "peak RSS MiB".into(),
        ratio: "vs plain loop".into(),
        goal: "goal".into(),
        met: "met?".into(),
    };
    let cells = |r: &Row| -> [String; 10] {
        [
            r.measurement.clone(),
            r.n.clone(),
            r.conc.clone(),
            r.tool.clone(),
            r.rate.clone(),
            r.wall.clone(),
            r.rss.clone(),
            r.ratio.clone(),
            r.goal.clone(),
            r.met.clone(),
        ]
    };
    let all: Vec<[String; 10]> = std::iter::once(&header).chain(rows).map(cells).collect();
    let mut width = [0usize; 10];
    for r in &all {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |r: &[String; 10]| -> String {
        let mut s = String::from("|");
        for (i, (c, w)) in r.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            // Numbers right-aligned: N, cases/s, wall, RSS, ratio.
            if matches!(i, 1 | 4 | 5 | 6 | 7) {
                let _ = write!(s, " {}{c} |", " ".repeat(pad));
            } else {
                let _ = write!(s, " {c}{} |", " ".repeat(pad));
            }
        }
        s
    };
    let mut out = line(&all[0]);
    out.push('\n');
    out.push('|');
    for (i, w) in width.iter().enumerate() {
        let dashes = "-".repeat(*w);
        if matches!(i, 1 | 4 | 5 | 6 | 7) {
            let _ = write!(out, " {}: |", &dashes[1..]);
        } else {
            let _ = write!(out, " {dashes} |");
        }
    }
    out.push('\n');
    for r in &all[1..] {
        out.push_str(&line(r));
        out.push('\n');
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn rate_text(per_s: f64) -> String {
    if per_s >= 100.0 {
        thousands(per_s.round() as usize)
    } else {
        format!("{per_s:.1}")
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        thousands(ms.round() as usize)
    } else if ms >= 1.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.4}")
    }
}

fn yes_no(ok: bool, why: &str) -> String {
    if ok {
        "yes".into()
    } else {
        format!("no: {why}")
    }
}

// ---------------------------------------------------------------------------------------------
// Rows.

fn check_rows(rows: &mut Vec<Row>) {
    eprintln!("suite bench: check one error response ...");
    let row = match library::time_check_one_response(20_000, 7) {
        Ok(rounds) => {
            let per = median(rounds);
            let us = per.as_secs_f64() * 1e6;
            Row {
                rate: rate_text(1.0 / per.as_secs_f64()),
                wall: ms(per),
                met: yes_no(us < 5.0, &format!("{us:.2} µs")),
                ..Row::default()
            }
        }
        Err(e) => Row {
            met: format!("INVALID: {e}"),
            ..Row::default()
        },
    };
    rows.push(Row {
        measurement: "check one error response (median of 7 x 20,000)".into(),
        n: "1".into(),
        conc: "1".into(),
        tool: "library check_response".into(),
        goal: "median < 5 µs".into(),
        ..row
    });
}

fn load_rows(s: &Settings, rows: &mut Vec<Row>) {
    let n = 10_000;
    eprintln!("suite bench: load and lint {n} case files ...");
    let dir = tempfile::tempdir().expect("tempdir");
    if let Err(e) = write_tree(dir.path(), n, "json", rel, |i| {
        case_text(Corpus::RoleKeys, i)
    }) {
        rows.push(Row {
            measurement: "load and lint case files".into(),
            met: format!("INVALID: {e}"),
            ..Row::default()
        });
        return;
    }
    let row = match library::time_load_all(dir.path(), n, 5) {
        Ok(rounds) => {
            let d = median(rounds);
            Row {
                rate: rate_text(n as f64 / d.as_secs_f64()),
                wall: ms(d),
                met: yes_no(d < Duration::from_millis(100), &format!("{} ms", ms(d))),
                ..Row::default()
            }
        }
        Err(e) => Row {
            met: format!("INVALID: {e}"),
            ..Row::default()
        },
    };
    rows.push(Row {
        measurement: "load and lint case files (median of 5)".into(),
        n: thousands(n),
        conc: "1".into(),
        tool: "library case::load_all".into(),
        goal: "< 100 ms".into(),
        ..row
    });

    // The same through the binary: process start, schema compile, load, lint, print.
    let mut walls = Vec::new();
    let mut rss = 0;
    let mut invalid = None;
    for _ in 0..3 {
        let schemas = repo_root().join("schemas");
        let mut cmd = clean_command(errcontract());
        cmd.arg("lint")
            .arg(dir.path())
            .arg("--schemas")
            .arg(&schemas);
        match measure(&mut cmd, s.timeout) {
            Ok(m) => {
                let expect = format!("{n} case files checked: {n} clean, 0 problems");
                if m.exit != Ok(0) || !m.stdout.contains(&expect) {
                    invalid = Some(format!(
                        "exit {:?}: {}",
                        m.exit,
                        tail(&format!("{}{}", m.stdout, m.stderr), 2)
                    ));
                    break;
                }
                walls.push(m.wall);
                rss = rss.max(m.rss_kib);
            }
            Err(e) => {
                invalid = Some(e);
                break;
            }
        }
    }
    let mut row = Row {
        measurement: "lint case files, whole command (median of 3)".into(),
        n: thousands(n),
        conc: "1".into(),
        tool: "errcontract lint DIR".into(),
        goal: "(info)".into(),
        ..Row::default()
    };
    match invalid {
        Some(e) => row.met = format!("INVALID: {e}"),
        None => {
            let d = median(walls);
            row.rate = rate_text(n as f64 / d.as_secs_f64());
            row.wall = ms(d);
            row.rss = mib(rss);
            row.met = "-".into();
        }
    }
    rows.push(row);
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Tool {
    /// `errcontract run -- --list`: start-up, schemas, loading and linting; nothing sent.
    List,
    /// errcontract with `--test-threads C` (`Some`) or libtest's default threads (`None`).
    Errcontract(Option<usize>),
    Plain,
    Curl,
    Hurl,
}

impl Tool {
    fn name(self) -> String {
        match self {
            Tool::List => "errcontract run -- --list (loads, sends nothing)".into(),
            Tool::Errcontract(Some(t)) => format!("errcontract run -- --test-threads {t}"),
            Tool::Errcontract(None) => format!(
                "errcontract run (default threads: {})",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ),
            Tool::Plain => "plain reqwest loop (no checks)".into(),
            Tool::Curl => "curl --parallel".into(),
            Tool::Hurl => "hurl --test --jobs".into(),
        }
    }
}

/// One successful run: wall time and peak RSS.
struct Sample {
    wall: Duration,
    rss_kib: u64,
}

struct Fixture {
    corpus: Corpus,
    n: usize,
    base: String,
    served: Arc<AtomicU64>,
    cases: tempfile::TempDir,
    hurl: Option<tempfile::TempDir>,
    curl: Option<tempfile::NamedTempFile>,
}

fn fixture(
    s: &Settings,
    corpus: Corpus,
    n: usize,
    base: &str,
    served: &Arc<AtomicU64>,
) -> Result<Fixture, String> {
    let cases = tempfile::tempdir().map_err(|e| e.to_string())?;
    write_tree(cases.path(), n, "json", rel, |i| case_text(corpus, i))?;
    let peers = n <= s.peers_max_n;
    let hurl = match (&s.hurl, peers) {
        (Some(_), true) => {
            let d = tempfile::tempdir().map_err(|e| e.to_string())?;
            write_tree(d.path(), n, "hurl", rel, |i| hurl_text(corpus, i, base))?;
            Some(d)
        }
        _ => None,
    };
    let curl = match (&s.curl, peers) {
        (Some(_), true) => {
            let mut text = String::new();
            for i in 0..n {
                curl_entry(corpus, i, base, &mut text);
            }
            let f = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
            std::fs::write(f.path(), text).map_err(|e| e.to_string())?;
            Some(f)
        }
        _ => None,
    };
    Ok(Fixture {
        corpus,
        n,
        base: base.to_string(),
        served: served.clone(),
        cases,
        hurl,
        curl,
    })
}

/// Run one tool once over the fixture at concurrency `c`; the sample, or why it is invalid.
fn run_tool(s: &Settings, f: &Fixture, t: Tool, c: usize) -> Result<Sample, String> {
    let n = f.n;
    let mut cmd = match t {
        Tool::List | Tool::Errcontract(_) => {
            let mut cmd = clean_command(errcontract());
            cmd.arg("run");
            match t {
                Tool::List => {
                    cmd.args(["--", "--list"]);
                }
                Tool::Errcontract(Some(threads)) => {
                    cmd.args(["--", "--test-threads", &threads.to_string()]);
                }
                _ => {}
            }
            cmd.env("ERRCONTRACT_BASE_URL", &f.base)
                .env("ERRCONTRACT_CASES", f.cases.path())
                .env("ERRCONTRACT_RPS", "0")
                .env("ERRCONTRACT_CONCURRENCY", c.to_string())
                .env("ERRCONTRACT_API_KEY", BENCH_KEY);
            cmd
        }
        Tool::Plain => {
            let me = std::env::current_exe().map_err(|e| e.to_string())?;
            let mut cmd = clean_command(me);
            cmd.args(["--plain-loop", &f.base, &n.to_string(), &c.to_string()])
                .arg(if f.corpus == Corpus::CaseKeys {
                    "case"
                } else {
                    "role"
                });
            cmd
        }
        Tool::Curl => {
            let (Some(curl), Some(config)) = (&s.curl, &f.curl) else {
                return Err("no curl fixture".into());
            };
            let mut cmd = clean_command(curl);
            cmd.args(["--silent", "--show-error", "--parallel", "--parallel-max"])
                .arg(c.to_string())
                .arg("--config")
                .arg(config.path());
            cmd
        }
        Tool::Hurl => {
            let (Some(hurl), Some(dir)) = (&s.hurl, &f.hurl) else {
                return Err("no Hurl fixture".into());
            };
            let mut cmd = clean_command(hurl);
            cmd.args(["--test", "--no-color", "--jobs"])
                .arg(c.to_string())
                .arg(dir.path());
            cmd
        }
    };
    let before = f.served.load(Ordering::SeqCst);
    let m = measure(&mut cmd, s.timeout)?;
    let served = f.served.load(Ordering::SeqCst) - before;
    let output = || tail(&format!("{}\n{}", m.stdout, m.stderr), 3);
    if m.exit != Ok(0) {
        return Err(format!("exit {:?}: {}", m.exit, output()));
    }
    match t {
        Tool::List => {
            let listed = m.stdout.lines().filter(|l| l.ends_with(": test")).count();
            if listed != n {
                return Err(format!("listed {listed} cases of {n}"));
            }
            if served != 0 {
                return Err(format!("--list sent {served} requests"));
            }
            return Ok(Sample {
                wall: m.wall,
                rss_kib: m.rss_kib,
            });
        }
        Tool::Errcontract(_) => match libtest_result(&m.stdout) {
            Some((passed, 0, 0)) if passed == n => {}
            Some((p, fl, ig)) => {
                return Err(format!("{p} passed, {fl} failed, {ig} ignored of {n}"));
            }
            None => return Err(format!("no libtest result line: {}", output())),
        },
        Tool::Plain => {
            let expect = format!("plain-loop: {n} requests, {n} with the expected status");
            if !m.stdout.contains(&expect) {
                return Err(output());
            }
        }
        Tool::Curl => {
            let mut got: BTreeMap<&str, usize> = BTreeMap::new();
            for line in m.stdout.lines() {
                *got.entry(line.trim()).or_default() += 1;
            }
            let mut want: BTreeMap<String, usize> = BTreeMap::new();
            for i in 0..n {
                *want.entry(kind(i).status.to_string()).or_default() += 1;
            }
            let got: BTreeMap<String, usize> =
                got.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if got != want {
                return Err(format!("statuses {got:?}, expected {want:?}"));
            }
        }
        Tool::Hurl => {
            let succeeded = format!("{}\n{}", m.stdout, m.stderr)
                .lines()
                .find_map(|l| l.trim().strip_prefix("Succeeded files:"))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<usize>().ok());
            if succeeded != Some(n) {
                return Err(format!(
                    "succeeded files {succeeded:?} of {n}: {}",
                    output()
                ));
            }
        }
    }
    if served != n as u64 {
        return Err(format!(
            "the target answered {served} requests, expected {n}"
        ));
    }
    Ok(Sample {
        wall: m.wall,
        rss_kib: m.rss_kib,
    })
}

/// Everything measured in one (N, C, tool) cell.
struct Cell {
    corpus: Corpus,
    n: usize,
    c: usize,
    tool: Tool,
    result: Result<(Duration, u64, usize), String>,
}

impl Cell {
    fn rate(&self) -> Option<f64> {
        self.result
            .as_ref()
            .ok()
            .map(|(wall, _, _)| self.n as f64 / wall.as_secs_f64())
    }
}

fn throughput_rows(s: &Settings, rows: &mut Vec<Row>) {
    let served = Arc::new(AtomicU64::new(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.target_threads)
        .thread_name("fast-target")
        .enable_all()
        .build()
        .expect("target runtime");
    let listener = runtime
        .block_on(TcpListener::bind("127.0.0.1:0"))
        .expect("bind the fast target");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    runtime.spawn(fast_target(listener, served.clone()));

    let mut cells: Vec<Cell> = Vec::new();
    for (&corpus, &n) in s
        .corpora
        .iter()
        .flat_map(|c| s.ns.iter().map(move |n| (c, n)))
    {
        eprintln!(
            "suite bench: N = {n}, {}: writing case files ...",
            corpus.name()
        );
        let f = match fixture(s, corpus, n, &base, &served) {
            Ok(f) => f,
            Err(e) => {
                rows.push(Row {
                    measurement: format!("throughput, {}", corpus.name()),
                    n: thousands(n),
                    met: format!("INVALID: {e}"),
                    ..Row::default()
                });
                continue;
            }
        };
        for &c in &s.concurrencies {
            let mut tools = vec![
                Tool::Errcontract(Some(c)),
                Tool::Errcontract(None),
                Tool::Plain,
            ];
            if Some(&c) == s.concurrencies.first() {
                tools.insert(0, Tool::List);
            }
            if f.curl.is_some() {
                tools.push(Tool::Curl);
            }
            if f.hurl.is_some() {
                tools.push(Tool::Hurl);
            }
            let mut samples: BTreeMap<Tool, Result<Vec<Sample>, String>> =
                tools.iter().map(|t| (*t, Ok(Vec::new()))).collect();
            let runs = s.runs_for(n);
            // Interleaved: each run round measures every tool once, so drift hits all alike.
            for run in 1..=runs {
                for &t in &tools {
                    let Some(Ok(list)) = samples.get_mut(&t) else {
                        continue;
                    };
                    match run_tool(s, &f, t, c) {
                        Ok(sample) => {
                            eprintln!(
                                "suite bench: {}, N = {n}, C = {c}, run {run}/{runs}: {}: {} ms, {} MiB",
                                corpus.name(),
                                t.name(),
                                ms(sample.wall),
                                mib(sample.rss_kib)
                            );
                            list.push(sample);
                        }
                        Err(e) => {
                            eprintln!(
                                "suite bench: {}, N = {n}, C = {c}, run {run}/{runs}: {}: INVALID: {e}",
                                corpus.name(),
                                t.name()
                            );
                            samples.insert(t, Err(e));
                        }
                    }
                }
            }
            for (tool, result) in samples {
                cells.push(Cell {
                    corpus,
                    n,
                    c,
                    tool,
                    result: result.map(|list| {
                        let runs = list.len();
                        let rss = list.iter().map(|x| x.rss_kib).max().unwrap_or(0);
                        (
                            median(list.into_iter().map(|x| x.wall).collect()),
                            rss,
                            runs,
                        )
                    }),
                });
            }
        }
    }

    // Rows, with the ratios to the plain loop of the same corpus, N and C.
    let same = |x: &Cell, cell: &Cell| x.corpus == cell.corpus && x.n == cell.n;
    let plain = |cell: &Cell| {
        cells
            .iter()
            .find(|x| same(x, cell) && x.c == cell.c && x.tool == Tool::Plain)
            .and_then(Cell::rate)
    };
    let curl = |cell: &Cell| {
        cells
            .iter()
            .find(|x| same(x, cell) && x.c == cell.c && x.tool == Tool::Curl)
            .and_then(Cell::rate)
    };
    let hurl_best = |cell: &Cell| {
        cells
            .iter()
            .filter(|x| same(x, cell) && x.tool == Tool::Hurl)
            .filter_map(Cell::rate)
            .fold(None, |best: Option<f64>, r| {
                Some(best.map_or(r, |b| b.max(r)))
            })
    };
    for cell in &cells {
        let runs = cell.result.as_ref().map_or(0, |r| r.2);
        let mut row = Row {
            measurement: format!(
                "whole-suite throughput, {} (median of {})",
                cell.corpus.name(),
                if runs == 0 { s.runs_for(cell.n) } else { runs }
            ),
            n: thousands(cell.n),
            conc: cell.c.to_string(),
            tool: cell.tool.name(),
            ..Row::default()
        };
        if matches!(cell.tool, Tool::List) {
            row.measurement = row
                .measurement
                .replace("whole-suite throughput", "start-up, load, lint");
            row.conc = "-".into();
        }
        if matches!(cell.tool, Tool::Curl) {
            row.conc = format!("{} (--parallel-max)", cell.c);
        }
        if matches!(cell.tool, Tool::Hurl) {
            row.conc = format!("{} (--jobs)", cell.c);
        }
        match &cell.result {
            Err(e) => row.met = format!("INVALID: {e}"),
            Ok((wall, rss, _)) => {
                let rate = cell.n as f64 / wall.as_secs_f64();
                row.rate = rate_text(rate);
                row.wall = ms(*wall);
                row.rss = mib(*rss);
                let ratio = plain(cell)
                    .map(|p| rate / p)
                    .filter(|_| cell.tool != Tool::List);
                row.ratio = ratio.map_or("-".into(), |r| format!("{r:.2}x"));
                row.met = "-".into();
                if cell.n == 10_000 && matches!(cell.tool, Tool::Errcontract(_)) {
                    row.goal = "≥ 30k/s, ≥ 0.7x plain, ≥ 3x Hurl best, ≥ 1.5x curl".into();
                    let mut misses = Vec::new();
                    if rate < 30_000.0 {
                        misses.push(format!("{} /s", rate_text(rate)));
                    }
                    match ratio {
                        Some(r) if r >= 0.7 => {}
                        Some(r) => misses.push(format!("{r:.2}x plain")),
                        None => misses.push("no plain loop".into()),
                    }
                    match hurl_best(cell) {
                        Some(h) if rate >= 3.0 * h => {}
                        Some(h) => misses.push(format!("{:.1}x Hurl", rate / h)),
                        None => misses.push("no Hurl row".into()),
                    }
                    match curl(cell) {
                        Some(k) if rate >= 1.5 * k => {}
                        Some(k) => misses.push(format!("{:.2}x curl", rate / k)),
                        None => misses.push("no curl row".into()),
                    }
                    row.met = yes_no(misses.is_empty(), &misses.join(", "));
                    if let Some(k) = curl(cell) {
                        row.goal = format!("{} ({:.2}x curl)", row.goal, rate / k);
                    }
                    if let Some(h) = hurl_best(cell) {
                        row.goal = format!("{} ({:.1}x Hurl)", row.goal, rate / h);
                    }
                }
            }
        }
        rows.push(row);
    }
    // Peers that could not run.
    for (name, path, how) in [
        ("curl", &s.curl, CURL_INSTALL),
        ("Hurl", &s.hurl, HURL_INSTALL),
    ] {
        if path.is_none() {
            rows.push(Row {
                measurement: "whole-suite throughput".into(),
                tool: name.into(),
                met: format!("not installed: {how}"),
                ..Row::default()
            });
        }
    }

    // Peak RSS of errcontract: the largest over its runs at that corpus and N (every C, both
    // thread settings).
    for &corpus in &s.corpora {
        for (n, goal_mib) in [(10_000, 40), (100_000, 60)] {
            let peak = cells
                .iter()
                .filter(|x| x.corpus == corpus && x.n == n)
                .filter(|x| matches!(x.tool, Tool::Errcontract(_)))
                .filter_map(|x| x.result.as_ref().ok().map(|r| r.1))
                .max();
            if let Some(peak) = peak {
                rows.push(Row {
                    measurement: format!("peak RSS, largest errcontract run, {}", corpus.name()),
                    n: thousands(n),
                    tool: "errcontract run".into(),
                    rss: mib(peak),
                    goal: format!("≤ {goal_mib} MiB"),
                    met: yes_no(peak <= goal_mib * 1024, &format!("{} MiB", mib(peak))),
                    ..Row::default()
                });
            }
        }
    }
    drop(runtime);
}

fn rate_rel(i: usize) -> String {
    format!("g{:03}/content-policy-{i:06}", i / 1000)
}

fn rate_case(i: usize) -> String {
    let case = json!({
        "description": format!("rate budget case {i}: a prompt the content policy refuses, counted against the image rate limit"),
        "tags": ["images", "content_policy_violation", "triggers"],
        "requires": ["content_policy_trigger"],
        "billable_if_accepted": true,
        "request": {
            "method": "POST",
            "path": "/v2/images/generations",
            "json": {
                "model": "seedream-5-lite",
                "prompt": format!("a lighthouse at dusk, take {i} errcontract-trigger:content-policy"),
            },
        },
        "expect": {
            "status": 422,
            "code": "content_policy_violation",
            "param": "prompt",
            "retryable": false,
        },
    });
    serde_json::to_string_pretty(&case).expect("a Value serializes")
}

fn rate_rows(s: &Settings, rows: &mut Vec<Row>) {
    let (limit, window, n) = (s.rate_limit, s.rate_window_s, s.rate_n);
    let per_minute = f64::from(limit) * 60.0 / window as f64;
    let budget = Duration::from_secs_f64(1.1 * n as f64 / per_minute * 60.0);
    eprintln!(
        "suite bench: rate budget: N = {n} against {limit} per {window} s (R = {per_minute}/min), goal {budget:?} ..."
    );
    let mut row = Row {
        measurement: format!(
            "rate budget: reference server, {limit} image req per {window} s (R = {per_minute:.0}/min)"
        ),
        n: n.to_string(),
        conc: "8 (default)".into(),
        tool: "errcontract run, ERRCONTRACT_RPS=0".into(),
        goal: format!("≤ 1.1 N/R = {:.0} s, no 429", budget.as_secs_f64()),
        ..Row::default()
    };
    let result = (|| -> Result<(Measured, u64, u64), String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (server, key) = runtime
            .block_on(library::start_reference(limit, Duration::from_secs(window)))
            .map_err(|e| format!("reference server: {e}"))?;
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| e.to_string())?;
        let proxy = listener.local_addr().map_err(|e| e.to_string())?;
        let counts = Arc::new(ProxyCounts::default());
        runtime.spawn(counting_proxy(listener, server.addr, counts.clone()));
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        write_tree(dir.path(), n, "json", rate_rel, rate_case)?;
        let mut cmd = clean_command(errcontract());
        cmd.arg("run")
            .env("ERRCONTRACT_BASE_URL", format!("http://{proxy}"))
            .env("ERRCONTRACT_CASES", dir.path())
            .env("ERRCONTRACT_API_KEY", &key)
            .env("ERRCONTRACT_RPS", "0")
            .env("ERRCONTRACT_FEATURES", "content_policy_trigger")
            .env("ERRCONTRACT_ALLOW_BILLABLE", "1");
        let m = measure(&mut cmd, s.timeout)?;
        let responses = counts.responses.load(Ordering::SeqCst);
        let too_many = counts.too_many.load(Ordering::SeqCst);
        runtime.block_on(server.shutdown());
        Ok((m, responses, too_many))
    })();
    match result {
        Err(e) => row.met = format!("INVALID: {e}"),
        Ok((m, responses, too_many)) => {
            row.wall = ms(m.wall);
            row.rate = rate_text(n as f64 / m.wall.as_secs_f64());
            row.rss = mib(m.rss_kib);
            let counted = libtest_result(&m.stdout);
            let mut misses = Vec::new();
            if m.wall > budget {
                misses.push(format!("{:.1} s", m.wall.as_secs_f64()));
            }
            if too_many > 0 {
                misses.push(format!("{too_many} x 429 in {responses} responses"));
            }
            match (m.exit.clone(), counted) {
                (Ok(0), Some((p, 0, 0))) if p == n => {}
                (exit, Some((p, fl, ig))) => misses.push(format!(
                    "exit {exit:?}: {p} passed, {fl} failed, {ig} not run or inconclusive"
                )),
                (exit, None) => misses.push(format!(
                    "exit {exit:?}: {}",
                    tail(&format!("{}\n{}", m.stdout, m.stderr), 2)
                )),
            }
            row.met = if misses.is_empty() {
                format!("yes ({responses} responses, 0 x 429)")
            } else {
                format!("no: {}", misses.join(", "))
            };
        }
    }
    rows.push(row);
}

// ---------------------------------------------------------------------------------------------
// The plain loop (child mode): the same requests, concurrency C, no checks.

fn plain_loop(base: &str, n: usize, c: usize, corpus: Corpus) -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("plain-loop: runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .no_proxy()
        .user_agent("errcontract-bench-plain-loop/0.1")
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("plain-loop: client: {e}");
            return ExitCode::from(2);
        }
    };
    let next = Arc::new(AtomicUsize::new(0));
    let matched = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..c.max(1) {
            let (client, next, matched) = (client.clone(), next.clone(), matched.clone());
            let base = base.to_string();
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let k = kind(i);
                    let method = reqwest::Method::from_bytes(k.method.as_bytes())
                        .unwrap_or(reqwest::Method::GET);
                    let mut request = client.request(method, format!("{base}/bench/{}", k.code));
                    for (name, value) in headers(corpus, i) {
                        request = request.header(name, value);
                    }
                    if let Some(body) = k.body {
                        request = request.body(body);
                    }
                    if let Ok(response) = request.send().await {
                        let status = response.status().as_u16();
                        if response.bytes().await.is_ok() && status == k.status {
                            matched.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    });
    let matched = matched.load(Ordering::SeqCst);
    println!("plain-loop: {n} requests, {matched} with the expected status");
    if matched == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

// ---------------------------------------------------------------------------------------------

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or("unknown memory".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}, {date}, load average at the end {load}")
}

fn version_of(path: &Path) -> String {
    Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--spawn") {
        return spawn_helper(&args[2..]);
    }
    if let Some(at) = args.iter().position(|a| a == "--plain-loop") {
        let base = args.get(at + 1).cloned().unwrap_or_default();
        let n = args.get(at + 2).and_then(|v| v.parse().ok()).unwrap_or(0);
        let c = args.get(at + 3).and_then(|v| v.parse().ok()).unwrap_or(1);
        let corpus = args
            .get(at + 4)
            .and_then(|v| Corpus::parse(v))
            .unwrap_or(Corpus::RoleKeys);
        return plain_loop(&base, n, c, corpus);
    }
    // `--fast-target ADDR`: serve the fast target alone until killed, to profile a run by hand
    // (`--write-cases` writes the cases it answers).
    if let Some(at) = args.iter().position(|a| a == "--fast-target") {
        let addr = args.get(at + 1).cloned().unwrap_or("127.0.0.1:8080".into());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        return runtime.block_on(async {
            match TcpListener::bind(&addr).await {
                Ok(listener) => {
                    eprintln!("suite bench: fast target on http://{addr}");
                    fast_target(listener, Arc::new(AtomicU64::new(0))).await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("suite bench: bind {addr}: {e}");
                    ExitCode::FAILURE
                }
            }
        });
    }
    // `--write-cases DIR N [BASE]`: write the generated case (and Hurl) files to inspect or lint.
    if let Some(at) = args.iter().position(|a| a == "--write-cases") {
        let dir = PathBuf::from(args.get(at + 1).cloned().unwrap_or_else(|| ".".into()));
        let n = args.get(at + 2).and_then(|v| v.parse().ok()).unwrap_or(16);
        let base = args
            .get(at + 3)
            .cloned()
            .unwrap_or("http://127.0.0.1:8080".into());
        let written = write_tree(&dir.join("cases"), n, "json", rel, |i| {
            case_text(Corpus::RoleKeys, i)
        })
        .and_then(|()| {
            write_tree(&dir.join("case-keys"), n, "json", rel, |i| {
                case_text(Corpus::CaseKeys, i)
            })
        })
        .and_then(|()| write_tree(&dir.join("rate"), n, "json", rate_rel, rate_case))
        .and_then(|()| {
            write_tree(&dir.join("hurl"), n, "hurl", rel, |i| {
                hurl_text(Corpus::RoleKeys, i, &base)
            })
        });
        return match written {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("suite bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = check_table() {
        eprintln!("suite bench: {e}");
        return ExitCode::FAILURE;
    }
    let s = Settings::from_env();
    let started = Instant::now();
    let mut rows = Vec::new();
    if s.row("check") {
        check_rows(&mut rows);
    }
    if s.row("load") {
        load_rows(&s, &mut rows);
    }
    if s.row("throughput") {
        throughput_rows(&s, &mut rows);
    }
    if s.row("rate") {
        rate_rows(&s, &mut rows);
    }
    println!("errcontract suite benchmark: {}", machine());
    for (name, path) in [("hurl", &s.hurl), ("curl", &s.curl)] {
        if let Some(p) = path {
            println!("{name}: {} ({})", version_of(p), p.display());
        }
    }
    let floor = measure(&mut Command::new("true"), Duration::from_secs(10))
        .map_or("unknown".into(), |m| format!("{} MiB", mib(m.rss_kib)));
    println!(
        "peak RSS is the child's own ru_maxrss (wait4), spawned by a small helper; floor (`true` measured the same way): {floor}"
    );
    println!(
        "runs per cell: {} (N > 10,000: {}); fast target: {} worker thread(s); {}",
        s.runs,
        s.large_runs,
        s.target_threads,
        if s.full {
            "full"
        } else {
            "smoke (pass --bench for the full run)"
        }
    );
    println!();
    print!("{}", print_table(&rows));
    println!();
    println!(
        "total benchmark time: {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let invalid = rows.iter().any(|r| r.met.starts_with("INVALID"));
    if invalid {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
