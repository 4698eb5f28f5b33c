//! A target (or the nginx, Gunicorn or load balancer in front of it) that closes connections:
//! a request whose connection closed before any answer is sent again once, on a fresh
//! connection, with a note; an answer that began and broke off is the target's failure, never
//! resent; a request that bills if accepted is never resent (inconclusive, with the reason).
//! The target is a raw TCP server on loopback.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{UNKNOWN_PATH_CASE, VALID_KEY};
use crate::tls::text;

/// What the server does with the n-th request (from 1) on a connection.
#[derive(Clone, Copy)]
enum Mode {
    /// Answers the first request, closes the connection when a second one comes (an idle
    /// keep-alive connection closed as the client reused it).
    OneAnswerPerConnection,
    /// Closes every connection on its first request, without a byte.
    NeverAnswers,
    /// Sends the head and part of the body, then closes.
    BreaksOffMidBody,
}

const BODY: &str = r#"{"error":{"message":"no such route","type":"invalid_request_error","param":null,"code":"not_found","doc_url":"https://docs.getimg.ai/guides/errors"}}"#;

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
}

async fn server(mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(serve(conn, mode, counted.clone()));
        }
    });
    Server { url, requests }
}

async fn serve(mut conn: TcpStream, mode: Mode, requests: Arc<AtomicUsize>) {
    let mut on_this_connection = 0;
    let mut buf = Vec::new();
    loop {
        // One request: its head, then Content-Length bytes of body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        requests.fetch_add(1, Ordering::SeqCst);
        on_this_connection += 1;
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        match mode {
            Mode::OneAnswerPerConnection if on_this_connection == 1 => {
                if conn.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
            Mode::BreaksOffMidBody => {
                let _ = conn
                    .write_all(&answer.as_bytes()[..answer.len() - 20])
                    .await;
                return;
            }
            _ => return,
        }
    }
}

fn cases(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

fn routing(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("routing/r{i}"),
                UNKNOWN_PATH_CASE.replace("/v2/no-such-thing", &format!("/v2/no-such-thing-{i}")),
            )
        })
        .collect()
}

async fn run(url: &str, files: Vec<(String, String)>) -> (std::process::Output, String) {
    let files: Vec<(&str, String)> = files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let dir = cases(&files);
    let reports = tempfile::tempdir().expect("tempdir");
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", dir.path())
        .env("ERRCONTRACT_BASE_URL", url)
        .env("ERRCONTRACT_API_KEY", VALID_KEY)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_CONCURRENCY", "1")
        .env("ERRCONTRACT_ALLOW_BILLABLE", "1")
        .env("ERRCONTRACT_MAX_INCONCLUSIVE", "1")
        .env("ERRCONTRACT_REPORT_DIR", reports.path())
        .env_remove("ERRCONTRACT_EXPECTATIONS");
    for var in crate::tls::AMBIENT {
        cmd.env_remove(var);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("runs");
    let report = std::fs::read_to_string(reports.path().join("report.json")).unwrap_or_default();
    (out, report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_closed_before_the_answer_is_sent_again_once_with_a_note() {
    let target = server(Mode::OneAnswerPerConnection).await;
    let (out, report) = run(&target.url, routing(4)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        report.contains("closed before any byte of the answer")
            && report.contains("sent again once on a fresh connection"),
        "the resend is noted in the reports:\n{report}"
    );
    // Every case's request was answered once; the resends are the extra requests.
    assert!(target.requests.load(Ordering::SeqCst) > 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_billable_request_whose_connection_closed_is_not_sent_again() {
    let target = server(Mode::NeverAnswers).await;
    let billable = UNKNOWN_PATH_CASE
        .replace(
            "\"GET\", \"path\": \"/v2/no-such-thing\"",
            "\"POST\", \"path\": \"/v2/no-such-thing\", \"json\": {}",
        )
        .replace("\"tags\"", "\"billable_if_accepted\": true,\n  \"tags\"");
    let (out, _) = run(&target.url, vec![("routing/billable".into(), billable)]).await;
    let all = text(&out);
    assert_ne!(out.status.code(), Some(101), "not a failure: {all}");
    assert!(
        all.contains("may have been processed, so it was not sent again"),
        "{all}"
    );
    assert_eq!(
        target.requests.load(Ordering::SeqCst),
        1,
        "sent once: {all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_broke_off_is_a_failure_and_never_sent_again() {
    let target = server(Mode::BreaksOffMidBody).await;
    let (out, _) = run(&target.url, routing(1)).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(101), "{all}");
    assert!(all.contains("[transport]"), "{all}");
    assert_eq!(
        target.requests.load(Ordering::SeqCst),
        1,
        "sent once: {all}"
    );
}
