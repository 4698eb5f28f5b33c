//! The asynchronous video lifecycle: accepted `pending`, terminal on a later poll (after a
//! number of polls or some time, per [`VideoAdvance`]), never changing after that, forgotten
//! once its files expire. Everything about a video is decided at submission, so a poll only
//! moves it along. The caller passes the clock, and acts on the poll that ends a video: that
//! is when its concurrency slot goes and a failure is refunded.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use super::auth::WorkspaceId;
use super::billing::Charge;
use super::config::VideoAdvance;
use super::error::Code;
use super::money::Usd;

/// How an accepted video will end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Completed,
    Failed(Code, &'static str),
}

/// A video as accepted: everything about it is known by then.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    pub workspace: WorkspaceId,
    pub model: String,
    pub width: u32,
    pub height: u32,
    pub duration: u32,
    pub sound: bool,
    pub outcome: Outcome,
    pub billable_unit: String,
    pub unit_price: Usd,
    /// What the submission cost, given back if the video fails.
    pub charge: Charge,
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

/// One poll's result.
#[derive(Debug)]
pub(crate) struct Poll {
    pub view: VideoView,
    /// Set only on the poll that ended the video.
    pub ended: Option<Settlement>,
}

/// What the rest of the workspace owes a video that just ended (beyond freeing its slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settlement {
    /// It completed: the charge stands.
    Keep,
    /// It failed: a failed generation is not billed.
    Refund(Charge),
}

struct Video {
    spec: Submission,
    submitted: Instant,
    polls: u32,
    /// Set when the video reached its terminal status: when its files expire.
    finished: Option<OffsetDateTime>,
}

/// Every video the server remembers, and when videos advance.
pub(crate) struct Videos {
    advance: VideoAdvance,
    hold: Duration,
    file_ttl: Duration,
    by_id: HashMap<String, Video>,
}

impl Videos {
    /// `hold` is the longest a pending video keeps a concurrency slot; `file_ttl` how long a
    /// finished video's files (and so the video) live.
    pub(crate) fn new(advance: VideoAdvance, hold: Duration, file_ttl: Duration) -> Self {
        Videos {
            advance,
            hold,
            file_ttl,
            by_id: HashMap::new(),
        }
    }

    /// How long a video just accepted keeps its workspace's concurrency slot if nobody polls
    /// it to its end: until it is due, at most the hold.
    pub(crate) fn slot_hold(&self) -> Duration {
        match self.advance {
            VideoAdvance::After(after) => after.min(self.hold),
            VideoAdvance::Polls(_) => self.hold,
        }
    }

    /// Remember an accepted video under a fresh id from `new_id` (asked again in the
    /// astronomically unlikely case of a clash), and return the id.
    pub(crate) fn submit(
        &mut self,
        mut new_id: impl FnMut() -> String,
        spec: Submission,
        now: Instant,
        now_utc: OffsetDateTime,
    ) -> String {
        self.prune(now, now_utc);
        let mut id = new_id();
        while self.by_id.contains_key(&id) {
            id = new_id();
        }
        let video = Video {
            spec,
            submitted: now,
            polls: 0,
            finished: None,
        };
        self.by_id.insert(id.clone(), video);
        id
    }

    /// One poll of a video: counts it, ends the video when its time has come, and says what
    /// the client sees. Unknown ids and other workspaces' videos are `None` (not found).
    pub(crate) fn poll(
        &mut self,
        ws: WorkspaceId,
        id: &str,
        now: Instant,
        now_utc: OffsetDateTime,
    ) -> Option<Poll> {
        let video = self.by_id.get_mut(id).filter(|v| v.spec.workspace == ws)?;
        video.polls = video.polls.saturating_add(1);
        let mut ended = None;
        let deletes_at = match video.finished {
            Some(at) => at,
            None => {
                let due = match self.advance {
                    VideoAdvance::Polls(n) => video.polls >= n,
                    VideoAdvance::After(after) => now.duration_since(video.submitted) >= after,
                };
                if !due {
                    return Some(Poll {
                        view: VideoView::Pending,
                        ended: None,
                    });
                }
                ended = Some(match video.spec.outcome {
                    Outcome::Completed => Settlement::Keep,
                    Outcome::Failed(..) => Settlement::Refund(video.spec.charge),
                });
                *video.finished.insert(now_utc + self.file_ttl)
            }
        };
        let spec = &video.spec;
        let view = match spec.outcome {
            Outcome::Failed(code, message) => VideoView::Failed(code, message),
            Outcome::Completed => VideoView::Completed(Box::new(CompletedVideo {
                model: spec.model.clone(),
                width: spec.width,
                height: spec.height,
                duration: spec.duration,
                sound: spec.sound,
                deletes_at,
                billable_unit: spec.billable_unit.clone(),
                unit_price: spec.unit_price,
                total: spec.charge.amount,
            })),
        };
        Some(Poll { view, ended })
    }

    /// Forget videos whose files have expired, and pending videos older than the file
    /// lifetime, so a long-running server does not grow without bound. Runs on every 1024th
    /// submission.
    fn prune(&mut self, now: Instant, now_utc: OffsetDateTime) {
        if self.by_id.len() % 1024 != 1023 {
            return;
        }
        let ttl = self.file_ttl;
        self.by_id.retain(|_, v| match v.finished {
            Some(deletes_at) => deletes_at > now_utc,
            None => now.duration_since(v.submitted) < ttl,
        });
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const HOLD: Duration = Duration::from_secs(60);
    const TTL: Duration = Duration::from_secs(24 * 60 * 60);
    const NOON: OffsetDateTime = datetime!(2026-05-01 12:00 UTC);

    fn spec(workspace: WorkspaceId, outcome: Outcome) -> Submission {
        Submission {
            workspace,
            model: "seedance-v1-pro".into(),
            width: 1920,
            height: 1080,
            duration: 5,
            sound: false,
            outcome,
            billable_unit: "second".into(),
            unit_price: Usd::from_micros(50_000),
            charge: Charge {
                amount: Usd::from_micros(250_000),
                day: NOON.date(),
            },
        }
    }

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("req-{n}")
        }
    }

    #[test]
    fn pending_until_the_nth_poll_then_completed_for_good() {
        let mut videos = Videos::new(VideoAdvance::Polls(2), HOLD, TTL);
        let now = Instant::now();
        let id = videos.submit(counter(), spec(0, Outcome::Completed), now, NOON);
        let first = videos.poll(0, &id, now, NOON).unwrap();
        assert!(matches!(first.view, VideoView::Pending));
        assert_eq!(first.ended, None);
        let second = videos.poll(0, &id, now, NOON).unwrap();
        assert_eq!(second.ended, Some(Settlement::Keep));
        let VideoView::Completed(done) = second.view else {
            panic!("{:?}", second.view)
        };
        assert_eq!(done.deletes_at, NOON + TTL);
        assert_eq!(done.total, Usd::from_micros(250_000));
        // Later polls see the same video, and do not end it again.
        let third = videos.poll(0, &id, now, NOON + HOLD).unwrap();
        assert_eq!(third.ended, None);
        assert!(matches!(third.view, VideoView::Completed(v) if v.deletes_at == NOON + TTL));
    }

    #[test]
    fn a_failing_video_ends_failed_and_asks_for_its_refund() {
        let mut videos = Videos::new(VideoAdvance::Polls(1), HOLD, TTL);
        let now = Instant::now();
        let outcome = Outcome::Failed(Code::ServerError, "Upstream provider request timed out.");
        let id = videos.submit(counter(), spec(0, outcome), now, NOON);
        let poll = videos.poll(0, &id, now, NOON).unwrap();
        assert!(matches!(
            poll.view,
            VideoView::Failed(Code::ServerError, "Upstream provider request timed out.")
        ));
        assert_eq!(
            poll.ended,
            Some(Settlement::Refund(spec(0, outcome).charge))
        );
    }

    #[test]
    fn with_after_a_video_is_due_by_time_not_polls() {
        let after = Duration::from_secs(5);
        let mut videos = Videos::new(VideoAdvance::After(after), HOLD, TTL);
        let t0 = Instant::now();
        let id = videos.submit(counter(), spec(0, Outcome::Completed), t0, NOON);
        for _ in 0..3 {
            let early = videos
                .poll(0, &id, t0 + Duration::from_secs(4), NOON)
                .unwrap();
            assert!(matches!(early.view, VideoView::Pending));
        }
        let due = videos.poll(0, &id, t0 + after, NOON).unwrap();
        assert!(matches!(due.view, VideoView::Completed(_)));
        assert_eq!(videos.slot_hold(), after);
        assert_eq!(
            Videos::new(VideoAdvance::After(HOLD * 2), HOLD, TTL).slot_hold(),
            HOLD
        );
    }

    #[test]
    fn other_workspaces_and_unknown_ids_are_not_found() {
        let mut videos = Videos::new(VideoAdvance::Polls(2), HOLD, TTL);
        let now = Instant::now();
        let id = videos.submit(counter(), spec(0, Outcome::Completed), now, NOON);
        assert!(videos.poll(1, &id, now, NOON).is_none());
        assert!(videos.poll(0, "req-unknown", now, NOON).is_none());
    }

    #[test]
    fn stale_videos_are_forgotten_as_submissions_pile_up() {
        let mut videos = Videos::new(VideoAdvance::Polls(1), HOLD, TTL);
        let mut ids = counter();
        let t0 = Instant::now();
        let pending = videos.submit(&mut ids, spec(0, Outcome::Completed), t0, NOON);
        let finished = videos.submit(&mut ids, spec(0, Outcome::Completed), t0, NOON);
        videos.poll(0, &finished, t0, NOON).unwrap();
        for _ in 2..1023 {
            videos.submit(&mut ids, spec(0, Outcome::Completed), t0, NOON);
        }
        // The 1024th submission, a file lifetime later, prunes what has expired.
        videos.submit(&mut ids, spec(0, Outcome::Completed), t0 + TTL, NOON + TTL);
        assert!(videos.poll(0, &pending, t0 + TTL, NOON + TTL).is_none());
        assert!(videos.poll(0, &finished, t0 + TTL, NOON + TTL).is_none());
    }

    #[test]
    fn a_clashing_id_is_drawn_again() {
        let mut videos = Videos::new(VideoAdvance::Polls(2), HOLD, TTL);
        let now = Instant::now();
        let same = || "req-same".to_owned();
        assert_eq!(
            videos.submit(same, spec(0, Outcome::Completed), now, NOON),
            "req-same"
        );
        let mut draws = ["req-same", "req-same", "req-other"].into_iter();
        let id = videos.submit(
            || draws.next().unwrap().to_owned(),
            spec(0, Outcome::Completed),
            now,
            NOON,
        );
        assert_eq!(id, "req-other");
    }
}
