//! Collection rate and days sales outstanding, and revenue by tax class, from the billing
//! aggregates of migration 0009 (invoiced totals and collected money per day, subscription
//! revenue per day and plan).
//!
//! Definitions, per bucket:
//! - **invoiced**: totals of the invoices issued in the bucket (kind INVOICE, not DRAFT or VOID;
//!   credit notes are not subtracted), on their issue date;
//! - **collected**: payments received in the bucket, less what was refunded of them;
//! - **collection rate** = collected / invoiced, in basis points (null when nothing was invoiced);
//! - **receivables at end** = everything invoiced up to the bucket's last day minus everything
//!   collected up to it (negative when customers paid ahead);
//! - **days sales outstanding** = max(receivables at end, 0) / invoiced x days in the bucket,
//!   in hundredths of a day (null when nothing was invoiced).
//!
//! Revenue by tax class is the subscription revenue (net of tax) of the invoices issued in the
//! bucket, by the tax class of the line's plan (its class today; one-off charges are not
//! counted, as in revenue by plan).

use super::{basis_points, bucket_index, Range};
use crate::auth::{Action, Actor};
use crate::billing::proration::round_div;
use crate::billing::{fmt_date, minor_from_wide};
use crate::db::{query_as, Db};
use crate::error::CoreResult;

/// (`$1` tenant) invoiced total and collected money before day `$2`.
pub const BALANCE_BEFORE_SQL: &str =
    "SELECT CAST(COALESCE((SELECT SUM(total_minor) FROM report_invoiced_days WHERE tenant_id = $1 AND day < $2), 0) \
     AS BIGINT), CAST(COALESCE((SELECT SUM(collected_minor) FROM report_collected_days WHERE tenant_id = $1 \
     AND day < $2), 0) AS BIGINT)";

/// (`$1` tenant) invoiced per day from `$2` to `$3`.
pub const INVOICED_DAYS_SQL: &str =
    "SELECT day, total_minor FROM report_invoiced_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3";

/// (`$1` tenant) collected per day from `$2` to `$3`.
pub const COLLECTED_DAYS_SQL: &str =
    "SELECT day, collected_minor FROM report_collected_days WHERE tenant_id = $1 AND day >= $2 AND day <= $3";

/// (`$1` tenant) subscription revenue per day and tax class from `$2` to `$3`.
pub const TAX_CLASS_DAYS_SQL: &str =
    "SELECT r.day, p.tax_class, CAST(SUM(r.net_minor) AS BIGINT), CAST(SUM(r.lines) AS BIGINT) \
     FROM report_plan_revenue_days r JOIN plans p ON p.tenant_id = r.tenant_id AND p.id = r.plan_id \
     WHERE r.tenant_id = $1 AND r.day >= $2 AND r.day <= $3 GROUP BY r.day, p.tax_class";

/// (`$1` tenant) tax rate names per class.
pub const TAX_NAMES_SQL: &str = "SELECT tax_class, name FROM tax_rates WHERE tenant_id = $1";

/// Invoiced vs collected in one bucket (minor units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Invoiced in the bucket.
    pub invoiced_minor: i64,
    /// Collected in the bucket, less refunds.
    pub collected_minor: i64,
    /// collected / invoiced in basis points (None when nothing was invoiced).
    pub collection_rate_bp: Option<i64>,
    /// Invoiced minus collected, everything up to the bucket's last day.
    pub receivables_end_minor: i64,
    /// Days sales outstanding in hundredths of a day (None when nothing was invoiced).
    pub dso_centidays: Option<i64>,
}

/// Collection rate and days sales outstanding per bucket.
pub async fn collection(db: &Db, actor: &Actor, range: &Range) -> CoreResult<Vec<CollectionRow>> {
    actor.require(Action::ReportRead)?;
    let t = actor.tenant_id;
    let (from, to) = range.dates();
    let (inv0, col0): (i64, i64) = query_as(BALANCE_BEFORE_SQL).bind(t).bind(&from).fetch_one(db).await?;
    let invoiced: Vec<(String, i64)> = query_as(INVOICED_DAYS_SQL).bind(t).bind(&from).bind(&to).fetch_all(db).await?;
    let collected: Vec<(String, i64)> =
        query_as(COLLECTED_DAYS_SQL).bind(t).bind(&from).bind(&to).fetch_all(db).await?;
    let buckets = range.buckets();
    let mut sums = vec![(0i128, 0i128); buckets.len()];
    for (day, v) in &invoiced {
        sums[bucket_index(range, day)?].0 += i128::from(*v);
    }
    for (day, v) in &collected {
        sums[bucket_index(range, day)?].1 += i128::from(*v);
    }
    let mut owed = i128::from(inv0) - i128::from(col0);
    let mut out = Vec::with_capacity(buckets.len());
    for (b, (inv, col)) in buckets.iter().zip(sums) {
        owed += inv - col;
        let (inv, col) = (minor_from_wide("invoiced", inv)?, minor_from_wide("collected", col)?);
        let dso = (inv != 0).then(|| round_div(owed.max(0) * i128::from(b.days()) * 100, i128::from(inv)));
        out.push(CollectionRow {
            bucket: b.label.clone(),
            first_day: fmt_date(b.first),
            last_day: fmt_date(b.last),
            invoiced_minor: inv,
            collected_minor: col,
            collection_rate_bp: basis_points(col, inv),
            receivables_end_minor: minor_from_wide("receivables", owed)?,
            dso_centidays: dso,
        });
    }
    Ok(out)
}

/// Subscription revenue of one tax class in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxClassRevenueRow {
    /// `YYYY-MM` or `YYYY-MM-DD`.
    pub bucket: String,
    /// First day of the bucket.
    pub first_day: String,
    /// Last day of the bucket.
    pub last_day: String,
    /// Tax class (`standard` unless the plan names another).
    pub tax_class: String,
    /// The tenant's name of its tax rate, if one is configured.
    pub tax_name: Option<String>,
    /// Net revenue invoiced.
    pub net_minor: i64,
    /// Invoice lines counted.
    pub lines: i64,
}

/// Subscription revenue per bucket and tax class; buckets without revenue have no rows.
pub async fn revenue_by_tax_class(db: &Db, actor: &Actor, range: &Range) -> CoreResult<Vec<TaxClassRevenueRow>> {
    actor.require(Action::ReportRead)?;
    let t = actor.tenant_id;
    let (from, to) = range.dates();
    let rows: Vec<(String, String, i64, i64)> =
        query_as(TAX_CLASS_DAYS_SQL).bind(t).bind(&from).bind(&to).fetch_all(db).await?;
    let names: std::collections::HashMap<String, String> =
        query_as::<(String, String)>(TAX_NAMES_SQL).bind(t).fetch_all(db).await?.into_iter().collect();
    let buckets = range.buckets();
    let mut sums: std::collections::BTreeMap<(usize, String), (i128, i64)> = Default::default();
    for (day, class, net, lines) in rows {
        let e = sums.entry((bucket_index(range, &day)?, class)).or_default();
        e.0 += i128::from(net);
        e.1 += lines;
    }
    sums.into_iter()
        .filter(|(_, (_, lines))| *lines > 0)
        .map(|((bi, class), (net, lines))| {
            let b = &buckets[bi];
            Ok(TaxClassRevenueRow {
                bucket: b.label.clone(),
                first_day: fmt_date(b.first),
                last_day: fmt_date(b.last),
                tax_name: names.get(&class).cloned(),
                tax_class: class,
                net_minor: minor_from_wide("revenue", net)?,
                lines,
            })
        })
        .collect()
}
