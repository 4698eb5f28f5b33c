//! Starting and stopping a server: in-process on an ephemeral port (`start`, for the harness,
//! tests and the bench) or on a fixed address until ctrl-c (`bind`, then `Bound::serve`, so
//! `errcontract serve` reports a busy port or a bad configuration before it says it listens).
//! Both assemble the same application from a checked `Config` and serve it through the same
//! accept loop, so what tests see is what `errcontract serve` serves. The loop is hyper's own
//! HTTP/1 connection with a header-read timeout, which `axum::serve` does not offer.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::catalog::Catalog;
use super::config::Config;
use super::error::Errors;
use super::http;
use super::state::Shared;
use crate::contract::CodeTable;

/// A server running on the current tokio runtime.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting, let in-flight requests finish (for at most 5 s), then return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Running {
    /// A server dropped without `shutdown` stops too, in the background.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The whole application for a configuration, refused if the configuration could only lie.
fn app(config: &Config) -> std::io::Result<axum::Router> {
    config.check()?;
    let catalog =
        Catalog::embedded().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let errors = Errors::from_table(&CodeTable::embedded())?;
    let shared = Shared::new(config, catalog, errors)?;
    Ok(http::router(Arc::new(shared)))
}

/// Bind `127.0.0.1:0`, spawn the server on the current tokio runtime, and return at once.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let app = app(&config)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let timeout = config.header_read_timeout;
    let task = tokio::spawn(accept_loop(listener, app, timeout, async move {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Why `bind` failed: the configuration, or the address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The configuration could only make the server lie (two roles sharing a key).
    #[error("{0}")]
    Config(std::io::Error),
    /// The address cannot be listened on (busy, not this machine's, not allowed).
    #[error("cannot listen on {addr}: {source}")]
    Address {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A server with its configuration checked and its address bound, not yet serving.
pub struct Bound {
    app: axum::Router,
    listener: TcpListener,
    header_read_timeout: Duration,
}

/// Check the configuration and bind `addr`: everything that can fail at start fails here.
pub async fn bind(config: Config, addr: SocketAddr) -> Result<Bound, BindError> {
    let app = app(&config).map_err(BindError::Config)?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| BindError::Address { addr, source })?;
    Ok(Bound {
        app,
        listener,
        header_read_timeout: config.header_read_timeout,
    })
}

impl Bound {
    /// Serve until ctrl-c (for `errcontract serve`).
    pub async fn serve(self) -> std::io::Result<()> {
        accept_loop(self.listener, self.app, self.header_read_timeout, async {
            // Without a signal handler there is no ctrl-c to wait for: serve until killed
            // rather than stopping at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
    }
}

/// Accept connections until `stop`, each an HTTP/1 connection whose headers must arrive
/// within `header_read_timeout`; then let in-flight requests finish (for at most 5 s).
async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    header_read_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, or a connection gone before it was taken: the listener
                // itself is fine, so pause briefly and go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // A connection's own failure (a reset, a timeout) ends only that connection.
            let _ = connection.await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}
