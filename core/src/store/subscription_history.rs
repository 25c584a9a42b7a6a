//! Subscription history: a row each time a subscription is created or changes status, plan or
//! access type, with the tenant-local day it takes effect and its recurring value before and
//! after (migration 0017). The business reports (`crate::reports`) read the per-day sums a
//! trigger keeps of it.

use crate::db::{query, query_as, Executor, FromRow, Tx};
use crate::error::CoreResult;

/// 12 x the monthly recurring revenue of plan `p` (price x periods per year), in SQL: exact in
/// integers, rounded only where a report divides by 12.
const MRR_X12: &str = "p.price_minor * CASE p.billing_period WHEN 'MONTHLY' THEN 12 WHEN 'QUARTERLY' THEN 4 \
     WHEN 'SEMI_ANNUAL' THEN 2 WHEN 'YEARLY' THEN 1 WHEN 'WEEKLY' THEN 52 WHEN 'DAILY' THEN 365 ELSE 12 END";

/// Records subscription `id` as it stands now in `tx` (after the change), effective on the
/// tenant-local `day` (`YYYY-MM-DD`) at instant `at` (Unix ms). The "before" side is the
/// subscription's previous history row; nothing is written when status, plan and access type
/// are what that row already says, so a use case may call this after any edit. The first row of
/// a subscription counts a new customer when the customer has no older subscription.
pub async fn record(tx: &mut Tx, tenant_id: i64, id: i64, day: &str, at: i64) -> CoreResult<()> {
    let sql = format!(
        "INSERT INTO subscription_history (tenant_id, subscription_id, customer_id, day, at, from_status, to_status, \
         from_plan_id, to_plan_id, from_access_type, to_access_type, from_mrr_x12, to_mrr_x12, first_for_customer) \
         SELECT s.tenant_id, s.id, s.customer_id, $3, $4, h.to_status, s.status, h.to_plan_id, s.plan_id, \
         h.to_access_type, s.access_type, COALESCE(h.to_mrr_x12, 0), \
         CASE WHEN s.status = 'ACTIVE' THEN {MRR_X12} ELSE 0 END, \
         CASE WHEN h.id IS NULL AND NOT EXISTS (SELECT 1 FROM subscriptions o WHERE o.tenant_id = s.tenant_id \
             AND o.customer_id = s.customer_id AND o.id < s.id) THEN 1 ELSE 0 END \
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         LEFT JOIN subscription_history h ON h.tenant_id = s.tenant_id AND h.id = (SELECT MAX(x.id) \
             FROM subscription_history x WHERE x.tenant_id = s.tenant_id AND x.subscription_id = s.id) \
         WHERE s.tenant_id = $1 AND s.id = $2 AND (h.id IS NULL OR h.to_status <> s.status \
             OR h.to_plan_id <> s.plan_id OR h.to_access_type <> s.access_type)"
    );
    query(&sql).bind(tenant_id).bind(id).bind(day).bind(at).execute(tx).await?;
    Ok(())
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct HistoryRow {
    /// Subscription.
    pub subscription_id: i64,
    /// Tenant-local day it took effect, `YYYY-MM-DD`.
    pub day: String,
    /// Status before (None: created).
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Plan before.
    pub from_plan_id: Option<i64>,
    /// Plan after.
    pub to_plan_id: i64,
    /// 12 x MRR before.
    pub from_mrr_x12: i64,
    /// 12 x MRR after.
    pub to_mrr_x12: i64,
}

/// The history of subscription `id`, oldest first.
pub async fn of_subscription(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Vec<HistoryRow>> {
    query_as::<HistoryRow>(
        "SELECT subscription_id, day, from_status, to_status, from_plan_id, to_plan_id, from_mrr_x12, to_mrr_x12 \
         FROM subscription_history WHERE tenant_id = $1 AND subscription_id = $2 ORDER BY id",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_all(ex)
    .await
}
