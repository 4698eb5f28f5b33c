//! Case files: the model, discovery and names, staged loading with `file:line:column` errors,
//! templates and model lists (loaded as case files are, for `derive`), and every rule a file
//! must keep (`rules/`). A case expecting `rate_limit` with status 400 is a
//! case error found here, never a test failure of the target.

mod discover;
mod error;
mod load;
mod loaded;
mod model;
mod models;
mod name;
mod rules;
mod schema;
mod template;
mod template_load;

pub use discover::{Discovered, MODELS_SUFFIX, TEMPLATE_SUFFIX, derivation_inputs, discover};
pub use error::{CaseError, CaseErrors, field_name};
pub use load::{load, parse};
pub use loaded::{Broken, Loaded, load_all};
pub use model::*;
pub use models::{ModelList, ModelValues, Models};
pub use name::{BadName, case_name, file_of};
pub use rules::{Problem, advice, collisions, placeholders};
pub use template::{
    JsonType, Param, Place, Segment, Template, pointer_of, segments, template_name,
};
pub use template_load::load_template;
