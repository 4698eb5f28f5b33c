//! Per-workspace rate limits: a fixed RPM window for each generation endpoint, and a
//! concurrency limit counted in pending videos, shared by both endpoints. Owns the
//! `X-RateLimit-*` headers and the two documented 429s, so the wording and the `Retry-After`
//! arithmetic live next to the counters they describe. The caller passes the clock.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{HeaderName, HeaderValue, RETRY_AFTER};

use super::catalog::Kind;
use super::config::Limits;
use super::error::{ApiError, Code, RATE_LIMIT_DOC_URL};

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The documented concurrency message.
const CONCURRENCY_MESSAGE: &str =
    "Too many concurrent requests. Please wait for current requests to finish.";
/// How long a client should wait after a concurrency 429: slots free up as videos finish.
const CONCURRENCY_RETRY_AFTER_SECS: u64 = 1;

/// A window's state as the headers report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub limit: u32,
    pub remaining: u32,
    /// Time until the window closes.
    pub resets_in: Duration,
}

impl RateInfo {
    /// Whole seconds until the window closes, rounded up, at least 1: an RPM 429's
    /// `Retry-After`.
    pub(crate) fn retry_after(self) -> u64 {
        let secs = self.resets_in.as_secs() + u64::from(self.resets_in.subsec_nanos() > 0);
        secs.max(1)
    }

    /// `X-RateLimit-Limit`, `-Remaining`, and `-Reset` (the unix second the window closes,
    /// rounded up).
    pub(crate) fn headers(self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LIMIT, HeaderValue::from(self.limit));
        h.insert(REMAINING, HeaderValue::from(self.remaining));
        h.insert(RESET, HeaderValue::from(unix_secs_after(self.resets_in)));
        h
    }
}

/// Unix seconds `d` from now, rounded up: the absolute form `X-RateLimit-Reset` uses.
fn unix_secs_after(d: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + d).as_secs_f64().ceil() as u64
}

/// A fixed window that opens at the first request after the previous one closed.
#[derive(Debug, Default)]
struct Window {
    start: Option<Instant>,
    count: u32,
}

impl Window {
    fn roll(&mut self, now: Instant, len: Duration) {
        match self.start {
            Some(start) if now < start + len => {}
            _ => {
                self.start = Some(now);
                self.count = 0;
            }
        }
    }

    fn info(&self, limit: u32, now: Instant, len: Duration) -> RateInfo {
        let start = self.start.unwrap_or(now);
        RateInfo {
            limit,
            remaining: limit.saturating_sub(self.count),
            resets_in: (start + len).saturating_duration_since(now),
        }
    }
}

/// One workspace's limits and how much of them is in use.
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    /// Length of both RPM windows.
    len: Duration,
    image: Window,
    video: Window,
    /// Videos holding a concurrency slot, with the instant they let go of it at the latest.
    held: HashMap<String, Instant>,
}

impl Limiter {
    pub(crate) fn new(limits: Limits, len: Duration) -> Self {
        Limiter {
            limits,
            len,
            image: Window::default(),
            video: Window::default(),
            held: HashMap::new(),
        }
    }

    fn window(&mut self, kind: Kind) -> (&mut Window, u32) {
        match kind {
            Kind::Image => (&mut self.image, self.limits.image_rpm),
            Kind::Video => (&mut self.video, self.limits.video_rpm),
        }
    }

    /// The window for `kind` as it stands at `now`, without counting a request.
    pub(crate) fn peek(&mut self, kind: Kind, now: Instant) -> RateInfo {
        let len = self.len;
        let (window, limit) = self.window(kind);
        window.roll(now, len);
        window.info(limit, now, len)
    }

    /// Step 6 of a submission: the RPM window for `kind`, then the concurrency limit. An
    /// admitted request counts against the window, whatever happens to it next; the returned
    /// state includes it. A refusal is the 429 with the window's headers and `Retry-After`.
    pub(crate) fn admit(&mut self, kind: Kind, now: Instant) -> Result<RateInfo, ApiError> {
        self.held.retain(|_, until| *until > now);
        let in_flight = self.held.len();
        let concurrency = self.limits.concurrency;
        let len = self.len;
        let (window, limit) = self.window(kind);
        window.roll(now, len);
        let before = window.info(limit, now, len);
        if window.count >= limit {
            let retry = before.retry_after();
            return Err(ApiError::new(
                Code::RateLimit,
                format!(
                    "Rate limit reached: this workspace may submit {limit} {} generation \
                     requests per {} seconds. Retry after {retry} seconds.",
                    kind.as_str(),
                    len.as_secs().max(1)
                ),
            )
            .doc_url(RATE_LIMIT_DOC_URL)
            .with_headers(&before.headers())
            .header(RETRY_AFTER, HeaderValue::from(retry)));
        }
        if in_flight >= concurrency as usize {
            return Err(ApiError::new(Code::RateLimit, CONCURRENCY_MESSAGE)
                .doc_url(RATE_LIMIT_DOC_URL)
                .with_headers(&before.headers())
                .header(RETRY_AFTER, HeaderValue::from(CONCURRENCY_RETRY_AFTER_SECS)));
        }
        window.count += 1;
        Ok(window.info(limit, now, len))
    }

    /// Take a concurrency slot for video `id` until it ends or `until`, whichever is first.
    pub(crate) fn hold(&mut self, id: String, until: Instant) {
        self.held.insert(id, until);
    }

    /// Give back the slot of video `id` (it reached its terminal status).
    pub(crate) fn release(&mut self, id: &str) {
        self.held.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn limiter(image_rpm: u32, video_rpm: u32, concurrency: u32) -> Limiter {
        let limits = Limits {
            image_rpm,
            video_rpm,
            concurrency,
        };
        Limiter::new(limits, MINUTE)
    }

    fn header<'e>(err: &'e ApiError, name: &str) -> Option<&'e str> {
        err.headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn a_window_admits_its_limit_then_refuses_with_retry_after() {
        let mut l = limiter(3, 600, 50);
        let t0 = Instant::now();
        let remaining: Vec<u32> = (0..3)
            .map(|_| l.admit(Kind::Image, t0).unwrap().remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let err = l
            .admit(Kind::Image, t0 + Duration::from_millis(20_500))
            .unwrap_err();
        assert_eq!(err.code, Code::RateLimit);
        assert_eq!(header(&err, "retry-after"), Some("40"));
        assert_eq!(header(&err, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&err, "x-ratelimit-limit"), Some("3"));
        assert!(
            err.message
                .contains("3 image generation requests per 60 seconds"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_window_reopens_once_it_has_closed() {
        let mut l = limiter(1, 600, 50);
        let t0 = Instant::now();
        l.admit(Kind::Image, t0).unwrap();
        assert!(
            l.admit(Kind::Image, t0 + MINUTE - Duration::from_millis(1))
                .is_err()
        );
        let reopened = l.admit(Kind::Image, t0 + MINUTE).unwrap();
        assert_eq!((reopened.remaining, reopened.resets_in), (0, MINUTE));
    }

    #[test]
    fn image_and_video_windows_are_independent() {
        let mut l = limiter(1, 1, 50);
        let now = Instant::now();
        l.admit(Kind::Image, now).unwrap();
        assert!(l.admit(Kind::Video, now).is_ok());
        assert!(l.admit(Kind::Image, now).is_err());
    }

    #[test]
    fn peeking_counts_nothing() {
        let mut l = limiter(2, 600, 50);
        let now = Instant::now();
        assert_eq!(l.peek(Kind::Image, now).remaining, 2);
        assert_eq!(l.peek(Kind::Image, now).remaining, 2);
        l.admit(Kind::Image, now).unwrap();
        assert_eq!(l.peek(Kind::Image, now).remaining, 1);
    }

    #[test]
    fn held_slots_refuse_both_endpoints_until_released_or_expired() {
        let mut l = limiter(600, 600, 1);
        let now = Instant::now();
        l.admit(Kind::Video, now).unwrap();
        l.hold("req-A".into(), now + Duration::from_secs(10));
        let err = l.admit(Kind::Image, now).unwrap_err();
        assert_eq!(err.message, CONCURRENCY_MESSAGE);
        assert_eq!(header(&err, "retry-after"), Some("1"));
        // The hold lapses on its own...
        assert!(l.admit(Kind::Image, now + Duration::from_secs(10)).is_ok());
        // ...or when the video ends.
        l.hold("req-B".into(), now + MINUTE);
        assert!(l.admit(Kind::Video, now).is_err());
        l.release("req-B");
        assert!(l.admit(Kind::Video, now).is_ok());
    }

    #[test]
    fn the_rpm_limit_is_checked_before_concurrency() {
        let err = limiter(0, 0, 0)
            .admit(Kind::Video, Instant::now())
            .unwrap_err();
        assert!(
            err.message.starts_with("Rate limit reached"),
            "{}",
            err.message
        );
        assert_eq!(header(&err, "retry-after"), Some("60"));
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        let info = |ms| RateInfo {
            limit: 1,
            remaining: 0,
            resets_in: Duration::from_millis(ms),
        };
        assert_eq!(info(0).retry_after(), 1);
        assert_eq!(info(1).retry_after(), 1);
        assert_eq!(info(1000).retry_after(), 1);
        assert_eq!(info(1001).retry_after(), 2);
    }
}
