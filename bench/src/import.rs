//! `isp-bench import`: the bulk import of `--rows` customers with subscriptions (a dozen of
//! them bad) from CSV and from XLSX, dry run and commit, each phase in a child process of its
//! own so that its peak resident memory (`VmHWM` of `/proc/self/status`, which only grows) is
//! its own. Files are written first; each child reads its file, runs `isp_core::import` (what
//! the CLI and GraphQL call) and prints one JSON line.

use crate::billing::Memory;
use crate::fixture::{bench_plan, Fixture, Opened};
use crate::ImportArgs;
use anyhow::{Context, Result};
use isp_core::auth::Actor;
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::import::{self, Request};
use isp_core::workflows::plans;
use isp_core::Ctx;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const HEADER: [&str; 9] =
    ["Full name", "E-mail", "Phone", "Login", "Password", "Plan", "Static IP", "Next billing date", "Balance"];

/// Row `i` of the file: every 8,333rd row is bad (a dozen in 100k), one way or another.
fn row(prefix: &str, i: usize, rows: usize) -> [String; 9] {
    let bad = rows >= 12 && i % (rows / 12) == rows / 24;
    let email =
        if bad && i.is_multiple_of(2) { "not-an-email".to_string() } else { format!("{prefix}{i}@example.com") };
    let plan = if bad && i % 2 == 1 { "No Such Plan" } else { "Home 100" };
    // Each file its own range: the CSV's committed IPs must not make the XLSX's rows bad.
    let net = if prefix == "c" { 10 } else { 11 };
    let ip = if i.is_multiple_of(10) {
        format!("{net}.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
    } else {
        String::new()
    };
    [
        format!("Customer {prefix} {i}"),
        email,
        format!("+1 555 {:07}", i % 10_000_000),
        format!("{prefix}{i}"),
        format!("pw-{i}"),
        plan.to_string(),
        ip,
        "2027-01-01".to_string(),
        if i.is_multiple_of(5) { "12.50".to_string() } else { String::new() },
    ]
}

fn write_csv(path: &Path, rows: usize) -> Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(HEADER)?;
    for i in 0..rows {
        w.write_record(row("c", i, rows))?;
    }
    w.flush()?;
    Ok(())
}

fn write_xlsx(path: &Path, rows: usize) -> Result<()> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_row(0, 0, HEADER)?;
    for i in 0..rows {
        let r = row("x", i, rows);
        sheet.write_row(i as u32 + 1, 0, r.iter().map(String::as_str))?;
    }
    book.save(path)?;
    Ok(())
}

/// One phase's figures, as the child prints them.
#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct Figures {
    phase: String,
    rows: usize,
    bad: usize,
    created: i64,
    wall_s: f64,
    hwm_kib: u64,
}

/// The parent: seeds a store, writes the files, runs each phase in a child and prints.
pub async fn run(a: ImportArgs) -> Result<bool> {
    if let Some(phase) = &a.phase {
        return child(&a, phase).await;
    }
    let Opened { fixture, ctx, owner } = Fixture::open(a.database_url.as_deref(), 4, a.keep).await?;
    let plan = bench_plan();
    plans::create(&ctx, &owner, &plan).await.context("creating the plan")?;
    ctx.db.close().await;
    let csv = fixture.data_dir.join("customers.csv");
    let xlsx = fixture.data_dir.join("customers.xlsx");
    let started = Instant::now();
    write_csv(&csv, a.rows)?;
    let csv_s = started.elapsed();
    let started = Instant::now();
    write_xlsx(&xlsx, a.rows)?;
    let xlsx_s = started.elapsed();
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0;
    eprintln!(
        "wrote {} rows: CSV {:.1} MiB in {:.1}s, XLSX {:.1} MiB in {:.1}s",
        a.rows,
        size(&csv),
        csv_s.as_secs_f64(),
        size(&xlsx),
        xlsx_s.as_secs_f64()
    );
    let mut all = Vec::new();
    let backend = if fixture.pg.is_some() { "PostgreSQL" } else { "SQLite" };
    for phase in ["csv-dry-run", "csv-commit", "xlsx-dry-run", "xlsx-commit"] {
        eprintln!("{phase} ...");
        let file = if phase.starts_with("csv") { &csv } else { &xlsx };
        let out = std::process::Command::new(std::env::current_exe()?)
            .args(["import", "--rows", &a.rows.to_string(), "--phase", phase, "--file"])
            .arg(file)
            .args(["--data-dir"])
            .arg(&fixture.data_dir)
            .args(["--store-url", &fixture.database_url, "--tenant-id", &fixture.tenant_id.to_string()])
            .output()?;
        anyhow::ensure!(out.status.success(), "{phase} failed: {}", String::from_utf8_lossy(&out.stderr));
        let f: Figures = serde_json::from_slice(&out.stdout).context("the phase's figures")?;
        all.push(f);
    }
    println!();
    println!("import of {} rows on {backend} (a dozen bad; each phase in its own process)", a.rows);
    println!(
        "{:<14} {:>8} {:>6} {:>9} {:>8} {:>10} {:>9}",
        "phase", "rows", "bad", "created", "wall s", "rows/s", "HWM MiB"
    );
    let mut ok = true;
    for f in &all {
        println!(
            "{:<14} {:>8} {:>6} {:>9} {:>8.2} {:>10.0} {:>9.1}",
            f.phase,
            f.rows,
            f.bad,
            f.created,
            f.wall_s,
            f.rows as f64 / f.wall_s,
            f.hwm_kib as f64 / 1024.0
        );
        let want_bad = if a.rows >= 12 { 12 } else { 0 };
        let want_created = if f.phase.ends_with("commit") { (a.rows - want_bad) as i64 } else { 0 };
        if f.bad != want_bad || f.created != want_created {
            eprintln!("{}: expected {want_bad} bad and {want_created} created", f.phase);
            ok = false;
        }
    }
    println!("{}", serde_json::json!({"bench": "import", "rows": a.rows, "backend": backend, "phases": all}));
    fixture.cleanup().await?;
    Ok(ok)
}

/// One phase in this (child) process.
async fn child(a: &ImportArgs, phase: &str) -> Result<bool> {
    let file = a.file.as_ref().context("--file")?;
    let data_dir = a.data_dir.clone().context("--data-dir")?;
    let cfg = Config {
        data_dir,
        database_url: a.store_url.clone().unwrap_or_default(),
        db_max_connections: 4,
        ..Config::default()
    };
    let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.context("opening the store")?;
    let actor = Actor::system(a.tenant_id.context("--tenant-id")?, "bench");
    let started = Instant::now();
    // Reading the file is part of the import.
    let bytes = std::fs::read(file)?;
    let name = file.file_name().map_or("f".into(), |n| n.to_string_lossy().into_owned());
    let mut req = Request::new(&name, bytes);
    req.dry_run = phase.ends_with("dry-run");
    let (report, job) = import::run(&ctx, &actor, req, Arc::new(|_, _| {})).await.context("import")?;
    let wall = started.elapsed();
    ctx.db.close().await;
    let f = Figures {
        phase: phase.to_string(),
        rows: report.rows,
        bad: report.bad,
        created: job.map_or(0, |j| j.created),
        wall_s: wall.as_secs_f64(),
        hwm_kib: Memory::now().hwm_kib,
    };
    println!("{}", serde_json::to_string(&f)?);
    Ok(true)
}
