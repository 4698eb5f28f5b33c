//! The read endpoints: models, balance, costs, and signed downloads.

use std::time::Duration;

use errcontract::reference::Config;
use serde_json::json;

use super::{Api, image_body, video_body};

#[tokio::test]
async fn models_are_a_bare_array_filterable_by_type() {
    let api = Api::start().await;
    let all = api.get_valid("/v2/models").await;
    assert_eq!(all.status, 200);
    let all = all.body.as_array().expect("a bare array").clone();
    let ids: Vec<&str> = all.iter().filter_map(|m| m["id"].as_str()).collect();
    for id in [
        "seedream-5-lite",
        "seedream-4-5",
        "gpt-image-2",
        "z-image-turbo",
        "seedance-v1-pro",
        "seedance-v1-5-pro",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    for kind in ["image", "video"] {
        let reply = api.get_valid(&format!("/v2/models?type={kind}")).await;
        let list = reply.body.as_array().unwrap();
        assert!(!list.is_empty());
        assert!(list.iter().all(|m| m["type"] == kind), "{list:?}");
    }
    for bad in ["audio", "", "IMAGE"] {
        api.get_valid(&format!("/v2/models?type={bad}"))
            .await
            .assert_error("invalid_parameter", Some("type"));
    }
}

#[tokio::test]
async fn one_model_with_its_supported_values_and_pricing() {
    let api = Api::start().await;
    let reply = api.get_valid("/v2/models/seedream-5-lite").await;
    assert_eq!(reply.status, 200);
    let model = &reply.body;
    assert_eq!(model["type"], "image");
    assert_eq!(model["supported_resolutions"], json!(["2K", "3K"]));
    assert_eq!(model["supported_durations"], json!([]));
    assert_eq!(model["pricing"]["currency"], "USD");
    assert_eq!(model["pricing"]["rates"][0]["unit_price"], "0.035");
    assert!(model["created_at"].is_string());
    let keys: Vec<&String> = model.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "name",
            "type",
            "created_at",
            "supported_aspect_ratios",
            "supported_resolutions",
            "supported_durations",
            "supported_references",
            "supports_sound",
            "pricing"
        ]
    );
    let video = api.get_valid("/v2/models/seedance-v1-5-pro").await.body;
    assert_eq!(video["supports_sound"], true);
    assert_eq!(video["supported_references"]["first_frame"], 1);
    let reply = api.get_valid("/v2/models/seedream-9").await;
    reply.assert_error("not_found", Some("model"));
    assert!(reply.message().contains("seedream-9"));
}

#[tokio::test]
async fn the_balance_is_a_decimal_string_per_workspace() {
    let api = Api::start().await;
    assert_eq!(
        api.get_valid("/v2/billing/balance").await.body,
        json!({ "balance": "1000.00", "currency": "USD" })
    );
    let zero = api.keys.zero_balance.clone();
    assert_eq!(
        api.get("/v2/billing/balance", Some(&zero)).await.body["balance"],
        "0.00"
    );
    let reply = api
        .post("/v2/videos/generations", &zero, &video_body())
        .await;
    reply.assert_error("quota_exceeded", None);
    assert!(reply.message().contains("$0.25"), "{reply:?}");
}

#[tokio::test]
async fn costs_validate_their_range() {
    let api = Api::start().await;
    let cases = [
        ("", "parameter_missing", "start"),
        ("?end=2026-01-01", "parameter_missing", "start"),
        ("?start=2026-01-01", "parameter_missing", "end"),
        (
            "?start=yesterday&end=2026-01-01",
            "invalid_parameter",
            "start",
        ),
        (
            "?start=2026-02-30&end=2026-03-01",
            "invalid_parameter",
            "start",
        ),
        ("?start=2026-01-01&end=2026-1-2", "invalid_parameter", "end"),
        (
            "?start=2026-01-01T00:00:00&end=2026-01-02",
            "invalid_parameter",
            "start",
        ),
        (
            "?start=2026-01-02&end=2026-01-01",
            "invalid_parameter",
            "end",
        ),
        (
            "?start=2024-01-01&end=2024-06-30",
            "invalid_parameter",
            "end",
        ),
    ];
    for (query, code, param) in cases {
        api.get_valid(&format!("/v2/billing/costs{query}"))
            .await
            .assert_error(code, Some(param));
    }
    let reply = api
        .get_valid("/v2/billing/costs?start=2024-01-01&end=2024-06-29")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 181);
}

#[tokio::test]
async fn costs_add_up_per_utc_day() {
    let api = Api::start().await;
    api.image(image_body()).await;
    let id = api.submit_video(video_body()).await;
    api.poll(&id).await;
    let today = time::OffsetDateTime::now_utc().date();
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let yesterday = today.previous_day().unwrap().format(fmt).unwrap();
    let today = today.format(fmt).unwrap();
    let reply = api
        .get_valid(&format!("/v2/billing/costs?start={yesterday}&end={today}"))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let body = &reply.body;
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["total_cost"], 0.285);
    assert_eq!(
        body["data"],
        json!([{ "date": yesterday, "cost": 0.0 }, { "date": today, "cost": 0.285 }])
    );
    assert_eq!(body["start"], format!("{yesterday}T00:00:00Z"));
    assert_eq!(body["end"], format!("{today}T23:59:59Z"));
    // RFC 3339 timestamps with a zone, as the SDK sends them, work too.
    let reply = api
        .get_valid(&format!(
            "/v2/billing/costs?start={yesterday}T12:00:00%2B00:00&end={today}T23:00:00Z"
        ))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["total_cost"], 0.285);
}

#[tokio::test]
async fn bad_or_expired_download_urls_are_not_found() {
    let api = Api::start().await;
    let reply = api.image(image_body()).await;
    let url = reply.body["data"][0]["url"].as_str().unwrap().to_owned();
    let flip = |s: &str| -> String {
        let last = s.chars().last().unwrap();
        let swapped = if last == '0' { '1' } else { '0' };
        format!("{}{swapped}", &s[..s.len() - 1])
    };
    let (path, query) = url.split_once('?').unwrap();
    let exp: i64 = query
        .split('&')
        .find_map(|p| p.strip_prefix("exp="))
        .unwrap()
        .parse()
        .unwrap();
    let sig = query
        .split('&')
        .find_map(|p| p.strip_prefix("sig="))
        .unwrap();
    let bad = [
        flip(&url),
        format!("{path}?exp={}&sig={sig}", exp + 1),
        path.replace("/0", "/1") + "?" + query,
        path.to_owned(),
        format!("{path}?exp={exp}&sig=zz"),
    ];
    for url in bad {
        let reply = api.send(api.client.get(&url)).await;
        reply.assert_error("not_found", None);
    }
    let api = Api::start_with(Config {
        file_ttl: Duration::ZERO,
        ..Config::default()
    })
    .await;
    let reply = api.image(image_body()).await;
    let url = reply.body["data"][0]["url"].as_str().unwrap().to_owned();
    api.send(api.client.get(&url))
        .await
        .assert_error("not_found", None);
}
