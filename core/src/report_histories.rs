//! The billing reports ([`crate::billing::reports`]) read aggregates that triggers maintain
//! (migration 0009); this test holds them to the full scans they replaced. It sits above the
//! workflows it drives, like the seed. Randomized billing histories are built through the real
//! workflows (customers, subscriptions with status and plan changes, billing runs with and
//! without drafts, charges, payments naming invoices or not, backdated and partial payments,
//! refunds, voids with their credit notes, issuing and deleting drafts, dunning), plus the
//! writes no workflow makes yet but the triggers must survive (many-row UPDATEs of dates,
//! statuses, plans and amounts, and deleted lines, payments, invoices and subscriptions). After
//! each batch, on SQLite and (with `TEST_DATABASE_URL`) on PostgreSQL:
//! - the four report functions answer exactly what the old full-scan SQL (kept here as the
//!   reference) answers, over several date ranges and ageing dates;
//! - every aggregate row of the tenant equals what the migration's back-fill computes from
//!   scratch (run in a transaction that is rolled back), so a key outside the ranges asked
//!   cannot drift either, and the back-fill itself is checked.

use crate::auth::Actor;
use crate::billing::payments::NewPayment;
use crate::billing::proration::round_div;
use crate::billing::reports::{ageing, collections, mrr, revenue_by_plan, Ageing, MonthCollection, PlanRevenue};
use crate::billing::settings;
use crate::billing::{fmt_date, parse_date, run, PaymentMethod};
use crate::clock::ManualClock;
use crate::config::Config;
use crate::db::{query_as, Arg, Backend, Db, Executor};
use crate::error::{CoreError, CoreResult};
use crate::patch::Patch;
use crate::store::plans::{BillingPeriod, PlanInput};
use crate::store::subscriptions::{AccessType, SubscriptionStatus};
use crate::store::tenants::NewTenant;
use crate::workflows::customers::CustomerPatch;
use crate::workflows::staff::Registration;
use crate::workflows::subscriptions::SubscriptionPatch;
use crate::workflows::{
    billing_settings, charges, customers, dunning, invoices, payments, plans, staff, subscriptions,
};
use crate::Ctx;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static N: AtomicU64 = AtomicU64::new(0);

/// The migration whose back-fill rebuilds the aggregates from scratch.
const MIGRATION: [&str; 2] = [
    include_str!("../../migrations/sqlite/0009_report_aggregates.sql"),
    include_str!("../../migrations/postgres/0009_report_aggregates.sql"),
];

/// The aggregate tables and their columns, keys first.
const TABLES: &[(&str, &str)] = &[
    ("report_plan_subscriptions", "plan_id, subscriptions"),
    ("report_plan_revenue_days", "day, plan_id, net_minor, lines"),
    ("report_invoiced_days", "day, invoices, total_minor"),
    ("report_collected_days", "day, payments, collected_minor"),
    ("report_receivables", "due_date, invoices, open_minor"),
];

/// xorshift64*: a reproducible history per seed, without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, v: &[T]) -> Option<T> {
        (!v.is_empty()).then(|| v[self.below(v.len() as u64) as usize])
    }
}

/// A workflow's result; validation errors, conflicts and missing rows are what random
/// operations run into (refunding too much, voiding twice), anything else fails the test.
fn soft<T>(r: CoreResult<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(CoreError::Validation { .. } | CoreError::Conflict { .. } | CoreError::NotFound(_)) => None,
        Err(e) => panic!("{}", e.chain()),
    }
}

// The reference: the reports as they were, scanning the source tables.

async fn old_mrr(db: &Db, t: i64) -> i64 {
    let rows: Vec<(i64, BillingPeriod, i64)> = query_as(
        "SELECT p.price_minor, p.billing_period, COUNT(*) FROM subscriptions s JOIN plans p ON p.tenant_id = s.tenant_id AND p.id = s.plan_id \
         WHERE s.tenant_id = $1 AND s.status = 'ACTIVE' GROUP BY p.id, p.price_minor, p.billing_period",
    )
    .bind(t)
    .fetch_all(db)
    .await
    .unwrap();
    let twelfths: i128 = rows
        .iter()
        .map(|(price, period, n)| {
            let per_year = match period {
                BillingPeriod::Monthly => 12,
                BillingPeriod::Quarterly => 4,
                BillingPeriod::SemiAnnual => 2,
                BillingPeriod::Yearly => 1,
                BillingPeriod::Weekly => 52,
                BillingPeriod::Daily => 365,
            };
            i128::from(*price) * per_year * i128::from(*n)
        })
        .sum();
    round_div(twelfths, 12)
}

async fn old_revenue_by_plan(db: &Db, t: i64, from: &str, to: &str) -> Vec<(i64, String, i64, i64)> {
    let rows = query_as::<PlanRevenue>(
        "SELECT l.plan_id, p.name AS plan_name, CAST(SUM(l.net_minor) AS BIGINT) AS net_minor, COUNT(*) AS lines \
         FROM invoice_lines l JOIN invoices i ON i.tenant_id = l.tenant_id AND i.id = l.invoice_id \
         JOIN plans p ON p.tenant_id = l.tenant_id AND p.id = l.plan_id \
         WHERE l.tenant_id = $1 AND l.kind = 'SUBSCRIPTION' AND i.kind = 'INVOICE' AND i.status NOT IN ('VOID', 'DRAFT') \
         AND i.issue_date >= $2 AND i.issue_date <= $3 GROUP BY l.plan_id, p.name ORDER BY net_minor DESC, l.plan_id",
    )
    .bind(t)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.plan_id, r.plan_name, r.net_minor, r.lines)).collect()
}

async fn old_collections(db: &Db, t: i64, from: &str, to: &str) -> Vec<MonthCollection> {
    let invoiced: Vec<(String, i64)> = query_as(
        "SELECT SUBSTR(issue_date, 1, 7) AS m, CAST(SUM(total_minor) AS BIGINT) FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' \
         AND status NOT IN ('VOID', 'DRAFT') AND issue_date >= $2 AND issue_date <= $3 GROUP BY SUBSTR(issue_date, 1, 7)",
    )
    .bind(t)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
    .unwrap();
    let collected: Vec<(String, i64)> = query_as(
        "SELECT SUBSTR(received_on, 1, 7) AS m, CAST(SUM(amount_minor - refunded_minor) AS BIGINT) FROM payments WHERE tenant_id = $1 \
         AND received_on >= $2 AND received_on <= $3 GROUP BY SUBSTR(received_on, 1, 7)",
    )
    .bind(t)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await
    .unwrap();
    let mut months: Vec<String> = invoiced.iter().chain(collected.iter()).map(|(m, _)| m.clone()).collect();
    months.sort();
    months.dedup();
    months
        .into_iter()
        .map(|m| {
            let inv = invoiced.iter().find(|(x, _)| *x == m).map_or(0, |r| r.1);
            let col = collected.iter().find(|(x, _)| *x == m).map_or(0, |r| r.1);
            let rate = (inv > 0).then(|| round_div(i128::from(col) * 10_000, i128::from(inv)));
            MonthCollection { month: m, invoiced_minor: inv, collected_minor: col, collection_rate_bp: rate }
        })
        .collect()
}

async fn old_ageing(db: &Db, t: i64, as_of: NaiveDate) -> Ageing {
    let rows: Vec<(String, i64)> = query_as(
        "SELECT due_date, total_minor - paid_minor FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' \
         AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')",
    )
    .bind(t)
    .fetch_all(db)
    .await
    .unwrap();
    let mut a = Ageing::default();
    for (due, owed) in rows {
        let late = (as_of - parse_date("dueDate", &due).unwrap()).num_days();
        let bucket = match late {
            i64::MIN..=0 => &mut a.current_minor,
            1..=30 => &mut a.days_1_30_minor,
            31..=60 => &mut a.days_31_60_minor,
            61..=90 => &mut a.days_61_90_minor,
            _ => &mut a.over_90_minor,
        };
        *bucket += owed;
        a.total_minor += owed;
    }
    a
}

/// Every aggregate row of tenant `t`, per table, as text.
async fn aggregate_rows(ex: impl Executor + Copy, t: i64) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for (table, cols) in TABLES {
        let sql = format!(
            "SELECT {} FROM {table} WHERE tenant_id = $1 ORDER BY {cols}",
            cols.split(", ").map(|c| format!("CAST({c} AS TEXT)")).collect::<Vec<_>>().join(" || ' ' || ")
        );
        let rows: Vec<(String,)> = query_as(&sql).bind(t).fetch_all(ex).await.unwrap();
        out.insert(*table, rows.into_iter().map(|r| r.0).collect());
    }
    out
}

/// The aggregate rows of tenant `t` as the migration's back-fill computes them from the source
/// rows (every aggregate row emptied and rebuilt in a transaction that is then rolled back).
async fn rebuilt_rows(db: &Db, t: i64) -> BTreeMap<&'static str, Vec<String>> {
    let migration = MIGRATION[usize::from(db.backend() == Backend::Postgres)];
    let backfill = migration.split("-- What is already there.").nth(1).expect("the back-fill section");
    let mut tx = db.begin().await.unwrap();
    for (table, _) in TABLES {
        tx.execute(&format!("DELETE FROM {table}"), &[]).await.unwrap();
    }
    for stmt in backfill.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        tx.execute(stmt, &[]).await.unwrap_or_else(|e| panic!("{}\n{stmt}", e.chain()));
    }
    let mut out = BTreeMap::new();
    for (table, cols) in TABLES {
        let sql = format!(
            "SELECT {} FROM {table} WHERE tenant_id = $1 ORDER BY {cols}",
            cols.split(", ").map(|c| format!("CAST({c} AS TEXT)")).collect::<Vec<_>>().join(" || ' ' || ")
        );
        let rows: Vec<(String,)> = tx.fetch_all(&sql, &[Arg::I(t)]).await.unwrap();
        out.insert(*table, rows.into_iter().map(|r| r.0).collect());
    }
    drop(tx);
    out
}

/// The reports of `actor`'s tenant against the reference, and its aggregate rows against a
/// rebuild; `step` names the point of the history for failure messages.
async fn compare(db: &Db, actor: &Actor, today: NaiveDate, step: &str) {
    let t = actor.tenant_id;
    let d = |y: i32, m: u32, day: u32| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let month_start = today.with_day(1).unwrap();
    let ranges = [
        (d(2000, 1, 1), d(2100, 1, 1)),
        (month_start, today),
        (today - Duration::days(45), today - Duration::days(12)),
        (today, today),
        (month_start - Duration::days(1), month_start - Duration::days(1)),
        (today - Duration::days(400), today - Duration::days(31)),
        (today + Duration::days(1), today + Duration::days(90)),
        (today, today - Duration::days(5)),
    ];
    assert_eq!(mrr(db, actor).await.unwrap(), old_mrr(db, t).await, "mrr at {step}");
    for (from, to) in ranges {
        let (f, tt) = (fmt_date(from), fmt_date(to));
        let new: Vec<(i64, String, i64, i64)> = revenue_by_plan(db, actor, from, to)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.plan_id, r.plan_name, r.net_minor, r.lines))
            .collect();
        assert_eq!(new, old_revenue_by_plan(db, t, &f, &tt).await, "revenue by plan {f}..{tt} at {step}");
        assert_eq!(
            collections(db, actor, from, to).await.unwrap(),
            old_collections(db, t, &f, &tt).await,
            "collections {f}..{tt} at {step}"
        );
    }
    for days in [-400, -45, -1, 0, 1, 29, 30, 31, 61, 90, 91, 200] {
        let as_of = today + Duration::days(days);
        assert_eq!(ageing(db, actor, as_of).await.unwrap(), old_ageing(db, t, as_of).await, "ageing {as_of} at {step}");
    }
    assert_eq!(aggregate_rows(db, t).await, rebuilt_rows(db, t).await, "aggregate rows at {step}");
}

/// One tenant's history in the making.
struct History {
    ctx: Ctx,
    clock: ManualClock,
    actor: Actor,
    rng: Rng,
    plans: Vec<i64>,
    customers: Vec<i64>,
    subscriptions: Vec<i64>,
    logins: usize,
    today: NaiveDate,
}

impl History {
    async fn new(ctx: &Ctx, clock: &ManualClock, seed: u64) -> Self {
        let actor = scratch_tenant(ctx, "rep", "USD", "UTC", "reports-test").await;
        let mut h = Self {
            ctx: ctx.clone(),
            clock: clock.clone(),
            actor,
            rng: Rng(seed.max(1)),
            plans: Vec::new(),
            customers: Vec::new(),
            subscriptions: Vec::new(),
            logins: 0,
            today: NaiveDate::from_ymd_opt(2024, 1, 10).unwrap(),
        };
        h.set_day(h.today);
        let rate = settings::TaxRate {
            tax_class: "standard".into(),
            name: "VAT 16%".into(),
            rate_bp: 1600,
            inclusive: h.rng.chance(50),
        };
        billing_settings::set_tax_rate(ctx, &h.actor, &rate).await.unwrap();
        for (price, period) in [
            (3100, BillingPeriod::Monthly),
            (8000, BillingPeriod::Quarterly),
            (700, BillingPeriod::Weekly),
            (29_900, BillingPeriod::Yearly),
            (4500, BillingPeriod::Monthly),
        ] {
            let input = PlanInput {
                name: format!("Plan {price}"),
                description: None,
                price_minor: price,
                billing_period: period,
                download_kbps: 50_000,
                upload_kbps: 10_000,
                burst: None,
                data_quota: None,
                time_quota_secs: None,
                access_types: vec![AccessType::Pppoe],
                ip_pool: None,
            };
            h.plans.push(plans::create(ctx, &h.actor, &input).await.unwrap().id);
        }
        h
    }

    fn set_day(&mut self, day: NaiveDate) {
        self.today = day;
        self.clock.set(Utc.from_utc_datetime(&day.and_hms_opt(12, 0, 0).unwrap()));
    }

    fn db(&self) -> &Db {
        &self.ctx.db
    }

    async fn ids(&self, sql: &str) -> Vec<i64> {
        let rows: Vec<(i64,)> = query_as(sql).bind(self.actor.tenant_id).fetch_all(self.db()).await.unwrap();
        rows.into_iter().map(|r| r.0).collect()
    }

    /// Runs `sql` with `$1` the tenant; a statement the schema refuses (a foreign key) is
    /// skipped, like a workflow's refusal.
    async fn raw(&self, sql: &str) {
        let r = self.db().execute(sql, &[Arg::I(self.actor.tenant_id)]).await;
        if let Err(e) = r {
            assert!(e.chain().to_lowercase().contains("foreign key"), "{}\n{sql}", e.chain());
        }
    }

    async fn new_subscriber(&mut self) {
        let name = format!("Customer {}", self.customers.len() + 1);
        let c = customers::create(&self.ctx, &self.actor, &CustomerPatch { name: Some(name), ..Default::default() })
            .await
            .unwrap();
        self.customers.push(c.id);
        let subs = 1 + usize::from(self.rng.chance(25));
        for _ in 0..subs {
            self.logins += 1;
            let start = self.today + Duration::days(self.rng.range(-20, 10));
            let p = SubscriptionPatch {
                customer_id: Some(c.id),
                plan_id: self.rng.pick(&self.plans),
                access_type: Some(AccessType::Pppoe),
                username: Some(format!("u{}-{}", self.actor.tenant_id, self.logins)),
                password: Patch::Set("s3cret-pw".into()),
                start_date: Some(fmt_date(start)),
                status: Some(if self.rng.chance(80) {
                    SubscriptionStatus::Active
                } else {
                    SubscriptionStatus::Pending
                }),
                ..Default::default()
            };
            let s = subscriptions::create(&self.ctx, &self.actor, &p).await.unwrap();
            self.subscriptions.push(s.id);
        }
    }

    async fn pay(&mut self) {
        let Some(customer) = self.rng.pick(&self.customers) else { return };
        let (owed,): (i64,) = query_as(
            "SELECT CAST(COALESCE(SUM(total_minor - paid_minor), 0) AS BIGINT) FROM invoices WHERE tenant_id = $1 \
             AND customer_id = $2 AND kind = 'INVOICE' AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE')",
        )
        .bind(self.actor.tenant_id)
        .bind(customer)
        .fetch_one(self.db())
        .await
        .unwrap();
        let amount = match self.rng.below(4) {
            0 if owed > 0 => owed,
            1 if owed > 1 => self.rng.range(1, owed - 1),
            2 => owed + self.rng.range(1, 5000),
            _ => self.rng.range(1, 20_000),
        };
        let named = if self.rng.chance(30) {
            let open = self
                .ids(&format!(
                    "SELECT id FROM invoices WHERE tenant_id = $1 AND customer_id = {customer} AND kind = 'INVOICE' \
                     AND status IN ('ISSUED', 'PARTIALLY_PAID', 'OVERDUE') ORDER BY id DESC"
                ))
                .await;
            (!open.is_empty()).then_some(open)
        } else {
            None
        };
        let received = self.today - Duration::days(if self.rng.chance(30) { self.rng.range(1, 40) } else { 0 });
        let p = NewPayment {
            customer_id: customer,
            amount_minor: amount,
            method: PaymentMethod::Cash,
            reference: None,
            received_on: Some(fmt_date(received)),
            invoice_ids: named,
        };
        soft(payments::record(&self.ctx, &self.actor, &p).await);
    }

    /// One random operation.
    async fn step(&mut self) {
        let t = self.actor.tenant_id;
        match self.rng.below(100) {
            0..=11 => self.new_subscriber().await,
            12..=21 => {
                soft(run::run(&self.ctx, &self.actor, self.today).await);
            }
            22..=36 => self.pay().await,
            37..=41 => {
                let refundable = self
                    .ids("SELECT id FROM payments WHERE tenant_id = $1 AND amount_minor > refunded_minor ORDER BY id")
                    .await;
                if let Some(id) = self.rng.pick(&refundable) {
                    let p = crate::billing::payments::get(self.db(), t, id).await.unwrap();
                    let left = p.amount_minor - p.refunded_minor;
                    let amount = if self.rng.chance(40) { left } else { self.rng.range(1, left) };
                    soft(payments::refund(&self.ctx, &self.actor, id, amount, "test refund").await);
                }
            }
            42..=46 => {
                let ids =
                    self.ids("SELECT id FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' ORDER BY id").await;
                if let Some(id) = self.rng.pick(&ids) {
                    soft(invoices::void(&self.ctx, &self.actor, id, "test void").await);
                }
            }
            47..=50 => {
                let mut s = settings::get(self.db(), t).await.unwrap();
                s.draft_invoices = 1 - s.draft_invoices;
                // None bills on each subscription's anniversary.
                let day = self.rng.range(0, 3) * 5;
                s.billing_day = (day > 0).then_some(day);
                s.overdue_after_days = self.rng.range(0, 5);
                s.payment_terms_days = self.rng.range(0, 30);
                billing_settings::update(&self.ctx, &self.actor, &s).await.unwrap();
            }
            51..=56 => {
                let drafts =
                    self.ids("SELECT id FROM invoices WHERE tenant_id = $1 AND status = 'DRAFT' ORDER BY id").await;
                let some: Vec<i64> = drafts.into_iter().filter(|_| self.rng.chance(60)).collect();
                if !some.is_empty() {
                    soft(invoices::issue(&self.ctx, &self.actor, &some).await);
                }
            }
            57..=59 => {
                let drafts =
                    self.ids("SELECT id FROM invoices WHERE tenant_id = $1 AND status = 'DRAFT' ORDER BY id").await;
                if let Some(id) = self.rng.pick(&drafts) {
                    soft(invoices::delete_draft(&self.ctx, &self.actor, id).await);
                }
            }
            60..=66 => {
                let Some(id) = self.rng.pick(&self.subscriptions) else { return };
                let to = match self.rng.below(4) {
                    0 => SubscriptionStatus::Suspended,
                    1 => SubscriptionStatus::Cancelled,
                    _ => SubscriptionStatus::Active,
                };
                if to == SubscriptionStatus::Cancelled && self.rng.chance(50) {
                    soft(subscriptions::cancel(&self.ctx, &self.actor, id, None, None).await);
                } else {
                    soft(subscriptions::change_status(&self.ctx, &self.actor, id, to, None).await);
                }
            }
            67..=71 => {
                let (Some(id), Some(plan)) = (self.rng.pick(&self.subscriptions), self.rng.pick(&self.plans)) else {
                    return;
                };
                if self.rng.chance(50) {
                    soft(subscriptions::change_plan(&self.ctx, &self.actor, id, plan, None).await);
                } else {
                    let p = SubscriptionPatch { plan_id: Some(plan), ..Default::default() };
                    soft(subscriptions::update(&self.ctx, &self.actor, id, &p).await);
                }
            }
            72..=75 => {
                let Some(c) = self.rng.pick(&self.customers) else { return };
                let amount = if self.rng.chance(25) { -self.rng.range(1, 2000) } else { self.rng.range(1, 9000) };
                let charge = charges::NewCharge {
                    customer_id: c,
                    subscription_id: None,
                    description: "test charge",
                    amount_minor: amount,
                    credit: amount < 0,
                    tax_class: None,
                };
                soft(charges::add(&self.ctx, &self.actor, &charge).await);
            }
            76..=79 => {
                soft(dunning::run(&self.ctx, &self.actor, self.today).await);
            }
            80 => {
                if self.plans.len() > 2 && self.rng.chance(30) {
                    let id = self.plans.remove(self.rng.below(self.plans.len() as u64) as usize);
                    soft(plans::archive(&self.ctx, &self.actor, id).await);
                }
            }
            // Writes no workflow makes (yet): many rows at once, amounts, dates and deletes.
            81 => {
                let k = self.rng.below(4);
                let due = fmt_date(self.today + Duration::days(self.rng.range(-60, 30)));
                self.raw(&format!("UPDATE invoices SET due_date = '{due}' WHERE tenant_id = $1 AND id % 4 = {k}"))
                    .await;
            }
            82 => {
                let k = self.rng.below(5);
                let day = fmt_date(self.today - Duration::days(self.rng.range(0, 70)));
                self.raw(&format!("UPDATE invoices SET issue_date = '{day}' WHERE tenant_id = $1 AND id % 5 = {k}"))
                    .await;
            }
            83 => {
                let k = self.rng.below(3);
                let day = fmt_date(self.today - Duration::days(self.rng.range(0, 70)));
                self.raw(&format!("UPDATE payments SET received_on = '{day}' WHERE tenant_id = $1 AND id % 3 = {k}"))
                    .await;
            }
            84 => {
                let (k, plan) = (self.rng.below(3), self.rng.pick(&self.plans).unwrap_or_default());
                self.raw(&format!("UPDATE subscriptions SET plan_id = {plan} WHERE tenant_id = $1 AND id % 3 = {k}"))
                    .await;
            }
            85 => {
                let k = self.rng.below(4);
                let sql = match self.rng.below(4) {
                    0 => "net_minor = net_minor + 7".to_string(),
                    1 => format!("plan_id = {}", self.rng.pick(&self.plans).unwrap_or_default()),
                    2 => "kind = CASE WHEN kind = 'SUBSCRIPTION' THEN 'ONE_OFF' ELSE 'SUBSCRIPTION' END".to_string(),
                    _ => "plan_id = NULL".to_string(),
                };
                self.raw(&format!("UPDATE invoice_lines SET {sql} WHERE tenant_id = $1 AND id % 4 = {k}")).await;
            }
            86 => {
                let due = fmt_date(self.today);
                self.raw(&format!(
                    "UPDATE invoices SET status = 'OVERDUE' WHERE tenant_id = $1 AND status IN ('ISSUED', 'PARTIALLY_PAID') \
                     AND due_date < '{due}'"
                ))
                .await;
            }
            87 => {
                let k = self.rng.below(7);
                self.raw(&format!("DELETE FROM invoice_lines WHERE tenant_id = $1 AND id % 7 = {k}")).await;
            }
            88 => {
                let ids = self.ids("SELECT id FROM payments WHERE tenant_id = $1 ORDER BY id").await;
                if let Some(id) = self.rng.pick(&ids) {
                    let mut tx = self.db().begin().await.unwrap();
                    for sql in [
                        "DELETE FROM payment_allocations WHERE tenant_id = $1 AND payment_id = $2",
                        "DELETE FROM refunds WHERE tenant_id = $1 AND payment_id = $2",
                        "DELETE FROM payment_gateway_events WHERE tenant_id = $1 AND payment_id = $2",
                        "DELETE FROM payments WHERE tenant_id = $1 AND id = $2",
                    ] {
                        tx.execute(sql, &[Arg::I(t), Arg::I(id)]).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            }
            89 => {
                let ids =
                    self.ids("SELECT id FROM invoices WHERE tenant_id = $1 AND kind = 'INVOICE' ORDER BY id").await;
                if let Some(id) = self.rng.pick(&ids) {
                    let mut tx = self.db().begin().await.unwrap();
                    for sql in [
                        "DELETE FROM payment_allocations WHERE tenant_id = $1 AND invoice_id = $2",
                        "DELETE FROM billed_periods WHERE tenant_id = $1 AND invoice_id = $2",
                        "UPDATE charges SET invoice_id = NULL WHERE tenant_id = $1 AND invoice_id = $2",
                        "DELETE FROM invoice_lines WHERE tenant_id = $1 AND invoice_id IN \
                         (SELECT id FROM invoices WHERE tenant_id = $1 AND (id = $2 OR original_invoice_id = $2))",
                        "DELETE FROM invoices WHERE tenant_id = $1 AND original_invoice_id = $2",
                        "DELETE FROM invoices WHERE tenant_id = $1 AND id = $2",
                    ] {
                        tx.execute(sql, &[Arg::I(t), Arg::I(id)])
                            .await
                            .unwrap_or_else(|e| panic!("{}\n{sql}", e.chain()));
                    }
                    tx.commit().await.unwrap();
                }
            }
            90 => {
                if let Some(id) = self.rng.pick(&self.subscriptions) {
                    self.raw(&format!(
                        "DELETE FROM subscriptions WHERE tenant_id = $1 AND id = {id} \
                         AND NOT EXISTS (SELECT 1 FROM billed_periods b WHERE b.subscription_id = subscriptions.id)"
                    ))
                    .await;
                    let gone =
                        self.ids(&format!("SELECT id FROM subscriptions WHERE tenant_id = $1 AND id = {id}")).await;
                    if gone.is_empty() {
                        self.subscriptions.retain(|s| *s != id);
                    }
                }
            }
            _ => {
                let subs = self
                    .ids("SELECT id FROM subscriptions WHERE tenant_id = $1 AND status = 'PENDING' ORDER BY id")
                    .await;
                if let Some(id) = self.rng.pick(&subs) {
                    soft(
                        subscriptions::change_status(&self.ctx, &self.actor, id, SubscriptionStatus::Active, None)
                            .await,
                    );
                }
            }
        }
    }
}

/// Two tenants' interleaved histories on `ctx`, compared after every batch.
async fn histories(ctx: Ctx, clock: ManualClock, batches: usize) {
    let seed = 0x5EED_0000 + N.fetch_add(1, Ordering::Relaxed);
    let mut a = History::new(&ctx, &clock, seed).await;
    let mut b = History::new(&ctx, &clock, seed * 31 + 7).await;
    for _ in 0..8 {
        a.new_subscriber().await;
    }
    b.new_subscriber().await;
    for batch in 0..batches {
        let day = a.today + Duration::days(a.rng.range(1, 12));
        for (h, ops) in [(&mut a, if batch < 4 { 14 } else { 8 }), (&mut b, 2)] {
            h.set_day(day);
            for _ in 0..ops {
                h.step().await;
            }
        }
        for h in [&a, &b] {
            compare(&ctx.db, &h.actor, day, &format!("batch {batch} ({day}, seed {seed:#x})")).await;
        }
    }
    // The history went through the states the triggers must follow.
    let kinds: Vec<(String, i64)> =
        query_as("SELECT status, COUNT(*) FROM invoices WHERE tenant_id = $1 GROUP BY status ORDER BY status")
            .bind(a.actor.tenant_id)
            .fetch_all(&ctx.db)
            .await
            .unwrap();
    let seen: Vec<&str> = kinds.iter().map(|k| k.0.as_str()).collect();
    for status in ["ISSUED", "PAID", "VOID"] {
        assert!(seen.contains(&status), "no {status} invoice in the history: {kinds:?}");
    }
    let (refunds,): (i64,) = query_as("SELECT COUNT(*) FROM refunds WHERE tenant_id = $1")
        .bind(a.actor.tenant_id)
        .fetch_one(&ctx.db)
        .await
        .unwrap();
    assert!(refunds > 0, "no refund in the history");
}

/// A tenant of its own (slug `{prefix}-...`, unique per process and call) with an owner; the
/// system actor `name` acting in it. Shared with `report_figures`.
pub(crate) async fn scratch_tenant(ctx: &Ctx, prefix: &str, currency: &str, timezone: &str, name: &str) -> Actor {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos() % 1_000_000_000;
    let slug = format!("{prefix}-{}-{t}-{n}", std::process::id());
    let r = Registration {
        tenant: NewTenant {
            slug: slug.clone(),
            name: slug.clone(),
            currency: currency.into(),
            timezone: timezone.into(),
        },
        owner_email: format!("owner@{slug}.test"),
        owner_name: "Owner".into(),
        owner_password: "correct-horse-9".into(),
    };
    let session = staff::create_tenant_with_owner(ctx, &r, None).await.unwrap();
    Actor::system(session.tenant.id, name)
}

/// A context on a scratch data directory (`database_url` empty: SQLite there) with cheap
/// password hashing and a manual clock set to `start`. Shared with `report_figures`.
pub(crate) async fn scratch_ctx(
    database_url: String,
    label: &str,
    start: chrono::DateTime<Utc>,
) -> (Ctx, ManualClock, std::path::PathBuf) {
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("isp-{label}-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cfg = Config { data_dir: dir.clone(), database_url, db_max_connections: 4, ..Config::default() };
    cfg.auth.argon2_memory_kib = 64;
    cfg.auth.argon2_iterations = 1;
    let clock = ManualClock::new(start);
    let ctx = Ctx::open(cfg, Arc::new(clock.clone())).await.unwrap();
    (ctx, clock, dir)
}

async fn open_ctx(database_url: String) -> (Ctx, ManualClock, std::path::PathBuf) {
    scratch_ctx(database_url, "reports", Utc.with_ymd_and_hms(2024, 1, 10, 12, 0, 0).unwrap()).await
}

#[tokio::test]
async fn report_aggregates_follow_random_histories_on_sqlite() {
    let (ctx, clock, dir) = open_ctx(String::new()).await;
    histories(ctx.clone(), clock, 30).await;
    ctx.db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn report_aggregates_follow_random_histories_on_postgres() {
    let Some(url) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) else {
        eprintln!("skipped: needs TEST_DATABASE_URL");
        return;
    };
    let (ctx, clock, dir) = open_ctx(url).await;
    histories(ctx.clone(), clock, 30).await;
    ctx.db.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
