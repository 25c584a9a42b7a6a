//! Network control: pushes changes to network devices.
//!
//! For now that is RADIUS Change-of-Authorization and Disconnect (RFC 5176) to the NAS
//! ([`coa`]), driven by the device-job outbox ([`worker`]): jobs are written by the RADIUS
//! server (quota crossed) and the API (staff disconnect) in the same transaction as the
//! change that caused them, and delivered here with retries, backoff and a dead letter.
//! [`routeros`] is the MikroTik RouterOS API client.

#![warn(missing_docs)]

pub mod cli;
pub mod coa;
pub mod olt;
pub mod routeros;
pub mod worker;
