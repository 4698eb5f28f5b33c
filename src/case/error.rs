//! A problem in a case file: where (file:line:column, field), what, and what to do.

use std::path::PathBuf;

use crate::locate::LineCol;

/// One problem in one case file, with where it is and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The file.
    pub path: PathBuf,
    /// Where in it.
    pub at: LineCol,
    /// The JSON Pointer of the value at fault (empty for the whole file).
    pub pointer: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl std::fmt::Display for CaseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: ", self.path.display(), self.at)?;
        if !self.pointer.is_empty() {
            write!(f, "{}: ", field_name(&self.pointer))?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CaseError {}

/// Every problem of one case file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseErrors(pub Vec<CaseError>);

impl std::fmt::Display for CaseErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "invalid case file ({n} problem{}):",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CaseErrors {}

/// A JSON Pointer as a dotted field name: `/expect/headers/Retry-After` → `expect.headers.Retry-After`.
pub fn field_name(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}
