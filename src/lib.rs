//! errcontract: proves that an HTTP API keeps the getimg.ai v2 error contract.
//!
//! The contract lives as data in `schemas/`, the cases in `cases/`. Data flows one way:
//! case files → `case` (and `derive`) → `request` → `probe` → `check` → `run` → [`gate`]
//! (the verdict) → [`report`], with [`session`] driving one run and printing nothing. The
//! adapters — [`harness`] for `cargo test --test contract`, and the `errcontract` binary —
//! print and choose exit codes ([`exit`]). See ARCHITECTURE.md for the map.
//!
//! The documented API is what a program embedding a run needs: [`session`], [`settings`],
//! [`contract`], [`gate`], [`report`], [`exit`], the [`reference`] server and the adapters.
//! The stages inside a run are public only for the binary and the self-tests, and hidden
//! from the documentation: they may change with any release.
#![warn(missing_docs)]

pub mod contract;
pub mod exit;
pub mod gate;
pub mod harness;
pub mod pipe;
pub mod reference;
pub mod report;
pub mod session;
pub mod settings;

#[doc(hidden)]
pub mod case;
#[doc(hidden)]
pub mod check;
#[doc(hidden)]
pub mod decode;
#[doc(hidden)]
pub mod derive;
#[doc(hidden)]
pub mod lint;
#[doc(hidden)]
pub mod locate;
#[doc(hidden)]
pub mod pattern;
#[doc(hidden)]
pub mod preflight;
#[doc(hidden)]
pub mod probe;
#[doc(hidden)]
pub mod redact;
#[doc(hidden)]
pub mod request;
#[doc(hidden)]
pub mod run;
#[doc(hidden)]
pub mod target;
#[doc(hidden)]
pub mod traffic;
