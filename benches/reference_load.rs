//! Load on the reference server: many concurrent keep-alive connections on loopback, a mix of
//! generations, reads, polls and validation errors. Reports requests per second, latency
//! percentiles and the process's peak RSS (server and load generator share the process).
//!
//! `cargo bench --bench reference_load` runs the full load (256 connections, 200 000 requests
//! or 30 s, whichever comes first). Without `--bench` (e.g. `cargo test --benches`) it runs a
//! small smoke load so the target stays cheap to check. Override with
//! `REFERENCE_LOAD_CONNECTIONS`, `REFERENCE_LOAD_REQUESTS` and `REFERENCE_LOAD_SECONDS`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use errcontract::reference::{self, Config, Limits, Usd};
use serde_json::json;
use tokio::sync::Barrier;

/// What one request of the mix is, and the status it must get.
#[derive(Clone, Copy, Debug)]
enum Op {
    Image,
    Models,
    Video,
    Poll,
    Invalid,
}

impl Op {
    /// The mix, by request number: half generations, the rest reads, polls and 400s.
    fn nth(n: u64) -> Op {
        match n % 10 {
            0..=4 => Op::Image,
            5 | 6 => Op::Models,
            7 => Op::Video,
            8 => Op::Poll,
            _ => Op::Invalid,
        }
    }

    fn expected(self) -> u16 {
        match self {
            Op::Image | Op::Models | Op::Poll => 200,
            Op::Video => 202,
            Op::Invalid => 400,
        }
    }
}

struct Settings {
    connections: usize,
    requests: u64,
    max_time: Duration,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn settings() -> Settings {
    let full = std::env::args().any(|a| a == "--bench");
    let (connections, requests, seconds) = if full {
        (256, 200_000, 30)
    } else {
        (16, 2_000, 10)
    };
    Settings {
        connections: env_or("REFERENCE_LOAD_CONNECTIONS", connections),
        requests: env_or("REFERENCE_LOAD_REQUESTS", requests),
        max_time: Duration::from_secs(env_or("REFERENCE_LOAD_SECONDS", seconds)),
    }
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    wrong_status: u64,
    transport_errors: u64,
}

async fn worker(
    base: String,
    key: String,
    issued: Arc<AtomicU64>,
    budget: u64,
    deadline: Instant,
    start: Arc<Barrier>,
) -> Tally {
    // One client per worker with one pooled connection: N workers are N connections.
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .expect("a client");
    let image = json!({ "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" }).to_string();
    let video = json!({ "model": "seedance-v1-pro", "prompt": "waves" }).to_string();
    let invalid =
        json!({ "model": "seedream-5-lite", "prompt": "x", "resolution": "4K" }).to_string();
    let mut tally = Tally::default();
    let mut last_video: Option<String> = None;
    // Open the connection before the clock starts.
    let _ = client
        .get(format!("{base}/v2/models"))
        .bearer_auth(&key)
        .send()
        .await;
    start.wait().await;
    loop {
        let n = issued.fetch_add(1, Ordering::Relaxed);
        if n >= budget || Instant::now() >= deadline {
            break;
        }
        let mut op = Op::nth(n);
        if matches!(op, Op::Poll) && last_video.is_none() {
            op = Op::Models;
        }
        let post = |path: &str, body: &str| {
            client
                .post(format!("{base}{path}"))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body(body.to_owned())
        };
        let request = match op {
            Op::Image => post("/v2/images/generations", &image),
            Op::Video => post("/v2/videos/generations", &video),
            Op::Invalid => post("/v2/images/generations", &invalid),
            Op::Models => client.get(format!("{base}/v2/models")).bearer_auth(&key),
            Op::Poll => client
                .get(format!(
                    "{base}/v2/videos/generations/{}",
                    last_video.as_deref().unwrap_or_default()
                ))
                .bearer_auth(&key),
        };
        let sent = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await;
                tally
                    .latencies_us
                    .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if status != op.expected() || body.is_err() {
                    tally.wrong_status += 1;
                } else if let (Op::Video, Ok(body)) = (op, body) {
                    last_video = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned));
                }
            }
            Err(_) => tally.transport_errors += 1,
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

fn main() -> std::process::ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = settings();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let clean = runtime.block_on(async {
        let mut config = Config::default();
        // Unthrottled and funded: the load measures the server, not its limits.
        config.valid.limits = Limits {
            image_rpm: u32::MAX,
            video_rpm: u32::MAX,
            concurrency: u32::MAX,
        };
        config.valid.balance = Usd::from_dollars(1_000_000_000);
        let key = config.keys().valid;
        let server = reference::start(config).await.expect("the server starts");
        let base = server.base_url();
        let issued = Arc::new(AtomicU64::new(0));
        let start = Arc::new(Barrier::new(settings.connections + 1));
        let deadline = Instant::now() + settings.max_time;
        let workers: Vec<_> = (0..settings.connections)
            .map(|_| {
                tokio::spawn(worker(
                    base.clone(),
                    key.clone(),
                    issued.clone(),
                    settings.requests,
                    deadline,
                    start.clone(),
                ))
            })
            .collect();
        start.wait().await;
        let began = Instant::now();
        let mut all = Tally::default();
        for w in workers {
            if let Ok(t) = w.await {
                all.latencies_us.extend(t.latencies_us);
                all.wrong_status += t.wrong_status;
                all.transport_errors += t.transport_errors;
            }
        }
        let elapsed = began.elapsed();
        server.shutdown().await;

        let mut lat = all.latencies_us;
        lat.sort_unstable();
        let done = lat.len() as f64;
        println!("reference_load: {} connections on loopback, mix 50% image generations, 20% model lists, 10% video submissions, 10% polls, 10% 400s", settings.connections);
        println!("  requests      {} in {:.2} s", lat.len(), elapsed.as_secs_f64());
        println!("  throughput    {:.0} requests/s", done / elapsed.as_secs_f64());
        println!(
            "  latency ms    p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
            percentile(&lat, 50.0),
            percentile(&lat, 90.0),
            percentile(&lat, 99.0),
            percentile(&lat, 99.9),
            percentile(&lat, 100.0),
        );
        println!(
            "  failures      {} wrong status, {} transport errors",
            all.wrong_status, all.transport_errors
        );
        println!("  peak RSS      {} (server and load generator together)", peak_rss());
        all.wrong_status + all.transport_errors == 0
    });
    if clean {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
