//! The handlers, one file per API area, and what they share. A handler turns the request into
//! plain values, asks the domain (through [`Shared`]) and renders the answer; every error it
//! meets goes to `Errors::respond`. Handlers take the raw `Request` and use no rejecting
//! extractor, so axum never answers in its own words.

pub(crate) mod billing;
pub(crate) mod downloads;
pub(crate) mod images;
pub(crate) mod models;
pub(crate) mod videos;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, uri::Authority};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::auth::WorkspaceId;
use super::body::{drain, read_json_object};
use super::catalog::{Catalog, Kind};
use super::error::ApiError;
use super::state::Shared;

/// Step 3: the workspace of the request's key. Only a single `Authorization` header in
/// visible ASCII is looked at; anything else fails like a wrong key.
fn authenticate(shared: &Shared, parts: &Parts) -> Result<WorkspaceId, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    };
    shared.keys.authenticate(value)
}

/// A request whose body nobody reads (every GET): drain the body, then check the key.
async fn authenticated(shared: &Shared, req: Request) -> Result<(Parts, WorkspaceId), Response> {
    let (parts, body) = req.into_parts();
    drain(body).await;
    match authenticate(shared, &parts) {
        Ok(ws) => Ok((parts, ws)),
        Err(e) => Err(shared.errors.respond(e)),
    }
}

/// Steps 3 to 5 of both generation endpoints: authenticate (draining the body on failure),
/// read the JSON object, validate it. Errors after authentication carry the rate headers.
async fn generation<'s, P>(
    shared: &'s Shared,
    req: Request,
    kind: Kind,
    validate: impl FnOnce(&'s Catalog, &Map<String, Value>) -> Result<P, ApiError>,
) -> Result<(Parts, WorkspaceId, P), Response> {
    let (parts, body) = req.into_parts();
    let ws = match authenticate(shared, &parts) {
        Ok(ws) => ws,
        Err(e) => {
            drain(body).await;
            return Err(shared.errors.respond(e));
        }
    };
    let rate = shared.rate_headers(ws, kind);
    let json = read_json_object(&parts.headers, body)
        .await
        .map_err(|e| shared.errors.respond(e.with_headers(&rate)))?;
    let params = validate(&shared.catalog, &json)
        .map_err(|e| shared.errors.respond(e.with_headers(&rate)))?;
    Ok((parts, ws, params))
}

/// A JSON success with extra headers.
fn ok(status: StatusCode, headers: HeaderMap, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let out = response.headers_mut();
    out.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    out.extend(headers);
    response
}

/// A 200 with a JSON body serialised ahead of time.
fn ok_bytes(body: Bytes) -> Response {
    let mut response = Body::from(body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The base of download URLs: the `Host` the client used, so URLs work through port forwards.
fn base_url(parts: &Parts) -> String {
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .filter(|a| !a.as_str().contains('@'));
    match host {
        Some(authority) => format!("http://{authority}"),
        None => "http://127.0.0.1".to_owned(),
    }
}

/// The first value of a query parameter, percent-decoded (`+` is a space).
fn query_param(parts: &Parts, name: &str) -> Option<String> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    parts.uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

/// The path after `prefix`, percent-decoded (the router already matched its shape).
fn path_tail(parts: &Parts, prefix: &str) -> String {
    let tail = parts.uri.path().strip_prefix(prefix).unwrap_or_default();
    percent_decode_str(tail).decode_utf8_lossy().into_owned()
}
