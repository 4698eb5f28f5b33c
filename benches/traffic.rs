//! Benchmark (not a test) of passive checking, through the `errcontract` binary only:
//!
//! - `har`: a HAR of `TRAFFIC_BENCH_MB` MB (default 200) is generated once (browser-like
//!   entries: JSON successes with large base64 bodies, errors of every kind one in ten), and
//!   `errcontract traffic FILE` checks it `TRAFFIC_BENCH_RUNS` times (default 3). It reports
//!   MB/s (file size over wall time, spawn to exit) and the child's peak RSS (`ru_maxrss` from
//!   `wait4`), the median run. Goals: ≥ 100 MB/s, ≤ 64 MiB.
//! - `proxy`: `errcontract serve` as the upstream, then `TRAFFIC_BENCH_RPS` requests a second
//!   (default 500) for `TRAFFIC_BENCH_SECONDS` (default 10), open loop (each request sent at
//!   its scheduled time, its latency from then to its body's end), half 404 errors (checked),
//!   half `GET /v2/models` (forwarded only): once straight to the server, once through
//!   `errcontract proxy`, alternated twice. It reports p50 and p99 of each and the p99
//!   overhead. Goal: ≤ 1 ms.
//!
//! `TRAFFIC_BENCH_ROWS=har` or `=proxy` runs one. `cargo bench --bench traffic`.

use std::io::{BufWriter, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn errcontract() -> &'static str {
    env!("CARGO_BIN_EXE_errcontract-under-test")
}

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: a small smoke only.
    let bench = std::env::args().any(|a| a == "--bench");
    let rows = std::env::var("TRAFFIC_BENCH_ROWS").unwrap_or_else(|_| "har,proxy".into());
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("traffic-bench");
    std::fs::create_dir_all(&dir).expect("bench directory");
    println!(
        "errcontract traffic benchmark ({} cores, {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        errcontract()
    );
    if rows.contains("har") {
        let mb = if bench {
            var("TRAFFIC_BENCH_MB", 200)
        } else {
            2
        };
        let runs = if bench {
            var("TRAFFIC_BENCH_RUNS", 3)
        } else {
            1
        };
        har_row(&dir, mb, runs as usize);
    }
    if rows.contains("proxy") {
        let (rps, seconds) = if bench {
            (
                var("TRAFFIC_BENCH_RPS", 500),
                var("TRAFFIC_BENCH_SECONDS", 10),
            )
        } else {
            (50, 1)
        };
        proxy_row(rps, seconds);
    }
}

// ---------------------------------------------------------------------------------------------
// HAR throughput and memory

const KEY: &str = "sk_live_bench_0123456789abcdef";

/// Write a HAR of about `mb` MB to `path`, entry by entry (never held whole).
fn generate(path: &Path, mb: u64) -> u64 {
    let target = mb * 1_000_000;
    let file = std::fs::File::create(path).expect("HAR file");
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(br#"{"log": {"version": "1.2", "creator": {"name": "bench", "version": "1"}, "pages": [], "entries": ["#)
        .unwrap();
    let blob: String = "iVBORw0KGgoAAAANSUhEUgAA".repeat(1200); // ~28 KB of base64
    let errors = [
        (
            400,
            r#"{"error":{"message":"Unsupported resolution '4K' for model 'seedream-5-lite'.","type":"invalid_request_error","param":"resolution","code":"invalid_parameter"}}"#,
            "",
        ),
        (
            404,
            r#"{"error":{"message":"Unrecognized request URL: GET /v2/nope.","type":"invalid_request_error","param":null,"code":"not_found"}}"#,
            "",
        ),
        (
            429,
            r#"{"error":{"message":"Rate limit reached. Retry after 30 seconds.","type":"invalid_request_error","param":null,"code":"rate_limit","doc_url":"https://docs.getimg.ai/guides/rate-limits"}}"#,
            "30",
        ),
        (
            500,
            r#"{"error":{"message":"Something went wrong on our side.","type":"invalid_request_error","param":null,"code":"server_error"}}"#,
            "",
        ),
    ];
    let mut written = 0u64;
    let mut i = 0u64;
    while written < target {
        let (path_, status, body, retry): (&str, u16, String, &str) = if i % 10 == 9 {
            let (s, b, r) = errors[(i / 10 % 4) as usize];
            ("/v2/images/generations", s, b.to_string(), r)
        } else {
            (
                "/v2/images/generations",
                200,
                format!(
                    r#"{{"data":[{{"b64_json":"{blob}"}}],"model":"seedream-5-lite","cost":0.035}}"#
                ),
                "",
            )
        };
        let body = serde_json::to_string(&body).unwrap();
        let retry = if retry.is_empty() {
            String::new()
        } else {
            format!(r#",{{"name":"Retry-After","value":"{retry}"}}"#)
        };
        let entry = format!(
            r#"{}{{"startedDateTime":"2026-12-01T10:00:00.000Z","time":812.5,"request":{{"method":"POST","url":"https://api.getimg.ai{path_}","httpVersion":"HTTP/2","headers":[{{"name":"authorization","value":"Bearer {KEY}"}},{{"name":"content-type","value":"application/json"}},{{"name":"accept","value":"application/json"}}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":64,"postData":{{"mimeType":"application/json","text":"{{\"model\":\"seedream-5-lite\",\"prompt\":\"a lighthouse at dusk\"}}"}}}},"response":{{"status":{status},"statusText":"","httpVersion":"HTTP/2","headers":[{{"name":"content-type","value":"application/json"}},{{"name":"date","value":"Tue, 01 Dec 2026 10:00:00 GMT"}},{{"name":"x-ratelimit-limit","value":"600"}},{{"name":"x-ratelimit-remaining","value":"599"}},{{"name":"x-ratelimit-reset","value":"1796119260"}}{retry}],"cookies":[],"content":{{"size":{size},"mimeType":"application/json","text":{body}}},"redirectURL":"","headersSize":-1,"bodySize":-1,"_transferSize":1234}},"cache":{{}},"timings":{{"blocked":-1,"dns":-1,"ssl":-1,"connect":-1,"send":0.1,"wait":800,"receive":12.4}},"_priority":"High","_resourceType":"fetch"}}"#,
            if i == 0 { "" } else { "," },
            size = body.len()
        );
        out.write_all(entry.as_bytes()).unwrap();
        written += entry.len() as u64;
        i += 1;
    }
    out.write_all(b"]}}\n").unwrap();
    out.flush().unwrap();
    std::fs::metadata(path).unwrap().len()
}

fn har_row(dir: &Path, mb: u64, runs: usize) {
    let path = dir.join(format!("bench-{mb}mb.har"));
    let size = match std::fs::metadata(&path) {
        Ok(m) if m.len() >= mb * 1_000_000 => m.len(),
        _ => {
            eprintln!("generating {}…", path.display());
            generate(&path, mb)
        }
    };
    let mut results = Vec::new();
    for run in 0..runs {
        let reports = dir.join("reports");
        let mut cmd = Command::new(errcontract());
        cmd.arg("traffic")
            .arg(&path)
            .env("ERRCONTRACT_REPORT_DIR", &reports)
            .env("ERRCONTRACT_API_KEY", KEY)
            .env_remove("ERRCONTRACT_EXPECTATIONS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (wall, rss_kib, code) = spawn_and_wait(&mut cmd);
        let mbps = size as f64 / 1e6 / wall.as_secs_f64();
        eprintln!(
            "  run {}: {:.2} s, {mbps:.1} MB/s, {:.1} MiB, exit {code}",
            run + 1,
            wall.as_secs_f64(),
            rss_kib as f64 / 1024.0
        );
        results.push((mbps, rss_kib));
    }
    results.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mbps, rss) = results[results.len() / 2];
    let peak = results.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "har: {:.1} MB file, median of {runs}: {mbps:.1} MB/s (goal ≥ 100), peak RSS {:.1} MiB (largest {:.1}; goal ≤ 64)",
        size as f64 / 1e6,
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
}

/// Spawn `cmd` and wait for it with `wait4`: wall time, the child's peak RSS, its exit code.
fn spawn_and_wait(cmd: &mut Command) -> (Duration, u64, i32) {
    let started = Instant::now();
    let child = cmd.spawn().expect("errcontract starts");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to locals; pid is our child, not yet reaped.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break;
    }
    let wall = started.elapsed();
    drop(child);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (wall, u64::try_from(usage.ru_maxrss).unwrap_or(0), code)
}

// ---------------------------------------------------------------------------------------------
// Proxy latency overhead

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// A child process that is killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        // SAFETY: SIGINT to our own child, so the proxy ends as a user would end it.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn proxy_row(rps: u64, seconds: u64) {
    let server_addr = free_port();
    let _server = Running(
        Command::new(errcontract())
            .args(["serve", "--addr", &server_addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("errcontract serve"),
    );
    wait_listening(server_addr);
    let proxy_addr = free_port();
    let reports = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("traffic-bench/proxy-reports");
    let _proxy = Running(
        Command::new(errcontract())
            .args([
                "proxy",
                "--upstream",
                &format!("http://{server_addr}"),
                "--listen",
                &proxy_addr.to_string(),
            ])
            .env("ERRCONTRACT_REPORT_DIR", &reports)
            .env_remove("ERRCONTRACT_EXPECTATIONS")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("errcontract proxy"),
    );
    wait_listening(proxy_addr);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut direct = Vec::new();
    let mut proxied = Vec::new();
    // Warm both paths' connections, then alternate so drift hits both alike.
    runtime.block_on(load(&client, server_addr, rps, 1));
    runtime.block_on(load(&client, proxy_addr, rps, 1));
    for _ in 0..2 {
        direct.extend(runtime.block_on(load(&client, server_addr, rps, seconds.div_ceil(2))));
        proxied.extend(runtime.block_on(load(&client, proxy_addr, rps, seconds.div_ceil(2))));
    }
    let (d50, d99) = percentiles(&mut direct);
    let (p50, p99) = percentiles(&mut proxied);
    println!(
        "proxy: {rps} req/s for {seconds} s each way ({} + {} requests, half 404s checked): direct p50 {:.3} ms p99 {:.3} ms; through the proxy p50 {:.3} ms p99 {:.3} ms; p99 overhead {:.3} ms (goal ≤ 1 ms)",
        direct.len(),
        proxied.len(),
        ms(d50),
        ms(d99),
        ms(p50),
        ms(p99),
        ms(p99) - ms(d99)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentiles(v: &mut [Duration]) -> (Duration, Duration) {
    v.sort();
    let at = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    (at(0.50), at(0.99))
}

/// `rps` requests a second for `seconds`, open loop: each latency runs from the request's
/// scheduled time to its body's end.
async fn load(client: &reqwest::Client, addr: SocketAddr, rps: u64, seconds: u64) -> Vec<Duration> {
    let n = rps * seconds;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / rps as f64);
        let url = if i % 2 == 0 {
            format!("http://{addr}/v2/nope")
        } else {
            format!("http://{addr}/v2/models")
        };
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let r = client
                .get(&url)
                .bearer_auth("sk_test_errcontract_valid")
                .send()
                .await
                .expect("an answer");
            r.bytes().await.expect("a body");
            at.elapsed()
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
