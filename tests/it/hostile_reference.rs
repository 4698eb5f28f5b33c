//! Self-tests: hostile_reference.
