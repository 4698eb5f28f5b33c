//! Case files: the model, discovery and names, staged loading with `file:line:column` errors,
//! and the rules a case must keep (lint). A case expecting `rate_limit` with status 400 is a
//! case error found here, never a test failure of the target.

mod discover;
mod error;
mod lint;
mod load;
mod model;
mod schema;

pub use discover::{BadName, Broken, Discovered, Loaded, case_name, discover, file_of, load_all};
pub use error::{CaseError, CaseErrors, field_name};
pub use lint::{LintReport, collisions, lint_path, placeholders};
pub use load::{load, parse};
pub use model::*;
