//! `isp-bench export`: `--rows` invoices (one line each) written as CSV and as XLSX through
//! `isp_core::export` (the path behind `GET /exports/invoices.{csv|xlsx}` and `isp export`),
//! into a byte counter, in-process: rows per second, bytes, and memory from `/proc/self/status`
//! after each format (`VmHWM`, the peak, including the pages of the memory-mapped SQLite file
//! the reads touch; `RssAnon`, the heap only), so a constant-memory writer shows a heap that does
//! not grow with `--rows`.

use crate::billing::Memory;
use crate::fixture::{bench_plan, Fixture, Opened};
use crate::ExportArgs;
use anyhow::{Context, Result};
use isp_core::export::{self, Filters, Format};
use isp_core::workflows::plans;
use std::io::Write;
use std::time::Instant;

/// A `Write` that only counts.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Seeds the invoices, then exports them in both formats; prints a line per format and JSON.
pub async fn run(a: ExportArgs) -> Result<()> {
    let Opened { fixture, ctx, owner } = Fixture::open(a.database_url.as_deref(), 4, a.keep).await?;
    let plan = plans::create(&ctx, &owner, &bench_plan()).await.context("creating the plan")?;
    let t = fixture.tenant_id;
    let seeding = Instant::now();
    isp_core::seed::bulk(&ctx, t, plan.id, a.customers, "b").await.context("seeding customers")?;
    let (first, n): (i64, i64) = isp_core::db::query_as("SELECT MIN(id), COUNT(*) FROM customers WHERE tenant_id = $1")
        .bind(t)
        .fetch_one(&ctx.db)
        .await?;
    let now = 1_767_225_600_000_i64; // 2026-01-01T00:00:00Z
    let mut tx = ctx.db.begin().await?;
    isp_core::db::query(
        "INSERT INTO invoices (tenant_id, customer_id, kind, number, status, issue_date, due_date, subtotal_minor, \
         tax_minor, total_minor, paid_minor, created_at, updated_at) \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         SELECT $1, $3 + (i % $4), 'INVOICE', 'INV-' || i, 'ISSUED', '2026-01-01', '2026-01-15', 3499, 560, 4059, 0, $5, $5 FROM n",
    )
    .bind(t)
    .bind(a.rows as i64)
    .bind(first)
    .bind(n)
    .bind(now)
    .execute(&mut tx)
    .await
    .context("inserting invoices")?;
    isp_core::db::query(
        "INSERT INTO invoice_lines (tenant_id, invoice_id, kind, plan_id, description, period_start, period_end, \
         net_minor, tax_minor, total_minor, tax_rate_bp, tax_inclusive) \
         SELECT tenant_id, id, 'SUBSCRIPTION', $2, 'Home 100 (2026-01-01 to 2026-01-31)', '2026-01-01', '2026-01-31', \
         3499, 560, 4059, 1600, 0 FROM invoices WHERE tenant_id = $1",
    )
    .bind(t)
    .bind(plan.id)
    .execute(&mut tx)
    .await
    .context("inserting invoice lines")?;
    tx.commit().await?;
    if ctx.db.backend() == isp_core::db::Backend::Postgres {
        ctx.db.execute("ANALYZE", &[]).await?;
    }
    let seed_secs = seeding.elapsed().as_secs_f64();
    println!("seeded {} customers and {} invoices with a line each in {seed_secs:.1} s", a.customers, a.rows);
    let before = Memory::now();
    let mut results = Vec::new();
    for format in [Format::Csv, Format::Xlsx] {
        let table = export::open(&ctx, &owner, "invoices", &Filters::default()).await?;
        let started = Instant::now();
        let (out, rows) = export::write(ctx.db.clone(), table, format, Count(0)).await?;
        let secs = started.elapsed().as_secs_f64();
        let mem = Memory::now();
        anyhow::ensure!(rows == a.rows as u64, "exported {rows} rows, expected {}", a.rows);
        let rate = rows as f64 / secs;
        println!(
            "{:<4} {rows} rows in {secs:.2} s = {rate:.0} rows/s, {:.1} MiB written; peak RSS (VmHWM) {:.0} MiB, heap now (RssAnon) {:.0} MiB",
            format.ext(),
            out.0 as f64 / 1_048_576.0,
            mem.hwm_kib as f64 / 1024.0,
            mem.anon_kib as f64 / 1024.0,
        );
        results.push(serde_json::json!({"format": format.ext(), "rows": rows, "seconds": secs, "rowsPerSecond": rate,
            "bytes": out.0, "vmHwmKib": mem.hwm_kib, "rssAnonKib": mem.anon_kib}));
    }
    println!(
        "{}",
        serde_json::json!({"bench": "export", "rows": a.rows, "customers": a.customers, "backend": format!("{:?}", ctx.db.backend()),
            "seedSeconds": seed_secs, "beforeVmHwmKib": before.hwm_kib, "beforeRssAnonKib": before.anon_kib, "results": results})
    );
    ctx.db.close().await;
    drop(ctx);
    fixture.cleanup().await
}
