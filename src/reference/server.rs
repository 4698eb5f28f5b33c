//! Starting and stopping a server: in-process on an ephemeral port (`start`, for the harness,
//! tests and the bench) or on a fixed address until ctrl-c (`serve`). Both assemble the same
//! application from a checked `Config`, so what tests see is what `errcontract serve` serves.

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
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Serve on `addr` until ctrl-c (for `errcontract serve`).
pub async fn serve(config: Config, addr: SocketAddr) -> std::io::Result<()> {
    let app = app(&config)?;
    let listener = TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // Without a signal handler there is no ctrl-c to wait for: serve until killed
            // rather than stopping at once.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
}
