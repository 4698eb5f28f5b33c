//! Templates (`*.template.json` below the cases directory): one valid request and what is known
//! about each of its parameters, loaded in stages like a case file (JSON, then
//! `template.schema.json`, then the rules the schema cannot say), every problem at its
//! `file:line:column`. What is derived from a template is `derive`'s business.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::contract::Contract;
use crate::locate::{self, LineCol, SourceMap, SpanIndex};

use super::discover::case_name;
use super::error::{CaseError, CaseErrors};
use super::model::{MAX_CASE_BYTES, Requirement};
use super::models::{ModelList, ModelValues, Models};
use super::schema::{Violation, explain_schema_error};

/// How a template file's name ends.
pub const TEMPLATE_SUFFIX: &str = ".template.json";

/// Where a parameter is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    /// In the JSON body.
    #[default]
    Json,
    /// In the query string.
    Query,
}

/// A JSON type, as a template names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonType {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonType {
    /// The type's name in templates.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonType::String => "string",
            JsonType::Integer => "integer",
            JsonType::Number => "number",
            JsonType::Boolean => "boolean",
            JsonType::Array => "array",
            JsonType::Object => "object",
        }
    }

    /// Whether `value` is of this type.
    pub fn holds(self, value: &Value) -> bool {
        match self {
            JsonType::String => value.is_string(),
            JsonType::Integer => value.is_i64() || value.is_u64(),
            JsonType::Number => value.is_number(),
            JsonType::Boolean => value.is_boolean(),
            JsonType::Array => value.is_array(),
            JsonType::Object => value.is_object(),
        }
    }
}

/// What is known about one parameter.
#[derive(Debug, Clone, Deserialize)]
pub struct Param {
    /// Where it is sent.
    #[serde(rename = "in", default)]
    pub place: Place,
    /// Whether the API requires it.
    #[serde(default)]
    pub required: bool,
    /// Its JSON type.
    #[serde(rename = "type", default)]
    pub kind: Option<JsonType>,
    /// Fewest characters.
    #[serde(default)]
    pub min_length: Option<usize>,
    /// Most characters.
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Most items.
    #[serde(default)]
    pub max_items: Option<usize>,
    /// The model's list of allowed values.
    #[serde(default)]
    pub model_values: Option<ModelList>,
    /// Named values the API must refuse.
    #[serde(default)]
    pub invalid: Map<String, Value>,
}

/// One segment of a parameter's name: `images[0].url` is `images`, `0`, `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A parameter's name split into segments (the schema has checked its shape).
pub fn segments(name: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    if name.is_empty() {
        return out;
    }
    for part in name.split('.') {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next() {
            out.push(Segment::Key(key.to_string()));
        }
        for index in pieces {
            let digits = index.trim_end_matches(']');
            out.push(Segment::Index(digits.parse().unwrap_or(0)));
        }
    }
    out
}

/// The JSON Pointer of a parameter's segments.
pub fn pointer_of(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Key(k) => format!("/{}", locate::escape(k)),
            Segment::Index(i) => format!("/{i}"),
        })
        .collect()
}

/// A precedence rule: of two faults, the API reports `first`.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    /// The fault checked first, by its derived name.
    pub first: String,
    /// The fault checked after it.
    pub then: String,
}

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

/// A loaded template.
#[derive(Debug, Clone)]
pub struct Template {
    /// `area/name`: the path below the cases directory without `.template.json`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The text of the file, for pointing at its rules.
    pub text: Arc<str>,
    /// What the valid request is.
    pub description: String,
    /// Tags every derived case carries.
    pub tags: Vec<String>,
    /// A link.
    pub see: Option<String>,
    /// Preconditions every derived case carries.
    pub requires: Vec<Requirement>,
    /// Whether a wrongly accepted derived request would bill.
    pub billable_if_accepted: bool,
    /// The valid request, as written.
    pub request: Map<String, Value>,
    /// The parameters, in file order.
    pub params: Vec<(String, Param)>,
    /// Objects of the body that refuse unknown fields.
    pub unknown_fields: Vec<String>,
    /// Whether to derive the bad-credential trials.
    pub auth: bool,
    /// Precedence rules, in file order.
    pub precedence: Vec<Rule>,
    /// The values of the request's model, and of the other models of its type.
    pub model: Option<(ModelValues, Vec<ModelValues>)>,
}

impl Template {
    /// The value of a parameter in the valid request.
    pub fn value(&self, name: &str, param: &Param) -> Option<&Value> {
        match param.place {
            Place::Query => self.request.get("query")?.get(name),
            Place::Json => self
                .request
                .get("json")?
                .pointer(&pointer_of(&segments(name))),
        }
    }
}

/// The name of a template file below `root`: `images/generations` for
/// `images/generations.template.json`.
pub fn template_name(root: &Path, path: &Path) -> String {
    let name = case_name(root, path);
    match name.strip_suffix(".template") {
        Some(n) => n.to_string(),
        None => name,
    }
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
    let problems = rules(&template);
    if problems.is_empty() {
        return Ok(template);
    }
    let map = SourceMap::new(text);
    let mut errors: Vec<CaseError> = problems
        .into_iter()
        .map(|(pointer, message, help)| CaseError {
            path: path.to_path_buf(),
            at: map.value_at(&pointer),
            pointer,
            message,
            help,
        })
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

type Problem = (String, String, Option<String>);

/// The rules the schema cannot say: every parameter is in the valid request with its declared
/// type, limits fit the type, the model's lists are known, unknown-field objects exist.
/// (Precedence rules are checked by `derive`, which knows the fault names.)
fn rules(t: &Template) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    match t.request.get("auth") {
        None => {}
        Some(Value::String(s)) if s == "valid" => {}
        Some(_) => out.push((
            "/request/auth".into(),
            "a template's request is the valid one: it is sent with the `valid` role".into(),
            Some("remove \"auth\"; the bad-credential trials are derived".into()),
        )),
    }
    for (name, p) in &t.params {
        let at = format!("/params/{}", locate::escape(name));
        let Some(value) = t.value(name, p) else {
            let (where_, help) = match p.place {
                Place::Json => (
                    "JSON body",
                    "add it to \"request\".\"json\", with a valid value",
                ),
                Place::Query => (
                    "query",
                    "add it to \"request\".\"query\", with a valid value",
                ),
            };
            out.push((
                at,
                format!("`{name}` is not in the request's {where_}"),
                Some(help.into()),
            ));
            continue;
        };
        if p.place == Place::Query && p.kind.is_some() {
            out.push((
                format!("{at}/type"),
                "a query parameter is always a string: it has no JSON type".into(),
                Some("remove \"type\"".into()),
            ));
        }
        if let Some(kind) = p.kind
            && !kind.holds(value)
        {
            out.push((
                format!("{at}/type"),
                format!(
                    "`{name}` is declared {} but the request sends {value}",
                    kind.as_str()
                ),
                None,
            ));
        }
        if (p.min_length.is_some() || p.max_length.is_some()) && !value.is_string() {
            out.push((
                at.clone(),
                format!("`{name}` has a length limit but the request's value is not a string"),
                None,
            ));
        }
        if let (Some(max), Some(first)) = (p.max_items, value.as_array().and_then(|a| a.first()))
            && first.to_string().len().saturating_mul(max + 1) > MAX_CASE_BYTES
        {
            // Checked before anything is built: the copies would make a case over the limit.
            out.push((
                format!("{at}/max_items"),
                format!(
                    "{} copies of `{name}`'s first item make a case larger than {MAX_CASE_BYTES} bytes",
                    max + 1
                ),
                Some("use a smaller first item".into()),
            ));
        }
        if p.max_items.is_some() && value.as_array().is_none_or(|a| a.is_empty()) {
            out.push((
                format!("{at}/max_items"),
                format!(
                    "`{name}` has max_items but the request's value is not an array with an item to copy"
                ),
                None,
            ));
        }
        for problem in own_value_breaks_own_limits(name, p, value, t) {
            out.push(problem);
        }
        if p.model_values.is_some() && t.model.is_none() {
            out.push((
                format!("{at}/model_values"),
                "the request's \"model\" is in no *.models.json file below the cases directory"
                    .into(),
                Some(
                    "add the model (as GET /v2/models/{model} returns it) to a *.models.json file"
                        .into(),
                ),
            ));
        }
        if p.place == Place::Query {
            for (label, v) in &p.invalid {
                if !v.is_string() {
                    out.push((
                        format!("{at}/invalid/{}", locate::escape(label)),
                        "a query parameter's value is a string".into(),
                        None,
                    ));
                }
            }
        }
    }
    for (i, object) in t.unknown_fields.iter().enumerate() {
        let found = t
            .request
            .get("json")
            .and_then(|j| j.pointer(&pointer_of(&segments(object))));
        if !found.is_some_and(Value::is_object) {
            out.push((
                format!("/unknown_fields/{i}"),
                format!("`{object}` is not an object of the request's JSON body"),
                Some("\"\" is the body itself; `images[0]` a nested object".into()),
            ));
        }
    }
    out
}

/// The valid request must hold the template's own limits, or its faulted trials would blame
/// the target for what the template got wrong: a `prompt` of 20 characters with `max_length` 3
/// derives `too_long/prompt` with 4, which the target rightly accepts. Checked: length within
/// `min_length`..`max_length` (characters, as the faults count), items within `max_items`, a
/// `model_values` value in the model's own list, no `invalid` value equal to the valid one.
fn own_value_breaks_own_limits(name: &str, p: &Param, value: &Value, t: &Template) -> Vec<Problem> {
    let at = format!("/params/{}", locate::escape(name));
    let mut out: Vec<Problem> = Vec::new();
    if let Some(len) = value.as_str().map(|s| s.chars().count()) {
        if let Some(min) = p.min_length.filter(|min| len < *min) {
            out.push((
                format!("{at}/min_length"),
                format!("the request's `{name}` is {len} characters long, under its own min_length {min}"),
                Some("make the valid value longer, or lower min_length".into()),
            ));
        }
        if let Some(max) = p.max_length.filter(|max| len > *max) {
            out.push((
                format!("{at}/max_length"),
                format!("the request's `{name}` is {len} characters long, over its own max_length {max}: the too_long trial would send a value the target may accept"),
                Some("make the valid value shorter, or raise max_length to the documented limit".into()),
            ));
        }
    }
    if let (Some(max), Some(items)) = (p.max_items, value.as_array())
        && items.len() > max
    {
        out.push((
            format!("{at}/max_items"),
            format!("the request's `{name}` has {} items, over its own max_items {max}", items.len()),
            Some("send fewer items in the valid request, or raise max_items".into()),
        ));
    }
    if let (Some(list), Some((model, _))) = (p.model_values, &t.model) {
        let own = model.list(list);
        if !own.is_empty() && !own.contains(value) {
            out.push((
                format!("{at}/model_values"),
                format!("the request's `{name}` {value} is not in `{}`'s own list", model.id),
                Some("send a value the model takes in the valid request".into()),
            ));
        }
    }
    for (label, bad) in &p.invalid {
        if bad == value {
            out.push((
                format!("{at}/invalid/{}", locate::escape(label)),
                format!("the invalid value `{label}` is the request's own valid value"),
                Some("an invalid value must differ from the valid one".into()),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_parameter_names_become_json_pointers() {
        let segs = segments("images[0].url");
        assert_eq!(
            segs,
            [
                Segment::Key("images".into()),
                Segment::Index(0),
                Segment::Key("url".into())
            ]
        );
        assert_eq!(pointer_of(&segs), "/images/0/url");
        assert_eq!(pointer_of(&segments("a[1][2].b~c")), "/a/1/2/b~0c");
        assert_eq!(pointer_of(&segments("")), "");
    }

    #[test]
    fn json_types_hold_their_own_values_only() {
        assert!(JsonType::Integer.holds(&serde_json::json!(5)));
        assert!(!JsonType::Integer.holds(&serde_json::json!(5.5)));
        assert!(JsonType::Number.holds(&serde_json::json!(5)));
        assert!(!JsonType::String.holds(&Value::Null));
    }
}
