//! The top data users: subscriptions by the traffic accounting recorded for them.
//!
//! Accounting keeps usage per subscription and billing period (`radius_usage`, see
//! [`crate::store::usage`]), not per day, so a period counts in a range when its first day lies
//! in the range: a range of whole months holds each monthly subscriber's periods that started in
//! those months. Bytes are input + output octets as the NAS reported them (input is upload from
//! the subscriber's side).

use super::Range;
use crate::auth::{Action, Actor};
use crate::db::{query_as, Backend, Db, FromRow};
use crate::error::{CoreError, CoreResult};
use crate::store::subscriptions::AccessType;

/// The most rows a top-users report returns.
pub const MAX_TOP_USERS: i64 = 100;

/// (`$1` tenant) usage summed per subscription over the periods starting from `$2` to `$3`, the
/// `$4` largest by total octets, with the subscription's login, customer and plan. `{index}`
/// is empty or SQLite's `INDEXED BY` hint ([`top_users_sql`]).
const TOP_USERS: &str =
    "SELECT u.subscription_id, s.username, s.customer_id, c.name AS customer_name, s.plan_id, p.name AS plan_name, \
     s.access_type, \
     u.input_octets, u.output_octets, u.total_octets, u.session_time FROM \
     (SELECT tenant_id, subscription_id, CAST(SUM(input_octets) AS BIGINT) AS input_octets, \
      CAST(SUM(output_octets) AS BIGINT) AS output_octets, CAST(SUM(input_octets + output_octets) AS BIGINT) AS total_octets, \
      CAST(SUM(session_time) AS BIGINT) AS session_time FROM radius_usage{index} \
      WHERE tenant_id = $1 AND period_start >= $2 AND period_start <= $3 GROUP BY tenant_id, subscription_id \
      ORDER BY total_octets DESC, subscription_id LIMIT $4) u \
     JOIN subscriptions s ON s.tenant_id = u.tenant_id AND s.id = u.subscription_id \
     JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id \
     JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
     ORDER BY u.total_octets DESC, u.subscription_id";

/// Ranges longer than this many days read SQLite's usage in subscription order.
pub const LONG_RANGE_DAYS: i64 = 62;

/// The top-users statement for a range of `days` days on `backend`.
///
/// SQLite's planner (which the application runs without statistics) reads the range from the
/// `(tenant_id, period_start)` index and groups the rows in a temporary b-tree: cheap for a
/// month, but a year of a 100k-subscriber tenant (775k usage rows) took 545-700 ms. Walking
/// `(tenant_id, subscription_id, period_start)` instead groups as it reads and tests the range
/// in the index, at a cost that follows the tenant's usage rows rather than the range (114 ms
/// for that year, 67 ms for a month), so a long range takes that walk. PostgreSQL's planner,
/// with statistics, hashes the groups itself.
pub fn top_users_sql(backend: Backend, days: i64) -> String {
    let index = match backend {
        Backend::Sqlite if days > LONG_RANGE_DAYS => " INDEXED BY radius_usage_tenant_idx",
        _ => "",
    };
    TOP_USERS.replace("{index}", index)
}

/// One subscriber's traffic over the range.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DataUserRow {
    /// Subscription.
    pub subscription_id: i64,
    /// Its login.
    pub username: String,
    /// Customer.
    pub customer_id: i64,
    /// Customer name.
    pub customer_name: String,
    /// Plan today.
    pub plan_id: i64,
    /// Its name.
    pub plan_name: String,
    /// Access type.
    pub access_type: AccessType,
    /// Octets from the subscriber (upload).
    pub input_octets: i64,
    /// Octets to the subscriber (download).
    pub output_octets: i64,
    /// Both.
    pub total_octets: i64,
    /// Seconds online.
    pub session_time: i64,
}

/// The `limit` (1 to [`MAX_TOP_USERS`]) subscriptions with the most traffic in usage periods
/// starting in the range (its bucket is ignored), most first.
pub async fn top_data_users(db: &Db, actor: &Actor, range: &Range, limit: i64) -> CoreResult<Vec<DataUserRow>> {
    actor.require(Action::ReportRead)?;
    if !(1..=MAX_TOP_USERS).contains(&limit) {
        return Err(CoreError::validation("first", format!("must be between 1 and {MAX_TOP_USERS}")));
    }
    let (from, to) = range.dates();
    let sql = top_users_sql(db.backend(), (range.to - range.from).num_days() + 1);
    query_as::<DataUserRow>(&sql).bind(actor.tenant_id).bind(from).bind(to).bind(limit).fetch_all(db).await
}
