//! Case files: the model, discovery and names, staged loading with `file:line:column` errors,
//! and the rules a case must keep (lint). A case expecting `rate_limit` with status 400 is a
//! case error found here, never a test failure of the target.

mod derive;
mod discover;
mod error;
mod fault;
mod lint;
mod load;
mod model;
mod models;
mod schema;
mod template;

pub use derive::{DerivedFile, derive_all, derive_template, rederive, template_models};
pub use discover::{
    BadName, Broken, Discovered, Loaded, case_name, discover, file_of, load_all, suite,
};
pub use error::{CaseError, CaseErrors, field_name};
pub use lint::{LintReport, collisions, lint_path, placeholders};
pub use load::{load, parse};
pub use model::*;
pub use models::{MODELS_SUFFIX, ModelList, ModelValues, Models};
pub use template::{TEMPLATE_SUFFIX, template_name};
