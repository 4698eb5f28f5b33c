//! `GET /v2/models` and `GET /v2/models/{model}`: the catalog as clients see it, serialised
//! once at load.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;

use super::{authenticated, ok_bytes, path_tail, query_param};
use crate::reference::catalog::Kind;
use crate::reference::error::{ApiError, echo};
use crate::reference::state::Shared;

pub(crate) async fn list(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = match authenticated(&shared, req).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let kind = match query_param(&parts, "type").as_deref() {
        None => None,
        Some("image") => Some(Kind::Image),
        Some("video") => Some(Kind::Video),
        Some(other) => {
            return shared.errors.respond(ApiError::invalid(
                "type",
                format!(
                    "Unsupported type '{}': use 'image' or 'video'.",
                    echo(other)
                ),
            ));
        }
    };
    ok_bytes(shared.catalog.list(kind))
}

pub(crate) async fn show(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, _) = match authenticated(&shared, req).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let id = path_tail(&parts, "/v2/models/");
    match shared.catalog.body(&id) {
        Some(model) => ok_bytes(model),
        None => shared.errors.respond(
            ApiError::not_found(format!("No such model: '{}'.", echo(&id))).param("model"),
        ),
    }
}
