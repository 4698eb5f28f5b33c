//! The cases of a directory, loaded: the good ones and the files that did not load, each of
//! which fails its own trial; names that collide are broken too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::contract::Contract;

use super::discover::discover;
use super::error::{CaseError, CaseErrors};
use super::load::load;
use super::model::{Case, DERIVED_PREFIX, TRIAL_PREFIX};
use super::name::case_name;
use super::rules::collisions;
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
