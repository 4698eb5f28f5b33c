//! The one HTTP client: send one request, read a capped body, classify transport failures.
//!
//! Invariants: one probe is one request (no redirects followed, no hidden retries); every
//! request is bounded by a connect and a total timeout (the whole exchange, so a trickling
//! answer ends too); no body is read past the cap. A failure is classified from the error
//! types in its `source()` chain (rustls, hyper, io), never from message text.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::request::Request;

mod tls;
pub use tls::{TlsFailure, TlsFiles};

/// How long an idle connection is kept for the next request: shorter than the keep-alive of
/// the servers that close idle connections soonest (Gunicorn 2 s, Node 5 s), so a request is
/// not sent on a connection the server is closing.
pub const POOL_IDLE: Duration = Duration::from_secs(1);

/// Client settings.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Total time for one request, connect to last body byte.
    pub timeout: Duration,
    /// Time to connect.
    pub connect_timeout: Duration,
    /// The largest body read; more is a `too_large` transport failure.
    pub max_body: usize,
    /// Extra CAs and the client identity.
    pub tls: TlsFiles,
    /// Connect directly, whatever `HTTPS_PROXY` and friends say (the built-in reference
    /// server, in this process, is never reached through a proxy).
    pub direct: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_body: 1024 * 1024,
            tls: TlsFiles::default(),
            direct: false,
        }
    }
}

impl ProbeConfig {
    /// The client the settings describe; `direct` for the built-in reference server.
    pub fn of(settings: &crate::settings::Settings, direct: bool) -> Self {
        ProbeConfig {
            timeout: settings.timeout,
            connect_timeout: settings.connect_timeout,
            max_body: settings.max_body,
            tls: TlsFiles {
                ca_cert: settings.ca_cert.clone(),
                client_identity: settings.client_identity.clone(),
            },
            direct,
        }
    }
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The status code.
    pub status: u16,
    /// The canonical reason, if the status has one.
    pub reason: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// Headers, names lower-case, values lossily decoded.
    pub headers: Vec<(String, String)>,
    /// The body bytes (at most the cap), its `Content-Encoding` undone.
    pub body: Bytes,
    /// How many bytes came over the wire, when a content coding was undone.
    pub decoded_from: Option<usize>,
}

impl Incoming {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times a header appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The status line: `HTTP/1.1 400 Bad Request`.
    pub fn status_line(&self) -> String {
        format!("{} {} {}", self.version, self.status, self.reason)
            .trim_end()
            .to_string()
    }
}

/// Why no complete response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The timeout passed.
    #[error("timed out after {0:?} (ERRCONTRACT_TIMEOUT_S)")]
    Timeout(Duration),
    /// Could not connect.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The peer reset the connection.
    #[error("the connection was reset by the server")]
    Reset,
    /// The peer closed the connection before the response's head was complete (a keep-alive
    /// connection closed while idle, as Gunicorn or a load balancer do, ends this way).
    #[error("the server closed the connection without a complete response: {0}")]
    Closed(String),
    /// TLS failed (the certificate, a client certificate, no TLS on the port).
    #[error("{0}")]
    Tls(TlsFailure),
    /// The response was not valid HTTP.
    #[error("the response is not valid HTTP: {0}")]
    Protocol(String),
    /// The body ended before its declared length.
    #[error("the body was cut short after {received} bytes: {detail}")]
    Truncated {
        /// Bytes received before the failure.
        received: usize,
        /// What the client said.
        detail: String,
    },
    /// The body is larger than the cap; the status line had arrived.
    #[error(
        "the target answered {status}, with a body larger than {limit} bytes (ERRCONTRACT_MAX_BODY)"
    )]
    TooLarge {
        /// The cap.
        limit: usize,
        /// The status that arrived before the body.
        status: u16,
    },
    /// The body's content coding could not be undone.
    #[error(transparent)]
    Encoding(#[from] crate::decode::DecodeError),
    /// Anything else the client reported.
    #[error("{0}")]
    Other(String),
}

impl TransportError {
    /// A stable short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            TransportError::Timeout(_) => "timeout",
            TransportError::Connect(_) => "connect",
            TransportError::Reset => "reset",
            TransportError::Closed(_) => "closed",
            TransportError::Tls(_) => "tls",
            TransportError::Protocol(_) => "protocol",
            TransportError::Truncated { .. } => "truncated",
            TransportError::TooLarge { .. } => "too_large",
            TransportError::Encoding(_) => "encoding",
            TransportError::Other(_) => "other",
        }
    }
}

/// One request and what came of it.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What was sent.
    pub request: Request,
    /// What came back.
    pub response: Result<Incoming, TransportError>,
    /// How long it took.
    pub elapsed: Duration,
}

/// The client: one per process, shared by every case.
#[derive(Debug, Clone)]
pub struct Probe {
    client: reqwest::Client,
    /// The same client keeping no idle connection: each request on a connection of its own.
    fresh: reqwest::Client,
    config: ProbeConfig,
    tls: Arc<rustls::ClientConfig>,
}

/// Building the client failed: a file the settings name cannot be used, or the client itself.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A PEM file named by a variable.
    #[error("{var}={path}: {problem}")]
    File {
        /// The variable.
        var: &'static str,
        /// The file, as given.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl ClientError {
    fn file(var: &'static str, path: &Path, problem: String) -> Self {
        ClientError::File {
            var,
            path: path.display().to_string(),
            problem,
        }
    }
}

impl Probe {
    /// Build the client (rustls with ring; no redirects; no retries; connect and total timeouts).
    pub fn new(config: ProbeConfig) -> Result<Self, ClientError> {
        // Another part of the process may have installed the provider already; either way one is.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = config.tls.client_config()?;
        let build = |pooled: bool| {
            let mut builder = reqwest::Client::builder()
                .timeout(config.timeout)
                .connect_timeout(config.connect_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .retry(reqwest::retry::never())
                .pool_idle_timeout(POOL_IDLE)
                .tls_backend_preconfigured((*tls).clone())
                .user_agent(concat!("errcontract/", env!("CARGO_PKG_VERSION")));
            if !pooled {
                builder = builder.pool_max_idle_per_host(0);
            }
            if config.direct {
                builder = builder.no_proxy();
            }
            builder.build().map_err(|e| ClientError::Client(chain(&e)))
        };
        let client = build(true)?;
        let fresh = build(false)?;
        Ok(Probe {
            client,
            fresh,
            config,
            tls,
        })
    }

    /// A client that forwards, for `errcontract proxy`: the same TLS (ring, the platform's
    /// roots and `ERRCONTRACT_CA_CERT`, the client identity) and proxy settings as a run's,
    /// no redirect followed, no retry, no total timeout (a body streams as long as it takes),
    /// no user agent of its own.
    pub fn forwarding(config: &ProbeConfig) -> Result<reqwest::Client, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = config.tls.client_config()?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .pool_idle_timeout(Duration::from_secs(90))
            .tls_backend_preconfigured((*tls).clone());
        if config.direct {
            builder = builder.no_proxy();
        }
        builder.build().map_err(|e| ClientError::Client(chain(&e)))
    }

    /// The TLS configuration the client uses, for a connection opened beside it.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Whether a client certificate is presented.
    pub fn presents_client_cert(&self) -> bool {
        self.config.tls.client_identity.is_some()
    }

    /// Send one request and read its body up to the cap.
    pub async fn send(&self, request: Request) -> Exchange {
        self.send_with(&self.client, request).await
    }

    /// Send one request on a new connection (none of the pool's, which may be closing too).
    pub async fn send_fresh(&self, request: Request) -> Exchange {
        self.send_with(&self.fresh, request).await
    }

    async fn send_with(&self, client: &reqwest::Client, request: Request) -> Exchange {
        let started = Instant::now();
        let response = self.send_inner(client, &request).await;
        Exchange {
            request,
            response,
            elapsed: started.elapsed(),
        }
    }

    async fn send_inner(
        &self,
        client: &reqwest::Client,
        request: &Request,
    ) -> Result<Incoming, TransportError> {
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|e| TransportError::Other(format!("bad method: {e}")))?;
        let mut builder = client.request(method, &request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }
        let mut response = builder.send().await.map_err(|e| self.classify(&e))?;
        let status = response.status();
        let version = format!("{:?}", response.version());
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let limit = self.config.max_body;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(TransportError::TooLarge {
                limit,
                status: status.as_u16(),
            });
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(TransportError::TooLarge {
                            limit,
                            status: status.as_u16(),
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(match self.classify(&e) {
                        TransportError::Timeout(d) => TransportError::Timeout(d),
                        TransportError::Reset => TransportError::Truncated {
                            received: body.len(),
                            detail: "connection reset".into(),
                        },
                        other => TransportError::Truncated {
                            received: body.len(),
                            detail: other.to_string(),
                        },
                    });
                }
            }
        }
        let coding = response
            .headers()
            .get_all(reqwest::header::CONTENT_ENCODING)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(",");
        let (body, decoded_from) = match crate::decode::decode(&coding, &body, limit)? {
            Some(decoded) => (decoded, Some(body.len())),
            None => (body, None),
        };
        Ok(Incoming {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            version,
            headers,
            body: Bytes::from(body),
            decoded_from,
        })
    }

    /// What went wrong, from the error types along the chain: rustls (TLS), io (reset,
    /// refused), hyper (closed before the answer, not HTTP).
    fn classify(&self, e: &reqwest::Error) -> TransportError {
        if e.is_timeout() {
            return TransportError::Timeout(self.config.timeout);
        }
        let text = chain(e);
        let client_cert = self.config.tls.client_identity.is_some();
        // TLS first: hyper reports an alert that arrives after the handshake (a client
        // certificate refused under TLS 1.3) as a closed connection.
        if let Some(failure) = TlsFailure::find(e, client_cert) {
            return TransportError::Tls(failure);
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionReset => return TransportError::Reset,
                    std::io::ErrorKind::ConnectionRefused => return TransportError::Connect(text),
                    std::io::ErrorKind::TimedOut => {
                        return TransportError::Timeout(self.config.timeout);
                    }
                    _ => {}
                }
            }
            if let Some(h) = s.downcast_ref::<hyper::Error>() {
                if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                    return TransportError::Closed(text);
                }
                if h.is_parse() || h.is_parse_status() || h.is_parse_too_large() {
                    return TransportError::Protocol(text);
                }
            }
            source = cause(s);
        }
        if e.is_connect() {
            TransportError::Connect(text)
        } else if e.is_body() || e.is_decode() {
            TransportError::Truncated {
                received: 0,
                detail: text,
            }
        } else {
            TransportError::Other(text)
        }
    }
}

/// The next error down the chain. An io error's inner error is followed (tokio-rustls wraps its
/// rustls error so, hyper-util wraps that again), since `io::Error::source` skips it.
pub(crate) fn cause<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    match e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// An error with its whole source chain, `: `-joined (reqwest's Display hides the cause).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out
}
