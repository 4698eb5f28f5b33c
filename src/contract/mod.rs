//! The contract as data, loaded from `schemas/`: the status/code table (`codes.json`), the
//! JSON Schemas of the error envelope, the failed video poll and case files (compiled from one
//! in-memory registry, offline), and the endpoints of the coverage matrix.
//!
//! Nothing outside `schemas/` names an error status: every status, retryability and Retry-After
//! rule is read from the table at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod endpoints;
mod faults;
mod table;

pub use endpoints::Endpoint;
pub use faults::FaultCodes;
pub use table::{CodeRow, CodeTable, RetryAfterRule};

/// The schemas shipped in the binary, for callers that have no `schemas/` directory at hand
/// (the reference server, `errcontract serve`).
pub const EMBEDDED_CODES: &str = include_str!("../../schemas/codes.json");
const EMBEDDED_SCHEMAS: &[(&str, &str)] = &[
    ("codes.json", include_str!("../../schemas/codes.json")),
    (
        "codes.schema.json",
        include_str!("../../schemas/codes.schema.json"),
    ),
    (
        "error.schema.json",
        include_str!("../../schemas/error.schema.json"),
    ),
    (
        "video-failure.schema.json",
        include_str!("../../schemas/video-failure.schema.json"),
    ),
    (
        "case.schema.json",
        include_str!("../../schemas/case.schema.json"),
    ),
    (
        "template.schema.json",
        include_str!("../../schemas/template.schema.json"),
    ),
    ("faults.json", include_str!("../../schemas/faults.json")),
    (
        "endpoints.json",
        include_str!("../../schemas/endpoints.json"),
    ),
];

/// The synthetic base under which every schema file is registered, so `$ref`s between files
/// resolve in memory and nothing is ever fetched (`.invalid` never resolves).
pub const SCHEMA_BASE: &str = "https://errcontract.invalid/schemas/";
const BASE: &str = SCHEMA_BASE;

/// The directory of the schemas in this source tree.
pub fn default_schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

/// A schema problem found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{path}:{line}:{column}: not valid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// An object has the same key twice: JSON readers disagree on which wins.
    #[error(
        "{path}: the key {key:?} appears twice in one object; remove one (readers disagree on which wins)"
    )]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
    },
    /// A schema does not compile, or a data file is not of its shape.
    #[error("{path}: the schema does not compile: {message}")]
    Compile {
        /// The file.
        path: PathBuf,
        /// What the validator said.
        message: String,
    },
    /// The table is not of the table's shape.
    #[error("{path}: not a valid code table: {message}")]
    Table {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `faults.json` does not name a code of the table for each kind of fault.
    #[error("{path}: not a valid fault list: {message}")]
    Faults {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `endpoints.json` is not a list of endpoints.
    #[error("{path}: not a valid endpoint list: {message}")]
    Endpoints {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The schema's code list and the table disagree.
    #[error(
        "schemas disagree: error.schema.json#/$defs/code lists {schema:?} but codes.json has {table:?}; make them the same list"
    )]
    CodeListMismatch {
        /// Codes in the error schema.
        schema: Vec<String>,
        /// Codes in the table.
        table: Vec<String>,
    },
}

/// The loaded contract: the table and the compiled validators.
pub struct Contract {
    /// Where the schemas came from (a directory, or `(embedded)`).
    pub origin: String,
    /// The status/code table.
    pub table: CodeTable,
    /// `error.schema.json`.
    pub error: jsonschema::Validator,
    /// `video-failure.schema.json`.
    pub video_failure: jsonschema::Validator,
    /// `case.schema.json`.
    pub case: jsonschema::Validator,
    /// `template.schema.json`.
    pub template: jsonschema::Validator,
    /// The code of each kind of derived fault (`faults.json`).
    pub faults: FaultCodes,
    /// The property names `error.schema.json` defines inside `error` (others are notes).
    pub error_fields: Vec<String>,
    /// The endpoints of the coverage matrix (`endpoints.json`).
    pub endpoints: Vec<Endpoint>,
    /// A digest of every schema file: reports of different contracts are never merged.
    pub fingerprint: String,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("origin", &self.origin)
            .field("codes", &self.table.len())
            .finish_non_exhaustive()
    }
}

impl Contract {
    /// Load and compile every schema in `dir`.
    pub fn load(dir: &Path) -> Result<Self, ContractError> {
        let mut files = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|source| ContractError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| ContractError::Read {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ContractError::Read {
                        path: path.clone(),
                        source,
                    })?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((name, text));
            }
        }
        files.sort();
        Self::from_files(&dir.display().to_string(), dir, &files)
    }

    /// The schemas compiled into this binary.
    pub fn embedded() -> Result<Self, ContractError> {
        let files: Vec<(String, String)> = EMBEDDED_SCHEMAS
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect();
        Self::from_files("(embedded)", Path::new("schemas"), &files)
    }

    fn from_files(
        origin: &str,
        dir: &Path,
        files: &[(String, String)],
    ) -> Result<Self, ContractError> {
        let mut docs: Vec<(String, Value)> = Vec::new();
        let mut by_name: BTreeMap<&str, &Value> = BTreeMap::new();
        let mut parsed = Vec::new();
        for (name, text) in files {
            let value: Value = serde_json::from_str(text).map_err(|e| ContractError::Json {
                path: dir.join(name),
                line: e.line(),
                column: e.column(),
                message: crate::locate::strip_position(&e.to_string()),
            })?;
            // Case files refuse duplicate keys; the contract they are checked against must too.
            if let Some(key) = crate::locate::first_duplicate_key(text.as_bytes()) {
                return Err(ContractError::DuplicateKey {
                    path: dir.join(name),
                    key,
                });
            }
            parsed.push((name.as_str(), value));
        }
        for (name, value) in &parsed {
            by_name.insert(name, value);
            // Only schemas go into the registry: codes.json is data, and its `$schema` names
            // its own shape, not a meta-schema.
            if name.ends_with(".schema.json") {
                docs.push((format!("{BASE}{name}"), (*value).clone()));
            }
        }
        let need = |name: &str| -> Result<&Value, ContractError> {
            by_name
                .get(name)
                .copied()
                .ok_or_else(|| ContractError::Read {
                    path: dir.join(name),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "missing"),
                })
        };
        let codes_text = files
            .iter()
            .find(|(n, _)| n == "codes.json")
            .map(|(_, t)| t.as_str());
        need("codes.json")?;
        need("codes.schema.json")?;
        let table_value = need("codes.json")?;
        // The table is validated against its own schema first, so a typo in codes.json is named.
        let registry = registry(dir, docs)?;
        let table_validator = compile_one(dir, "codes.schema.json", &registry)?;
        if let Some(err) = table_validator.iter_errors(table_value).next() {
            return Err(ContractError::Table {
                path: dir.join("codes.json"),
                message: format!(
                    "at {}: {}",
                    pointer_or_root(&err.instance_path().to_string()),
                    err
                ),
            });
        }
        let table =
            CodeTable::parse(codes_text.unwrap_or_default()).map_err(|e| ContractError::Table {
                path: dir.join("codes.json"),
                message: e.to_string(),
            })?;

        let error_schema = need("error.schema.json")?;
        let schema_codes: Vec<String> = error_schema
            .pointer("/$defs/code/enum")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut sorted_schema = schema_codes.clone();
        sorted_schema.sort();
        let table_codes: Vec<String> = table.codes().map(String::from).collect();
        if sorted_schema != table_codes {
            return Err(ContractError::CodeListMismatch {
                schema: sorted_schema,
                table: table_codes,
            });
        }
        let error_fields = error_schema
            .pointer("/$defs/error/properties")
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();

        need("video-failure.schema.json")?;
        need("case.schema.json")?;
        let error = compile_one(dir, "error.schema.json", &registry)?;
        let video_failure = compile_one(dir, "video-failure.schema.json", &registry)?;
        let case = compile_one(dir, "case.schema.json", &registry)?;
        need("template.schema.json")?;
        let template = compile_one(dir, "template.schema.json", &registry)?;
        let faults = FaultCodes::parse(need("faults.json")?, &table).map_err(|message| {
            ContractError::Faults {
                path: dir.join("faults.json"),
                message,
            }
        })?;
        let endpoints_value = need("endpoints.json")?;
        let endpoints = serde_json::from_value::<endpoints::EndpointsFile>(endpoints_value.clone())
            .map_err(|e| ContractError::Endpoints {
                path: dir.join("endpoints.json"),
                message: e.to_string(),
            })?
            .endpoints;
        Ok(Contract {
            origin: origin.to_string(),
            table,
            error,
            video_failure,
            case,
            template,
            faults,
            error_fields,
            endpoints,
            fingerprint: fingerprint(files),
        })
    }
}

/// SHA-256 over every file's name and text, in name order: the contract's identity.
fn fingerprint(files: &[(String, String)]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for (name, text) in files {
        ctx.update(name.as_bytes());
        ctx.update(&[0]);
        ctx.update(text.as_bytes());
        ctx.update(&[0]);
    }
    let digest = ctx.finish();
    let hex: String = digest.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn registry(
    dir: &Path,
    docs: Vec<(String, Value)>,
) -> Result<jsonschema::Registry<'static>, ContractError> {
    let err = |e: &dyn std::fmt::Display| ContractError::Compile {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    jsonschema::Registry::new()
        .extend(docs)
        .map_err(|e| err(&e))?
        .prepare()
        .map_err(|e| err(&e))
}

fn compile_one(
    dir: &Path,
    name: &str,
    registry: &jsonschema::Registry<'_>,
) -> Result<jsonschema::Validator, ContractError> {
    jsonschema::draft202012::options()
        .with_registry(registry)
        .offline()
        .should_validate_formats(true)
        .build(&serde_json::json!({ "$ref": format!("{BASE}{name}") }))
        .map_err(|e| ContractError::Compile {
            path: dir.join(name),
            message: e.to_string(),
        })
}

/// `(root)` for the empty JSON Pointer, else the pointer.
pub fn pointer_or_root(p: &str) -> String {
    if p.is_empty() {
        "(root)".to_string()
    } else {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_contract_compiles_and_agrees() {
        let c = Contract::embedded().expect("embedded schemas compile");
        assert_eq!(c.table.len(), 8);
        let on_disk = Contract::load(&default_schemas_dir()).expect("schemas/ compiles");
        assert_eq!(on_disk.table.len(), c.table.len());
    }
}
