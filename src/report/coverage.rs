//! The code × endpoint coverage matrix: which error codes each endpoint was seen to produce,
//! and whether the contract held when it did. Endpoints come from `schemas/endpoints.json`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::contract::{CodeTable, Endpoint};
use crate::run::{CaseResult, Outcome};

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
    pub fn build<'a>(
        table: &CodeTable,
        endpoints: &[Endpoint],
        results: impl IntoIterator<Item = &'a CaseResult>,
    ) -> Self {
        let codes: Vec<String> = table.codes().map(String::from).collect();
        let mut rows: Vec<(String, BTreeMap<String, Cell>)> = endpoints
            .iter()
            .map(|e| (e.label(), BTreeMap::new()))
            .collect();
        rows.push((OTHER.to_string(), BTreeMap::new()));
        // Cases share a handful of path templates: each is matched against the endpoints once.
        let mut rows_of: std::collections::HashMap<(&str, &str), usize> = Default::default();
        for r in results {
            let passed = matches!(r.outcome, Outcome::Passed);
            for step in &r.steps {
                let Some(code) = &step.code else { continue };
                if !codes.contains(code) {
                    continue;
                }
                let row = *rows_of
                    .entry((step.method, step.endpoint.as_str()))
                    .or_insert_with(|| {
                        endpoints
                            .iter()
                            .position(|e| e.matches(step.method, &step.endpoint))
                            .unwrap_or(endpoints.len())
                    });
                let cell = rows[row].1.entry(code.clone()).or_default();
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
