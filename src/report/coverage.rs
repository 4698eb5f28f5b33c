//! The code × endpoint coverage matrix: which error codes each endpoint was seen to produce,
//! whether the contract held when it did, and the gaps: codes a case expected from an endpoint
//! that never came back. Endpoints come from `schemas/endpoints.json`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::case::Case;
use crate::contract::{CodeTable, Endpoint};
use crate::run::{CaseResult, Outcome};

use super::faulted::{self, FaultedRow};

/// Counts in one cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    /// Responses with this code where the case passed.
    pub held: usize,
    /// Responses with this code in failed cases.
    pub broken: usize,
    /// Steps that expected this code and got another, or none: a gap.
    #[serde(default)]
    pub missing: usize,
}

/// The matrix, filled case by case as results arrive; read back from a report to be merged.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Matrix {
    /// Column order: the table's codes.
    pub codes: Vec<String>,
    /// Row label → code → cell. Rows: the endpoints, then `other paths`.
    pub rows: Vec<(String, BTreeMap<String, Cell>)>,
    /// Row label → the derived trials and the parameters they faulted (rows as above).
    pub derived: Vec<(String, FaultedRow)>,
    #[serde(skip)]
    endpoints: Vec<Endpoint>,
    /// Cases share a handful of path templates: each is matched against the endpoints once.
    #[serde(skip)]
    row_of: HashMap<&'static str, HashMap<String, usize>>,
}

/// The row of requests that match no endpoint (unknown paths, wrong methods).
pub const OTHER: &str = "(other paths and methods)";

impl Matrix {
    /// An empty matrix: the table's codes by these endpoints.
    pub fn new(table: &CodeTable, endpoints: &[Endpoint]) -> Self {
        let mut rows: Vec<(String, BTreeMap<String, Cell>)> = endpoints
            .iter()
            .map(|e| (e.label(), BTreeMap::new()))
            .collect();
        rows.push((OTHER.to_string(), BTreeMap::new()));
        let derived = rows
            .iter()
            .map(|(label, _)| (label.clone(), FaultedRow::default()))
            .collect();
        Matrix {
            codes: table.codes().map(String::from).collect(),
            rows,
            derived,
            endpoints: endpoints.to_vec(),
            row_of: HashMap::new(),
        }
    }

    /// Built from the results of a run.
    pub fn build<'a>(
        table: &CodeTable,
        endpoints: &[Endpoint],
        results: impl IntoIterator<Item = &'a CaseResult>,
    ) -> Self {
        let mut m = Matrix::new(table, endpoints);
        for r in results {
            m.add(r);
        }
        m
    }

    /// Count the codes one case's responses carried, and the expected ones that did not come.
    pub fn add(&mut self, r: &CaseResult) {
        let passed = matches!(r.outcome, Outcome::Passed);
        for step in &r.steps {
            if let Some(expected) = &step.expected
                && step.code.as_ref() != Some(expected)
                && self.codes.contains(expected)
            {
                let row = self.row(step.method, &step.endpoint);
                self.rows[row]
                    .1
                    .entry(expected.clone())
                    .or_default()
                    .missing += 1;
            }
            let Some(code) = &step.code else { continue };
            if !self.codes.contains(code) {
                continue;
            }
            let row = self.row(step.method, &step.endpoint);
            let cell = self.rows[row].1.entry(code.clone()).or_default();
            if passed {
                cell.held += 1
            } else {
                cell.broken += 1
            }
        }
    }

    /// Count one exchange observed in traffic: the table's `code` it carried from `method`
    /// `path`, and whether the contract held.
    pub fn observe(&mut self, method: &str, path: &str, code: &str, held: bool) {
        if !self.codes.iter().any(|c| c == code) {
            return;
        }
        let row = self
            .endpoints
            .iter()
            .position(|e| e.matches(method, path))
            .unwrap_or(self.endpoints.len());
        let cell = self.rows[row].1.entry(code.to_string()).or_default();
        if held {
            cell.held += 1
        } else {
            cell.broken += 1
        }
    }

    /// Add another run's counts (a shard's, or another process's), row by row and code by code;
    /// a row `other` has that this one lacks is added.
    pub fn absorb(&mut self, other: &Matrix) {
        for code in &other.codes {
            if !self.codes.contains(code) {
                self.codes.push(code.clone());
            }
        }
        for (label, cells) in &other.rows {
            let row = match self.rows.iter().position(|(l, _)| l == label) {
                Some(i) => i,
                None => {
                    self.rows.push((label.clone(), BTreeMap::new()));
                    self.rows.len() - 1
                }
            };
            for (code, cell) in cells {
                let mine = self.rows[row].1.entry(code.clone()).or_default();
                mine.held += cell.held;
                mine.broken += cell.broken;
                mine.missing += cell.missing;
            }
        }
        for (label, faulted) in &other.derived {
            match self.derived.iter_mut().find(|(l, _)| l == label) {
                Some((_, mine)) => mine.absorb(faulted),
                None => self.derived.push((label.clone(), faulted.clone())),
            }
        }
    }

    /// Count a derived case under the endpoint of its request.
    pub fn add_derived(&mut self, case: &Case, r: &CaseResult) {
        let (Some(derived), Some(step)) = (&case.derived, r.steps.first()) else {
            return;
        };
        let row = self.row(step.method, &step.endpoint);
        let passed = matches!(r.outcome, Outcome::Passed);
        self.derived[row].1.add(derived, passed);
    }

    /// The row of a request: its endpoint's, or the last (`OTHER`).
    fn row(&mut self, method: &'static str, endpoint: &str) -> usize {
        let by_path = self.row_of.entry(method).or_default();
        match by_path.get(endpoint) {
            Some(row) => *row,
            None => {
                let row = self
                    .endpoints
                    .iter()
                    .position(|e| e.matches(method, endpoint))
                    .unwrap_or(self.endpoints.len());
                by_path.insert(endpoint.to_string(), row);
                row
            }
        }
    }

    /// The gaps: (endpoint, code, how many steps) where an expected code never came back.
    pub fn gaps(&self) -> Vec<(&str, &str, usize)> {
        self.rows
            .iter()
            .flat_map(|(label, cells)| {
                cells
                    .iter()
                    .filter(|(_, c)| c.missing > 0)
                    .map(move |(code, c)| (label.as_str(), code.as_str(), c.missing))
            })
            .collect()
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
        let mut out =
            String::from("error-code coverage (responses with each code, by endpoint):\n");
        let cell_width = 5;
        out.push_str(&format!("  {:width$}", "", width = width));
        for i in 0..self.codes.len() {
            out.push_str(&format!(" {:>cell_width$}", format!("[{}]", i + 1)));
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
                    Some(c) => {
                        let mut t = match (c.held, c.broken) {
                            (0, 0) => String::new(),
                            (held, 0) => held.to_string(),
                            (held, broken) => format!("{held}/{broken}✗"),
                        };
                        if c.missing > 0 {
                            t.push_str(&format!("?{}", c.missing));
                        }
                        t
                    }
                };
                out.push_str(&format!(" {text:>cell_width$}"));
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
        out.push_str(
            "  N: responses with the code in cases that held; N/M✗: N held, M in cases that failed; ?N: N steps expected the code and got another; ·: none\n",
        );
        let gaps = self.gaps();
        if !gaps.is_empty() {
            let list: Vec<String> = gaps
                .iter()
                .map(|(endpoint, code, n)| format!("{code} from {endpoint} ({n})"))
                .collect();
            out.push_str(&format!(
                "  expected codes that never came back: {}\n",
                list.join(", ")
            ));
        }
        let never = self.codes_never_held();
        if !never.is_empty() {
            out.push_str(&format!(
                "  codes no case saw held in this run: {}\n",
                never.join(", ")
            ));
        }
        let derived = faulted::render(&self.derived);
        if !derived.is_empty() {
            out.push('\n');
            out.push_str(&derived);
        }
        out
    }
}
