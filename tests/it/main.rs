//! Self-tests: one binary, a module per area.

mod reference;
