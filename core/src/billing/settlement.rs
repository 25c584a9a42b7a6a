//! Settlement: how received money meets what is owed. An invoice's paid amount and status
//! follow from its allocations ([`refresh`], [`settle`]); a new invoice is paid from the
//! customer's credit first ([`apply_credit`]); and once nothing is overdue any more, the
//! subscriptions dunning suspended are resumed ([`reactivate_if_clear`]). Recording a
//! payment, voiding or issuing invoices and dunning all settle through here, so none of those
//! use cases calls another.

use super::dunning::{self, DunningKind, REASON_PREFIX};
use super::invoices::{self, Invoice};
use super::{fmt_date, settings, InvoiceKind, InvoiceStatus};
use crate::auth::Actor;
use crate::db::{query, query_as, Tx};
use crate::effects::Effects;
use crate::error::CoreResult;
use crate::events::EventKind;
use crate::netjobs;
use crate::notify;
use crate::store::notifications::NotifyEvent;
use crate::store::subscription_history;
use crate::store::subscriptions::{self, SubscriptionStatus};
use crate::store::tenants;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

/// The status an invoice with `total` and `paid` has on `today`.
pub fn settle(total: i64, paid: i64, due: NaiveDate, overdue_after_days: i64, today: NaiveDate) -> InvoiceStatus {
    if paid >= total {
        InvoiceStatus::Paid
    } else if today > due + Duration::days(overdue_after_days) {
        InvoiceStatus::Overdue
    } else if paid > 0 {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Issued
    }
}

/// Sets (`$4` tenant) invoice `$5`'s paid amount `$1`, status `$2` and `updated_at` `$3`.
pub const SETTLE_SQL: &str =
    "UPDATE invoices SET paid_minor = $1, status = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5";

/// Recomputes `paid_minor` and the status of invoice `id` from its allocations.
pub async fn refresh(tx: &mut Tx, tenant_id: i64, id: i64, today: NaiveDate, now: i64) -> CoreResult<Invoice> {
    let inv = invoices::get_in(tx, tenant_id, id).await?;
    if inv.kind != InvoiceKind::Invoice || matches!(inv.status, InvoiceStatus::Void | InvoiceStatus::Draft) {
        return Ok(inv);
    }
    let (paid,): (i64,) = query_as(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let s = settings::get_in(tx, tenant_id).await?;
    let due = super::parse_date("dueDate", &inv.due_date)?;
    let status = settle(inv.total_minor, paid, due, s.overdue_after_days, today);
    query_as::<Invoice>(&format!("{SETTLE_SQL} RETURNING {}", invoices::COLS))
        .bind(paid)
        .bind(status)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
}

/// [`refresh`] for many open invoices of one tenant at once (a dunning chunk), in `tx` after
/// their customers are locked: their paid amounts in one statement, and an UPDATE only for
/// those whose paid amount or status changes. `invs` are the invoices as read in `tx`;
/// returns them as they now are, in the same order.
pub async fn refresh_many(
    tx: &mut Tx,
    tenant_id: i64,
    invs: Vec<Invoice>,
    overdue_after_days: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<Vec<Invoice>> {
    if invs.is_empty() {
        return Ok(invs);
    }
    let ids: Vec<i64> = invs.iter().map(|i| i.id).collect();
    let mut sql = crate::db::Sql::new(
        "SELECT invoice_id, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payment_allocations WHERE tenant_id = ",
    );
    sql.arg(tenant_id).push(" AND invoice_id IN ").in_list(&ids).push(" GROUP BY invoice_id");
    let paid: std::collections::HashMap<i64, i64> = sql.fetch_all::<(i64, i64)>(&mut *tx).await?.into_iter().collect();
    let mut out = Vec::with_capacity(invs.len());
    for mut inv in invs {
        if inv.kind != InvoiceKind::Invoice || matches!(inv.status, InvoiceStatus::Void | InvoiceStatus::Draft) {
            out.push(inv);
            continue;
        }
        let p = paid.get(&inv.id).copied().unwrap_or(0);
        let due = super::parse_date("dueDate", &inv.due_date)?;
        let status = settle(inv.total_minor, p, due, overdue_after_days, today);
        if p != inv.paid_minor || status != inv.status {
            inv = query_as::<Invoice>(&format!("{SETTLE_SQL} RETURNING {}", invoices::COLS))
                .bind(p)
                .bind(status)
                .bind(now)
                .bind(tenant_id)
                .bind(inv.id)
                .fetch_one(&mut *tx)
                .await?;
        }
        out.push(inv);
    }
    Ok(out)
}

/// Allocates `amount` of payment `payment` to invoice `invoice` and refreshes the invoice.
pub async fn allocate(
    tx: &mut Tx,
    t: i64,
    payment: i64,
    invoice: i64,
    amount: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<()> {
    query(ALLOCATE_SQL).bind(t).bind(payment).bind(invoice).bind(amount).bind(now).execute(&mut *tx).await?;
    refresh(tx, t, invoice, today, now).await?;
    Ok(())
}

/// Allocates (`$1` tenant) `$4` of payment `$2` to invoice `$3` at `$5`.
pub const ALLOCATE_SQL: &str =
    "INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount_minor, created_at) VALUES ($1, $2, $3, $4, $5)";

/// Unallocated, unrefunded money of each payment of (`$1` tenant) customer `$2`, oldest first.
pub const AVAILABLE_SQL: &str = "SELECT p.id, CAST(p.amount_minor - p.refunded_minor - \
     COALESCE((SELECT SUM(a.amount_minor) FROM payment_allocations a WHERE a.tenant_id = p.tenant_id \
     AND a.payment_id = p.id), 0) AS BIGINT) FROM payments p WHERE p.tenant_id = $1 AND p.customer_id = $2 ORDER BY p.id";

/// Unallocated, unrefunded money of each of the customer's payments, oldest first.
async fn available(tx: &mut Tx, t: i64, customer_id: i64) -> CoreResult<Vec<(i64, i64)>> {
    let rows: Vec<(i64, i64)> = query_as(AVAILABLE_SQL).bind(t).bind(customer_id).fetch_all(&mut *tx).await?;
    Ok(rows.into_iter().filter(|(_, a)| *a > 0).collect())
}

/// Pays a new invoice from the customer's credit (overpayments, released allocations).
pub async fn apply_credit(
    tx: &mut Tx,
    t: i64,
    customer_id: i64,
    invoice_id: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<()> {
    let due = invoices::get_in(tx, t, invoice_id).await?.balance();
    for (payment, take) in credit_takes(due, &available(tx, t, customer_id).await?) {
        allocate(tx, t, payment, invoice_id, take, today, now).await?;
    }
    Ok(())
}

/// How much of each payment's unallocated money (`(payment, available)`, oldest first) pays
/// `due`: oldest first, never more than is due.
pub fn credit_takes(mut due: i64, available: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let mut takes = Vec::new();
    for &(payment, avail) in available {
        if due <= 0 {
            break;
        }
        if avail <= 0 {
            continue;
        }
        let take = avail.min(due);
        takes.push((payment, take));
        due -= take;
    }
    takes
}

/// Inside a payment's (or void's) transaction: when customer `customer_id` has nothing
/// overdue any more, resumes the subscriptions dunning suspended (only those: a suspension
/// for abuse stays), with the jobs that unblock them on the network, a REACTIVATED dunning
/// event, an audit entry and a live event each. Returns how many were resumed.
pub async fn reactivate_if_clear(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<usize> {
    let t = actor.tenant_id;
    if invoices::overdue_count(&mut *tx, t, customer_id).await? > 0 {
        return Ok(0);
    }
    let subs = dunning::suspended_by_dunning(tx, t, customer_id).await?;
    if subs.is_empty() {
        return Ok(0);
    }
    let network = tenants::settings_in(tx, t).await?;
    for sub in &subs {
        let row = subscriptions::set_status(
            tx,
            t,
            *sub,
            SubscriptionStatus::Suspended,
            SubscriptionStatus::Active,
            Some(&format!("{REASON_PREFIX} paid {today}")),
            now,
        )
        .await?;
        // Changed by someone else since the SELECT: not ours to resume any more.
        let Some(row) = row else { continue };
        subscription_history::record(tx, t, *sub, &fmt_date(today), now).await?;
        let jobs = netjobs::for_status(tx, t, &network, &row, false, "dunning reactivation").await?;
        let invoice = dunning::suspending_invoice(tx, t, *sub).await?;
        dunning::event(tx, t, customer_id, invoice, *sub, DunningKind::Reactivated, now).await?;
        let key = format!("reactivated:{sub}:{invoice}");
        let vars = json!({"subscription_id": sub});
        notify::queue(ctx, tx, t, customer_id, NotifyEvent::Reactivated, vars, &key, now).await?;
        let details = json!({"from": "SUSPENDED", "to": "ACTIVE", "reason": "payment cleared the overdue balance",
            "jobs": jobs.len()});
        Effects::new(ctx, actor, now)
            .jobs(jobs)
            .audit("subscription.status", "Subscription", Some(*sub), details)
            .event(EventKind::SubscriptionChanged, *sub)
            .write(tx)
            .await?;
    }
    Ok(subs.len())
}

#[cfg(test)]
mod tests {
    use super::credit_takes;

    #[test]
    fn credit_pays_oldest_payments_first_and_never_more_than_due() {
        assert_eq!(credit_takes(500, &[(1, 200), (2, 0), (3, 400), (4, 100)]), vec![(1, 200), (3, 300)]);
        assert_eq!(credit_takes(0, &[(1, 200)]), vec![]);
        assert!(credit_takes(100, &[]).is_empty());
    }
}

#[cfg(test)]
mod settle_tests {
    use super::*;

    #[test]
    fn status_follows_payments_and_the_due_date() {
        let due = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let on = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        assert_eq!(settle(1000, 0, due, 0, due), InvoiceStatus::Issued);
        assert_eq!(settle(1000, 1, due, 0, due), InvoiceStatus::PartiallyPaid);
        assert_eq!(settle(1000, 1, due, 0, on(1)), InvoiceStatus::Overdue);
        assert_eq!(settle(1000, 0, due, 2, on(2)), InvoiceStatus::Issued);
        assert_eq!(settle(1000, 0, due, 2, on(3)), InvoiceStatus::Overdue);
        assert_eq!(settle(1000, 1000, due, 0, on(9)), InvoiceStatus::Paid);
        assert_eq!(settle(0, 0, due, 0, due), InvoiceStatus::Paid);
    }
}
