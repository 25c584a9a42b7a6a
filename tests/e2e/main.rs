//! End-to-end tests: the real server on port 0, spoken to over HTTP and WebSocket.
//!
//! One test binary on purpose (each binary links the world again): add a module here rather
//! than a new file under `tests/`. Every test creates its own tenant, so tests run in
//! parallel on one database. With `TEST_DATABASE_URL=postgres://...` the same suite runs on
//! PostgreSQL; otherwise each app gets its own SQLite file.

mod audit;
mod auth;
mod batching;
mod billing;
mod billing_dunning;
mod billing_limits;
mod billing_payments;
mod billing_pdf;
mod billing_tz;
mod billing_webhooks;
mod bodies;
mod cli;
mod devices;
mod docs;
mod documents;
mod exports;
mod fixtures;
mod graph;
mod harness;
mod helpdesk;
mod imports;
mod interop_graphiql;
mod interop_graphql_js;
mod isolation;
mod limits;
mod netctl_cli;
mod network;
mod notifications;
mod ops;
mod pagination;
mod radius;
mod radius_acct;
mod radius_api;
mod radius_interop;
mod radius_isolation;
mod reports;
mod roles;
mod schema;
mod schema_parity;
mod smoke;
mod sweep;
mod validation;
mod ws;

pub use fixtures::*;
pub use harness::*;
