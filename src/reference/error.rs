//! The error envelope. [`Errors::respond`] is the one place that turns an error into an HTTP
//! response: handlers, fallbacks, the fault trigger and the panic catcher all go through it, so
//! a later layer that alters error responses (self-tests of the suite) has a single choke point.

use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::contract::CodeTable;

/// The eight error codes of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Code {
    InvalidApiKey,
    ParameterMissing,
    InvalidParameter,
    QuotaExceeded,
    ContentPolicyViolation,
    RateLimit,
    NotFound,
    ServerError,
}

impl Code {
    pub(crate) const ALL: [Code; 8] = [
        Code::InvalidApiKey,
        Code::ParameterMissing,
        Code::InvalidParameter,
        Code::QuotaExceeded,
        Code::ContentPolicyViolation,
        Code::RateLimit,
        Code::NotFound,
        Code::ServerError,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Code::InvalidApiKey => "invalid_api_key",
            Code::ParameterMissing => "parameter_missing",
            Code::InvalidParameter => "invalid_parameter",
            Code::QuotaExceeded => "quota_exceeded",
            Code::ContentPolicyViolation => "content_policy_violation",
            Code::RateLimit => "rate_limit",
            Code::NotFound => "not_found",
            Code::ServerError => "server_error",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

pub(crate) const AUTH_DOC_URL: &str = "https://docs.getimg.ai/guides/authentication";
pub(crate) const RATE_LIMIT_DOC_URL: &str = "https://docs.getimg.ai/guides/rate-limits";
pub(crate) const BILLING_DOC_URL: &str = "https://docs.getimg.ai/guides/billing";

/// The documented 401 message, used for every authentication failure.
pub(crate) const INVALID_API_KEY_MESSAGE: &str = "Incorrect API key provided. You can manage your API keys at https://getimg.ai/app/developer/api-keys";

/// Longest piece of request data echoed into a message.
const ECHO_LIMIT: usize = 200;

/// Request data quoted in a message, cut to a readable length.
pub(crate) fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// An error on its way to becoming a response.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub code: Code,
    pub message: String,
    pub param: Option<String>,
    pub doc_url: Option<&'static str>,
    /// Extra headers: `Retry-After`, the rate-limit headers. A list, not a `HeaderMap`, to
    /// keep `Result<_, ApiError>` small.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            param: None,
            doc_url: None,
            headers: Vec::new(),
        }
    }

    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn doc_url(mut self, url: &'static str) -> Self {
        self.doc_url = Some(url);
        self
    }

    pub(crate) fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(crate) fn with_headers(mut self, headers: &HeaderMap) -> Self {
        for (name, value) in headers {
            self.headers.push((name.clone(), value.clone()));
        }
        self
    }

    /// 400 `parameter_missing` naming the parameter.
    pub(crate) fn missing(param: &str) -> Self {
        ApiError::new(
            Code::ParameterMissing,
            format!("Missing required parameter '{}'.", echo(param)),
        )
        .param(param)
    }

    /// 400 `invalid_parameter` naming the parameter.
    pub(crate) fn invalid(param: &str, message: impl Into<String>) -> Self {
        ApiError::new(Code::InvalidParameter, message).param(param)
    }

    /// 400 `invalid_parameter` about the request as a whole (`param: null`).
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(Code::InvalidParameter, message)
    }

    pub(crate) fn invalid_api_key() -> Self {
        ApiError::new(Code::InvalidApiKey, INVALID_API_KEY_MESSAGE).doc_url(AUTH_DOC_URL)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(Code::NotFound, message)
    }

    pub(crate) fn server_error(message: impl Into<String>) -> Self {
        ApiError::new(Code::ServerError, message)
    }
}

/// Renders errors. Statuses come from the contract's code table, never from this source.
#[derive(Debug, Clone)]
pub(crate) struct Errors {
    statuses: [StatusCode; 8],
}

impl Errors {
    /// Look up every code's status once; a table that lacks a code cannot serve.
    pub(crate) fn from_table(table: &CodeTable) -> std::io::Result<Self> {
        let mut statuses = [StatusCode::OK; 8];
        for code in Code::ALL {
            let status = table
                .status_of(code.as_str())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the code table has no usable status for {}", code.as_str()),
                    )
                })?;
            statuses[code.index()] = status;
        }
        Ok(Errors { statuses })
    }

    /// The status of a code.
    pub(crate) fn status(&self, code: Code) -> StatusCode {
        self.statuses[code.index()]
    }

    /// The one way an error becomes a response: the envelope
    /// `{"error": {message, type, param, code, doc_url?}}` as `application/json`, with the
    /// table's status and the error's extra headers.
    pub(crate) fn respond(&self, err: ApiError) -> Response {
        let mut error = Map::new();
        error.insert("message".into(), Value::String(err.message));
        error.insert("type".into(), json!("invalid_request_error"));
        error.insert("param".into(), err.param.map_or(Value::Null, Value::String));
        error.insert("code".into(), json!(err.code.as_str()));
        if let Some(url) = err.doc_url {
            error.insert("doc_url".into(), json!(url));
        }
        let body = json!({ "error": error }).to_string();
        let mut response = (self.status(err.code), body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in err.headers {
            headers.insert(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_status_in_the_embedded_table() {
        let errors = Errors::from_table(&CodeTable::embedded()).unwrap();
        let table = CodeTable::embedded();
        for code in Code::ALL {
            assert_eq!(
                Some(errors.status(code).as_u16()),
                table.status_of(code.as_str())
            );
        }
    }

    #[test]
    fn echo_cuts_long_values() {
        assert_eq!(echo("abc"), "abc");
        assert_eq!(echo(&"x".repeat(500)).chars().count(), ECHO_LIMIT + 1);
    }
}
