//! The documented triggers, for what a client cannot cause on purpose.

use errcontract::reference::Config;
use serde_json::json;

use super::{Api, image_body, video_body, with};

const POLICY: &str = "a cat, errcontract-trigger:content-policy";

#[tokio::test]
async fn the_fault_header_makes_any_endpoint_a_server_error() {
    let api = Api::start().await;
    let valid = api.keys.valid.clone();
    let requests = [
        api.client.get(api.url("/v2/models")).bearer_auth(&valid),
        api.client.get(api.url("/v2/models/seedream-5-lite")),
        api.client
            .get(api.url("/v2/billing/balance"))
            .bearer_auth("sk_unknown"),
        api.client
            .get(api.url("/v2/videos/generations/req-NOPE"))
            .bearer_auth(&valid),
        api.client.get(api.url("/v2/nope")),
        api.client.delete(api.url("/v2/models")),
        api.client
            .post(api.url("/v2/images/generations"))
            .bearer_auth(&valid)
            .header("content-type", "application/json")
            .body(image_body().to_string()),
        api.client
            .post(api.url("/v2/videos/generations"))
            .bearer_auth(&valid)
            .body("not json"),
    ];
    for request in requests {
        let reply = api
            .send(request.header("X-Errcontract-Fault", "server_error"))
            .await;
        reply.assert_error("server_error", None);
        assert!(!reply.has_rate_headers());
    }
    // Nothing was generated or charged.
    assert_eq!(api.balance().await, "1000.00");
}

#[tokio::test]
async fn other_fault_values_do_nothing() {
    let api = Api::start().await;
    let request = api
        .client
        .get(api.url("/v2/models"))
        .bearer_auth(&api.keys.valid)
        .header("X-Errcontract-Fault", "rate_limit");
    assert_eq!(api.send(request).await.status, 200);
}

#[tokio::test]
async fn the_content_policy_term_is_refused_at_submission() {
    let api = Api::start().await;
    let reply = api.image(with(image_body(), "prompt", json!(POLICY))).await;
    reply.assert_error("content_policy_violation", Some("prompt"));
    assert!(reply.has_rate_headers());
    let reply = api.video(with(video_body(), "prompt", json!(POLICY))).await;
    reply.assert_error("content_policy_violation", Some("prompt"));
    // Refused generations are not charged.
    assert_eq!(api.balance().await, "1000.00");
}

#[tokio::test]
async fn balance_is_checked_before_the_content_policy() {
    let api = Api::start().await;
    let body = with(image_body(), "prompt", json!(POLICY));
    api.post(
        "/v2/images/generations",
        &api.keys.zero_balance.clone(),
        &body,
    )
    .await
    .assert_error("quota_exceeded", None);
}

#[tokio::test]
async fn a_video_can_fail_after_submission() {
    let api = Api::start().await;
    let video_failure = super::contract();
    let prompt = "a storm, errcontract-trigger:video-failure";
    let id = api
        .submit_video(with(video_body(), "prompt", json!(prompt)))
        .await;
    assert_eq!(api.balance().await, "999.75");
    assert_eq!(api.poll(&id).await.body["status"], "pending");
    let failed = api.poll(&id).await;
    assert_eq!(failed.status, 200);
    assert_eq!(
        failed.body,
        json!({
            "id": id,
            "status": "failed",
            "error": { "code": "server_error", "message": "Upstream provider request timed out." },
        })
    );
    assert!(video_failure.video_failure.is_valid(&failed.body));
    // Failed generations are refunded.
    assert_eq!(api.balance().await, "1000.00");
    assert_eq!(api.poll(&id).await.body, failed.body);
}

#[tokio::test]
async fn a_video_can_fail_moderation_after_submission() {
    let api = Api::start().await;
    let prompt = "errcontract-trigger:video-moderation";
    let id = api
        .submit_video(with(video_body(), "prompt", json!(prompt)))
        .await;
    api.poll(&id).await;
    let failed = api.poll(&id).await;
    assert_eq!(failed.body["status"], "failed");
    assert_eq!(failed.body["error"]["code"], "content_policy_violation");
    assert!(super::contract().video_failure.is_valid(&failed.body));
}

#[tokio::test]
async fn triggers_can_be_turned_off() {
    let api = Api::start_with(Config {
        triggers: false,
        ..Config::default()
    })
    .await;
    let request = api
        .client
        .get(api.url("/v2/models"))
        .bearer_auth(&api.keys.valid)
        .header("X-Errcontract-Fault", "server_error");
    assert_eq!(api.send(request).await.status, 200);
    let reply = api.image(with(image_body(), "prompt", json!(POLICY))).await;
    assert_eq!(reply.status, 200);
    let id = api
        .submit_video(with(
            video_body(),
            "prompt",
            json!("errcontract-trigger:video-failure"),
        ))
        .await;
    api.poll(&id).await;
    assert_eq!(api.poll(&id).await.body["status"], "completed");
}
