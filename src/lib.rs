//! errcontract: proves that an HTTP API keeps the getimg.ai v2 error contract.
//!
//! The contract lives as data in `schemas/`, the cases in `cases/`. This library loads both,
//! sends cases to a target, checks every response and renders verdicts; it never prints.
//! See ARCHITECTURE.md for the map.

pub mod case;
pub mod check;
pub mod contract;
pub mod coverage;
pub mod harness;
pub mod lint;
pub mod locate;
pub mod probe;
pub mod redact;
pub mod reference;
pub mod render;
pub mod report;
pub mod run;
pub mod settings;
