//! `POST /v2/images/generations`: the success body and every validation rule, in order.

use serde_json::{Value, json};

use super::{Api, image_body, unix_now, with};

fn is_generation_id(id: &str) -> bool {
    id.strip_prefix("req-").is_some_and(|tail| {
        tail.len() == 26
            && tail
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    })
}

#[tokio::test]
async fn a_generation_completes_with_the_documented_shape() {
    let api = Api::start().await;
    let reply = api.image(image_body()).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = &reply.body;
    assert!(is_generation_id(body["id"].as_str().unwrap()), "{body}");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "seedream-5-lite");
    let item = &body["data"][0];
    // Defaults are the first catalog values: 1:1, 2K, jpeg.
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(2048), Some(2048))
    );
    assert_eq!(item["mime_type"], "image/jpeg");
    let deletes_at = item["deletes_at"].as_str().unwrap();
    let parsed =
        time::OffsetDateTime::parse(deletes_at, &time::format_description::well_known::Rfc3339)
            .expect("ISO 8601");
    assert!(parsed.unix_timestamp() as u64 > unix_now());
    let url = item["url"].as_str().unwrap();
    let prefix = format!(
        "{}/v2/downloads/{}/0?exp=",
        api.server.base_url(),
        body["id"].as_str().unwrap()
    );
    assert!(url.starts_with(&prefix), "{url}");
    assert!(url.contains("&sig="), "{url}");
    assert_eq!(
        body["usage"],
        json!({ "total_cost": 0.035, "billable_unit": "image", "unit_price": 0.035, "quantity": 1 })
    );
}

#[tokio::test]
async fn chosen_values_shape_the_output() {
    let api = Api::start().await;
    let reply = api
        .image(json!({
            "model": "gpt-image-2",
            "prompt": "x",
            "aspect_ratio": "16:9",
            "resolution": "4K",
            "output_format": "webp",
        }))
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let item = &reply.body["data"][0];
    assert_eq!(
        (item["width"].as_u64(), item["height"].as_u64()),
        (Some(4096), Some(2304))
    );
    assert_eq!(item["mime_type"], "image/webp");
    assert_eq!(reply.body["usage"]["total_cost"], 0.12);
}

#[tokio::test]
async fn the_download_url_serves_a_real_image() {
    let api = Api::start().await;
    for (format, mime, magic) in [
        ("png", "image/png", &b"\x89PNG"[..]),
        ("jpeg", "image/jpeg", &b"\xff\xd8\xff"[..]),
        ("webp", "image/webp", &b"RIFF"[..]),
    ] {
        let reply = api
            .image(with(image_body(), "output_format", json!(format)))
            .await;
        let url = reply.body["data"][0]["url"].as_str().unwrap().to_owned();
        // No key: the signature is the credential.
        let file = api.send(api.client.get(&url)).await;
        assert_eq!(file.status, 200, "{file:?}");
        assert_eq!(file.header("content-type"), Some(mime));
        assert!(file.bytes.starts_with(magic), "{format}");
    }
}

#[tokio::test]
async fn the_balance_is_debited_per_generation() {
    let api = Api::start().await;
    assert_eq!(api.balance().await, "1000.00");
    api.image(image_body()).await;
    api.image(image_body()).await;
    assert_eq!(api.balance().await, "999.93");
}

#[tokio::test]
async fn missing_required_parameters_are_named() {
    let api = Api::start().await;
    api.image(json!({ "prompt": "x" }))
        .await
        .assert_error("parameter_missing", Some("model"));
    api.image(json!({ "model": "seedream-5-lite" }))
        .await
        .assert_error("parameter_missing", Some("prompt"));
}

#[tokio::test]
async fn the_documented_resolution_error() {
    let api = Api::start().await;
    let reply = api
        .image(with(image_body(), "resolution", json!("4K")))
        .await;
    reply.assert_error("invalid_parameter", Some("resolution"));
    assert_eq!(
        reply.message(),
        "Unsupported resolution '4K' for model 'seedream-5-lite'."
    );
    assert_eq!(reply.body["error"].get("doc_url"), None);
    // 3K is one of its own.
    assert_eq!(
        api.image(with(image_body(), "resolution", json!("3K")))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unsupported_values_are_quoted() {
    let api = Api::start().await;
    for (param, value) in [
        ("aspect_ratio", "5:7"),
        ("resolution", "2k"),
        ("output_format", "gif"),
        ("output_format", "PNG"),
    ] {
        let reply = api.image(with(image_body(), param, json!(value))).await;
        reply.assert_error("invalid_parameter", Some(param));
        assert_eq!(
            reply.message(),
            format!("Unsupported {param} '{value}' for model 'seedream-5-lite'.")
        );
    }
}

#[tokio::test]
async fn wrong_json_types_are_invalid_parameters() {
    let api = Api::start().await;
    for (param, value) in [
        ("model", json!(5)),
        ("model", Value::Null),
        ("prompt", json!(["x"])),
        ("aspect_ratio", json!(1.5)),
        ("resolution", json!(2)),
        ("output_format", json!(true)),
        ("images", json!({ "url": "https://example.com/a.png" })),
    ] {
        let reply = api.image(with(image_body(), param, value.clone())).await;
        reply.assert_error("invalid_parameter", Some(param));
        assert!(
            reply.message().contains("Invalid type"),
            "{param}: {reply:?}"
        );
    }
}

#[tokio::test]
async fn prompts_are_1_to_4096_characters() {
    let api = Api::start().await;
    for prompt in [String::new(), "x".repeat(4097), "é".repeat(4097)] {
        api.image(with(image_body(), "prompt", json!(prompt)))
            .await
            .assert_error("invalid_parameter", Some("prompt"));
    }
    // Characters, not bytes: 4096 two-byte characters are fine.
    for prompt in ["x".to_owned(), "x".repeat(4096), "é".repeat(4096)] {
        let reply = api.image(with(image_body(), "prompt", json!(prompt))).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

#[tokio::test]
async fn unknown_and_misplaced_models_name_the_model() {
    let api = Api::start().await;
    for model in ["seedream-9", "", "SEEDREAM-5-LITE", "seedance-v1-pro"] {
        let reply = api.image(with(image_body(), "model", json!(model))).await;
        reply.assert_error("invalid_parameter", Some("model"));
        assert!(reply.message().contains(&format!("'{model}'")), "{reply:?}");
    }
}

#[tokio::test]
async fn unknown_top_level_fields_are_refused_first() {
    let api = Api::start().await;
    let reply = api.image(json!({ "colour": "red", "model": "nope" })).await;
    reply.assert_error("invalid_parameter", Some("colour"));
    // A video-only field is unknown here.
    api.image(with(image_body(), "duration", json!(5)))
        .await
        .assert_error("invalid_parameter", Some("duration"));
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let api = Api::start().await;
    let steps: [(Value, &str); 5] = [
        (
            json!({ "model": "nope", "resolution": "9K", "images": 1 }),
            "model",
        ),
        (
            json!({ "model": "seedream-5-lite", "prompt": "", "resolution": "9K" }),
            "prompt",
        ),
        (
            json!({ "model": "seedream-5-lite", "prompt": "x", "aspect_ratio": "0:0", "resolution": "9K" }),
            "aspect_ratio",
        ),
        (
            json!({ "model": "seedream-5-lite", "prompt": "x", "resolution": "9K", "output_format": "gif" }),
            "resolution",
        ),
        (
            json!({ "model": "seedream-5-lite", "prompt": "x", "output_format": "gif", "images": 1 }),
            "output_format",
        ),
    ];
    for (body, param) in steps {
        api.image(body)
            .await
            .assert_error("invalid_parameter", Some(param));
    }
}

#[tokio::test]
async fn reference_image_rules() {
    let api = Api::start().await;
    let ok_url = json!({ "url": "https://example.com/a.png" });
    let images = |items: Vec<Value>| with(image_body(), "images", json!(items));
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            images(vec![ok_url.clone(); 9]),
            "invalid_parameter",
            "images",
        ),
        (
            with(
                images(vec![ok_url.clone()]),
                "model",
                json!("z-image-turbo"),
            ),
            "invalid_parameter",
            "images",
        ),
        (
            with(
                images(vec![ok_url.clone(); 5]),
                "model",
                json!("gemini-3-1-flash-image"),
            ),
            "invalid_parameter",
            "images",
        ),
        (
            images(vec![json!("https://example.com/a.png")]),
            "invalid_parameter",
            "images[0]",
        ),
        (
            images(vec![ok_url.clone(), json!({})]),
            "parameter_missing",
            "images[1].url",
        ),
        (
            images(vec![json!({ "url": 7 })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "http://example.com/a.png" })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "https://" })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "iVBORw0KGgo=" })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "data:image/gif;base64,R0lGOD==" })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "data:image/png;base64," })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![json!({ "url": "data:image/png;base64,@@@" })]),
            "invalid_parameter",
            "images[0].url",
        ),
        (
            images(vec![
                ok_url.clone(),
                json!({ "url": "https://example.com/b.png", "role": "first_frame" }),
            ]),
            "invalid_parameter",
            "images[1].role",
        ),
        (
            images(vec![
                json!({ "url": "https://example.com/a.png", "role": 1 }),
            ]),
            "invalid_parameter",
            "images[0].role",
        ),
        (
            images(vec![
                json!({ "url": "https://example.com/a.png", "weight": 1 }),
            ]),
            "invalid_parameter",
            "images[0].weight",
        ),
    ];
    for (body, code, param) in cases {
        api.image(body).await.assert_error(code, Some(param));
    }
    for item in [
        json!({ "url": "https://example.com/a.png" }),
        json!({ "url": "https://example.com/a.png", "role": "reference_image" }),
        json!({ "url": "data:image/png;base64,iVBORw0KGgo=" }),
        json!({ "url": "data:image/webp;base64,UklGRg" }),
    ] {
        let reply = api.image(images(vec![item.clone(); 8])).await;
        assert_eq!(reply.status, 200, "{item}: {reply:?}");
    }
    assert_eq!(api.image(images(vec![])).await.status, 200);
}

#[tokio::test]
async fn inline_images_over_10_mib_are_refused() {
    let api = Api::start().await;
    let payload = "A".repeat((10 * 1024 * 1024 + 3) / 3 * 4 + 8);
    let body = with(
        image_body(),
        "images",
        json!([{ "url": format!("data:image/png;base64,{payload}") }]),
    );
    let reply = api.image(body).await;
    reply.assert_error("invalid_parameter", Some("images[0].url"));
    assert!(reply.message().contains("10 MiB"), "{reply:?}");
}
