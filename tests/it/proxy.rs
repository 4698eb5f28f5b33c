//! A target reached through a corporate proxy: `HTTPS_PROXY` and friends as curl reads them, an
//! https target through CONNECT (so the proxy sees no key), credentials never shown, a refusing
//! proxy a setup failure with its own code, the built-in server never proxied. Everything on
//! loopback: the proxy, the TLS front and the reference server are the test's own.

use std::ffi::OsString;
use std::sync::atomic::Ordering;

use errcontract::exit;

use crate::fronts::{self, ConnectProxy, FrontTls, Pki, ProxyMode, Validity};
use crate::tls::{run, text};

const PASSWORD: &str = "proxy-pw-5ec2e7";

/// The reference server behind TLS; the front, the base URL, its key and the CA file.
pub async fn staging(pki: &Pki) -> (fronts::Front, String, String, OsString) {
    let (server, key) = fronts::reference().await;
    let front = fronts::tls_front(
        server.base_url(),
        FrontTls {
            leaf: pki.server(&["localhost"], Validity::Now),
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            client_ca: None,
        },
    )
    .await
    .holding(server);
    let url = format!("https://localhost:{}", front.addr.port());
    (front, url, key, pki.ca_file().into())
}

fn proxy_url(proxy: &ConnectProxy) -> OsString {
    format!("http://ci-user:{PASSWORD}@127.0.0.1:{}", proxy.addr.port()).into()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_suite_runs_through_a_connect_proxy_that_sees_no_key() {
    let pki = Pki::new("staging");
    let (front, url, key, ca) = staging(&pki).await;
    let proxy = fronts::connect_proxy(ProxyMode::Tunnel).await;
    let reports = tempfile::tempdir().expect("tempdir");
    let out = run(
        &url,
        &key,
        vec![
            ("ERRCONTRACT_CA_CERT", ca),
            ("HTTPS_PROXY", proxy_url(&proxy)),
            ("ERRCONTRACT_REPORT_DIR", reports.path().into()),
        ],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    let shown = format!(
        "through the proxy http://127.0.0.1:{} with credentials (not shown) (HTTPS_PROXY)",
        proxy.addr.port()
    );
    assert!(all.contains(&shown), "the header names the proxy:\n{all}");
    assert!(proxy.tunnels.load(Ordering::SeqCst) >= 2, "{all}");
    assert!(front.requests.load(Ordering::SeqCst) >= 2, "{all}");
    let seen = proxy.seen.lock().expect("seen").clone();
    let seen = String::from_utf8_lossy(&seen);
    assert!(seen.contains("CONNECT localhost:"), "{seen}");
    assert!(
        !seen.contains(&key),
        "the key went through the proxy in clear"
    );
    assert!(!seen.contains("seedream"), "the body went through in clear");
    assert!(!all.contains(PASSWORD), "the proxy's password was shown");
    for entry in std::fs::read_dir(reports.path()).expect("reports") {
        let path = entry.expect("entry").path();
        let body = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !body.contains(PASSWORD),
            "{} shows the password",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_proxy_in_either_case_sends_the_run_directly() {
    let pki = Pki::new("staging");
    let (_front, url, key, ca) = staging(&pki).await;
    let proxy = fronts::connect_proxy(ProxyMode::Tunnel).await;
    for (proxy_var, no_proxy_var) in [("HTTPS_PROXY", "NO_PROXY"), ("https_proxy", "no_proxy")] {
        let out = run(
            &url,
            &key,
            vec![
                ("ERRCONTRACT_CA_CERT", ca.clone()),
                (proxy_var, proxy_url(&proxy)),
                (no_proxy_var, "localhost".into()),
            ],
        )
        .await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(!all.contains("through the proxy"), "{all}");
    }
    assert_eq!(proxy.tunnels.load(Ordering::SeqCst), 0);
    // Lower case alone is read too.
    let out = run(
        &url,
        &key,
        vec![
            ("ERRCONTRACT_CA_CERT", ca),
            ("all_proxy", proxy_url(&proxy)),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(proxy.tunnels.load(Ordering::SeqCst) >= 1, "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_refuses_or_is_not_there_stops_the_run_with_its_code() {
    let pki = Pki::new("staging");
    let (front, url, key, ca) = staging(&pki).await;
    for (mode, says) in [
        (ProxyMode::AuthRequired, "407 Proxy Authentication Required"),
        (ProxyMode::Forbidden, "status 403"),
    ] {
        let proxy = fronts::connect_proxy(mode).await;
        let out = run(
            &url,
            &key,
            vec![
                ("ERRCONTRACT_CA_CERT", ca.clone()),
                ("HTTPS_PROXY", proxy_url(&proxy)),
            ],
        )
        .await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(i32::from(exit::PROXY)), "{all}");
        assert!(all.contains(says) && all.contains("HTTPS_PROXY"), "{all}");
        assert!(!all.contains(PASSWORD), "{all}");
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let out = run(
        &url,
        &key,
        vec![
            ("ERRCONTRACT_CA_CERT", ca),
            ("HTTPS_PROXY", format!("http://127.0.0.1:{port}").into()),
        ],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(i32::from(exit::PROXY)), "{all}");
    assert!(all.contains("cannot be reached"), "{all}");
    assert_eq!(front.requests.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_built_in_reference_server_is_never_reached_through_a_proxy() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!(
        "http://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let cases = crate::tls::cases();
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env_remove("ERRCONTRACT_BASE_URL")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTP_PROXY", &dead)
        .env("HTTPS_PROXY", &dead)
        .env("ALL_PROXY", &dead);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("thread")
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
