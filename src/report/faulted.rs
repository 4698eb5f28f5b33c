//! The derived part of the coverage matrix: per endpoint, how many derived trials held or broke
//! the contract, and which parameters they faulted (`auth` for the credentials).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::case::Derived;

/// One endpoint's derived trials.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultedRow {
    /// Derived trials that passed.
    pub held: usize,
    /// Derived trials that failed.
    pub broken: usize,
    /// The parameters they faulted.
    pub params: BTreeSet<String>,
}

impl FaultedRow {
    /// Count one derived trial.
    pub fn add(&mut self, derived: &Derived, passed: bool) {
        if passed {
            self.held += 1;
        } else {
            self.broken += 1;
        }
        self.params.extend(derived.faulted.iter().cloned());
    }

    /// Add another run's row of the same endpoint.
    pub fn absorb(&mut self, other: &FaultedRow) {
        self.held += other.held;
        self.broken += other.broken;
        self.params.extend(other.params.iter().cloned());
    }
}

/// The derived rows as text, under the matrix; empty when no derived trial ran.
pub fn render(rows: &[(String, FaultedRow)]) -> String {
    let shown: Vec<&(String, FaultedRow)> =
        rows.iter().filter(|(_, r)| r.held + r.broken > 0).collect();
    if shown.is_empty() {
        return String::new();
    }
    let width = shown.iter().map(|(l, _)| l.len()).max().unwrap_or(10);
    let mut out = String::from(
        "derived trials (held / broke the contract) and the parameters they faulted, by endpoint:\n",
    );
    let (mut held, mut broken) = (0, 0);
    for (label, row) in shown {
        held += row.held;
        broken += row.broken;
        let count = if row.broken == 0 {
            row.held.to_string()
        } else {
            format!("{}/{}✗", row.held, row.broken)
        };
        let params: Vec<&str> = row.params.iter().map(String::as_str).collect();
        out.push_str(&format!(
            "  {label:width$} {count:>7}  {}\n",
            params.join(", ")
        ));
    }
    out.push_str(&format!(
        "  {} derived trials: {held} held, {broken} broke the contract\n",
        held + broken
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(faulted: &[&str]) -> Derived {
        Derived {
            template: "cases/images/generations.template.json".into(),
            fault: "drop/prompt".into(),
            words: "dropped `prompt`".into(),
            faulted: faulted.iter().map(|s| s.to_string()).collect(),
            untried: None,
            from_model: false,
        }
    }

    #[test]
    fn rows_count_trials_and_list_each_faulted_parameter_once() {
        let mut row = FaultedRow::default();
        row.add(&derived(&["prompt"]), true);
        row.add(&derived(&["auth", "prompt"]), true);
        row.add(&derived(&["model"]), false);
        let text = render(&[
            ("POST /v2/images/generations".into(), row),
            ("GET /v2/models".into(), FaultedRow::default()),
        ]);
        assert_eq!(
            text,
            "derived trials (held / broke the contract) and the parameters they faulted, by endpoint:\n  \
             POST /v2/images/generations    2/1✗  auth, model, prompt\n  \
             3 derived trials: 2 held, 1 broke the contract\n"
        );
    }

    #[test]
    fn no_derived_trial_renders_nothing() {
        assert_eq!(
            render(&[("GET /v2/models".into(), FaultedRow::default())]),
            ""
        );
    }
}
