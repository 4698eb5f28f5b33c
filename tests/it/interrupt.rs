//! Interruption, as a user or a CI runner does it: SIGINT or SIGTERM to `errcontract run`
//! stops sending, ends every case left "not run: interrupted", writes the reports and exits
//! 130 or 143; a second signal ends it at once. The target is a loopback server that accepts
//! every request and never answers, so the run is under way when the signal comes.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use errcontract::exit;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::support::{UNKNOWN_PATH_CASE, VALID_KEY};

/// A target that reads requests and never answers; how many connections carried a request
/// (the first connection's check opens one and sends nothing).
async fn silent() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut first = true;
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if first {
                        counted.fetch_add(1, Ordering::SeqCst);
                        first = false;
                    }
                }
            });
        }
    });
    (url, seen)
}

struct Interrupted {
    code: Option<i32>,
    stdout: String,
    report: Option<String>,
}

/// Run 20 cases (two at a time) against the silent target; once it has a request, send
/// `signals` to the process, 50 ms apart.
async fn interrupted(signals: &[i32]) -> Interrupted {
    let (url, seen) = silent().await;
    let cases = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(cases.path().join("routing")).expect("mkdir");
    for i in 0..20 {
        std::fs::write(
            cases.path().join(format!("routing/r{i:02}.json")),
            UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", &format!("/v2/no-such-thing-{i}")),
        )
        .expect("write");
    }
    let reports = tempfile::tempdir().expect("tempdir");
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env("ERRCONTRACT_BASE_URL", &url)
        .env("ERRCONTRACT_API_KEY", VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_CONCURRENCY", "2")
        .env("ERRCONTRACT_TIMEOUT_S", "60")
        .env("ERRCONTRACT_REPORT_DIR", reports.path())
        .env_remove("ERRCONTRACT_EXPECTATIONS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in crate::tls::AMBIENT {
        cmd.env_remove(var);
    }
    let child = cmd.spawn().expect("errcontract starts");
    let pid = child.id() as libc::pid_t;
    for _ in 0..200 {
        if seen.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen.load(Ordering::SeqCst) > 0, "the run never sent");
    for signal in signals {
        // SAFETY: a signal to the child this test started and still waits for.
        unsafe { libc::kill(pid, *signal) };
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("thread")
        .expect("errcontract ends");
    Interrupted {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        report: std::fs::read_to_string(reports.path().join("report.json")).ok(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_ends_every_case_left_not_run_writes_the_reports_and_exits_130() {
    let run = interrupted(&[libc::SIGINT]).await;
    assert_eq!(
        run.code,
        Some(i32::from(exit::INTERRUPTED)),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("not run: interrupted (SIGINT)"),
        "{}",
        run.stdout
    );
    let report = run.report.expect("report.json was written");
    assert_eq!(
        report.matches("interrupted (SIGINT)").count(),
        20,
        "every case is in the report, not run: {report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_143_with_the_reports_written() {
    let run = interrupted(&[libc::SIGTERM]).await;
    assert_eq!(
        run.code,
        Some(i32::from(exit::TERMINATED)),
        "{}",
        run.stdout
    );
    assert!(run.report.is_some(), "report.json was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_ends_the_run_at_once() {
    let run = interrupted(&[libc::SIGINT, libc::SIGINT]).await;
    assert_eq!(
        run.code,
        Some(i32::from(exit::INTERRUPTED)),
        "{}",
        run.stdout
    );
    assert!(
        run.report.is_none(),
        "it ended before the grace was over, without waiting to write reports"
    );
}
