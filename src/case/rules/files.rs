//! The rule across files.

use std::collections::BTreeMap;

use crate::locate::LineCol;

use super::super::error::CaseError;
use super::super::model::Case;

/// The rule across files: names that differ only in case collide on case-insensitive file
/// systems and in reports.
pub fn collisions(cases: &[std::sync::Arc<Case>]) -> Vec<CaseError> {
    let mut seen: BTreeMap<String, &Case> = BTreeMap::new();
    let mut out = Vec::new();
    for c in cases {
        if let Some(first) = seen.insert(c.name.to_lowercase(), c) {
            out.push(CaseError {
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
    out
}
