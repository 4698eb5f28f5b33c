//! Self-tests: one binary, a module per area.

mod support;

mod case_files;
mod checks;
mod closing;
mod corpus;
mod derive;
mod harness_cli;
mod reference;
mod transport;

mod bad_cases;
mod browser;
mod budget;
mod deadlines;
mod discovery;
mod fronts;
mod fuzz;
mod gate;
mod guards;
mod hostile_reference;
mod interrupt;
mod lean_tree;
mod long_jobs;
mod mutants;
mod output;
mod proxy;
mod proxy_record;
mod reports;
mod reproduce;
mod schema_files;
mod secrets;
mod singleton_fields;
mod tls;
mod traffic;
mod waits;
mod workflow;
