//! The faults of a template: each required parameter dropped; each wrong JSON type; each
//! length, item count, model list or named invalid value broken; each unknown field; each bad
//! credential; and the precedence pairs. A fault is a list of changes to the valid request, the
//! kind of error it expects and the `param` that error must name.

use serde_json::{Map, Value, json};

use crate::case::{JsonType, Param, Place, Problem, Segment, Template, pointer_of, segments};

/// Which code of `faults.json` a fault expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Missing,
    Invalid,
    Auth,
}

/// One change to the valid request.
#[derive(Debug, Clone)]
pub(super) enum Change {
    /// Leave the parameter out.
    Remove(Place, Vec<Segment>),
    /// Send this value for it.
    Set(Place, Vec<Segment>, Value),
    /// Send these credentials.
    Auth(Value),
}

/// One fault of a template.
#[derive(Debug, Clone)]
pub(super) struct Fault {
    /// `drop/prompt`.
    pub name: String,
    /// ``dropped `prompt` ``.
    pub words: String,
    /// What it touches (a parameter's name, or `auth`), so a rule pairs two different things.
    pub touches: String,
    /// Everything it touches (two for a precedence fault).
    pub faulted: Vec<String>,
    /// Whether its value comes from a model's list (so the target's own list may change it).
    pub from_model: bool,
    /// The changes to the valid request.
    pub changes: Vec<Change>,
    /// Which code it expects.
    pub kind: Kind,
    /// The `param` the error must name (`None`: null).
    pub param: Option<String>,
    /// Why it cannot be sent to this target: its model lists leave no value to try. The trial
    /// still exists (the trials come from the template alone, the same wherever they are
    /// listed), and is ignored with this reason.
    pub untried: Option<String>,
}

/// The bad credentials every template derives: name, `auth` value, words.
const AUTH_VARIANTS: &[(&str, &str, &str)] = &[
    ("none", r#""none""#, "sent no Authorization header"),
    (
        "empty_bearer",
        r#"{"authorization": "Bearer "}"#,
        "sent `Bearer ` with no token",
    ),
    (
        "wrong_scheme",
        r#"{"authorization": "Basic c2tfZXJyY29udHJhY3Q6bm90LWEta2V5"}"#,
        "sent Basic credentials instead of a bearer token",
    ),
    (
        "malformed",
        r#""malformed""#,
        "sent a bearer token that is not an `sk_` key",
    ),
    (
        "unknown_key",
        r#"{"authorization": "Bearer sk_errcontract_no_such_key_0000000000000000"}"#,
        "sent an `sk_` key the target does not know",
    ),
    ("revoked", r#""revoked""#, "sent a revoked key"),
];

/// The field name an unknown-field trial adds.
const UNKNOWN_FIELD: &str = "errcontract_unknown";

/// A value of each JSON type but `own`, for wrong-type trials, in the order they are derived.
/// null is never a valid value; an integer parameter refuses a fraction.
fn wrong_types(own: JsonType) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if own != JsonType::String {
        out.push(("string", json!("errcontract")));
    }
    match own {
        JsonType::Integer => out.push(("number", json!(4.5))),
        JsonType::Number => {}
        _ => out.push(("number", json!(42))),
    }
    if own != JsonType::Boolean {
        out.push(("boolean", json!(true)));
    }
    out.push(("null", Value::Null));
    if own != JsonType::Array {
        out.push(("array", json!([])));
    }
    if own != JsonType::Object {
        out.push(("object", json!({})));
    }
    out
}

fn article(type_name: &str) -> &'static str {
    match type_name {
        "array" | "object" | "integer" => "an",
        "null" => "",
        _ => "a",
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Every single fault of one parameter.
fn param_faults(t: &Template, name: &str, p: &Param, value: &Value) -> Vec<Fault> {
    let segs = segments(name);
    let invalid = |fault: String, words: String, v: Value| Fault {
        name: fault,
        words,
        touches: name.to_string(),
        faulted: vec![name.to_string()],
        from_model: false,
        changes: vec![Change::Set(p.place, segs.clone(), v)],
        kind: Kind::Invalid,
        param: Some(name.to_string()),
        untried: None,
    };
    let mut out = Vec::new();
    if p.required {
        out.push(Fault {
            name: format!("drop/{name}"),
            words: format!("dropped `{name}`"),
            touches: name.to_string(),
            faulted: vec![name.to_string()],
            from_model: false,
            changes: vec![Change::Remove(p.place, segs.clone())],
            kind: Kind::Missing,
            param: Some(name.to_string()),
            untried: None,
        });
    }
    if let (Some(own), Place::Json) = (p.kind, p.place) {
        for (type_name, v) in wrong_types(own) {
            let words = match article(type_name) {
                "" => format!("sent `{name}` as {type_name}"),
                a => format!("sent `{name}` as {a} {type_name} ({})", short(&v)),
            };
            out.push(invalid(format!("type/{name}/{type_name}"), words, v));
        }
    }
    if let Some(min) = p.min_length {
        let v = json!("a".repeat(min - 1));
        out.push(invalid(
            format!("too_short/{name}"),
            format!(
                "sent `{name}` {} characters long, under its minimum of {min}",
                min - 1
            ),
            v,
        ));
    }
    if let Some(max) = p.max_length {
        out.push(invalid(
            format!("too_long/{name}"),
            format!(
                "sent `{name}` {} characters long, over its maximum of {max}",
                max + 1
            ),
            json!("a".repeat(max + 1)),
        ));
    }
    if let (Some(max), Some(first)) = (p.max_items, value.as_array().and_then(|a| a.first())) {
        out.push(invalid(
            format!("too_many/{name}"),
            format!(
                "sent {} items in `{name}`, over its maximum of {max}",
                max + 1
            ),
            Value::Array(vec![first.clone(); max + 1]),
        ));
    }
    if let (Some(list), Some((model, others))) = (p.model_values, &t.model) {
        let own = model.list(list);
        let elsewhere = others
            .iter()
            .flat_map(|o| o.list(list).iter())
            .find(|v| !own.contains(v));
        let mut fault = match elsewhere {
            Some(v) => invalid(
                format!("unsupported/{name}"),
                format!(
                    "sent `{name}` {}, which another model takes but `{}` does not",
                    short(v),
                    model.id
                ),
                v.clone(),
            ),
            // The lists (the target's own, when it answered) leave nothing to send: the trial
            // stays, ignored, so every listing of the suite has the same trials.
            None => {
                let mut f = invalid(
                    format!("unsupported/{name}"),
                    format!(
                        "no value of `{name}` that another model takes and `{}` does not",
                        model.id
                    ),
                    value.clone(),
                );
                f.untried = Some(format!(
                    "nothing to send: `{}` takes every {} another model takes, by its list from the target (GET /v2/models/{{model}})",
                    model.id,
                    list.as_str()
                ));
                f
            }
        };
        fault.from_model = true;
        out.push(fault);
    }
    for (label, v) in &p.invalid {
        out.push(invalid(
            format!("invalid/{name}/{label}"),
            format!("sent `{name}` {} ({})", short(v), label.replace('_', " ")),
            v.clone(),
        ));
    }
    out
}

/// Every single fault of a template, in file order.
pub(super) fn single_faults(t: &Template) -> Vec<Fault> {
    let mut out = Vec::new();
    for (name, p) in &t.params {
        if let Some(value) = t.value(name, p) {
            out.extend(param_faults(t, name, p, value));
        }
    }
    for object in &t.unknown_fields {
        let param = if object.is_empty() {
            UNKNOWN_FIELD.to_string()
        } else {
            format!("{object}.{UNKNOWN_FIELD}")
        };
        out.push(Fault {
            name: format!("unknown/{param}"),
            words: format!("sent the unknown field `{param}`"),
            touches: param.clone(),
            faulted: vec![param.clone()],
            from_model: false,
            changes: vec![Change::Set(Place::Json, segments(&param), json!(true))],
            kind: Kind::Invalid,
            param: Some(param),
            untried: None,
        });
    }
    if t.auth {
        for (variant, auth, words) in AUTH_VARIANTS {
            out.push(Fault {
                name: format!("auth/{variant}"),
                words: (*words).to_string(),
                touches: "auth".into(),
                faulted: vec!["auth".into()],
                from_model: false,
                // The table's own literals: they parse.
                changes: vec![Change::Auth(
                    serde_json::from_str(auth).unwrap_or(Value::Null),
                )],
                kind: Kind::Auth,
                param: None,
                untried: None,
            });
        }
    }
    out
}

/// The precedence faults (two changes each), or the rules that name no fault of the template.
pub(super) fn precedence_faults(
    t: &Template,
    singles: &[Fault],
) -> Result<Vec<Fault>, Vec<Problem>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let find = |name: &str| singles.iter().find(|f| f.name == name);
    for (i, rule) in t.precedence.iter().enumerate() {
        let (first, then) = (find(&rule.first), find(&rule.then));
        for (field, name, found) in [("first", &rule.first, first), ("then", &rule.then, then)] {
            if found.is_none() {
                problems.push(Problem {
                    pointer: format!("/precedence/{i}/{field}"),
                    message: format!("`{name}` is not a fault this template derives"),
                    help: Some(
                        "name a derived fault, as `errcontract derive` lists them: auth/none, drop/prompt, ..."
                            .into(),
                    ),
                });
            }
        }
        let (Some(first), Some(then)) = (first, then) else {
            continue;
        };
        if first.touches == then.touches {
            problems.push(Problem {
                pointer: format!("/precedence/{i}"),
                message: format!(
                    "`{}` and `{}` change the same thing ({})",
                    first.name, then.name, first.touches
                ),
                help: Some("a precedence rule pairs faults of two different parameters".into()),
            });
            continue;
        }
        let mut changes = then.changes.clone();
        changes.extend(first.changes.iter().cloned());
        out.push(Fault {
            name: format!("precedence/{}/before/{}", first.name, then.name),
            words: format!(
                "{} and {}: the first must be reported",
                first.words, then.words
            ),
            touches: first.touches.clone(),
            faulted: vec![first.touches.clone(), then.touches.clone()],
            from_model: first.from_model || then.from_model,
            changes,
            kind: first.kind,
            param: first.param.clone(),
            untried: first.untried.clone().or_else(|| then.untried.clone()),
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Make one change to a request (as a case file writes it).
pub(super) fn apply(request: &mut Map<String, Value>, change: &Change) {
    match change {
        Change::Auth(auth) => {
            request.insert("auth".into(), auth.clone());
        }
        Change::Remove(Place::Query, segs) | Change::Set(Place::Query, segs, _) => {
            let Some(Segment::Key(name)) = segs.first() else {
                return;
            };
            let query = request
                .entry("query")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(q) = query.as_object_mut() {
                match change {
                    Change::Set(_, _, v) => {
                        q.insert(name.clone(), v.clone());
                    }
                    _ => {
                        q.remove(name);
                    }
                }
            }
        }
        Change::Remove(Place::Json, segs) | Change::Set(Place::Json, segs, _) => {
            let Some((last, parent)) = segs.split_last() else {
                return;
            };
            let Some(body) = request.get_mut("json") else {
                return;
            };
            let Some(parent) = body.pointer_mut(&pointer_of(parent)) else {
                return;
            };
            match (parent, last, change) {
                (Value::Object(o), Segment::Key(k), Change::Set(_, _, v)) => {
                    o.insert(k.clone(), v.clone());
                }
                (Value::Object(o), Segment::Key(k), _) => {
                    o.shift_remove(k);
                }
                (Value::Array(a), Segment::Index(i), Change::Set(_, _, v)) if *i < a.len() => {
                    a[*i] = v.clone();
                }
                (Value::Array(a), Segment::Index(i), _) if *i < a.len() => {
                    a.remove(*i);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_types_are_every_other_json_type_and_null() {
        let names = |own| {
            wrong_types(own)
                .into_iter()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(JsonType::String),
            ["number", "boolean", "null", "array", "object"]
        );
        assert_eq!(
            names(JsonType::Integer),
            ["string", "number", "boolean", "null", "array", "object"]
        );
        assert_eq!(
            names(JsonType::Number),
            ["string", "boolean", "null", "array", "object"]
        );
        let integer = wrong_types(JsonType::Integer);
        assert_eq!(integer[1].1, json!(4.5), "an integer refuses a fraction");
    }

    #[test]
    fn changes_drop_set_and_add_nested_and_query_values() {
        let mut request: Map<String, Value> = serde_json::from_value(json!({
            "method": "POST",
            "path": "/v2/images/generations",
            "query": { "start": "a", "end": "b" },
            "json": { "prompt": "p", "images": [{ "url": "u", "role": "r" }] }
        }))
        .expect("an object");
        apply(
            &mut request,
            &Change::Remove(Place::Json, segments("images[0].url")),
        );
        apply(
            &mut request,
            &Change::Set(Place::Json, segments("images[0].x"), json!(true)),
        );
        apply(
            &mut request,
            &Change::Set(Place::Json, segments("prompt"), json!(42)),
        );
        apply(
            &mut request,
            &Change::Remove(Place::Query, segments("start")),
        );
        apply(
            &mut request,
            &Change::Set(Place::Query, segments("end"), json!("05/01/2026")),
        );
        apply(&mut request, &Change::Auth(json!("none")));
        assert_eq!(
            Value::Object(request),
            json!({
                "method": "POST",
                "path": "/v2/images/generations",
                "query": { "end": "05/01/2026" },
                "json": { "prompt": 42, "images": [{ "role": "r", "x": true }] },
                "auth": "none"
            })
        );
    }
}
