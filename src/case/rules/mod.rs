//! Every rule a case file or a template must keep that its schema cannot say, in one place:
//! per case (`case.rs`: the expectation against the table, regexes, placeholders; and advice,
//! which warns), per template (`template.rs`) and across files (`files.rs`). The loader applies
//! them, so a file that breaks one fails its own trial; `errcontract lint` shows them all.

mod case;
mod files;
mod problem;
mod template;

pub use case::{advice, placeholders, rules};
pub use files::collisions;
pub use problem::Problem;
pub(super) use template::rules as template_rules;
