//! Fragments: what one process of a run found, for `errcontract report DIR…` to merge. Under
//! nextest each process runs one case and writes one fragment; a run split over several CI
//! machines leaves one directory of fragments per machine. A fragment lives in
//! `DIR/fragments/<run>/`: where one directory holds fragments of several runs (an old run
//! and a new one), only the newest run's are merged, and the merge says which it left out.
//! Merging refuses fragments of different contracts, targets or known-failures files: one
//! report describes one contract against one target under one gate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::redact::Secrets;

use super::json::{self, Document, ReadError};

/// The directory fragments go into, below the report directory.
pub const FRAGMENTS: &str = "fragments";

/// A file name for the fragment `name` (a trial name, or `run`): every byte that is not a
/// letter, digit, `-` or `.` is written as `_XX`, so two names never share a file.
fn file_name(name: &str) -> String {
    let mut safe = String::with_capacity(name.len() + 8);
    for b in name.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => safe.push(char::from(b)),
            _ => safe.push_str(&format!("_{b:02X}")),
        }
    }
    format!("{safe}.json")
}

/// Write `doc` as the fragment `name` into `dir/fragments/<run>/`.
pub fn write(
    dir: &Path,
    doc: &Document,
    name: &str,
    secrets: &Secrets,
) -> std::io::Result<PathBuf> {
    let dir = dir
        .join(FRAGMENTS)
        .join(file_name(&doc.run).trim_end_matches(".json"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(file_name(name));
    let text = serde_json::to_string(doc).map_err(std::io::Error::other)?;
    // Written whole, then moved in place: a merge never reads half a fragment.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, secrets.redact(&text))?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Remove the fragments of other runs from `dir/fragments/`: a whole run is the directory's
/// only writer, so what is there from before is stale.
pub fn clear_others(dir: &Path, run: &str) -> std::io::Result<()> {
    let fragments = dir.join(FRAGMENTS);
    let Ok(entries) = std::fs::read_dir(&fragments) else {
        return Ok(());
    };
    let mine = file_name(run);
    let mine = mine.trim_end_matches(".json");
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) && entry.file_name() != mine {
            std::fs::remove_dir_all(&path)?;
        }
    }
    Ok(())
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
    /// Fragments of two contracts, targets or gates.
    #[error(
        "{what} differ: {first} has {a}, {second} has {b}; one report describes one contract against one target under one gate"
    )]
    Mismatch {
        /// `contracts`, `targets` or `known-failures files`.
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
    /// Fragments merged.
    pub fragments: usize,
    /// What the merge left out or settled, for the person to read.
    pub notes: Vec<String>,
}

/// Every fragment file below `dirs`, by the `fragments` directory that holds it.
fn fragment_files(dirs: &[PathBuf]) -> Result<BTreeMap<PathBuf, Vec<PathBuf>>, MergeError> {
    let mut out: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
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
                let home = d
                    .parent()
                    .filter(|p| p.file_name().is_some_and(|n| n == FRAGMENTS));
                if kind.is_dir() {
                    stack.push(path);
                } else if let Some(home) = home
                    && kind.is_file()
                    && path.extension().is_some_and(|e| e == "json")
                {
                    out.entry(home.to_path_buf()).or_default().push(path);
                }
            }
        }
    }
    Ok(out)
}

/// Merge the fragments below `dirs` into one run.
pub fn merge(dirs: &[PathBuf]) -> Result<Merged, MergeError> {
    let shown = |p: &Path| p.display().to_string();
    let mut notes = Vec::new();
    let mut docs: Vec<(PathBuf, Document)> = Vec::new();
    for (home, files) in fragment_files(dirs)? {
        let mut read = files
            .iter()
            .map(|f| Document::read(f).map(|d| (f.clone(), d)))
            .collect::<Result<Vec<_>, _>>()?;
        // One directory, one run: the newest.
        let newest = read
            .iter()
            .max_by_key(|(_, d)| d.written_ms)
            .map(|(_, d)| d.run.clone());
        let before = read.len();
        read.retain(|(_, d)| Some(&d.run) == newest.as_ref());
        if read.len() < before {
            notes.push(format!(
                "{}: left out {} fragment(s) of older runs; only the newest run ({}) is merged",
                shown(&home),
                before - read.len(),
                newest.unwrap_or_default()
            ));
        }
        docs.extend(read);
    }
    docs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut docs = docs.into_iter();
    let Some((first_file, mut merged)) = docs.next() else {
        let names: Vec<String> = dirs.iter().map(|d| shown(d)).collect();
        return Err(MergeError::Empty(names.join(", ")));
    };
    let mut duplicates = Vec::new();
    let mut fragments = 1;
    let gate = |d: &Document| d.expectations.clone().unwrap_or_else(|| "none".into());
    for (file, doc) in docs {
        fragments += 1;
        for (what, a, b) in [
            ("contracts", merged.contract.clone(), doc.contract.clone()),
            ("targets", merged.target.clone(), doc.target.clone()),
            ("known-failures files", gate(&merged), gate(&doc)),
        ] {
            if a != b {
                return Err(MergeError::Mismatch {
                    what,
                    first: shown(&first_file),
                    a,
                    second: shown(&file),
                    b,
                });
            }
        }
        merged.coverage.absorb(&doc.coverage);
        merged.written_ms = merged.written_ms.max(doc.written_ms);
        for case in doc.cases {
            if let Some(i) = merged.cases.iter().position(|c| c.name == case.name) {
                duplicates.push(case.name.clone());
                merged.cases[i] = case;
            } else {
                merged.cases.push(case);
            }
        }
    }
    if !duplicates.is_empty() {
        notes.push(format!(
            "cases in more than one directory's fragments (were two shards given the same partition?); one result of each kept: {}",
            duplicates.join(", ")
        ));
    }
    merged.cases.sort_by(|a, b| a.name.cmp(&b.name));
    merged.summary = json::summary(&merged.cases);
    Ok(Merged {
        doc: merged,
        fragments,
        notes,
    })
}

/// The trials of `suite` (every trial name there is) that the merged `doc` has no result for.
pub fn missing(doc: &Document, suite: &[String]) -> Vec<String> {
    let have: std::collections::HashSet<&str> = doc.cases.iter().map(|c| c.name.as_str()).collect();
    let mut missing: Vec<String> = suite
        .iter()
        .filter(|n| !have.contains(n.as_str()))
        .cloned()
        .collect();
    missing.sort();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_differ_get_files_that_differ() {
        let names = [
            "case::a/b_c",
            "case::a_b/c",
            "case::a/b c",
            "case::a/b+c",
            "case::a/bé",
            "case::a/b@c",
        ];
        let files: std::collections::BTreeSet<String> =
            names.iter().map(|n| file_name(n)).collect();
        assert_eq!(files.len(), names.len(), "{files:?}");
    }
}
