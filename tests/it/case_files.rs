//! Self-tests: case_files.
