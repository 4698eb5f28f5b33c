//! Self-tests: transport.
