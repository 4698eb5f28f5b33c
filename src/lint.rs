//! `errcontract lint`: every case file against `case.schema.json` and the table, plus the rules
//! that span files (unique names).

use std::collections::BTreeMap;
use std::path::Path;

use crate::case::{self, CaseError};
use crate::contract::Contract;
use crate::locate::LineCol;

/// What lint found.
#[derive(Debug, Default)]
pub struct LintReport {
    /// Files read.
    pub files: usize,
    /// Cases that are clean.
    pub clean: usize,
    /// Every problem, by file then position.
    pub problems: Vec<CaseError>,
}

impl LintReport {
    /// One closing line.
    pub fn summary(&self) -> String {
        format!(
            "{} case file{} checked: {} clean, {} problem{}",
            self.files,
            if self.files == 1 { "" } else { "s" },
            self.clean,
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )
    }
}

/// Lint a directory of cases, or one case file.
pub fn lint_path(path: &Path, contract: &Contract) -> std::io::Result<LintReport> {
    let mut report = LintReport::default();
    if path.is_file() {
        let root = path.parent().unwrap_or(Path::new("."));
        report.files = 1;
        match case::load(root, path, contract) {
            Ok(_) => report.clean = 1,
            Err(e) => report.problems.extend(e.0),
        }
        return Ok(report);
    }
    let loaded = case::load_all(path, contract)?;
    report.files = loaded.cases.len() + loaded.broken.len();
    report.clean = loaded.cases.len();
    for (_, _, errs) in loaded.broken {
        report.problems.extend(errs.0);
    }
    // Names that differ only in case collide on case-insensitive file systems and in reports.
    let mut seen: BTreeMap<String, &case::Case> = BTreeMap::new();
    for c in &loaded.cases {
        if let Some(first) = seen.insert(c.name.to_lowercase(), c) {
            report.problems.push(CaseError {
                path: c.path.clone(),
                at: LineCol { line: 1, column: 1 },
                pointer: String::new(),
                message: format!(
                    "case name {:?} collides with {:?} ({}) when case is ignored",
                    c.name,
                    first.name,
                    first.path.display()
                ),
                help: Some("rename one of the files".into()),
            });
        }
    }
    Ok(report)
}
