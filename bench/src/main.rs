//! `isp-bench`: load generators that print figures (they are not timed tests).
//!
//! `isp-bench graphql` seeds a tenant with many customers, starts the release `isp` binary
//! in its own process, drives the customers page query over HTTP/1.1 keep-alive connections
//! and, in the same run, a raw-SQL loop reading the same rows, then prints both.
//! `isp-bench radius` drives `isp radiusd` (and FreeRADIUS) over UDP; `isp-bench billing`
//! times a billing run and its idempotent re-run in-process. `isp-bench fixture` seeds "a year
//! of an ISP"; `isp-bench basket` runs the frontend's screens on it over HTTP, each against a
//! raw-SQL baseline.

mod basket;
mod billing;
mod cpu;
mod documents;
mod export;
mod fanout;
mod fixture;
mod freeradius;
mod graphql;
mod http;
mod import;
mod load;
mod radius;
mod radload;
mod rawsql;
mod report;
mod reports;
mod server;
mod year;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Benchmarks of the ISP system.
#[derive(Parser)]
#[command(name = "isp-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// `customers(first:50){... subscriptions {plan {...}}}` over HTTP against a raw-SQL loop.
    Graphql(GraphqlArgs),
    /// PAP Access-Requests and accounting over UDP against `isp radiusd` and FreeRADIUS.
    Radius(RadiusArgs),
    /// A billing run over every subscription, then a re-run that must create nothing (in-process, SQLite).
    Billing(BillingArgs),
    /// Exports `--rows` invoices as CSV and XLSX through the export path: rows/s and peak memory.
    Export(ExportArgs),
    /// Seeds "a year of an ISP" on a scratch store and prints what it wrote and how long it took.
    Fixture(FixtureArgs),
    /// The frontend's screens (reads and a write mix) over HTTP on "a year of an ISP", each
    /// against a raw-SQL baseline reading the same rows.
    Basket(BasketArgs),
    /// Each business report over GraphQL on HTTP against "a year of an ISP": p50/p99 latency.
    Reports(reports::ReportsArgs),
    /// Customer document uploads (new files and deduplicated ones) and reads, in-process.
    Documents(DocumentsArgs),
    /// Bulk import of customers with subscriptions from CSV and XLSX, dry run and commit,
    /// with time and peak memory (each phase in its own process).
    Import(ImportArgs),
}

/// Options of `isp-bench documents`.
#[derive(Args, Debug, Clone)]
pub struct DocumentsArgs {
    /// Documents to upload (each once with new bytes, then once more with the same bytes).
    #[arg(long, default_value_t = 2_000)]
    pub files: usize,
    /// Size of each file in bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    pub size: usize,
    /// Run against this PostgreSQL database (a tenant is added to it) instead of a scratch SQLite file.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Keep the scratch data directory for inspection.
    #[arg(long)]
    pub keep: bool,
}

/// Options of `isp-bench import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// Rows in each file (a dozen of them bad).
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
    /// PostgreSQL server URL (a scratch database is created on it); SQLite when absent.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Keep the scratch data directory (and PostgreSQL database).
    #[arg(long)]
    pub keep: bool,
    /// (internal) The phase a child process runs.
    #[arg(long, hide = true)]
    pub phase: Option<String>,
    /// (internal) The child's file.
    #[arg(long, hide = true)]
    pub file: Option<PathBuf>,
    /// (internal) The child's data directory.
    #[arg(long, hide = true)]
    pub data_dir: Option<PathBuf>,
    /// (internal) The child's database URL.
    #[arg(long, hide = true)]
    pub store_url: Option<String>,
    /// (internal) The child's tenant.
    #[arg(long, hide = true)]
    pub tenant_id: Option<i64>,
}

/// Options of `isp-bench basket`.
#[derive(Args, Debug, Clone)]
pub struct BasketArgs {
    /// Customers to seed; every other size follows from it.
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Screens to run, comma-separated (default: all): customers, subscriptions, search,
    /// customer-detail, invoices, payments, auth-log, sessions, audit-log, device-jobs, plans,
    /// staff, dashboard, create-customer, record-payment, subscription-status.
    #[arg(long)]
    pub screens: Option<String>,
    /// Concurrent connections (GraphQL) and concurrent loops (raw SQL).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured seconds per screen and phase, split over the turns.
    #[arg(long, default_value_t = 4.0)]
    pub duration: f64,
    /// Turns: every screen's GraphQL and raw-SQL windows are measured once per turn.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// Unmeasured warm-up seconds before each window (the first turn; later ones at most 0.5 s).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Longest a window stretches (seconds) for a screen too slow to complete 20 requests in it.
    #[arg(long, default_value_t = 15.0)]
    pub window_cap: f64,
    /// Seconds requests still running after a window may take before they are abandoned.
    #[arg(long, default_value_t = 30.0)]
    pub drain: f64,
    /// The `isp` binary to serve with [default: `isp` next to this executable].
    #[arg(long)]
    pub isp_bin: Option<PathBuf>,
    /// Run against PostgreSQL: a scratch database is created on this server and dropped after.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Database pool size of the server and of the raw-SQL loops.
    #[arg(long, default_value_t = 8)]
    pub db_connections: u32,
    /// Gather planner statistics after seeding (SQLite `ANALYZE`; PostgreSQL always does).
    #[arg(long)]
    pub analyze: bool,
    /// Skip the raw-SQL baselines.
    #[arg(long)]
    pub no_raw: bool,
    /// Keep the scratch data directory (and PostgreSQL database) for inspection.
    #[arg(long)]
    pub keep: bool,
}

/// Options of `isp-bench fixture`.
#[derive(Args, Debug, Clone)]
pub struct FixtureArgs {
    /// Customers to seed; every other size follows from it.
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Seed PostgreSQL: a scratch database is created on this server (and dropped, unless --keep).
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Gather planner statistics after seeding (SQLite `ANALYZE`; PostgreSQL always does).
    #[arg(long)]
    pub analyze: bool,
    /// Keep the scratch data directory (and PostgreSQL database) for inspection.
    #[arg(long)]
    pub keep: bool,
}

/// Options of `isp-bench billing`.
#[derive(Args, Debug, Clone)]
pub struct BillingArgs {
    /// Customers to seed, one ACTIVE monthly subscription each (starting 2026-01-01).
    #[arg(long, default_value_t = 100_000)]
    pub subscriptions: usize,
    /// As-of date of both runs (`YYYY-MM-DD`); each month from 2026-01 to it is one cycle billed.
    #[arg(long, default_value = "2026-01-01")]
    pub as_of: String,
    /// Gather SQLite planner statistics after seeding (`ANALYZE`).
    #[arg(long)]
    pub analyze: bool,
    /// Keep the scratch data directory for inspection.
    #[arg(long)]
    pub keep: bool,
    /// Notification fan-out: an EMAIL channel to a local SMTP sink (python3 with aiosmtpd), so
    /// the run queues an invoice email per invoice; then the outbox is drained against the sink.
    #[arg(long)]
    pub notify: bool,
    /// Concurrent delivery workers draining the outbox (with --notify).
    #[arg(long, default_value_t = 4)]
    pub notify_workers: usize,
}

/// Options of `isp-bench export`.
#[derive(Args, Debug, Clone)]
pub struct ExportArgs {
    /// Invoices to seed and export (one line each).
    #[arg(long, default_value_t = 1_000_000)]
    pub rows: usize,
    /// Customers the invoices belong to.
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// Run against PostgreSQL: a scratch database is created on this server and dropped after.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Keep the scratch data directory for inspection.
    #[arg(long)]
    pub keep: bool,
}

/// Options of `isp-bench radius`.
#[derive(Args, Debug, Clone)]
pub struct RadiusArgs {
    /// Subscribers to seed (PPPoE logins `b{i}`, password `pw{i}`).
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Outstanding requests in total (at most 256 per socket).
    #[arg(long, default_value_t = 64)]
    pub outstanding: usize,
    /// UDP sockets of the load generator (one thread each).
    #[arg(long, default_value_t = 1)]
    pub sockets: usize,
    /// Accounting sessions (Start, then Interim-Updates round-robin).
    #[arg(long, default_value_t = 20_000)]
    pub sessions: usize,
    /// Measured seconds per phase, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured warm-up seconds per phase.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Seconds after which an unanswered request counts as lost.
    #[arg(long, default_value_t = 1.0)]
    pub timeout: f64,
    /// The `isp` binary to serve with [default: `isp` next to this executable].
    #[arg(long)]
    pub isp_bin: Option<PathBuf>,
    /// Database pool size of `isp radiusd` [default: the server's].
    #[arg(long)]
    pub db_connections: Option<u32>,
    /// Measure only `isp radiusd`.
    #[arg(long)]
    pub no_freeradius: bool,
    /// Keep the scratch data directory (FreeRADIUS config and logs included).
    #[arg(long)]
    pub keep: bool,
}

/// Options of `isp-bench graphql`.
#[derive(Args, Debug, Clone)]
pub struct GraphqlArgs {
    /// Customers to seed (one subscription each).
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Concurrent connections (GraphQL) and concurrent loops (raw SQL).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured seconds per phase, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Unmeasured warm-up seconds per phase (before its first window; later ones get at most 0.5 s).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Windows each phase's measured time is split into, taken in turn (GraphQL, store calls, raw
    /// SQL, GraphQL, ...), so that drift in the machine's speed affects the three alike.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub rounds: u32,
    /// The `isp` binary to serve with [default: `isp` next to this executable].
    #[arg(long)]
    pub isp_bin: Option<PathBuf>,
    /// Run against PostgreSQL: a scratch database is created on this server and dropped after.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Database pool size of the server and of the raw-SQL loop.
    #[arg(long, default_value_t = 8)]
    pub db_connections: u32,
    /// Gather planner statistics after seeding (SQLite `ANALYZE`; PostgreSQL always does).
    #[arg(long)]
    pub analyze: bool,
    /// Skip the baselines (store calls and raw SQL).
    #[arg(long)]
    pub no_raw: bool,
    /// Keep the scratch data directory (and PostgreSQL database) for inspection.
    #[arg(long)]
    pub keep: bool,
}

impl GraphqlArgs {
    /// The measured window of round `round` (from 0) of a phase, opening after its warm-up:
    /// `--warmup` in the first round, at most 0.5 s in later ones (the phase only resumes).
    pub fn window(&self, round: u32) -> load::Window {
        let warmup = if round == 0 { self.warmup } else { self.warmup.min(0.5) };
        load::Window::after(
            Duration::from_secs_f64(warmup),
            Duration::from_secs_f64(self.duration / self.rounds as f64),
        )
    }
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Graphql(a) => {
            anyhow::ensure!(a.customers >= 50, "--customers must be at least 50 (one page)");
            anyhow::ensure!(a.concurrency >= 1, "--concurrency must be at least 1");
            anyhow::ensure!(a.duration > 0.0 && a.warmup >= 0.0, "--duration must be positive");
            let ok = rt.block_on(graphql::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Radius(a) => {
            anyhow::ensure!(a.users >= 1, "--users must be at least 1");
            anyhow::ensure!(a.sockets >= 1 && a.outstanding >= a.sockets, "--outstanding must be at least --sockets");
            anyhow::ensure!(a.outstanding <= 256 * a.sockets, "at most 256 outstanding per socket: raise --sockets");
            anyhow::ensure!(a.sessions >= a.outstanding, "--sessions must be at least --outstanding");
            anyhow::ensure!(a.duration > 0.0 && a.warmup >= 0.0 && a.timeout > 0.0, "durations must be positive");
            let ok = rt.block_on(radius::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Fixture(a) => {
            anyhow::ensure!(a.customers >= 100, "--customers must be at least 100");
            rt.block_on(async {
                let (fx, summary) =
                    fixture::Fixture::year(a.customers, a.database_url.as_deref(), 4, a.analyze, a.keep).await?;
                summary.print();
                println!(
                    "{}",
                    serde_json::json!({"bench": "fixture", "customers": a.customers, "fixture": summary.json()})
                );
                fx.cleanup().await
            })
        }
        Command::Basket(a) => {
            anyhow::ensure!(a.customers >= 1000, "--customers must be at least 1000");
            anyhow::ensure!(a.concurrency >= 1, "--concurrency must be at least 1");
            anyhow::ensure!(a.duration > 0.0 && a.warmup >= 0.0 && a.drain >= 0.0, "durations must be positive");
            basket::select(a.screens.as_deref())?;
            let ok = rt.block_on(basket::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Export(a) => {
            anyhow::ensure!(a.rows >= 1 && a.customers >= 1, "--rows and --customers must be at least 1");
            rt.block_on(export::run(a))
        }
        Command::Reports(a) => {
            anyhow::ensure!(a.customers >= 1000, "--customers must be at least 1000");
            anyhow::ensure!(a.calls >= 1, "--calls must be at least 1");
            let ok = rt.block_on(reports::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Documents(a) => {
            anyhow::ensure!(a.files >= 1 && a.size >= 16, "--files must be at least 1 and --size at least 16");
            let ok = rt.block_on(documents::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Import(a) => {
            anyhow::ensure!(a.rows >= 1, "--rows must be at least 1");
            let ok = rt.block_on(import::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Billing(a) => {
            anyhow::ensure!(a.subscriptions >= 1, "--subscriptions must be at least 1");
            let ok = rt.block_on(billing::run(a))?;
            if !ok {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
