//! What the handlers share, and the operations that span several concerns. The domain files
//! each own their data; this one puts the mutable part behind one mutex, because a submission
//! must check the rate limit and the balance and charge as one step, and the poll that ends a
//! video must free its slot and refund a failure as one step. The lock is never held across an
//! `.await`.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use ring::rand::SystemRandom;
use time::{Date, OffsetDateTime};

use super::auth::{KeyRing, WorkspaceId};
use super::billing::Wallet;
use super::catalog::{Catalog, Kind};
use super::config::Config;
use super::error::{ApiError, Errors};
use super::media::{self, Signer};
use super::money::Usd;
use super::params::{ImageParams, VideoParams};
use super::rate_limit::Limiter;
use super::triggers::Triggers;
use super::videos::{Settlement, Submission, VideoView, Videos};

/// An image generation that was accepted and charged.
#[derive(Debug, Clone)]
pub(crate) struct ImageCharge {
    pub billable_unit: String,
    pub unit_price: Usd,
    pub deletes_at: OffsetDateTime,
}

/// One workspace's mutable state.
struct Workspace {
    wallet: Wallet,
    limiter: Limiter,
}

/// Everything that changes while the server runs.
struct Ledger {
    /// Indexed by [`WorkspaceId`].
    workspaces: Vec<Workspace>,
    videos: Videos,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub catalog: Catalog,
    pub errors: Errors,
    pub signer: Signer,
    pub rng: SystemRandom,
    pub triggers: Triggers,
    pub keys: KeyRing,
    file_ttl: Duration,
    ledger: Mutex<Ledger>,
}

impl Shared {
    pub(crate) fn new(config: &Config, catalog: Catalog, errors: Errors) -> std::io::Result<Self> {
        let rng = SystemRandom::new();
        let signer = Signer::new(&rng)?;
        let (keys, active) = KeyRing::new(config.accounts());
        let workspaces = active
            .into_iter()
            .map(|account| Workspace {
                wallet: Wallet::new(account.balance),
                limiter: Limiter::new(account.limits, config.rate_window),
            })
            .collect();
        let videos = Videos::new(config.video_advance, config.video_hold, config.file_ttl);
        Ok(Shared {
            catalog,
            errors,
            signer,
            rng,
            triggers: Triggers::new(config.triggers),
            keys,
            file_ttl: config.file_ttl,
            ledger: Mutex::new(Ledger { workspaces, videos }),
        })
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // A panic never happens while the lock is held (no request data is unwrapped under it),
        // but if one did, the ledger is still consistent enough to keep serving.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rate-limit headers of a workspace's window for `kind`, without counting a request.
    pub(crate) fn rate_headers(&self, ws: WorkspaceId, kind: Kind) -> HeaderMap {
        let now = Instant::now();
        match self.ledger().workspaces.get_mut(ws) {
            Some(w) => w.limiter.peek(kind, now).headers(),
            None => HeaderMap::new(),
        }
    }

    /// Steps 6 to 8 of a submission, in the documented order: the rate limits, the balance,
    /// the content policy. Once past step 6 the request counts against its window, and every
    /// later error carries the window's headers. On success `accept` runs under the same lock,
    /// so the charge is made against the balance just checked; returns the headers for the
    /// response and what `accept` returned.
    fn submit<T>(
        &self,
        ws: WorkspaceId,
        kind: Kind,
        prompt: &str,
        cost: Usd,
        now: Instant,
        accept: impl FnOnce(&mut Workspace, &mut Videos) -> T,
    ) -> Result<(HeaderMap, T), ApiError> {
        let mut ledger = self.ledger();
        let Ledger { workspaces, videos } = &mut *ledger;
        let Some(w) = workspaces.get_mut(ws) else {
            return Err(ApiError::invalid_api_key());
        };
        let headers = w.limiter.admit(kind, now)?.headers();
        w.wallet
            .afford(cost)
            .and_then(|()| self.triggers.content_policy(prompt))
            .map_err(|e| e.with_headers(&headers))?;
        Ok((headers, accept(w, videos)))
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
        let (headers, deletes_at) = self.submit(
            ws,
            Kind::Image,
            &params.prompt,
            price.unit_price,
            now,
            |w, _| {
                let now_utc = OffsetDateTime::now_utc();
                w.wallet.charge(price.unit_price, now_utc.date());
                now_utc + self.file_ttl
            },
        )?;
        Ok((
            headers,
            ImageCharge {
                billable_unit: price.billable_unit.to_owned(),
                unit_price: price.unit_price,
                deletes_at,
            },
        ))
    }

    /// Submit a video generation; it starts pending and holds a concurrency slot. Returns the
    /// headers and the video's id.
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
        self.submit(ws, Kind::Video, &params.prompt, cost, now, |w, videos| {
            let now_utc = OffsetDateTime::now_utc();
            let (width, height) = media::dimensions(&params.aspect_ratio, &params.resolution);
            let spec = Submission {
                workspace: ws,
                model: params.model.id.clone(),
                width,
                height,
                duration: params.duration,
                sound: params.sound,
                outcome: self.triggers.video_outcome(&params.prompt),
                billable_unit: price.billable_unit.to_owned(),
                unit_price: price.unit_price,
                charge: w.wallet.charge(cost, now_utc.date()),
            };
            let id = videos.submit(|| media::generation_id(&self.rng), spec, now, now_utc);
            w.limiter.hold(id.clone(), now + videos.slot_hold());
            id
        })
    }

    /// One poll of a video (see [`Videos::poll`]). The poll that ends a video frees its
    /// concurrency slot and, if it failed, refunds it.
    pub(crate) fn poll_video(&self, ws: WorkspaceId, id: &str) -> Option<VideoView> {
        let now = Instant::now();
        let mut ledger = self.ledger();
        let Ledger { workspaces, videos } = &mut *ledger;
        let poll = videos.poll(ws, id, now, OffsetDateTime::now_utc())?;
        if let Some(settlement) = poll.ended
            && let Some(w) = workspaces.get_mut(ws)
        {
            w.limiter.release(id);
            if let Settlement::Refund(charge) = settlement {
                w.wallet.refund(charge);
            }
        }
        Some(poll.view)
    }

    /// The workspace balance.
    pub(crate) fn balance(&self, ws: WorkspaceId) -> Usd {
        self.ledger()
            .workspaces
            .get(ws)
            .map_or(Usd::ZERO, |w| w.wallet.balance())
    }

    /// Charges per UTC day from `first` to `last`, inclusive, zeros included.
    pub(crate) fn costs(&self, ws: WorkspaceId, first: Date, last: Date) -> Vec<(Date, Usd)> {
        self.ledger()
            .workspaces
            .get(ws)
            .map_or_else(Vec::new, |w| w.wallet.costs(first, last))
    }
}
