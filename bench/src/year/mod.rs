//! "A year of an ISP": the fixture the GraphQL basket runs on. On a scratch store with the
//! benchmark tenant, it sets up staff, plans, NAS and devices through the workflows, then
//! writes a year of customers, subscriptions, billing, RADIUS and operations history with bulk
//! SQL, every size scaled from the number of customers:
//!
//! | rows | per customer |
//! |---|---|
//! | customers, subscriptions (all access types and statuses) | 1 |
//! | invoices (12 billing months, credit notes), lines, billed periods | ~11.5, ~11.6, ~11.5 |
//! | payments, allocations (gateway events for online ones) | ~11, ~11 |
//! | RADIUS sessions, usage periods (PPPoE and hotspot subscribers) | ~10, ~9 |
//! | audit log | ~13 |
//! | auth log (last 90 days) | ~3 |
//! | device jobs, dunning events | ~0.4, ~0.5 |
//! | tickets (a year of the helpdesk), their messages, escalations | 1, ~10, ~0.15 |
//!
//! See `bench/README.md` for what the data looks like and why.

mod billing;
mod model;
pub mod names;
mod ops;
mod people;
mod radius;
mod rows;
mod setup;
mod tickets;

pub use model::{Calendar, MONTHS};

use anyhow::{Context, Result};
use isp_core::auth::Actor;
use isp_core::Ctx;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What seeding wrote and how long each part took.
pub struct Summary {
    /// Rows per table written in bulk.
    pub rows: BTreeMap<&'static str, u64>,
    /// Seconds per part, in order.
    pub parts: Vec<(&'static str, Duration)>,
    /// Wall time of the whole fixture.
    pub total: Duration,
}

impl Summary {
    /// All bulk rows.
    pub fn total_rows(&self) -> u64 {
        self.rows.values().sum()
    }

    /// One line per table and a line of timings, for the terminal.
    pub fn print(&self) {
        let parts: Vec<String> = self.parts.iter().map(|(n, d)| format!("{n} {:.1} s", d.as_secs_f64())).collect();
        eprintln!("seeded {} rows in {:.1} s ({}):", self.total_rows(), self.total.as_secs_f64(), parts.join(", "));
        for (t, n) in &self.rows {
            eprintln!("  {t:<24} {n:>10}");
        }
    }

    /// The machine-readable form.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "seconds": (self.total.as_secs_f64() * 100.0).round() / 100.0,
            "rows": self.rows,
            "parts": self.parts.iter().map(|(n, d)| ((*n).to_string(), (d.as_secs_f64() * 100.0).round() / 100.0))
                .collect::<BTreeMap<String, f64>>(),
        })
    }
}

/// Seeds a year of `customers` customers into the tenant `owner` owns.
pub async fn seed(ctx: &Ctx, owner: &Actor, customers: usize) -> Result<Summary> {
    let started = Instant::now();
    let mut parts = Vec::new();
    let mut lap = Instant::now();
    let mut mark = |name: &'static str, parts: &mut Vec<(&'static str, Duration)>| {
        parts.push((name, lap.elapsed()));
        lap = Instant::now();
    };
    let db = &ctx.db;
    let tenant = owner.tenant_id;
    let setup = setup::run(ctx, owner, customers).await.context("setting up staff, plans and devices")?;
    mark("setup", &mut parts);

    let cal = Calendar::new(ctx.now_ms());
    let model = model::build(
        customers,
        &cal,
        &setup,
        rows::next_id(db, "customers").await?,
        rows::next_id(db, "subscriptions").await?,
    );
    let mut w = rows::Writer::new(db);
    let mut log = ops::Log::default();
    people::write(&mut w, &mut log, ctx, &model, &setup, &cal, tenant).await.context("customers")?;
    w.flush().await?;
    mark("customers", &mut parts);

    let ids = billing::Ids {
        run: rows::next_id(db, "billing_runs").await?,
        invoice: rows::next_id(db, "invoices").await?,
        line: rows::next_id(db, "invoice_lines").await?,
        charge: rows::next_id(db, "charges").await?,
        payment: rows::next_id(db, "payments").await?,
        allocation: rows::next_id(db, "payment_allocations").await?,
    };
    let billed = billing::write(&mut w, &mut log, &model, &setup, &cal, tenant, ids).await.context("billing")?;
    w.flush().await?;
    mark("billing", &mut parts);

    let first = (
        rows::next_id(db, "radius_sessions").await?,
        rows::next_id(db, "radius_usage").await?,
        rows::next_id(db, "auth_log").await?,
    );
    radius::write(&mut w, &mut log, &model, &setup, &cal, tenant, first).await.context("RADIUS")?;
    w.flush().await?;
    mark("radius", &mut parts);

    let first = (
        rows::next_id(db, "audit_log").await?,
        rows::next_id(db, "device_jobs").await?,
        rows::next_id(db, "dunning_events").await?,
    );
    ops::write(&mut w, &mut log, &model, &setup, &cal, tenant, first).await.context("audit and jobs")?;
    w.finish().await?;
    people::finish(db, &model, &billed.reasons, tenant).await.context("status reasons")?;
    rows::fix_sequences(
        db,
        &[
            "customers",
            "subscriptions",
            "billing_runs",
            "invoices",
            "invoice_lines",
            "charges",
            "payments",
            "payment_allocations",
            "radius_sessions",
            "radius_usage",
            "auth_log",
            "audit_log",
            "device_jobs",
            "dunning_events",
        ],
    )
    .await?;
    mark("audit+jobs", &mut parts);

    let desk = tickets::write(ctx, owner, &model, &setup, &cal).await.context("tickets")?;
    rows::fix_sequences(db, &["tickets", "ticket_messages", "ticket_escalations"]).await?;
    mark("tickets", &mut parts);

    // The year is billed up to today: a billing run now must find nothing to bill.
    let preview = isp_core::billing::run::preview(ctx, owner, cal.today, 0).await.context("billing preview")?;
    anyhow::ensure!(
        preview.invoices == 0,
        "the fixture is inconsistent: a billing run as of {} would create {} invoices",
        cal.today,
        preview.invoices
    );
    mark("check", &mut parts);
    let mut rows = w.counts.clone();
    rows.extend(desk);
    Ok(Summary { rows, parts, total: started.elapsed() })
}
