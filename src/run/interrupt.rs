//! Interruption: SIGINT (ctrl-c) or SIGTERM (a cancelled CI job) stops sending at once, gives
//! the requests in flight [`GRACE`] to be answered, and ends every case left "not run:
//! interrupted", so the run still concludes and writes every report (its fragment too) before
//! it exits with 130 or 143. A second signal ends the process at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::exit;

/// How long requests in flight may still be answered after the signal.
pub const GRACE: Duration = Duration::from_secs(2);

/// The signal that stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// SIGINT: ctrl-c.
    Interrupt,
    /// SIGTERM: a cancelled job, `kill`.
    Terminate,
}

impl Signal {
    /// The exit code a run stopped by it ends with (128 + its number, as shells say).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => exit::INTERRUPTED,
            Signal::Terminate => exit::TERMINATED,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Whether, and by which signal, the run was told to stop; shared by the scheduler's cases.
#[derive(Debug, Clone)]
pub struct Interrupt {
    said: Arc<watch::Sender<Option<Signal>>>,
}

impl Default for Interrupt {
    fn default() -> Self {
        Interrupt {
            said: Arc::new(watch::channel(None).0),
        }
    }
}

impl Interrupt {
    /// Listen for SIGINT and SIGTERM on `runtime` from now on: the first stops the run, the
    /// second ends the process at once. Where signals cannot be listened for, the run keeps
    /// the default (the signal ends it).
    pub fn listen(&self, runtime: &tokio::runtime::Handle) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let _guard = runtime.enter();
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            let said = self.said.clone();
            runtime.spawn(async move {
                loop {
                    let got = tokio::select! {
                        _ = int.recv() => Signal::Interrupt,
                        _ = term.recv() => Signal::Terminate,
                    };
                    if let Some(first) = *said.borrow() {
                        std::process::exit(i32::from(first.exit_code()));
                    }
                    said.send_replace(Some(got));
                }
            });
        }
        #[cfg(not(unix))]
        let _ = runtime;
    }

    /// The signal, once one came.
    pub fn raised(&self) -> Option<Signal> {
        *self.said.borrow()
    }

    /// Resolves when a signal comes.
    pub async fn raised_now(&self) -> Signal {
        let mut seen = self.said.subscribe();
        loop {
            if let Some(signal) = *seen.borrow_and_update() {
                return signal;
            }
            // The sender lives as long as `self`: it is never dropped while this waits.
            if seen.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves [`GRACE`] after a signal: the requests in flight have had their time.
    pub async fn grace_over(&self) -> Signal {
        let signal = self.raised_now().await;
        tokio::time::sleep(GRACE).await;
        signal
    }

    /// Say a signal came (what the listener does; the self-tests call it directly).
    pub fn raise(&self, signal: Signal) {
        self.said.send_replace(Some(signal));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_grace_ends_after_the_signal() {
        let interrupt = Interrupt::default();
        assert_eq!(interrupt.raised(), None);
        let waiting = tokio::spawn({
            let i = interrupt.clone();
            async move { i.grace_over().await }
        });
        interrupt.raise(Signal::Terminate);
        assert_eq!(waiting.await.ok(), Some(Signal::Terminate));
        assert_eq!(interrupt.raised().map(Signal::exit_code), Some(143));
    }
}
