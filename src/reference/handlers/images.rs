//! `POST /v2/images/generations`: an image completes within its request, so the answer is the
//! finished generation with its signed download URL.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{base_url, generation, ok};
use crate::reference::catalog::Kind;
use crate::reference::media::{self, FileKind, iso8601};
use crate::reference::params::image_params;
use crate::reference::state::Shared;

pub(crate) async fn create(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, ws, params) = match generation(&shared, req, Kind::Image, image_params).await {
        Ok(accepted) => accepted,
        Err(response) => return response,
    };
    let (headers, charge) = match shared.submit_image(ws, &params) {
        Ok(ok) => ok,
        Err(e) => return shared.errors.respond(e),
    };
    let id = media::generation_id(&shared.rng);
    let kind = FileKind::for_output_format(&params.output_format);
    let (width, height) = media::dimensions(&params.aspect_ratio, &params.resolution);
    let exp = charge.deletes_at.unix_timestamp();
    let url = shared.signer.url(&base_url(&parts), &id, 0, exp, kind);
    ok(
        StatusCode::OK,
        headers,
        json!({
            "id": id,
            "status": "completed",
            "model": params.model.id,
            "data": [{
                "url": url,
                "width": width,
                "height": height,
                "mime_type": kind.mime_type(),
                "deletes_at": iso8601(charge.deletes_at),
            }],
            "usage": {
                "total_cost": charge.unit_price.as_f64(),
                "billable_unit": charge.billable_unit,
                "unit_price": charge.unit_price.as_f64(),
                "quantity": 1,
            },
        }),
    )
}
