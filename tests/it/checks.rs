//! Self-tests: checks.
