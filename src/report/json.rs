//! `report.json`: per case the verdict, the reason, the findings by check and the timings,
//! with totals and the coverage matrix.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::redact::Secrets;

use super::{Entry, Kind, Matrix};

/// Write `report.json` into `dir`.
pub fn write(
    dir: &Path,
    target: &str,
    entries: &[Entry],
    matrix: &Matrix,
    secrets: &Secrets,
) -> std::io::Result<PathBuf> {
    let cases: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let findings: Vec<serde_json::Value> = e
                .findings
                .iter()
                .map(|f| {
                    json!({
                        "check": f.check.as_str(),
                        "expected": f.expected,
                        "actual": f.actual,
                        "detail": f.detail,
                    })
                })
                .collect();
            json!({
                "name": e.trial,
                "file": e.file,
                "outcome": e.kind.as_str(),
                "reason": e.reason,
                "findings": findings,
                "message": e.message.as_deref(),
                "notes": e.notes,
                "elapsed_ms": e.elapsed.map(|d| d.as_millis() as u64),
            })
        })
        .collect();
    let mut summary = serde_json::Map::new();
    for kind in Kind::ALL {
        let n = entries.iter().filter(|e| e.kind == kind).count();
        summary.insert(kind.as_str().to_string(), n.into());
    }
    let doc = json!({
        "target": target,
        "summary": summary,
        "cases": cases,
        "coverage": matrix,
    });
    let path = dir.join("report.json");
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(&path, secrets.redact(&text))?;
    Ok(path)
}
