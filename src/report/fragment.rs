//! Fragments: what one process of a run found, for `errcontract report DIR…` to merge. Under
//! nextest each process runs one case and writes one fragment; a run split over several CI
//! machines leaves one directory of fragments per machine. Merging refuses fragments of
//! different contracts or targets: one report must describe one contract against one target.

use std::path::{Path, PathBuf};

use crate::redact::Secrets;

use super::json::{self, Document, ReadError};

/// The directory fragments go into, below the report directory.
pub const FRAGMENTS: &str = "fragments";

/// A file name for the fragment `name` (a trial name, or `run`): one file per trial.
fn file_name(name: &str) -> String {
    let safe: String = name
        .replace("::", "__")
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | '.' => c,
            '/' => '~',
            _ => '_',
        })
        .collect();
    format!("{safe}.json")
}

/// Write `doc` as the fragment `name` into `dir/fragments/`.
pub fn write(
    dir: &Path,
    doc: &Document,
    name: &str,
    secrets: &Secrets,
) -> std::io::Result<PathBuf> {
    let dir = dir.join(FRAGMENTS);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file_name(name));
    let text = serde_json::to_string(doc).map_err(std::io::Error::other)?;
    // Written whole, then moved in place: a merge never reads half a fragment.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, secrets.redact(&text))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Why fragments cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A fragment is not a fragment of this version.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// No fragment was found.
    #[error(
        "no report fragments below {0} (a run with ERRCONTRACT_REPORT_DIR writes them into DIR/fragments/)"
    )]
    Empty(String),
    /// Fragments of two contracts or two targets.
    #[error(
        "{what} differ: {first} has {a}, {second} has {b}; one report describes one contract against one target"
    )]
    Mismatch {
        /// `contracts` or `targets`.
        what: &'static str,
        /// One fragment.
        first: String,
        /// Its value.
        a: String,
        /// Another.
        second: String,
        /// Its value.
        b: String,
    },
}

/// The merged document, and what the person should know about the merge.
#[derive(Debug)]
pub struct Merged {
    /// The merged run.
    pub doc: Document,
    /// Fragments read.
    pub fragments: usize,
    /// Cases found in more than one fragment (the last read kept).
    pub duplicates: Vec<String>,
}

/// Every fragment file below `dirs` (in a directory named `fragments`), sorted.
fn fragment_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut out = Vec::new();
    for dir in dirs {
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).map_err(|source| MergeError::Io {
                path: d.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file()
                    && path.extension().is_some_and(|e| e == "json")
                    && d.file_name().is_some_and(|n| n == FRAGMENTS)
                {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Merge the fragments below `dirs` into one run.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, MergeError> {
    let files = fragment_files(dirs)?;
    let shown = |p: &Path| p.display().to_string();
    let mut docs = files
        .iter()
        .map(|f| Document::read(f).map(|d| (f, d)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let Some((first_file, mut merged)) = docs.next() else {
        let names: Vec<String> = dirs.iter().map(|d| shown(d)).collect();
        return Err(MergeError::Empty(names.join(", ")));
    };
    let mut duplicates = Vec::new();
    let mut fragments = 1;
    for (file, doc) in docs {
        fragments += 1;
        for (what, a, b) in [
            ("contracts", &merged.contract, &doc.contract),
            ("targets", &merged.target, &doc.target),
        ] {
            if a != b {
                return Err(MergeError::Mismatch {
                    what,
                    first: shown(first_file),
                    a: a.clone(),
                    second: shown(file),
                    b: b.clone(),
                });
            }
        }
        merged.expectations = merged.expectations.or(doc.expectations);
        merged.coverage.absorb(&doc.coverage);
        for case in doc.cases {
            if let Some(i) = merged.cases.iter().position(|c| c.name == case.name) {
                duplicates.push(case.name.clone());
                merged.cases[i] = case;
            } else {
                merged.cases.push(case);
            }
        }
    }
    merged.cases.sort_by(|a, b| a.name.cmp(&b.name));
    merged.summary = json::summary(&merged.cases);
    Ok(Merged {
        doc: merged,
        fragments,
        duplicates,
    })
}
