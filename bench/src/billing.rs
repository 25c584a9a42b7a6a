//! `isp-bench billing`: one billing run over every seeded subscription, then an immediate
//! re-run that must create nothing, both in-process through `isp_core::billing::run::run_with`
//! (what `run::run`, the function behind GraphQL `runBilling(asOf)`, calls), timed by wall
//! clock with their SQL statement counts, CPU time and memory.

use crate::fixture::Fixture;
use crate::BillingArgs;
use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate};
use isp_core::auth::Actor;
use isp_core::billing::settings::{BillingSettings, TaxRate};
use isp_core::billing::tax::{self, Rate};
use isp_core::billing::{run, BillingMode};
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::workflows::billing_settings as settings;
use isp_core::Ctx;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Start date `isp_core::seed::bulk` gives every subscription.
const SEED_START: (i32, u32, u32) = (2026, 1, 1);
/// Price of the fixture's plan, in minor units.
const PLAN_PRICE_MINOR: i64 = 3_499;
/// The `standard` tax class's rate set for the run: 16 % on top of the price.
const TAX: Rate = Rate { bp: 1_600, inclusive: false };

/// Process memory from `/proc/self/status`, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    /// Resident now (`VmRSS`).
    pub rss_kib: u64,
    /// Highest resident so far (`VmHWM`); it cannot be reset, so it only grows.
    pub hwm_kib: u64,
    /// Resident anonymous memory now (`RssAnon`: the heap, without pages of the memory-mapped
    /// database file, which `VmRSS` counts and the kernel can drop at any time).
    pub anon_kib: u64,
}

impl Memory {
    /// Reads the figures of this process (zeros where `/proc` is missing).
    pub fn now() -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        Self { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:"), anon_kib: field("RssAnon:") }
    }
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Row counts of what a run writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Rows {
    invoices: i64,
    lines: i64,
    billed_periods: i64,
    audit: i64,
    total_minor: i64,
}

impl Rows {
    async fn count(ctx: &Ctx, tenant_id: i64) -> Result<Self> {
        let (invoices, lines, billed_periods, audit, total_minor): (i64, i64, i64, i64, i64) = isp_core::db::query_as(
            "SELECT (SELECT COUNT(*) FROM invoices WHERE tenant_id = $1), \
             (SELECT COUNT(*) FROM invoice_lines WHERE tenant_id = $1), \
             (SELECT COUNT(*) FROM billed_periods WHERE tenant_id = $1), \
             (SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = 'invoice.create'), \
             CAST(COALESCE((SELECT SUM(total_minor) FROM invoices WHERE tenant_id = $1), 0) AS BIGINT)",
        )
        .bind(tenant_id)
        .fetch_one(&ctx.db)
        .await?;
        Ok(Self { invoices, lines, billed_periods, audit, total_minor })
    }

    fn minus(self, o: Self) -> Self {
        Self {
            invoices: self.invoices - o.invoices,
            lines: self.lines - o.lines,
            billed_periods: self.billed_periods - o.billed_periods,
            audit: self.audit - o.audit,
            total_minor: self.total_minor - o.total_minor,
        }
    }
}

/// Figures of one timed billing run.
#[derive(Debug, Clone, Copy)]
struct Phase {
    wall: Duration,
    cpu: Duration,
    statements: u64,
    customers_checked: usize,
    /// Invoices the run reported.
    reported: usize,
    /// Rows it left in the database.
    created: Rows,
    before: Memory,
    after: Memory,
}

impl Phase {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "wall_s": self.wall.as_secs_f64(),
            "cpu_s": self.cpu.as_secs_f64(),
            "statements": self.statements,
            "customers_checked": self.customers_checked,
            "invoices_reported": self.reported,
            "invoices": self.created.invoices,
            "lines": self.created.lines,
            "billed_periods": self.created.billed_periods,
            "total_minor": self.created.total_minor,
            "rss_before_kib": self.before.rss_kib,
            "rss_after_kib": self.after.rss_kib,
            "hwm_after_kib": self.after.hwm_kib,
            "anon_after_kib": self.after.anon_kib,
        })
    }
}

/// Cycles of a monthly plan started on [`SEED_START`] that a prepaid run as of `as_of` bills.
fn due_cycles(as_of: NaiveDate) -> i64 {
    let (y, m, _) = SEED_START;
    i64::from(as_of.year() - y) * 12 + i64::from(as_of.month()) - i64::from(m) + 1
}

/// Sets prepaid billing on day 1 and the `standard` tax rate, so every seeded subscription
/// is due on its first cycle.
async fn configure(ctx: &Ctx, actor: &Actor) -> Result<()> {
    let s = BillingSettings { billing_day: Some(1), mode: BillingMode::Prepaid, ..BillingSettings::default() };
    settings::update(ctx, actor, &s).await.context("setting the billing settings")?;
    let rate = TaxRate { tax_class: "standard".into(), name: "VAT 16%".into(), rate_bp: TAX.bp, inclusive: false };
    settings::set_tax_rate(ctx, actor, &rate).await.context("setting the tax rate")?;
    Ok(())
}

/// Customers per transaction: `run::CHUNK` unless `ISP_BENCH_CHUNK` says otherwise (for
/// measuring other sizes without a rebuild).
fn chunk() -> usize {
    std::env::var("ISP_BENCH_CHUNK").ok().and_then(|v| v.parse().ok()).unwrap_or(run::CHUNK)
}

/// Times one billing run as of `as_of` (`run::run_with`, which `run::run` calls, so that the
/// chunk size can be set).
async fn measure(ctx: &Ctx, actor: &Actor, as_of: NaiveDate) -> Result<Phase> {
    let rows_before = Rows::count(ctx, actor.tenant_id).await?;
    let before = Memory::now();
    let (statements, cpu) = (ctx.db.statements(), cpu_time());
    let started = Instant::now();
    let opts = run::RunOptions { chunk: chunk(), ..Default::default() };
    let out = run::run_with(ctx, actor, as_of, opts).await.context("billing run")?;
    let wall = started.elapsed();
    let (statements, cpu) = (ctx.db.statements() - statements, cpu_time() - cpu);
    let reported = out.invoices;
    let customers_checked = out.customers_checked;
    drop(out);
    let after = Memory::now();
    let created = Rows::count(ctx, actor.tenant_id).await?.minus(rows_before);
    Ok(Phase { wall, cpu, statements, customers_checked, reported, created, before, after })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn row(name: &str, p: &Phase) {
    let per = |n: u64| if p.customers_checked == 0 { 0.0 } else { n as f64 / p.customers_checked as f64 };
    println!(
        "{name:<8} {:>8.3} {:>8.3} {:>9} {:>9} {:>10} {:>6.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        p.wall.as_secs_f64(),
        p.cpu.as_secs_f64(),
        p.created.invoices,
        p.created.lines,
        p.statements,
        per(p.statements),
        mib(p.before.rss_kib),
        mib(p.after.rss_kib),
        mib(p.after.hwm_kib),
        mib(p.after.anon_kib),
    );
}

/// Seeds, configures, runs billing twice and prints the figures; Ok(false) when the first
/// run's counts are wrong or the re-run created anything.
pub async fn run(a: BillingArgs) -> Result<bool> {
    let as_of = isp_core::billing::parse_date("asOf", &a.as_of).context("--as-of")?;
    let (y, m, d) = SEED_START;
    anyhow::ensure!(
        as_of >= NaiveDate::from_ymd_opt(y, m, d).expect("valid date"),
        "--as-of must not be before the seeded start date {y}-{m:02}-{d:02}"
    );
    eprintln!("seeding {} subscriptions ...", a.subscriptions);
    let fx = Fixture::create(a.subscriptions, None, 4, a.analyze, a.keep).await?;
    eprintln!("seeded in {:.1}s", fx.seed_time.as_secs_f64());
    let seed_mem = Memory::now();

    let cfg = Config { data_dir: fx.data_dir.clone(), database_url: fx.database_url.clone(), ..Config::default() };
    let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.context("reopening the scratch store")?;
    let actor = Actor::system(fx.tenant_id, "bench");
    configure(&ctx, &actor).await?;
    let sink = if a.notify {
        let sink = crate::fanout::start_sink().await?;
        crate::fanout::configure(&ctx, &actor, sink.port).await?;
        Some(sink)
    } else {
        None
    };

    eprintln!("billing run as of {as_of} ...");
    let first = measure(&ctx, &actor, as_of).await?;
    eprintln!("re-run ...");
    let again = measure(&ctx, &actor, as_of).await?;
    let fanout = match &sink {
        Some(_) => {
            let (queued,): (i64,) =
                isp_core::db::query_as("SELECT COUNT(*) FROM notifications WHERE status = 'QUEUED'")
                    .fetch_one(&ctx.db)
                    .await?;
            eprintln!("draining {queued} queued emails with {} workers ...", a.notify_workers);
            Some((queued, crate::fanout::drain(&ctx, a.notify_workers).await?))
        }
        None => None,
    };
    drop(sink);
    // Dunning over the run's open invoices: the daily pass the day they are issued (none is
    // due yet), on their due date (a reminder each) and the day after (each marked overdue).
    let due = as_of + chrono::Duration::days(BillingSettings::default().payment_terms_days);
    let mut dunning = Vec::new();
    for (what, day) in [("issued", as_of), ("reminders", due), ("overdue", due + chrono::Duration::days(1))] {
        eprintln!("dunning as of {day} ({what}) ...");
        let started = Instant::now();
        let out = isp_core::workflows::dunning::run(&ctx, &actor, day).await.context("dunning run")?;
        dunning.push((what, day, started.elapsed(), out));
    }
    ctx.db.close().await;

    let n = a.subscriptions as i64;
    let cycles = due_cycles(as_of);
    let per_line = tax::apply(PLAN_PRICE_MINOR, &TAX).total;
    let want = Rows {
        invoices: n,
        lines: n * cycles,
        billed_periods: n * cycles,
        audit: n,
        total_minor: n * cycles * per_line,
    };
    let mut problems = Vec::new();
    if first.created != want || first.reported as i64 != n {
        problems.push(format!(
            "run: expected {want:?} ({n} reported), got {:?} ({} reported)",
            first.created, first.reported
        ));
    }
    if let Some((queued, d)) = &fanout {
        if *queued != n || d.sent as i64 != n {
            problems
                .push(format!("fan-out: expected {n} emails queued and sent, got {queued} queued, {} sent", d.sent));
        }
    }
    if again.created != Rows::default() || again.reported != 0 {
        problems.push(format!("re-run created {:?} ({} reported)", again.created, again.reported));
    }
    let counts: Vec<usize> = dunning.iter().map(|(_, _, _, o)| o.reminders + o.overdue + o.suspended).collect();
    if counts != [0, n as usize, n as usize] {
        problems.push(format!("dunning steps: expected [0, {n}, {n}], got {counts:?}"));
    }

    println!();
    println!(
        "billing run over {} subscriptions on SQLite, as of {as_of} ({cycles} cycle(s) each, {} per chunk, seeded in {:.1}s, RSS after seeding {:.1} MiB)",
        a.subscriptions,
        chunk(),
        fx.seed_time.as_secs_f64(),
        mib(seed_mem.rss_kib)
    );
    println!(
        "{:<8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "phase",
        "wall s",
        "cpu s",
        "invoices",
        "lines",
        "statements",
        "/cust",
        "RSS0 MiB",
        "RSS1 MiB",
        "HWM MiB",
        "anon MiB"
    );
    row("run", &first);
    row("re-run", &again);
    println!(
        "targets: run <= 2 s ({:.2}x), re-run <= 0.5 s ({:.2}x), memory bounded",
        first.wall.as_secs_f64() / 2.0,
        again.wall.as_secs_f64() / 0.5
    );
    if let Some((queued, d)) = &fanout {
        println!(
            "fan-out: the run queued {queued} invoice emails (in its own transactions); {} workers delivered {} \
             to the local SMTP sink (aiosmtpd) in {:.1} s: {:.0} emails/s ({} not sent)",
            a.notify_workers,
            d.sent,
            d.wall.as_secs_f64(),
            d.sent as f64 / d.wall.as_secs_f64().max(1e-9),
            d.other
        );
    }
    for (what, day, wall, out) in &dunning {
        println!(
            "dunning as of {day} ({what}): {:.3} s wall, {} reminders, {} overdue, {} suspended; target <= 2 s {}",
            wall.as_secs_f64(),
            out.reminders,
            out.overdue,
            out.suspended,
            if wall.as_secs_f64() <= 2.0 { "met" } else { "NOT met" }
        );
    }
    for p in &problems {
        println!("WRONG: {p}");
    }
    let json = serde_json::json!({
        "bench": "billing",
        "backend": "sqlite",
        "subscriptions": a.subscriptions,
        "as_of": as_of.to_string(),
        "chunk": chunk(),
        "seed_s": fx.seed_time.as_secs_f64(),
        "run": first.json(),
        "rerun": again.json(),
        "dunning": dunning.iter().map(|(what, day, wall, out)| serde_json::json!({
            "phase": what, "as_of": day.to_string(), "wall_s": wall.as_secs_f64(),
            "reminders": out.reminders, "overdue": out.overdue, "suspended": out.suspended,
        })).collect::<Vec<_>>(),
        "fanout": fanout.as_ref().map(|(queued, d)| serde_json::json!({
            "queued": queued, "sent": d.sent, "other": d.other, "wall_s": d.wall.as_secs_f64(),
            "workers": a.notify_workers,
        })),
        "ok": problems.is_empty(),
    });
    println!("{json}");
    fx.cleanup().await?;
    Ok(problems.is_empty())
}

#[cfg(test)]
mod tests {
    use super::due_cycles;
    use chrono::NaiveDate;

    #[test]
    fn counts_prepaid_monthly_cycles_from_the_seed_start() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(due_cycles(d("2026-01-01")), 1);
        assert_eq!(due_cycles(d("2026-01-31")), 1);
        assert_eq!(due_cycles(d("2026-02-01")), 2);
        assert_eq!(due_cycles(d("2027-01-15")), 13);
    }
}
