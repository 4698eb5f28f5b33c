//! errcontract: proves that an HTTP API keeps the getimg.ai v2 error contract.
//!
//! The contract lives as data in `schemas/`, the cases in `cases/`. Data flows one way:
//! case files → [`case`] → [`request`] → [`probe`] → [`check`] → a [`run::CaseResult`] →
//! [`report`]. The library returns values; only [`harness`] and the binary print.
//! See ARCHITECTURE.md for the map.

pub mod case;
pub mod check;
pub mod contract;
pub mod decode;
pub mod exit;
pub mod gate;
pub mod harness;
pub mod locate;
pub mod model_lookup;
pub mod pattern;
pub mod pipe;
pub mod preflight;
pub mod probe;
pub mod redact;
pub mod reference;
pub mod report;
pub mod request;
pub mod run;
pub mod settings;
pub mod target;
