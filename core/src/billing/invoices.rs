//! Invoices and credit notes: their rows, reading them, and the writes that voiding, issuing
//! and deleting drafts are made of (the use cases are in `crate::workflows::invoices`; how
//! payments settle them is [`super::settlement`]).

use super::{fmt_date, InvoiceKind, InvoiceStatus, LineKind};
use crate::db::{query, query_as, Arg, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::page::{self, Count, ListQuery, Order, Page, PageArgs};
use chrono::NaiveDate;

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

/// The statement of [`get_many`].
pub fn get_many_sql(t: i64, ids: &[i64]) -> Sql<'static> {
    crate::store::by_ids(COLS, "invoices", t, ids)
}

/// Lines of the given invoices, in order.
pub async fn lines(db: &Db, tenant_id: i64, invoice_ids: &[i64]) -> CoreResult<Vec<InvoiceLine>> {
    if invoice_ids.is_empty() {
        return Ok(Vec::new());
    }
    lines_sql(tenant_id, invoice_ids).fetch_all::<InvoiceLine>(db).await
}

/// The statement of [`lines`].
pub fn lines_sql(tenant_id: i64, invoice_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(
        "SELECT id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, net_minor, tax_minor, \
         total_minor, tax_rate_bp, tax_inclusive FROM invoice_lines WHERE tenant_id = ",
    );
    sql.arg(Arg::I(tenant_id)).push(" AND invoice_id IN ").in_list(invoice_ids).push(" ORDER BY id");
    sql
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

/// Appends ` FROM invoices WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, f: &InvoiceFilter) {
    sql.push(" FROM invoices WHERE tenant_id = ");
    sql.arg(tenant_id);
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
        // One status reads its own range of (tenant_id, status, id), already newest first.
        // Several would each need a sort of everything they match: walk the newest-first
        // index and filter instead (an expression of the column keeps SQLite, which plans
        // without statistics, off the status index; `+` is not defined for text on PostgreSQL).
        sql.push(if list.len() == 1 { " AND status IN (" } else { " AND (status || '') IN (" });
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(*s);
        }
        sql.push(")");
    }
}

/// The statement of a page of the tenant's invoices, newest first.
pub fn list_sql(tenant_id: i64, f: &InvoiceFilter, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, Order { column: "id", integer: true, desc: true }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's invoices, newest first.
pub async fn list(db: &Db, tenant_id: i64, f: &InvoiceFilter, args: &PageArgs) -> CoreResult<Page<Invoice>> {
    list_sql(tenant_id, f, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, f: &InvoiceFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, f);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &InvoiceFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, f)?).await
}

/// How many overdue invoices customer `customer_id` has.
pub async fn overdue_count(ex: impl Executor, t: i64, customer_id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as(
        "SELECT COUNT(*) FROM invoices WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'INVOICE' AND status = 'OVERDUE'",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// The open invoices of every customer of the tenant, by customer, due date and id (what
/// dunning walks).
pub async fn open(db: &Db, t: i64) -> CoreResult<Vec<Invoice>> {
    query_as::<Invoice>(&format!(
        "SELECT {COLS} FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') \
         ORDER BY customer_id, due_date, id"
    ))
    .bind(t)
    .fetch_all(db)
    .await
}

/// Up to `limit` invoices (kind INVOICE) of tenant `t` in `status` due on or before `due_by`
/// (`YYYY-MM-DD`), after position `after` (due date, id) in (due date, id) order: one chunk
/// of a background pass, read from the `(tenant_id, status, due_date)` index.
pub async fn due_chunk(
    ex: impl Executor,
    t: i64,
    status: InvoiceStatus,
    due_by: &str,
    after: Option<(&str, i64)>,
    limit: i64,
) -> CoreResult<Vec<Invoice>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM invoices WHERE tenant_id = "));
    sql.arg(t).push(" AND status = ").arg(status).push(" AND due_date <= ").arg(due_by.to_string());
    if let Some((due, id)) = after {
        sql.push(" AND (due_date, id) > (").arg(due.to_string()).push(", ").arg(id).push(")");
    }
    sql.push(" AND kind = 'INVOICE' ORDER BY due_date, id LIMIT ").arg(limit);
    sql.fetch_all(ex).await
}

/// Writes a credit note reversing invoice `cur` (its totals negated, lines copied negated),
/// numbered `number` and dated `day`; returns its id.
pub async fn insert_credit_note(tx: &mut Tx, cur: &Invoice, number: &str, day: NaiveDate, now: i64) -> CoreResult<i64> {
    let (cn,): (i64,) = query_as(
        "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
         total_minor, paid_minor, original_invoice_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, 0, $10, $11, $11) RETURNING id",
    )
    .bind(cur.tenant_id)
    .bind(cur.customer_id)
    .bind(InvoiceKind::CreditNote)
    .bind(number)
    .bind(InvoiceStatus::Issued)
    .bind(fmt_date(day))
    .bind(-cur.subtotal_minor)
    .bind(-cur.tax_minor)
    .bind(-cur.total_minor)
    .bind(cur.id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    query(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, \
         net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) \
         SELECT tenant_id, $1, kind, subscription_id, plan_id, description, period_start, period_end, -net_minor, -tax_minor, \
         -total_minor, tax_rate_bp, tax_inclusive FROM invoice_lines WHERE tenant_id = $2 AND invoice_id = $3 ORDER BY id",
    )
    .bind(cn)
    .bind(cur.tenant_id)
    .bind(cur.id)
    .execute(tx)
    .await?;
    Ok(cn)
}

/// Removes every payment allocation to invoice `id` (the money becomes customer credit);
/// returns how many there were.
pub async fn release_allocations(tx: &mut Tx, t: i64, id: i64) -> CoreResult<u64> {
    query("DELETE FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2").bind(t).bind(id).execute(tx).await
}

/// Marks invoice `id` VOID with `reason`.
pub async fn set_void(tx: &mut Tx, t: i64, id: i64, reason: &str, now: i64) -> CoreResult<()> {
    query("UPDATE invoices SET status = $1, void_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
        .bind(InvoiceStatus::Void)
        .bind(reason)
        .bind(now)
        .bind(t)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Issues draft `id`: its number, status, issue and due dates.
#[allow(clippy::too_many_arguments)]
pub async fn issue_draft(
    tx: &mut Tx,
    t: i64,
    id: i64,
    number: &str,
    status: InvoiceStatus,
    issued: NaiveDate,
    due: NaiveDate,
    now: i64,
) -> CoreResult<()> {
    query(
        "UPDATE invoices SET number = $1, status = $2, issue_date = $3, due_date = $4, updated_at = $5 \
         WHERE tenant_id = $6 AND id = $7 AND status = 'DRAFT'",
    )
    .bind(number)
    .bind(status)
    .bind(fmt_date(issued))
    .bind(fmt_date(due))
    .bind(now)
    .bind(t)
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes draft `id` with its lines, giving its cycles and charges back to billing; returns
/// (cycles released, charges released).
pub async fn delete_draft_rows(tx: &mut Tx, t: i64, id: i64) -> CoreResult<(u64, u64)> {
    let mut released = [0_u64; 2];
    for (i, q) in [
        "DELETE FROM billed_periods WHERE tenant_id = $1 AND invoice_id = $2",
        "UPDATE charges SET invoice_id = NULL WHERE tenant_id = $1 AND invoice_id = $2",
    ]
    .into_iter()
    .enumerate()
    {
        released[i] = query(q).bind(t).bind(id).execute(&mut *tx).await?;
    }
    for q in [
        "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2",
        "DELETE FROM invoices WHERE tenant_id = $1 AND id = $2 AND status = 'DRAFT'",
    ] {
        query(q).bind(t).bind(id).execute(&mut *tx).await?;
    }
    Ok((released[0], released[1]))
}

/// Most drafts one call issues.
pub const MAX_ISSUE: usize = 1000;

/// Invoices `ids` of the tenant in the order given; NOT_FOUND when one is missing.
pub async fn get_many(tx: &mut Tx, t: i64, ids: &[i64]) -> CoreResult<Vec<Invoice>> {
    let rows = get_many_sql(t, ids).fetch_all::<Invoice>(&mut *tx).await?;
    ids.iter().map(|id| rows.iter().find(|r| r.id == *id).cloned().ok_or(CoreError::NotFound("invoice"))).collect()
}
