//! One module per aggregate: its SQL and row types, as plain async functions over an
//! [`crate::db::Executor`], each taking the tenant id (from the caller's credentials) and
//! filtering by it.

pub mod audit;
pub mod auth_log;
pub mod customers;
pub mod devices;
pub mod documents;
pub mod events;
pub mod helpdesk;
pub mod imports;
pub mod jobs;
pub mod nas;
pub mod notifications;
pub mod page;
pub mod plans;
pub mod radius_sessions;
pub mod search;
pub mod subscription_history;
pub mod subscriptions;
pub mod tenants;
pub mod tickets;
pub mod tokens;
pub mod usage;
pub mod users;

use crate::db::{Arg, Sql};

/// `SELECT {cols} FROM {table} WHERE +tenant_id = ? AND id IN (...)`: the rows of a few ids
/// in a tenant, as the GraphQL loaders and the workflows ask for them. The unary `+` keeps
/// SQLite, which plans without statistics, from walking a tenant-wide index when the IN list
/// is long (a page of 50 ids); PostgreSQL looks the ids up by primary key either way. The
/// plan test checks every such lookup.
pub fn by_ids(cols: &str, table: &str, tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(&format!("SELECT {cols} FROM {table} WHERE +tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(ids);
    sql
}
