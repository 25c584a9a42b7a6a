//! RouterOS API client (help.mikrotik.com "API"): wire framing ([`codec`]), typed commands
//! and replies ([`sentence`]) and an async client multiplexing commands by `.tag`
//! ([`client`]), plain or over API-SSL with a pinned certificate ([`tls`]). [`sim`] is an in-process router for tests (feature `sim`).

pub mod client;
pub mod codec;
pub mod sentence;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod tls;

#[cfg(test)]
mod interop_tests;

pub use client::{Client, ClientError, Response};
pub use codec::{ApiCodec, CodecError};
pub use sentence::{Attributes, Command, Reply, ReplyBody, Trap};
pub use tls::Fingerprint;
