//! Whether the target still answers: after `ERRCONTRACT_MAX_TIMEOUTS` requests in a row got no
//! answer (timed out, or could not connect), the target is taken to have stopped answering, and
//! every case not yet concluded ends inconclusive at once. A run against a dead or hung target
//! ends in about one request timeout, not one timeout per case.
//!
//! "In a row" is by when requests were sent: a request only counts if it was sent after the
//! last answer came. Requests to one hung endpoint, sent while others were being answered, so
//! never make a target that answers look stopped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::Notify;

use crate::probe::TransportError;

/// Consecutive unanswered requests, shared by every case of a run.
#[derive(Debug)]
pub(super) struct Liveness {
    limit: usize,
    unanswered: AtomicUsize,
    last_answer: Mutex<Option<Instant>>,
    stopped: AtomicBool,
    changed: Notify,
}

impl Liveness {
    pub(super) fn new(limit: usize) -> Self {
        Liveness {
            limit: limit.max(1),
            unanswered: AtomicUsize::new(0),
            last_answer: Mutex::new(None),
            stopped: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    /// Count the fate of one request sent at `sent`: any answer (even a broken one) shows the
    /// target is there.
    pub(super) fn observe<T>(&self, sent: Instant, answer: &Result<T, TransportError>) {
        let mut last = self
            .last_answer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answer {
            Err(TransportError::Timeout(_) | TransportError::Connect(_)) => {
                if last.is_some_and(|answered| sent < answered) {
                    return;
                }
                let n = self.unanswered.fetch_add(1, Ordering::AcqRel) + 1;
                if n >= self.limit && !self.stopped.swap(true, Ordering::AcqRel) {
                    self.changed.notify_waiters();
                }
            }
            _ => {
                *last = Some(Instant::now());
                self.unanswered.store(0, Ordering::Release);
            }
        }
    }

    /// Whether the target has stopped answering (it stays so for the run).
    pub(super) fn has_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// The requests in a row it took.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// Resolves once the target has stopped answering.
    pub(super) async fn stopped(&self) {
        loop {
            let notified = self.changed.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if self.has_stopped() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn timeout() -> Result<(), TransportError> {
        Err(TransportError::Timeout(Duration::from_secs(30)))
    }

    #[test]
    fn an_answer_between_timeouts_starts_the_count_again() {
        let l = Liveness::new(3);
        l.observe(Instant::now(), &timeout());
        l.observe(Instant::now(), &timeout());
        l.observe(Instant::now(), &Ok(()));
        l.observe(Instant::now(), &timeout());
        l.observe(Instant::now(), &timeout());
        assert!(!l.has_stopped());
        l.observe(Instant::now(), &timeout());
        assert!(l.has_stopped());
    }

    #[test]
    fn a_reset_is_an_answer_of_sorts() {
        let l = Liveness::new(2);
        l.observe(Instant::now(), &timeout());
        l.observe(Instant::now(), &Err::<(), _>(TransportError::Reset));
        l.observe(Instant::now(), &timeout());
        assert!(!l.has_stopped());
    }

    #[test]
    fn one_hung_endpoint_among_answering_ones_is_not_a_stopped_target() {
        let l = Liveness::new(2);
        // Requests to the hung endpoint go out; others are answered meanwhile.
        let hung: Vec<Instant> = (0..5).map(|_| Instant::now()).collect();
        l.observe(Instant::now(), &Ok(()));
        for sent in hung {
            l.observe(sent, &timeout());
        }
        assert!(
            !l.has_stopped(),
            "their timeouts came after answers to later requests"
        );
    }

    #[tokio::test]
    async fn waiters_learn_at_once() {
        let l = std::sync::Arc::new(Liveness::new(1));
        let waiter = tokio::spawn({
            let l = l.clone();
            async move { l.stopped().await }
        });
        tokio::task::yield_now().await;
        l.observe(Instant::now(), &timeout());
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter woke")
            .unwrap();
    }
}
