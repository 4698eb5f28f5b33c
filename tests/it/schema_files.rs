//! The schemas as an editor sees them: each is checked against its metaschema by a validator
//! independent of the one errcontract uses (boon, not jsonschema), every regex in them is
//! compiled by an ECMA-262 engine (regress), as JSON Schema requires, and every shipped case is
//! valid under that other validator too.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn schemas_dir() -> PathBuf {
    crate::support::root().join("schemas")
}

fn schema_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(schemas_dir())
        .expect("schemas/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".schema.json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("JSON")
}

/// Every regex in a schema, with where it is.
fn regexes(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{at}/{key}");
                match (key.as_str(), v) {
                    ("pattern", Value::String(re)) => out.push((here.clone(), re.clone())),
                    ("patternProperties", Value::Object(props)) => {
                        out.extend(props.keys().map(|re| (here.clone(), re.clone())))
                    }
                    _ => {}
                }
                regexes(v, &here, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                regexes(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_schema_regex_is_ecma_262() {
    let mut bad = Vec::new();
    let mut seen = 0;
    for file in schema_files() {
        let mut found = Vec::new();
        regexes(&read_json(&file), "", &mut found);
        seen += found.len();
        for (at, re) in found {
            if let Err(e) = regress::Regex::new(&re) {
                bad.push(format!("{}#{at}: {re:?}: {e}", file.display()));
            }
        }
    }
    assert!(seen > 0, "no regex found: the scan proves nothing");
    assert!(bad.is_empty(), "not ECMA-262 regexes:\n{}", bad.join("\n"));
}

/// boon, with every schema file as a resource under its own file URL.
fn compiler() -> (boon::Compiler, Vec<String>) {
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    let mut urls = Vec::new();
    for file in schema_files() {
        let url = format!("file://{}", file.display());
        compiler
            .add_resource(&url, read_json(&file))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        urls.push(url);
    }
    (compiler, urls)
}

#[test]
fn every_schema_is_valid_against_its_metaschema_by_an_independent_validator() {
    let (mut compiler, urls) = compiler();
    let mut schemas = boon::Schemas::new();
    for url in urls {
        if let Err(e) = compiler.compile(&url, &mut schemas) {
            panic!("{url}: {e:#}");
        }
    }
}

#[test]
fn every_shipped_case_is_valid_under_an_independent_validator() {
    let (mut compiler, _) = compiler();
    let mut schemas = boon::Schemas::new();
    let mut index_of = |name: &str| {
        let url = format!("file://{}", schemas_dir().join(name).display());
        compiler
            .compile(&url, &mut schemas)
            .unwrap_or_else(|e| panic!("{e:#}"))
    };
    let index = index_of("case.schema.json");
    // Templates have their own schema; model lists are data that only `case::models` reads.
    let template_index = index_of("template.schema.json");
    let mut stack = vec![crate::support::root().join("cases")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("cases/").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let name = path.to_string_lossy();
                if name.ends_with(errcontract::case::MODELS_SUFFIX) {
                    continue;
                }
                let schema = if name.ends_with(errcontract::case::TEMPLATE_SUFFIX) {
                    template_index
                } else {
                    index
                };
                let case = read_json(&path);
                if let Err(e) = schemas.validate(&case, schema) {
                    panic!("{}: {e:#}", path.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} cases checked");
}

/// `patternProperties: {"": …}` means "every key" in the spec, but python-jsonschema and other
/// validators users run on report.json read it otherwise; `additionalProperties` says the same
/// portably.
#[test]
fn no_schema_uses_an_empty_pattern_for_every_key() {
    fn walk(value: &Value, at: &str, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Object(p)) = map.get("patternProperties")
                    && p.contains_key("")
                {
                    out.push(at.to_string());
                }
                for (k, v) in map {
                    walk(v, &format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, &format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    for file in schema_files() {
        walk(&read_json(&file), &file.display().to_string(), &mut found);
    }
    assert!(found.is_empty(), "empty patternProperties at: {found:#?}");
}
