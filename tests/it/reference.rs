//! Self-tests of the reference server, over HTTP, as a client sees it.
//!
//! Every test starts its own server on a free loopback port through `reference::start`, so
//! tests never share balances or rate windows. No test sleeps for more than a few hundred
//! milliseconds.

mod auth;
mod envelope;
mod images;
mod models_billing;
mod rate_limits;
mod serve;
mod triggers;
mod videos;

use std::sync::OnceLock;

use errcontract::contract::{CodeTable, Contract};
use errcontract::reference::{self, Config, Keys, Running};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The compiled schemas, to hold every error body to `error.schema.json`.
fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::embedded().expect("embedded schemas compile"))
}

/// A running server and a client for it.
pub(crate) struct Api {
    pub server: Running,
    pub client: reqwest::Client,
    pub keys: Keys,
}

/// One response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
    pub body: Value,
}

impl Api {
    pub async fn start() -> Api {
        Api::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let keys = config.keys();
        let server = reference::start(config).await.expect("the server starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Api {
            server,
            client,
            keys,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a whole body").to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            bytes,
            body,
        }
    }

    /// GET with a bearer key (or none).
    pub async fn get(&self, path: &str, key: Option<&str>) -> Reply {
        let mut request = self.client.get(self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        self.send(request).await
    }

    /// GET with the valid key.
    pub async fn get_valid(&self, path: &str) -> Reply {
        self.get(path, Some(&self.keys.valid.clone())).await
    }

    /// POST a JSON body with a bearer key.
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> Reply {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_string());
        self.send(request).await
    }

    /// POST to the image endpoint with the valid key.
    pub async fn image(&self, body: Value) -> Reply {
        self.post("/v2/images/generations", &self.keys.valid.clone(), &body)
            .await
    }

    /// POST to the video endpoint with the valid key.
    pub async fn video(&self, body: Value) -> Reply {
        self.post("/v2/videos/generations", &self.keys.valid.clone(), &body)
            .await
    }

    /// Submit a video with the valid key and return its id.
    pub async fn submit_video(&self, body: Value) -> String {
        let reply = self.video(body).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        reply.body["id"].as_str().expect("an id").to_owned()
    }

    /// Poll a video with the valid key.
    pub async fn poll(&self, id: &str) -> Reply {
        self.get_valid(&format!("/v2/videos/generations/{id}"))
            .await
    }

    /// The valid workspace's balance as a decimal string.
    pub async fn balance(&self) -> String {
        let reply = self.get_valid("/v2/billing/balance").await;
        assert_eq!(reply.status, 200, "{reply:?}");
        reply.body["balance"]
            .as_str()
            .expect("a balance")
            .to_owned()
    }
}

/// A minimal valid image request.
pub(crate) fn image_body() -> Value {
    json!({ "model": "seedream-5-lite", "prompt": "a lighthouse at dusk" })
}

/// A minimal valid video request.
pub(crate) fn video_body() -> Value {
    json!({ "model": "seedance-v1-pro", "prompt": "waves rolling onto a beach" })
}

/// `body` with `key` set to `value`.
pub(crate) fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert the full contract of an error response: status from the table, JSON content
    /// type, the schema, exactly the documented fields, and the expected code and param.
    #[track_caller]
    pub fn assert_error(&self, code: &str, param: Option<&str>) -> &Reply {
        let table = CodeTable::embedded();
        assert_eq!(
            Some(self.status),
            table.status_of(code),
            "status for {code}: {self:?}"
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
        let errors: Vec<String> = contract()
            .error
            .iter_errors(&self.body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "schema: {errors:?} in {self:?}");
        let error = self.body["error"].as_object().expect("an error object");
        for key in error.keys() {
            assert!(
                ["message", "type", "param", "code", "doc_url"].contains(&key.as_str()),
                "unexpected field {key}: {self:?}"
            );
        }
        assert_eq!(self.body["error"]["type"], "invalid_request_error");
        assert_eq!(self.body["error"]["code"], code, "{self:?}");
        assert_eq!(
            self.body["error"]["param"],
            param.map_or(Value::Null, |p| json!(p)),
            "param: {self:?}"
        );
        let retry_after = self.header("retry-after");
        if code == "rate_limit" {
            let secs: u64 = retry_after
                .expect("429 carries Retry-After")
                .parse()
                .expect("delta seconds");
            assert!((1..=60).contains(&secs), "{self:?}");
        } else if code != "server_error" {
            assert_eq!(retry_after, None, "{self:?}");
        }
        self
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// The three rate-limit headers, as integers.
    #[track_caller]
    pub fn rate_headers(&self) -> (u64, u64, u64) {
        let int = |name: &str| -> u64 {
            self.header(name)
                .unwrap_or_else(|| panic!("{name} missing: {self:?}"))
                .parse()
                .unwrap_or_else(|_| panic!("{name} is not an integer: {self:?}"))
        };
        (
            int("x-ratelimit-limit"),
            int("x-ratelimit-remaining"),
            int("x-ratelimit-reset"),
        )
    }

    pub fn has_rate_headers(&self) -> bool {
        [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        ]
        .iter()
        .any(|h| self.headers.contains_key(*h))
    }
}

/// Unix seconds now.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}
