//! The top data users: subscriptions by the traffic accounting recorded for them.
//!
//! Accounting keeps usage per subscription and billing period (`radius_usage`, see
//! [`crate::store::usage`]), not per day, so a period counts in a range when its first day lies
//! in the range: a range of whole months holds each monthly subscriber's periods that started in
//! those months. Bytes are input + output octets as the NAS reported them (input is upload from
//! the subscriber's side).

use super::Range;
use crate::auth::{Action, Actor};
use crate::db::{query_as, Db, FromRow};
use crate::error::{CoreError, CoreResult};
use crate::store::subscriptions::AccessType;

/// The most rows a top-users report returns.
pub const MAX_TOP_USERS: i64 = 100;

/// (`$1` tenant) usage summed per subscription over the periods starting from `$2` to `$3`, the
/// `$4` largest by total octets, with the subscription's login, customer and plan.
pub const TOP_USERS_SQL: &str =
    "SELECT u.subscription_id, s.username, s.customer_id, c.name AS customer_name, s.plan_id, p.name AS plan_name, \
     s.access_type, \
     u.input_octets, u.output_octets, u.total_octets, u.session_time FROM \
     (SELECT tenant_id, subscription_id, CAST(SUM(input_octets) AS BIGINT) AS input_octets, \
      CAST(SUM(output_octets) AS BIGINT) AS output_octets, CAST(SUM(input_octets + output_octets) AS BIGINT) AS total_octets, \
      CAST(SUM(session_time) AS BIGINT) AS session_time FROM radius_usage \
      WHERE tenant_id = $1 AND period_start >= $2 AND period_start <= $3 GROUP BY tenant_id, subscription_id \
      ORDER BY total_octets DESC, subscription_id LIMIT $4) u \
     JOIN subscriptions s ON s.tenant_id = u.tenant_id AND s.id = u.subscription_id \
     JOIN customers c ON c.tenant_id = s.tenant_id AND c.id = s.customer_id \
     JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
     ORDER BY u.total_octets DESC, u.subscription_id";

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
    query_as::<DataUserRow>(TOP_USERS_SQL).bind(actor.tenant_id).bind(from).bind(to).bind(limit).fetch_all(db).await
}
