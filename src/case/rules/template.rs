//! The rules of a template the schema cannot say.

use serde_json::Value;

use crate::locate;

use super::super::model::MAX_CASE_BYTES;
use super::super::template::{Param, Place, Template, pointer_of, segments};
use super::problem::Problem;

/// The rules the schema cannot say: every parameter is in the valid request with its declared
/// type, limits fit the type, the model's lists are known, unknown-field objects exist.
/// (Precedence rules are checked by `derive`, which knows the fault names.)
pub fn rules(t: &Template) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    match t.request.get("auth") {
        None => {}
        Some(Value::String(s)) if s == "valid" => {}
        Some(_) => out.push(Problem::new(
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
            out.push(Problem::new(
                at,
                format!("`{name}` is not in the request's {where_}"),
                Some(help.into()),
            ));
            continue;
        };
        if p.place == Place::Query && p.kind.is_some() {
            out.push(Problem::new(
                format!("{at}/type"),
                "a query parameter is always a string: it has no JSON type".into(),
                Some("remove \"type\"".into()),
            ));
        }
        if let Some(kind) = p.kind
            && !kind.holds(value)
        {
            out.push(Problem::new(
                format!("{at}/type"),
                format!(
                    "`{name}` is declared {} but the request sends {value}",
                    kind.as_str()
                ),
                None,
            ));
        }
        if (p.min_length.is_some() || p.max_length.is_some()) && !value.is_string() {
            out.push(Problem::new(
                at.clone(),
                format!("`{name}` has a length limit but the request's value is not a string"),
                None,
            ));
        }
        if let (Some(max), Some(first)) = (p.max_items, value.as_array().and_then(|a| a.first()))
            && first.to_string().len().saturating_mul(max + 1) > MAX_CASE_BYTES
        {
            // Checked before anything is built: the copies would make a case over the limit.
            out.push(Problem::new(
                format!("{at}/max_items"),
                format!(
                    "{} copies of `{name}`'s first item make a case larger than {MAX_CASE_BYTES} bytes",
                    max + 1
                ),
                Some("use a smaller first item".into()),
            ));
        }
        if p.max_items.is_some() && value.as_array().is_none_or(|a| a.is_empty()) {
            out.push(Problem::new(
                format!("{at}/max_items"),
                format!(
                    "`{name}` has max_items but the request's value is not an array with an item to copy"
                ),
                None,
            ));
        }
        out.extend(own_value_breaks_own_limits(name, p, value, t));
        if p.model_values.is_some() && t.model.is_none() {
            out.push(Problem::new(
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
                    out.push(Problem::new(
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
            out.push(Problem::new(
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
            out.push(Problem::new(
                format!("{at}/min_length"),
                format!("the request's `{name}` is {len} characters long, under its own min_length {min}"),
                Some("make the valid value longer, or lower min_length".into()),
            ));
        }
        if let Some(max) = p.max_length.filter(|max| len > *max) {
            out.push(Problem::new(
                format!("{at}/max_length"),
                format!("the request's `{name}` is {len} characters long, over its own max_length {max}: the too_long trial would send a value the target may accept"),
                Some("make the valid value shorter, or raise max_length to the documented limit".into()),
            ));
        }
    }
    if let (Some(max), Some(items)) = (p.max_items, value.as_array())
        && items.len() > max
    {
        out.push(Problem::new(
            format!("{at}/max_items"),
            format!(
                "the request's `{name}` has {} items, over its own max_items {max}",
                items.len()
            ),
            Some("send fewer items in the valid request, or raise max_items".into()),
        ));
    }
    if let (Some(list), Some((model, _))) = (p.model_values, &t.model) {
        let own = model.list(list);
        if !own.is_empty() && !own.contains(value) {
            out.push(Problem::new(
                format!("{at}/model_values"),
                format!(
                    "the request's `{name}` {value} is not in `{}`'s own list",
                    model.id
                ),
                Some("send a value the model takes in the valid request".into()),
            ));
        }
    }
    for (label, bad) in &p.invalid {
        if bad == value {
            out.push(Problem::new(
                format!("{at}/invalid/{}", locate::escape(label)),
                format!("the invalid value `{label}` is the request's own valid value"),
                Some("an invalid value must differ from the valid one".into()),
            ));
        }
    }
    out
}
