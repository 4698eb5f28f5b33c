//! The first connection, before any case runs: is the target reachable, through the proxy the
//! environment names, over TLS this machine trusts? A failure here is a setup failure with its
//! own exit code and a message naming the cause and the variable that fixes it; it never
//! reaches the cases as "stopped answering" or a `transport` failure.
//!
//! The proxy is chosen as curl and reqwest choose it (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`, either case), by the same matcher the client uses. Its credentials are never
//! shown.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::exit;
use crate::probe::{Probe, TlsFailure, TransportError};
use crate::request::Request;

/// How the run reaches its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The protocol of the first answer (`HTTP/2.0`, `HTTP/1.1`), when one was asked for.
    pub protocol: Option<String>,
    /// Whether it is TLS.
    pub tls: bool,
    /// The proxy in use.
    pub proxy: Option<Proxy>,
}

impl Connection {
    /// The line that says how the target is reached, for the run's header.
    pub fn line(&self) -> Option<String> {
        let protocol = match (&self.protocol, self.tls) {
            (Some(p), true) => Some(format!("{p} over TLS")),
            (Some(p), false) => Some(p.clone()),
            (None, _) => None,
        };
        let via = self
            .proxy
            .as_ref()
            .map(|p| format!("through the proxy {} ({})", p.shown, p.var));
        match (protocol, via) {
            (None, None) => None,
            (Some(p), None) => Some(format!("errcontract: connected with {p}")),
            (None, Some(v)) => Some(format!("errcontract: connected {v}")),
            (Some(p), Some(v)) => Some(format!("errcontract: connected with {p} {v}")),
        }
    }
}

/// A proxy the environment names for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// `scheme://host:port`, credentials left out (said as "with credentials").
    pub shown: String,
    /// The variable it came from, as far as can be told.
    pub var: &'static str,
    host: String,
    port: u16,
    authorization: Option<String>,
    tunnel: bool,
}

impl Proxy {
    /// The proxy the environment names for `base_url`, if any (`NO_PROXY` honoured).
    pub fn for_target(base_url: &str) -> Option<Proxy> {
        let uri: http::Uri = base_url.parse().ok()?;
        let https = uri.scheme_str() == Some("https");
        let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
        let proxy = intercept.uri();
        let scheme = proxy.scheme_str().unwrap_or("http");
        let host = proxy.host()?.trim_matches(['[', ']']).to_string();
        let port = proxy
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let authorization = intercept
            .basic_auth()
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let shown_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let credentials = if authorization.is_some() {
            " with credentials (not shown)"
        } else {
            ""
        };
        let set = |names: [&str; 2]| names.iter().any(|n| std::env::var_os(n).is_some());
        let var = if https && set(["HTTPS_PROXY", "https_proxy"]) {
            "HTTPS_PROXY"
        } else if !https && set(["HTTP_PROXY", "http_proxy"]) {
            "HTTP_PROXY"
        } else {
            "ALL_PROXY"
        };
        Some(Proxy {
            shown: format!("{scheme}://{shown_host}:{port}{credentials}"),
            var,
            host,
            port,
            authorization,
            // A CONNECT tunnel is asked of an http:// proxy for an https target; other
            // schemes (socks, a TLS proxy) are left to the client.
            tunnel: https && scheme == "http",
        })
    }
}

/// Why the run cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreflightError {
    /// No TCP connection to the target.
    #[error("the target {url} is unreachable: {detail}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// What connecting said.
        detail: String,
    },
    /// TLS failed on the first connection.
    #[error("cannot connect to {url} over TLS: {failure}")]
    Tls {
        /// The base URL.
        url: String,
        /// Why.
        failure: TlsFailure,
    },
    /// The proxy refused or could not be reached.
    #[error("the proxy {proxy} ({var}) {why}")]
    Proxy {
        /// The proxy, without its credentials.
        proxy: String,
        /// The variable that named it.
        var: &'static str,
        /// What it did.
        why: ProxyRefusal,
    },
}

/// What a proxy did instead of carrying the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyRefusal {
    /// No TCP connection to it.
    #[error("cannot be reached: {0}")]
    Unreachable(String),
    /// It answered 407.
    #[error("demands credentials (407 Proxy Authentication Required)")]
    AuthRequired,
    /// It refused the tunnel or the request with this status.
    #[error("refused to connect to the target (status {0})")]
    Refused(u16),
    /// It answered something that is not HTTP, or closed.
    #[error("did not answer as an HTTP proxy: {0}")]
    Garbled(String),
}

impl PreflightError {
    /// The exit code of [`crate::exit`].
    pub fn code(&self) -> u8 {
        match self {
            PreflightError::Unreachable { .. } => exit::UNREACHABLE,
            PreflightError::Tls { .. } => exit::TLS,
            PreflightError::Proxy { .. } => exit::PROXY,
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match self {
            PreflightError::Unreachable { .. } => {
                "check ERRCONTRACT_BASE_URL and that the service is up; no case was run"
            }
            PreflightError::Tls { failure, .. } => failure.help(),
            PreflightError::Proxy {
                why: ProxyRefusal::AuthRequired,
                ..
            } => {
                "put the proxy's user and password in the variable named (http://user:password@host:port), or add the target's host to NO_PROXY; no case was run"
            }
            PreflightError::Proxy { .. } => {
                "check the proxy variable named (and NO_PROXY, to reach the target directly); no case was run"
            }
        }
    }
}

/// Open the first connection the way the run will: directly or through the proxy, and over
/// TLS for `https`. `direct` is the built-in reference server (never through a proxy).
pub async fn connect(
    probe: &Probe,
    base_url: &str,
    direct: bool,
    timeout: Duration,
) -> Result<Connection, PreflightError> {
    let url = base_url.to_string();
    let tls = base_url.starts_with("https://");
    let proxy = if direct {
        None
    } else {
        Proxy::for_target(base_url)
    };
    let stream =
        match &proxy {
            Some(p) => through_proxy(p, base_url, timeout).await?,
            None => Some(tcp(base_url, timeout).await.map_err(|detail| {
                PreflightError::Unreachable {
                    url: url.clone(),
                    detail,
                }
            })?),
        };
    if let (true, Some(stream)) = (tls, stream) {
        handshake(probe, base_url, stream, timeout)
            .await
            .map_err(|failure| PreflightError::Tls {
                url: url.clone(),
                failure,
            })?;
    }
    if !tls && proxy.is_none() {
        return Ok(Connection {
            protocol: None,
            tls,
            proxy,
        });
    }
    // One request without a key, as the cases' requests will go: the same client, so the same
    // trust, identity, proxy and protocol.
    let exchange = probe.send(first_request(base_url)).await;
    let refused = |why| PreflightError::Proxy {
        proxy: proxy.as_ref().map(|p| p.shown.clone()).unwrap_or_default(),
        var: proxy.as_ref().map_or("ALL_PROXY", |p| p.var),
        why,
    };
    match exchange.response {
        Ok(r) if r.status == 407 && proxy.is_some() => Err(refused(ProxyRefusal::AuthRequired)),
        Ok(r) => Ok(Connection {
            protocol: Some(r.version),
            tls,
            proxy,
        }),
        Err(TransportError::Tls(failure)) => Err(PreflightError::Tls { url, failure }),
        Err(TransportError::Connect(detail)) if proxy.is_some() => {
            Err(refused(ProxyRefusal::Garbled(detail)))
        }
        Err(TransportError::Connect(detail)) => Err(PreflightError::Unreachable { url, detail }),
        // Anything else (a slow or odd answer) is for the cases and the liveness guard to judge.
        Err(_) => Ok(Connection {
            protocol: None,
            tls,
            proxy,
        }),
    }
}

/// The TLS handshake with the client's own configuration, on a connection of its own. Under
/// TLS 1.3 a server refuses a client certificate (or its absence) only after the client thinks
/// the handshake done, so the first bytes (or alert) are awaited briefly too.
async fn handshake(
    probe: &Probe,
    base_url: &str,
    stream: TcpStream,
    timeout: Duration,
) -> Result<(), TlsFailure> {
    let client_cert = probe.presents_client_cert();
    let failure = |e: &std::io::Error| {
        TlsFailure::find(e, client_cert).unwrap_or_else(|| TlsFailure::Other(e.to_string()))
    };
    let host = reqwest::Url::parse(base_url)
        .ok()
        .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_string()))
        .unwrap_or_default();
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| TlsFailure::Other(e.to_string()))?;
    let connector = tokio_rustls::TlsConnector::from(probe.tls_config());
    let mut tls = match tokio::time::timeout(timeout, connector.connect(name, stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(failure(&e)),
        // A handshake that hangs is the cases' and the liveness guard's to judge.
        Err(_) => return Ok(()),
    };
    if tls.get_ref().1.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3) {
        let mut first = [0u8; 1];
        let wait = timeout.min(Duration::from_millis(500));
        if let Ok(Err(e)) = tokio::time::timeout(wait, tls.read(&mut first)).await
            && let Some(f) = TlsFailure::find(&e, client_cert)
        {
            return Err(f);
        }
    }
    Ok(())
}

/// `GET` of the base URL, without a key: harmless to any target.
fn first_request(base_url: &str) -> Request {
    Request {
        method: "GET",
        url: base_url.to_string(),
        headers: Vec::new(),
        body: None,
        curl: format!("curl -sS '{base_url}'"),
    }
}

/// A TCP connection to the URL's host and port.
async fn tcp(base_url: &str, timeout: Duration) -> Result<TcpStream, String> {
    let url = reqwest::Url::parse(base_url).map_err(|e| e.to_string())?;
    let host = url
        .host_str()
        .ok_or("no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = url.port_or_known_default().ok_or("no port")?;
    open(&host, port, timeout).await
}

async fn open(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    match tokio::time::timeout(timeout, TcpStream::connect((host, port))).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no TCP connection within {timeout:?}")),
    }
}

/// The proxy accepts a connection and, for an https target, opens a tunnel to it: the tunnel.
async fn through_proxy(
    proxy: &Proxy,
    base_url: &str,
    timeout: Duration,
) -> Result<Option<TcpStream>, PreflightError> {
    let refused = |why| PreflightError::Proxy {
        proxy: proxy.shown.clone(),
        var: proxy.var,
        why,
    };
    let mut stream = open(&proxy.host, proxy.port, timeout)
        .await
        .map_err(|e| refused(ProxyRefusal::Unreachable(e)))?;
    if !proxy.tunnel {
        return Ok(None);
    }
    let url =
        reqwest::Url::parse(base_url).map_err(|e| refused(ProxyRefusal::Garbled(e.to_string())))?;
    let authority = format!(
        "{}:{}",
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or(443)
    );
    let mut ask = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(auth) = &proxy.authorization {
        ask.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    ask.push_str("\r\n");
    let status = tokio::time::timeout(timeout, async {
        stream.write_all(ask.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while head.len() < 16 * 1024 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(_)) = response.parse(&head) {
                return Ok(response.code);
            }
        }
        Ok::<_, std::io::Error>(None)
    })
    .await;
    match status {
        Ok(Ok(Some(code))) if (200..300).contains(&code) => Ok(Some(stream)),
        Ok(Ok(Some(407))) => Err(refused(ProxyRefusal::AuthRequired)),
        Ok(Ok(Some(code))) => Err(refused(ProxyRefusal::Refused(code))),
        Ok(Ok(None)) => Err(refused(ProxyRefusal::Garbled(
            "it closed the connection without an answer to CONNECT".into(),
        ))),
        Ok(Err(e)) => Err(refused(ProxyRefusal::Garbled(e.to_string()))),
        Err(_) => Err(refused(ProxyRefusal::Garbled(format!(
            "no answer to CONNECT within {timeout:?}"
        )))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_protocol_tls_and_proxy_without_credentials() {
        let c = Connection {
            protocol: Some("HTTP/2.0".into()),
            tls: true,
            proxy: None,
        };
        assert_eq!(
            c.line().as_deref(),
            Some("errcontract: connected with HTTP/2.0 over TLS")
        );
        let plain = Connection {
            protocol: None,
            tls: false,
            proxy: None,
        };
        assert_eq!(plain.line(), None);
    }
}
