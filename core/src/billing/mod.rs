//! Billing: settings, cycles and proration, taxes, document numbering, billing runs,
//! invoices, payments and refunds, the customer ledger, payment gateways and their webhooks,
//! dunning and reports.
//!
//! Money never moves outside a transaction that also locks the customer
//! ([`lock_customer`], or [`lock_customers`] for a billing run's chunk), so billing runs,
//! payments, refunds and voids of one customer are serialised on both backends; the rules
//! that protect money (one charge per subscription and period, one payment per gateway event,
//! gapless numbers) are database constraints.

pub mod charges;
pub mod dunning;
pub mod gateways;
pub mod invoices;
pub mod ledger;
pub mod numbering;
pub mod payments;
pub mod proration;
pub mod reports;
pub mod run;
pub mod settings;
pub mod settlement;
pub mod tax;
pub mod webhooks;

use crate::db::{query, query_as, Arg, Backend, Db, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;
use crate::Ctx;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashSet;

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
        /// A one-off charge (installation, equipment): a positive amount.
        OneOff = "ONE_OFF",
        /// A one-off credit (goodwill, compensation): a negative amount, entered as a credit.
        Credit = "CREDIT",
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
    use chrono::Datelike;
    // Not `format("%Y-%m-%d")`, which interprets its pattern on every call: a run formats
    // several dates per invoice. Years outside 0-9999 never reach billing.
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// The sum of `amounts` (minor units), added in i128 so that it cannot wrap; an INTERNAL error
/// naming `what` when the sum does not fit i64. Every money input is bounded by
/// [`crate::validate::MAX_AMOUNT_MINOR`], so only rows written before that bound existed could
/// get there, and then the caller gets an error rather than a wrong figure.
pub fn sum_minor(what: &str, amounts: impl IntoIterator<Item = i64>) -> CoreResult<i64> {
    minor_from_wide(what, amounts.into_iter().map(i128::from).sum())
}

/// `value` (minor units, computed in i128) as i64; an INTERNAL error naming `what` when it does
/// not fit (see [`sum_minor`]).
pub fn minor_from_wide(what: &str, value: i128) -> CoreResult<i64> {
    i64::try_from(value).map_err(|_| CoreError::internal(format!("{what} is out of range: {value} minor units")))
}

/// `amount_minor` of `currency` as people read it: `29.99 USD`, `-5.00 EUR`, `1500 JPY`.
pub fn fmt_money(amount_minor: i64, currency: &str) -> String {
    let exp = crate::validate::currency_exponent(currency);
    if exp == 0 {
        return format!("{amount_minor} {currency}");
    }
    let div = 10u64.pow(exp);
    let sign = if amount_minor < 0 { "-" } else { "" };
    let a = amount_minor.unsigned_abs();
    format!("{sign}{}.{:0width$} {currency}", a / div, a % div, width = exp as usize)
}

/// The calendar date in IANA zone `timezone` at instant `now`: a tenant's "today".
///
/// Zones are validated when a tenant is created or changed ([`crate::validate::timezone`]), so
/// the UTC fallback only serves rows written before that check existed; it is logged.
pub fn local_date(now: DateTime<Utc>, timezone: &str) -> NaiveDate {
    match timezone.parse::<chrono_tz::Tz>() {
        Ok(tz) => now.with_timezone(&tz).date_naive(),
        Err(_) => {
            tracing::warn!(timezone, "unknown tenant time zone; using UTC dates");
            now.date_naive()
        }
    }
}

/// Today for tenant `tenant_id`: the injected clock's date in the tenant's time zone. Billing
/// dates (issue and due dates, payment and refund dates, the daily run) all start here.
pub async fn tenant_today(ctx: &Ctx, tenant_id: i64) -> CoreResult<NaiveDate> {
    let zone = tenant_zone(&ctx.db, tenant_id).await?;
    Ok(local_date(ctx.clock.now(), &zone))
}

/// [`tenant_today`] inside a transaction.
pub async fn tenant_today_in(ctx: &Ctx, tx: &mut Tx, tenant_id: i64) -> CoreResult<NaiveDate> {
    let (zone,): (String,) = query_as("SELECT timezone FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    Ok(local_date(ctx.clock.now(), &zone))
}

async fn tenant_zone(db: &Db, tenant_id: i64) -> CoreResult<String> {
    let (zone,): (String,) = query_as("SELECT timezone FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    Ok(zone)
}

/// Takes the customer's row lock for the rest of `tx` (a no-op write: a row lock on
/// PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises writers). NOT_FOUND when the
/// customer is not in the tenant.
pub async fn lock_customer(tx: &mut Tx, tenant_id: i64, customer_id: i64) -> CoreResult<()> {
    let r = query("UPDATE customers SET updated_at = updated_at WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    if r == 0 {
        return Err(CoreError::NotFound("customer"));
    }
    Ok(())
}

/// Locks many customers' rows for the rest of `tx` in one statement, in id order so that two
/// runs cannot deadlock. A no-op on SQLite, where `BEGIN IMMEDIATE` already serialises writers.
pub async fn lock_customers(backend: Backend, tx: &mut Tx, tenant_id: i64, customer_ids: &[i64]) -> CoreResult<()> {
    if backend != Backend::Postgres || customer_ids.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::new("SELECT id FROM customers WHERE tenant_id = ");
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(customer_ids).push(" ORDER BY id FOR UPDATE");
    sql.fetch_all::<(i64,)>(&mut *tx).await?;
    Ok(())
}

/// Which of `customer_ids` have payment money not yet allocated or refunded (credit that new
/// invoices consume), in one statement. The tenant id is an integer written into the SQL; the
/// ids are bound (anonymous `?` on SQLite, see [`run`]'s multi-row statements).
pub async fn customers_with_credit(
    tx: &mut Tx,
    backend: Backend,
    tenant_id: i64,
    customer_ids: &[i64],
) -> CoreResult<HashSet<i64>> {
    if customer_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = credit_sql(backend, tenant_id, customer_ids.len());
    let mut q = query_as::<(i64,)>(&sql);
    for c in customer_ids {
        q = q.bind(*c);
    }
    Ok(q.fetch_all(&mut *tx).await?.into_iter().map(|r| r.0).collect())
}

/// The query of [`customers_with_credit`] for `n` customer ids.
pub(crate) fn credit_sql(backend: Backend, tenant_id: i64, n: usize) -> String {
    let list: Vec<String> =
        (1..=n).map(|i| if backend == Backend::Sqlite { "?".to_string() } else { format!("${i}") }).collect();
    format!(
        "SELECT DISTINCT p.customer_id FROM payments p WHERE p.customer_id IN ({}) AND p.tenant_id = {tenant_id} \
         AND p.amount_minor - p.refunded_minor > COALESCE((SELECT SUM(a.amount_minor) FROM payment_allocations a \
         WHERE a.tenant_id = p.tenant_id AND a.payment_id = p.id), 0)",
        list.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn money_is_formatted_with_the_currency_exponent() {
        assert_eq!(fmt_money(2_999, "USD"), "29.99 USD");
        assert_eq!(fmt_money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(fmt_money(0, "EUR"), "0.00 EUR");
        assert_eq!(fmt_money(1_500, "JPY"), "1500 JPY");
        assert_eq!(fmt_money(-1_500, "JPY"), "-1500 JPY");
        assert_eq!(fmt_money(12_345, "KWD"), "12.345 KWD");
        assert_eq!(fmt_money(i64::MIN, "USD"), "-92233720368547758.08 USD");
    }

    #[test]
    fn dates_are_stored_zero_padded() {
        assert_eq!(fmt_date(NaiveDate::from_ymd_opt(2024, 2, 9).unwrap()), "2024-02-09");
        assert_eq!(fmt_date(NaiveDate::from_ymd_opt(987, 12, 31).unwrap()), "0987-12-31");
    }

    #[test]
    fn local_dates_follow_the_zone() {
        // 2024-01-31 11:30 UTC: already Feb 1 in Auckland (UTC+13 in summer), still Jan 31 in LA.
        let now = Utc.with_ymd_and_hms(2024, 1, 31, 11, 30, 0).unwrap();
        assert_eq!(local_date(now, "Pacific/Auckland"), NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
        assert_eq!(local_date(now, "America/Los_Angeles"), NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
        assert_eq!(local_date(now, "UTC"), NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
        // 23:30 in LA on Jan 31 is 07:30 UTC on Feb 1.
        let late = Utc.with_ymd_and_hms(2024, 2, 1, 7, 30, 0).unwrap();
        assert_eq!(local_date(late, "America/Los_Angeles"), NaiveDate::from_ymd_opt(2024, 1, 31).unwrap());
        assert_eq!(local_date(late, "Not/AZone"), NaiveDate::from_ymd_opt(2024, 2, 1).unwrap());
    }
}
