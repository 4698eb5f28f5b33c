//! `GET /v2/downloads/{id}/{index}`: the files behind signed URLs. No key is needed: the
//! signature is the credential, and it also says which file kind to serve.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use time::OffsetDateTime;

use super::{path_tail, query_param};
use crate::reference::body::drain;
use crate::reference::error::ApiError;
use crate::reference::state::Shared;

pub(crate) async fn file(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    let tail = path_tail(&parts, "/v2/downloads/");
    let found = tail.split_once('/').and_then(|(id, index)| {
        let index: u32 = index.parse().ok()?;
        let exp: i64 = query_param(&parts, "exp")?.parse().ok()?;
        let sig = query_param(&parts, "sig")?;
        let kind = shared.signer.verify(id, index, exp, &sig)?;
        (exp > OffsetDateTime::now_utc().unix_timestamp()).then_some(kind)
    });
    match found {
        Some(kind) => {
            let mut response = Body::from(kind.bytes()).into_response();
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(kind.mime_type()));
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=3600"),
            );
            response
        }
        None => shared.errors.respond(ApiError::not_found(
            "The download URL is invalid or has expired.",
        )),
    }
}
