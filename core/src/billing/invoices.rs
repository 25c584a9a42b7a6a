//! Invoices and credit notes: reading them, settling their status from allocations, and
//! voiding (which issues a credit note and frees the payments allocated to the invoice).

use super::settings;
use super::{fmt_date, lock_customer, numbering, InvoiceKind, InvoiceStatus, LineKind};
use crate::auth::{Action, Actor};
use crate::db::{Db, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::page::{self, Order, Page, PageArgs};
use crate::store::{audit, Arg, Sql};
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

/// An invoice or credit note.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Invoice {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Invoice or credit note.
    pub kind: InvoiceKind,
    /// Document number (None while a draft).
    pub number: Option<String>,
    /// Status.
    pub status: InvoiceStatus,
    /// Issue date.
    pub issue_date: String,
    /// Due date.
    pub due_date: String,
    /// Sum of line nets.
    pub subtotal_minor: i64,
    /// Sum of line taxes.
    pub tax_minor: i64,
    /// Sum of line totals.
    pub total_minor: i64,
    /// Allocated payments.
    pub paid_minor: i64,
    /// For a credit note: the invoice it reverses.
    pub original_invoice_id: Option<i64>,
    /// Why it was voided.
    pub void_reason: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

impl Invoice {
    /// What is still owed on it.
    pub fn balance(&self) -> i64 {
        if self.kind == InvoiceKind::Invoice && self.status.is_open() {
            self.total_minor - self.paid_minor
        } else {
            0
        }
    }
}

/// A line of an invoice.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvoiceLine {
    /// Row id.
    pub id: i64,
    /// Invoice.
    pub invoice_id: i64,
    /// What it bills.
    pub kind: LineKind,
    /// Subscription.
    pub subscription_id: Option<i64>,
    /// Plan.
    pub plan_id: Option<i64>,
    /// Text.
    pub description: String,
    /// First day of the billed cycle.
    pub period_start: Option<String>,
    /// Last day of the billed cycle.
    pub period_end: Option<String>,
    /// Before tax.
    pub net_minor: i64,
    /// Tax.
    pub tax_minor: i64,
    /// Total.
    pub total_minor: i64,
    /// Tax rate in basis points.
    pub tax_rate_bp: i64,
    /// 1 when the tax was included in the price.
    pub tax_inclusive: i64,
}

/// Columns of [`Invoice`].
pub const COLS: &str =
    "id, tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
    total_minor, paid_minor, original_invoice_id, void_reason, created_at, updated_at";

/// Invoice `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Invoice> {
    sqlx::query_as::<_, Invoice>(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db.x())
        .await?
        .ok_or(CoreError::NotFound("invoice"))
}

/// Invoice `id` inside a transaction.
pub async fn get_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Invoice> {
    sqlx::query_as::<_, Invoice>(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(tx.x())
        .await?
        .ok_or(CoreError::NotFound("invoice"))
}

/// Lines of the given invoices, in order.
pub async fn lines(db: &Db, tenant_id: i64, invoice_ids: &[i64]) -> CoreResult<Vec<InvoiceLine>> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(
        "SELECT id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, net_minor, tax_minor, \
         total_minor, tax_rate_bp, tax_inclusive FROM invoice_lines WHERE tenant_id = ",
    );
    sql.arg(Arg::I(tenant_id)).push(" AND invoice_id IN ").in_list(invoice_ids).push(" ORDER BY id");
    Ok(sql.query_as::<InvoiceLine>().fetch_all(db.x()).await?)
}

/// Filters for invoice lists.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only this customer.
    pub customer_id: Option<i64>,
    /// Only these statuses.
    pub status: Option<Vec<InvoiceStatus>>,
    /// Only this kind.
    pub kind: Option<InvoiceKind>,
}

/// A page of the tenant's invoices, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &InvoiceFilter, args: &PageArgs) -> CoreResult<Page<Invoice>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id));
    if let Some(c) = f.customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
    if let Some(k) = f.kind {
        sql.push(" AND kind = ").arg(Arg::T(k.as_str().into()));
    }
    if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
        sql.push(" AND status IN (");
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(Arg::T(s.as_str().into()));
        }
        sql.push(")");
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.query_as::<Invoice>().fetch_all(db.x()).await?, plan, args))
}

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

/// Recomputes `paid_minor` and the status of invoice `id` from its allocations.
pub async fn refresh(tx: &mut Tx, tenant_id: i64, id: i64, today: NaiveDate, now: i64) -> CoreResult<Invoice> {
    let inv = get_in(tx, tenant_id, id).await?;
    if inv.kind != InvoiceKind::Invoice || matches!(inv.status, InvoiceStatus::Void | InvoiceStatus::Draft) {
        return Ok(inv);
    }
    let (paid,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.x())
    .await?;
    let s = settings::get_in(tx, tenant_id).await?;
    let due = super::parse_date("dueDate", &inv.due_date)?;
    let status = settle(inv.total_minor, paid, due, s.overdue_after_days, today);
    Ok(sqlx::query_as::<_, Invoice>(&format!(
        "UPDATE invoices SET paid_minor = $1, status = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5 RETURNING {COLS}"
    ))
    .bind(paid)
    .bind(status)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx.x())
    .await?)
}

/// Voids invoice `id`: issues a credit note reversing every line, releases the payments
/// allocated to it as customer credit, and lifts a dunning suspension when nothing is overdue
/// any more. The billed cycles stay billed. Returns (voided invoice, credit note).
pub async fn void(ctx: &Ctx, actor: &Actor, id: i64, reason: &str) -> CoreResult<(Invoice, Invoice)> {
    actor.require(Action::BillingRun)?;
    crate::validate::text(reason, 500).map_err(|m| CoreError::validation("reason", m))?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = ctx.clock.now().date_naive();
    let mut tx = ctx.db.begin().await?;
    let cur = get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, cur.customer_id).await?;
    let cur = get_in(&mut tx, t, id).await?;
    if cur.kind != InvoiceKind::Invoice {
        return Err(CoreError::conflict("id", "a credit note cannot be voided"));
    }
    if cur.status == InvoiceStatus::Void {
        return Err(CoreError::conflict("id", "the invoice is already void"));
    }
    let s = settings::get_in(&mut tx, t).await?;
    let number = numbering::next(&mut tx, t, "CREDIT_NOTE", &s.credit_note_template, today).await?;
    let (cn,): (i64,) = sqlx::query_as(
        "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
         total_minor, paid_minor, original_invoice_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 0, $10, $11, $11) RETURNING id",
    )
    .bind(t)
    .bind(cur.customer_id)
    .bind(InvoiceKind::CreditNote)
    .bind(&number)
    .bind(InvoiceStatus::Issued)
    .bind(fmt_date(today))
    .bind(-cur.subtotal_minor)
    .bind(-cur.tax_minor)
    .bind(-cur.total_minor)
    .bind(id)
    .bind(now)
    .fetch_one(tx.x())
    .await?;
    sqlx::query(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, \
         net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) \
         SELECT tenant_id, $1, kind, subscription_id, plan_id, description, period_start, period_end, -net_minor, -tax_minor, \
         -total_minor, tax_rate_bp, tax_inclusive FROM invoice_lines WHERE tenant_id = $2 AND invoice_id = $3 ORDER BY id",
    )
    .bind(cn)
    .bind(t)
    .bind(id)
    .execute(tx.x())
    .await?;
    let released = sqlx::query("DELETE FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2")
        .bind(t)
        .bind(id)
        .execute(tx.x())
        .await?
        .rows_affected();
    sqlx::query("UPDATE invoices SET status = $1, void_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
        .bind(InvoiceStatus::Void)
        .bind(reason.trim())
        .bind(now)
        .bind(t)
        .bind(id)
        .execute(tx.x())
        .await?;
    let details =
        json!({"number": cur.number, "creditNote": number, "reason": reason.trim(), "releasedAllocations": released});
    audit::record(&mut tx, actor, "invoice.void", "Invoice", Some(id), details, now).await?;
    // Voiding the last overdue invoice lifts a dunning suspension like a payment would.
    super::dunning::reactivate_if_clear(ctx, &mut tx, actor, cur.customer_id, today, now).await?;
    let voided = get_in(&mut tx, t, id).await?;
    let note = get_in(&mut tx, t, cn).await?;
    tx.commit().await?;
    ctx.jobs_wakeup.notify_one();
    Ok((voided, note))
}

#[cfg(test)]
mod tests {
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
