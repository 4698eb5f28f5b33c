//! Accounts, balances, rate limits and the video lifecycle: everything that changes while the
//! server runs, behind one mutex that is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, request::Parts};
use ring::rand::SystemRandom;
use time::{Date, OffsetDateTime};

use super::catalog::{Catalog, Kind};
use super::error::{ApiError, BILLING_DOC_URL, Code, Errors, RATE_LIMIT_DOC_URL};
use super::media::{self, Signer};
use super::money::Usd;
use super::params::{ImageParams, VideoParams};
use super::{
    CONTENT_POLICY_TERM, Config, Limits, VIDEO_FAILURE_TERM, VIDEO_MODERATION_TERM, VideoAdvance,
};

/// Index of a workspace (one per configured account).
pub(crate) type WorkspaceId = usize;

const LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The documented concurrency message.
const CONCURRENCY_MESSAGE: &str =
    "Too many concurrent requests. Please wait for current requests to finish.";
/// How long a client should wait after a concurrency 429: slots free up as videos finish.
const CONCURRENCY_RETRY_AFTER_SECS: u64 = 1;

pub(crate) const VIDEO_FAILURE_MESSAGE: &str = "Upstream provider request timed out.";
pub(crate) const VIDEO_MODERATION_MESSAGE: &str =
    "The generated video was flagged by content moderation.";

/// How an accepted video will end, decided from its prompt at submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Failed(Code, &'static str),
}

/// What a poll sees.
#[derive(Debug, Clone)]
pub(crate) enum VideoView {
    Pending,
    Completed(Box<CompletedVideo>),
    Failed(Code, &'static str),
}

/// A finished video, enough to render the poll body.
#[derive(Debug, Clone)]
pub(crate) struct CompletedVideo {
    pub model: String,
    pub width: u32,
    pub height: u32,
    pub duration: u32,
    pub sound: bool,
    pub deletes_at: OffsetDateTime,
    pub billable_unit: String,
    pub unit_price: Usd,
    pub total: Usd,
}

/// An image generation that was accepted and charged.
#[derive(Debug, Clone)]
pub(crate) struct ImageCharge {
    pub billable_unit: String,
    pub unit_price: Usd,
    pub deletes_at: OffsetDateTime,
}

/// Rate-limit window state as the headers report it.
#[derive(Debug, Clone, Copy)]
struct RateInfo {
    limit: u32,
    remaining: u32,
    /// Unix seconds at which the window resets (rounded up).
    reset_unix: u64,
    /// Whole seconds until then, at least 1.
    retry_after: u64,
}

impl RateInfo {
    fn headers(self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(LIMIT, HeaderValue::from(self.limit));
        h.insert(REMAINING, HeaderValue::from(self.remaining));
        h.insert(RESET, HeaderValue::from(self.reset_unix));
        h
    }
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
        let left = (start + len).saturating_duration_since(now);
        let left_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        RateInfo {
            limit,
            remaining: limit.saturating_sub(self.count),
            reset_unix: unix_secs_after(left),
            retry_after: left_secs.max(1),
        }
    }
}

/// Unix seconds `d` from now, rounded up: the absolute form `X-RateLimit-Reset` uses.
fn unix_secs_after(d: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (now + d).as_secs_f64().ceil() as u64
}

struct Workspace {
    balance: Usd,
    limits: Limits,
    image: Window,
    video: Window,
    /// Videos holding a concurrency slot, with the instant they let go of it at the latest.
    held: HashMap<String, Instant>,
    /// Charges per UTC day, for `GET /v2/billing/costs`.
    costs: BTreeMap<Date, Usd>,
}

struct Video {
    workspace: WorkspaceId,
    model: String,
    width: u32,
    height: u32,
    duration: u32,
    sound: bool,
    outcome: Outcome,
    submitted: Instant,
    polls: u32,
    billable_unit: String,
    unit_price: Usd,
    cost: Usd,
    charged_on: Date,
    /// Set when the video reached its terminal status: when its files expire.
    finished: Option<OffsetDateTime>,
}

struct Ledger {
    workspaces: Vec<Workspace>,
    videos: HashMap<String, Video>,
}

enum Slot {
    Active(WorkspaceId),
    Revoked,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub catalog: Catalog,
    pub errors: Errors,
    pub signer: Signer,
    pub rng: SystemRandom,
    pub triggers: bool,
    rate_window: Duration,
    video_advance: VideoAdvance,
    video_hold: Duration,
    file_ttl: Duration,
    keys: HashMap<String, Slot>,
    ledger: Mutex<Ledger>,
}

impl Shared {
    pub(crate) fn new(config: &Config, catalog: Catalog, errors: Errors) -> std::io::Result<Self> {
        let rng = SystemRandom::new();
        let signer = Signer::new(&rng)?;
        let mut keys = HashMap::new();
        let mut workspaces = Vec::new();
        for account in config.accounts() {
            let slot = if account.revoked {
                Slot::Revoked
            } else {
                workspaces.push(Workspace {
                    balance: account.balance,
                    limits: account.limits,
                    image: Window::default(),
                    video: Window::default(),
                    held: HashMap::new(),
                    costs: BTreeMap::new(),
                });
                Slot::Active(workspaces.len() - 1)
            };
            keys.insert(account.key.clone(), slot);
        }
        Ok(Shared {
            catalog,
            errors,
            signer,
            rng,
            triggers: config.triggers,
            rate_window: config.rate_window,
            video_advance: config.video_advance,
            video_hold: config.video_hold,
            file_ttl: config.file_ttl,
            keys,
            ledger: Mutex::new(Ledger {
                workspaces,
                videos: HashMap::new(),
            }),
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic never happens while the lock is held (no request data is unwrapped under it),
        // but if one did, the ledger is still consistent enough to keep serving.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The workspace of a request's key. Every failure is the same documented 401.
    pub(crate) fn authenticate(&self, parts: &Parts) -> Result<WorkspaceId, ApiError> {
        let mut values = parts.headers.get_all(AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::invalid_api_key());
        };
        let value = value.to_str().map_err(|_| ApiError::invalid_api_key())?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or_else(ApiError::invalid_api_key)?;
        let token = token.trim();
        if !scheme.eq_ignore_ascii_case("bearer") || !token.starts_with("sk_") || token.len() <= 3 {
            return Err(ApiError::invalid_api_key());
        }
        match self.keys.get(token) {
            Some(Slot::Active(ws)) => Ok(*ws),
            Some(Slot::Revoked) | None => Err(ApiError::invalid_api_key()),
        }
    }

    /// The rate-limit headers of a workspace's window for `kind`, without counting a request.
    pub(crate) fn rate_headers(&self, ws: WorkspaceId, kind: Kind) -> HeaderMap {
        let now = Instant::now();
        let len = self.rate_window;
        let mut ledger = self.ledger();
        let Some(w) = ledger.workspaces.get_mut(ws) else {
            return HeaderMap::new();
        };
        let (window, limit) = match kind {
            Kind::Image => (&mut w.image, w.limits.image_rpm),
            Kind::Video => (&mut w.video, w.limits.video_rpm),
        };
        window.roll(now, len);
        window.info(limit, now, len).headers()
    }

    /// Steps 6 to 8 of a submission: the RPM window, the concurrency limit, the balance, the
    /// content policy. On success returns the rate headers for the response and the still-held
    /// lock, so the caller charges under the same lock the balance was checked under. Every
    /// error carries the rate headers too.
    fn admit(
        &self,
        ws: WorkspaceId,
        kind: Kind,
        prompt: &str,
        cost: Usd,
        now: Instant,
    ) -> Result<(HeaderMap, MutexGuard<'_, Ledger>), ApiError> {
        let len = self.rate_window;
        let mut ledger = self.ledger();
        let Some(w) = ledger.workspaces.get_mut(ws) else {
            return Err(ApiError::invalid_api_key());
        };
        w.held.retain(|_, until| *until > now);
        let in_flight = w.held.len();
        let concurrency = w.limits.concurrency;
        let balance = w.balance;
        let (window, limit, what) = match kind {
            Kind::Image => (&mut w.image, w.limits.image_rpm, "image"),
            Kind::Video => (&mut w.video, w.limits.video_rpm, "video"),
        };
        window.roll(now, len);
        let before = window.info(limit, now, len);
        if window.count >= limit {
            let retry = before.retry_after;
            return Err(ApiError::new(
                Code::RateLimit,
                format!(
                    "Rate limit reached: this workspace may submit {limit} {what} generation \
                     requests per {} seconds. Retry after {retry} seconds.",
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
        // Admitted: from here on the request counts against the window, whatever follows.
        window.count += 1;
        let headers = window.info(limit, now, len).headers();
        if balance < cost {
            return Err(ApiError::new(
                Code::QuotaExceeded,
                format!(
                    "Insufficient balance: this generation costs ${cost} and the workspace \
                     balance is ${balance}. Add credits at https://getimg.ai/app/developer/billing."
                ),
            )
            .doc_url(BILLING_DOC_URL)
            .with_headers(&headers));
        }
        if self.triggers && prompt.contains(CONTENT_POLICY_TERM) {
            return Err(ApiError::new(
                Code::ContentPolicyViolation,
                "Your prompt was flagged by our safety checks. Revise the prompt and try again.",
            )
            .param("prompt")
            .with_headers(&headers));
        }
        Ok((headers, ledger))
    }

    /// Submit an image generation; it completes at once.
    pub(crate) fn submit_image(
        &self,
        ws: WorkspaceId,
        params: &ImageParams<'_>,
    ) -> Result<(HeaderMap, ImageCharge), ApiError> {
        let price = params
            .model
            .price(&params.resolution, None)
            .ok_or_else(|| ApiError::server_error("No price is configured for this model."))?;
        let now = Instant::now();
        let (headers, mut ledger) =
            self.admit(ws, Kind::Image, &params.prompt, price.unit_price, now)?;
        let today = OffsetDateTime::now_utc();
        if let Some(w) = ledger.workspaces.get_mut(ws) {
            charge(w, price.unit_price, today.date());
        }
        drop(ledger);
        Ok((
            headers,
            ImageCharge {
                billable_unit: price.billable_unit.to_owned(),
                unit_price: price.unit_price,
                deletes_at: today + self.file_ttl,
            },
        ))
    }

    /// Submit a video generation; it starts pending and holds a concurrency slot.
    pub(crate) fn submit_video(
        &self,
        ws: WorkspaceId,
        params: &VideoParams<'_>,
    ) -> Result<(HeaderMap, String), ApiError> {
        let price = params
            .model
            .price(&params.resolution, Some(params.sound))
            .ok_or_else(|| ApiError::server_error("No price is configured for this model."))?;
        let cost = price.unit_price.times(u64::from(params.duration));
        let now = Instant::now();
        let (headers, mut ledger) = self.admit(ws, Kind::Video, &params.prompt, cost, now)?;
        let outcome = if !self.triggers {
            Outcome::Completed
        } else if params.prompt.contains(VIDEO_FAILURE_TERM) {
            Outcome::Failed(Code::ServerError, VIDEO_FAILURE_MESSAGE)
        } else if params.prompt.contains(VIDEO_MODERATION_TERM) {
            Outcome::Failed(Code::ContentPolicyViolation, VIDEO_MODERATION_MESSAGE)
        } else {
            Outcome::Completed
        };
        prune(&mut ledger.videos, self.file_ttl);
        // Ids are random; re-draw in the (astronomically unlikely) case of a clash.
        let mut id = media::generation_id(&self.rng);
        while ledger.videos.contains_key(&id) {
            id = media::generation_id(&self.rng);
        }
        let release = match self.video_advance {
            VideoAdvance::After(after) => after.min(self.video_hold),
            VideoAdvance::Polls(_) => self.video_hold,
        };
        let today = OffsetDateTime::now_utc().date();
        if let Some(w) = ledger.workspaces.get_mut(ws) {
            charge(w, cost, today);
            w.held.insert(id.clone(), now + release);
        }
        let (width, height) = media::dimensions(&params.aspect_ratio, &params.resolution);
        ledger.videos.insert(
            id.clone(),
            Video {
                workspace: ws,
                model: params.model.id.clone(),
                width,
                height,
                duration: params.duration,
                sound: params.sound,
                outcome,
                submitted: now,
                polls: 0,
                billable_unit: price.billable_unit.to_owned(),
                unit_price: price.unit_price,
                cost,
                charged_on: today,
                finished: None,
            },
        );
        Ok((headers, id))
    }

    /// One poll of a video: counts the poll, moves the video on when its time has come, and
    /// returns what the client sees. Unknown ids and other workspaces' videos are not found.
    pub(crate) fn poll_video(&self, ws: WorkspaceId, id: &str) -> Option<VideoView> {
        let now = Instant::now();
        let mut ledger = self.ledger();
        let ledger = &mut *ledger;
        let video = ledger.videos.get_mut(id).filter(|v| v.workspace == ws)?;
        video.polls = video.polls.saturating_add(1);
        if video.finished.is_none() {
            let due = match self.video_advance {
                VideoAdvance::Polls(n) => video.polls >= n,
                VideoAdvance::After(after) => now.duration_since(video.submitted) >= after,
            };
            if !due {
                return Some(VideoView::Pending);
            }
            video.finished = Some(OffsetDateTime::now_utc() + self.file_ttl);
            if let Some(w) = ledger.workspaces.get_mut(ws) {
                w.held.remove(id);
                // A failed generation is not billed: the charge made at submission goes back.
                if let Outcome::Failed(..) = video.outcome {
                    refund(w, video.cost, video.charged_on);
                }
            }
        }
        Some(match video.outcome {
            Outcome::Failed(code, message) => VideoView::Failed(code, message),
            Outcome::Completed => VideoView::Completed(Box::new(CompletedVideo {
                model: video.model.clone(),
                width: video.width,
                height: video.height,
                duration: video.duration,
                sound: video.sound,
                deletes_at: video.finished.unwrap_or_else(OffsetDateTime::now_utc),
                billable_unit: video.billable_unit.clone(),
                unit_price: video.unit_price,
                total: video.cost,
            })),
        })
    }

    /// The workspace balance.
    pub(crate) fn balance(&self, ws: WorkspaceId) -> Usd {
        self.ledger()
            .workspaces
            .get(ws)
            .map_or(Usd::ZERO, |w| w.balance)
    }

    /// Charges per UTC day from `first` to `last`, inclusive, zeros included.
    pub(crate) fn costs(&self, ws: WorkspaceId, first: Date, last: Date) -> Vec<(Date, Usd)> {
        let ledger = self.ledger();
        let Some(w) = ledger.workspaces.get(ws) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut day = first;
        while day <= last {
            out.push((day, w.costs.get(&day).copied().unwrap_or(Usd::ZERO)));
            match day.next_day() {
                Some(next) => day = next,
                None => break,
            }
        }
        out
    }
}

/// Forget videos whose files have expired, and pending videos older than the file lifetime, so
/// a long-running server does not grow without bound. Runs on every 1024th submission.
fn prune(videos: &mut HashMap<String, Video>, ttl: Duration) {
    if videos.len() % 1024 != 1023 {
        return;
    }
    let now = OffsetDateTime::now_utc();
    videos.retain(|_, v| match v.finished {
        Some(deletes_at) => deletes_at > now,
        None => v.submitted.elapsed() < ttl,
    });
}

fn charge(w: &mut Workspace, cost: Usd, day: Date) {
    // `admit` checked the balance under the same lock, so this never goes below zero.
    w.balance = w.balance.minus(cost).unwrap_or(Usd::ZERO);
    let slot = w.costs.entry(day).or_default();
    *slot = slot.plus(cost);
}

fn refund(w: &mut Workspace, cost: Usd, day: Date) {
    w.balance = w.balance.plus(cost);
    if let Some(slot) = w.costs.get_mut(&day) {
        *slot = slot.minus(cost).unwrap_or(Usd::ZERO);
    }
}
