//! Request bodies, read by hand: a 25 MiB cap that never buffers beyond it, our own envelope
//! for every rejection (no axum extractor answers in its own words), and draining of bodies we
//! answer early so the client reads our response instead of a connection reset.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use serde_json::{Map, Value};

use super::error::ApiError;

/// The documented limit on a whole JSON request.
pub(crate) const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// How much of an unwanted body is read and thrown away before answering. Past this the
/// connection is closed instead (hyper does that on its own).
const DRAIN_MAX_BYTES: u64 = 64 * 1024 * 1024;
const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

async fn next_chunk(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Ok(frame) => {
                // Trailers carry no bytes; skip them.
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            }
            Err(e) => return Some(Err(e)),
        }
    }
}

/// Read and discard what is left of a body, within bounds. Answering before the body is read
/// would make hyper close the connection with unread data, which the kernel turns into a reset
/// that can destroy our response before the client reads it.
pub(crate) async fn drain(mut body: Body) {
    if body.is_end_stream() {
        return;
    }
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
        let mut seen: u64 = 0;
        while let Some(Ok(chunk)) = next_chunk(&mut body).await {
            seen += chunk.len() as u64;
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

/// Whether a `Content-Type` header value is `application/json`, parameters allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn too_large() -> ApiError {
    ApiError::bad_request("The request body is larger than the 25 MiB limit.")
}

/// Read a body of at most `limit` bytes. On anything larger, the rest is drained and the
/// result is an error; nothing past `limit` is ever kept.
async fn read_capped(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        // A client waiting for `100 Continue` has not sent the body: answer without asking for
        // it (reading would make hyper send the 100 and the client upload it all).
        let waiting = headers
            .get(EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        if !waiting {
            drain(body).await;
        }
        return Err(too_large());
    }
    // A declared length is a hint, not a promise: pre-allocate at most 1 MiB of it.
    let mut buf = Vec::with_capacity(declared.map_or(0, |n| n.min(1 << 20) as usize));
    while let Some(chunk) = next_chunk(&mut body).await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("The request body could not be read."))?;
        if buf.len() + chunk.len() > limit {
            drain(body).await;
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The JSON object of a POST body. Checks, in order: `Content-Type` is `application/json`
/// (even for an empty body), the size cap, JSON syntax, and that the top level is an object.
/// An empty (or all-whitespace) body counts as `{}`.
pub(crate) async fn read_json_object(
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Value>, ApiError> {
    if !is_json(headers) {
        drain(body).await;
        return Err(ApiError::bad_request(
            "Invalid Content-Type: the request body must be JSON, sent with 'Content-Type: application/json'.",
        ));
    }
    let bytes = read_capped(headers, body, MAX_BODY_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}
