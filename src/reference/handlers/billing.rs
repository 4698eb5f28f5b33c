//! `GET /v2/billing/balance` and `GET /v2/billing/costs`: the workspace's money as the API
//! reports it. Reading the costs range from the query lives here; the ledger itself is in
//! `reference::billing`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time, UtcOffset};

use super::{authenticated, ok, query_param};
use crate::reference::error::{ApiError, echo};
use crate::reference::money::Usd;
use crate::reference::state::Shared;

/// Longest range `GET /v2/billing/costs` accepts, in days between the two UTC dates (the
/// official SDK documents 180).
const MAX_COST_RANGE_DAYS: i64 = 180;

pub(crate) async fn balance(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (_, ws) = match authenticated(&shared, req).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    ok(
        StatusCode::OK,
        HeaderMap::new(),
        json!({ "balance": shared.balance(ws).to_string(), "currency": "USD" }),
    )
}

pub(crate) async fn costs(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, ws) = match authenticated(&shared, req).await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let range = match CostRange::from_query(&parts) {
        Ok(range) => range,
        Err(e) => return shared.errors.respond(e),
    };
    let days = shared.costs(ws, range.first, range.last);
    let total = days.iter().fold(Usd::ZERO, |sum, (_, c)| sum.plus(*c));
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
            "start": rfc3339(range.start),
            "end": rfc3339(range.end),
            "total_cost": total.as_f64(),
            "data": data,
        }),
    )
}

/// The `start` and `end` of a costs request, and the UTC days they cover.
struct CostRange {
    start: OffsetDateTime,
    end: OffsetDateTime,
    first: Date,
    last: Date,
}

impl CostRange {
    /// Both bounds present and parseable (in that order), `end` not before `start`, and at
    /// most [`MAX_COST_RANGE_DAYS`] between their UTC dates.
    fn from_query(parts: &Parts) -> Result<Self, ApiError> {
        let start = range_bound(parts, "start", false)?;
        let end = range_bound(parts, "end", true)?;
        if end < start {
            return Err(ApiError::invalid(
                "end",
                "'end' must not be before 'start'.",
            ));
        }
        let first = start.to_offset(UtcOffset::UTC).date();
        let last = end.to_offset(UtcOffset::UTC).date();
        if (last - first).whole_days() > MAX_COST_RANGE_DAYS {
            return Err(ApiError::invalid(
                "end",
                format!(
                    "The range from 'start' to 'end' must not be longer than \
                     {MAX_COST_RANGE_DAYS} days."
                ),
            ));
        }
        Ok(CostRange {
            start,
            end,
            first,
            last,
        })
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

/// A timestamp echoed back: UTC, whole seconds.
fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}
