//! Self-tests: mutants.
