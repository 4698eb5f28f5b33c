//! Self-tests: one binary, a module per area.

mod support;

mod case_files;
mod checks;
mod corpus;
mod harness_cli;
mod reference;
mod transport;

mod bad_cases;
mod budget;
mod deadlines;
mod discovery;
mod fuzz;
mod hostile_reference;
mod lean_tree;
mod mutants;
mod reproduce;
mod schema_files;
mod secrets;
