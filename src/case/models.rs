//! What is known of each model's allowed values, for templates: the `*.models.json` files below
//! the cases directory, each a list of models in the shape `GET /v2/models/{model}` answers
//! (fields errcontract does not use, such as `pricing`, are allowed, so an answer can be pasted
//! in as is).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::locate::LineCol;

use super::discover::{MODELS_SUFFIX, derivation_inputs};
use super::error::{CaseError, CaseErrors};
use super::model::MAX_CASE_BYTES;

/// One model's allowed values.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelValues {
    /// The model id.
    pub id: String,
    /// `image` or `video`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Allowed `aspect_ratio` values.
    #[serde(default)]
    pub supported_aspect_ratios: Vec<Value>,
    /// Allowed `resolution` values.
    #[serde(default)]
    pub supported_resolutions: Vec<Value>,
    /// Allowed `duration` values.
    #[serde(default)]
    pub supported_durations: Vec<Value>,
}

impl ModelValues {
    /// The list a template's `model_values` names.
    pub fn list(&self, which: ModelList) -> &[Value] {
        match which {
            ModelList::AspectRatios => &self.supported_aspect_ratios,
            ModelList::Resolutions => &self.supported_resolutions,
            ModelList::Durations => &self.supported_durations,
        }
    }
}

/// Which of a model's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ModelList {
    /// `supported_aspect_ratios`.
    #[serde(rename = "supported_aspect_ratios")]
    AspectRatios,
    /// `supported_resolutions`.
    #[serde(rename = "supported_resolutions")]
    Resolutions,
    /// `supported_durations`.
    #[serde(rename = "supported_durations")]
    Durations,
}

impl ModelList {
    /// The list's name in a model (`supported_resolutions`).
    pub fn as_str(self) -> &'static str {
        match self {
            ModelList::AspectRatios => "supported_aspect_ratios",
            ModelList::Resolutions => "supported_resolutions",
            ModelList::Durations => "supported_durations",
        }
    }
}

#[derive(Deserialize)]
struct ModelsFile {
    models: Vec<ModelValues>,
}

/// Every known model, by id.
#[derive(Debug, Clone, Default)]
pub struct Models(BTreeMap<String, ModelValues>);

impl Models {
    /// The model `id`.
    pub fn get(&self, id: &str) -> Option<&ModelValues> {
        self.0.get(id)
    }

    /// Every model's id.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// These models, each replacing the one of its id.
    pub fn with(mut self, models: impl IntoIterator<Item = ModelValues>) -> Models {
        self.0.extend(models.into_iter().map(|m| (m.id.clone(), m)));
        self
    }

    /// Every model of this type.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a ModelValues> + 'a {
        self.0.values().filter(move |m| m.kind == kind)
    }

    /// Read every `*.models.json` below `root`; a later file's model replaces an earlier one's.
    pub fn load(root: &Path) -> Result<Models, CaseErrors> {
        let files = derivation_inputs(root, MODELS_SUFFIX).map_err(|e| {
            let mut errors = one(
                root,
                LineCol { line: 1, column: 1 },
                format!("cannot read the cases directory: {e}"),
            );
            errors.0[0].help =
                Some("point --cases (or ERRCONTRACT_CASES) at the cases directory".into());
            errors
        })?;
        let mut models = Models::default();
        let mut errors = Vec::new();
        for path in files {
            match read(&path) {
                Ok(file) => models
                    .0
                    .extend(file.models.into_iter().map(|m| (m.id.clone(), m))),
                Err(e) => errors.extend(e.0),
            }
        }
        if errors.is_empty() {
            Ok(models)
        } else {
            Err(CaseErrors(errors))
        }
    }
}

fn read(path: &Path) -> Result<ModelsFile, CaseErrors> {
    let start = LineCol { line: 1, column: 1 };
    let text =
        std::fs::read(path).map_err(|e| one(path, start, format!("cannot read the file: {e}")))?;
    if text.len() > MAX_CASE_BYTES {
        return Err(one(
            path,
            start,
            format!("the file is larger than {MAX_CASE_BYTES} bytes"),
        ));
    }
    serde_json::from_slice(&text).map_err(|e| {
        one(
            path,
            LineCol {
                line: e.line().max(1),
                column: e.column().max(1),
            },
            format!(
                "not a model list ({{\"models\": [{{\"id\", \"type\", \"supported_...\"}}]}}): {}",
                crate::locate::strip_position(&e.to_string())
            ),
        )
    })
}

fn one(path: &Path, at: LineCol, message: String) -> CaseErrors {
    CaseErrors(vec![CaseError {
        path: path.to_path_buf(),
        at,
        pointer: String::new(),
        message,
        help: None,
    }])
}
