//! Loading a template file as a case file is loaded: its JSON, its schema, then its rules
//! (`rules::template`), every problem located at `file:line:column`.

use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::contract::Contract;
use crate::locate::{self, LineCol, SourceMap, SpanIndex};

use super::error::{CaseError, CaseErrors};
use super::model::{MAX_CASE_BYTES, Requirement};
use super::models::Models;
use super::schema::{Violation, explain_schema_error};
use super::template::{Param, Rule, Template, template_name};
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct TemplateSpec {
    description: String,
    tags: Vec<String>,
    #[serde(default)]
    see: Option<String>,
    #[serde(default)]
    requires: Vec<Requirement>,
    #[serde(default)]
    billable_if_accepted: bool,
    request: Map<String, Value>,
    params: Map<String, Value>,
    #[serde(default)]
    unknown_fields: Vec<String>,
    #[serde(default = "yes")]
    auth: bool,
    #[serde(default)]
    precedence: Vec<Rule>,
}

const START: LineCol = LineCol { line: 1, column: 1 };

/// Load one template file and check its rules; `models` are the known model value lists.
pub fn load_template(
    root: &Path,
    path: &Path,
    contract: &Contract,
    models: &Models,
) -> Result<Template, CaseErrors> {
    let at_start = |message: String, help: Option<&str>| {
        CaseErrors(vec![CaseError {
            path: path.to_path_buf(),
            at: START,
            pointer: String::new(),
            message,
            help: help.map(String::from),
        }])
    };
    let bytes =
        std::fs::read(path).map_err(|e| at_start(format!("cannot read the file: {e}"), None))?;
    if bytes.len() > MAX_CASE_BYTES {
        return Err(at_start(
            format!("the file is larger than {MAX_CASE_BYTES} bytes"),
            None,
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        at_start(
            "the file is not valid UTF-8".into(),
            Some("save it as UTF-8"),
        )
    })?;
    let (depth, at) = locate::nesting_depth(text.as_bytes(), locate::MAX_DEPTH);
    if depth > locate::MAX_DEPTH {
        return Err(CaseErrors(vec![CaseError {
            path: path.to_path_buf(),
            at: locate::line_col(&text, at),
            pointer: String::new(),
            message: format!("JSON nested deeper than {} levels", locate::MAX_DEPTH),
            help: None,
        }]));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        CaseErrors(vec![CaseError {
            path: path.to_path_buf(),
            at: LineCol {
                line: e.line().max(1),
                column: e.column().max(1),
            },
            pointer: String::new(),
            message: format!("not valid JSON: {}", locate::strip_position(&e.to_string())),
            help: None,
        }])
    })?;
    if !contract.template.is_valid(&value) {
        let spans = SpanIndex::build(&text).map(|(s, _)| s).unwrap_or_default();
        let mut errors: Vec<CaseError> = contract
            .template
            .iter_errors(&value)
            .map(|err| explain_schema_error(&value, &err.instance_path().to_string(), &err))
            .map(|e| {
                let (span, help) = match e.kind {
                    Violation::UnknownKey => (spans.key(&e.pointer), unknown_key_help(&e.pointer)),
                    _ => (spans.value(&e.pointer), e.help),
                };
                CaseError {
                    path: path.to_path_buf(),
                    at: locate::line_col(&text, span.start),
                    pointer: e.pointer,
                    message: e.message,
                    help,
                }
            })
            .collect();
        errors.sort_by_key(|e| (e.at.line, e.at.column));
        errors.dedup_by(|a, b| a.pointer == b.pointer && a.message == b.message);
        return Err(CaseErrors(errors));
    }
    let spec: TemplateSpec = serde_json::from_value(value)
        .map_err(|e| at_start(format!("does not fit the template format: {e}"), None))?;
    let mut params = Vec::with_capacity(spec.params.len());
    for (name, v) in spec.params {
        // The schema has checked the shape.
        let param: Param =
            serde_json::from_value(v).map_err(|e| at_start(format!("params.{name}: {e}"), None))?;
        params.push((name, param));
    }
    let model = spec
        .request
        .get("json")
        .and_then(|j| j.get("model"))
        .and_then(Value::as_str)
        .and_then(|id| models.get(id))
        .map(|m| {
            let others = models
                .of_kind(&m.kind)
                .filter(|o| o.id != m.id)
                .cloned()
                .collect();
            (m.clone(), others)
        });
    let text: Arc<str> = Arc::from(text);
    let template = Template {
        name: template_name(root, path),
        path: path.to_path_buf(),
        text: text.clone(),
        description: spec.description,
        tags: spec.tags,
        see: spec.see,
        requires: spec.requires,
        billable_if_accepted: spec.billable_if_accepted,
        request: spec.request,
        params,
        unknown_fields: spec.unknown_fields,
        auth: spec.auth,
        precedence: spec.precedence,
        model,
    };
    let problems = super::rules::template_rules(&template);
    if problems.is_empty() {
        return Ok(template);
    }
    let map = SourceMap::new(text);
    let mut errors: Vec<CaseError> = problems
        .into_iter()
        .map(|p| p.located(path, &map))
        .collect();
    errors.sort_by_key(|e| (e.at.line, e.at.column));
    Err(CaseErrors(errors))
}

/// What to write instead of the unknown key at `pointer`: the keys allowed in its object.
fn unknown_key_help(pointer: &str) -> Option<String> {
    let tokens: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let allowed = match tokens.as_slice() {
        [_] => {
            "$schema, description, tags, see, requires, billable_if_accepted, request, params, unknown_fields, auth, precedence"
        }
        ["request", _] => "method, path, query, headers, auth, json, body, body_size",
        ["params", _, _] => {
            "in, required, type, min_length, max_length, max_items, model_values, invalid"
        }
        ["precedence", _, _] => "first, then",
        _ => {
            return Some(
                "remove it, or check its spelling against schemas/template.schema.json".into(),
            );
        }
    };
    Some(format!("the keys allowed here are: {allowed}"))
}
