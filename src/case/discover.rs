//! Discovery: which files below the cases directory are cases, which are what derived cases are
//! made from (templates, model lists), and what is skipped with a warning.

use std::path::{Path, PathBuf};

use crate::locate::LineCol;

use super::error::CaseError;
use super::name::case_name;

/// How a template's file name ends: templates are read for `derive`, not as cases.
pub const TEMPLATE_SUFFIX: &str = ".template.json";

/// How a model list's file name ends: model lists are read for `derive`, not as cases.
pub const MODELS_SUFFIX: &str = ".models.json";

/// What discovery found below the cases directory.
#[derive(Debug, Default)]
pub struct Discovered {
    /// The case files, sorted by case name.
    pub files: Vec<PathBuf>,
    /// Entries that look like cases but are not read, each saying why.
    pub warnings: Vec<CaseError>,
}

/// A file that could be meant as a case but will not be read, at the top of that file.
fn skipped(path: PathBuf, message: String, help: &str) -> CaseError {
    CaseError {
        path,
        at: LineCol { line: 1, column: 1 },
        pointer: String::new(),
        message,
        help: Some(help.to_string()),
    }
}

/// Every `*.json` file below `root` but templates and model lists (see [`derivation_inputs`]),
/// sorted by case name. Unreadable directories are errors. Only regular files are cases (a
/// link to one counts); a link to a directory is never followed, so no loop or second copy
/// of the tree can be walked. A near-miss name (`x.JSON`, `x.jsonc`), a `.json` that is not a
/// regular file (a FIFO, a socket: opening one could hang) and a link to a directory are
/// skipped with a warning.
pub fn discover(root: &Path) -> std::io::Result<Discovered> {
    let mut found = walk(root)?;
    found.files.retain(|p| !is_derivation_input(p));
    Ok(found)
}

/// The files below `root` whose names end in `suffix` (`.template.json`, `.models.json`):
/// what derived cases are made from, sorted by name.
pub fn derivation_inputs(root: &Path, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files = walk(root)?.files;
    files.retain(|p| p.to_string_lossy().ends_with(suffix));
    Ok(files)
}

fn is_derivation_input(path: &Path) -> bool {
    let name = path.to_string_lossy();
    [TEMPLATE_SUFFIX, MODELS_SUFFIX]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Every `*.json` regular file below `root` (and what was skipped, with why), sorted by name.
fn walk(root: &Path) -> std::io::Result<Discovered> {
    let mut found = Discovered::default();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            // The entry's own type comes with the directory listing: no stat, no link followed.
            let kind = entry.file_type()?;
            let path = entry.path();
            let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() && path.is_dir() {
                found.warnings.push(skipped(
                    path,
                    "a link to a directory is not followed".into(),
                    "move the cases into the cases directory, or link the files one by one",
                ));
            } else if ext.as_deref() == Some("json") {
                if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                    found.files.push(path);
                } else {
                    found.warnings.push(skipped(
                        path,
                        "not a regular file; skipped".into(),
                        "a case is a regular file",
                    ));
                }
            } else if let Some(ext) = ext.filter(|e| near_miss(e)) {
                found.warnings.push(skipped(
                    path.clone(),
                    format!("ends in .{ext}, so it is not read as a case: only *.json files are"),
                    &format!("rename it to {}", path.with_extension("json").display()),
                ));
            }
        }
    }
    let mut named: Vec<(String, PathBuf)> = std::mem::take(&mut found.files)
        .into_iter()
        .map(|p| (case_name(root, &p), p))
        .collect();
    named.sort();
    found.files = named.into_iter().map(|(_, p)| p).collect();
    found.warnings.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// An extension a case author may have meant as `.json`.
fn near_miss(ext: &str) -> bool {
    let lower = ext.to_ascii_lowercase();
    lower != ext && lower == "json" || matches!(lower.as_str(), "jsonc" | "json5" | "jsn" | "josn")
}
