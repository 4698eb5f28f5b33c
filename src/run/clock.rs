//! A case's own clock: its deadline counts only the time the case itself spends, never the
//! time it waits for the suite's own rate limiter, a request slot, or a throttling answer's
//! `Retry-After` (that has its own budget). So a case queued behind others never fails for
//! being queued, and a case that never got to send is inconclusive, not a target failure.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

// The runtime's clock, so a paused test clock and the deadline agree.
use tokio::time::Instant;

/// The clock of one case run.
#[derive(Debug)]
pub(super) struct Clock {
    started: Instant,
    allowed: Duration,
    waits: Mutex<Waits>,
    sent: AtomicUsize,
}

#[derive(Debug, Default)]
struct Waits {
    /// Waiting done, in total.
    done: Duration,
    /// The wait under way, since when.
    since: Option<Instant>,
}

impl Clock {
    /// A clock allowing the case `allowed` of its own time.
    pub(super) fn new(allowed: Duration) -> Self {
        Clock {
            started: Instant::now(),
            allowed,
            waits: Mutex::new(Waits::default()),
            sent: AtomicUsize::new(0),
        }
    }

    fn waits(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.waits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When the case's own time runs out, as things stand: every wait so far, and the one
    /// under way until now, pushes it back.
    pub(super) fn deadline(&self) -> Instant {
        let now = Instant::now();
        let waits = self.waits();
        let ongoing = waits.since.map_or(Duration::ZERO, |s| now - s);
        self.started + self.allowed + waits.done + ongoing
    }

    /// Run `wait` off the case's clock.
    pub(super) async fn off_the_clock<T>(&self, wait: impl Future<Output = T>) -> T {
        self.waits().since = Some(Instant::now());
        let out = wait.await;
        let mut waits = self.waits();
        if let Some(since) = waits.since.take() {
            waits.done += since.elapsed();
        }
        out
    }

    /// A request was sent.
    pub(super) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether any request was sent.
    pub(super) fn any_sent(&self) -> bool {
        self.sent.load(Ordering::Relaxed) > 0
    }

    /// Time spent waiting off the clock.
    pub(super) fn waited(&self) -> Duration {
        let waits = self.waits();
        waits.done + waits.since.map_or(Duration::ZERO, |s| s.elapsed())
    }

    /// Run `work` until it ends or the case's own time runs out (`None`).
    pub(super) async fn within<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            let deadline = self.deadline();
            tokio::select! {
                out = &mut work => return Some(out),
                _ = tokio::time::sleep_until(deadline) => {
                    // A wait under way moves the deadline on; only a deadline that stood ends it.
                    if self.deadline() <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waiting_off_the_clock_moves_the_deadline() {
        let clock = Clock::new(Duration::from_secs(10));
        let finished = clock
            .within(async {
                clock
                    .off_the_clock(tokio::time::sleep(Duration::from_secs(60)))
                    .await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            })
            .await;
        assert!(finished.is_some(), "60 s of queueing must not use the 10 s");
        assert!(clock.waited() >= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn the_case_own_time_still_runs_out() {
        let clock = Clock::new(Duration::from_secs(10));
        let finished = clock
            .within(async {
                clock
                    .off_the_clock(tokio::time::sleep(Duration::from_secs(3)))
                    .await;
                tokio::time::sleep(Duration::from_secs(11)).await;
            })
            .await;
        assert!(finished.is_none());
        assert!(!clock.any_sent());
    }
}
