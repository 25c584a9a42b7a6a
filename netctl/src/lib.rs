//! Network control: pushes changes to network devices.
//!
//! Jobs in the device-job outbox are written by the RADIUS server (quota crossed), the API
//! (staff disconnect, suspension, resume) and dunning in the same transaction as the change
//! that caused them, and delivered by the [`worker`] with retries, backoff and a dead letter:
//! RADIUS Change-of-Authorization and Disconnect (RFC 5176) to the NAS ([`coa`]), and
//! suspensions on MikroTik routers ([`routeros`]: the RouterOS API client, its operations and
//! connection pool) and GPON OLTs ([`olt`]: Huawei and ZTE CLI drivers) through the [`fleet`].
//! [`sync`] reconciles devices with the database, and [`cli`] is the `netctl` command line.

#![warn(missing_docs)]

pub mod cli;
pub mod coa;
pub mod fleet;
pub mod olt;
pub mod routeros;
pub mod sync;
pub mod worker;
