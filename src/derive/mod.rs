//! Derived cases: from a template's valid request, one case per single fault (each required
//! parameter dropped; each wrong JSON type; each length, item count, model list or named
//! invalid value broken; each unknown field; each bad credential) and one per precedence rule,
//! each expecting the code `schemas/faults.json` gives its kind. A derived case is an ordinary
//! case file in memory: it is parsed and linted like one, so it runs through the same
//! pipeline and `errcontract derive` can print it.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::contract::Contract;
use crate::locate::{self, SourceMap};

mod fault;

use crate::case::{
    Broken, Case, CaseErrors, Derived, Loaded, Models, TEMPLATE_SUFFIX, Template, case_name,
    derivation_inputs, load_all, load_template, parse, template_name,
};
use fault::{Fault, Kind, apply, precedence_faults, single_faults};

/// A derived case file's text and what it injects.
#[derive(Debug, Clone)]
pub struct DerivedFile {
    /// `images/generations/drop/prompt`: the case's name (and its path below an output
    /// directory, plus `.json`).
    pub name: String,
    /// The case file, as `errcontract derive` prints it.
    pub text: String,
    /// The fault.
    pub derived: Derived,
}

/// The case file of one fault.
fn case_file(t: &Template, fault: &Fault, contract: &Contract) -> DerivedFile {
    let mut request = t.request.clone();
    for change in &fault.changes {
        apply(&mut request, change);
    }
    let code = match fault.kind {
        Kind::Missing => &contract.faults.missing,
        Kind::Invalid => &contract.faults.invalid,
        Kind::Auth => &contract.faults.auth,
    };
    let status = contract.table.status_of(code).unwrap_or(0);
    let mut tags = t.tags.clone();
    for tag in ["derived", code.as_str()] {
        if !tags.iter().any(|x| x == tag) {
            tags.push(tag.to_string());
        }
    }
    let mut case = Map::new();
    case.insert(
        "description".into(),
        json!(format!(
            "{} (derived from {}: {})",
            capitalised(&fault.words),
            t.name,
            t.description
        )),
    );
    if let Some(see) = &t.see {
        case.insert("see".into(), json!(see));
    }
    case.insert("tags".into(), json!(tags));
    if !t.requires.is_empty() {
        let requires: Vec<Value> = t
            .requires
            .iter()
            .map(|r| match r {
                crate::case::Requirement::Role(r) => json!(r.as_str()),
                crate::case::Requirement::Feature(f) => json!(f.as_str()),
            })
            .collect();
        case.insert("requires".into(), Value::Array(requires));
    }
    if t.billable_if_accepted {
        case.insert("billable_if_accepted".into(), json!(true));
    }
    case.insert("request".into(), Value::Object(request));
    case.insert(
        "expect".into(),
        json!({ "status": status, "code": code, "param": fault.param }),
    );
    let text = serde_json::to_string_pretty(&Value::Object(case)).unwrap_or_default() + "\n";
    DerivedFile {
        name: format!("{}/{}", t.name, fault.name),
        text,
        derived: Derived {
            template: t.path.clone(),
            fault: fault.name.clone(),
            words: fault.words.clone(),
            faulted: fault.faulted.clone(),
            from_model: fault.from_model,
            untried: fault.untried.clone(),
        },
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// Every case file a loaded template derives, in file order.
pub fn derive_files(t: &Template, contract: &Contract) -> Result<Vec<DerivedFile>, CaseErrors> {
    let singles = single_faults(t);
    let pairs = precedence_faults(t, &singles).map_err(|problems| {
        let map = SourceMap::new(t.text.clone());
        CaseErrors(
            problems
                .into_iter()
                .map(|p| p.located(&t.path, &map))
                .collect(),
        )
    })?;
    Ok(singles
        .iter()
        .chain(&pairs)
        .map(|f| case_file(t, f, contract))
        .collect())
}

/// The derived cases of a loaded template, each parsed and linted like a case file.
fn derived_cases(t: &Template, contract: &Contract) -> Result<Vec<Case>, CaseErrors> {
    let files = derive_files(t, contract)?;
    let mut cases = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        match parse(file.name.clone(), &t.path, file.text.as_bytes(), contract) {
            Ok(mut case) => {
                case.derived = Some(Arc::new(file.derived));
                cases.push(case);
            }
            // A template the rules let through derives clean cases; say which one did not.
            Err(e) => errors.extend(e.0.into_iter().map(|mut err| {
                err.message = format!("the derived case {}: {}", file.name, err.message);
                err.at = locate::LineCol { line: 1, column: 1 };
                err.path = t.path.clone();
                err
            })),
        }
    }
    if errors.is_empty() {
        Ok(cases)
    } else {
        Err(CaseErrors(errors))
    }
}

/// Load one template (with the model lists below `root`) and derive its case files.
pub fn derive_template(
    root: &Path,
    path: &Path,
    contract: &Contract,
) -> Result<Vec<DerivedFile>, CaseErrors> {
    let models = Models::load(root)?;
    let template = load_template(root, path, contract, &models)?;
    derive_files(&template, contract)
}

/// Every template below `root`, loaded and derived with the model lists below `root`: the
/// derived cases, sorted by name, and the templates (or model lists) that did not load, each
/// one failed trial.
pub fn derive_all(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    if derivation_inputs(root, TEMPLATE_SUFFIX)?.is_empty() {
        return Ok(Loaded::default());
    }
    match Models::load(root) {
        // A fault the files' own lists leave no value for is no trial: the trials are what
        // the files derive, the same for `--list`, one process of nextest and a whole run.
        Ok(models) => derive_all_with(root, contract, &models).map(|mut loaded| {
            loaded
                .cases
                .retain(|c| c.derived.as_ref().is_none_or(|d| d.untried.is_none()));
            loaded
        }),
        Err(errors) => {
            let path = errors
                .0
                .first()
                .map(|e| e.path.clone())
                .unwrap_or_else(|| root.to_path_buf());
            let mut loaded = Loaded::default();
            loaded.broken.push(Broken {
                name: case_name(root, &path),
                template: true,
                path,
                errors,
            });
            Ok(loaded)
        }
    }
}

/// The models of `*.models.json` below `root`, when there are templates to use them (none
/// when a model list is broken: that is reported by [`derive_all`]).
pub fn template_models(root: &Path) -> Option<Models> {
    let templates = derivation_inputs(root, TEMPLATE_SUFFIX).ok()?;
    (!templates.is_empty())
        .then(|| Models::load(root).ok())
        .flatten()
}

/// The whole suite below `root`: every case file and every case its templates derive.
pub fn suite(root: &Path, contract: &Contract) -> std::io::Result<Loaded> {
    let mut loaded = load_all(root, contract)?;
    let derived = derive_all(root, contract)?;
    loaded.cases.extend(derived.cases);
    loaded.broken.extend(derived.broken);
    Ok(loaded)
}

/// Replace the derived cases (and broken templates) of `loaded` by those derived with `models`.
pub fn rederive(
    loaded: &mut Loaded,
    root: &Path,
    contract: &Contract,
    models: &Models,
) -> std::io::Result<()> {
    let derived = derive_all_with(root, contract, models)?;
    // The same trials as the files derive: the target's lists change only what a trial
    // sends, or leave it nothing to send (then it is ignored, saying so).
    let trials: std::collections::BTreeSet<String> = loaded
        .cases
        .iter()
        .filter(|c| c.derived.is_some())
        .map(|c| c.trial_name())
        .collect();
    let mut derived = derived;
    derived.cases.retain(|c| trials.contains(&c.trial_name()));
    loaded.cases.retain(|c| c.derived.is_none());
    loaded.broken.retain(|b| !b.template);
    loaded.cases.extend(derived.cases);
    loaded.broken.extend(derived.broken);
    Ok(())
}

/// Every template below `root`, derived with these model lists.
fn derive_all_with(root: &Path, contract: &Contract, models: &Models) -> std::io::Result<Loaded> {
    let mut loaded = Loaded::default();
    for path in derivation_inputs(root, TEMPLATE_SUFFIX)? {
        match load_template(root, &path, contract, models).and_then(|t| derived_cases(&t, contract))
        {
            Ok(cases) => loaded.cases.extend(cases.into_iter().map(Arc::new)),
            Err(errors) => loaded.broken.push(Broken {
                name: template_name(root, &path),
                template: true,
                path,
                errors,
            }),
        }
    }
    loaded.cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(loaded)
}
