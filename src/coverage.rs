//! The code × endpoint coverage matrix: which error codes each endpoint was seen to produce,
//! and whether the contract held when it did. Endpoints come from `schemas/endpoints.json`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::CodeTable;
use crate::run::{CaseResult, Outcome};

/// One endpoint: a method and a path template.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub struct Endpoint {
    /// The method.
    pub method: String,
    /// The path template; `{name}` matches one segment.
    pub path: String,
}

impl Endpoint {
    /// `METHOD /path`.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether a concrete (or template) request path is this endpoint.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.method.eq_ignore_ascii_case(method)
            && want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| (w.starts_with('{') && !g.is_empty()) || w == g)
    }
}

#[derive(Deserialize)]
struct EndpointsFile {
    endpoints: Vec<Endpoint>,
}

/// Load `endpoints.json` from the schemas directory.
pub fn load_endpoints(schemas: &Path) -> Result<Vec<Endpoint>, String> {
    let path = schemas.join("endpoints.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let file: EndpointsFile = serde_json::from_str(&text)
        .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))?;
    Ok(file.endpoints)
}

/// Counts in one cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cell {
    /// Responses with this code where the case passed.
    pub held: usize,
    /// Responses with this code in failed cases.
    pub broken: usize,
}

/// The matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    /// Column order: the table's codes.
    pub codes: Vec<String>,
    /// Row label → code → cell. Rows: the endpoints, then `other paths`.
    pub rows: Vec<(String, BTreeMap<String, Cell>)>,
}

/// The row of requests that match no endpoint (unknown paths, wrong methods).
pub const OTHER: &str = "(other paths and methods)";

impl Matrix {
    /// Build from the results of a run.
    pub fn build(table: &CodeTable, endpoints: &[Endpoint], results: &[CaseResult]) -> Self {
        let codes: Vec<String> = table.codes().map(String::from).collect();
        let mut rows: Vec<(String, BTreeMap<String, Cell>)> = endpoints
            .iter()
            .map(|e| (e.label(), BTreeMap::new()))
            .collect();
        rows.push((OTHER.to_string(), BTreeMap::new()));
        for r in results {
            let passed = matches!(r.outcome, Outcome::Passed);
            for step in &r.steps {
                let Some(x) = &step.exchange else { continue };
                let Some(code) = step.verdict.code.clone().or_else(|| {
                    step.verdict
                        .body
                        .as_ref()
                        .and_then(|b| b.pointer("/error/code"))
                        .and_then(|c| c.as_str())
                        .map(String::from)
                }) else {
                    continue;
                };
                if !codes.contains(&code) {
                    continue;
                }
                let row = endpoints
                    .iter()
                    .position(|e| e.matches(&x.request.method, &step.endpoint))
                    .unwrap_or(endpoints.len());
                let cell = rows[row].1.entry(code).or_default();
                if passed {
                    cell.held += 1
                } else {
                    cell.broken += 1
                }
            }
        }
        Matrix { codes, rows }
    }

    /// The codes no endpoint was seen to produce with the contract held.
    pub fn codes_never_held(&self) -> Vec<&str> {
        self.codes
            .iter()
            .filter(|c| {
                !self
                    .rows
                    .iter()
                    .any(|(_, cells)| cells.get(*c).is_some_and(|x| x.held > 0))
            })
            .map(String::as_str)
            .collect()
    }

    /// The matrix as text: one row per endpoint, one numbered column per code.
    pub fn render(&self) -> String {
        let width = self
            .rows
            .iter()
            .map(|(l, _)| l.len())
            .max()
            .unwrap_or(10)
            .max(10);
        let mut out = String::from(
            "error-code coverage (cases that held / broke the contract, by endpoint):\n",
        );
        out.push_str(&format!("  {:width$}", "", width = width));
        for i in 0..self.codes.len() {
            out.push_str(&format!(" {:>5}", format!("[{}]", i + 1)));
        }
        out.push('\n');
        for (label, cells) in &self.rows {
            if label == OTHER && cells.is_empty() {
                continue;
            }
            out.push_str(&format!("  {label:width$}"));
            for code in &self.codes {
                let text = match cells.get(code) {
                    None => "·".to_string(),
                    Some(c) if c.broken == 0 => c.held.to_string(),
                    Some(c) => format!("{}/{}✗", c.held, c.broken),
                };
                out.push_str(&format!(" {text:>5}"));
            }
            out.push('\n');
        }
        let legend: Vec<String> = self
            .codes
            .iter()
            .enumerate()
            .map(|(i, c)| format!("[{}] {c}", i + 1))
            .collect();
        out.push_str(&format!("  {}\n", legend.join("  ")));
        let never = self.codes_never_held();
        if !never.is_empty() {
            out.push_str(&format!(
                "  codes no case saw held in this run: {}\n",
                never.join(", ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment() {
        let e = Endpoint {
            method: "GET".into(),
            path: "/v2/videos/generations/{id}".into(),
        };
        assert!(e.matches("GET", "/v2/videos/generations/req-123"));
        assert!(e.matches("GET", "/v2/videos/generations/{id}"));
        assert!(!e.matches("GET", "/v2/videos/generations"));
        assert!(!e.matches("POST", "/v2/videos/generations/x"));
        assert!(!e.matches("GET", "/v2/videos/generations/x/y"));
    }
}
