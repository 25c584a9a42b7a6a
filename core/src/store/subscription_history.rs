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
    query(&insert_sql("$3", "s.id = $2")).bind(tenant_id).bind(id).bind(day).bind(at).execute(tx).await?;
    Ok(())
}

/// Records the subscriptions import `import_id` created with ids `first..=last` (one chunk of
/// it), each as created on its own start date: the customers an ISP brings were acquired when
/// they started with it, as the 0017 backfill recorded what was there.
pub async fn record_import(tx: &mut Tx, tenant_id: i64, import_id: i64, ids: (i64, i64), at: i64) -> CoreResult<()> {
    let filter = "s.id BETWEEN $2 AND $3 AND s.import_id = $5";
    query(&insert_sql("s.start_date", filter))
        .bind(tenant_id)
        .bind(ids.0)
        .bind(ids.1)
        .bind(at)
        .bind(import_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Takes the history of the subscriptions import `import_id` created out of the report sums
/// and deletes it (the import is being rolled back, its subscriptions go next). The history is
/// otherwise append-only; this is the one place that removes rows, and it subtracts exactly
/// what the insert trigger added: the `subscription_history_effects` view (migration 0019).
pub async fn forget_import(tx: &mut Tx, tenant_id: i64, import_id: i64) -> CoreResult<()> {
    const OF_IMPORT: &str = "SELECT h.id FROM subscription_history h JOIN subscriptions s \
         ON s.tenant_id = h.tenant_id AND s.id = h.subscription_id WHERE h.tenant_id = $1 AND s.import_id = $2";
    let sums = COUNTERS.iter().map(|c| format!("SUM({c}) AS {c}")).collect::<Vec<_>>().join(", ");
    let set =
        COUNTERS.iter().map(|c| format!("{c} = report_subscription_days.{c} - e.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "UPDATE report_subscription_days SET {set} FROM (SELECT tenant_id, day, plan_id, access_type, {sums} \
         FROM subscription_history_effects WHERE tenant_id = $1 AND id IN ({OF_IMPORT}) \
         GROUP BY tenant_id, day, plan_id, access_type) e \
         WHERE report_subscription_days.tenant_id = e.tenant_id AND report_subscription_days.day = e.day \
         AND report_subscription_days.plan_id = e.plan_id AND report_subscription_days.access_type = e.access_type"
    );
    query(&sql).bind(tenant_id).bind(import_id).execute(&mut *tx).await?;
    query(&format!("DELETE FROM subscription_history WHERE tenant_id = $1 AND id IN ({OF_IMPORT})"))
        .bind(tenant_id)
        .bind(import_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The counters of `report_subscription_days` (and columns of `subscription_history_effects`).
const COUNTERS: [&str; 11] = [
    "new_customers",
    "new_subscriptions",
    "cancellations",
    "moved_in",
    "moved_out",
    "active_delta",
    "new_mrr_x12",
    "reactivated_mrr_x12",
    "expansion_mrr_x12",
    "contraction_mrr_x12",
    "churned_mrr_x12",
];

/// The history INSERT for the subscriptions `filter` picks (tenant `$1`, instant `$4`), on the
/// day `day` says: each as it stands now, after its previous history row.
fn insert_sql(day: &str, filter: &str) -> String {
    format!(
        "INSERT INTO subscription_history (tenant_id, subscription_id, customer_id, day, at, from_status, to_status, \
         from_plan_id, to_plan_id, from_access_type, to_access_type, from_mrr_x12, to_mrr_x12, first_for_customer) \
         SELECT s.tenant_id, s.id, s.customer_id, {day}, $4, h.to_status, s.status, h.to_plan_id, s.plan_id, \
         h.to_access_type, s.access_type, COALESCE(h.to_mrr_x12, 0), \
         CASE WHEN s.status = 'ACTIVE' THEN {MRR_X12} ELSE 0 END, \
         CASE WHEN h.id IS NULL AND NOT EXISTS (SELECT 1 FROM subscriptions o WHERE o.tenant_id = s.tenant_id \
             AND o.customer_id = s.customer_id AND o.id < s.id) THEN 1 ELSE 0 END \
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         LEFT JOIN subscription_history h ON h.tenant_id = s.tenant_id AND h.id = (SELECT MAX(x.id) \
             FROM subscription_history x WHERE x.tenant_id = s.tenant_id AND x.subscription_id = s.id) \
         WHERE s.tenant_id = $1 AND {filter} AND (h.id IS NULL OR h.to_status <> s.status \
             OR h.to_plan_id <> s.plan_id OR h.to_access_type <> s.access_type) ORDER BY s.id"
    )
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
