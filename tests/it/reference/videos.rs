//! `POST /v2/videos/generations` and polling: the lifecycle and the video-only rules.

use std::time::Duration;

use errcontract::reference::{Config, VideoAdvance};
use serde_json::{Value, json};

use super::{Api, video_body, with};

#[tokio::test]
async fn a_video_is_pending_once_then_completed() {
    let api = Api::start().await;
    let reply = api.video(video_body()).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.body, json!({ "id": id, "status": "pending" }));

    let first = api.poll(&id).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, json!({ "id": id, "status": "pending" }));

    let second = api.poll(&id).await;
    assert_eq!(second.status, 200);
    let body = &second.body;
    assert_eq!(body["status"], "completed", "{body}");
    assert_eq!(body["model"], "seedance-v1-pro");
    let item = &body["data"][0];
    // The documented defaults: 16:9, 1080p, 5 s, no sound.
    assert_eq!(item["width"], 1920);
    assert_eq!(item["height"], 1080);
    assert_eq!(item["duration"], 5);
    assert_eq!(item["fps"], 24);
    assert_eq!(item["has_sound"], false);
    assert_eq!(item["mime_type"], "video/mp4");
    assert!(item["deletes_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        body["usage"],
        json!({ "total_cost": 0.25, "billable_unit": "video_second", "unit_price": 0.05, "quantity": 5 })
    );
    // Terminal is terminal: later polls say the same.
    assert_eq!(api.poll(&id).await.body, second.body);
    let file = api
        .send(api.client.get(item["url"].as_str().unwrap()))
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(file.header("content-type"), Some("video/mp4"));
}

#[tokio::test]
async fn sound_and_frames_on_seedance_1_5() {
    let api = Api::start().await;
    let id = api
        .submit_video(json!({
            "model": "seedance-v1-5-pro",
            "prompt": "sunrise to dusk over a harbour",
            "aspect_ratio": "9:16",
            "resolution": "720p",
            "duration": 10,
            "sound": true,
            "images": [
                { "url": "https://example.com/first.png", "role": "first_frame" },
                { "url": "https://example.com/last.png", "role": "last_frame" },
                { "url": "https://example.com/ref.png", "role": "reference_image" },
            ],
        }))
        .await;
    api.poll(&id).await;
    let done = api.poll(&id).await;
    let item = &done.body["data"][0];
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(720), Some(1280))
    );
    assert_eq!(item["has_sound"], true);
    assert_eq!(done.body["usage"]["total_cost"], 0.3);
    assert_eq!(api.balance().await, "999.70");
}

#[tokio::test]
async fn video_parameter_rules() {
    let api = Api::start().await;
    let frame = |role: &str| json!({ "url": "https://example.com/f.png", "role": role });
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "prompt": "x" }), "parameter_missing", "model"),
        (
            json!({ "model": "seedance-v1-pro" }),
            "parameter_missing",
            "prompt",
        ),
        (
            with(video_body(), "model", json!("seedream-5-lite")),
            "invalid_parameter",
            "model",
        ),
        (
            with(video_body(), "output_format", json!("png")),
            "invalid_parameter",
            "output_format",
        ),
        (
            with(video_body(), "duration", json!("5")),
            "invalid_parameter",
            "duration",
        ),
        (
            with(video_body(), "duration", json!(5.0)),
            "invalid_parameter",
            "duration",
        ),
        (
            with(video_body(), "duration", json!(7)),
            "invalid_parameter",
            "duration",
        ),
        (
            with(video_body(), "duration", json!(-5)),
            "invalid_parameter",
            "duration",
        ),
        (
            with(video_body(), "resolution", json!("4K")),
            "invalid_parameter",
            "resolution",
        ),
        (
            with(video_body(), "sound", json!("yes")),
            "invalid_parameter",
            "sound",
        ),
        (
            with(video_body(), "sound", json!(true)),
            "invalid_parameter",
            "sound",
        ),
        (
            with(
                video_body(),
                "images",
                json!([{ "url": "https://example.com/f.png" }]),
            ),
            "parameter_missing",
            "images[0].role",
        ),
        (
            with(video_body(), "images", json!([frame("last_frame")])),
            "invalid_parameter",
            "images[0].role",
        ),
        (
            with(video_body(), "images", json!([frame("bogus")])),
            "invalid_parameter",
            "images[0].role",
        ),
        (
            with(
                video_body(),
                "images",
                json!([frame("first_frame"), frame("first_frame")]),
            ),
            "invalid_parameter",
            "images",
        ),
        (
            with(
                with(video_body(), "model", json!("seedance-v1-5-pro")),
                "images",
                json!([
                    frame("first_frame"),
                    frame("last_frame"),
                    frame("last_frame")
                ]),
            ),
            "invalid_parameter",
            "images[2].role",
        ),
        (
            with(video_body(), "images", json!(vec![frame("first_frame"); 9])),
            "invalid_parameter",
            "images",
        ),
    ];
    for (body, code, param) in cases {
        api.video(body).await.assert_error(code, Some(param));
    }
    let reply = api.video(with(video_body(), "duration", json!(7))).await;
    assert_eq!(
        reply.message(),
        "Unsupported duration '7' for model 'seedance-v1-pro'."
    );
    let reply = api.video(with(video_body(), "sound", json!(true))).await;
    assert_eq!(
        reply.message(),
        "Unsupported sound 'true' for model 'seedance-v1-pro'."
    );
    // sound: false is always fine, and 10 s is one of its durations.
    let ok = with(
        with(video_body(), "sound", json!(false)),
        "duration",
        json!(10),
    );
    assert_eq!(api.video(ok).await.status, 202);
}

#[tokio::test]
async fn unknown_and_foreign_ids_are_not_found() {
    let api = Api::start().await;
    let reply = api.poll("req-01HXYZVIDEO1234").await;
    reply.assert_error("not_found", Some("id"));
    assert!(reply.message().contains("req-01HXYZVIDEO1234"));
    // Another workspace's video does not exist for this key.
    let id = api.submit_video(video_body()).await;
    let other = api.keys.zero_balance.clone();
    api.get(&format!("/v2/videos/generations/{id}"), Some(&other))
        .await
        .assert_error("not_found", Some("id"));
}

#[tokio::test]
async fn videos_can_finish_on_the_first_poll() {
    let api = Api::start_with(Config {
        video_advance: VideoAdvance::Polls(1),
        ..Config::default()
    })
    .await;
    let id = api.submit_video(video_body()).await;
    assert_eq!(api.poll(&id).await.body["status"], "completed");
}

#[tokio::test]
async fn videos_can_finish_after_a_time() {
    let api = Api::start_with(Config {
        video_advance: VideoAdvance::After(Duration::from_millis(80)),
        ..Config::default()
    })
    .await;
    let id = api.submit_video(video_body()).await;
    assert_eq!(api.poll(&id).await.body["status"], "pending");
    assert_eq!(api.poll(&id).await.body["status"], "pending");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(api.poll(&id).await.body["status"], "completed");
}
