//! First reports: MRR, revenue by plan, invoiced vs collected per month, and receivables
//! ageing. Amounts are net of nothing: what invoices and payments say, in minor units.
//!
//! Each report reads the aggregates that triggers keep exact (migration 0009: ACTIVE
//! subscriptions per plan, subscription revenue per issue date and plan, invoiced totals and
//! collected money per day, receivables per due date), so a request reads a row per plan, or
//! per day and plan of the range, whatever the size of the tenant's history. A row counts its
//! source rows, and rows whose count falls to zero are deleted, so a month or a plan shows up
//! exactly when an invoice, a line or a payment of it exists.

use super::minor_from_wide;
use super::proration::{round_div, round_div_wide};
use crate::auth::{Action, Actor};
use crate::db::{query_as, Db, FromRow};
use crate::error::CoreResult;
use crate::store::plans::BillingPeriod;
use chrono::NaiveDate;

/// (`$1` tenant) price, period and ACTIVE subscriptions of each plan that has any.
pub const MRR_SQL: &str = "SELECT p.price_minor, p.billing_period, r.subscriptions FROM report_plan_subscriptions r \
     JOIN plans p ON p.tenant_id = r.tenant_id AND p.id = r.plan_id WHERE r.tenant_id = $1 AND r.subscriptions > 0";

/// (`$1` tenant) subscription revenue and lines per plan on invoices issued from `$2` to `$3`,
/// largest first (summed per plan before the plans are joined: a year is ~2,600 day rows).
pub const REVENUE_SQL: &str = "SELECT a.plan_id, p.name AS plan_name, a.net_minor, a.lines FROM \
     (SELECT tenant_id, plan_id, CAST(SUM(net_minor) AS BIGINT) AS net_minor, CAST(SUM(lines) AS BIGINT) AS lines \
      FROM report_plan_revenue_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3 \
      GROUP BY tenant_id, plan_id HAVING SUM(lines) > 0) a \
     JOIN plans p ON p.tenant_id = a.tenant_id AND p.id = a.plan_id ORDER BY a.net_minor DESC, a.plan_id";

/// (`$1` tenant) invoiced total per month (`YYYY-MM`) of the invoices issued from `$2` to `$3`.
pub const INVOICED_SQL: &str =
    "SELECT SUBSTR(day, 1, 7) AS m, CAST(SUM(total_minor) AS BIGINT) FROM report_invoiced_days \
     WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY SUBSTR(day, 1, 7) HAVING SUM(invoices) > 0";

/// (`$1` tenant) money collected per month (`YYYY-MM`) from payments received from `$2` to `$3`.
pub const COLLECTED_SQL: &str =
    "SELECT SUBSTR(day, 1, 7) AS m, CAST(SUM(collected_minor) AS BIGINT) FROM report_collected_days \
     WHERE tenant_id = $1 AND day >= $2 AND day <= $3 GROUP BY SUBSTR(day, 1, 7) HAVING SUM(payments) > 0";

/// (`$1` tenant) what open invoices owe, per due date.
pub const AGEING_SQL: &str =
    "SELECT due_date, open_minor FROM report_receivables WHERE tenant_id = $1 AND invoices > 0";

/// Monthly recurring revenue of the ACTIVE subscriptions, each plan price scaled to a month
/// (weekly x 52/12, daily x 365/12), rounded once at the end.
pub async fn mrr(db: &Db, actor: &Actor) -> CoreResult<i64> {
    actor.require(Action::ReportRead)?;
    let rows: Vec<(i64, BillingPeriod, i64)> = query_as(MRR_SQL).bind(actor.tenant_id).fetch_all(db).await?;
    // Sum in 1/12 minor units: monthly x12, quarterly x4, semi-annual x2, yearly x1.
    let twelfths: i128 = rows
        .iter()
        .map(|(price, period, n)| {
            let per_year = match period {
                BillingPeriod::Monthly => 12,
                BillingPeriod::Quarterly => 4,
                BillingPeriod::SemiAnnual => 2,
                BillingPeriod::Yearly => 1,
                BillingPeriod::Weekly => 52,
                BillingPeriod::Daily => 365,
            };
            i128::from(*price) * per_year * i128::from(*n)
        })
        .sum();
    minor_from_wide("MRR", round_div_wide(twelfths, 12))
}

/// Subscription revenue (net of tax) of one plan over a date range.
#[derive(Debug, Clone, FromRow)]
pub struct PlanRevenue {
    /// Plan id.
    pub plan_id: i64,
    /// Plan name.
    pub plan_name: String,
    /// Net revenue invoiced.
    pub net_minor: i64,
    /// Invoice lines counted.
    pub lines: i64,
}

/// Subscription revenue by plan on invoices issued from `from` to `to` (inclusive).
pub async fn revenue_by_plan(db: &Db, actor: &Actor, from: NaiveDate, to: NaiveDate) -> CoreResult<Vec<PlanRevenue>> {
    actor.require(Action::ReportRead)?;
    query_as::<PlanRevenue>(REVENUE_SQL)
        .bind(actor.tenant_id)
        .bind(super::fmt_date(from))
        .bind(super::fmt_date(to))
        .fetch_all(db)
        .await
}

/// Invoiced and collected money in one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthCollection {
    /// `YYYY-MM`.
    pub month: String,
    /// Invoices issued in the month (not void).
    pub invoiced_minor: i64,
    /// Payments received in the month, less their refunds.
    pub collected_minor: i64,
    /// collected / invoiced in basis points (None when nothing was invoiced).
    pub collection_rate_bp: Option<i64>,
}

/// Invoiced vs collected per month from `from` to `to` (inclusive, by date).
pub async fn collections(db: &Db, actor: &Actor, from: NaiveDate, to: NaiveDate) -> CoreResult<Vec<MonthCollection>> {
    actor.require(Action::ReportRead)?;
    let (f, t) = (super::fmt_date(from), super::fmt_date(to));
    let invoiced: Vec<(String, i64)> =
        query_as(INVOICED_SQL).bind(actor.tenant_id).bind(&f).bind(&t).fetch_all(db).await?;
    let collected: Vec<(String, i64)> =
        query_as(COLLECTED_SQL).bind(actor.tenant_id).bind(&f).bind(&t).fetch_all(db).await?;
    let mut months: Vec<String> = invoiced.iter().chain(collected.iter()).map(|(m, _)| m.clone()).collect();
    months.sort();
    months.dedup();
    Ok(months
        .into_iter()
        .map(|m| {
            let inv = invoiced.iter().find(|(x, _)| *x == m).map_or(0, |r| r.1);
            let col = collected.iter().find(|(x, _)| *x == m).map_or(0, |r| r.1);
            let rate = (inv > 0).then(|| round_div(i128::from(col) * 10_000, i128::from(inv)));
            MonthCollection { month: m, invoiced_minor: inv, collected_minor: col, collection_rate_bp: rate }
        })
        .collect())
}

/// Receivables by days past due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ageing {
    /// Not yet due.
    pub current_minor: i64,
    /// 1-30 days past due.
    pub days_1_30_minor: i64,
    /// 31-60 days past due.
    pub days_31_60_minor: i64,
    /// 61-90 days past due.
    pub days_61_90_minor: i64,
    /// More than 90 days past due.
    pub over_90_minor: i64,
    /// Everything open.
    pub total_minor: i64,
}

/// Open receivables as of `as_of`, bucketed by days past due.
pub async fn ageing(db: &Db, actor: &Actor, as_of: NaiveDate) -> CoreResult<Ageing> {
    actor.require(Action::ReportRead)?;
    let rows: Vec<(String, i64)> = query_as(AGEING_SQL).bind(actor.tenant_id).fetch_all(db).await?;
    // current, 1-30, 31-60, 61-90 and over 90 days past due, added up in i128.
    let mut sums = [0i128; 5];
    for (due, owed) in rows {
        let late = (as_of - super::parse_date("dueDate", &due)?).num_days();
        let bucket = match late {
            i64::MIN..=0 => 0,
            1..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            _ => 4,
        };
        sums[bucket] += i128::from(owed);
    }
    let m = |v: i128| minor_from_wide("receivables", v);
    Ok(Ageing {
        current_minor: m(sums[0])?,
        days_1_30_minor: m(sums[1])?,
        days_31_60_minor: m(sums[2])?,
        days_61_90_minor: m(sums[3])?,
        over_90_minor: m(sums[4])?,
        total_minor: m(sums.iter().sum())?,
    })
}
