//! The dunning run: reminders, overdue marks and suspensions for a tenant as of a date.
//!
//! A suspension moves the subscription to SUSPENDED and, in the same transaction, enqueues
//! what the network needs ([`crate::netjobs`]): a RADIUS Disconnect for each live session
//! (the next login is then refused or put in the walled garden, per the tenant's settings)
//! and the router / OLT jobs of the tenant's suspension strategy. Every step is a
//! `dunning_events` row (unique per kind, invoice and subscription).

use crate::auth::{Action, Actor};
use crate::billing::dunning::{self, DunningKind, DunningOutcome, REASON_PREFIX};
use crate::billing::{invoices, lock_customer, parse_date, settings, settlement};
use crate::effects::Effects;
use crate::error::CoreResult;
use crate::events::EventKind;
use crate::netjobs;
use crate::notify;
use crate::store::notifications::NotifyEvent;
use crate::store::subscriptions::{self, SubscriptionStatus};
use crate::store::tenants;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

/// Runs the tenant's dunning policy as of `as_of`, one transaction per open invoice.
pub async fn run(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<DunningOutcome> {
    actor.require(Action::BillingRun)?;
    let t = actor.tenant_id;
    let s = settings::get(&ctx.db, t).await?;
    let network = tenants::get(&ctx.db, t).await?.settings();
    let now = ctx.now_ms();
    let mut out = DunningOutcome::default();
    for inv in invoices::open(&ctx.db, t).await? {
        let due = parse_date("dueDate", &inv.due_date)?;
        let mut tx = ctx.db.begin().await?;
        lock_customer(&mut tx, t, inv.customer_id).await?;
        let inv = settlement::refresh(&mut tx, t, inv.id, as_of, now).await?;
        if !inv.status.is_open() {
            continue;
        }
        if s.reminder_days_before > 0 && as_of >= due - Duration::days(s.reminder_days_before) && as_of <= due {
            let new = dunning::event(&mut tx, t, inv.customer_id, inv.id, 0, DunningKind::Reminder, now).await?;
            out.reminders += usize::from(new);
            if new {
                let vars = json!({"invoice_id": inv.id, "days_before": (due - as_of).num_days()});
                let key = format!("reminder:{}", inv.id);
                notify::queue(ctx, &mut tx, t, inv.customer_id, NotifyEvent::PaymentReminder, vars, &key, now).await?;
            }
        }
        if as_of > due + Duration::days(s.overdue_after_days) {
            let new = dunning::event(&mut tx, t, inv.customer_id, inv.id, 0, DunningKind::Overdue, now).await?;
            out.overdue += usize::from(new);
            if new {
                let key = format!("overdue:{}", inv.id);
                let vars = json!({"invoice_id": inv.id});
                notify::queue(ctx, &mut tx, t, inv.customer_id, NotifyEvent::InvoiceOverdue, vars, &key, now).await?;
            }
        }
        if as_of >= due + Duration::days(s.suspend_after_days) && as_of > due {
            let active =
                subscriptions::ids_of_customer(&mut tx, t, inv.customer_id, SubscriptionStatus::Active).await?;
            for sub in active {
                let reason = format!("{REASON_PREFIX} invoice {} overdue", inv.number.as_deref().unwrap_or("?"));
                let row = subscriptions::set_status(
                    &mut tx,
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
                let jobs = netjobs::for_status(&mut tx, t, &network, &row, true, "dunning suspension").await?;
                dunning::event(&mut tx, t, inv.customer_id, inv.id, sub, DunningKind::Suspended, now).await?;
                let vars = json!({"subscription_id": sub, "reason": format!("invoice {} overdue",
                    inv.number.as_deref().unwrap_or("?"))});
                let key = format!("suspended:{sub}:{}", inv.id);
                notify::queue(ctx, &mut tx, t, inv.customer_id, NotifyEvent::Suspended, vars, &key, now).await?;
                let details = json!({"from": "ACTIVE", "to": "SUSPENDED", "reason": reason, "invoiceId": inv.id,
                    "jobs": jobs.len()});
                Effects::new(ctx, actor, now)
                    .jobs(jobs)
                    .audit("subscription.status", "Subscription", Some(sub), details)
                    .event(EventKind::SubscriptionChanged, sub)
                    .write(&mut tx)
                    .await?;
                out.suspended += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(out)
}
