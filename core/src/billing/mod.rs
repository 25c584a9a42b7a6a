//! Billing: settings, cycles and proration, taxes, document numbering, billing runs,
//! invoices, payments and refunds, the customer ledger, gateway webhooks, dunning and reports.
//!
//! Money never moves outside a transaction that also locks the customer
//! ([`lock_customer`]), so billing runs, payments, refunds and voids of one customer are
//! serialised on both backends; the rules that protect money (one charge per subscription
//! and period, one payment per gateway event, gapless numbers) are database constraints.

pub mod charges;
pub mod daily;
pub mod dunning;
pub mod invoices;
pub mod ledger;
pub mod numbering;
pub mod payments;
pub mod proration;
pub mod reports;
pub mod run;
pub mod settings;
pub mod tax;
pub mod webhooks;

use crate::db::Tx;
use crate::error::{CoreError, CoreResult};
use crate::text_enum;
use chrono::NaiveDate;

text_enum!(
    /// Where an invoice stands.
    InvoiceStatus, "status" {
        /// Prepared, not yet sent (no number yet).
        Draft = "DRAFT",
        /// Sent, nothing paid.
        Issued = "ISSUED",
        /// Sent, partly paid.
        PartiallyPaid = "PARTIALLY_PAID",
        /// Fully paid.
        Paid = "PAID",
        /// Past its due date and not fully paid.
        Overdue = "OVERDUE",
        /// Cancelled; a credit note reverses it.
        Void = "VOID",
    }
);

impl InvoiceStatus {
    /// Whether money is still expected on it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Issued | Self::PartiallyPaid | Self::Overdue)
    }
}

text_enum!(
    /// What kind of document an invoice row is.
    InvoiceKind, "kind" {
        /// An invoice.
        Invoice = "INVOICE",
        /// A credit note reversing a voided invoice.
        CreditNote = "CREDIT_NOTE",
    }
);

text_enum!(
    /// What an invoice line bills.
    LineKind, "kind" {
        /// A subscription's billing cycle (prorated when partial).
        Subscription = "SUBSCRIPTION",
        /// A one-off charge (installation, equipment).
        OneOff = "ONE_OFF",
        /// A proration adjustment (plan change, cancellation).
        Adjustment = "ADJUSTMENT",
    }
);

text_enum!(
    /// How a payment was made.
    PaymentMethod, "method" {
        /// Cash at the counter.
        Cash = "CASH",
        /// Bank transfer.
        BankTransfer = "BANK_TRANSFER",
        /// Card at a terminal.
        Card = "CARD",
        /// Online gateway (webhook).
        Gateway = "GATEWAY",
    }
);

text_enum!(
    /// When a cycle is billed.
    BillingMode, "mode" {
        /// In advance, on the first day of the cycle.
        Prepaid = "PREPAID",
        /// In arrears, once the cycle has ended.
        Postpaid = "POSTPAID",
    }
);

/// Parses a `YYYY-MM-DD` date, with a VALIDATION error on `field`.
pub fn parse_date(field: &str, s: &str) -> CoreResult<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| CoreError::validation(field, "must be a date YYYY-MM-DD"))
}

/// A date as stored.
pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Takes the customer's row lock for the rest of `tx` (a no-op write: a row lock on
/// PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers). NOT_FOUND when the
/// customer is not in the tenant.
pub async fn lock_customer(tx: &mut Tx, tenant_id: i64, customer_id: i64) -> CoreResult<()> {
    let r = sqlx::query("UPDATE customers SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(customer_id)
        .execute(tx.x())
        .await?;
    if r.rows_affected() == 0 {
        return Err(CoreError::NotFound("customer"));
    }
    Ok(())
}
