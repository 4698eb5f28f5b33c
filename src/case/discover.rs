//! Discovery and names: which files below the cases directory are cases, what each trial is
//! called (`case::<area>/<name>`), and loading them all, in parallel, one bad file never
//! stopping the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::contract::Contract;

use super::error::CaseErrors;
use super::load::load;
use super::model::{Case, DERIVED_PREFIX, TRIAL_PREFIX};

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

/// Every `*.json` file below `root` but templates and model lists (see [`derivation_inputs`]),
/// sorted by case name. Unreadable directories are errors. Only regular files are cases (a
/// link to one counts); a link to a directory is never followed, so no loop or second copy
/// of the tree can be walked.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = json_files(root)?;
    files.retain(|p| !is_derivation_input(p));
    Ok(sorted_by_name(root, files))
}

/// The files below `root` whose names end in `suffix` (`.template.json`, `.models.json`):
/// what derived cases are made from, sorted by name.
pub fn derivation_inputs(root: &Path, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut files = json_files(root)?;
    files.retain(|p| p.to_string_lossy().ends_with(suffix));
    Ok(sorted_by_name(root, files))
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

fn sorted_by_name(root: &Path, files: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut named: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|p| (case_name(root, &p), p))
        .collect();
    named.sort();
    named.into_iter().map(|(_, p)| p).collect()
}

fn json_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            // The entry's own type comes with the directory listing: no stat, no link followed.
            let kind = entry.file_type()?;
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json")
                && (kind.is_file() || (kind.is_symlink() && path.is_file()))
            {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// The file of the trial `name` (`case::area/x` or `area/x`) below `root`, for the `--exact` fast path.
pub fn file_of(root: &Path, name: &str) -> PathBuf {
    let rel = name.strip_prefix(TRIAL_PREFIX).unwrap_or(name);
    root.join(format!("{rel}.json"))
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
        };
        if threads == 1 {
            for path in files {
                let result = load(root, &path, contract).map(Arc::new);
                loaded.push(root, path, result);
            }
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
        loaded
    }
}

/// Load every case below `root`; one bad file never stops the others.
pub fn load_all(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    Ok(Loaded::files(root, discover(root)?, contract))
}

/// The whole suite below `root`: every case file and every case its templates derive.
pub fn suite(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    let mut loaded = load_all(root, contract)?;
    let derived = super::derive_all(root, contract)?;
    loaded.cases.extend(derived.cases);
    loaded.broken.extend(derived.broken);
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
