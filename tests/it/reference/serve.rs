//! `errcontract serve` as an operator starts it: what can fail at start is said before the
//! banner, and a server that is up cannot be held by clients that never finish a request.

use std::process::Stdio;
use std::time::Duration;

use errcontract::reference::{self, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Run `errcontract serve ARGS`, which must stop by itself; (exit code, stdout, stderr).
fn serve(args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = crate::support::errcontract()
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("errcontract serve starts");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("errcontract serve {args:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn serve_reports_a_busy_port_before_its_banner() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, stdout, stderr) = serve(&["--addr", &addr]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stdout, "", "no banner for a server that never listened");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: pick a free address with --addr"),
        "{stderr}"
    );
}

#[test]
fn serve_refuses_two_roles_sharing_a_key_before_its_banner() {
    let (code, stdout, stderr) = serve(&[
        "--addr",
        "127.0.0.1:0",
        "--valid-key",
        "sk_same_key",
        "--revoked-key",
        "sk_same_key",
    ]);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert_eq!(stdout, "", "no banner for a server that never listened");
    assert!(stderr.contains("two roles share the key"), "{stderr}");
    assert!(stderr.contains("each role needs its own key"), "{stderr}");
    assert!(!stderr.contains("pick a free address"), "{stderr}");
}

/// Half-sent requests are closed once the header-read timeout passes; the server still
/// answers everyone else.
#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_read_timeout() {
    let config = Config {
        header_read_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let server = reference::start(config).await.expect("the server starts");
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut sock = TcpStream::connect(server.addr).await.expect("connect");
        sock.write_all(b"GET /v2/models HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("write");
        stalled.push(sock);
    }
    for mut sock in stalled {
        let mut buf = Vec::new();
        // Bounded: a server without the timeout never closes, and the read never ends.
        let read = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "a half-sent request was kept open");
    }
    let mut sock = TcpStream::connect(server.addr).await.expect("connect");
    sock.write_all(b"GET /v2/no-such-thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut answer))
        .await
        .expect("answered in time")
        .expect("read");
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    server.shutdown().await;
}
