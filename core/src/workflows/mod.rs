//! Use cases: one function per thing a user or a device asks of the system, each in one
//! transaction. A workflow authorises the actor, validates, reads and writes through `store`
//! (SQL and rows), applies domain rules (`billing`, `netjobs`), and records its side effects
//! (audit entry, outbox jobs, live events) through [`crate::effects::Effects`], then commits.
//! Workflows do not call one another; what several share is a domain rule below them (such
//! as [`crate::billing::settlement`]).

pub mod accounting;
pub mod billing_settings;
pub mod charges;
pub mod customers;
pub mod devices;
pub mod documents;
pub mod dunning;
pub mod helpdesk;
pub mod invoices;
pub mod jobs;
pub mod nas;
pub mod notifications;
pub mod payments;
pub mod plans;
pub mod sessions;
pub mod staff;
pub mod subscriptions;
pub mod tenants;
pub mod tickets;
pub mod webhooks;
