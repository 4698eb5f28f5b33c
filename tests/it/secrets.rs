//! Self-tests: secrets.
