//! Discovery and names: which files below the cases directory are cases, what each trial is
//! called (`case::<area>/<name>`), and loading them all, in parallel, one bad file never
//! stopping the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::contract::Contract;

use super::error::CaseErrors;
use super::load::load;
use super::model::{Case, TRIAL_PREFIX};

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

/// Every `*.json` file below `root`, sorted by case name. Unreadable directories are errors.
/// Only regular files are cases (a link to one counts); a link to a directory is never
/// followed, so no loop or second copy of the tree can be walked.
pub fn discover(root: &Path) -> std::io::Result<Vec<PathBuf>> {
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
    let mut named: Vec<(String, PathBuf)> =
        out.into_iter().map(|p| (case_name(root, &p), p)).collect();
    named.sort();
    Ok(named.into_iter().map(|(_, p)| p).collect())
}

/// The file of the trial `name` (`case::area/x` or `area/x`) below `root`, for the `--exact` fast path.
pub fn file_of(root: &Path, name: &str) -> PathBuf {
    let rel = name.strip_prefix(TRIAL_PREFIX).unwrap_or(name);
    root.join(format!("{rel}.json"))
}

/// A case file that did not load: its case name, its path and every problem in it.
#[derive(Debug)]
pub struct Broken {
    /// `area/name`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub errors: CaseErrors,
}

impl Broken {
    /// The trial name: `case::<area>/<name>`.
    pub fn trial_name(&self) -> String {
        format!("{TRIAL_PREFIX}{}", self.name)
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
