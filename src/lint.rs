//! `errcontract lint` over a directory of cases (its templates and model lists too) or one file:
//! every file loaded and derived as a run would, the rules of `case::rules` and their advice,
//! located. The rules themselves live in `case::rules`.

use std::path::Path;

use crate::case::Case;
use crate::case::{
    CaseError, MODELS_SUFFIX, TEMPLATE_SUFFIX, advice, collisions, derivation_inputs, load,
    load_all,
};
use crate::contract::Contract;
use crate::derive::{derive_all, derive_template};
use crate::locate;

/// What lint found.
#[derive(Debug, Default)]
pub struct LintReport {
    /// Files read.
    pub files: usize,
    /// Cases that are clean.
    pub clean: usize,
    /// Every problem, by file then position.
    pub problems: Vec<CaseError>,
    /// Advice that does not make a file invalid: expectations stricter than the contract,
    /// files that look like cases but are not read.
    pub warnings: Vec<CaseError>,
}

impl LintReport {
    /// One closing line.
    pub fn summary(&self) -> String {
        format!(
            "{} case file{} checked: {} clean, {} problem{}, {} warning{}",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.clean,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" },
            self.warnings.len(),
            if self.warnings.len() == 1 { "" } else { "s" }
        )
    }
}

/// Lint a directory of cases (its templates and model lists too), or one case or template file.
pub fn lint_path(path: &Path, contract: &Contract) -> std::io::Result<LintReport> {
    let mut report = LintReport::default();
    if path.is_file() {
        let root = path.parent().unwrap_or(Path::new("."));
        report.files = 1;
        let result = if path.to_string_lossy().ends_with(TEMPLATE_SUFFIX) {
            derive_template(models_root(root), path, contract).map(|_| Vec::new())
        } else {
            load(root, path, contract).map(|case| located_advice(&case, contract))
        };
        match result {
            Ok(warnings) => {
                report.clean = 1;
                report.warnings = warnings;
            }
            Err(e) => report.problems.extend(e.0),
        }
        return Ok(report);
    }
    let loaded = load_all(path, contract)?;
    report.files = loaded.cases.len() + loaded.broken.len();
    report.clean = loaded.cases.len();
    report.warnings = loaded.warnings;
    for case in &loaded.cases {
        report.warnings.extend(located_advice(case, contract));
    }
    for broken in loaded.broken {
        report.problems.extend(broken.errors.0);
    }
    report.problems.extend(collisions(&loaded.cases));
    // Each template counts as one file: clean when it loads and every case it derives lints.
    let templates = derivation_inputs(path, TEMPLATE_SUFFIX)?.len();
    let derived = derive_all(path, contract)?;
    report.files += templates;
    report.clean += templates.saturating_sub(derived.broken.len());
    for broken in derived.broken {
        report.problems.extend(broken.errors.0);
    }
    Ok(report)
}

/// For one template file: the nearest directory, from its own up, that holds a `*.models.json`
/// (the cases directory, for a template in `cases/<area>/`); its own when none does.
fn models_root(dir: &Path) -> &Path {
    let has_models = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with(MODELS_SUFFIX))
        })
    };
    dir.ancestors().find(|d| has_models(d)).unwrap_or(dir)
}

/// The advice for one case, located in its file.
fn located_advice(case: &Case, contract: &Contract) -> Vec<CaseError> {
    let advice = advice(case, contract);
    if advice.is_empty() {
        return Vec::new();
    }
    let map = locate::SourceMap::new(case.text().unwrap_or_else(|_| std::sync::Arc::from("")));
    advice
        .into_iter()
        .map(|p| p.located(&case.path, &map))
        .collect()
}
