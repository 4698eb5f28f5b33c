//! The target's own model lists: before the run, `GET /v2/models/{model}` for each model of the
//! cases directory's `*.models.json`, so derived `unsupported/...` trials use what the target
//! says it supports. A model the target does not answer with its values keeps those of the
//! file. A handful of reads, one at a time, spaced by `ERRCONTRACT_RPS`; never for `--list`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::case::{Auth, Loaded, Method, ModelValues, Models, RequestSpec, Role};
use crate::contract::Contract;
use crate::probe::Probe;
use crate::request::{self, Vars};
use crate::target::Target;

/// What the lookup found.
#[derive(Debug)]
pub(super) struct Lookup {
    /// The models of the file, each replaced by the target's answer where it gave one.
    pub models: Models,
    /// How many models were asked for.
    pub asked: usize,
    /// How many the target answered with their values.
    pub answered: usize,
}

impl Lookup {
    /// One line for the run's opening.
    pub fn summary(&self) -> String {
        let from = "from the target's GET /v2/models/{model}";
        if self.asked == 0 {
            "errcontract: model values for derived cases from *.models.json (the target was not asked: no key of role valid)".to_string()
        } else if self.answered == self.asked {
            format!(
                "errcontract: model values for derived cases: all {} models {from}",
                self.asked
            )
        } else {
            format!(
                "errcontract: model values for derived cases: {} of {} models {from}, the rest from *.models.json",
                self.answered, self.asked
            )
        }
    }
}

/// Ask the target for each model of `models` (nothing without a `valid` key).
pub(super) async fn ask(probe: &Probe, target: &Target, models: Models, rps: f64) -> Lookup {
    let ids: Vec<String> = models.ids().map(String::from).collect();
    let mut answers: BTreeMap<String, ModelValues> = BTreeMap::new();
    if !target.keys.contains_key(&Role::Valid) {
        return Lookup {
            asked: 0,
            answered: 0,
            models,
        };
    }
    let pause = if rps > 0.0 {
        Duration::from_secs_f64(1.0 / rps)
    } else {
        Duration::ZERO
    };
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(pause).await;
        }
        // The request builder encodes the id as a path segment.
        let vars = Vars::from([("model".to_string(), id.clone())]);
        let spec = RequestSpec {
            method: Method::GET,
            path: "/v2/models/{model}".into(),
            query: BTreeMap::new(),
            headers: BTreeMap::new(),
            auth: Auth::Role(Role::Valid),
            json: None,
            body: None,
            body_size: None,
        };
        let exchange = probe.send(request::build(&spec, &vars, target)).await;
        // A target that does not answer one read is not asked the rest (each would wait out
        // the request timeout): the files' lists stand, and the run's own cut-off takes over.
        if exchange.response.is_err() {
            break;
        }
        let answer = exchange
            .response
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| serde_json::from_slice::<ModelValues>(&r.body).ok())
            .filter(|m| &m.id == id);
        if let Some(m) = answer {
            answers.insert(id.clone(), m);
        }
    }
    let answered = answers.len();
    Lookup {
        asked: ids.len(),
        answered,
        models: models.with(answers.into_values()),
    }
}

/// When the run selects a derived case of `loaded` whose value comes from a model's list
/// (`selected` says which trial names it runs): ask the target for the models below `root` and
/// derive them again with its answers. Returns the line that says where the values came from.
/// (So a process of nextest, which runs one trial, asks only for an `unsupported/...` trial.)
pub(super) async fn refresh(
    loaded: &mut Loaded,
    root: &Path,
    contract: &Contract,
    (probe, target, rps): (&Probe, &Target, f64),
    selected: impl Fn(&str) -> bool,
) -> std::io::Result<Option<String>> {
    let wanted = loaded
        .cases
        .iter()
        .any(|c| c.derived.as_ref().is_some_and(|d| d.from_model) && selected(&c.trial_name()));
    if !wanted {
        return Ok(None);
    }
    let Some(models) = crate::derive::template_models(root) else {
        return Ok(None);
    };
    let lookup = ask(probe, target, models, rps).await;
    if lookup.answered > 0 {
        crate::derive::rederive(loaded, root, contract, &lookup.models)?;
    }
    Ok(Some(lookup.summary()))
}
