//! `isp`: the all-in-one binary. Serves the API, the RADIUS listeners and the device-job
//! worker in one process, or runs one part alone for scale-out, plus operator commands.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use isp_core::auth::{Actor, Role};
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::store::tenants::{self, NewTenant};
use isp_core::workflows::staff::{self, Registration};
use isp_core::{seed, Ctx};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod import_cmd;

/// White-label ISP billing, customer management and AAA.
#[derive(Parser)]
#[command(name = "isp", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// TOML configuration file (settings not in it use defaults; ISP_* variables override it).
    #[arg(long, global = true, env = "ISP_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for the embedded database and generated secrets [default: ./data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything in one process: the GraphQL API, RADIUS, the device-job and notification
    /// workers and daily billing.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        radius: RadiusArgs,
    },
    /// Run only the GraphQL API (scale-out; point every process at one PostgreSQL).
    Api(ServeArgs),
    /// Run only the RADIUS authentication and accounting listeners (scale-out).
    Radiusd(RadiusArgs),
    /// Run only the workers (device jobs: RADIUS CoA/Disconnect, routers and OLTs; customer
    /// notifications: email, SMS, WhatsApp; scale-out).
    Worker {
        /// Serve only this tenant's jobs (a worker of its own); default: every tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// The demo tenants (`demo-isp`, owner admin@demo-isp.com / admin123, and `acme-net`).
        #[arg(long)]
        demo: bool,
    },
    /// Back up the embedded SQLite database while it runs, with the key files it needs, into
    /// a new directory (restore: stop the service and copy the files into the data directory).
    Backup {
        /// Directory to create for the backup (must not exist).
        output: PathBuf,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage staff users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Export a list or report of a tenant as CSV or XLSX (the same files as
    /// `GET /exports/{kind}.{format}`): customers, subscriptions, invoices, payments,
    /// radius-sessions, usage, audit-log, revenue-by-plan, collections, ageing.
    Export(ExportArgs),
    /// Bulk-import data from files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Args)]
struct ExportArgs {
    /// What to export (`customers`, `invoices`, `revenue-by-plan` ...).
    kind: String,
    /// Filters as NAME=VALUE, named as the GraphQL list's arguments (`status=OVERDUE`,
    /// `customerId=42`, `from=2026-01-01`).
    filters: Vec<String>,
    /// Tenant slug.
    #[arg(long)]
    tenant: String,
    /// csv or xlsx [default: from the --output extension, else csv].
    #[arg(long)]
    format: Option<String>,
    /// File to write [default: standard output; XLSX only when it is not a terminal].
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Customers with their subscriptions from CSV, XLSX, XLS or ODS; exits 2 when rows are bad.
    Customers(import_cmd::CustomersArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// HTTP listen address [default: 0.0.0.0:3000].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Seed the demo tenants first if the database has none.
    #[arg(long)]
    demo: bool,
}

#[derive(Args)]
struct RadiusArgs {
    /// UDP address of the RADIUS authentication listener [default: 0.0.0.0:1812].
    #[arg(long, env = "ISP_RADIUS_AUTH")]
    radius_auth: Option<SocketAddr>,
    /// UDP address of the RADIUS accounting listener [default: 0.0.0.0:1813].
    #[arg(long, env = "ISP_RADIUS_ACCT")]
    radius_acct: Option<SocketAddr>,
}

impl RadiusArgs {
    fn apply(&self, cfg: &mut Config) {
        if let Some(a) = self.radius_auth {
            cfg.radius.auth_listen = a;
        }
        if let Some(a) = self.radius_acct {
            cfg.radius.acct_listen = a;
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a staff user; creates the tenant too if it does not exist (bootstrap).
    Create {
        /// Tenant slug.
        #[arg(long)]
        tenant: String,
        /// Tenant display name (when creating the tenant).
        #[arg(long)]
        tenant_name: Option<String>,
        /// Currency for a new tenant.
        #[arg(long, default_value = "USD")]
        currency: String,
        /// Time zone for a new tenant.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Login email.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Role: owner, admin, manager, support, engineer or cashier.
        #[arg(long, default_value = "owner")]
        role: String,
        /// Password; read from ISP_USER_PASSWORD when not given.
        #[arg(long, env = "ISP_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

fn load_config(g: &Global, listen: Option<SocketAddr>) -> Result<Config> {
    let mut cfg = Config::load(g.config.as_deref(), |k| std::env::var(k).ok())?;
    if let Some(d) = &g.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(l) = listen {
        cfg.listen = l;
    }
    cfg.validate().map_err(anyhow::Error::msg).context("invalid configuration")?;
    Ok(cfg)
}

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    if cfg.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open(cfg: Config) -> Result<Ctx> {
    let url = isp_core::db::redact(&cfg.effective_database_url());
    let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!(database = %url, "database ready");
    Ok(ctx)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// How long after SIGTERM the process may take to stop, whatever it is doing.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(9);

/// Waits for SIGTERM or Ctrl-C, then tells every long pass to stop between chunks
/// (`ctx.shutdown`: billing, dunning, sweeps) and arms a watchdog: whatever still runs
/// [`SHUTDOWN_GRACE`] later (a client holding a connection open, a statement that will not
/// end), the process exits then. Work cut off is a transaction that rolls back.
async fn stopping(ctx: Ctx) {
    shutdown_signal().await;
    ctx.shutdown.cancel();
    std::thread::spawn(|| {
        std::thread::sleep(SHUTDOWN_GRACE);
        tracing::warn!(secs = SHUTDOWN_GRACE.as_secs(), "still stopping after the grace period; exiting now");
        std::process::exit(0);
    });
}

async fn serve(cfg: Config, demo: bool, with_radius: bool) -> Result<()> {
    if cfg.auth.argon2_memory_kib < 8 * 1024 {
        tracing::warn!(
            kib = cfg.auth.argon2_memory_kib,
            "argon2 memory cost is below 8 MiB: fine for tests, weak for production"
        );
    }
    let listen = cfg.listen;
    let ctx = open(cfg).await?;
    if demo && seed::demo(&ctx).await.map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))? {
        tracing::info!("seeded demo data: tenant demo-isp, owner admin@demo-isp.com / admin123");
    }
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(addr = %listener.local_addr()?, "GraphQL API on http://{}/graphql", listener.local_addr()?);
    spawn_relay(&ctx);
    if !with_radius {
        let stop = stopping(ctx.clone());
        isp_api::serve(listener, ctx, stop).await?;
        return Ok(());
    }
    let (auth, acct) = bind_radius(&ctx).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let radius = tokio::spawn(isp_radiusd::server::run(auth, acct, ctx.clone(), stop.clone().cancelled_owned()));
    let worker = tokio::spawn(isp_netctl::worker::run(ctx.clone(), stop.clone().cancelled_owned()));
    let notifier = isp_core::delivery::Worker::new(ctx.clone(), isp_api::pdf::attachments());
    let notifier = tokio::spawn(notifier.run(stop.clone().cancelled_owned()));
    // Billing and dunning for every tenant at start and when the day changes, and the SLA
    // sweep every minute; idempotent, so several `isp serve` processes may run it at once.
    let billing = tokio::spawn(isp_core::scheduler::run_daily(
        ctx.clone(),
        std::time::Duration::from_secs(60),
        stop.clone().cancelled_owned(),
    ));
    let api_stop = stop.clone();
    let signal = {
        let ctx = ctx.clone();
        async move {
            stopping(ctx).await;
            stop.cancel();
        }
    };
    let api = isp_api::serve(listener, ctx, async move { api_stop.cancelled().await });
    let (api, ()) = tokio::join!(api, signal);
    api?;
    let _ = radius.await;
    let _ = worker.await;
    let _ = notifier.await;
    let _ = billing.await;
    Ok(())
}

/// `isp backup OUTPUT`: the database (`VACUUM INTO`, consistent while the service runs) and
/// the key files of the data directory (without the master key the copy's subscriber
/// passwords and device secrets cannot be read) into the new directory `output`.
/// `isp export`: the core export path that the HTTP route uses, into a file or stdout.
async fn export(ctx: &Ctx, args: ExportArgs) -> Result<()> {
    use isp_core::export::{self, Filters, Format};
    use std::io::{IsTerminal, Write};
    let format = match (&args.format, &args.output) {
        (Some(f), _) => Format::from_ext(f).with_context(|| format!("unknown format {f:?}: use csv or xlsx"))?,
        (None, Some(p)) => p.extension().and_then(|e| e.to_str()).and_then(Format::from_ext).unwrap_or(Format::Csv),
        (None, None) => Format::Csv,
    };
    if format == Format::Xlsx && args.output.is_none() && std::io::stdout().is_terminal() {
        bail!("XLSX is binary: pass --output FILE or redirect standard output");
    }
    let mut pairs = Vec::new();
    for f in &args.filters {
        let (k, v) = f.split_once('=').with_context(|| format!("filter {f:?} is not NAME=VALUE"))?;
        pairs.push((k.to_string(), v.to_string()));
    }
    let tenant = tenants::by_slug(&ctx.db, &args.tenant)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("unknown tenant {:?}", args.tenant))?;
    let actor = Actor::system(tenant.id, "export");
    let table =
        export::open(ctx, &actor, &args.kind, &Filters::new(pairs)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows = match &args.output {
        Some(path) => {
            // Written beside the target and renamed when complete: a failed export leaves no
            // half-written file under the name asked for.
            let tmp = path.with_extension(format!("{}.part", format.ext()));
            let file = std::io::BufWriter::new(
                std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
            );
            let result = export::write(ctx.db.clone(), table, format, file).await;
            let (mut file, rows) = match result {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    bail!("{e}");
                }
            };
            file.flush()?;
            std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
            rows
        }
        None => {
            let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
            let (mut out, rows) =
                export::write(ctx.db.clone(), table, format, out).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            out.flush()?;
            rows
        }
    };
    eprintln!("exported {rows} rows of {}", args.kind);
    Ok(())
}

async fn backup(ctx: &Ctx, data_dir: &std::path::Path, output: &std::path::Path) -> Result<()> {
    if ctx.db.sqlite_file().is_none() {
        bail!("the database is PostgreSQL: back it up with pg_dump (README, Deployment); `isp backup` copies the embedded SQLite database");
    }
    if output.exists() {
        bail!("{} exists; give a new directory", output.display());
    }
    std::fs::create_dir_all(output).with_context(|| format!("cannot create {}", output.display()))?;
    let db_file = output.join("isp.db");
    ctx.db.backup_sqlite(&db_file).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut copied = vec!["isp.db".to_string()];
    for key in ["master.key", "jwt.key"] {
        let from = data_dir.join(key);
        if from.exists() {
            let to = output.join(key);
            std::fs::copy(&from, &to).with_context(|| format!("cannot copy {}", from.display()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))?;
            }
            copied.push(key.to_string());
        }
    }
    // Stored files (documents, ticket attachments) never change and are written before the
    // rows naming them commit, so every file the database copy refers to is there by now.
    let blobs = data_dir.join("blobs");
    if blobs.is_dir() {
        let n = copy_files(&blobs, &output.join("blobs"))?;
        copied.push(format!("blobs ({n} files)"));
    }
    let size = std::fs::metadata(&db_file)?.len();
    println!("backed up {} to {} ({} bytes of database)", copied.join(", "), output.display(), size);
    Ok(())
}

/// Copies the folder tree `from` to `to` (created), leaving out hidden (temporary) files;
/// how many files it copied.
fn copy_files(from: &std::path::Path, to: &std::path::Path) -> Result<usize> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut n = 0;
    for e in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let e = e?;
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if e.file_type()?.is_dir() {
            n += copy_files(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("cannot copy {}", src.display()))?;
            n += 1;
        }
    }
    Ok(n)
}

/// The event relay (`isp_core::relay`): changes made by other processes on the same database
/// reach this one's subscribers and caches. It ends with the process.
fn spawn_relay(ctx: &Ctx) {
    tokio::spawn(isp_core::relay::run(ctx.clone(), std::future::pending()));
}

async fn bind_radius(ctx: &Ctx) -> Result<(tokio::net::UdpSocket, tokio::net::UdpSocket)> {
    let (a, b) = (ctx.config.radius.auth_listen, ctx.config.radius.acct_listen);
    let auth = tokio::net::UdpSocket::bind(a).await.with_context(|| format!("cannot listen on udp {a}"))?;
    let acct = tokio::net::UdpSocket::bind(b).await.with_context(|| format!("cannot listen on udp {b}"))?;
    tracing::info!(auth = %auth.local_addr()?, acct = %acct.local_addr()?, "RADIUS listening");
    Ok((auth, acct))
}

/// mimalloc: the API allocates many small objects per request; the system allocator was ~19% of
/// server CPU in the GraphQL benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema => {
            print!("{}", isp_api::schema::sdl());
            Ok(())
        }
        Command::Serve { serve: a, radius } => {
            let mut cfg = load_config(&cli.global, a.listen)?;
            radius.apply(&mut cfg);
            init_logging(&cfg);
            serve(cfg, a.demo, true).await
        }
        Command::Api(a) => {
            let cfg = load_config(&cli.global, a.listen)?;
            init_logging(&cfg);
            serve(cfg, a.demo, false).await
        }
        Command::Radiusd(radius) => {
            let mut cfg = load_config(&cli.global, None)?;
            radius.apply(&mut cfg);
            init_logging(&cfg);
            let ctx = open(cfg).await?;
            spawn_relay(&ctx);
            let (auth, acct) = bind_radius(&ctx).await?;
            let stop = stopping(ctx.clone());
            isp_radiusd::server::run(auth, acct, ctx, stop).await;
            Ok(())
        }
        Command::Worker { tenant } => {
            let cfg = load_config(&cli.global, None)?;
            init_logging(&cfg);
            let ctx = open(cfg).await?;
            spawn_relay(&ctx);
            let mut worker = isp_netctl::worker::Worker::new(ctx.clone());
            let mut notifier = isp_core::delivery::Worker::new(ctx.clone(), isp_api::pdf::attachments());
            if let Some(slug) = tenant {
                let t = isp_core::store::tenants::by_slug(&ctx.db, &slug)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
                    .ok_or_else(|| anyhow::anyhow!("unknown tenant {slug:?}"))?;
                worker = worker.only_tenant(t.id);
                notifier = notifier.only_tenant(t.id);
                tracing::info!(tenant = %slug, "device-job and notification workers running for one tenant");
            } else {
                tracing::info!("device-job and notification workers running");
            }
            let stop = tokio_util::sync::CancellationToken::new();
            let notifier = tokio::spawn(notifier.run(stop.clone().cancelled_owned()));
            worker.run(stopping(ctx.clone())).await;
            stop.cancel();
            let _ = notifier.await;
            Ok(())
        }
        Command::Backup { output } => {
            let cfg = load_config(&cli.global, None)?;
            init_logging(&cfg);
            let data_dir = cfg.data_dir.clone();
            let ctx = open(cfg).await?;
            backup(&ctx, &data_dir, &output).await
        }
        Command::Export(args) => {
            // No log subscriber: standard output may be the file itself.
            let cfg = load_config(&cli.global, None)?;
            let ctx = open(cfg).await?;
            export(&ctx, args).await
        }
        Command::Migrate => {
            let cfg = load_config(&cli.global, None)?;
            init_logging(&cfg);
            open(cfg).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Seed { demo } => {
            if !demo {
                bail!("nothing to seed: pass --demo");
            }
            let cfg = load_config(&cli.global, None)?;
            init_logging(&cfg);
            let ctx = open(cfg).await?;
            if seed::demo(&ctx).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                println!("seeded tenant demo-isp (owner admin@demo-isp.com / admin123) and acme-net");
            } else {
                println!("demo data already present; nothing changed");
            }
            Ok(())
        }
        Command::Import { command: ImportCommand::Customers(a) } => {
            let cfg = load_config(&cli.global, None)?;
            let ctx = open(cfg).await?;
            let code = import_cmd::customers(&ctx, a).await?;
            ctx.db.close().await;
            std::process::exit(code);
        }
        Command::User {
            command: UserCommand::Create { tenant, tenant_name, currency, timezone, email, name, role, password },
        } => {
            let cfg = load_config(&cli.global, None)?;
            init_logging(&cfg);
            let ctx = open(cfg).await?;
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = name.unwrap_or_else(|| email.split('@').next().unwrap_or("staff").to_string());
            match tenants::by_slug(&ctx.db, &tenant).await.map_err(|e| anyhow::anyhow!("{e}"))? {
                Some(t) => {
                    let actor = Actor::system(t.id, "cli");
                    let u = staff::create_staff(&ctx, &actor, &email, &name, role, &password)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("created {} {} in tenant {}", u.role, u.email, t.slug);
                }
                None => {
                    if role != Role::Owner {
                        bail!("tenant {tenant:?} does not exist; create it with an owner first (--role owner)");
                    }
                    let r = Registration {
                        tenant: NewTenant {
                            slug: tenant.clone(),
                            name: tenant_name.unwrap_or_else(|| tenant.clone()),
                            currency,
                            timezone,
                        },
                        owner_email: email,
                        owner_name: name,
                        owner_password: password,
                    };
                    let s =
                        staff::create_tenant_with_owner(&ctx, &r, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                    println!("created tenant {} with owner {}", s.tenant.slug, s.user.email);
                }
            }
            Ok(())
        }
    }
}
