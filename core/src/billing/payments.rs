//! Payments: receiving them with a receipt number, allocating them to invoices (oldest
//! first, or the ones the customer named), keeping the rest as customer credit that later
//! invoices consume (see [`super::settlement`]), and the rows of refunds. The use cases that
//! record and refund payments are in `crate::workflows::payments`.

use super::invoices::{self, Invoice};
use super::{lock_customer, numbering, parse_date, settings, settlement, PaymentMethod};
use crate::auth::Actor;
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::notify;
use crate::store::notifications::NotifyEvent;
use crate::store::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::validate::{self, Sign};
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
    /// Amount (> 0, at most [`validate::MAX_AMOUNT_MINOR`]).
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

/// Receives payment `p` inside the caller's transaction: checks it, numbers its receipt,
/// allocates it (to the invoices it names, or oldest first; the rest stays as credit),
/// audits it, and reactivates what dunning suspended once nothing is overdue
/// ([`settlement::reactivate_if_clear`]). Staff recording and gateway webhooks both receive
/// payments through here.
pub async fn receive(ctx: &Ctx, tx: &mut Tx, actor: &Actor, p: &NewPayment) -> CoreResult<Payment> {
    let t = actor.tenant_id;
    validate::amount(p.amount_minor, Sign::Positive).map_err(|m| CoreError::validation("amountMinor", m))?;
    if let Some(r) = &p.reference {
        validate::text(r, 100).map_err(|m| CoreError::validation("reference", m))?;
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
            settlement::allocate(tx, t, pay.id, inv.id, take, today, now).await?;
            left -= take;
        }
    }
    let details = json!({"customerId": p.customer_id, "amount": p.amount_minor, "method": p.method,
        "receipt": receipt, "unallocated": left});
    Effects::new(ctx, actor, now)
        .audit("payment.record", "Payment", Some(pay.id), details)
        .event(EventKind::PaymentReceived, pay.id)
        .write(tx)
        .await?;
    // The receipt goes out with the payment or not at all.
    let key = format!("payment:{}", pay.id);
    notify::queue(ctx, tx, t, p.customer_id, NotifyEvent::PaymentReceived, json!({"payment_id": pay.id}), &key, now)
        .await?;
    settlement::reactivate_if_clear(ctx, tx, actor, p.customer_id, today, now).await?;
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

/// The allocations of payment `id`, newest first: (allocation, invoice, amount).
pub async fn allocations_newest_first(tx: &mut Tx, t: i64, id: i64) -> CoreResult<Vec<(i64, i64, i64)>> {
    query_as(
        "SELECT id, invoice_id, amount_minor FROM payment_allocations WHERE tenant_id = $1 AND payment_id = $2 ORDER BY id DESC",
    )
    .bind(t)
    .bind(id)
    .fetch_all(tx)
    .await
}

/// Takes `take` back from allocation `alloc` of amount `amount` (deleting it when it is all).
pub async fn release_allocation(tx: &mut Tx, t: i64, alloc: i64, amount: i64, take: i64) -> CoreResult<()> {
    if take == amount {
        query("DELETE FROM payment_allocations WHERE tenant_id = $1 AND id = $2")
            .bind(t)
            .bind(alloc)
            .execute(tx)
            .await?;
    } else {
        query("UPDATE payment_allocations SET amount_minor = amount_minor - $1 WHERE tenant_id = $2 AND id = $3")
            .bind(take)
            .bind(t)
            .bind(alloc)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Records a refund of `amount` of payment `id` on `day` and returns the payment after it.
pub async fn insert_refund(
    tx: &mut Tx,
    t: i64,
    id: i64,
    amount: i64,
    reason: &str,
    day: NaiveDate,
    now: i64,
) -> CoreResult<Payment> {
    query(
        "INSERT INTO refunds (tenant_id, payment_id, amount_minor, reason, refunded_on, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t)
    .bind(id)
    .bind(amount)
    .bind(reason)
    .bind(super::fmt_date(day))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    query_as::<Payment>(&format!(
        "UPDATE payments SET refunded_minor = refunded_minor + $1 WHERE tenant_id = $2 AND id = $3 RETURNING {COLS}"
    ))
    .bind(amount)
    .bind(t)
    .bind(id)
    .fetch_one(tx)
    .await
}

/// Payment `id` inside a transaction.
pub async fn get_in(tx: &mut Tx, t: i64, id: i64) -> CoreResult<Payment> {
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

/// Appends ` FROM payments WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, t: i64, customer_id: Option<i64>) {
    sql.push(" FROM payments WHERE tenant_id = ");
    sql.arg(t);
    if let Some(c) = customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
}

/// The statement of a page of payments, newest first, optionally of one customer.
pub fn list_sql(t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, t, customer_id);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of payments, newest first, optionally of one customer.
pub async fn list(db: &Db, t: i64, customer_id: Option<i64>, args: &PageArgs) -> CoreResult<Page<Payment>> {
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

/// Allocations of the given payments (or, with `by_invoice`, to the given invoices), in order.
pub async fn allocations(db: &Db, t: i64, ids: &[i64], by_invoice: bool) -> CoreResult<Vec<Allocation>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    allocations_sql(t, ids, by_invoice).fetch_all::<Allocation>(db).await
}

/// The statement of [`allocations`].
pub fn allocations_sql(t: i64, ids: &[i64], by_invoice: bool) -> Sql<'static> {
    let col = if by_invoice { "invoice_id" } else { "payment_id" };
    let mut sql = Sql::new("SELECT payment_id, invoice_id, amount_minor FROM payment_allocations WHERE tenant_id = ");
    sql.arg(Arg::I(t)).push(&format!(" AND {col} IN ")).in_list(ids).push(" ORDER BY id");
    sql
}

/// Refunds of the given payments, in order.
pub async fn refunds(db: &Db, t: i64, payment_ids: &[i64]) -> CoreResult<Vec<Refund>> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    refunds_sql(t, payment_ids).fetch_all::<Refund>(db).await
}

/// The statement of [`refunds`].
pub fn refunds_sql(t: i64, payment_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new("SELECT id, payment_id, amount_minor, reason, created_at FROM refunds WHERE tenant_id = ");
    sql.arg(Arg::I(t)).push(" AND payment_id IN ").in_list(payment_ids).push(" ORDER BY id");
    sql
}
