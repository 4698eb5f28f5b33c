//! Self-tests: deadlines.
