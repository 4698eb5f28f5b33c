//! The rate budget: how fast and how much errcontract may send. Three bounds, all shared by
//! every case of the run:
//! - `ERRCONTRACT_RPS`: a client-side limit on requests per second;
//! - `ERRCONTRACT_CONCURRENCY`: requests in flight at most;
//! - the target's own word: `X-RateLimit-Remaining` / `X-RateLimit-Reset` (no request is sent
//!   into a window the target said is spent) and `Retry-After` on a throttling response (no
//!   request until it passes); where a target sends the IETF draft's `RateLimit` and
//!   `RateLimit-Policy` instead, those (`rate_limit_draft`). Windows are kept per key and endpoint (method and path
//!   template): a target that reports its limit on a poll need not count polls against it.
//!
//! A step that expects the throttling response is exempt from the target's word: it is there to
//! provoke it.
//!
//! A wait never stalls the run: a request whose window is held longer than its case may wait
//! (`ERRCONTRACT_THROTTLE_BUDGET_S`, and never past the run deadline) is refused at once with
//! what the target asked ([`Held`]), and its case ends inconclusive while every other window's
//! requests go on. A reset time that cannot be right (milliseconds read as seconds, a date
//! years away; `rate_limit_headers` reports it) is held for [`IMPLAUSIBLE_RESET_WAIT`] at most.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{Notify, Semaphore, SemaphorePermit};

use crate::probe::Incoming;
use crate::request::Request;

/// Slack added to a window's reset: clocks differ by a little, and a request sent a moment
/// early would meet the spent window.
const RESET_SLACK: Duration = Duration::from_millis(50);

/// The run's rate budget.
pub struct Budget {
    limiter: Option<DefaultDirectRateLimiter>,
    slots: Semaphore,
    windows: Mutex<HashMap<String, Window>>,
    /// Woken on every answer: a request held back may go once an answer shows the window
    /// has room after all.
    answered: Notify,
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("slots", &self.slots.available_permits())
            .finish_non_exhaustive()
    }
}

/// How long a request waits at most, while the first one to its window is out, before it looks
/// again (an answer wakes it sooner): the first answer says whether the target reports a limit
/// there, before a burst could overrun it.
const FIRST_ANSWER_POLL: Duration = Duration::from_millis(2);

/// How long a window the target says resets implausibly far away (further than
/// `check::MAX_RESET_SKEW_S`) is held: the target's numbers cannot be right, so one window's
/// length, not years.
pub const IMPLAUSIBLE_RESET_WAIT: Duration = Duration::from_secs(60);

/// Why a request is held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HeldBy {
    /// A `Retry-After` on a throttling answer.
    RetryAfter,
    /// The window is spent (`X-RateLimit-Remaining: 0`, or the draft `RateLimit` `r=0`) until
    /// its reset.
    SpentWindow,
}

impl std::fmt::Display for HeldBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeldBy::RetryAfter => "Retry-After",
            HeldBy::SpentWindow => "its rate-limit window is spent until the reset",
        })
    }
}

/// A request the target asked to hold back longer than its case may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// How long the target asked to wait.
    pub wait: Duration,
    /// Why.
    pub by: HeldBy,
}

/// Why a window holds a request, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    wait: Duration,
    /// `None`: a short wait for the first answer of a window.
    by: Option<HeldBy>,
}

impl Hold {
    fn first_answer() -> Self {
        Hold {
            wait: FIRST_ANSWER_POLL,
            by: None,
        }
    }
}

/// What the target last said about one key's window at one endpoint.
#[derive(Debug, Default, Clone)]
struct Window {
    /// Whether an answer has come from this window yet.
    learned: bool,
    /// The window's size (`X-RateLimit-Limit`), for the window after a reset.
    limit: Option<u64>,
    /// Requests left in the window, less those sent since (None: unknown, send).
    remaining: Option<u64>,
    /// When the window resets.
    reset_at: Option<Instant>,
    /// No request before this (a Retry-After).
    blocked_until: Option<Instant>,
    /// Requests sent and not yet answered.
    inflight: u64,
    /// The fewest requests left the target has said in this window: it only counts down, so
    /// an answer that says more was counted earlier.
    fewest_said: Option<u64>,
    /// Requests sent in this window.
    sent_in_window: u64,
}

impl Window {
    /// Take one request from the window, or say how long to wait.
    fn reserve(&mut self, now: Instant, exempt: bool) -> Result<(), Hold> {
        if !exempt {
            if !self.learned && self.inflight > 0 {
                return Err(Hold::first_answer());
            }
            if let Some(until) = self.blocked_until {
                if now < until {
                    return Err(Hold {
                        wait: until - now,
                        by: Some(HeldBy::RetryAfter),
                    });
                }
                self.blocked_until = None;
            }
            if self.remaining == Some(0) {
                match self.reset_at {
                    Some(reset) if now < reset => {
                        return Err(Hold {
                            wait: reset - now,
                            by: Some(HeldBy::SpentWindow),
                        });
                    }
                    // A new window, as large as the last one; without its size, learned again
                    // from one request.
                    Some(_) => {
                        self.reset_at = None;
                        self.fewest_said = None;
                        self.sent_in_window = 0;
                        self.remaining = self.limit;
                        self.learned = self.limit.is_some();
                    }
                    // Spent, and no word yet on when it resets: the answers out will say.
                    None if self.inflight > 0 => return Err(Hold::first_answer()),
                    None => {
                        self.remaining = None;
                        self.learned = false;
                    }
                }
                if !self.learned && self.inflight > 0 {
                    return Err(Hold::first_answer());
                }
            }
            self.remaining = self.remaining.map(|r| r.saturating_sub(1));
        }
        self.inflight += 1;
        self.sent_in_window += 1;
        Ok(())
    }

    /// Learn from an answer to a request of this window.
    fn observe(&mut self, now: Instant, said: Said) {
        self.inflight = self.inflight.saturating_sub(1);
        self.learned = true;
        if said.limit.is_some() {
            self.limit = said.limit;
        }
        if let Some(remaining) = said.remaining {
            let reset = said.reset_in.map(|d| now + d + RESET_SLACK);
            let (newer_window, older_window) = match (self.reset_at, reset) {
                (Some(old), Some(new)) => (
                    new > old + Duration::from_millis(500),
                    new + Duration::from_millis(500) < old,
                ),
                _ => (true, false),
            };
            let counted = said.limit.map(|l| l.saturating_sub(remaining));
            if newer_window {
                self.fewest_said = Some(remaining);
                self.reset_at = reset;
                // Where the new window began is not known: count every request in flight in it.
                self.sent_in_window = counted.unwrap_or(0) + self.inflight;
            } else if !older_window {
                self.fewest_said = Some(self.fewest_said.map_or(remaining, |f| f.min(remaining)));
            }
            if !older_window && let Some(fewest) = self.fewest_said {
                // Requests in flight may not be counted yet; but the target has counted
                // `limit - fewest` of this window's, so of those sent, the rest at most are
                // not (the key is the run's alone: another client's requests would be
                // counted, and then Retry-After governs).
                let counted = self.limit.map_or(0, |l| l.saturating_sub(fewest));
                let uncounted = self
                    .inflight
                    .min(self.sent_in_window.saturating_sub(counted));
                self.remaining = Some(fewest.saturating_sub(uncounted));
            }
        }
        // On a throttling answer, Retry-After is the target's own word on when to try again; it
        // overrides what the window's counters say.
        if let Some(wait) = said.retry_after {
            let until = now + wait;
            self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
            self.remaining = None;
            self.reset_at = None;
            self.fewest_said = None;
            // After the wait, one request learns the window again before a burst.
            self.learned = false;
        }
    }
}

/// What one response said about the budget.
#[derive(Debug, Default, Clone, Copy)]
struct Said {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_in: Option<Duration>,
    retry_after: Option<Duration>,
}

/// A request admitted by the budget: it holds a slot until it is answered. One dropped
/// unanswered (its case's deadline passed mid-request) gives its place in the window back.
#[derive(Debug)]
pub struct Admitted<'a> {
    budget: &'a Budget,
    _slot: Option<SemaphorePermit<'a>>,
    key: String,
    answered: bool,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if let Some(window) = self.budget.windows().get_mut(&self.key) {
            // Sent or not, nothing was learned: only the request in flight is gone.
            window.inflight = window.inflight.saturating_sub(1);
        }
        self.budget.answered.notify_waiters();
    }
}

impl Budget {
    /// A budget of `rps` requests per second (0: none) and `concurrency` in flight.
    pub fn new(rps: f64, concurrency: usize) -> Self {
        Budget {
            limiter: quota(rps).map(RateLimiter::direct),
            slots: Semaphore::new(concurrency.max(1)),
            windows: Mutex::new(HashMap::new()),
            answered: Notify::new(),
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        // A window is plain counters; one left mid-update by a panic is still usable.
        self.windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wait until `request` (to the endpoint `template`) may be sent. `exempt`: the step
    /// expects the throttling response. A hold longer than `may_wait` is refused at once.
    pub async fn admit(
        &self,
        request: &Request,
        template: &str,
        exempt: bool,
        may_wait: Duration,
    ) -> Result<Admitted<'_>, Held> {
        let key = window_key(request, template);
        loop {
            // The semaphore is never closed; were it, the request would go unbounded.
            let slot = self.slots.acquire().await.ok();
            // Listening before the window is read, so an answer in between is not missed.
            let answer = self.answered.notified();
            tokio::pin!(answer);
            answer.as_mut().enable();
            let wait = {
                let mut windows = self.windows();
                let window = windows.entry(key.clone()).or_default();
                window.reserve(Instant::now(), exempt)
            };
            match wait {
                Ok(()) => {
                    let admitted = Admitted {
                        budget: self,
                        _slot: slot,
                        key,
                        answered: false,
                    };
                    // The client-side rate comes last, so a request held back by the window
                    // spends no token, and requests let through together still keep the rate.
                    if let Some(limiter) = &self.limiter {
                        limiter.until_ready().await;
                    }
                    return Ok(admitted);
                }
                Err(hold) => {
                    drop(slot);
                    if let Some(by) = hold.by
                        && hold.wait > may_wait
                    {
                        return Err(Held {
                            wait: hold.wait,
                            by,
                        });
                    }
                    tokio::select! {
                        () = tokio::time::sleep(hold.wait) => {}
                        () = &mut answer => {}
                    }
                }
            }
        }
    }

    /// Learn from the answer to an admitted request; `throttled`: the response is the target's
    /// throttling status, so its `Retry-After` holds every request of the window back.
    pub fn observe(
        &self,
        mut admitted: Admitted<'_>,
        response: Option<&Incoming>,
        throttled: bool,
    ) {
        admitted.answered = true;
        let said = response.map(|r| said(r, throttled)).unwrap_or_default();
        let mut windows = self.windows();
        if let Some(window) = windows.get_mut(&admitted.key) {
            window.observe(Instant::now(), said);
        }
        drop(windows);
        self.answered.notify_waiters();
    }
}

fn said(r: &Incoming, throttled: bool) -> Said {
    let int = |name: &str| r.header(name).and_then(|v| v.trim().parse::<u64>().ok());
    let now = SystemTime::now();
    let unix_now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let plausible = |reset_in: Duration| {
        if reset_in.as_secs() > crate::check::MAX_RESET_SKEW_S as u64 {
            IMPLAUSIBLE_RESET_WAIT
        } else {
            reset_in
        }
    };
    let retry_after = if throttled {
        r.header("retry-after")
            .and_then(|h| crate::check::parse_retry_after(h, now).ok())
            .map(Duration::from_secs)
    } else {
        None
    };
    let remaining = int("x-ratelimit-remaining");
    if remaining.is_none()
        && let Some(draft) = super::rate_limit_draft::read(r)
    {
        return Said {
            limit: draft.limit,
            remaining: Some(draft.remaining),
            reset_in: draft.reset_in.map(plausible),
            retry_after,
        };
    }
    Said {
        limit: int("x-ratelimit-limit"),
        remaining,
        reset_in: int("x-ratelimit-reset")
            .map(|reset| plausible(Duration::from_secs(reset).saturating_sub(unix_now))),
        retry_after,
    }
}

/// The window a request counts against: its credentials and its endpoint.
fn window_key(request: &Request, template: &str) -> String {
    format!(
        "{}\n{} {template}",
        request.bearer().unwrap_or(""),
        request.method
    )
}

fn quota(rps: f64) -> Option<Quota> {
    if rps <= 0.0 {
        return None;
    }
    let period = Duration::from_secs_f64(1.0 / rps);
    Quota::with_period(period).map(|q| q.allow_burst(NonZeroU32::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(remaining: u64, reset_in: u64) -> Said {
        Said {
            limit: Some(5),
            remaining: Some(remaining),
            reset_in: Some(Duration::from_secs(reset_in)),
            retry_after: None,
        }
    }

    #[test]
    fn a_spent_window_holds_requests_until_it_resets() {
        let now = Instant::now();
        let mut w = Window::default();
        w.reserve(now, false).expect("nothing known yet: send");
        w.observe(now, said(1, 30));
        w.reserve(now, false).expect("one left");
        let hold = w.reserve(now, false).expect_err("the window is spent");
        assert_eq!(hold.by, Some(HeldBy::SpentWindow));
        let wait = hold.wait;
        assert!(
            wait > Duration::from_secs(29) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
        let later = now + Duration::from_secs(31);
        for _ in 0..5 {
            w.reserve(later, false)
                .expect("after the reset, a window as large as the last");
        }
        assert!(w.reserve(later, false).is_err(), "and no larger");
    }

    #[test]
    fn one_request_learns_the_window_before_a_burst() {
        let now = Instant::now();
        let mut w = Window::default();
        w.reserve(now, false).expect("the first request goes");
        assert_eq!(w.reserve(now, false), Err(Hold::first_answer()));
        w.observe(now, Said::default());
        for _ in 0..3 {
            w.reserve(now, false)
                .expect("the target reports no limit here: no bound but the slots");
        }
    }

    fn of_ten(remaining: u64) -> Said {
        Said {
            limit: Some(10),
            remaining: Some(remaining),
            reset_in: Some(Duration::from_secs(60)),
            retry_after: None,
        }
    }

    #[test]
    fn requests_in_flight_count_as_spent_unless_the_target_counted_them() {
        let now = Instant::now();
        let mut w = Window::default();
        w.reserve(now, false).expect("the first request goes");
        w.observe(now, of_ten(9));
        for _ in 0..8 {
            w.reserve(now, false).expect("within the window");
        }
        // One answer says 2 left: the target has counted 8 of the 9 sent, so of the 7 still in
        // flight one at most is not counted yet, and one more may go.
        w.observe(now, of_ten(2));
        w.reserve(now, false).expect("the tenth request");
        assert!(w.reserve(now, false).is_err(), "and not an eleventh");
    }

    #[test]
    fn without_the_window_size_every_request_in_flight_counts_as_spent() {
        let now = Instant::now();
        let mut w = Window::default();
        let said = |remaining| Said {
            remaining: Some(remaining),
            reset_in: Some(Duration::from_secs(60)),
            ..Said::default()
        };
        w.reserve(now, false).expect("the first request goes");
        w.observe(now, said(5));
        for _ in 0..3 {
            w.reserve(now, false).expect("within the window");
        }
        w.observe(now, said(2));
        assert!(w.reserve(now, false).is_err(), "2 left, 2 in flight");
    }

    #[test]
    fn an_answer_that_was_counted_earlier_gives_back_nothing() {
        let now = Instant::now();
        let mut w = Window::default();
        w.reserve(now, false).expect("the first request goes");
        w.observe(now, of_ten(9));
        for _ in 0..4 {
            w.reserve(now, false).expect("within the window");
        }
        // Answered out of order: the target counted these in another order than they arrive.
        for left in [5, 8, 6, 7] {
            w.observe(now, of_ten(left));
        }
        for _ in 0..5 {
            w.reserve(now, false).expect("the whole window is used");
        }
        assert!(w.reserve(now, false).is_err(), "and not one more");
    }

    #[test]
    fn retry_after_blocks_all_but_steps_that_expect_the_throttle() {
        let now = Instant::now();
        let mut w = Window::default();
        w.reserve(now, false).expect("send");
        w.observe(
            now,
            Said {
                retry_after: Some(Duration::from_secs(5)),
                ..Said::default()
            },
        );
        assert!(w.reserve(now, false).is_err());
        w.reserve(now, true)
            .expect("an expected 429 is provoked on purpose");
        // Retry-After wins over a window the same answer calls spent.
        w.observe(
            now,
            Said {
                limit: Some(5),
                remaining: Some(0),
                reset_in: Some(Duration::from_secs(60)),
                retry_after: Some(Duration::from_secs(5)),
            },
        );
        let later = now + Duration::from_secs(6);
        w.reserve(later, false).expect("after Retry-After");
        assert_eq!(
            w.reserve(later, false),
            Err(Hold::first_answer()),
            "one request learns the window again before a burst"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_unanswered_gives_its_place_back() {
        let budget = Budget::new(0.0, 4);
        let request = Request {
            method: "GET",
            url: "http://h/v2/models".into(),
            headers: Vec::new(),
            body: None,
            curl: String::new(),
        };
        let long = Duration::from_secs(60);
        let first = budget.admit(&request, "/v2/models", false, long).await;
        // The case's deadline passes mid-request: the admission is dropped, never observed.
        drop(first);
        let second = tokio::time::timeout(
            Duration::from_secs(1),
            budget.admit(&request, "/v2/models", false, long),
        )
        .await;
        assert!(second.is_ok(), "the next request is not held back forever");
    }

    #[tokio::test]
    async fn a_hold_longer_than_the_case_may_wait_is_refused_at_once() {
        let budget = Budget::new(0.0, 4);
        let request = Request {
            method: "POST",
            url: "http://h/v2/images/generations".into(),
            headers: vec![("Authorization".into(), "Bearer k1".into())],
            body: None,
            curl: String::new(),
        };
        let template = "/v2/images/generations";
        let may_wait = Duration::from_secs(60);
        let first = budget
            .admit(&request, template, false, may_wait)
            .await
            .expect("nothing known yet");
        let mut throttled = crate::check::testing::response(429, &[("retry-after", "3000")], "{}");
        throttled
            .headers
            .push(("x-ratelimit-remaining".into(), "0".into()));
        budget.observe(first, Some(&throttled), true);
        let held = tokio::time::timeout(
            Duration::from_secs(1),
            budget.admit(&request, template, false, may_wait),
        )
        .await
        .expect("refused at once, not waited out")
        .expect_err("held");
        assert_eq!(held.by, HeldBy::RetryAfter);
        assert_eq!(held.wait.as_secs().div_ceil(10) * 10, 3000);
        let other = Request {
            url: "http://h/v2/models".into(),
            method: "GET",
            ..request
        };
        let models = tokio::time::timeout(
            Duration::from_secs(1),
            budget.admit(&other, "/v2/models", false, may_wait),
        )
        .await
        .expect("another endpoint is not held");
        assert!(models.is_ok());
    }

    #[test]
    fn an_implausible_reset_is_a_capped_wait() {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            .to_string();
        let r = crate::check::testing::response(
            200,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &ms)],
            "{}",
        );
        assert_eq!(
            super::said(&r, false).reset_in,
            Some(IMPLAUSIBLE_RESET_WAIT)
        );
    }

    #[test]
    fn windows_are_per_key_and_endpoint() {
        let req = |method: &'static str, key: &str| Request {
            method,
            url: "http://h/v2/videos/generations/req-1".into(),
            headers: vec![("Authorization".into(), format!("Bearer {key}"))],
            body: None,
            curl: String::new(),
        };
        let poll = "/v2/videos/generations/{id}";
        let a = window_key(&req("GET", "k1"), poll);
        assert_eq!(a, window_key(&req("GET", "k1"), poll));
        assert_ne!(a, window_key(&req("GET", "k1"), "/v2/videos/generations"));
        assert_ne!(a, window_key(&req("POST", "k1"), poll));
        assert_ne!(a, window_key(&req("GET", "k2"), poll));
    }
}
