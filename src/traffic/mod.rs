//! Passive checking: exchanges real clients made, read from HAR or NDJSON files (streamed, one
//! exchange at a time) or seen by the recording proxy, enter the pipeline at the checks
//! (`check::check_observed`, the checks that need no case) and are grouped by endpoint × code
//! into trials whose names stay the same from run to run. The session judges and reports the
//! groups as it does cases.

mod group;
mod har;
mod input;
mod ndjson;
pub mod proxy;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

pub use group::{Break, Checker, Group, Scope, Shown};
pub use input::{Problem, read};
pub use ndjson::{Recorder, record_line};

/// The trial-name prefix of a traffic group (`traffic::POST /v2/images/generations::…`).
pub const TRIAL_PREFIX: &str = "traffic::";

/// Where an exchange came from, to point a finding at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The `index`-th entry (from 0) of a HAR file.
    Entry {
        /// The file, as given (`-`: stdin).
        file: Arc<str>,
        /// The entry's index in `log.entries`.
        index: usize,
    },
    /// A line (from 1) of an NDJSON file.
    Line {
        /// The file, as given.
        file: Arc<str>,
        /// The line.
        line: usize,
    },
    /// The `n`-th exchange (from 1) through the proxy.
    Live {
        /// Its number.
        n: u64,
    },
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Entry { file, index } => write!(f, "{file}: entry {index}"),
            Place::Line { file, line } => write!(f, "{file}:{line}"),
            Place::Live { n } => write!(f, "exchange {n}"),
        }
    }
}

/// One exchange as it was observed. Header names are lower-case.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Where it came from.
    pub place: Place,
    /// When it started, as recorded (RFC 3339).
    pub time: Option<String>,
    /// The method.
    pub method: String,
    /// The URL (absolute, or a path).
    pub url: String,
    /// The request's headers.
    pub request_headers: Vec<(String, String)>,
    /// The request's body, when recorded.
    pub request_body: Option<Bytes>,
    /// The status.
    pub status: u16,
    /// The response's headers.
    pub response_headers: Vec<(String, String)>,
    /// The response's body, decoded, when recorded (`None`: not recorded).
    pub response_body: Option<Bytes>,
    /// The labels of the keys our recorder took out of the response (NDJSON's
    /// `response.keys_redacted`): the response carried them, and the recording no longer does.
    pub keys_redacted: Vec<String>,
}

impl Exchange {
    /// The path of the URL, without query.
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }
}

/// The path of a URL or of a path with a query.
fn path_of(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => url,
    };
    rest.split(['?', '#']).next().unwrap_or(rest)
}

impl Exchange {
    /// The URL's host (without port), when the URL is absolute.
    pub fn host(&self) -> Option<&str> {
        let after = &self.url[self.url.find("://")? + 3..];
        let authority = after.split(['/', '?', '#']).next()?;
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        Some(if authority.starts_with('[') {
            authority.split_inclusive(']').next().unwrap_or(authority)
        } else {
            authority.split(':').next().unwrap_or(authority)
        })
    }

    /// The values of query parameters that carry keys (`api_key`, `key`, `token`, …).
    pub fn query_keys(&self) -> impl Iterator<Item = String> + '_ {
        let query = self
            .url
            .split_once('?')
            .map_or("", |(_, q)| q.split('#').next().unwrap_or(""));
        query.split('&').filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let name = name.to_ascii_lowercase().replace(['-', '_'], "");
            let credential = matches!(
                name.as_str(),
                "apikey" | "key" | "token" | "accesstoken" | "authtoken" | "auth"
            );
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            (credential && !value.is_empty()).then(|| value.into_owned())
        })
    }
}

/// Header names whose values are credentials: never shown, never recorded.
pub fn is_credential(name: &str) -> bool {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
    ]
    .iter()
    .any(|c| name.eq_ignore_ascii_case(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_come_from_urls_and_paths_alike() {
        assert_eq!(path_of("https://api.example/v2/models?x=1"), "/v2/models");
        assert_eq!(path_of("http://h:1"), "/");
        assert_eq!(path_of("/v2/models/a#f"), "/v2/models/a");
    }
}
