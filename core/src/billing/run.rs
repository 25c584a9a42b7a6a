//! Billing runs: what each customer owes as of a date, turned into invoices.
//!
//! [`preview`] and [`run`] share one code path: for each customer, a short transaction plans
//! the invoice from committed data and writes it; a preview rolls that transaction back.
//! Each billed cycle is a `billed_periods` row whose primary key is (tenant, subscription,
//! period start), so a second run, or two runs at once, cannot bill a cycle twice; a run that
//! dies mid-way leaves only whole invoices behind and the next run carries on.

use super::proration::{days, prorate, Cycle};
use super::settings::{self, BillingSettings};
use super::tax::{self, Rate};
use super::{fmt_date, lock_customer, numbering, payments, BillingMode, InvoiceKind, InvoiceStatus, LineKind};
use crate::auth::{Action, Actor};
use crate::db::Tx;
use crate::error::{CoreError, CoreResult};
use crate::store::audit;
use crate::store::plans::BillingPeriod;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;
use std::collections::HashMap;

/// Most cycles one subscription is billed for in one run (catching up after downtime).
const MAX_CYCLES: usize = 400;

/// A subscription as billing sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillableSubscription {
    /// Subscription id.
    pub id: i64,
    /// Login, for line descriptions.
    pub username: String,
    /// Service start date.
    pub start_date: String,
    /// Current plan.
    pub plan_id: i64,
    /// Plan name.
    pub plan_name: String,
    /// Plan price per cycle.
    pub price_minor: i64,
    /// Plan cycle length.
    pub billing_period: BillingPeriod,
    /// Plan tax class.
    pub tax_class: String,
    /// End (exclusive) of the last billed cycle, if any.
    pub billed_until: Option<String>,
}

/// A one-off charge or adjustment waiting for the next invoice.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingCharge {
    /// Charge id.
    pub id: i64,
    /// Subscription it concerns.
    pub subscription_id: Option<i64>,
    /// ONE_OFF or ADJUSTMENT.
    pub kind: LineKind,
    /// Text on the invoice.
    pub description: String,
    /// Amount as entered (gross when the class's tax is inclusive).
    pub amount_minor: i64,
    /// Tax class.
    pub tax_class: String,
}

/// One line of a planned invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    /// What it bills.
    pub kind: LineKind,
    /// Subscription.
    pub subscription_id: Option<i64>,
    /// Plan.
    pub plan_id: Option<i64>,
    /// Charge it comes from.
    pub charge_id: Option<i64>,
    /// Text on the invoice.
    pub description: String,
    /// First day of the billed cycle.
    pub period_start: Option<NaiveDate>,
    /// Day after the billed cycle (exclusive end).
    pub period_end: Option<NaiveDate>,
    /// Before tax.
    pub net: i64,
    /// Tax.
    pub tax: i64,
    /// Net plus tax.
    pub total: i64,
    /// Tax rate applied.
    pub rate: Rate,
}

/// An invoice a run would create (or created).
#[derive(Debug, Clone)]
pub struct PlannedInvoice {
    /// Customer billed.
    pub customer_id: i64,
    /// Issue date (the run's as-of date).
    pub issue_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Lines in order.
    pub lines: Vec<PlannedLine>,
    /// Sum of nets.
    pub subtotal: i64,
    /// Sum of taxes.
    pub tax: i64,
    /// Sum of totals.
    pub total: i64,
    /// Id once written (None in a preview).
    pub invoice_id: Option<i64>,
    /// Number once written (None in a preview).
    pub number: Option<String>,
}

/// Plans one customer's lines: every due cycle of each subscription (prorated when
/// partial), then pending charges, positive first; a credit that would make the invoice
/// negative waits for a later invoice. While the customer has billable subscriptions,
/// charges ride on the next cycle's invoice instead of making invoices of their own.
pub fn plan_lines(
    s: &BillingSettings,
    rates: &HashMap<String, Rate>,
    subs: &[BillableSubscription],
    charges: &[PendingCharge],
    as_of: NaiveDate,
) -> CoreResult<Vec<PlannedLine>> {
    let rate_of = |class: &str| rates.get(class).cloned().unwrap_or(Rate::ZERO);
    let mut lines = Vec::new();
    for sub in subs {
        let start = super::parse_date("startDate", &sub.start_date)?;
        let cycle = Cycle::new(start, s.fixed_day(), sub.billing_period);
        let mut from = match &sub.billed_until {
            Some(d) => super::parse_date("billedUntil", d)?,
            None => start,
        };
        for _ in 0..MAX_CYCLES {
            let (full_start, full_end) = cycle.containing(from);
            let due = match s.mode {
                BillingMode::Prepaid => from <= as_of,
                BillingMode::Postpaid => full_end <= as_of,
            };
            if !due {
                break;
            }
            let amount = prorate(sub.price_minor, days(from, full_end), days(full_start, full_end));
            let rate = rate_of(&sub.tax_class);
            let t = tax::apply(amount, &rate);
            let last = full_end - Duration::days(1);
            let partial = if from != full_start { " (prorated)" } else { "" };
            lines.push(PlannedLine {
                kind: LineKind::Subscription,
                subscription_id: Some(sub.id),
                plan_id: Some(sub.plan_id),
                charge_id: None,
                description: format!("{} ({}) {} to {}{partial}", sub.plan_name, sub.username, from, last),
                period_start: Some(from),
                period_end: Some(full_end),
                net: t.net,
                tax: t.tax,
                total: t.total,
                rate,
            });
            from = full_end;
        }
    }
    if lines.is_empty() && !subs.is_empty() {
        return Ok(lines);
    }
    let mut sorted: Vec<&PendingCharge> = charges.iter().collect();
    sorted.sort_by_key(|c| (c.amount_minor < 0, c.id));
    let mut running: i64 = lines.iter().map(|l| l.total).sum();
    for c in sorted {
        let rate = rate_of(&c.tax_class);
        let t = tax::apply(c.amount_minor, &rate);
        if running + t.total < 0 {
            continue;
        }
        running += t.total;
        lines.push(PlannedLine {
            kind: c.kind,
            subscription_id: c.subscription_id,
            plan_id: None,
            charge_id: Some(c.id),
            description: c.description.clone(),
            period_start: None,
            period_end: None,
            net: t.net,
            tax: t.tax,
            total: t.total,
            rate,
        });
    }
    Ok(lines)
}

/// Test hooks and switches of a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Roll every invoice back instead of committing (a preview).
    pub dry_run: bool,
    /// Fail while writing invoice number `n + 1` (after its lines, before its commit), to
    /// prove that a run killed half way leaves no partial invoice.
    pub crash_after: Option<usize>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Invoices created (or that would be).
    pub invoices: Vec<PlannedInvoice>,
    /// Customers looked at.
    pub customers_checked: usize,
}

/// Shows exactly what [`run`] would create as of `as_of`, writing nothing.
pub async fn preview(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    run_with(ctx, actor, as_of, RunOptions { dry_run: true, crash_after: None }).await
}

/// Bills every due cycle and pending charge as of `as_of`; safe to repeat.
pub async fn run(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    run_with(ctx, actor, as_of, RunOptions::default()).await
}

/// [`run`] with options (previews and tests).
pub async fn run_with(ctx: &Ctx, actor: &Actor, as_of: NaiveDate, opts: RunOptions) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    let t = actor.tenant_id;
    let customers: Vec<(i64,)> = sqlx::query_as(
        "SELECT customer_id FROM subscriptions WHERE tenant_id = $1 AND status IN ('ACTIVE', 'SUSPENDED') \
         UNION SELECT customer_id FROM charges WHERE tenant_id = $1 AND invoice_id IS NULL ORDER BY 1",
    )
    .bind(t)
    .fetch_all(ctx.db.x())
    .await?;
    let mut out = RunOutcome { customers_checked: customers.len(), ..Default::default() };
    for (customer_id,) in customers {
        if let Some(inv) = bill_customer(ctx, actor, customer_id, as_of, opts, out.invoices.len()).await? {
            out.invoices.push(inv);
        }
    }
    if !opts.dry_run && !out.invoices.is_empty() {
        tracing::info!(tenant = t, as_of = %as_of, invoices = out.invoices.len(), "billing run");
    }
    Ok(out)
}

/// Bills one customer in one transaction; retried when a concurrent run got there first.
async fn bill_customer(
    ctx: &Ctx,
    actor: &Actor,
    customer_id: i64,
    as_of: NaiveDate,
    opts: RunOptions,
    written: usize,
) -> CoreResult<Option<PlannedInvoice>> {
    for _ in 0..3 {
        let mut tx = ctx.db.begin().await?;
        match write_invoice(ctx, &mut tx, actor, customer_id, as_of, opts, written).await {
            Ok(Some(inv)) if !opts.dry_run => {
                tx.commit().await?;
                return Ok(Some(inv));
            }
            Ok(other) => return Ok(other), // dropped: rolled back
            Err(CoreError::Conflict { field, .. }) if field == "period" => continue,
            Err(e) => return Err(e),
        }
    }
    Err(CoreError::conflict("period", "another billing run keeps changing this customer; retry"))
}

async fn load(tx: &mut Tx, t: i64, customer_id: i64) -> CoreResult<(Vec<BillableSubscription>, Vec<PendingCharge>)> {
    let subs = sqlx::query_as::<_, BillableSubscription>(
        "SELECT s.id, s.username, s.start_date, s.plan_id, p.name AS plan_name, p.price_minor, p.billing_period, p.tax_class, \
         (SELECT MAX(b.period_end) FROM billed_periods b WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id) AS billed_until \
         FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         WHERE s.tenant_id = $1 AND s.customer_id = $2 AND s.status IN ('ACTIVE', 'SUSPENDED') ORDER BY s.id",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_all(tx.x())
    .await?;
    let charges = sqlx::query_as::<_, PendingCharge>(
        "SELECT id, subscription_id, kind, description, amount_minor, tax_class FROM charges \
         WHERE tenant_id = $1 AND customer_id = $2 AND invoice_id IS NULL ORDER BY id",
    )
    .bind(t)
    .bind(customer_id)
    .fetch_all(tx.x())
    .await?;
    Ok((subs, charges))
}

async fn write_invoice(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    customer_id: i64,
    as_of: NaiveDate,
    opts: RunOptions,
    written: usize,
) -> CoreResult<Option<PlannedInvoice>> {
    let t = actor.tenant_id;
    lock_customer(tx, t, customer_id).await?;
    let s = settings::get_in(tx, t).await?;
    let rates = settings::rate_map(tx, t).await?;
    let (subs, charges) = load(tx, t, customer_id).await?;
    let lines = plan_lines(&s, &rates, &subs, &charges, as_of)?;
    if lines.is_empty() {
        return Ok(None);
    }
    let due = as_of + Duration::days(s.payment_terms_days);
    let mut inv = PlannedInvoice {
        customer_id,
        issue_date: as_of,
        due_date: due,
        subtotal: lines.iter().map(|l| l.net).sum(),
        tax: lines.iter().map(|l| l.tax).sum(),
        total: lines.iter().map(|l| l.total).sum(),
        lines,
        invoice_id: None,
        number: None,
    };
    let now = ctx.now_ms();
    let number = numbering::next(tx, t, "INVOICE", &s.invoice_template, as_of).await?;
    let status = if inv.total <= 0 { InvoiceStatus::Paid } else { InvoiceStatus::Issued };
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
         total_minor, paid_minor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $11) RETURNING id",
    )
    .bind(t)
    .bind(customer_id)
    .bind(InvoiceKind::Invoice)
    .bind(&number)
    .bind(status)
    .bind(fmt_date(as_of))
    .bind(fmt_date(due))
    .bind(inv.subtotal)
    .bind(inv.tax)
    .bind(inv.total)
    .bind(now)
    .fetch_one(tx.x())
    .await?;
    for l in &inv.lines {
        sqlx::query(
            "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, period_start, period_end, \
             net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(t)
        .bind(id)
        .bind(l.kind)
        .bind(l.subscription_id)
        .bind(l.plan_id)
        .bind(&l.description)
        .bind(l.period_start.map(fmt_date))
        .bind(l.period_end.map(|e| fmt_date(e - Duration::days(1))))
        .bind(l.net)
        .bind(l.tax)
        .bind(l.total)
        .bind(l.rate.bp)
        .bind(i64::from(l.rate.inclusive))
        .execute(tx.x())
        .await?;
        if let (Some(sub), Some(start), Some(end), Some(plan)) =
            (l.subscription_id, l.period_start, l.period_end, l.plan_id)
        {
            let r = sqlx::query(
                "INSERT INTO billed_periods (tenant_id, subscription_id, period_start, period_end, plan_id, invoice_id) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, subscription_id, period_start) DO NOTHING",
            )
            .bind(t)
            .bind(sub)
            .bind(fmt_date(start))
            .bind(fmt_date(end))
            .bind(plan)
            .bind(id)
            .execute(tx.x())
            .await?;
            if r.rows_affected() != 1 {
                return Err(CoreError::conflict("period", "this cycle was billed meanwhile"));
            }
        }
        if let Some(charge) = l.charge_id {
            let r = sqlx::query(
                "UPDATE charges SET invoice_id = $1 WHERE tenant_id = $2 AND id = $3 AND invoice_id IS NULL",
            )
            .bind(id)
            .bind(t)
            .bind(charge)
            .execute(tx.x())
            .await?;
            if r.rows_affected() != 1 {
                return Err(CoreError::conflict("period", "this charge was billed meanwhile"));
            }
        }
    }
    if opts.crash_after == Some(written) {
        return Err(CoreError::internal("billing run stopped by a test after writing the lines"));
    }
    if inv.total > 0 {
        payments::apply_credit(tx, t, customer_id, id, as_of, now).await?;
    }
    let details = json!({"number": number, "total": inv.total, "lines": inv.lines.len(), "asOf": fmt_date(as_of)});
    audit::record(tx, actor, "invoice.create", "Invoice", Some(id), details, now).await?;
    if !opts.dry_run {
        inv.invoice_id = Some(id);
        inv.number = Some(number);
    }
    Ok(Some(inv))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn sub(start: &str, until: Option<&str>, price: i64) -> BillableSubscription {
        BillableSubscription {
            id: 1,
            username: "u".into(),
            start_date: start.into(),
            plan_id: 9,
            plan_name: "Fibre".into(),
            price_minor: price,
            billing_period: BillingPeriod::Monthly,
            tax_class: "standard".into(),
            billed_until: until.map(Into::into),
        }
    }

    #[test]
    fn prepaid_fixed_day_prorates_the_first_cycle_then_bills_full() {
        let s = BillingSettings { billing_day: 1, ..Default::default() };
        let lines = plan_lines(&s, &HashMap::new(), &[sub("2024-01-15", None, 3100)], &[], d("2024-02-01")).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].total, lines[0].period_end), (1700, Some(d("2024-02-01")))); // 17/31
        assert_eq!((lines[1].total, lines[1].period_start), (3100, Some(d("2024-02-01"))));
        let none =
            plan_lines(&s, &HashMap::new(), &[sub("2024-01-15", Some("2024-03-01"), 3100)], &[], d("2024-02-20"));
        assert!(none.unwrap().is_empty());
    }

    #[test]
    fn postpaid_bills_only_ended_cycles() {
        let s = BillingSettings { mode: BillingMode::Postpaid, ..Default::default() };
        let subs = [sub("2024-01-31", None, 2999)];
        assert!(plan_lines(&s, &HashMap::new(), &subs, &[], d("2024-02-28")).unwrap().is_empty());
        let lines = plan_lines(&s, &HashMap::new(), &subs, &[], d("2024-02-29")).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].period_start, lines[0].period_end), (Some(d("2024-01-31")), Some(d("2024-02-29"))));
    }

    #[test]
    fn credits_never_make_an_invoice_negative() {
        let s = BillingSettings::default();
        let c = |id, amount| PendingCharge {
            id,
            subscription_id: None,
            kind: LineKind::Adjustment,
            description: "x".into(),
            amount_minor: amount,
            tax_class: "standard".into(),
        };
        let lines = plan_lines(&s, &HashMap::new(), &[], &[c(1, -500), c(2, 300)], d("2024-01-01")).unwrap();
        assert_eq!(lines.iter().map(|l| l.charge_id).collect::<Vec<_>>(), vec![Some(2)]);
        let lines = plan_lines(&s, &HashMap::new(), &[], &[c(1, -500), c(2, 800)], d("2024-01-01")).unwrap();
        assert_eq!(lines.iter().map(|l| l.total).sum::<i64>(), 300);
    }
}
