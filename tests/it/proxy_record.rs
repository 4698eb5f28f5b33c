//! `errcontract proxy`: a real HTTP client's traffic through the recording proxy to the
//! reference server behind a target front (mocked: it is outside us) that either breaks the
//! contract (a 500 for `invalid_parameter`, an HTML 404) or keeps it while changing the wire
//! (gzip, chunked, an HTTP-date `Retry-After`, an extra member, a masked key in a message).
//! The proxy's live lines, its exit code and reports, and `errcontract traffic` on its
//! recording must agree.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;

/// A plain client on loopback (rustls needs its provider named first).
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Passes everything through unchanged.
    Clean,
    /// Breaks the contract in two places.
    Breaks,
    /// Keeps the contract, changes the wire.
    Wire,
}

type FrontBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// A target front on loopback over `upstream`, rewriting answers as `mode` says.
async fn front(upstream: String, mode: Mode) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = http_client();
    let upstream = Arc::new(upstream);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (client, upstream) = (client.clone(), upstream.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (client, upstream) = (client.clone(), upstream.clone());
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            rewrite(req, &client, &upstream, mode).await,
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn rewrite(
    req: hyper::Request<hyper::body::Incoming>,
    client: &reqwest::Client,
    upstream: &str,
    mode: Mode,
) -> hyper::Response<FrontBody> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let url = format!("{upstream}{}", parts.uri.path_and_query().unwrap());
    let mut out = client.request(parts.method.clone(), &url).body(body);
    for (n, v) in &parts.headers {
        if n != "host" && n != "content-length" {
            out = out.header(n, v);
        }
    }
    let answer = out.send().await.unwrap();
    let mut status = answer.status();
    let mut headers = answer.headers().clone();
    let mut bytes = answer.bytes().await.unwrap().to_vec();
    headers.remove("content-length");
    let mut chunked = false;
    if status.as_u16() >= 400 {
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let code = value["error"]["code"].as_str().unwrap_or("").to_string();
        match mode {
            Mode::Clean => {}
            Mode::Breaks if code == "invalid_parameter" => {
                status = hyper::StatusCode::INTERNAL_SERVER_ERROR;
            }
            Mode::Breaks if code == "not_found" => {
                headers.insert("content-type", "text/html".parse().unwrap());
            }
            Mode::Breaks => {}
            Mode::Wire => {
                value["error"]["request_id"] = "req_front_7f3a".into();
                if code == "invalid_api_key" {
                    value["error"]["message"] =
                        "Invalid API key provided: sk_tes**********oked.".into();
                }
                bytes = serde_json::to_vec(&value).unwrap();
                if headers.contains_key("retry-after") {
                    let at = SystemTime::now() + Duration::from_secs(30);
                    headers.insert("retry-after", httpdate::fmt_http_date(at).parse().unwrap());
                }
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut gz, &bytes).unwrap();
                bytes = gz.finish().unwrap();
                headers.insert("content-encoding", "gzip".parse().unwrap());
                chunked = true;
            }
        }
        if mode != Mode::Wire {
            bytes = serde_json::to_vec(&value).unwrap();
        }
    }
    let body: FrontBody = if chunked {
        // Two frames and no length: hyper sends it chunked.
        let half = bytes.len() / 2;
        let (a, b) = (
            Bytes::copy_from_slice(&bytes[..half]),
            Bytes::copy_from_slice(&bytes[half..]),
        );
        Chunks(std::collections::VecDeque::from([a, b])).boxed()
    } else {
        Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed()
    };
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// Data frames one at a time, with no length: hyper sends them chunked.
struct Chunks(std::collections::VecDeque<Bytes>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(Frame::data(c))))
    }
}

/// The proxy, started in front of `upstream`, and the address it listens on.
fn start_proxy(
    upstream: SocketAddr,
    dir: &Path,
) -> (Child, SocketAddr, std::sync::mpsc::Receiver<String>) {
    start_proxy_to(&format!("http://{upstream}"), dir, &[])
}

/// The proxy in front of `upstream` (a base URL), with these variables and none of the
/// machine's that change what it trusts or goes through.
fn start_proxy_to(
    upstream: &str,
    dir: &Path,
    envs: &[(&str, std::ffi::OsString)],
) -> (Child, SocketAddr, std::sync::mpsc::Receiver<String>) {
    start_proxy_with(upstream, dir, envs, &[])
}

/// As [`start_proxy_to`], with more arguments.
fn start_proxy_with(
    upstream: &str,
    dir: &Path,
    envs: &[(&str, std::ffi::OsString)],
    args: &[&str],
) -> (Child, SocketAddr, std::sync::mpsc::Receiver<String>) {
    let mut command = crate::support::errcontract();
    for var in crate::tls::AMBIENT {
        command.env_remove(var);
    }
    let mut child = command
        .args([
            "proxy",
            "--upstream",
            upstream,
            "--listen",
            "127.0.0.1:0",
            "--record",
        ])
        .arg(dir.join("rec.ndjson"))
        .args(args)
        .envs(envs.iter().cloned())
        .env("ERRCONTRACT_REPORT_DIR", dir.join("proxy-reports"))
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .env_remove("ERRCONTRACT_BASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("proxy starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the proxy says where it listens");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("an address in {first:?}"));
    (child, addr, rx)
}

/// A real client's errors and a video that fails, through `proxy`.
async fn client_traffic(proxy: SocketAddr) {
    let config = errcontract::reference::Config::default();
    let keys = config.keys();
    let client = http_client();
    let base = format!("http://{proxy}");
    let post = |path: &str, key: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    // A GET through the proxy, its body read to the end.
    let get = |path: String, key: &str| {
        let request = client.get(format!("{base}{path}")).bearer_auth(key);
        async move { request.send().await.unwrap().bytes().await.unwrap() }
    };
    let r = post(
        "/v2/images/generations",
        &keys.valid,
        serde_json::json!({"model": "seedream-5-lite", "prompt": "a lighthouse", "resolution": "4K"}),
    )
    .await
    .unwrap();
    r.bytes().await.unwrap();
    let r = post(
        "/v2/images/generations",
        &keys.throttled,
        serde_json::json!({"model": "seedream-5-lite", "prompt": "a lighthouse"}),
    )
    .await
    .unwrap();
    r.bytes().await.unwrap();
    for key in [&keys.valid, &keys.revoked] {
        get("/v2/models".into(), key).await;
    }
    get("/v2/nope".into(), &keys.valid).await;
    let submitted: serde_json::Value = post(
        "/v2/videos/generations",
        &keys.valid,
        serde_json::json!({"model": "seedance-v1-pro", "prompt": "a storm errcontract-trigger:video-failure", "aspect_ratio": "16:9", "resolution": "1080p", "duration": 5, "sound": false}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = submitted["id"].as_str().expect("a video id").to_string();
    for _ in 0..3 {
        get(format!("/v2/videos/generations/{id}"), &keys.valid).await;
    }
}

/// Stop the proxy with SIGINT; its exit code and everything it said.
fn stop(mut child: Child, lines: std::sync::mpsc::Receiver<String>) -> (Option<i32>, String) {
    // SAFETY: kill(2) on the pid of a child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out: Vec<String> = lines.try_iter().collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    out.push(err);
    (status.code(), out.join("\n"))
}

fn traffic_on(file: &Path, reports: &Path) -> (Option<i32>, String) {
    let out = crate::support::errcontract()
        .arg("traffic")
        .arg(file)
        .env("ERRCONTRACT_REPORT_DIR", reports)
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .output()
        .expect("traffic runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The trials of a report and their verdicts.
fn verdicts(dir: &Path) -> Vec<(String, String)> {
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    doc["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn through(mode: Mode) -> (tempfile::TempDir, Option<i32>, String) {
    let (server, _) = crate::fronts::reference().await;
    let target = front(server.base_url(), mode).await;
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, lines) = start_proxy(target, dir.path());
    client_traffic(addr).await;
    let (code, said) = tokio::task::spawn_blocking(move || stop(child, lines))
        .await
        .unwrap();
    drop(server);
    (dir, code, said)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_names_each_break_live_and_its_recording_gives_the_same_verdicts() {
    let (dir, code, said) = through(Mode::Breaks).await;
    assert_eq!(code, Some(101), "{said}");
    assert!(
        said.contains(
            "break: traffic::POST /v2/images/generations::invalid_parameter: exchange 1 ("
        ),
        "{said}"
    );
    assert!(said.contains("table: expected status 400"), "{said}");
    assert!(
        said.contains("break: traffic::other::not_found: exchange "),
        "{said}"
    );
    assert!(
        said.contains("content_type: expected application/json, got text/html"),
        "{said}"
    );
    let config = errcontract::reference::Config::default();
    for key in [
        config.keys().valid,
        config.keys().revoked,
        config.keys().throttled,
    ] {
        assert!(!said.contains(&key), "a key printed: {said}");
        let recording = std::fs::read_to_string(dir.path().join("rec.ndjson")).unwrap();
        assert!(!recording.contains(&key), "a key recorded");
        for file in ["junit.xml", "report.json", "summary.md", "report.html"] {
            let written =
                std::fs::read_to_string(dir.path().join("proxy-reports").join(file)).unwrap();
            assert!(!written.contains(&key), "a key in {file}");
        }
    }
    let live = verdicts(&dir.path().join("proxy-reports"));
    assert!(
        live.contains(&(
            "traffic::POST /v2/images/generations::invalid_parameter".into(),
            "failed".into()
        )),
        "{live:?}"
    );
    assert!(
        live.contains(&(
            "traffic::GET /v2/videos/generations/{id}::server_error".into(),
            "passed".into()
        )),
        "{live:?}"
    );
    let (again, said) = traffic_on(&dir.path().join("rec.ndjson"), &dir.path().join("again"));
    assert_eq!(again, Some(101), "{said}");
    assert_eq!(verdicts(&dir.path().join("again")), live);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_that_keeps_the_contract_passes_live_and_recorded_whatever_the_wire() {
    for mode in [Mode::Clean, Mode::Wire] {
        let (dir, code, said) = through(mode).await;
        assert_eq!(code, Some(0), "{mode:?}: {said}");
        assert!(!said.contains("break:"), "{mode:?}: {said}");
        assert!(
            said.contains("checked 7 (errors and video polls)"),
            "{mode:?}: {said}"
        );
        let (again, said) = traffic_on(&dir.path().join("rec.ndjson"), &dir.path().join("again"));
        assert_eq!(again, Some(0), "{mode:?}: {said}");
        assert_eq!(
            verdicts(&dir.path().join("again")),
            verdicts(&dir.path().join("proxy-reports")),
            "{mode:?}"
        );
    }
}

/// The official Python SDK (`scripts/sdk_check.py`: every error class, retries, strict
/// parsing) through the proxy in front of the built-in server: the SDK sees what it would see
/// straight (the proxy changes nothing), and the proxy finds no break. Where Python cannot
/// install the SDK, the test says what it skipped and passes.
#[test]
fn the_python_sdk_through_the_proxy_sees_no_difference_and_no_break() {
    let root = crate::support::root();
    let venv = root.join("target/sdk-check-venv");
    let python = venv.join("bin/python");
    let has_sdk = |python: &Path| {
        std::process::Command::new(python)
            .args(["-c", "import getimg"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has_sdk(&python) {
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .output()
            .is_ok_and(|o| o.status.success())
            && std::process::Command::new(&python)
                .args(["-m", "pip", "install", "-q", "getimg>=0.4,<0.5"])
                .output()
                .is_ok_and(|o| o.status.success());
        if !made || !has_sdk(&python) {
            eprintln!(
                "skipped: the getimg Python SDK cannot be installed here (python3 -m venv and pip install getimg failed); nothing was checked through it"
            );
            return;
        }
    }
    let server_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut server = crate::support::errcontract()
        .args([
            "serve",
            "--addr",
            &server_addr.to_string(),
            "--rate-window-secs",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(server_addr).is_err() {
        assert!(Instant::now() < deadline, "serve never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dir = tempfile::tempdir().unwrap();
    let (proxy, addr, lines) = start_proxy(server_addr, dir.path());
    let sdk = std::process::Command::new(&python)
        .arg(root.join("scripts/sdk_check.py"))
        .args(["--addr", &addr.to_string()])
        .output()
        .expect("the SDK check runs");
    let (code, said) = stop(proxy, lines);
    let _ = server.kill();
    let _ = server.wait();
    let sdk_said = format!(
        "{}{}",
        String::from_utf8_lossy(&sdk.stdout),
        String::from_utf8_lossy(&sdk.stderr)
    );
    assert!(
        sdk.status.success(),
        "the SDK saw a difference:\n{sdk_said}"
    );
    assert_eq!(code, Some(0), "{said}");
    assert!(!said.contains("break:"), "{said}");
    let checked: usize = said
        .split("checked ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(checked >= 10, "the SDK's errors were checked: {said}");
}

#[test]
fn the_proxy_listens_on_loopback_only_and_refuses_a_bad_upstream() {
    let run = |args: &[&str]| {
        let out = crate::support::errcontract()
            .arg("proxy")
            .args(args)
            // Bounded even if it did start.
            .args(["--idle-exit", "5"])
            .env_remove("ERRCONTRACT_REPORT_DIR")
            .output()
            .expect("proxy runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--upstream", "http://127.0.0.1:1", "--listen", "0.0.0.0:0"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("listens on loopback only"), "{err}");
    let (code, err) = run(&[
        "--upstream",
        "http://staging.example",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--upstream=http://staging.example: plain http"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_may_be_staging_behind_tls_with_the_company_ca() {
    let pki = crate::fronts::Pki::new("staging");
    let (front, upstream, key, ca_file) = crate::proxy::staging(&pki).await;
    let ask = |addr: SocketAddr| {
        let key = key.clone();
        async move {
            http_client()
                .get(format!("http://{addr}/v2/models/no-such-model"))
                .bearer_auth(key)
                .send()
                .await
                .expect("the proxy answers")
        }
    };

    // The CA named as for a run: the error is forwarded as staging gave it, and checked.
    let dir = tempfile::tempdir().unwrap();
    let ca = vec![("ERRCONTRACT_CA_CERT", ca_file)];
    let (child, addr, lines) = start_proxy_to(&upstream, dir.path(), &ca);
    let answer = ask(addr).await;
    assert_eq!(answer.status(), 404);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let (code, said) = tokio::task::spawn_blocking(move || stop(child, lines))
        .await
        .unwrap();
    assert_eq!(code, Some(0), "{said}");
    assert!(front.requests.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    assert!(!said.contains(&key), "{said}");

    // Without it, the client gets the proxy's own 502 and the proxy says why and what to set.
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, lines) = start_proxy_to(&upstream, dir.path(), &[]);
    let answer = ask(addr).await;
    assert_eq!(answer.status(), 502);
    let (_, said) = tokio::task::spawn_blocking(move || stop(child, lines))
        .await
        .unwrap();
    assert!(
        said.contains("could not be asked") && said.contains("ERRCONTRACT_CA_CERT"),
        "the cause in plain words, and the variable that fixes it: {said}"
    );
}

/// An upstream on loopback that answers every request with a 404 of the contract's shape,
/// `delay` after it came.
async fn slow_upstream(delay: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    tokio::time::sleep(delay).await;
                    let body = r#"{"error":{"type":"invalid_request_error","code":"not_found","message":"No such model.","param":null}}"#;
                    let mut resp = hyper::Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = hyper::StatusCode::NOT_FOUND;
                    resp.headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, std::convert::Infallible>(resp)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Wait for the proxy to stop by itself; its exit code and everything it said.
fn wait_for(mut child: Child, lines: std::sync::mpsc::Receiver<String>) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the proxy did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out: Vec<String> = lines.try_iter().collect();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    out.push(err);
    (status.code(), out.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_a_slow_upstream_keeps_the_idle_proxy_up() {
    // The answer comes well after the idle time and its grace: idle must wait for it.
    let upstream = slow_upstream(Duration::from_secs(6)).await;
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, lines) = start_proxy_with(
        &format!("http://{upstream}"),
        dir.path(),
        &[],
        &["--idle-exit", "2"],
    );
    let answer = http_client()
        .get(format!("http://{addr}/v2/models/no-such-model"))
        .send()
        .await
        .expect("the proxy answers");
    assert_eq!(answer.status(), 404);
    let body: serde_json::Value = answer.json().await.expect("the whole answer");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    let (code, said) = tokio::task::spawn_blocking(move || wait_for(child, lines))
        .await
        .unwrap();
    assert!(said.contains("no traffic for the idle time"), "{said}");
    assert!(said.contains("checked 1 "), "{said}");
    assert_eq!(code, Some(0), "{said}");
    let recording = std::fs::read_to_string(dir.path().join("rec.ndjson")).unwrap();
    assert_eq!(recording.lines().count(), 1, "{recording}");
}

#[test]
fn a_recording_that_cannot_be_written_names_record_and_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nonexist/dir/r.ndjson");
    let record = |path: &std::ffi::OsStr| {
        let out = crate::support::errcontract()
            .args([
                "proxy",
                "--upstream",
                "http://127.0.0.1:1",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg("--record")
            .arg(path)
            // Bounded even if it did start.
            .args(["--idle-exit", "5"])
            .env("ERRCONTRACT_REPORT_DIR", dir.path().join("reports"))
            .env_remove("ERRCONTRACT_EXPECTATIONS")
            .output()
            .expect("proxy runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for path in [missing.as_os_str(), dir.path().as_os_str()] {
        let (code, err) = record(path);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains(&format!(
                "cannot write the recording to {} (--record)",
                Path::new(path).display()
            )),
            "{err}"
        );
        assert!(err.contains("help: give --record a file"), "{err}");
        assert!(!err.contains("ERRCONTRACT_REPORT_DIR"), "{err}");
    }
    let (code, err) = record(std::ffi::OsStr::new("-"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot write the recording to - (--record)"),
        "{err}"
    );
    assert!(
        err.contains("stdout carries the proxy's break lines"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_cannot_be_asked_is_said_with_the_code_of_a_run() {
    let ask = |addr: SocketAddr| async move {
        http_client()
            .get(format!("http://{addr}/v2/models/no-such-model"))
            .send()
            .await
            .expect("the proxy answers")
            .status()
    };
    // Refused: nothing listens on the port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, lines) = start_proxy_to(&format!("http://{closed}"), dir.path(), &[]);
    assert_eq!(ask(addr).await, 502);
    assert_eq!(ask(addr).await, 502);
    let (code, said) = tokio::task::spawn_blocking(move || stop(child, lines))
        .await
        .unwrap();
    assert_eq!(code, Some(4), "exit::UNREACHABLE: {said}");
    assert!(
        said.contains("the upstream could not be asked (2 request(s)")
            && said.contains(&format!(
                "the first: http://{closed}/v2/models/no-such-model: "
            )),
        "{said}"
    );
    assert!(said.contains("help: check --upstream"), "{said}");
    assert!(!said.contains("traffic that holds errors"), "{said}");

    // Plain HTTP where https:// was given: the TLS code, and `--upstream` named to fix it.
    let plain = slow_upstream(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let (child, addr, lines) = start_proxy_to(&format!("https://{plain}"), dir.path(), &[]);
    assert_eq!(ask(addr).await, 502);
    let (code, said) = tokio::task::spawn_blocking(move || stop(child, lines))
        .await
        .unwrap();
    assert_eq!(code, Some(12), "exit::TLS: {said}");
    assert!(said.contains("use http:// in --upstream"), "{said}");
    assert!(!said.contains("ERRCONTRACT_BASE_URL"), "{said}");
    assert!(!said.contains("traffic that holds errors"), "{said}");
}
