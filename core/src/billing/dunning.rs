//! Dunning: reminders before the due date, overdue after it, suspension after the grace
//! days, and reactivation once a payment clears everything overdue. This module holds the
//! steps' rows; the run is `crate::workflows::dunning`, the reactivation
//! [`super::settlement::reactivate_if_clear`].
//!
//! A suspension moves the subscription to SUSPENDED and, in the same transaction, enqueues
//! what the network needs ([`crate::netjobs`]): a RADIUS Disconnect for each live session
//! (the next login is then refused or put in the walled garden, per the tenant's settings)
//! and the router / OLT jobs of the tenant's suspension strategy; a reactivation enqueues
//! the jobs that undo them. Every step is a `dunning_events` row
//! (unique per kind, invoice and subscription) for a notifications feature to send.

use super::fmt_date;
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::CoreResult;
use crate::store::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::text_enum;
use chrono::NaiveDate;

text_enum!(
    /// A dunning step.
    DunningKind, "kind" {
        /// The due date is near.
        Reminder = "REMINDER",
        /// The invoice became overdue.
        Overdue = "OVERDUE",
        /// A subscription was suspended for non-payment.
        Suspended = "SUSPENDED",
        /// A payment cleared the overdue balance and service resumed.
        Reactivated = "REACTIVATED",
    }
);

/// Prefix of the status reason dunning writes, so that only its suspensions are undone by a
/// payment (a suspension for abuse stays).
pub const REASON_PREFIX: &str = "dunning:";

/// A recorded dunning step.
#[derive(Debug, Clone, FromRow)]
pub struct DunningEvent {
    /// Row id.
    pub id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Invoice concerned.
    pub invoice_id: i64,
    /// Subscription concerned (0: none).
    pub subscription_id: i64,
    /// Step.
    pub kind: DunningKind,
    /// When, Unix ms.
    pub at: i64,
    /// When a notification went out (for a future notifications feature).
    pub notified_at: Option<i64>,
}

/// Counts of what a dunning run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DunningOutcome {
    /// Reminders recorded.
    pub reminders: usize,
    /// Invoices that became overdue.
    pub overdue: usize,
    /// Subscriptions suspended.
    pub suspended: usize,
}

/// Records dunning step `kind` (once per kind, invoice and subscription); whether it is new.
pub async fn event(
    tx: &mut Tx,
    t: i64,
    customer: i64,
    invoice: i64,
    sub: i64,
    kind: DunningKind,
    now: i64,
) -> CoreResult<bool> {
    let r = query(
        "INSERT INTO dunning_events (tenant_id, customer_id, invoice_id, subscription_id, kind, at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, kind, invoice_id, subscription_id) DO NOTHING",
    )
    .bind(t)
    .bind(customer)
    .bind(invoice)
    .bind(sub)
    .bind(kind)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(r == 1)
}

/// Subscriptions of customer `customer_id` that dunning suspended (status SUSPENDED with a
/// dunning reason), by id.
pub async fn suspended_by_dunning(tx: &mut Tx, t: i64, customer_id: i64) -> CoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> = query_as(
        "SELECT id FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status = 'SUSPENDED' AND status_reason LIKE $3",
    )
    .bind(t)
    .bind(customer_id)
    .bind(format!("{REASON_PREFIX}%"))
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// The invoice whose dunning suspended subscription `sub` (0 when there is none).
pub async fn suspending_invoice(tx: &mut Tx, t: i64, sub: i64) -> CoreResult<i64> {
    let (invoice,): (i64,) = query_as(
        "SELECT COALESCE(MAX(invoice_id), 0) FROM dunning_events WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'SUSPENDED'",
    )
    .bind(t)
    .bind(sub)
    .fetch_one(tx)
    .await?;
    Ok(invoice)
}

/// Appends ` FROM dunning_events WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, t: i64, customer_id: Option<i64>) {
    sql.push(" FROM dunning_events WHERE tenant_id = ");
    sql.arg(t);
    if let Some(c) = customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
}

/// The statement of a page of the tenant's dunning events, newest first.
pub fn list_sql(t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new("SELECT id, customer_id, invoice_id, subscription_id, kind, at, notified_at");
    from_where(&mut sql, t, customer_id);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's dunning events, newest first.
pub async fn list(db: &Db, t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<Page<DunningEvent>> {
    list_sql(t, customer_id, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(t: i64, customer_id: Option<i64>) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, t, customer_id);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, t: i64, customer_id: Option<i64>) -> CoreResult<Count> {
    page::count(db, &count_sql(t, customer_id)?).await
}

/// One dunning event of the tenant.
pub async fn get(db: &Db, t: i64, id: i64) -> CoreResult<DunningEvent> {
    query_as::<DunningEvent>(
        "SELECT id, customer_id, invoice_id, subscription_id, kind, at, notified_at FROM dunning_events \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(t)
    .bind(id)
    .fetch_optional(db)
    .await?
    .ok_or(crate::error::CoreError::NotFound("dunning event"))
}

/// For log lines and the scheduler.
pub fn describe(o: &DunningOutcome, as_of: NaiveDate) -> String {
    format!("dunning {}: {} reminders, {} overdue, {} suspended", fmt_date(as_of), o.reminders, o.overdue, o.suspended)
}
