//! `errcontract proxy` as a library call: the traffic check of [`super::traffic`] fed live by
//! the recording proxy (`traffic::proxy`), each break told as it happens, every exchange
//! recorded (keys redacted) when asked; on SIGINT/SIGTERM or after the idle time, the same
//! conclusion, reports and exit code as a whole run's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use crate::probe::{Probe, ProbeConfig};
use crate::run::{Interrupt, Signal};
use crate::settings::{Settings, check_base_url};
use crate::traffic::Recorder;
use crate::traffic::proxy::{self, Event, Forward};

use super::{SetupError, Traffic, TrafficOutcome};

/// How long the connections under way get to finish once the proxy stops.
const GRACE: Duration = Duration::from_secs(2);

/// What `errcontract proxy` was asked.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// The upstream's base URL.
    pub upstream: String,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The NDJSON file to record into.
    pub record: Option<PathBuf>,
    /// Stop after this long with no request under way and none finished.
    pub idle_exit: Option<Duration>,
}

/// What the proxy tells as it runs.
#[derive(Debug)]
pub enum Live<'a> {
    /// Listening: the address, and the upstream.
    Listening(SocketAddr, &'a str),
    /// An exchange broke the contract: the line to show.
    Break(&'a str),
    /// The upstream could not be asked.
    Upstream(&'a str),
    /// The recording could not be written (the proxy goes on, unrecorded).
    RecordFailed(&'a str),
}

/// Why the proxy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// By a signal.
    Signal(Signal),
    /// No request under way and none finished for the idle time.
    Idle,
}

/// What the proxy came to.
#[derive(Debug)]
pub struct ProxyOutcome {
    /// The traffic check of everything that passed.
    pub traffic: TrafficOutcome,
    /// Why it stopped.
    pub stopped: Stopped,
}

/// Run the proxy until a signal or the idle time, telling `live` what happens.
pub fn proxy(
    settings: Settings,
    options: ProxyOptions,
    live: &mut dyn FnMut(Live<'_>),
) -> Result<ProxyOutcome, SetupError> {
    // Keys pass through it: it serves this machine only.
    if !options.listen.ip().is_loopback() {
        return Err(SetupError::Listen {
            addr: options.listen,
            source: std::io::Error::other(
                "errcontract proxy listens on loopback only (127.0.0.1, ::1): the keys of the traffic pass through it",
            ),
        });
    }
    let upstream =
        check_base_url(&options.upstream, settings.allow_insecure).map_err(|mut e| {
            e.var = "--upstream".into();
            SetupError::Settings(e)
        })?;
    let upstream = upstream.trim_end_matches('/').to_string();
    let direct = is_loopback(&upstream);
    let client =
        Probe::forwarding(&ProbeConfig::of(&settings, direct)).map_err(SetupError::Client)?;
    let max_body = settings.max_body;
    let client_cert = settings.client_identity.is_some();
    let traffic = Traffic::new(settings)?;
    let mut recorder = match &options.record {
        None => None,
        // stdout carries the break lines: the recording cannot share it.
        Some(path) if path.as_os_str() == "-" => {
            return Err(SetupError::Record {
                path: path.clone(),
                source: std::io::Error::other(
                    "`-` (stdout) cannot take the recording: stdout carries the proxy's break lines",
                ),
            });
        }
        Some(path) => Some(Recorder::create(path).map_err(|source| SetupError::Record {
            path: path.clone(),
            source,
        })?),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SetupError::Runtime)?;
    let (listener, addr) = runtime
        .block_on(proxy::bind(options.listen))
        .map_err(|source| SetupError::Listen {
            addr: options.listen,
            source,
        })?;
    let interrupt = Interrupt::default();
    interrupt.listen(runtime.handle());
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let forward = Forward {
        upstream: upstream.clone(),
        client,
        max_body,
        client_cert,
        in_flight: in_flight.clone(),
    };
    let server = runtime.spawn(proxy::serve(listener, forward, events_tx, stop_rx, GRACE));
    live(Live::Listening(addr, &upstream));
    let mut check = traffic.start();
    let mut take = |event: Event, live: &mut dyn FnMut(Live<'_>)| match event {
        Event::Exchange(ex) => {
            if let Some(line) = check.exchange(&ex).and_then(|b| b.line) {
                live(Live::Break(&line));
            }
            if let Some(r) = &mut recorder
                && let Err(e) = r.write(&ex, check.secrets())
            {
                live(Live::RecordFailed(&e.to_string()));
                recorder = None;
            }
        }
        Event::Upstream { why, tls } => {
            live(Live::Upstream(&why));
            check.upstream_failed(&why, tls);
        }
    };
    let stopped = runtime.block_on(async {
        let idle = options.idle_exit;
        let mut deadline = idle.map(|d| tokio::time::Instant::now() + d);
        loop {
            let idle_over = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                event = events.recv() => match event {
                    // An exchange passed, or a request got the proxy's own 502: one finished.
                    Some(event) => {
                        take(event, live);
                        deadline = idle.map(|d| tokio::time::Instant::now() + d);
                    }
                    None => return Stopped::Idle,
                },
                signal = interrupt.raised_now() => return Stopped::Signal(signal),
                // Idle is no request under way and none finished for the idle time: one still
                // waiting for its answer keeps the proxy up.
                () = idle_over => {
                    if in_flight.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                        return Stopped::Idle;
                    }
                    deadline = idle.map(|d| tokio::time::Instant::now() + d);
                }
            }
        }
    });
    // Stop accepting; what is under way finishes (or the grace ends), then what it left.
    let _ = stop_tx.send(true);
    let _ = runtime.block_on(async { tokio::time::timeout(GRACE * 2, server).await });
    while let Ok(event) = events.try_recv() {
        take(event, live);
    }
    // A signal is how a proxy is meant to stop: the exit code is the traffic's verdict, as a
    // whole run's (not "interrupted", which would hide it from the CI gate).
    let outcome = check.finish(&format!("proxy of {upstream}"));
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(ProxyOutcome {
        traffic: outcome,
        stopped,
    })
}

/// Whether the URL's host is this machine (never reached through a proxy).
fn is_loopback(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let name = if host.starts_with('[') {
        host.split(']')
            .next()
            .unwrap_or(host)
            .trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or(host)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_upstreams_are_reached_directly() {
        assert!(is_loopback("http://127.0.0.1:4010"));
        assert!(is_loopback("http://localhost/api"));
        assert!(is_loopback("http://[::1]:80"));
        assert!(!is_loopback("https://staging.example"));
    }
}
