//! Billing runs: what each customer owes as of a date, turned into invoices.
//!
//! [`preview`] and [`run`] share one code path. A run walks the customers that have something
//! due in id order, [`CHUNK`] customers per transaction: one query finds the next chunk
//! (subscriptions with nothing billed beyond the as-of date, an anti-join on the
//! `billed_periods` key, and customers with charges waiting), two read their subscriptions and
//! charges, and a few multi-row INSERTs write the chunk's invoices, lines, billed periods and
//! audit entries, numbered from one block reserved in the gapless sequence. A preview rolls
//! every chunk back. A re-run with nothing due is one empty index walk.
//!
//! Each billed cycle is a `billed_periods` row whose primary key is (tenant, subscription,
//! period start), so a second run, or two runs at once, cannot bill a cycle twice; a run that
//! dies mid-way leaves only whole chunks of whole invoices behind and the next run carries on.
//! SQLite serialises the chunks (`BEGIN IMMEDIATE`); on PostgreSQL a chunk locks its
//! customers in id order ([`super::lock_customers`]), so payments and voids of those
//! customers, and other runs, wait for it.
//!
//! With the tenant's `draft_invoices` setting a run creates DRAFT invoices: no number, no
//! credit applied, outside balances, dunning and reports until [`super::invoices::issue`].

use super::proration::{days, prorate, Cycle};
use super::settings::{self, BillingSettings};
use super::tax::{self, Rate};
use super::{fmt_date, lock_customers, numbering, payments, BillingMode, InvoiceKind, InvoiceStatus, LineKind};
use crate::auth::{Action, Actor};
use crate::db::{Backend, Tx};
use crate::error::{CoreError, CoreResult};
use crate::store::plans::BillingPeriod;
use crate::store::{Arg, Sql};
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Customers billed per transaction.
pub const CHUNK: usize = 500;

/// Rows per multi-row INSERT: 14 placeholders a row stays far below SQLite's 32,766 and
/// PostgreSQL's 65,535 bound parameters.
const ROWS_PER_INSERT: usize = 1000;

/// Most cycles one subscription is billed for in one run (catching up after downtime).
const MAX_CYCLES: usize = 400;

/// A subscription as billing sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillableSubscription {
    /// Customer billed.
    pub customer_id: i64,
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
    /// Customer billed.
    pub customer_id: i64,
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
    /// Roll every chunk back instead of committing (a preview).
    pub dry_run: bool,
    /// Fail in the chunk that writes the run's invoice number `n + 1` (after all its rows,
    /// before its commit), to prove that a run killed half way leaves no partial invoice.
    pub crash_after: Option<usize>,
    /// Customers per transaction (0: [`CHUNK`]).
    pub chunk: usize,
    /// How many planned invoices [`RunOutcome::planned`] keeps (previews list them).
    pub keep: usize,
}

/// What a run did (or, for a preview, would do).
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// The `billing_runs` row its invoices point at (None when it created nothing, or in a preview).
    pub run_id: Option<i64>,
    /// Customers with something due that were looked at.
    pub customers_checked: usize,
    /// Invoices created (or that would be).
    pub invoices: usize,
    /// Whether they are drafts (the tenant's `draft_invoices` setting).
    pub drafts: bool,
    /// Sum of their nets.
    pub subtotal: i64,
    /// Sum of their taxes.
    pub tax: i64,
    /// Sum of their totals.
    pub total: i64,
    /// The first [`RunOptions::keep`] invoices, in the order they were planned.
    pub planned: Vec<PlannedInvoice>,
}

/// Shows exactly what [`run`] would create as of `as_of`, writing nothing; lists the first
/// `keep` invoices and counts all of them.
pub async fn preview(ctx: &Ctx, actor: &Actor, as_of: NaiveDate, keep: usize) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    run_with(ctx, actor, as_of, RunOptions { dry_run: true, keep, ..Default::default() }).await
}

/// Bills every due cycle and pending charge as of `as_of`; safe to repeat.
pub async fn run(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    run_with(ctx, actor, as_of, RunOptions::default()).await
}

/// What one committed (or previewed) chunk did.
struct Chunk {
    last_customer: i64,
    checked: usize,
    run_id: Option<i64>,
    drafts: bool,
    invoices: Vec<PlannedInvoice>,
}

/// [`run`] with options (previews and tests).
pub async fn run_with(ctx: &Ctx, actor: &Actor, as_of: NaiveDate, opts: RunOptions) -> CoreResult<RunOutcome> {
    actor.require(Action::BillingRun)?;
    let size = if opts.chunk == 0 { CHUNK } else { opts.chunk };
    let mut out = RunOutcome::default();
    let mut after = 0;
    loop {
        let mut tries = 0;
        let chunk = loop {
            match bill_chunk(ctx, actor, as_of, opts, size, after, &out).await {
                // A concurrent writer billed a cycle or charge of this chunk first: plan it again.
                Err(CoreError::Conflict { field, .. }) if field == "period" && tries < 3 => tries += 1,
                other => break other?,
            }
        };
        let Some(c) = chunk else { break };
        after = c.last_customer;
        out.customers_checked += c.checked;
        out.run_id = out.run_id.or(c.run_id);
        out.drafts = c.drafts;
        for inv in c.invoices {
            out.invoices += 1;
            out.subtotal += inv.subtotal;
            out.tax += inv.tax;
            out.total += inv.total;
            if out.planned.len() < opts.keep {
                out.planned.push(inv);
            }
        }
    }
    if !opts.dry_run && out.invoices > 0 {
        tracing::info!(tenant = actor.tenant_id, as_of = %as_of, invoices = out.invoices, total = out.total,
            drafts = out.drafts, run = ?out.run_id, "billing run");
    }
    Ok(out)
}

/// Bills the next `size` customers after customer id `after` in one transaction; None when
/// no customer is left.
async fn bill_chunk(
    ctx: &Ctx,
    actor: &Actor,
    as_of: NaiveDate,
    opts: RunOptions,
    size: usize,
    after: i64,
    so_far: &RunOutcome,
) -> CoreResult<Option<Chunk>> {
    let t = actor.tenant_id;
    let mut tx = ctx.db.begin().await?;
    let s = settings::get_in(&mut tx, t).await?;
    let ids = due_customers(&mut tx, t, &s, as_of, after, size).await?;
    let Some(&last_customer) = ids.last() else { return Ok(None) };
    lock_customers(ctx.db.backend(), &mut tx, t, &ids).await?;
    let rates = settings::rate_map(&mut tx, t).await?;
    let (subs, charges) = load(&mut tx, ctx.db.backend(), t, &ids).await?;
    let (mut si, mut ci) = (0, 0);
    let mut invoices = Vec::new();
    for &customer_id in &ids {
        let s_end = si + subs[si..].iter().take_while(|x| x.customer_id == customer_id).count();
        let c_end = ci + charges[ci..].iter().take_while(|x| x.customer_id == customer_id).count();
        let lines = plan_lines(&s, &rates, &subs[si..s_end], &charges[ci..c_end], as_of)?;
        (si, ci) = (s_end, c_end);
        if !lines.is_empty() {
            invoices.push(PlannedInvoice::new(customer_id, as_of, as_of + Duration::days(s.payment_terms_days), lines));
        }
    }
    let mut run_id = so_far.run_id;
    if !invoices.is_empty() {
        run_id = Some(write(ctx, &mut tx, actor, &s, as_of, run_id, &mut invoices).await?);
        if opts.crash_after.is_some_and(|n| so_far.invoices + invoices.len() > n) {
            return Err(CoreError::internal("billing run stopped by a test after writing a chunk"));
        }
    }
    if opts.dry_run {
        drop(tx); // rolled back
        for inv in &mut invoices {
            (inv.invoice_id, inv.number) = (None, None);
        }
        run_id = None;
    } else {
        tx.commit().await?;
    }
    let drafts = s.draft_invoices != 0;
    Ok(Some(Chunk { last_customer, checked: ids.len(), run_id, drafts, invoices }))
}

/// The next `limit` customers after id `after` with a subscription that may be due or a
/// charge waiting, in id order. A subscription is a candidate when nothing is billed beyond
/// the horizon (the as-of date for prepaid, the day before for postpaid, which bills a cycle
/// only once it has ended); [`plan_lines`] then decides exactly.
async fn due_customers(
    tx: &mut Tx,
    t: i64,
    s: &BillingSettings,
    as_of: NaiveDate,
    after: i64,
    limit: usize,
) -> CoreResult<Vec<i64>> {
    let horizon = match s.mode {
        BillingMode::Prepaid => as_of,
        BillingMode::Postpaid => as_of - Duration::days(1),
    };
    let limit = limit as i64;
    let subs: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT s.customer_id FROM subscriptions s WHERE s.tenant_id = $1 AND s.customer_id > $2 \
         AND s.status IN ('ACTIVE', 'SUSPENDED') AND s.start_date <= $3 AND NOT EXISTS (SELECT 1 FROM billed_periods b \
         WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id AND b.period_end > $3) ORDER BY s.customer_id LIMIT $4",
    )
    .bind(t)
    .bind(after)
    .bind(fmt_date(horizon))
    .bind(limit)
    .fetch_all(tx.x())
    .await?;
    let charged: Vec<(i64,)> = sqlx::query_as(
        "SELECT DISTINCT customer_id FROM charges WHERE tenant_id = $1 AND customer_id > $2 AND invoice_id IS NULL \
         ORDER BY customer_id LIMIT $3",
    )
    .bind(t)
    .bind(after)
    .bind(limit)
    .fetch_all(tx.x())
    .await?;
    Ok(merge_ids(subs.into_iter().map(|r| r.0), charged.into_iter().map(|r| r.0), limit as usize))
}

/// The first `limit` distinct ids of two ascending lists. Each list holds at most `limit`
/// ids, so every id below the result's last one is in one of them.
fn merge_ids(a: impl Iterator<Item = i64>, b: impl Iterator<Item = i64>, limit: usize) -> Vec<i64> {
    let mut all: Vec<i64> = a.chain(b).collect();
    all.sort_unstable();
    all.dedup();
    all.truncate(limit);
    all
}

/// The billable subscriptions and waiting charges of `customers`, by customer then id.
async fn load(
    tx: &mut Tx,
    backend: Backend,
    t: i64,
    customers: &[i64],
) -> CoreResult<(Vec<BillableSubscription>, Vec<PendingCharge>)> {
    let ids = values_sql(backend, "(", "?", customers.len(), ")");
    let sql = format!(
        "SELECT s.customer_id, s.id, s.username, s.start_date, s.plan_id, p.name AS plan_name, p.price_minor, p.billing_period, \
         p.tax_class, (SELECT MAX(b.period_end) FROM billed_periods b WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id) \
         AS billed_until FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         WHERE s.customer_id IN {ids} AND s.status IN ('ACTIVE', 'SUSPENDED') AND s.tenant_id = {t} ORDER BY s.customer_id, s.id"
    );
    let mut q = sqlx::query_as::<_, BillableSubscription>(&sql);
    for c in customers {
        q = q.bind(*c);
    }
    let subs = q.fetch_all(tx.x()).await?;
    let sql = format!(
        "SELECT customer_id, id, subscription_id, kind, description, amount_minor, tax_class FROM charges \
         WHERE customer_id IN {ids} AND invoice_id IS NULL AND tenant_id = {t} ORDER BY customer_id, id"
    );
    let mut q = sqlx::query_as::<_, PendingCharge>(&sql);
    for c in customers {
        q = q.bind(*c);
    }
    Ok((subs, q.fetch_all(tx.x()).await?))
}

/// A multi-row statement: `head`, then `rows` copies of the `row` template joined by commas,
/// then `tail`; every `?` in `row` is the next bound value. PostgreSQL gets `$1, $2 ...`;
/// SQLite keeps the anonymous `?`, because for named parameters sqlx asks SQLite for each
/// parameter's name, a linear search in SQLite, which makes a statement with thousands of
/// `$n` cost quadratic time (a 500-row INSERT spent ~20 ms there, a whole run 25 s).
fn values_sql(backend: Backend, head: &str, row: &str, rows: usize, tail: &str) -> String {
    let mut s = String::with_capacity(head.len() + tail.len() + rows * (row.len() + 48));
    s.push_str(head);
    let mut n = 0;
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        if backend == Backend::Sqlite {
            s.push_str(row);
            continue;
        }
        for c in row.chars() {
            if c == '?' {
                n += 1;
                let _ = write!(s, "${n}");
            } else {
                s.push(c);
            }
        }
    }
    s.push_str(tail);
    s
}

/// Writes a chunk's invoices (issued, or drafts) with their lines, billed periods, charges,
/// credit and audit entries; fills in their ids and numbers. Returns the run's id, creating
/// its `billing_runs` row with the first chunk that writes anything.
async fn write(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    s: &BillingSettings,
    as_of: NaiveDate,
    run_id: Option<i64>,
    invs: &mut [PlannedInvoice],
) -> CoreResult<i64> {
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let backend = ctx.db.backend();
    let drafts = s.draft_invoices != 0;
    let count = invs.len() as i64;
    let total: i64 = invs.iter().map(|i| i.total).sum();
    let run_id = match run_id {
        Some(id) => {
            sqlx::query(
                "UPDATE billing_runs SET invoices = invoices + $1, total_minor = total_minor + $2, finished_at = $3 \
                 WHERE tenant_id = $4 AND id = $5",
            )
            .bind(count)
            .bind(total)
            .bind(now)
            .bind(t)
            .bind(id)
            .execute(tx.x())
            .await?;
            id
        }
        None => {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO billing_runs (tenant_id, as_of, actor, drafts, invoices, total_minor, started_at, finished_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
            )
            .bind(t)
            .bind(fmt_date(as_of))
            .bind(&actor.name)
            .bind(i64::from(drafts))
            .bind(count)
            .bind(total)
            .bind(now)
            .fetch_one(tx.x())
            .await?;
            id
        }
    };
    if !drafts {
        let first = numbering::reserve(tx, t, "INVOICE", &s.invoice_template, as_of, count).await?;
        for (i, inv) in invs.iter_mut().enumerate() {
            inv.number = Some(numbering::render(&s.invoice_template, as_of, first + i as i64));
        }
    }
    for batch in invs.chunks_mut(ROWS_PER_INSERT) {
        let sql = values_sql(
            backend,
            "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, tax_minor, \
             total_minor, paid_minor, billing_run_id, created_at, updated_at) VALUES ",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            batch.len(),
            " RETURNING id, customer_id",
        );
        let mut q = sqlx::query_as::<_, (i64, i64)>(&sql);
        for inv in batch.iter() {
            let status = match (drafts, inv.total <= 0) {
                (true, _) => InvoiceStatus::Draft,
                (false, true) => InvoiceStatus::Paid,
                (false, false) => InvoiceStatus::Issued,
            };
            q = q
                .bind(t)
                .bind(inv.customer_id)
                .bind(InvoiceKind::Invoice)
                .bind(inv.number.as_deref())
                .bind(status)
                .bind(fmt_date(inv.issue_date))
                .bind(fmt_date(inv.due_date))
                .bind(inv.subtotal)
                .bind(inv.tax)
                .bind(inv.total)
                .bind(run_id)
                .bind(now)
                .bind(now);
        }
        // One invoice per customer and chunk, so the customer names the row.
        let ids: HashMap<i64, i64> = q.fetch_all(tx.x()).await?.into_iter().map(|(id, c)| (c, id)).collect();
        for inv in batch.iter_mut() {
            inv.invoice_id = Some(
                *ids.get(&inv.customer_id).ok_or_else(|| CoreError::internal("an inserted invoice went missing"))?,
            );
        }
    }
    let lines: Vec<(i64, &PlannedLine)> =
        invs.iter().flat_map(|i| i.lines.iter().map(move |l| (i.invoice_id.unwrap_or_default(), l))).collect();
    for batch in lines.chunks(ROWS_PER_INSERT) {
        let sql = values_sql(
            backend,
            "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, subscription_id, plan_id, description, period_start, \
             period_end, net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) VALUES ",
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch.len(),
            "",
        );
        let mut q = sqlx::query(&sql);
        for (id, l) in batch {
            q = q
                .bind(t)
                .bind(*id)
                .bind(l.kind)
                .bind(l.subscription_id)
                .bind(l.plan_id)
                .bind(l.description.as_str())
                .bind(l.period_start.map(fmt_date))
                .bind(l.period_end.map(|e| fmt_date(e - Duration::days(1))))
                .bind(l.net)
                .bind(l.tax)
                .bind(l.total)
                .bind(l.rate.bp)
                .bind(i64::from(l.rate.inclusive));
        }
        q.execute(tx.x()).await?;
    }
    let periods: Vec<(i64, i64, NaiveDate, NaiveDate, i64)> = lines
        .iter()
        .filter_map(|(id, l)| Some((*id, l.subscription_id?, l.period_start?, l.period_end?, l.plan_id?)))
        .collect();
    for batch in periods.chunks(ROWS_PER_INSERT) {
        let sql = values_sql(
            backend,
            "INSERT INTO billed_periods (tenant_id, subscription_id, period_start, period_end, plan_id, invoice_id) VALUES ",
            "(?, ?, ?, ?, ?, ?)",
            batch.len(),
            " ON CONFLICT (tenant_id, subscription_id, period_start) DO NOTHING",
        );
        let mut q = sqlx::query(&sql);
        for (id, sub, start, end, plan) in batch {
            q = q.bind(t).bind(*sub).bind(fmt_date(*start)).bind(fmt_date(*end)).bind(*plan).bind(*id);
        }
        // The primary key, not this process, decides: a cycle billed meanwhile fails the chunk.
        if q.execute(tx.x()).await?.rows_affected() != batch.len() as u64 {
            return Err(CoreError::conflict("period", "a cycle of this chunk was billed meanwhile"));
        }
    }
    for inv in invs.iter() {
        let charged: Vec<i64> = inv.lines.iter().filter_map(|l| l.charge_id).collect();
        if charged.is_empty() {
            continue;
        }
        let mut sql = Sql::new("UPDATE charges SET invoice_id = ");
        sql.arg(Arg::I(inv.invoice_id.unwrap_or_default())).push(" WHERE invoice_id IS NULL AND tenant_id = ");
        sql.arg(Arg::I(t)).push(" AND id IN ").in_list(&charged);
        if sql.query().execute(tx.x()).await?.rows_affected() != charged.len() as u64 {
            return Err(CoreError::conflict("period", "a charge of this chunk was billed meanwhile"));
        }
    }
    if !drafts {
        let owing: Vec<i64> = invs.iter().filter(|i| i.total > 0).map(|i| i.customer_id).collect();
        let with_credit = super::customers_with_credit(tx, backend, t, &owing).await?;
        for inv in invs.iter().filter(|i| i.total > 0 && with_credit.contains(&i.customer_id)) {
            let id = inv.invoice_id.unwrap_or_default();
            payments::apply_credit(tx, t, inv.customer_id, id, as_of, now).await?;
        }
    }
    for batch in invs.chunks(ROWS_PER_INSERT) {
        let sql = values_sql(
            backend,
            "INSERT INTO audit_log (tenant_id, user_id, actor, action, object_type, object_id, details, ip, at) VALUES ",
            "(?, ?, ?, 'invoice.create', 'Invoice', ?, ?, ?, ?)",
            batch.len(),
            "",
        );
        let mut q = sqlx::query(&sql);
        let user = (actor.user_id != 0).then_some(actor.user_id);
        for inv in batch {
            let details = json!({"number": inv.number, "total": inv.total, "lines": inv.lines.len(),
                "asOf": fmt_date(as_of), "draft": drafts, "billingRun": run_id});
            q = q
                .bind(t)
                .bind(user)
                .bind(actor.name.as_str())
                .bind(inv.invoice_id)
                .bind(details.to_string())
                .bind(actor.ip.as_deref())
                .bind(now);
        }
        q.execute(tx.x()).await?;
    }
    Ok(run_id)
}

impl PlannedInvoice {
    /// An invoice of `lines` for `customer_id`, issued `issue_date`, due `due_date`.
    pub fn new(customer_id: i64, issue_date: NaiveDate, due_date: NaiveDate, lines: Vec<PlannedLine>) -> Self {
        Self {
            customer_id,
            issue_date,
            due_date,
            subtotal: lines.iter().map(|l| l.net).sum(),
            tax: lines.iter().map(|l| l.tax).sum(),
            total: lines.iter().map(|l| l.total).sum(),
            lines,
            invoice_id: None,
            number: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn sub(start: &str, until: Option<&str>, price: i64) -> BillableSubscription {
        BillableSubscription {
            customer_id: 1,
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
    fn chunk_candidates_merge_two_limited_lists() {
        // Subscriptions found 1, 4, 9 (the limit), charges 2, 4, 5: the first three of the union.
        assert_eq!(merge_ids([1, 4, 9].into_iter(), [2, 4, 5].into_iter(), 3), vec![1, 2, 4]);
        assert_eq!(merge_ids([7].into_iter(), std::iter::empty(), 3), vec![7]);
        assert!(merge_ids(std::iter::empty(), std::iter::empty(), 3).is_empty());
    }

    #[test]
    fn multi_row_values_are_numbered_row_by_row() {
        let head = "INSERT INTO t (a, b, c) VALUES ";
        assert_eq!(
            values_sql(Backend::Postgres, head, "(?, 'x', ?)", 2, " RETURNING a"),
            "INSERT INTO t (a, b, c) VALUES ($1, 'x', $2), ($3, 'x', $4) RETURNING a"
        );
        assert_eq!(values_sql(Backend::Sqlite, "V ", "(?, ?)", 2, ""), "V (?, ?), (?, ?)");
    }

    #[test]
    fn credits_never_make_an_invoice_negative() {
        let s = BillingSettings::default();
        let c = |id, amount| PendingCharge {
            customer_id: 1,
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
