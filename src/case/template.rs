//! Templates (`*.template.json` below the cases directory): one valid request and what is known
//! about each of its parameters, loaded in stages like a case file (JSON, then
//! `template.schema.json`, then the rules the schema cannot say), every problem at its
//! `file:line:column`. What is derived from a template is `derive`'s business.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::locate;

use super::model::Requirement;
use super::models::{ModelList, ModelValues};
use super::name::case_name;

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
