//! Loopback stand-ins for what sits in front of a staging API: a CA and certificates the test
//! makes (rcgen), a TLS terminator with ALPN and optional client authentication (tokio-rustls,
//! hyper) forwarding to the reference server, and a CONNECT proxy that records what it sees.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use errcontract::reference::{self, Config, Running};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A CA of the test's own and the files it writes.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: Certificate,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its key, in PEM and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

/// When a leaf certificate is valid.
#[derive(Clone, Copy)]
pub enum Validity {
    Now,
    Expired,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        let key = KeyPair::generate().expect("CA key");
        let ca = params.self_signed(&key).expect("CA certificate");
        Pki {
            dir: tempfile::tempdir().expect("tempdir"),
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA's certificate as a PEM file.
    pub fn ca_file(&self) -> PathBuf {
        self.write("ca.pem", &self.ca.pem())
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write PEM");
        path
    }

    /// A server certificate for these names (`localhost`, `127.0.0.1`).
    pub fn server(&self, names: &[&str], validity: Validity) -> Leaf {
        self.leaf(names, ExtendedKeyUsagePurpose::ServerAuth, validity)
    }

    /// A client certificate.
    pub fn client(&self) -> Leaf {
        self.leaf(
            &["errcontract-ci"],
            ExtendedKeyUsagePurpose::ClientAuth,
            Validity::Now,
        )
    }

    fn leaf(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, validity: Validity) -> Leaf {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, names[0].clone());
        params.use_authority_key_identifier_extension = true;
        params.key_usages.push(KeyUsagePurpose::DigitalSignature);
        params.extended_key_usages.push(usage);
        let day = time::Duration::days(1);
        let now = time::OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match validity {
            Validity::Now => (now - day, now + day),
            Validity::Expired => (now - day * 30, now - day * 2),
        };
        let key = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert: cert.der().clone(),
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }
}

/// The built-in reference server, in this process, and its `valid` key.
pub async fn reference() -> (Running, String) {
    let config = Config::default();
    let key = config.keys().valid;
    (
        reference::start(config).await.expect("reference starts"),
        key,
    )
}

/// A TLS terminator on loopback in front of `upstream` (plain http).
pub struct Front {
    pub addr: SocketAddr,
    /// HTTP requests that reached it (after a completed handshake).
    pub requests: Arc<AtomicUsize>,
    /// The upstream server, kept running as long as the front is.
    _upstream: Option<Running>,
}

impl Front {
    /// The front, keeping its upstream server alive.
    pub fn holding(mut self, server: Running) -> Front {
        self._upstream = Some(server);
        self
    }
}

/// How the front speaks TLS.
pub struct FrontTls {
    pub leaf: Leaf,
    /// ALPN protocols offered, in order of preference.
    pub alpn: Vec<Vec<u8>>,
    /// A CA whose client certificates are demanded.
    pub client_ca: Option<CertificateDer<'static>>,
}

/// A TLS front that serves the upstream below a path prefix (`/api`), as a gateway does:
/// a request outside it gets a 502.
pub async fn tls_front_below(upstream: String, tls: FrontTls, prefix: &'static str) -> Front {
    front(upstream, tls, prefix).await
}

pub async fn tls_front(upstream: String, tls: FrontTls) -> Front {
    front(upstream, tls, "").await
}

async fn front(upstream: String, tls: FrontTls, prefix: &'static str) -> Front {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("TLS versions");
    let builder = match tls.client_ca {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca).expect("client CA");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(vec![tls.leaf.cert.clone()], tls.leaf.key.clone_key())
        .expect("server certificate");
    config.alpn_protocols = tls.alpn;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("upstream client");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let client = client.clone();
            let upstream = upstream.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    forward(client.clone(), upstream.clone(), prefix, req)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    Front {
        addr,
        requests,
        _upstream: None,
    }
}

async fn forward(
    client: reqwest::Client,
    upstream: String,
    prefix: &'static str,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<bytes::Bytes>>, std::convert::Infallible> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let Some(path) = path.strip_prefix(prefix) else {
        return Ok(hyper::Response::builder()
            .status(502)
            .body(Default::default())
            .expect("502"));
    };
    let mut out = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(r) => r,
        Err(_) => {
            return Ok(hyper::Response::builder()
                .status(502)
                .body(Default::default())
                .expect("502"));
        }
    };
    let mut response = hyper::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        // Hop-by-hop fields stay on their hop (RFC 9110 7.6.1).
        if !matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding"
        ) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    Ok(response
        .body(http_body_util::Full::new(bytes))
        .expect("response"))
}

/// What a CONNECT proxy does with a tunnel request.
#[derive(Clone, Copy)]
pub enum ProxyMode {
    /// Opens the tunnel.
    Tunnel,
    /// Answers 407.
    AuthRequired,
    /// Answers 403.
    Forbidden,
}

/// A CONNECT proxy on loopback; it records every byte a client sent through it.
pub struct ConnectProxy {
    pub addr: SocketAddr,
    pub tunnels: Arc<AtomicUsize>,
    pub seen: Arc<Mutex<Vec<u8>>>,
}

pub async fn connect_proxy(mode: ProxyMode) -> ConnectProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let tunnels = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (t, s) = (tunnels.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(tunnel(client, mode, t.clone(), s.clone()));
        }
    });
    ConnectProxy {
        addr,
        tunnels,
        seen,
    }
}

async fn tunnel(
    mut client: TcpStream,
    mode: ProxyMode,
    tunnels: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<u8>>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    seen.lock().expect("seen").extend_from_slice(&head);
    let text = String::from_utf8_lossy(&head).into_owned();
    let reply: &[u8] = match mode {
        ProxyMode::AuthRequired => b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"ci\"\r\nContent-Length: 0\r\n\r\n",
        ProxyMode::Forbidden => b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        ProxyMode::Tunnel => b"HTTP/1.1 200 Connection Established\r\n\r\n",
    };
    let authority = text
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split(' ').next())
        .map(String::from);
    let (ProxyMode::Tunnel, Some(authority)) = (mode, authority) else {
        let _ = client.write_all(reply).await;
        return;
    };
    let Ok(mut upstream) = TcpStream::connect(authority.replace("localhost", "127.0.0.1")).await
    else {
        return;
    };
    tunnels.fetch_add(1, Ordering::SeqCst);
    if client.write_all(reply).await.is_err() {
        return;
    }
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = upstream.split();
    let up = async {
        let mut buf = [0u8; 16384];
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    seen.lock().expect("seen").extend_from_slice(&buf[..n]);
                    if uw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = uw.shutdown().await;
    };
    let down = tokio::io::copy(&mut ur, &mut cw);
    let _ = tokio::join!(up, down);
}
