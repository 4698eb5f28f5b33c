//! Self-tests: harness_cli.
