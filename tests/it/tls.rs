//! A target behind TLS, as staging is: the suite trusts the CA it is told of (and the system's,
//! `SSL_CERT_FILE`), presents a client certificate when given one, speaks HTTP/2 when ALPN
//! offers it, and a TLS failure stops the run before any case with its own exit code and the
//! variable that fixes it. Every CA and certificate here is made by the test; every server is
//! on loopback.

use std::ffi::OsString;
use std::process::Output;
use std::sync::atomic::Ordering;

use errcontract::exit;

use crate::fronts::{self, FrontTls, Leaf, Pki, Validity};
use crate::support;

/// Variables of the machine that would change what these runs trust or go through.
pub const AMBIENT: [&str; 13] = [
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "ERRCONTRACT_CA_CERT",
    "ERRCONTRACT_CLIENT_CERT",
    "ERRCONTRACT_CLIENT_KEY",
];

/// Two cases: one that needs no key, one that sends the valid key.
pub fn cases() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        ("routing/unknown-path", support::UNKNOWN_PATH_CASE),
        ("images/resolution", support::RESOLUTION_CASE),
    ] {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// `errcontract run` against `base_url` with the valid key and these variables set.
pub async fn run(base_url: &str, key: &str, envs: Vec<(&str, OsString)>) -> Output {
    let cases = cases();
    let mut cmd = crate::support::errcontract();
    cmd.arg("run")
        .env("ERRCONTRACT_CASES", cases.path())
        .env("ERRCONTRACT_BASE_URL", base_url)
        .env("ERRCONTRACT_API_KEY", key)
        .env("ERRCONTRACT_RPS", "0")
        .env("ERRCONTRACT_TIMEOUT_S", "5")
        .env_remove("ERRCONTRACT_REPORT_DIR")
        .env_remove("ERRCONTRACT_EXPECTATIONS");
    for var in AMBIENT {
        cmd.env_remove(var);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run's thread")
        .expect("errcontract runs");
    drop(cases);
    out
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const H2: &[&[u8]] = &[b"h2", b"http/1.1"];
const H1: &[&[u8]] = &[b"http/1.1"];

fn alpn(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|p| p.to_vec()).collect()
}

/// The reference server behind a TLS front with this certificate: the front (holding the
/// server), the base URL and the key.
async fn behind_tls(leaf: Leaf, offered: &[&[u8]]) -> (fronts::Front, String, String) {
    let (server, key) = fronts::reference().await;
    let front = fronts::tls_front(
        server.base_url(),
        FrontTls {
            leaf,
            alpn: alpn(offered),
            client_ca: None,
        },
    )
    .await
    .holding(server);
    let url = format!("https://localhost:{}", front.addr.port());
    (front, url, key)
}

fn assert_tls_failure(out: &Output, says: &str, fix: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(i32::from(exit::TLS)), "{all}");
    assert!(
        all.contains(says),
        "the cause in plain words ({says}):\n{all}"
    );
    assert!(
        all.contains(fix),
        "the variable that fixes it ({fix}):\n{all}"
    );
    assert!(!all.contains("stopped answering"), "{all}");
    assert!(!all.contains("[transport]"), "no case ran: {all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_ca_stops_the_run_before_any_case_and_names_ca_cert() {
    let pki = Pki::new("staging");
    let (front, url, key) = behind_tls(pki.server(&["localhost"], Validity::Now), H2).await;
    let out = run(&url, &key, vec![]).await;
    assert_tls_failure(&out, "unknown issuer", "ERRCONTRACT_CA_CERT");
    assert_eq!(front.requests.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_named_ca_is_trusted_and_the_header_names_http2() {
    let pki = Pki::new("staging");
    let (front, url, key) = behind_tls(pki.server(&["localhost"], Validity::Now), H2).await;
    let out = run(
        &url,
        &key,
        vec![("ERRCONTRACT_CA_CERT", pki.ca_file().into())],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("connected with HTTP/2.0 over TLS"), "{all}");
    assert!(front.requests.load(Ordering::SeqCst) >= 2, "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_cert_file_is_trusted_and_http1_is_named_when_alpn_offers_only_it() {
    let pki = Pki::new("staging");
    let (_front, url, key) = behind_tls(pki.server(&["localhost"], Validity::Now), H1).await;
    let out = run(&url, &key, vec![("SSL_CERT_FILE", pki.ca_file().into())]).await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("connected with HTTP/1.1 over TLS"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_for_another_name_or_expired_is_said_so() {
    let pki = Pki::new("staging");
    let ca = pki.ca_file();
    let (_f, url, key) = behind_tls(pki.server(&["api.example.test"], Validity::Now), H2).await;
    let out = run(&url, &key, vec![("ERRCONTRACT_CA_CERT", ca.clone().into())]).await;
    assert_tls_failure(&out, "for another host name", "ERRCONTRACT_BASE_URL");
    let (_f, url, key) = behind_tls(pki.server(&["localhost"], Validity::Expired), H2).await;
    let out = run(&url, &key, vec![("ERRCONTRACT_CA_CERT", ca.into())]).await;
    assert_tls_failure(&out, "has expired", "renew");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_is_presented_and_its_absence_or_refusal_is_said_so() {
    let pki = Pki::new("staging");
    let (server, key) = fronts::reference().await;
    let front = fronts::tls_front(
        server.base_url(),
        FrontTls {
            leaf: pki.server(&["localhost"], Validity::Now),
            alpn: alpn(H2),
            client_ca: Some(pki.ca_der()),
        },
    )
    .await;
    let url = format!("https://localhost:{}", front.addr.port());
    let ca: OsString = pki.ca_file().into();

    let out = run(&url, &key, vec![("ERRCONTRACT_CA_CERT", ca.clone())]).await;
    assert_tls_failure(
        &out,
        "demands a client certificate",
        "ERRCONTRACT_CLIENT_CERT",
    );

    let client = pki.client();
    let cert = pki.write("client.pem", &client.cert_pem);
    let client_key = pki.write("client.key", &client.key_pem);
    let out = run(
        &url,
        &key,
        vec![
            ("ERRCONTRACT_CA_CERT", ca.clone()),
            ("ERRCONTRACT_CLIENT_CERT", cert.into()),
            ("ERRCONTRACT_CLIENT_KEY", client_key.into()),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let stranger = Pki::new("elsewhere").client();
    let cert = pki.write("stranger.pem", &stranger.cert_pem);
    let stranger_key = pki.write("stranger.key", &stranger.key_pem);
    let out = run(
        &url,
        &key,
        vec![
            ("ERRCONTRACT_CA_CERT", ca),
            ("ERRCONTRACT_CLIENT_CERT", cert.into()),
            ("ERRCONTRACT_CLIENT_KEY", stranger_key.into()),
        ],
    )
    .await;
    assert_tls_failure(
        &out,
        "refused the client certificate",
        "ERRCONTRACT_CLIENT_CERT",
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_to_a_plain_http_port_is_said_to_be_no_tls() {
    let (server, key) = fronts::reference().await;
    let url = server
        .base_url()
        .replace("http://127.0.0.1", "https://localhost");
    let out = run(&url, &key, vec![]).await;
    assert_tls_failure(&out, "does not speak TLS", "http://");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ca_file_that_is_not_pem_is_a_setup_error_naming_it() {
    let pki = Pki::new("staging");
    let bad = pki.write("ca.pem", "not a certificate\n");
    let out = run(
        "https://localhost:1",
        "k",
        vec![("ERRCONTRACT_CA_CERT", bad.into())],
    )
    .await;
    let all = text(&out);
    assert_eq!(out.status.code(), Some(i32::from(exit::SETUP)), "{all}");
    assert!(all.contains("ERRCONTRACT_CA_CERT="), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_with_a_path_prefix_is_kept() {
    let pki = Pki::new("staging");
    let (server, key) = fronts::reference().await;
    let front = fronts::tls_front_below(
        server.base_url(),
        FrontTls {
            leaf: pki.server(&["localhost"], Validity::Now),
            alpn: alpn(H2),
            client_ca: None,
        },
        "/api",
    )
    .await
    .holding(server);
    let url = format!("https://localhost:{}/api", front.addr.port());
    let out = run(
        &url,
        &key,
        vec![("ERRCONTRACT_CA_CERT", pki.ca_file().into())],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
