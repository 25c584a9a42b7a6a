//! The dunning run: reminders, overdue marks and suspensions for a tenant as of a date.
//!
//! A suspension moves the subscription to SUSPENDED and, in the same transaction, enqueues
//! what the network needs ([`crate::netjobs`]): a RADIUS Disconnect for each live session
//! (the next login is then refused or put in the walled garden, per the tenant's settings)
//! and the router / OLT jobs of the tenant's suspension strategy. Every step is a
//! `dunning_events` row (unique per kind, invoice and subscription).

use crate::auth::{Action, Actor};
use crate::billing::dunning::{self, DunningKind, DunningOutcome, REASON_PREFIX};
use crate::billing::{fmt_date, invoices, lock_customers, parse_date, settings, settlement, InvoiceStatus};
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::CoreResult;
use crate::events::EventKind;
use crate::netjobs;
use crate::notify;
use crate::store::notifications::{Channel, NotifyEvent};
use crate::store::subscription_history;
use crate::store::subscriptions::{self, SubscriptionStatus};
use crate::store::tenants;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

/// Open invoices handled per transaction.
pub const CHUNK: i64 = 500;

/// Runs the tenant's dunning policy as of `as_of`.
///
/// Only open invoices due within the reminder window or earlier can need a step, so only they
/// are read, from the `(tenant_id, status, due_date)` index, in chunks of [`CHUNK`], each
/// handled in one transaction (its customers locked in id order first). Statuses are walked
/// most advanced first (OVERDUE, PARTIALLY_PAID, ISSUED), so an invoice that becomes overdue
/// during the run has been handled already. On shutdown the run stops between chunks with
/// UNAVAILABLE; what it committed stays, and the next run (every step is recorded once)
/// goes on from there.
pub async fn run(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<DunningOutcome> {
    run_in_chunks(ctx, actor, as_of, CHUNK).await
}

/// [`run`] with `chunk` invoices per transaction (tests use small chunks).
pub async fn run_in_chunks(ctx: &Ctx, actor: &Actor, as_of: NaiveDate, chunk: i64) -> CoreResult<DunningOutcome> {
    actor.require(Action::BillingRun)?;
    let chunk_size = chunk.max(1);
    let t = actor.tenant_id;
    let s = settings::get(&ctx.db, t).await?;
    let network = tenants::get(&ctx.db, t).await?.settings();
    let due_by = crate::billing::fmt_date(as_of + Duration::days(s.reminder_days_before.max(0)));
    let mut out = DunningOutcome::default();
    for status in [InvoiceStatus::Overdue, InvoiceStatus::PartiallyPaid, InvoiceStatus::Issued] {
        let mut after: Option<(String, i64)> = None;
        loop {
            ctx.check_running("the dunning run")?;
            let now = ctx.now_ms();
            let mut tx = ctx.db.begin().await?;
            let chunk = {
                let after = after.as_ref().map(|(d, id)| (d.as_str(), *id));
                invoices::due_chunk(&mut tx, t, status, &due_by, after, chunk_size).await?
            };
            let Some(last) = chunk.last() else { break };
            after = Some((last.due_date.clone(), last.id));
            let full = chunk.len() as i64 == chunk_size;
            let mut customers: Vec<i64> = chunk.iter().map(|i| i.customer_id).collect();
            customers.sort_unstable();
            customers.dedup();
            lock_customers(ctx.db.backend(), &mut tx, t, &customers).await?;
            // Paid amounts and statuses as of now, under the customers' locks.
            let chunk = settlement::refresh_many(&mut tx, t, chunk, s.overdue_after_days, as_of, now).await?;
            let channels = notify::enabled_channels(&mut tx, t).await?;
            let p = Pass { s: &s, network: &network, channels: &channels, as_of, now };
            for inv in &chunk {
                step(ctx, actor, &mut tx, &p, inv, &mut out).await?;
            }
            tx.commit().await?;
            if !full {
                break;
            }
        }
    }
    Ok(out)
}

/// What every step of one chunk of a run shares.
struct Pass<'a> {
    s: &'a settings::BillingSettings,
    network: &'a tenants::TenantSettings,
    /// The tenant's enabled notification channels, read once per chunk.
    channels: &'a [Channel],
    as_of: NaiveDate,
    now: i64,
}

/// The dunning steps of one open invoice as of `p.as_of`, in `tx`.
async fn step(
    ctx: &Ctx,
    actor: &Actor,
    tx: &mut Tx,
    p: &Pass<'_>,
    inv: &invoices::Invoice,
    out: &mut DunningOutcome,
) -> CoreResult<()> {
    let (s, network, channels, as_of, now) = (p.s, p.network, p.channels, p.as_of, p.now);
    let t = actor.tenant_id;
    if !inv.status.is_open() {
        return Ok(());
    }
    let due = parse_date("dueDate", &inv.due_date)?;
    if s.reminder_days_before > 0 && as_of >= due - Duration::days(s.reminder_days_before) && as_of <= due {
        let new = dunning::event(tx, t, inv.customer_id, inv.id, 0, DunningKind::Reminder, now).await?;
        out.reminders += usize::from(new);
        if new {
            let vars = json!({"invoice_id": inv.id, "days_before": (due - as_of).num_days()});
            let key = format!("reminder:{}", inv.id);
            notify::queue_on(ctx, tx, t, channels, inv.customer_id, NotifyEvent::PaymentReminder, vars, &key, now)
                .await?;
        }
    }
    if as_of > due + Duration::days(s.overdue_after_days) {
        let new = dunning::event(tx, t, inv.customer_id, inv.id, 0, DunningKind::Overdue, now).await?;
        out.overdue += usize::from(new);
        if new {
            let key = format!("overdue:{}", inv.id);
            let vars = json!({"invoice_id": inv.id});
            notify::queue_on(ctx, tx, t, channels, inv.customer_id, NotifyEvent::InvoiceOverdue, vars, &key, now)
                .await?;
        }
    }
    if as_of >= due + Duration::days(s.suspend_after_days) && as_of > due {
        let active = subscriptions::ids_of_customer(&mut *tx, t, inv.customer_id, SubscriptionStatus::Active).await?;
        for sub in active {
            let reason = format!("{REASON_PREFIX} invoice {} overdue", inv.number.as_deref().unwrap_or("?"));
            let row = subscriptions::set_status(
                tx,
                t,
                sub,
                SubscriptionStatus::Active,
                SubscriptionStatus::Suspended,
                Some(&reason),
                now,
            )
            .await?;
            // Changed by someone else since the SELECT: not ours to suspend any more.
            let Some(row) = row else { continue };
            subscription_history::record(tx, t, sub, &fmt_date(as_of), now).await?;
            let jobs = netjobs::for_status(tx, t, network, &row, true, "dunning suspension").await?;
            dunning::event(tx, t, inv.customer_id, inv.id, sub, DunningKind::Suspended, now).await?;
            let vars = json!({"subscription_id": sub, "reason": format!("invoice {} overdue",
                inv.number.as_deref().unwrap_or("?"))});
            let key = format!("suspended:{sub}:{}", inv.id);
            notify::queue_on(ctx, tx, t, channels, inv.customer_id, NotifyEvent::Suspended, vars, &key, now).await?;
            let details = json!({"from": "ACTIVE", "to": "SUSPENDED", "reason": reason, "invoiceId": inv.id,
                "jobs": jobs.len()});
            Effects::new(ctx, actor, now)
                .jobs(jobs)
                .audit("subscription.status", "Subscription", Some(sub), details)
                .event(EventKind::SubscriptionChanged, sub)
                .write(tx)
                .await?;
            out.suspended += 1;
        }
    }
    Ok(())
}
