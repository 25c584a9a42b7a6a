//! Shared domain model and storage of the ISP billing and AAA system.
//!
//! Every other crate builds on this one: configuration, the injected [`clock::Clock`],
//! the portable SQL storage layer ([`db::Db`] over SQLite or PostgreSQL), secrets at rest,
//! staff authentication primitives, roles and permissions, and one module per aggregate
//! under [`store`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

// `#[derive(FromRow)]` names `::isp_core`, in this crate too.
extern crate self as isp_core;

pub mod auth;
pub mod billing;
pub mod blobs;
pub mod clock;
pub mod config;
pub mod ctx;
pub mod db;
pub mod delivery;
pub mod effects;
pub mod error;
pub mod events;
pub mod export;
pub mod helpdesk;
pub mod import;
pub mod jwt;
mod layers;
pub mod lists;
pub mod metrics;
pub mod netjobs;
pub mod notify;
pub mod password;
pub mod patch;
pub mod relay;
#[cfg(test)]
mod report_figures;
#[cfg(test)]
mod report_histories;
pub mod reports;
pub mod scheduler;
pub mod secrets;
pub mod seed;
pub mod store;
pub mod validate;
pub mod workflows;

pub use ctx::Ctx;
pub use error::{CoreError, CoreResult};
