//! Discovery and names: which files below the cases directory are cases, what each trial is
//! called (`case::<area>/<name>`), and loading them all, in parallel, one bad file never
//! stopping the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::contract::Contract;

use crate::locate::LineCol;

use super::error::{CaseError, CaseErrors};
use super::load::load;
use super::model::{Case, DERIVED_PREFIX, TRIAL_PREFIX};
use super::rules::collisions;

/// The trial name of a case file below `root`: `area/name` (`/` on every platform, the
/// `.json` taken off once).
pub fn case_name(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file).to_string_lossy();
    let rel = if std::path::MAIN_SEPARATOR == '/' {
        rel.into_owned()
    } else {
        rel.replace(std::path::MAIN_SEPARATOR, "/")
    };
    match rel.strip_suffix(".json") {
        Some(name) => name.to_string(),
        None => rel,
    }
}

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
    [
        super::template::TEMPLATE_SUFFIX,
        super::models::MODELS_SUFFIX,
    ]
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

/// Why an `--exact` name cannot be a case file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a case name: a name is a path below the cases directory, without `..`, `.` or empty parts"
)]
pub struct BadName(pub String);

/// The file of the trial `name` (`case::area/x` or `area/x`) below `root`, for the `--exact`
/// fast path; a name that would leave the cases directory is refused.
pub fn file_of(root: &Path, name: &str) -> Result<PathBuf, BadName> {
    let rel = name.strip_prefix(TRIAL_PREFIX).unwrap_or(name);
    let ok = !rel.is_empty()
        && rel.split('/').all(|part| {
            !part.is_empty() && part != "." && part != ".." && !part.contains(['\\', '\0'])
        })
        && !Path::new(rel).has_root();
    if !ok {
        return Err(BadName(name.to_string()));
    }
    Ok(root.join(format!("{rel}.json")))
}

/// A case file (or template) that did not load: its case name, its path and every problem in it.
#[derive(Debug)]
pub struct Broken {
    /// `area/name`.
    pub name: String,
    /// Whether it is a template (its trial is `derived::<name>`).
    pub template: bool,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub errors: CaseErrors,
}

impl Broken {
    /// The trial name: `case::<area>/<name>`, or `derived::<area>/<name>` for a template.
    pub fn trial_name(&self) -> String {
        let prefix = if self.template {
            DERIVED_PREFIX
        } else {
            TRIAL_PREFIX
        };
        format!("{prefix}{}", self.name)
    }
}

/// The outcome of loading a directory: the good cases and the broken files.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Cases that loaded and linted clean, sorted by name (shared, so the run hands them on
    /// without a copy).
    pub cases: Vec<Arc<Case>>,
    /// Files that did not, sorted by name.
    pub broken: Vec<Broken>,
    /// Entries skipped by discovery, each saying why.
    pub warnings: Vec<CaseError>,
}

impl Loaded {
    fn push(&mut self, root: &Path, path: PathBuf, loaded: Result<Arc<Case>, CaseErrors>) {
        match loaded {
            Ok(c) => self.cases.push(c),
            Err(errors) => self.broken.push(Broken {
                name: case_name(root, &path),
                template: false,
                path,
                errors,
            }),
        }
    }

    /// Load these files (below `root`), keeping their order.
    pub fn files(root: &Path, files: Vec<PathBuf>, contract: &Contract) -> Loaded {
        // Parsing and schema validation are CPU work; below a few hundred files a thread costs
        // more than it saves.
        const PER_THREAD: usize = 256;
        let threads = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
            .min(files.len().div_ceil(PER_THREAD))
            .max(1);
        let mut loaded = Loaded {
            cases: Vec::with_capacity(files.len()),
            broken: Vec::new(),
            warnings: Vec::new(),
        };
        if threads == 1 {
            for path in files {
                let result = load(root, &path, contract).map(Arc::new);
                loaded.push(root, path, result);
            }
            loaded.refuse_collisions();
            return loaded;
        }
        let chunk = files.len().div_ceil(threads);
        let load_part = |part: &[PathBuf]| -> Vec<(PathBuf, Result<Arc<Case>, CaseErrors>)> {
            part.iter()
                .map(|p| (p.clone(), load(root, p, contract).map(Arc::new)))
                .collect()
        };
        let parts: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| (part, s.spawn(move || load_part(part))))
                .collect();
            handles
                .into_iter()
                // A thread that died loses nothing: its files are loaded again here.
                .map(|(part, h)| h.join().unwrap_or_else(|_| load_part(part)))
                .collect()
        });
        for (path, result) in parts.into_iter().flatten() {
            loaded.push(root, path, result);
        }
        loaded.refuse_collisions();
        loaded
    }

    /// A case whose name collides with an earlier one's (they differ only in case, and so
    /// collide on case-insensitive file systems and in reports) is broken, in lint and in the
    /// run alike.
    fn refuse_collisions(&mut self) {
        let collided = collisions(&self.cases);
        if collided.is_empty() {
            return;
        }
        let (cases, moved): (Vec<_>, Vec<_>) = std::mem::take(&mut self.cases)
            .into_iter()
            .partition(|c| !collided.iter().any(|e| e.path == c.path));
        self.cases = cases;
        for case in moved {
            let errors = collided
                .iter()
                .filter(|e| e.path == case.path)
                .cloned()
                .collect();
            self.broken.push(Broken {
                name: case.name.clone(),
                template: false,
                path: case.path.clone(),
                errors: CaseErrors(errors),
            });
        }
        self.broken.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// Load every case below `root`; one bad file never stops the others.
pub fn load_all(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    let found = discover(root)?;
    let mut loaded = Loaded::files(root, found.files, contract);
    loaded.warnings = found.warnings;
    Ok(loaded)
}

impl Loaded {
    /// The trial name of every case, broken files included.
    pub fn trial_names(&self) -> Vec<String> {
        self.cases
            .iter()
            .map(|c| c.trial_name())
            .chain(self.broken.iter().map(|b| b.trial_name()))
            .collect()
    }
}
