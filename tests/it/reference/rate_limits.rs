//! Per-workspace rate limits: the headers, the RPM and concurrency 429s, and what counts.

use std::time::Duration;

use errcontract::reference::{Config, Limits};
use serde_json::json;

use super::{Api, image_body, unix_now, video_body, with};

fn limited(image_rpm: u32, video_rpm: u32, concurrency: u32) -> Config {
    let mut config = Config::default();
    config.valid.limits = Limits {
        image_rpm,
        video_rpm,
        concurrency,
    };
    config
}

#[tokio::test]
async fn generation_responses_carry_the_window_headers() {
    let api = Api::start().await;
    let before = unix_now();
    let reply = api.image(image_body()).await;
    let (limit, remaining, reset) = reply.rate_headers();
    assert_eq!((limit, remaining), (600, 599));
    // Absolute unix seconds, within the 60 s window.
    assert!(reset > before && reset <= unix_now() + 61, "{reset}");
    let reply = api.image(image_body()).await;
    assert_eq!(reply.rate_headers().1, 598);
    // The video window is separate.
    let reply = api.video(video_body()).await;
    assert_eq!(reply.rate_headers().1, 599);
}

#[tokio::test]
async fn errors_after_authentication_carry_the_headers_too() {
    let api = Api::start().await;
    let reply = api
        .image(with(image_body(), "resolution", json!("4K")))
        .await;
    reply.assert_error("invalid_parameter", Some("resolution"));
    // A refused request is not counted.
    let (limit, remaining, _) = reply.rate_headers();
    assert_eq!((limit, remaining), (600, 600));
    let request = api
        .client
        .post(api.url("/v2/videos/generations"))
        .bearer_auth(&api.keys.valid)
        .body("{");
    assert!(api.send(request).await.has_rate_headers());
    let reply = api
        .post(
            "/v2/images/generations",
            &api.keys.zero_balance.clone(),
            &image_body(),
        )
        .await;
    reply.assert_error("quota_exceeded", None);
    assert!(reply.has_rate_headers());
    // Not on 401s, and not on the read-only endpoints.
    assert!(
        !api.post("/v2/images/generations", "sk_x", &image_body())
            .await
            .has_rate_headers()
    );
    assert!(!api.get_valid("/v2/models").await.has_rate_headers());
}

#[tokio::test]
async fn polls_report_the_video_window_without_counting() {
    let api = Api::start().await;
    let id = api.submit_video(video_body()).await;
    for _ in 0..3 {
        let reply = api.poll(&id).await;
        assert_eq!(reply.rate_headers().0, 600);
        assert_eq!(reply.rate_headers().1, 599);
    }
    assert!(api.poll("req-NOPE").await.has_rate_headers());
}

#[tokio::test]
async fn the_image_rpm_gives_429_with_retry_after() {
    let api = Api::start_with(limited(2, 600, 50)).await;
    assert_eq!(api.image(image_body()).await.status, 200);
    assert_eq!(api.image(image_body()).await.rate_headers().1, 0);
    let reply = api.image(image_body()).await;
    reply.assert_error("rate_limit", None);
    let (limit, remaining, reset) = reply.rate_headers();
    assert_eq!((limit, remaining), (2, 0));
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(
        reset >= unix_now() && reset <= unix_now() + retry + 1,
        "{reset} {retry}"
    );
    assert_eq!(
        reply.body["error"]["doc_url"],
        "https://docs.getimg.ai/guides/rate-limits"
    );
    // The video RPM is counted separately.
    assert_eq!(api.video(video_body()).await.status, 202);
    // Rate limited requests are not charged.
    assert_eq!(api.balance().await, "999.68");
}

#[tokio::test]
async fn the_video_rpm_gives_429() {
    let api = Api::start_with(limited(600, 1, 50)).await;
    assert_eq!(api.video(video_body()).await.status, 202);
    api.video(video_body())
        .await
        .assert_error("rate_limit", None);
    assert_eq!(api.image(image_body()).await.status, 200);
}

#[tokio::test]
async fn pending_videos_hold_the_concurrency_limit_until_they_finish() {
    let api = Api::start_with(limited(600, 600, 1)).await;
    let id = api.submit_video(video_body()).await;
    let reply = api.video(video_body()).await;
    reply.assert_error("rate_limit", None);
    assert_eq!(
        reply.message(),
        "Too many concurrent requests. Please wait for current requests to finish."
    );
    // Images count too: the slot is taken.
    api.image(image_body())
        .await
        .assert_error("rate_limit", None);
    api.poll(&id).await;
    assert_eq!(api.poll(&id).await.body["status"], "completed");
    assert_eq!(api.video(video_body()).await.status, 202);
}

#[tokio::test]
async fn the_throttled_key_is_always_429() {
    let api = Api::start().await;
    let key = api.keys.throttled.clone();
    for path in ["/v2/images/generations", "/v2/videos/generations"] {
        let body = if path.contains("images") {
            image_body()
        } else {
            video_body()
        };
        let reply = api.post(path, &key, &body).await;
        reply.assert_error("rate_limit", None);
        assert_eq!(reply.rate_headers().0, 0);
    }
    // Reads are not limited.
    assert_eq!(api.get("/v2/models", Some(&key)).await.status, 200);
}

#[tokio::test]
async fn validation_errors_do_not_use_up_the_window() {
    let api = Api::start_with(limited(1, 600, 50)).await;
    for _ in 0..3 {
        api.image(json!({}))
            .await
            .assert_error("parameter_missing", Some("model"));
    }
    assert_eq!(api.image(image_body()).await.status, 200);
}

#[tokio::test]
async fn the_window_resets() {
    let mut config = limited(1, 600, 50);
    config.rate_window = Duration::from_millis(250);
    let api = Api::start_with(config).await;
    assert_eq!(api.image(image_body()).await.status, 200);
    api.image(image_body())
        .await
        .assert_error("rate_limit", None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.image(image_body()).await.status, 200);
}
