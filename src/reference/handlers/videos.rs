//! `POST /v2/videos/generations` accepts a video (202, `pending`);
//! `GET /v2/videos/generations/{id}` polls it. The lifecycle itself is in `reference::videos`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{authenticated, base_url, generation, ok, path_tail};
use crate::reference::catalog::Kind;
use crate::reference::error::{ApiError, echo};
use crate::reference::media::{FileKind, iso8601};
use crate::reference::params::video_params;
use crate::reference::state::Shared;
use crate::reference::videos::VideoView;

pub(crate) async fn create(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (_, ws, params) = match generation(&shared, req, Kind::Video, video_params).await {
        Ok(accepted) => accepted,
        Err(response) => return response,
    };
    match shared.submit_video(ws, &params) {
        Ok((headers, id)) => ok(
            StatusCode::ACCEPTED,
            headers,
            json!({ "id": id, "status": "pending" }),
        ),
        Err(e) => shared.errors.respond(e),
    }
}

pub(crate) async fn poll(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, ws) = match authenticated(&shared, req).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    // Polls are not counted, but they report the video window (the OpenAPI declares the
    // headers on this response).
    let rate = shared.rate_headers(ws, Kind::Video);
    let id = path_tail(&parts, "/v2/videos/generations/");
    let Some(view) = shared.poll_video(ws, &id) else {
        let e = ApiError::not_found(format!("No video generation with id '{}'.", echo(&id)))
            .param("id")
            .with_headers(&rate);
        return shared.errors.respond(e);
    };
    let body = match view {
        VideoView::Pending => json!({ "id": id, "status": "pending" }),
        VideoView::Failed(code, message) => json!({
            "id": id,
            "status": "failed",
            "error": { "code": code.as_str(), "message": message },
        }),
        VideoView::Completed(video) => {
            let exp = video.deletes_at.unix_timestamp();
            let url = shared
                .signer
                .url(&base_url(&parts), &id, 0, exp, FileKind::Mp4);
            json!({
                "id": id,
                "status": "completed",
                "model": video.model,
                "data": [{
                    "url": url,
                    "width": video.width,
                    "height": video.height,
                    "duration": video.duration,
                    "fps": 24,
                    "has_sound": video.sound,
                    "mime_type": FileKind::Mp4.mime_type(),
                    "deletes_at": iso8601(video.deletes_at),
                }],
                "usage": {
                    "total_cost": video.total.as_f64(),
                    "billable_unit": video.billable_unit,
                    "unit_price": video.unit_price.as_f64(),
                    "quantity": video.duration,
                },
            })
        }
    };
    ok(StatusCode::OK, rate, body)
}
