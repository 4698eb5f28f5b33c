//! The contract as data: the status/code table (`schemas/codes.json`) and the compiled JSON
//! Schemas of the error envelope, the failed video poll and case files.
//!
//! Nothing outside `schemas/` names an error status: every status, retryability and Retry-After
//! rule is read from the table at start-up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The schemas shipped in the binary, for callers that have no `schemas/` directory at hand
/// (the reference server, `errcontract serve`).
pub const EMBEDDED_CODES: &str = include_str!("../schemas/codes.json");
const EMBEDDED_SCHEMAS: &[(&str, &str)] = &[
    ("codes.json", include_str!("../schemas/codes.json")),
    (
        "codes.schema.json",
        include_str!("../schemas/codes.schema.json"),
    ),
    (
        "error.schema.json",
        include_str!("../schemas/error.schema.json"),
    ),
    (
        "video-failure.schema.json",
        include_str!("../schemas/video-failure.schema.json"),
    ),
    (
        "case.schema.json",
        include_str!("../schemas/case.schema.json"),
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

/// Whether a code's responses carry `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfterRule {
    /// Every response with this code carries `Retry-After`.
    Required,
    /// It may carry one.
    Allowed,
    /// It must not: the error is not retryable.
    Forbidden,
}

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRow {
    /// The one HTTP status of this code.
    pub status: u16,
    /// Whether a client may retry the same request.
    pub retryable: bool,
    /// The `Retry-After` rule.
    pub retry_after: RetryAfterRule,
    /// What the code means.
    pub description: String,
    /// What a client does about it.
    #[serde(default)]
    pub fix: Option<String>,
}

/// The status/code table: code → row.
#[derive(Debug, Clone)]
pub struct CodeTable {
    rows: BTreeMap<String, CodeRow>,
}

#[derive(Deserialize)]
struct CodesFile {
    codes: BTreeMap<String, CodeRow>,
}

impl CodeTable {
    /// Parse the text of a `codes.json`.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let file: serde_json::Value = serde_json::from_str(text)?;
        let file: CodesFile = serde_json::from_value(file)?;
        Ok(CodeTable { rows: file.codes })
    }

    /// The table compiled into this binary.
    pub fn embedded() -> Self {
        // The embedded table is checked by every test run (`contract::tests`), so it parses.
        Self::parse(EMBEDDED_CODES).expect("the embedded schemas/codes.json parses")
    }

    /// The row of a code, if the table has it.
    pub fn get(&self, code: &str) -> Option<&CodeRow> {
        self.rows.get(code)
    }

    /// The status of a code, if the table has it.
    pub fn status_of(&self, code: &str) -> Option<u16> {
        self.get(code).map(|r| r.status)
    }

    /// Every code with this status, in table order.
    pub fn codes_with_status(&self, status: u16) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|(_, r)| r.status == status)
            .map(|(c, _)| c.as_str())
            .collect()
    }

    /// Whether some code of the table has this status.
    pub fn has_status(&self, status: u16) -> bool {
        self.rows.values().any(|r| r.status == status)
    }

    /// All codes, sorted.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.rows.keys().map(String::as_str)
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
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
    /// A schema does not compile.
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
    /// The property names `error.schema.json` defines inside `error` (others are notes).
    pub error_fields: Vec<String>,
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
                message: crate::case::strip_position(&e.to_string()),
            })?;
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
        let table_schema = need("codes.schema.json")?;
        let table_value = need("codes.json")?;
        // The table is validated against its own schema first, so a typo in codes.json is named.
        let table_validator = compile_one(dir, "codes.schema.json", table_schema, &[])?;
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

        let error = compile_one(dir, "error.schema.json", error_schema, &docs)?;
        let video_failure = compile_one(
            dir,
            "video-failure.schema.json",
            need("video-failure.schema.json")?,
            &docs,
        )?;
        let case = compile_one(dir, "case.schema.json", need("case.schema.json")?, &docs)?;
        Ok(Contract {
            origin: origin.to_string(),
            table,
            error,
            video_failure,
            case,
            error_fields,
        })
    }
}

fn compile_one(
    dir: &Path,
    name: &str,
    _schema: &Value,
    docs: &[(String, Value)],
) -> Result<jsonschema::Validator, ContractError> {
    let compile_err = |message: String| ContractError::Compile {
        path: dir.join(name),
        message,
    };
    let mut all = docs.to_vec();
    if !all
        .iter()
        .any(|(uri, _)| uri.ends_with(&format!("/{name}")))
    {
        all.push((format!("{BASE}{name}"), _schema.clone()));
    }
    let registry = jsonschema::Registry::new()
        .extend(all)
        .map_err(|e| compile_err(e.to_string()))?
        .prepare()
        .map_err(|e| compile_err(e.to_string()))?;
    jsonschema::draft202012::options()
        .with_registry(&registry)
        .offline()
        .should_validate_formats(true)
        .build(&serde_json::json!({ "$ref": format!("{BASE}{name}") }))
        .map_err(|e| compile_err(e.to_string()))
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
