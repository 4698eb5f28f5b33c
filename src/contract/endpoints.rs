//! The API's endpoints (`schemas/endpoints.json`): the rows of the coverage matrix.

use serde::{Deserialize, Serialize};

/// One endpoint: a method and a path template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub struct Endpoint {
    /// The method.
    pub method: String,
    /// The path template; `{name}` matches one segment.
    pub path: String,
    /// Whether a `GET` of it polls a long-running job (a video generation): traffic checks
    /// every answer of it, success or not, for the failed-job object.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub poll: bool,
}

impl Endpoint {
    /// `METHOD /path`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether a concrete (or template) request path is this endpoint.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        let want = self.path.trim_matches('/').split('/');
        let mut got = path.trim_matches('/').split('/');
        self.method.eq_ignore_ascii_case(method)
            && want.clone().count() == got.clone().count()
            && want
                .zip(&mut got)
                .all(|(w, g)| (w.starts_with('{') && !g.is_empty()) || w == g)
    }
}

#[derive(Deserialize)]
pub(super) struct EndpointsFile {
    pub endpoints: Vec<Endpoint>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment() {
        let e = Endpoint {
            method: "GET".into(),
            path: "/v2/videos/generations/{id}".into(),
            poll: true,
        };
        assert!(e.matches("GET", "/v2/videos/generations/req-123"));
        assert!(e.matches("GET", "/v2/videos/generations/{id}"));
        assert!(!e.matches("GET", "/v2/videos/generations"));
        assert!(!e.matches("POST", "/v2/videos/generations/x"));
        assert!(!e.matches("GET", "/v2/videos/generations/x/y"));
    }
}
