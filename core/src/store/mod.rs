//! One module per aggregate: its SQL and row types, as plain async functions over an
//! [`crate::db::Executor`], each taking the tenant id (from the caller's credentials) and
//! filtering by it.

pub mod audit;
pub mod auth_log;
pub mod customers;
pub mod devices;
pub mod jobs;
pub mod nas;
pub mod page;
pub mod plans;
pub mod radius_sessions;
pub mod search;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod users;
