//! The HTTP layer around the handlers: the route table, the fault trigger (step 1, before
//! routing), the not-found fallback for unknown paths and unserved methods, and the panic
//! catcher. Together they make sure no request is answered by axum's own error pages: every
//! error, even a panic, goes through [`Errors::respond`](super::error::Errors::respond).

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use super::body::drain;
use super::error::{ApiError, echo};
use super::handlers::{billing, downloads, images, models, videos};
use super::state::Shared;
use super::triggers::{FAULT_HEADER, Fault};

/// The 500 message of a fault trigger and of a caught panic.
const SERVER_ERROR_MESSAGE: &str = "The server had an error while processing your request.";

/// The whole application: routes, fallbacks and layers.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let errors = shared.errors.clone();
    let on_panic = move |_: Box<dyn Any + Send + 'static>| {
        errors.respond(ApiError::server_error(SERVER_ERROR_MESSAGE))
    };
    Router::new()
        .route("/v2/images/generations", post(images::create))
        .route("/v2/videos/generations", post(videos::create))
        .route("/v2/videos/generations/{id}", get(videos::poll))
        .route("/v2/models", get(models::list))
        .route("/v2/models/{model}", get(models::show))
        .route("/v2/billing/balance", get(billing::balance))
        .route("/v2/billing/costs", get(billing::costs))
        .route("/v2/downloads/{id}/{index}", get(downloads::file))
        .fallback(no_route)
        // 405 is not in the contract's table: a method a path does not serve is not found.
        .method_not_allowed_fallback(no_route)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            fault_trigger,
        ))
        // Bodies are read by hand with their own cap (see `body`).
        .layer(DefaultBodyLimit::disable())
        // Outermost, so a panic anywhere below (the trigger middleware included) is caught.
        .layer(CatchPanicLayer::custom(on_panic))
        .with_state(shared)
}

/// Step 1 of every request: the fault-injection header, before routing and authentication.
async fn fault_trigger(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let fault = req
        .headers()
        .get(FAULT_HEADER)
        .and_then(|value| shared.triggers.fault(value.to_str().unwrap_or("")));
    match fault {
        Some(Fault::ServerError) => {
            drain(req.into_body()).await;
            shared
                .errors
                .respond(ApiError::server_error(SERVER_ERROR_MESSAGE))
        }
        // resume_unwind skips the panic hook: a deliberate panic prints nothing.
        Some(Fault::Panic) => {
            std::panic::resume_unwind(Box::new("deliberate panic (X-Errcontract-Fault: panic)"))
        }
        None => next.run(req).await,
    }
}

/// Step 2: an unknown path, or a known path with a method it does not serve.
async fn no_route(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let message = format!(
        "Unrecognized request URL: {} {}.",
        req.method(),
        echo(req.uri().path())
    );
    drain(req.into_body()).await;
    shared.errors.respond(ApiError::not_found(message))
}
