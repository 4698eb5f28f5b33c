//! The run as a user starts it (`errcontract run`), against targets on loopback that count
//! what reaches them: requests in flight follow `ERRCONTRACT_CONCURRENCY` whatever
//! `--test-threads` is, and a target that reports its limits (`X-RateLimit-*`) is never pushed
//! into a 429 by the suite, even when the suite's concurrency is larger than the limit.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::support;

/// `n` cases below `dir`, each a GET of an unknown path expecting 404 `not_found`.
fn cases(dir: &Path, n: usize) {
    let area = dir.join("routing");
    std::fs::create_dir_all(&area).expect("mkdir");
    for i in 0..n {
        std::fs::write(
            area.join(format!("unknown-{i:03}.json")),
            support::UNKNOWN_PATH_CASE,
        )
        .expect("write");
    }
}

/// Run the suite against `base` in its own process, as a user would.
async fn run_suite(cases: &Path, base: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .args(args)
        .env("ERRCONTRACT_CASES", cases)
        .env("ERRCONTRACT_BASE_URL", base)
        .env("ERRCONTRACT_API_KEY", support::VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_TIMEOUT_S", "10");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the suite's thread")
        .expect("errcontract runs")
}

fn assert_passed(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const NOT_FOUND: &str = r#"{"error":{"message":"Unknown path.","type":"invalid_request_error","param":null,"code":"not_found","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;
const RATE_LIMITED: &str = r#"{"error":{"message":"Too many requests.","type":"invalid_request_error","param":null,"code":"rate_limit","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;

/// Answer one connection's requests (keep-alive) with what `answer` says, until it closes.
async fn serve_connection<F, Fut>(mut sock: tokio::net::TcpStream, answer: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (u16, Vec<(String, String)>, &'static str)>,
{
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let head = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            if let Ok(httparse::Status::Complete(n)) = req.parse(&buf) {
                break n;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..head);
        let (status, headers, body) = answer().await;
        let mut out = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(body);
        if sock.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_follow_errcontract_concurrency_whatever_test_threads_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    cases(dir.path(), 16);
    for (threads, concurrency) in [("1", 4usize), ("8", 2)] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let now = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (n, m) = (now.clone(), most.clone());
        let server = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (n, m) = (n.clone(), m.clone());
                tokio::spawn(serve_connection(sock, move || {
                    let (n, m) = (n.clone(), m.clone());
                    async move {
                        let inflight = n.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(inflight, Ordering::SeqCst);
                        // Slow enough that every allowed request is in flight at once.
                        tokio::time::sleep(Duration::from_millis(150)).await;
                        n.fetch_sub(1, Ordering::SeqCst);
                        (404, Vec::new(), NOT_FOUND)
                    }
                }));
            }
        });
        let out = run_suite(
            dir.path(),
            &base,
            &["--test-threads", threads],
            &[("ERRCONTRACT_CONCURRENCY", &concurrency.to_string())],
        )
        .await;
        server.abort();
        assert_passed(&out);
        assert_eq!(
            most.load(Ordering::SeqCst),
            concurrency,
            "--test-threads {threads}, ERRCONTRACT_CONCURRENCY={concurrency}: requests in flight at most"
        );
    }
}

/// A target limiting each key to `LIMIT` requests per `WINDOW_S`-second window (windows start
/// at whole multiples of it in unix time), with the documented headers, and 429 past it.
struct Limited {
    window: u64,
    count: u64,
    throttled: usize,
    served: usize,
}

const LIMIT: u64 = 3;
const WINDOW_S: u64 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_reports_its_limit_is_never_pushed_into_a_429() {
    let dir = tempfile::tempdir().expect("tempdir");
    let n = 8;
    cases(dir.path(), n);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = Arc::new(Mutex::new(Limited {
        window: 0,
        count: 0,
        throttled: 0,
        served: 0,
    }));
    let s = state.clone();
    let server = tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(serve_connection(sock, move || {
                let s = s.clone();
                async move {
                    let unix = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .expect("clock")
                        .as_secs();
                    let window = unix / WINDOW_S;
                    let reset = (window + 1) * WINDOW_S;
                    let mut st = s.lock().await;
                    if st.window != window {
                        st.window = window;
                        st.count = 0;
                    }
                    st.count += 1;
                    let mut headers = vec![
                        ("x-ratelimit-limit".to_string(), LIMIT.to_string()),
                        (
                            "x-ratelimit-remaining".to_string(),
                            LIMIT.saturating_sub(st.count).to_string(),
                        ),
                        ("x-ratelimit-reset".to_string(), reset.to_string()),
                    ];
                    if st.count > LIMIT {
                        st.throttled += 1;
                        headers.push(("retry-after".into(), (reset - unix).max(1).to_string()));
                        (429, headers, RATE_LIMITED)
                    } else {
                        st.served += 1;
                        (404, headers, NOT_FOUND)
                    }
                }
            }));
        }
    });
    let started = Instant::now();
    let out = run_suite(
        dir.path(),
        &base,
        &[],
        // More requests in flight allowed than the target's whole window.
        &[("ERRCONTRACT_CONCURRENCY", "8")],
    )
    .await;
    let took = started.elapsed();
    server.abort();
    let st = state.lock().await;
    assert_passed(&out);
    assert_eq!(
        st.throttled, 0,
        "the suite sent into a spent window {} times",
        st.throttled
    );
    assert_eq!(st.served, n, "every case was answered once");
    // 8 requests at 3 per window need at least two resets: the run waited, it did not skip.
    assert!(
        took >= Duration::from_secs(WINDOW_S),
        "the run took {took:?}; it cannot have waited for a reset"
    );
}
