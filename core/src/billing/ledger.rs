//! The customer's account: balance, credit, and a statement of invoices, credit notes,
//! payments and refunds with a running balance (positive: the customer owes). Sums are exact:
//! the running balance is kept in i128, and a figure that would not fit i64 is an error, never
//! a wrapped number.

use super::minor_from_wide;
use crate::db::{query_as, Db, FromRow};
use crate::error::CoreResult;
use crate::text_enum;

text_enum!(
    /// What a statement entry is.
    LedgerKind, "kind" {
        /// An invoice (debit).
        Invoice = "INVOICE",
        /// A credit note (credit).
        CreditNote = "CREDIT_NOTE",
        /// A payment (credit).
        Payment = "PAYMENT",
        /// A refund (debit).
        Refund = "REFUND",
    }
);

/// One line of a statement.
#[derive(Debug, Clone, FromRow)]
pub struct LedgerEntry {
    /// Date, `YYYY-MM-DD`.
    pub date: String,
    /// Kind.
    pub kind: LedgerKind,
    /// Id of the invoice, credit note, payment or refund.
    pub object_id: i64,
    /// Document number (invoice, credit note or receipt).
    pub number: Option<String>,
    /// Signed amount: positive raises what the customer owes.
    pub amount_minor: i64,
    /// Balance after this entry.
    #[row(default)]
    pub balance_minor: i64,
}

/// Where a customer's account stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balance {
    /// What the customer owes overall (negative: in credit).
    pub balance_minor: i64,
    /// Still owed on open invoices.
    pub outstanding_minor: i64,
    /// Of which overdue.
    pub overdue_minor: i64,
    /// Payments not yet allocated to any invoice.
    pub credit_minor: i64,
    /// Charges and credits waiting for the next invoice.
    pub pending_charges_minor: i64,
}

/// The customer's statement, oldest first, with running balances.
pub async fn statement(db: &Db, t: i64, customer_id: i64) -> CoreResult<Vec<LedgerEntry>> {
    let mut rows = query_as::<LedgerEntry>(
        "SELECT date, kind, object_id, number, amount_minor FROM ( \
           SELECT issue_date AS date, kind, id AS object_id, number, total_minor AS amount_minor, created_at AS at FROM invoices \
             WHERE tenant_id = $1 AND customer_id = $2 AND status <> 'DRAFT' \
           UNION ALL SELECT received_on, 'PAYMENT', id, receipt_number, -amount_minor, created_at FROM payments \
             WHERE tenant_id = $1 AND customer_id = $2 \
           UNION ALL SELECT r.refunded_on, 'REFUND', r.id, p.receipt_number, r.amount_minor, r.created_at FROM refunds r \
             JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id WHERE r.tenant_id = $1 AND p.customer_id = $2 \
         ) e ORDER BY at, kind, object_id",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_all(db)
    .await?;
    let mut running: i128 = 0;
    for r in &mut rows {
        running += i128::from(r.amount_minor);
        r.balance_minor = minor_from_wide("statement balance", running)?;
    }
    Ok(rows)
}

/// The customer's balance, credit and overdue amount.
pub async fn balance(db: &Db, t: i64, customer_id: i64) -> CoreResult<Balance> {
    let (outstanding, overdue): (i64, i64) = query_as(
        "SELECT CAST(COALESCE(SUM(total_minor - paid_minor), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'OVERDUE' THEN total_minor - paid_minor ELSE 0 END), 0) AS BIGINT) FROM invoices \
         WHERE tenant_id = $1 AND customer_id = $2 AND kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_one(db)
    .await?;
    let (credit,): (i64,) = query_as(
        "SELECT CAST(COALESCE(SUM(p.amount_minor - p.refunded_minor - COALESCE((SELECT SUM(a.amount_minor) FROM payment_allocations a \
         WHERE a.tenant_id = p.tenant_id AND a.payment_id = p.id), 0)), 0) AS BIGINT) FROM payments p WHERE p.tenant_id = $1 AND p.customer_id = $2",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_one(db)
    .await?;
    let (pending,): (i64,) = query_as(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) FROM charges WHERE tenant_id = $1 AND customer_id = $2 AND invoice_id IS NULL",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_one(db)
    .await?;
    Ok(Balance {
        balance_minor: minor_from_wide("balance", i128::from(outstanding) - i128::from(credit))?,
        outstanding_minor: outstanding,
        overdue_minor: overdue,
        credit_minor: credit,
        pending_charges_minor: pending,
    })
}
