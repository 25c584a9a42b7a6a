//! End-to-end tests: the real server on port 0, spoken to over HTTP and WebSocket.
//!
//! One test binary on purpose (each binary links the world again): add a module here rather
//! than a new file under `tests/`. Every test creates its own tenant, so tests run in
//! parallel on one database. With `TEST_DATABASE_URL=postgres://...` the same suite runs on
//! PostgreSQL; otherwise each app gets its own SQLite file.

mod harness;
mod smoke;

pub use harness::*;
