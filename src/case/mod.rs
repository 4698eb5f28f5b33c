//! Case files: the model, discovery and names, staged loading with `file:line:column` errors,
//! templates and model lists (loaded as case files are, for `derive`), and every rule a file
//! must keep (`rules/`). A case expecting `rate_limit` with status 400 is a
//! case error found here, never a test failure of the target.

mod discover;
mod error;
mod load;
mod model;
mod models;
mod rules;
mod schema;
mod template;

pub use discover::{
    BadName, Broken, Discovered, Loaded, case_name, derivation_inputs, discover, file_of, load_all,
};
pub use error::{CaseError, CaseErrors, field_name};
pub use load::{load, parse};
pub use model::*;
pub use models::{MODELS_SUFFIX, ModelList, ModelValues, Models};
pub use rules::{Problem, advice, collisions, placeholders};
pub use template::{
    JsonType, Param, Place, Segment, TEMPLATE_SUFFIX, Template, load_template, pointer_of,
    segments, template_name,
};
