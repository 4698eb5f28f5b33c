//! The HTTP surface: routes, the trigger middleware, the panic catcher and the handlers.
//!
//! Handlers take the raw `Request` and use no rejecting extractor, so no axum default error
//! page can ever reach a client: every error goes through [`Errors::respond`].

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HOST, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, uri::Authority};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};
use tower_http::catch_panic::CatchPanicLayer;

use super::auth::WorkspaceId;
use super::body::{drain, read_json_object};
use super::catalog::{Catalog, Kind};
use super::error::{ApiError, echo};
use super::media::{self, FileKind, iso8601};
use super::params::{image_params, video_params};
use super::state::Shared;
use super::triggers::{FAULT_HEADER, Fault};
use super::videos::VideoView;

const SERVER_ERROR_MESSAGE: &str = "The server had an error while processing your request.";
/// Longest range `GET /v2/billing/costs` accepts, in days between the two UTC dates (the
/// official SDK documents 180).
const MAX_COST_RANGE_DAYS: i64 = 180;

/// The whole application: routes, fallbacks and layers.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let errors = shared.errors.clone();
    let on_panic = move |_: Box<dyn Any + Send + 'static>| {
        errors.respond(ApiError::server_error(SERVER_ERROR_MESSAGE))
    };
    Router::new()
        .route("/v2/images/generations", post(create_image))
        .route("/v2/videos/generations", post(create_video))
        .route("/v2/videos/generations/{id}", get(get_video))
        .route("/v2/models", get(list_models))
        .route("/v2/models/{model}", get(get_model))
        .route("/v2/billing/balance", get(balance))
        .route("/v2/billing/costs", get(costs))
        .route("/v2/downloads/{id}/{index}", get(download))
        .fallback(no_route)
        // 405 is not in the contract's table: a method a path does not serve is not found.
        .method_not_allowed_fallback(no_route)
        .layer(middleware::from_fn_with_state(shared.clone(), triggers))
        // Bodies are read by hand with their own cap (see `body`).
        .layer(DefaultBodyLimit::disable())
        // Outermost, so a panic anywhere below (the trigger middleware included) is caught.
        .layer(CatchPanicLayer::custom(on_panic))
        .with_state(shared)
}

/// Step 1 of every request: the fault-injection header, before routing and authentication.
async fn triggers(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
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

async fn no_route(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let message = format!(
        "Unrecognized request URL: {} {}.",
        req.method(),
        echo(req.uri().path())
    );
    drain(req.into_body()).await;
    shared.errors.respond(ApiError::not_found(message))
}

/// The workspace of the request's key. Only a single `Authorization` header in visible ASCII
/// is looked at; anything else fails like a wrong key.
fn authenticate(shared: &Shared, parts: &Parts) -> Result<WorkspaceId, ApiError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    };
    shared.keys.authenticate(value)
}

/// A success body with extra headers.
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

/// The steps both generation endpoints share: authenticate (draining the body on failure),
/// read the JSON object, validate it; errors after authentication carry the rate headers.
async fn admit<'s, P>(
    shared: &'s Shared,
    req: Request,
    kind: Kind,
    validate: impl FnOnce(&'s Catalog, &serde_json::Map<String, Value>) -> Result<P, ApiError>,
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

async fn create_image(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, ws, params) = match admit(&shared, req, Kind::Image, image_params).await {
        Ok(admitted) => admitted,
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

async fn create_video(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (_, ws, params) = match admit(&shared, req, Kind::Video, video_params).await {
        Ok(admitted) => admitted,
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

async fn get_video(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    let ws = match authenticate(&shared, &parts) {
        Ok(ws) => ws,
        Err(e) => return shared.errors.respond(e),
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

async fn list_models(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    if let Err(e) = authenticate(&shared, &parts) {
        return shared.errors.respond(e);
    }
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

async fn get_model(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    if let Err(e) = authenticate(&shared, &parts) {
        return shared.errors.respond(e);
    }
    let id = path_tail(&parts, "/v2/models/");
    match shared.catalog.body(&id) {
        Some(model) => ok_bytes(model),
        None => shared.errors.respond(
            ApiError::not_found(format!("No such model: '{}'.", echo(&id))).param("model"),
        ),
    }
}

async fn balance(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    match authenticate(&shared, &parts) {
        Ok(ws) => ok(
            StatusCode::OK,
            HeaderMap::new(),
            json!({ "balance": shared.balance(ws).to_string(), "currency": "USD" }),
        ),
        Err(e) => shared.errors.respond(e),
    }
}

/// One end of a costs range: a `YYYY-MM-DD` UTC date (the whole day) or an RFC 3339 timestamp
/// with a time zone, as the SDK sends.
fn range_bound(parts: &Parts, param: &str, end_of_day: bool) -> Result<OffsetDateTime, ApiError> {
    let Some(raw) = query_param(parts, param) else {
        return Err(ApiError::missing(param));
    };
    let date_only = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = if date_only {
        Date::parse(&raw, format_description!("[year]-[month]-[day]"))
            .ok()
            .map(|d| {
                let t = if end_of_day {
                    Time::MAX
                } else {
                    Time::MIDNIGHT
                };
                d.with_time(t).assume_utc()
            })
    } else {
        OffsetDateTime::parse(&raw, &Rfc3339).ok()
    };
    parsed.ok_or_else(|| {
        ApiError::invalid(
            param,
            format!(
                "Invalid '{param}': expected a date like 2026-05-01 or an RFC 3339 timestamp \
                 with a time zone, got '{}'.",
                echo(&raw)
            ),
        )
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

async fn costs(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    drain(body).await;
    let ws = match authenticate(&shared, &parts) {
        Ok(ws) => ws,
        Err(e) => return shared.errors.respond(e),
    };
    let range = range_bound(&parts, "start", false).and_then(|start| {
        let end = range_bound(&parts, "end", true)?;
        if end < start {
            return Err(ApiError::invalid("end", "'end' must not be before 'start'."));
        }
        let (first, last) = (start.to_offset(time::UtcOffset::UTC).date(), end.to_offset(time::UtcOffset::UTC).date());
        if (last - first).whole_days() > MAX_COST_RANGE_DAYS {
            return Err(ApiError::invalid(
                "end",
                format!("The range from 'start' to 'end' must not be longer than {MAX_COST_RANGE_DAYS} days."),
            ));
        }
        Ok((start, end, first, last))
    });
    let (start, end, first, last) = match range {
        Ok(r) => r,
        Err(e) => return shared.errors.respond(e),
    };
    let days = shared.costs(ws, first, last);
    let total = days
        .iter()
        .fold(super::Usd::ZERO, |sum, (_, c)| sum.plus(*c));
    let data: Vec<Value> = days
        .iter()
        .map(|(day, cost)| {
            let date = day
                .format(format_description!("[year]-[month]-[day]"))
                .unwrap_or_default();
            json!({ "date": date, "cost": cost.as_f64() })
        })
        .collect();
    ok(
        StatusCode::OK,
        HeaderMap::new(),
        json!({
            "currency": "USD",
            "start": rfc3339(start),
            "end": rfc3339(end),
            "total_cost": total.as_f64(),
            "data": data,
        }),
    )
}

/// A signed download URL, no key needed: the signature is the credential.
async fn download(State(shared): State<Arc<Shared>>, req: Request) -> Response {
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
