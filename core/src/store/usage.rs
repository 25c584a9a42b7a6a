//! Usage per subscription and billing period: the bytes and seconds that quotas count.
//!
//! Accounting adds the growth of a session's cumulative counters to the period that is
//! current when the update arrives, so a session spanning a period boundary has its traffic
//! before the boundary in the old period and after it in the new one. Periods are anchored
//! on the subscription's start date and use UTC calendar dates.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use super::plans::BillingPeriod;
use crate::db::{query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use chrono::{Datelike, Duration, NaiveDate};

/// Usage of one subscription in one billing period.
#[derive(Debug, Clone, FromRow)]
pub struct Usage {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Subscription.
    pub subscription_id: i64,
    /// First day of the period, `YYYY-MM-DD`.
    pub period_start: String,
    /// First day after the period, `YYYY-MM-DD`.
    pub period_end: String,
    /// Octets from the subscriber (upload).
    pub input_octets: i64,
    /// Octets to the subscriber (download).
    pub output_octets: i64,
    /// Online seconds.
    pub session_time: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

impl Usage {
    /// Download plus upload.
    pub fn total_octets(&self) -> i64 {
        self.input_octets.saturating_add(self.output_octets)
    }
}

fn add_months(anchor: NaiveDate, months: i32) -> NaiveDate {
    let total = anchor.year() * 12 + anchor.month0() as i32 + months;
    let (y, m0) = (total.div_euclid(12), total.rem_euclid(12) as u32);
    // Day 31 becomes the last day of shorter months; the anchor keeps its own day.
    let mut day = anchor.day();
    loop {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m0 + 1, day) {
            return d;
        }
        day -= 1;
    }
}

/// The billing period `[start, end)` that contains `today`, for a subscription that started
/// on `start` with billing `period`. Before the start date the first period applies.
pub fn period_containing(start: NaiveDate, period: BillingPeriod, today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let days = |n: i64| {
        let k = if today < start { 0 } else { (today - start).num_days() / n };
        let s = start + Duration::days(k * n);
        (s, s + Duration::days(n))
    };
    let step = match period {
        BillingPeriod::Daily => return days(1),
        BillingPeriod::Weekly => return days(7),
        BillingPeriod::Monthly => 1,
        BillingPeriod::Quarterly => 3,
        BillingPeriod::SemiAnnual => 6,
        BillingPeriod::Yearly => 12,
    };
    if today < start {
        return (start, add_months(start, step));
    }
    let months = (today.year() * 12 + today.month0() as i32) - (start.year() * 12 + start.month0() as i32);
    let mut k = months - months % step;
    if add_months(start, k) > today {
        k -= step;
    }
    (add_months(start, k), add_months(start, k + step))
}

/// Parses a stored `YYYY-MM-DD` date.
pub fn parse_date(s: &str) -> CoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CoreError::internal(format!("bad stored date {s:?}")))
}

/// Formats a date for storage.
pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Adds traffic and time to the usage row of one period inside `tx`; returns the new totals
/// (octets, seconds) of that period.
#[allow(clippy::too_many_arguments)]
pub async fn add(
    tx: &mut Tx,
    tenant_id: i64,
    subscription_id: i64,
    period: (NaiveDate, NaiveDate),
    input: i64,
    output: i64,
    seconds: i64,
    now: i64,
) -> CoreResult<(i64, i64)> {
    let (octets, secs): (i64, i64) = query_as(
        "INSERT INTO radius_usage (tenant_id, subscription_id, period_start, period_end, input_octets, output_octets, session_time, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (subscription_id, period_start) DO UPDATE SET input_octets = radius_usage.input_octets + excluded.input_octets, \
         output_octets = radius_usage.output_octets + excluded.output_octets, session_time = radius_usage.session_time + excluded.session_time, \
         updated_at = excluded.updated_at \
         RETURNING input_octets + output_octets, session_time",
    )
    .bind(tenant_id)
    .bind(subscription_id)
    .bind(fmt_date(period.0))
    .bind(fmt_date(period.1))
    .bind(input)
    .bind(output)
    .bind(seconds)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok((octets, secs))
}

const COLS: &str =
    "id, tenant_id, subscription_id, period_start, period_end, input_octets, output_octets, session_time, updated_at";

/// Appends ` FROM radius_usage WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, subscription_id: i64) {
    sql.push(" FROM radius_usage WHERE tenant_id = ");
    sql.arg(tenant_id).push(" AND subscription_id = ").arg(Arg::I(subscription_id));
}

/// The statement of a page of one subscription's usage, newest period first.
pub fn list_sql(tenant_id: i64, subscription_id: i64, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, subscription_id);
    let plan = page::apply(&mut sql, Order { column: "period_start", integer: false, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of one subscription's usage, newest period first.
pub async fn list(db: &Db, tenant_id: i64, subscription_id: i64, args: &PageArgs) -> CoreResult<Page<Usage>> {
    list_sql(tenant_id, subscription_id, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, subscription_id: i64) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, subscription_id);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, subscription_id: i64) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, subscription_id)?).await
}

/// Usage of one subscription in the period starting on `period_start`, if any traffic.
pub async fn in_period(db: &Db, tenant_id: i64, subscription_id: i64, period_start: &str) -> CoreResult<Option<Usage>> {
    query_as::<Usage>(&format!(
        "SELECT {COLS} FROM radius_usage WHERE tenant_id = $1 AND subscription_id = $2 AND period_start = $3"
    ))
    .bind(tenant_id)
    .bind(subscription_id)
    .bind(period_start)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn monthly_periods_keep_their_anchor_day() {
        let p = |start: &str, today: &str| {
            let (a, b) = period_containing(d(start), BillingPeriod::Monthly, d(today));
            (fmt_date(a), fmt_date(b))
        };
        assert_eq!(p("2026-01-31", "2026-02-15"), ("2026-01-31".into(), "2026-02-28".into()));
        assert_eq!(p("2026-01-31", "2026-02-28"), ("2026-02-28".into(), "2026-03-31".into()));
        assert_eq!(p("2026-01-31", "2026-03-31"), ("2026-03-31".into(), "2026-04-30".into()));
        assert_eq!(p("2024-01-15", "2024-12-14"), ("2024-11-15".into(), "2024-12-15".into()));
        assert_eq!(p("2026-05-10", "2026-01-01"), ("2026-05-10".into(), "2026-06-10".into()));
        let (a, b) = period_containing(d("2026-01-01"), BillingPeriod::Quarterly, d("2026-07-01"));
        assert_eq!((fmt_date(a), fmt_date(b)), ("2026-07-01".into(), "2026-10-01".into()));
        let (a, b) = period_containing(d("2026-01-01"), BillingPeriod::Weekly, d("2026-01-16"));
        assert_eq!((fmt_date(a), fmt_date(b)), ("2026-01-15".into(), "2026-01-22".into()));
        let (a, b) = period_containing(d("2026-01-01"), BillingPeriod::Daily, d("2026-01-16"));
        assert_eq!((fmt_date(a), fmt_date(b)), ("2026-01-16".into(), "2026-01-17".into()));
    }
}
