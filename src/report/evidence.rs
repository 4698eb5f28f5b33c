//! The evidence of a failure as data: the request that was sent and the response that came (or
//! the transport error), excerpted and redacted, with the reproduction. `report.json` carries
//! it for every failed case, so a CI system or a person can act without rerunning.

use serde::{Deserialize, Serialize};

use crate::probe::Exchange;
use crate::redact::Secrets;
use crate::run::CaseResult;

/// Bytes of a body kept in an excerpt.
pub const EXCERPT_BYTES: usize = 4096;

/// What the failing step sent and got.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// The failing step, from 1.
    pub step: usize,
    /// What was sent.
    pub request: Sent,
    /// What came back, when a response came.
    pub response: Option<Came>,
    /// Why no response came, when none did.
    pub transport_error: Option<String>,
    /// How long the exchange took.
    pub elapsed_ms: u64,
    /// A curl command that sends the same request (keys as `$ERRCONTRACT_*` variables).
    pub curl: String,
}

/// A request, excerpted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Sent {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body's first bytes, as text.
    pub body: Option<String>,
    /// The body's whole length.
    pub body_bytes: usize,
}

/// A response, excerpted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Came {
    /// The status.
    pub status: u16,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body's first bytes, as text.
    pub body: String,
    /// The body's whole length (as read, at most the cap).
    pub body_bytes: usize,
}

/// The first [`EXCERPT_BYTES`] of a body, redacted before the cut.
fn excerpt(bytes: &[u8], secrets: &Secrets) -> String {
    secrets.excerpt(bytes, EXCERPT_BYTES)
}

impl Evidence {
    /// The evidence of a failed case, redacted; `None` when no exchange was kept (a deadline).
    pub fn of(result: &CaseResult, secrets: &Secrets) -> Option<Evidence> {
        let (index, step) = result.failed_step()?;
        let exchange: &Exchange = step.exchange.as_deref()?;
        let pairs = |headers: &[(String, String)]| {
            headers
                .iter()
                .map(|(n, v)| (n.clone(), secrets.redact(v)))
                .collect()
        };
        let req = &exchange.request;
        let (response, transport_error) = match &exchange.response {
            Ok(resp) => (
                Some(Came {
                    status: resp.status,
                    version: resp.version.clone(),
                    headers: pairs(&resp.headers),
                    body: excerpt(&resp.body, secrets),
                    body_bytes: resp.body.len(),
                }),
                None,
            ),
            Err(e) => (None, Some(secrets.redact(&e.to_string()))),
        };
        Some(Evidence {
            step: index + 1,
            request: Sent {
                method: req.method.to_string(),
                url: secrets.redact(&req.url),
                headers: pairs(&req.headers),
                body: req.body.as_deref().map(|b| excerpt(b, secrets)),
                body_bytes: req.body.as_ref().map_or(0, |b| b.len()),
            },
            response,
            transport_error,
            elapsed_ms: exchange.elapsed.as_millis() as u64,
            curl: secrets.redact(&req.curl),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_across_the_cut_is_redacted_whole() {
        let key = "sk_test_straddling_the_cut_0123";
        let mut secrets = Secrets::new();
        secrets.add("ERRCONTRACT_API_KEY", key);
        for at in [
            EXCERPT_BYTES - 20,
            EXCERPT_BYTES - 1,
            EXCERPT_BYTES - key.len() + 1,
        ] {
            let body = format!("{}{key}{}", "x".repeat(at), "y".repeat(100));
            let text = excerpt(body.as_bytes(), &secrets);
            for n in 6..=key.len() {
                assert!(
                    !text.contains(&key[..n]),
                    "{n} characters of the key at {at}"
                );
            }
        }
    }
}
