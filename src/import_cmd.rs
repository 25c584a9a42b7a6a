//! `isp import customers FILE --tenant SLUG`: the bulk import from the command line, through
//! the same core module as GraphQL's `importCustomers`.

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use isp_core::auth::Actor;
use isp_core::import::{self, mapping::Mapping, Format, Report, Request, Upload};
use isp_core::store::imports::OnDuplicate;
use isp_core::Ctx;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `isp import customers`.
#[derive(Args)]
pub struct CustomersArgs {
    /// CSV (any of , ; TAB | as delimiter), XLSX, XLS or ODS file.
    pub file: PathBuf,
    /// Tenant slug.
    #[arg(long)]
    pub tenant: String,
    /// TOML mapping: header -> field, defaults, declared encoding (see the README's Import section).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Validate every row and print the report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// What to do with a row whose login already exists.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_duplicate: Duplicates,
    /// Source system of the file.
    #[arg(long, value_enum, default_value = "generic")]
    pub format: SourceFormat,
    /// Extra files of that system: phpNuxBill tbl_user_recharges; daloRADIUS userinfo, radusergroup.
    #[arg(long = "with")]
    pub extra: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the bad and skipped rows as CSV to this file.
    #[arg(long)]
    pub errors_csv: Option<PathBuf>,
}

/// Duplicate policy on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum Duplicates {
    /// Leave existing records alone.
    Skip,
    /// Overwrite them with the row.
    Update,
    /// Import nothing while any row is a duplicate.
    Fail,
}

/// Source system on the command line.
#[derive(Clone, Copy, ValueEnum)]
pub enum SourceFormat {
    /// A table with a header row.
    Generic,
    /// phpNuxBill tbl_customers export.
    Phpnuxbill,
    /// daloRADIUS / FreeRADIUS radcheck export.
    Radius,
}

fn upload(path: &PathBuf) -> Result<Upload> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.file_name().map_or_else(|| "import".into(), |n| n.to_string_lossy().into_owned());
    Ok(Upload { name, bytes })
}

/// Runs the import; the exit code is 0 when every row was good, 2 when some were bad.
pub async fn customers(ctx: &Ctx, a: CustomersArgs) -> Result<i32> {
    let tenant = isp_core::store::tenants::by_slug(&ctx.db, &a.tenant)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("unknown tenant {:?}", a.tenant))?;
    let actor = Actor::system(tenant.id, "cli-import");
    let mapping = match &a.mapping {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
            Mapping::from_toml(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?
        }
        None => Mapping::default(),
    };
    let mut req = Request::new("", Vec::new());
    req.file = upload(&a.file)?;
    req.extra = a.extra.iter().map(upload).collect::<Result<_>>()?;
    req.mapping = mapping;
    req.dry_run = a.dry_run;
    req.on_duplicate = match a.on_duplicate {
        Duplicates::Skip => OnDuplicate::Skip,
        Duplicates::Update => OnDuplicate::Update,
        Duplicates::Fail => OnDuplicate::Fail,
    };
    req.format = match a.format {
        SourceFormat::Generic => Format::Generic,
        SourceFormat::Phpnuxbill => Format::PhpNuxBill,
        SourceFormat::Radius => Format::Radius,
    };
    let bar = (std::io::stderr().is_terminal() && !a.json).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows ({eta} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let b = bar.clone();
    let progress: import::Progress = Arc::new(move |done, total| {
        if let Some(b) = &b {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    });
    let result = import::run(ctx, &actor, req, progress).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (report, job) = result.map_err(|e| anyhow!("{e}"))?;
    if let Some(p) = &a.errors_csv {
        std::fs::write(p, report.errors_csv()).with_context(|| format!("cannot write {}", p.display()))?;
    }
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(j) = &job {
            v["status"] = serde_json::json!(j.status.as_str());
            v["created"] = serde_json::json!(j.created);
            v["updated"] = serde_json::json!(j.updated);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_report(&report);
        if let Some(j) = &job {
            println!(
                "import {}: {} ({} created, {} updated, {} skipped)",
                j.id,
                j.status.as_str(),
                j.created,
                j.updated,
                j.skipped
            );
        } else if report.dry_run {
            println!("dry run: nothing was written");
        } else {
            println!("nothing to write");
        }
    }
    Ok(if report.bad > 0 { 2 } else { 0 })
}

fn print_report(r: &Report) {
    println!(
        "rows {}  create {}  update {}  skipped {}  bad {}  duplicates {}",
        r.rows, r.to_create, r.to_update, r.skipped, r.bad, r.duplicates
    );
    if !r.ignored_columns.is_empty() {
        println!("ignored columns: {}", r.ignored_columns.join(", "));
    }
    let lines: Vec<_> =
        r.errors.iter().map(|e| ("error", e)).chain(r.skipped_rows.iter().map(|e| ("skipped", e))).collect();
    if lines.is_empty() {
        return;
    }
    let w = lines.iter().map(|(_, e)| e.column.chars().count()).max().unwrap_or(0).max(6);
    println!("{:>7}  {:<7}  {:<w$}  reason", "row", "outcome", "column");
    for (what, e) in lines {
        println!("{:>7}  {:<7}  {:<w$}  {}", e.row, what, e.column, e.reason);
    }
}
