//! Self-tests of the reference server.
