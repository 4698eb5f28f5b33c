//! Authentication: every failure is the same documented 401.

use serde_json::json;

use super::{Api, image_body};

const MESSAGE: &str = "Incorrect API key provided. You can manage your API keys at https://getimg.ai/app/developer/api-keys";
const DOC_URL: &str = "https://docs.getimg.ai/guides/authentication";

#[tokio::test]
async fn every_bad_authorization_is_the_documented_401() {
    let api = Api::start().await;
    let revoked = format!("Bearer {}", api.keys.revoked);
    let basic = format!("Basic {}", api.keys.valid);
    let glued = format!("Bearer{}", api.keys.valid);
    let cases: Vec<Option<&str>> = vec![
        None,
        Some(""),
        Some("Bearer"),
        Some("Bearer "),
        Some("Bearer    "),
        Some(&basic),
        Some(&glued),
        Some("Bearer not_an_sk_key"),
        Some("Bearer sk_"),
        Some("Bearer sk_unknown"),
        Some(&revoked),
    ];
    for authorization in cases {
        for path in ["/v2/models", "/v2/billing/balance"] {
            let mut request = api.client.get(api.url(path));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let reply = api.send(request).await;
            reply.assert_error("invalid_api_key", None);
            assert_eq!(reply.message(), MESSAGE, "{authorization:?}");
            assert_eq!(reply.body["error"]["doc_url"], DOC_URL);
            assert!(!reply.has_rate_headers(), "{reply:?}");
        }
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let api = Api::start().await;
    let request = api
        .client
        .get(api.url("/v2/models"))
        .header("authorization", format!("bearer {}", api.keys.valid));
    assert_eq!(api.send(request).await.status, 200);
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let api = Api::start().await;
    let request = api
        .client
        .get(api.url("/v2/models"))
        .header("authorization", format!("Bearer {}", api.keys.valid))
        .header("authorization", format!("Bearer {}", api.keys.valid));
    api.send(request)
        .await
        .assert_error("invalid_api_key", None);
}

#[tokio::test]
async fn every_endpoint_requires_a_key() {
    let api = Api::start().await;
    let revoked = api.keys.revoked.clone();
    for path in [
        "/v2/models",
        "/v2/models/seedream-5-lite",
        "/v2/billing/balance",
        "/v2/billing/costs?start=2026-01-01&end=2026-01-02",
        "/v2/videos/generations/req-ANY",
    ] {
        api.get(path, Some(&revoked))
            .await
            .assert_error("invalid_api_key", None);
    }
    for path in ["/v2/images/generations", "/v2/videos/generations"] {
        api.post(path, &revoked, &image_body())
            .await
            .assert_error("invalid_api_key", None);
    }
}

#[tokio::test]
async fn authentication_comes_before_the_body() {
    let api = Api::start().await;
    let request = api
        .client
        .post(api.url("/v2/images/generations"))
        .bearer_auth("sk_unknown")
        .header("content-type", "text/plain")
        .body("{not json");
    api.send(request)
        .await
        .assert_error("invalid_api_key", None);
    api.post("/v2/videos/generations", "sk_unknown", &json!({}))
        .await
        .assert_error("invalid_api_key", None);
}
