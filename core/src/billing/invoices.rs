//! Invoices and credit notes: reading them, settling their status from allocations, and
//! voiding (which issues a credit note and frees the payments allocated to the invoice).

use super::settings;
use super::{fmt_date, lock_customer, numbering, InvoiceKind, InvoiceStatus, LineKind};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::audit;
use crate::store::page::{self, Order, Page, PageArgs};
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;

/// An invoice or credit note.
#[derive(Debug, Clone, FromRow)]
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
#[derive(Debug, Clone, FromRow)]
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
    query_as::<Invoice>(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("invoice"))
}

/// Invoice `id` inside a transaction.
pub async fn get_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Invoice> {
    query_as::<Invoice>(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
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
    sql.fetch_all::<InvoiceLine>(db).await
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
    /// Only the invoices this billing run created.
    pub billing_run_id: Option<i64>,
}

/// A page of the tenant's invoices, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &InvoiceFilter, args: &PageArgs) -> CoreResult<Page<Invoice>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id));
    if let Some(c) = f.customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
    if let Some(k) = f.kind {
        sql.push(" AND kind = ").arg(k);
    }
    if let Some(r) = f.billing_run_id {
        sql.push(" AND billing_run_id = ").arg(Arg::I(r));
    }
    if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
        sql.push(" AND status IN (");
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(*s);
        }
        sql.push(")");
    }
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(page::finish(sql.fetch_all::<Invoice>(db).await?, plan, args))
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

/// Sets (`$4` tenant) invoice `$5`'s paid amount `$1`, status `$2` and `updated_at` `$3`.
pub(crate) const SETTLE_SQL: &str =
    "UPDATE invoices SET paid_minor = $1, status = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5";

/// Recomputes `paid_minor` and the status of invoice `id` from its allocations.
pub async fn refresh(tx: &mut Tx, tenant_id: i64, id: i64, today: NaiveDate, now: i64) -> CoreResult<Invoice> {
    let inv = get_in(tx, tenant_id, id).await?;
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
    query_as::<Invoice>(&format!("{SETTLE_SQL} RETURNING {COLS}"))
        .bind(paid)
        .bind(status)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await
}

/// Voids invoice `id`: issues a credit note reversing every line, releases the payments
/// allocated to it as customer credit, and lifts a dunning suspension when nothing is overdue
/// any more. A draft was never sent, so it simply becomes VOID, with no number and no credit
/// note. The billed cycles stay billed either way. Returns (voided invoice, credit note).
pub async fn void(ctx: &Ctx, actor: &Actor, id: i64, reason: &str) -> CoreResult<(Invoice, Option<Invoice>)> {
    actor.require(Action::BillingRun)?;
    crate::validate::text(reason, 500).map_err(|m| CoreError::validation("reason", m))?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = super::tenant_today(ctx, t).await?;
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
    if cur.status == InvoiceStatus::Draft {
        set_void(&mut tx, t, id, reason, now).await?;
        let details = json!({"number": null, "draft": true, "creditNote": null, "reason": reason.trim()});
        audit::record(&mut tx, actor, "invoice.void", "Invoice", Some(id), details, now).await?;
        let voided = get_in(&mut tx, t, id).await?;
        tx.commit().await?;
        return Ok((voided, None));
    }
    let s = settings::get_in(&mut tx, t).await?;
    let number = numbering::next(&mut tx, t, "CREDIT_NOTE", &s.credit_note_template, today).await?;
    let (cn,): (i64,) = query_as(
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
    .fetch_one(&mut tx)
    .await?;
    query(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, \
         net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) \
         SELECT tenant_id, $1, kind, subscription_id, plan_id, description, period_start, period_end, -net_minor, -tax_minor, \
         -total_minor, tax_rate_bp, tax_inclusive FROM invoice_lines WHERE tenant_id = $2 AND invoice_id = $3 ORDER BY id",
    )
    .bind(cn)
    .bind(t)
    .bind(id)
    .execute(&mut tx)
    .await?;
    let released = query("DELETE FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2")
        .bind(t)
        .bind(id)
        .execute(&mut tx)
        .await?;
    set_void(&mut tx, t, id, reason, now).await?;
    let details =
        json!({"number": cur.number, "creditNote": number, "reason": reason.trim(), "releasedAllocations": released});
    audit::record(&mut tx, actor, "invoice.void", "Invoice", Some(id), details, now).await?;
    // Voiding the last overdue invoice lifts a dunning suspension like a payment would.
    super::dunning::reactivate_if_clear(ctx, &mut tx, actor, cur.customer_id, today, now).await?;
    let voided = get_in(&mut tx, t, id).await?;
    let note = get_in(&mut tx, t, cn).await?;
    tx.commit().await?;
    ctx.jobs_wakeup.notify_one();
    Ok((voided, Some(note)))
}

async fn set_void(tx: &mut Tx, t: i64, id: i64, reason: &str, now: i64) -> CoreResult<()> {
    query("UPDATE invoices SET status = $1, void_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
        .bind(InvoiceStatus::Void)
        .bind(reason.trim())
        .bind(now)
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Most drafts one call issues.
pub const MAX_ISSUE: usize = 1000;

/// Issues draft invoices `ids`, all or none: numbers them from the gapless sequence in the
/// order given, dates them today with the tenant's payment terms, pays them from customer
/// credit like a run's invoices, and records `invoice.issue`. From then on they count in
/// balances, receivables, dunning and reports. Returns them in the order given.
pub async fn issue(ctx: &Ctx, actor: &Actor, ids: &[i64]) -> CoreResult<Vec<Invoice>> {
    actor.require(Action::BillingRun)?;
    if ids.is_empty() || ids.len() > MAX_ISSUE {
        return Err(CoreError::validation("ids", format!("must name 1-{MAX_ISSUE} invoices")));
    }
    let mut unique = ids.to_vec();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != ids.len() {
        return Err(CoreError::validation("ids", "must not name an invoice twice"));
    }
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let today = super::tenant_today(ctx, t).await?;
    let mut tx = ctx.db.begin().await?;
    let drafts = get_many(&mut tx, t, ids).await?;
    let mut customers: Vec<i64> = drafts.iter().map(|i| i.customer_id).collect();
    customers.sort_unstable();
    customers.dedup();
    super::lock_customers(ctx.db.backend(), &mut tx, t, &customers).await?;
    let drafts = get_many(&mut tx, t, ids).await?;
    if let Some(bad) = drafts.iter().find(|i| i.status != InvoiceStatus::Draft) {
        let what = bad.number.as_deref().unwrap_or("an invoice");
        return Err(CoreError::conflict("ids", format!("{what} is {}; only drafts can be issued", bad.status)));
    }
    let s = settings::get_in(&mut tx, t).await?;
    let first = numbering::reserve(&mut tx, t, "INVOICE", &s.invoice_template, today, ids.len() as i64).await?;
    let due = today + Duration::days(s.payment_terms_days);
    for (i, inv) in drafts.iter().enumerate() {
        let number = numbering::render(&s.invoice_template, today, first + i as i64);
        let status = if inv.total_minor <= 0 { InvoiceStatus::Paid } else { InvoiceStatus::Issued };
        query(
            "UPDATE invoices SET number = $1, status = $2, issue_date = $3, due_date = $4, updated_at = $5 \
             WHERE tenant_id = $6 AND id = $7 AND status = 'DRAFT'",
        )
        .bind(&number)
        .bind(status)
        .bind(fmt_date(today))
        .bind(fmt_date(due))
        .bind(now)
        .bind(t)
        .bind(inv.id)
        .execute(&mut tx)
        .await?;
        let details = json!({"number": number, "total": inv.total_minor, "dueDate": fmt_date(due)});
        audit::record(&mut tx, actor, "invoice.issue", "Invoice", Some(inv.id), details, now).await?;
    }
    let owing: Vec<i64> = drafts.iter().filter(|i| i.total_minor > 0).map(|i| i.customer_id).collect();
    let with_credit = super::customers_with_credit(&mut tx, ctx.db.backend(), t, &owing).await?;
    for inv in drafts.iter().filter(|i| i.total_minor > 0 && with_credit.contains(&i.customer_id)) {
        super::payments::apply_credit(&mut tx, t, inv.customer_id, inv.id, today, now).await?;
    }
    let issued = get_many(&mut tx, t, ids).await?;
    tx.commit().await?;
    Ok(issued)
}

/// Invoices `ids` of the tenant in the order given; NOT_FOUND when one is missing.
async fn get_many(tx: &mut Tx, t: i64, ids: &[i64]) -> CoreResult<Vec<Invoice>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = "));
    sql.arg(Arg::I(t)).push(" AND id IN ").in_list(ids);
    let rows = sql.fetch_all::<Invoice>(&mut *tx).await?;
    ids.iter().map(|id| rows.iter().find(|r| r.id == *id).cloned().ok_or(CoreError::NotFound("invoice"))).collect()
}

/// Deletes draft invoice `id` with its lines and gives its cycles and charges back to billing,
/// so the next run bills them again (after a price or plan was corrected, say). Only drafts:
/// an issued invoice is voided, which leaves a credit note.
pub async fn delete_draft(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<()> {
    actor.require(Action::BillingRun)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = get_in(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, cur.customer_id).await?;
    let cur = get_in(&mut tx, t, id).await?;
    if cur.status != InvoiceStatus::Draft {
        return Err(CoreError::conflict("id", format!("the invoice is {}; only a draft can be deleted", cur.status)));
    }
    let mut released = [0_u64; 2];
    for (i, q) in [
        "DELETE FROM billed_periods WHERE tenant_id = $1 AND invoice_id = $2",
        "UPDATE charges SET invoice_id = NULL WHERE tenant_id = $1 AND invoice_id = $2",
    ]
    .into_iter()
    .enumerate()
    {
        released[i] = query(q).bind(t).bind(id).execute(&mut tx).await?;
    }
    for q in [
        "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2",
        "DELETE FROM invoices WHERE tenant_id = $1 AND id = $2 AND status = 'DRAFT'",
    ] {
        query(q).bind(t).bind(id).execute(&mut tx).await?;
    }
    let details = json!({"customerId": cur.customer_id, "total": cur.total_minor, "releasedCycles": released[0],
        "releasedCharges": released[1]});
    audit::record(&mut tx, actor, "invoice.delete", "Invoice", Some(id), details, now).await?;
    tx.commit().await?;
    Ok(())
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
