//! Payments: recording them with a receipt number, allocating them to invoices (oldest
//! first, or the ones the customer named), keeping the rest as customer credit that later
//! invoices consume, and refunds that can never exceed what was paid.

use super::invoices::{self, Invoice};
use super::{dunning, lock_customer, numbering, parse_date, settings, PaymentMethod};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::audit;
use crate::store::page::{self, Order, Page, PageArgs};
use crate::Ctx;
use chrono::NaiveDate;
use serde_json::json;

/// A payment received from a customer.
#[derive(Debug, Clone, FromRow)]
pub struct Payment {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Customer.
    pub customer_id: i64,
    /// How it was paid.
    pub method: PaymentMethod,
    /// Bank reference, card slip, gateway charge id.
    pub reference: Option<String>,
    /// Amount received.
    pub amount_minor: i64,
    /// Amount refunded so far.
    pub refunded_minor: i64,
    /// Receipt number.
    pub receipt_number: String,
    /// Date received.
    pub received_on: String,
    /// Recorded, Unix ms.
    pub created_at: i64,
}

/// Columns of [`Payment`].
pub const COLS: &str =
    "id, tenant_id, customer_id, method, reference, amount_minor, refunded_minor, receipt_number, received_on, created_at";

/// A part of a payment applied to an invoice.
#[derive(Debug, Clone, FromRow)]
pub struct Allocation {
    /// Payment.
    pub payment_id: i64,
    /// Invoice.
    pub invoice_id: i64,
    /// Amount applied.
    pub amount_minor: i64,
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, FromRow)]
pub struct Refund {
    /// Row id.
    pub id: i64,
    /// Payment refunded.
    pub payment_id: i64,
    /// Amount.
    pub amount_minor: i64,
    /// Why.
    pub reason: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// A payment as a client records it.
#[derive(Debug, Clone)]
pub struct NewPayment {
    /// Customer paying.
    pub customer_id: i64,
    /// Amount (> 0).
    pub amount_minor: i64,
    /// Method.
    pub method: PaymentMethod,
    /// Reference.
    pub reference: Option<String>,
    /// Date received (default today).
    pub received_on: Option<String>,
    /// Invoices to pay, in this order; None pays the oldest open invoices first.
    pub invoice_ids: Option<Vec<i64>>,
}

/// Records a payment, allocates it and reactivates a customer suspended for non-payment
/// once nothing is overdue any more.
pub async fn record(ctx: &Ctx, actor: &Actor, p: &NewPayment) -> CoreResult<Payment> {
    actor.require(Action::PaymentWrite)?;
    let mut tx = ctx.db.begin().await?;
    let pay = record_in(ctx, &mut tx, actor, p).await?;
    tx.commit().await?;
    ctx.jobs_wakeup.notify_one();
    Ok(pay)
}

/// [`record`] inside a transaction the caller commits (webhooks add their event row).
pub async fn record_in(ctx: &Ctx, tx: &mut Tx, actor: &Actor, p: &NewPayment) -> CoreResult<Payment> {
    let t = actor.tenant_id;
    if p.amount_minor <= 0 {
        return Err(CoreError::validation("amountMinor", "must be positive"));
    }
    if let Some(r) = &p.reference {
        crate::validate::text(r, 100).map_err(|m| CoreError::validation("reference", m))?;
    }
    let today = super::tenant_today_in(ctx, tx, t).await?;
    let received = match &p.received_on {
        Some(d) => parse_date("receivedOn", d)?,
        None => today,
    };
    let now = ctx.now_ms();
    lock_customer(tx, t, p.customer_id).await.map_err(|_| CoreError::validation("customerId", "no such customer"))?;
    let s = settings::get_in(tx, t).await?;
    let receipt = numbering::next(tx, t, "RECEIPT", &s.receipt_template, received).await?;
    let pay = query_as::<Payment>(&format!(
        "INSERT INTO payments (tenant_id, customer_id, method, reference, amount_minor, refunded_minor, receipt_number, received_on, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) RETURNING {COLS}"
    ))
    .bind(t)
    .bind(p.customer_id)
    .bind(p.method)
    .bind(p.reference.as_deref().map(str::trim))
    .bind(p.amount_minor)
    .bind(&receipt)
    .bind(super::fmt_date(received))
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let targets: Vec<Invoice> = match &p.invoice_ids {
        Some(ids) => {
            let mut v = Vec::new();
            for id in ids {
                let inv = invoices::get_in(tx, t, *id)
                    .await
                    .map_err(|_| CoreError::validation("invoiceIds", "no such invoice"))?;
                if inv.customer_id != p.customer_id || !inv.status.is_open() {
                    return Err(CoreError::validation("invoiceIds", "must be open invoices of this customer"));
                }
                v.push(inv);
            }
            v
        }
        None => open_invoices(tx, t, p.customer_id).await?,
    };
    let mut left = p.amount_minor;
    for inv in targets {
        if left == 0 {
            break;
        }
        let take = left.min(inv.balance());
        if take > 0 {
            allocate(tx, t, pay.id, inv.id, take, today, now).await?;
            left -= take;
        }
    }
    let details = json!({"customerId": p.customer_id, "amount": p.amount_minor, "method": p.method,
        "receipt": receipt, "unallocated": left});
    audit::record(tx, actor, "payment.record", "Payment", Some(pay.id), details, now).await?;
    dunning::reactivate_if_clear(ctx, tx, actor, p.customer_id, today, now).await?;
    Ok(pay)
}

async fn open_invoices(tx: &mut Tx, t: i64, customer_id: i64) -> CoreResult<Vec<Invoice>> {
    query_as::<Invoice>(&format!(
        "SELECT {} FROM invoices WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'INVOICE' \
         AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') ORDER BY due_date, id",
        invoices::COLS
    ))
    .bind(t)
    .bind(customer_id)
    .fetch_all(&mut *tx)
    .await
}

async fn allocate(
    tx: &mut Tx,
    t: i64,
    payment: i64,
    invoice: i64,
    amount: i64,
    today: NaiveDate,
    now: i64,
) -> CoreResult<()> {
    query(ALLOCATE_SQL).bind(t).bind(payment).bind(invoice).bind(amount).bind(now).execute(&mut *tx).await?;
    invoices::refresh(tx, t, invoice, today, now).await?;
    Ok(())
}

/// Allocates (`$1` tenant) `$4` of payment `$2` to invoice `$3` at `$5`.
pub(crate) const ALLOCATE_SQL: &str =
    "INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount_minor, created_at) VALUES ($1, $2, $3, $4, $5)";

/// Unallocated, unrefunded money of each payment of (`$1` tenant) customer `$2`, oldest first.
pub(crate) const AVAILABLE_SQL: &str = "SELECT p.id, CAST(p.amount_minor - p.refunded_minor - \
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
pub(crate) fn credit_takes(mut due: i64, available: &[(i64, i64)]) -> Vec<(i64, i64)> {
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

/// Refunds `amount` of payment `id`. Money still unallocated is refunded first; beyond it,
/// the newest allocations are released, reopening their invoices.
pub async fn refund(ctx: &Ctx, actor: &Actor, id: i64, amount: i64, reason: &str) -> CoreResult<Payment> {
    actor.require(Action::PaymentWrite)?;
    crate::validate::text(reason, 500).map_err(|m| CoreError::validation("reason", m))?;
    if amount <= 0 {
        return Err(CoreError::validation("amountMinor", "must be positive"));
    }
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = super::tenant_today(ctx, t).await?;
    let mut tx = ctx.db.begin().await?;
    let p = get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, p.customer_id).await?;
    let p = get_in(&mut tx, t, id).await?;
    let refundable = p.amount_minor - p.refunded_minor;
    if amount > refundable {
        return Err(CoreError::validation(
            "amountMinor",
            format!("exceeds what can still be refunded on this payment ({refundable})"),
        ));
    }
    let allocs: Vec<(i64, i64, i64)> = query_as(
        "SELECT id, invoice_id, amount_minor FROM payment_allocations WHERE tenant_id = $1 AND payment_id = $2 ORDER BY id DESC",
    )
    .bind(t)
    .bind(id)
    .fetch_all(&mut tx)
    .await?;
    let allocated: i64 = allocs.iter().map(|a| a.2).sum();
    let mut release = amount - (refundable - allocated).max(0);
    for (alloc, invoice, amt) in allocs {
        if release <= 0 {
            break;
        }
        let take = release.min(amt);
        if take == amt {
            query("DELETE FROM payment_allocations WHERE tenant_id = $1 AND id = $2")
                .bind(t)
                .bind(alloc)
                .execute(&mut tx)
                .await?;
        } else {
            query("UPDATE payment_allocations SET amount_minor = amount_minor - $1 WHERE tenant_id = $2 AND id = $3")
                .bind(take)
                .bind(t)
                .bind(alloc)
                .execute(&mut tx)
                .await?;
        }
        invoices::refresh(&mut tx, t, invoice, today, now).await?;
        release -= take;
    }
    query(
        "INSERT INTO refunds (tenant_id, payment_id, amount_minor, reason, refunded_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t)
    .bind(id)
    .bind(amount)
    .bind(reason.trim())
    .bind(super::fmt_date(today))
    .bind(now)
        .execute(&mut tx)
        .await?;
    let p = query_as::<Payment>(&format!(
        "UPDATE payments SET refunded_minor = refunded_minor + $1 WHERE tenant_id = $2 AND id = $3 RETURNING {COLS}"
    ))
    .bind(amount)
    .bind(t)
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    let details = json!({"amount": amount, "reason": reason.trim(), "receipt": p.receipt_number});
    audit::record(&mut tx, actor, "payment.refund", "Payment", Some(id), details, now).await?;
    tx.commit().await?;
    Ok(p)
}

async fn get_in(tx: &mut Tx, t: i64, id: i64) -> CoreResult<Payment> {
    query_as::<Payment>(&format!("SELECT {COLS} FROM payments WHERE tenant_id = $1 AND id = $2"))
        .bind(t)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CoreError::NotFound("payment"))
}

/// Payment `id` of `tenant_id`.
pub async fn get(db: &Db, t: i64, id: i64) -> CoreResult<Payment> {
    query_as::<Payment>(&format!("SELECT {COLS} FROM payments WHERE tenant_id = $1 AND id = $2"))
        .bind(t)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("payment"))
}

/// A page of payments, newest first, optionally of one customer.
pub async fn list(db: &Db, t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<Page<Payment>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM payments WHERE tenant_id = "));
    sql.arg(Arg::I(t));
    if let Some(c) = customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.fetch_all::<Payment>(db).await?, plan, args))
}

/// Allocations of a payment (or, with `by_invoice`, to an invoice).
pub async fn allocations(db: &Db, t: i64, id: i64, by_invoice: bool) -> CoreResult<Vec<Allocation>> {
    let col = if by_invoice { "invoice_id" } else { "payment_id" };
    query_as::<Allocation>(&format!(
        "SELECT payment_id, invoice_id, amount_minor FROM payment_allocations WHERE tenant_id = $1 AND {col} = $2 ORDER BY id"
    ))
    .bind(t)
    .bind(id)
    .fetch_all(db)
    .await
}

/// Refunds of a payment.
pub async fn refunds(db: &Db, t: i64, payment_id: i64) -> CoreResult<Vec<Refund>> {
    query_as::<Refund>(
        "SELECT id, payment_id, amount_minor, reason, created_at FROM refunds WHERE tenant_id = $1 AND payment_id = $2 ORDER BY id",
    )
    .bind(t)
    .bind(payment_id)
    .fetch_all(db)
    .await
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
