//! A rule broken in one file, and where.

use super::super::error::CaseError;
use crate::locate;

/// A rule broken in one file, at a JSON Pointer (located by the loader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where, as a JSON Pointer into the file.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub help: Option<String>,
}

impl Problem {
    /// A problem at `pointer`.
    pub fn new(pointer: String, message: String, help: Option<String>) -> Self {
        Problem {
            pointer,
            message,
            help,
        }
    }

    /// The problem as an error of the file at `path`, at its line and column in `map`.
    pub fn located(self, path: &std::path::Path, map: &locate::SourceMap) -> CaseError {
        CaseError {
            path: path.to_path_buf(),
            at: map.value_at(&self.pointer),
            pointer: self.pointer,
            message: self.message,
            help: self.help,
        }
    }
}
