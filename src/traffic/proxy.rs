//! The recording reverse proxy's wire: hyper's HTTP/1 server on loopback, the run's client
//! (`Probe::forwarding`) to the upstream. Every request and answer is forwarded as it came,
//! bodies streamed frame by frame (a copy of each, up to the body cap, kept for the checks),
//! the hop-by-hop fields RFC 9110 §7.6.1 names (and those `Connection` lists) removed, `Host`
//! the upstream's; keep-alive on both sides. Each exchange, once its answer's body has passed,
//! is sent on as an [`Event`]; checking it is the session's.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, Request, Response, StatusCode};
use http_body_util::{BodyDataStream, BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use super::{Exchange, Place};

/// What the proxy saw.
#[derive(Debug)]
pub enum Event {
    /// An exchange passed, its answer's body complete (or cut off).
    Exchange(Box<Exchange>),
    /// The upstream could not be asked; the client got a 502 of the proxy's own.
    Upstream {
        /// Why, with what to do.
        why: String,
        /// Whether it was a failure of TLS.
        tls: bool,
    },
}

/// How the proxy forwards.
#[derive(Clone)]
pub struct Forward {
    /// The upstream's base URL, without a trailing slash.
    pub upstream: String,
    /// The client to it.
    pub client: reqwest::Client,
    /// Bytes of each body kept for the checks (`ERRCONTRACT_MAX_BODY`); a longer body is
    /// forwarded whole but not recorded.
    pub max_body: usize,
    /// Whether the client presents a certificate (a TLS alert about certificates then means
    /// the upstream refused it).
    pub client_cert: bool,
    /// Requests under way (from their head read to their answer's body passed or dropped): the
    /// proxy is not idle while one is.
    pub in_flight: Arc<AtomicUsize>,
}

/// One request under way, counted in [`Forward::in_flight`] until dropped.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::SeqCst);
        Busy(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serve on `listener` until `stop` turns true, then let the connections under way finish
/// (at most `grace`). Each exchange is sent on `events`.
pub async fn serve(
    listener: TcpListener,
    forward: Forward,
    events: mpsc::UnboundedSender<Event>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let counter = Arc::new(AtomicU64::new(0));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let (forward, events, counter) = (forward.clone(), events.clone(), counter.clone());
        let service = hyper::service::service_fn(move |req| {
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            handle(req, n, forward.clone(), events.clone())
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
}

/// Bind `addr`.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

type ProxyBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// What both halves left for the exchange's record.
#[derive(Default)]
struct Kept {
    request_body: Option<Bytes>,
}

async fn handle(
    req: Request<Incoming>,
    n: u64,
    forward: Forward,
    events: mpsc::UnboundedSender<Event>,
) -> Result<Response<ProxyBody>, Infallible> {
    let busy = Busy::new(&forward.in_flight);
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .ok();
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let url = format!("{}{path}", forward.upstream);
    let kept = Arc::new(Mutex::new(Kept::default()));
    let request_body = Tee::new(body, forward.max_body, {
        let kept = kept.clone();
        Box::new(move |bytes| {
            if let Ok(mut k) = kept.lock() {
                k.request_body = bytes;
            }
        })
    });
    let mut headers = parts.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(http::header::HOST);
    let has_body = !request_body.is_end_stream();
    let mut upstream = forward
        .client
        .request(parts.method.clone(), &url)
        .headers(headers);
    if has_body {
        upstream = upstream.body(reqwest::Body::wrap_stream(BodyDataStream::new(
            request_body,
        )));
    } else {
        // Nothing to stream: the request's (empty) body is complete now.
        drop(request_body);
    }
    let answer = match upstream.send().await {
        Ok(a) => a,
        Err(e) => {
            // A TLS failure is said as a run says it, with the setting that fixes it (the
            // proxy's target is `--upstream`, not the run's variable).
            let tls = crate::probe::TlsFailure::find(&e, forward.client_cert);
            let why = match &tls {
                Some(tls) => format!(
                    "{url}: {tls}; {}",
                    tls.help().replace("ERRCONTRACT_BASE_URL", "--upstream")
                ),
                None => format!("{url}: {}", crate::probe::chain(&e)),
            };
            let _ = events.send(Event::Upstream {
                why: why.clone(),
                tls: tls.is_some(),
            });
            let body = Full::new(Bytes::from(format!(
                "errcontract proxy: the upstream could not be asked: {why}\n"
            )))
            .map_err(|never| match never {})
            .boxed_unsync();
            let mut resp = Response::new(body);
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(resp);
        }
    };
    let status = answer.status();
    let version = answer.version();
    let mut response_headers = answer.headers().clone();
    strip_hop_by_hop(&mut response_headers);
    let pairs = |h: &HeaderMap| -> Vec<(String, String)> {
        h.iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect()
    };
    let request_headers = pairs(&parts.headers);
    let recorded_headers = pairs(&response_headers);
    let method = parts.method.to_string();
    let max_body = forward.max_body;
    let done = Box::new(move |bytes: Option<Bytes>| {
        let coding = recorded_headers
            .iter()
            .find(|(n, _)| n == "content-encoding")
            .map(|(_, v)| v.clone());
        // The checks read the body as the client's library will: its coding undone.
        let response_body = match (bytes, coding) {
            (Some(b), Some(c)) => crate::decode::decode(&c, &b, max_body)
                .ok()
                .map(|d| d.map_or(b, Bytes::from)),
            (b, None) => b,
            (None, Some(_)) => None,
        };
        let request_body = kept.lock().ok().and_then(|mut k| k.request_body.take());
        let ex = Exchange {
            place: Place::Live { n },
            time,
            method,
            url: path,
            request_headers,
            request_body,
            status: status.as_u16(),
            response_headers: recorded_headers,
            response_body,
            keys_redacted: Vec::new(),
        };
        let _ = events.send(Event::Exchange(Box::new(ex)));
        // Under way until its answer's body has passed (or was dropped).
        drop(busy);
    });
    let body: reqwest::Body = answer.into();
    let tee = Tee::new(body, max_body, done);
    let mut resp = Response::new(tee.map_err(Into::into).boxed_unsync());
    *resp.status_mut() = status;
    *resp.version_mut() = match version {
        http::Version::HTTP_10 => http::Version::HTTP_10,
        _ => http::Version::HTTP_11,
    };
    *resp.headers_mut() = response_headers;
    Ok(resp)
}

/// The fields RFC 9110 §7.6.1 says a proxy must not forward: `Connection`, the fields it
/// lists, and the hop-by-hop fields that predate it.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
    ] {
        headers.remove(name);
    }
}

type Done = Box<dyn FnOnce(Option<Bytes>) + Send>;

/// A body passed on frame by frame, a copy of its data kept up to a cap; when it ends (or is
/// dropped) `done` gets the copy, or `None` when it was cut off or longer than the cap.
struct Tee<B> {
    inner: B,
    kept: Vec<u8>,
    cap: usize,
    over: bool,
    failed: bool,
    done: Option<Done>,
}

impl<B: Body> Tee<B> {
    fn new(inner: B, cap: usize, done: Done) -> Self {
        Tee {
            inner,
            kept: Vec::new(),
            cap,
            over: false,
            failed: false,
            done: Some(done),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(done) = self.done.take() {
            let whole = complete && !self.over && !self.failed;
            done(whole.then(|| Bytes::from(std::mem::take(&mut self.kept))));
        }
    }
}

impl<B> Body for Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && !this.over
                {
                    if this.kept.len() + data.len() > this.cap {
                        this.over = true;
                        this.kept = Vec::new();
                    } else {
                        this.kept.extend_from_slice(data);
                    }
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                this.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Tee<B> {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            // Dropped before its end: complete only if nothing was left to read.
            let whole = !self.over && !self.failed && self.kept.is_empty();
            done(whole.then(Bytes::new));
        }
    }
}
