//! The reference server: a faithful getimg.ai v2 API on loopback, the suite's default target.
//!
//! Real validation from a model catalog (`catalog.json`), accounts with balances, per-workspace
//! rate limits with the documented headers, the asynchronous video lifecycle, and documented
//! triggers for what a client cannot cause on purpose. Every response it makes, including
//! routing misses, unread-body rejections and handler panics, is in the contract's envelope with
//! the status from `schemas/codes.json`. The behaviour is specified in
//! `docs/reference-server.md`; cases depend on every line of it.
//!
//! The code is split so that HTTP and the rules of the API can be read apart:
//! - HTTP: `http` (routes, fault trigger, fallbacks, panic catcher), `handlers/` (one file per
//!   API area), `body` (reading request bodies), `params` (validating them), `error` (the one
//!   place an error becomes a response).
//! - Domain, on plain values: `auth` (keys to workspaces), `rate_limit`, `billing`, `videos`
//!   (the lifecycle), `triggers`, `catalog`, `money`, `media` (ids, sizes, signed URLs).
//! - `state` joins the domain behind one lock; `config`, `server` and `cli` are how a server is
//!   described, started and run from the command line.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use errcontract::reference::{Config, start};
//! let config = Config::default();
//! let keys = config.keys();
//! let server = start(config).await?;
//! let url = format!("{}/v2/models", server.base_url());
//! // ... send requests with `Authorization: Bearer {keys.valid}` ...
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
mod billing;
mod body;
mod catalog;
mod cli;
mod config;
mod error;
mod handlers;
mod http;
mod media;
mod money;
mod params;
mod rate_limit;
mod server;
mod state;
mod triggers;
mod videos;

pub use cli::{ServeArgs, banner};
pub use config::{
    Account, Config, DEFAULT_REVOKED_KEY, DEFAULT_THROTTLED_KEY, DEFAULT_VALID_KEY,
    DEFAULT_ZERO_BALANCE_KEY, Keys, Limits, VideoAdvance,
};
pub use money::{Usd, UsdParseError};
pub use server::{BindError, Bound, Running, bind, start};
pub use triggers::{CONTENT_POLICY_TERM, FAULT_HEADER, VIDEO_FAILURE_TERM, VIDEO_MODERATION_TERM};
