//! Dunning: reminders before the due date, overdue after it, suspension after the grace
//! days, and reactivation once a payment clears everything overdue.
//!
//! A suspension moves the subscription to SUSPENDED and, in the same transaction, enqueues
//! what the network needs ([`crate::netjobs`]): a RADIUS Disconnect for each live session
//! (the next login is then refused or put in the walled garden, per the tenant's settings)
//! and the router / OLT jobs of the tenant's suspension strategy; a reactivation enqueues
//! the jobs that undo them. Every step is a `dunning_events` row
//! (unique per kind, invoice and subscription) for a notifications feature to send.

use super::invoices::{self, Invoice};
use super::{fmt_date, lock_customer, settings};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::CoreResult;
use crate::events::{Event, EventKind};
use crate::netjobs;
use crate::store::audit;
use crate::store::page::{self, Order, Page, PageArgs};
use crate::store::subscriptions::{self, Subscription};
use crate::store::tenants;
use crate::text_enum;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

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

async fn event(
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

/// Runs the tenant's dunning policy as of `as_of`.
pub async fn run(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<DunningOutcome> {
    actor.require(Action::BillingRun)?;
    let t = actor.tenant_id;
    let s = settings::get(&ctx.db, t).await?;
    let network = tenants::get(&ctx.db, t).await?.settings();
    let now = ctx.now_ms();
    let mut out = DunningOutcome::default();
    let open: Vec<Invoice> = query_as::<Invoice>(&format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') \
         ORDER BY customer_id, due_date, id",
        invoices::COLS
    ))
    .bind(t)
    .fetch_all(&ctx.db)
    .await?;
    for inv in open {
        let due = super::parse_date("dueDate", &inv.due_date)?;
        let mut tx = ctx.db.begin().await?;
        lock_customer(&mut tx, t, inv.customer_id).await?;
        let inv = invoices::refresh(&mut tx, t, inv.id, as_of, now).await?;
        if !inv.status.is_open() {
            continue;
        }
        if s.reminder_days_before > 0 && as_of >= due - Duration::days(s.reminder_days_before) && as_of <= due {
            out.reminders +=
                usize::from(event(&mut tx, t, inv.customer_id, inv.id, 0, DunningKind::Reminder, now).await?);
        }
        if as_of > due + Duration::days(s.overdue_after_days) {
            out.overdue += usize::from(event(&mut tx, t, inv.customer_id, inv.id, 0, DunningKind::Overdue, now).await?);
        }
        if as_of >= due + Duration::days(s.suspend_after_days) && as_of > due {
            let subs: Vec<(i64,)> = query_as(
                "SELECT id FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status = 'ACTIVE' ORDER BY id",
            )
            .bind(t)
            .bind(inv.customer_id)
            .fetch_all(&mut tx)
            .await?;
            for (sub,) in subs {
                let reason = format!("{REASON_PREFIX} invoice {} overdue", inv.number.as_deref().unwrap_or("?"));
                let row = query_as::<Subscription>(&format!(
                    "UPDATE subscriptions SET status = 'SUSPENDED', status_reason = $1, updated_at = $2 \
                     WHERE tenant_id = $3 AND id = $4 AND status = 'ACTIVE' RETURNING {}",
                    subscriptions::COLS
                ))
                .bind(&reason)
                .bind(now)
                .bind(t)
                .bind(sub)
                .fetch_optional(&mut tx)
                .await?;
                // Changed by someone else since the SELECT: not ours to suspend any more.
                let Some(row) = row else { continue };
                let jobs =
                    netjobs::enqueue_for_status(&mut tx, t, &network, &row, true, "dunning suspension", now).await?;
                event(&mut tx, t, inv.customer_id, inv.id, sub, DunningKind::Suspended, now).await?;
                let details =
                    json!({"from": "ACTIVE", "to": "SUSPENDED", "reason": reason, "invoiceId": inv.id, "jobs": jobs});
                audit::record(&mut tx, actor, "subscription.status", "Subscription", Some(sub), details, now).await?;
                ctx.events.publish(Event { tenant_id: t, kind: EventKind::SubscriptionChanged, object_id: sub });
                out.suspended += 1;
            }
        }
        tx.commit().await?;
    }
    ctx.jobs_wakeup.notify_one();
    Ok(out)
}

/// Inside a payment's transaction: when the customer has nothing overdue any more, resumes
/// the subscriptions dunning suspended, with a job to end walled-garden sessions.
pub async fn reactivate_if_clear(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<usize> {
    let t = actor.tenant_id;
    let (overdue,): (i64,) = query_as(
        "SELECT COUNT(*) FROM invoices WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'INVOICE' AND status = 'OVERDUE'",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_one(&mut *tx)
    .await?;
    if overdue > 0 {
        return Ok(0);
    }
    let subs: Vec<(i64,)> = query_as(
        "SELECT id FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status = 'SUSPENDED' AND status_reason LIKE $3",
    )
    .bind(t)
    .bind(customer_id)
    .bind(format!("{REASON_PREFIX}%"))
    .fetch_all(&mut *tx)
    .await?;
    if subs.is_empty() {
        return Ok(0);
    }
    let network = tenants::settings_in(tx, t).await?;
    for (sub,) in &subs {
        let row = query_as::<Subscription>(&format!(
            "UPDATE subscriptions SET status = 'ACTIVE', status_reason = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4 \
             RETURNING {}",
            subscriptions::COLS
        ))
        .bind(format!("{REASON_PREFIX} paid {today}"))
        .bind(now)
        .bind(t)
        .bind(sub)
        .fetch_one(&mut *tx)
        .await?;
        let jobs = netjobs::enqueue_for_status(tx, t, &network, &row, false, "dunning reactivation", now).await?;
        let (invoice,): (i64,) = query_as(
            "SELECT COALESCE(MAX(invoice_id), 0) FROM dunning_events WHERE tenant_id = $1 AND subscription_id = $2 AND kind = 'SUSPENDED'",
        )
        .bind(t)
        .bind(sub)
        .fetch_one(&mut *tx)
        .await?;
        event(tx, t, customer_id, invoice, *sub, DunningKind::Reactivated, now).await?;
        let details =
            json!({"from": "SUSPENDED", "to": "ACTIVE", "reason": "payment cleared the overdue balance", "jobs": jobs});
        audit::record(tx, actor, "subscription.status", "Subscription", Some(*sub), details, now).await?;
        ctx.events.publish(Event { tenant_id: t, kind: EventKind::SubscriptionChanged, object_id: *sub });
    }
    Ok(subs.len())
}

/// A page of the tenant's dunning events, newest first.
pub async fn list(db: &Db, t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<Page<DunningEvent>> {
    let mut sql =
        Sql::new("SELECT id, customer_id, invoice_id, subscription_id, kind, at, notified_at FROM dunning_events WHERE tenant_id = ");
    sql.arg(Arg::I(t));
    if let Some(c) = customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.fetch_all::<DunningEvent>(db).await?, plan, args))
}

/// For log lines and the scheduler.
pub fn describe(o: &DunningOutcome, as_of: NaiveDate) -> String {
    format!("dunning {}: {} reminders, {} overdue, {} suspended", fmt_date(as_of), o.reminders, o.overdue, o.suspended)
}
