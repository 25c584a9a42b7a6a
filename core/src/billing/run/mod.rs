//! Billing runs: what each customer owes as of a date, turned into invoices.
//!
//! [`preview`] and [`run`] share one code path. A run walks the customers that have something
//! due in id order, [`CHUNK`] customers per transaction: one query finds the next chunk
//! (subscriptions with nothing billed beyond the as-of date, an anti-join on the
//! `billed_periods` key, and customers with charges waiting), two read their subscriptions and
//! charges, [`plan_lines`] computes every line, and `write` computes every row of the chunk's
//! invoices, lines, billed periods and audit entries once, numbered from one block reserved in
//! the gapless sequence. A preview rolls every chunk back. A re-run with nothing due is one
//! empty index walk.
//!
//! A chunk is one bulk transaction ([`crate::db::Db::bulk`]): on SQLite on a blocking thread,
//! with cached 64-row statements; on PostgreSQL with multi-row INSERTs of up to 1,000 rows;
//! the same SQL text on both (see `exec`).
//!
//! Each billed cycle is a `billed_periods` row whose primary key is (tenant, subscription,
//! period start), so a second run, or two runs at once, cannot bill a cycle twice; a run that
//! dies mid-way leaves only whole chunks of whole invoices behind and the next run carries on.
//! SQLite serialises the chunks (`BEGIN IMMEDIATE`); on PostgreSQL a chunk locks its
//! customers in id order (as [`super::lock_customers`] does), so payments and voids of those
//! customers, and other runs, wait for it.
//!
//! With the tenant's `draft_invoices` setting a run creates DRAFT invoices: no number, no
//! credit applied, outside balances, dunning and reports until [`super::invoices::issue`].

mod exec;
mod write;

use super::proration::{days, prorate, Cycle};
use super::settings::{self, BillingSettings};
use super::tax::{self, Rate};
use super::{fmt_date, BillingMode, LineKind};
use crate::auth::{Action, Actor};
use crate::db::{Arg, Backend, FromRow, Tx, TxFuture};
use crate::error::{CoreError, CoreResult};
use crate::store::plans::BillingPeriod;
use crate::Ctx;
use chrono::{Duration, NaiveDate};
use exec::values_sql;
use std::collections::HashMap;

/// Customers billed per transaction. Larger chunks spread each transaction's fixed costs
/// (the due walk's seek, the number block, the commit and its WAL pages) over more invoices:
/// 100k invoices on SQLite cost 1.75 s CPU in chunks of 500, 1.35 s in chunks of 2,000. A
/// chunk holds the write lock (SQLite) or its customers' row locks (PostgreSQL) for ~30 ms.
pub const CHUNK: usize = 2000;

/// Most cycles one subscription is billed for in one run (catching up after downtime).
const MAX_CYCLES: usize = 400;

/// A subscription as billing sees it.
#[derive(Debug, Clone, FromRow)]
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
#[derive(Debug, Clone, FromRow)]
pub struct PendingCharge {
    /// Customer billed.
    pub customer_id: i64,
    /// Charge id.
    pub id: i64,
    /// Subscription it concerns.
    pub subscription_id: Option<i64>,
    /// ONE_OFF, CREDIT or ADJUSTMENT.
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
        // On shutdown, stop between chunks: what is committed stays, the next run goes on.
        ctx.check_running("the billing run")?;
        let mut tries = 0;
        let chunk = loop {
            let job = ChunkJob {
                actor: actor.clone(),
                as_of,
                opts,
                size,
                after,
                run_id: out.run_id,
                invoices_before: out.invoices,
                now: ctx.now_ms(),
            };
            match bill_chunk(ctx, job).await {
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
            out.subtotal = super::sum_minor("billing run subtotal", [out.subtotal, inv.subtotal])?;
            out.tax = super::sum_minor("billing run tax", [out.tax, inv.tax])?;
            out.total = super::sum_minor("billing run total", [out.total, inv.total])?;
            if out.planned.len() < opts.keep {
                out.planned.push(inv);
            }
        }
    }
    if !opts.dry_run && out.invoices > 0 {
        tracing::info!(tenant = actor.tenant_id, as_of = %as_of, invoices = out.invoices, total = out.total,
            drafts = out.drafts, run = ?out.run_id, "billing run");
        // The invoices' messages are committed: the delivery worker need not wait for its poll.
        ctx.notify_wakeup.notify_one();
    }
    Ok(out)
}

/// One chunk to bill: the next `size` customers after customer id `after`.
struct ChunkJob {
    actor: Actor,
    as_of: NaiveDate,
    opts: RunOptions,
    size: usize,
    after: i64,
    /// The run's `billing_runs` row, once an earlier chunk created it.
    run_id: Option<i64>,
    /// Invoices the earlier chunks created (for [`RunOptions::crash_after`]).
    invoices_before: usize,
    /// The injected clock's time for every row of the chunk.
    now: i64,
}

/// Bills one chunk in one bulk transaction (rolled back for a preview); None when no customer
/// is left.
async fn bill_chunk(ctx: &Ctx, job: ChunkJob) -> CoreResult<Option<Chunk>> {
    let dry = job.opts.dry_run;
    let chunk =
        if dry { ctx.db.bulk_rolled_back(chunk_work(job)).await? } else { ctx.db.bulk(chunk_work(job)).await? };
    Ok(chunk.map(|mut c| {
        if dry {
            for inv in &mut c.invoices {
                (inv.invoice_id, inv.number) = (None, None);
            }
            c.run_id = None;
        }
        c
    }))
}

fn chunk_work(job: ChunkJob) -> impl for<'t> FnOnce(&'t mut Tx) -> TxFuture<'t, Option<Chunk>> + Send + 'static {
    move |tx| Box::pin(async move { chunk(tx, &job).await })
}

/// Reads, plans and writes one chunk inside the caller's transaction.
async fn chunk(x: &mut Tx, job: &ChunkJob) -> CoreResult<Option<Chunk>> {
    let t = job.actor.tenant_id;
    let as_of = job.as_of;
    let s: BillingSettings = x.fetch_optional(&settings::select_sql(), &[Arg::I(t)]).await?.unwrap_or_default();
    let ids = due_customers(x, t, &s, as_of, job.after, job.size).await?;
    let Some(&last_customer) = ids.last() else { return Ok(None) };
    if x.backend() == Backend::Postgres {
        // Customers in id order, so that two runs cannot deadlock (see [`super::lock_customers`]).
        let sql = format!(
            "SELECT id FROM customers WHERE tenant_id = {t} AND id IN {} ORDER BY id FOR UPDATE",
            values_sql(x.backend(), "(", "?", ids.len(), ")")
        );
        x.fetch_all::<(i64,)>(&sql, &int_args(&ids)).await?;
    }
    let rates = settings::rate_map_of(x.fetch_all(settings::RATES_SQL, &[Arg::I(t)]).await?);
    let (subs, charges) = load(x, t, &ids).await?;
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
    let mut run_id = job.run_id;
    if !invoices.is_empty() {
        run_id = Some(write::write(x, job, &s, &mut invoices).await?);
        if job.opts.crash_after.is_some_and(|n| job.invoices_before + invoices.len() > n) {
            return Err(CoreError::internal("billing run stopped by a test after writing a chunk"));
        }
    }
    let drafts = s.draft_invoices != 0;
    Ok(Some(Chunk { last_customer, checked: ids.len(), run_id, drafts, invoices }))
}

fn int_args(ids: &[i64]) -> Vec<Arg> {
    ids.iter().map(|&i| Arg::I(i)).collect()
}

/// Customers with a subscription that may be due as of a horizon date (below), after id `$2`.
const DUE_SUBSCRIPTIONS_SQL: &str = "SELECT DISTINCT s.customer_id FROM subscriptions s WHERE s.tenant_id = $1 \
     AND s.customer_id > $2 AND s.status IN ('ACTIVE', 'SUSPENDED') AND s.start_date <= $3 AND NOT EXISTS \
     (SELECT 1 FROM billed_periods b WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id AND b.period_end > $3) \
     ORDER BY s.customer_id LIMIT $4";

/// Customers with a charge waiting, after id `$2`.
const DUE_CHARGES_SQL: &str = "SELECT DISTINCT customer_id FROM charges WHERE tenant_id = $1 AND customer_id > $2 \
     AND invoice_id IS NULL ORDER BY customer_id LIMIT $3";

/// The next `limit` customers after id `after` with a subscription that may be due or a
/// charge waiting, in id order. A subscription is a candidate when nothing is billed beyond
/// the horizon (the as-of date for prepaid, the day before for postpaid, which bills a cycle
/// only once it has ended); [`plan_lines`] then decides exactly.
async fn due_customers(
    x: &mut Tx,
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
    let n = limit as i64;
    let subs: Vec<(i64,)> = x
        .fetch_all(DUE_SUBSCRIPTIONS_SQL, &[Arg::I(t), Arg::I(after), Arg::text(fmt_date(horizon)), Arg::I(n)])
        .await?;
    let charged: Vec<(i64,)> = x.fetch_all(DUE_CHARGES_SQL, &[Arg::I(t), Arg::I(after), Arg::I(n)]).await?;
    Ok(merge_ids(subs.into_iter().map(|r| r.0), charged.into_iter().map(|r| r.0), limit))
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
async fn load(x: &mut Tx, t: i64, customers: &[i64]) -> CoreResult<(Vec<BillableSubscription>, Vec<PendingCharge>)> {
    let ids = values_sql(x.backend(), "(", "?", customers.len(), ")");
    let args = int_args(customers);
    let sql = format!(
        "SELECT s.customer_id, s.id, s.username, s.start_date, s.plan_id, p.name AS plan_name, p.price_minor, p.billing_period, \
         p.tax_class, (SELECT MAX(b.period_end) FROM billed_periods b WHERE b.tenant_id = s.tenant_id AND b.subscription_id = s.id) \
         AS billed_until FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         WHERE s.customer_id IN {ids} AND s.status IN ('ACTIVE', 'SUSPENDED') AND s.tenant_id = {t} ORDER BY s.customer_id, s.id"
    );
    let subs = x.fetch_all(&sql, &args).await?;
    let sql = format!(
        "SELECT customer_id, id, subscription_id, kind, description, amount_minor, tax_class FROM charges \
         WHERE customer_id IN {ids} AND invoice_id IS NULL AND tenant_id = {t} ORDER BY customer_id, id"
    );
    Ok((subs, x.fetch_all(&sql, &args).await?))
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
        let s = BillingSettings { billing_day: Some(1), ..Default::default() };
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
