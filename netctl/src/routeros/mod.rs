//! RouterOS API client (help.mikrotik.com "API"): wire framing ([`codec`]), typed commands
//! and replies ([`sentence`]) and an async client multiplexing commands by `.tag`
//! ([`client`]), plain or over API-SSL with a pinned certificate ([`tls`]). On top of it,
//! idempotent and verified suspension operations ([`ops`]) and a per-device connection pool
//! ([`pool`]). [`sim`] is an in-process router for tests (feature `sim`).

pub mod client;
pub mod codec;
pub mod ops;
pub mod pool;
pub mod sentence;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod tls;

#[cfg(test)]
mod interop_tests;
#[cfg(test)]
mod ops_tests;
#[cfg(test)]
mod pool_tests;

pub use client::{Client, ClientError, ErrorKind, Response, RouterApi};
pub use codec::{ApiCodec, CodecError};
pub use ops::{Change, OpError};
pub use pool::{Device, DeviceKey, PoolConfig, RouterPool};
pub use sentence::{Attributes, Command, Reply, ReplyBody, Trap};
pub use tls::Fingerprint;
