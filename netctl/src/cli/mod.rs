//! The `netctl` command line for NOC engineers: routers and OLTs, suspensions, RADIUS and
//! live sessions, kicks, the device-job queue and device reconciliation of one tenant, as
//! aligned tables or `--json`.
//!
//! [`run`] is the whole program behind a thin `main`, so tests call it directly with their
//! own arguments, environment lookup and output buffers.

mod network;
mod table;

pub use table::Table;

use chrono::DateTime;
use clap::{Args, Parser, Subcommand};
use isp_core::auth::Actor;
use isp_core::clock::SystemClock;
use isp_core::config::Config;
use isp_core::store::jobs::{self, DeviceJob};
use isp_core::store::nas;
use isp_core::store::page::{PageArgs, MAX_PAGE};
use isp_core::store::radius_sessions::{self, SessionFilter};
use isp_core::store::tenants;
use isp_core::{CoreError, Ctx};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: a runtime failure (database down, refused change ...).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: bad usage or configuration.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the tenant, job or session asked for does not exist.
pub const EXIT_NOT_FOUND: i32 = 3;
/// Exit code: `sync --dry-run` found devices that differ from the database.
pub const EXIT_DRIFT: i32 = 4;

/// Audit-log actor name of changes made from the command line.
pub const ACTOR: &str = "netctl";

/// Network control for NOC engineers (reads the same configuration as `isp`).
#[derive(Parser, Debug)]
#[command(name = "netctl", version, about)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct Global {
    /// TOML configuration file, as for `isp` [env: ISP_CONFIG].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Data directory of the embedded database and secrets [default: ./data; env: ISP_DATA_DIR].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL (overrides the configuration) [env: ISP_DATABASE_URL, DATABASE_URL].
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Tenant slug every command works in.
    #[arg(long, global = true)]
    tenant: Option<String>,
    /// Print JSON for scripts instead of tables.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Routers and OLTs the worker pushes suspensions to.
    Devices {
        #[command(subcommand)]
        command: Option<DevicesCommand>,
    },
    /// NAS (RADIUS clients) of the tenant, never their secrets.
    Nas,
    /// Suspend a subscription (by login or --subscription ID): RADIUS disconnect and the
    /// device changes its access type calls for, delivered at once.
    Suspend(network::StatusArgs),
    /// Resume a suspended subscription and undo its device changes, delivered at once.
    Resume(network::StatusArgs),
    /// Sessions: from accounting (default, newest first, at most 100) or live from routers.
    Sessions {
        /// Only this login.
        #[arg(long)]
        username: Option<String>,
        /// Include finished sessions (accounting only).
        #[arg(long, conflicts_with = "live")]
        all: bool,
        /// Ask the routers (`/ppp/active`, `/ip/hotspot/active`) instead of accounting.
        #[arg(long)]
        live: bool,
        /// With --live: only this router.
        #[arg(long, requires = "live")]
        device: Option<String>,
    },
    /// Queue a RADIUS Disconnect for every open session of a login.
    Kick {
        /// The login (User-Name).
        username: String,
    },
    /// Device jobs, newest first (at most 100).
    Jobs {
        /// Only dead-lettered jobs.
        #[arg(long)]
        failed: bool,
        #[command(subcommand)]
        command: Option<JobsCommand>,
    },
    /// Compare what the database says should be suspended with every device, show the
    /// differences and fix them. Exit code 4 when --dry-run finds differences.
    Sync {
        /// Only show the differences.
        #[arg(long)]
        dry_run: bool,
        /// Only this device.
        #[arg(long)]
        device: Option<String>,
    },
    /// Run a raw command: RouterOS API words (`/ip/address/print ?interface=ether1
    /// =.proplist=address`) or one OLT CLI line.
    Exec {
        /// Device name.
        device: String,
        /// The command and its words.
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum DevicesCommand {
    /// List the routers and OLTs (never their passwords).
    List,
    /// Register a router or OLT; the password comes from an environment variable.
    Add(network::AddArgs),
    /// Log in to a device and show what it is.
    Test {
        /// Device name.
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum JobsCommand {
    /// Put a dead job back to pending with its attempts reset.
    Retry {
        /// Job id.
        id: i64,
    },
}

/// Why a command failed, and so its exit code.
#[derive(Debug)]
enum Failure {
    Usage(String),
    NotFound(String),
    Runtime(String),
    Drift(String),
}

impl Failure {
    fn code(&self) -> i32 {
        match self {
            Failure::Usage(_) => EXIT_USAGE,
            Failure::NotFound(_) => EXIT_NOT_FOUND,
            Failure::Runtime(_) => EXIT_FAILURE,
            Failure::Drift(_) => EXIT_DRIFT,
        }
    }

    fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::NotFound(m) | Failure::Runtime(m) | Failure::Drift(m) => m,
        }
    }
}

impl From<CoreError> for Failure {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(_) => Failure::NotFound(e.to_string()),
            CoreError::Validation { .. } => Failure::Usage(e.to_string()),
            e => Failure::Runtime(e.to_string()),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Runtime(format!("cannot write output: {e}"))
    }
}

type Outcome = Result<(), Failure>;

/// Runs `netctl` with `args` (the first is the program name), reading the environment through
/// `env`, writing results to `out` and errors to `err`; returns the exit code.
pub async fn run(
    args: Vec<String>,
    env: impl Fn(&str) -> Option<String>,
    out: &mut impl Write,
    err: &mut impl Write,
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let help = matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion);
            let text = e.render().to_string();
            let _ = if help { write!(out, "{text}") } else { write!(err, "{text}") };
            return if help { EXIT_OK } else { EXIT_USAGE };
        }
    };
    match execute(cli, &env, out).await {
        Ok(()) => EXIT_OK,
        Err(f) => {
            let _ = writeln!(err, "netctl: {}", f.message());
            f.code()
        }
    }
}

fn load_config(g: &Global, env: &impl Fn(&str) -> Option<String>) -> Result<Config, Failure> {
    let path = g.config.clone().or_else(|| env("ISP_CONFIG").map(PathBuf::from));
    let mut cfg = Config::load(path.as_deref(), env).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(d) = &g.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(u) = &g.database_url {
        cfg.database_url = u.clone();
    }
    cfg.validate().map_err(|e| Failure::Usage(format!("invalid configuration: {e}")))?;
    // Unlike `isp serve`, never create an empty embedded database: that would hide a wrong
    // --data-dir behind "unknown tenant".
    if cfg.database_url.is_empty() && !cfg.data_dir.join("isp.db").exists() {
        return Err(Failure::Usage(format!(
            "no database at {} (pass --data-dir, --database-url or set DATABASE_URL)",
            cfg.data_dir.join("isp.db").display()
        )));
    }
    Ok(cfg)
}

async fn execute(cli: Cli, env: &impl Fn(&str) -> Option<String>, out: &mut impl Write) -> Outcome {
    let g = &cli.global;
    let cfg = load_config(g, env)?;
    let slug = g.tenant.clone().ok_or_else(|| Failure::Usage("--tenant <slug> is required".into()))?;
    let url = isp_core::db::redact(&cfg.effective_database_url());
    let ctx = Ctx::open(cfg, Arc::new(SystemClock)).await.map_err(|e| Failure::Runtime(format!("{url}: {e}")))?;
    let tenant =
        tenants::by_slug(&ctx.db, &slug).await?.ok_or_else(|| Failure::NotFound(format!("unknown tenant {slug:?}")))?;
    let c = Cmd { ctx, tenant_id: tenant.id, json: g.json };
    let result = match cli.command {
        Command::Devices { command: None | Some(DevicesCommand::List) } => c.devices(out).await,
        Command::Devices { command: Some(DevicesCommand::Add(a)) } => c.device_add(a, env, out).await,
        Command::Devices { command: Some(DevicesCommand::Test { name }) } => c.device_test(&name, out).await,
        Command::Nas => c.nas(out).await,
        Command::Suspend(a) => c.set_status(a, true, out).await,
        Command::Resume(a) => c.set_status(a, false, out).await,
        Command::Sessions { live: true, username, device, .. } => c.live_sessions(username, device, out).await,
        Command::Sessions { username, all, .. } => c.sessions(username, all, out).await,
        Command::Sync { dry_run, device } => c.sync(dry_run, device, out).await,
        Command::Exec { device, command } => c.exec(&device, command, out).await,
        Command::Kick { username } => c.kick(&username, out).await,
        Command::Jobs { command: Some(JobsCommand::Retry { id }), .. } => c.retry(id, out).await,
        Command::Jobs { failed, command: None } => c.jobs(failed, out).await,
    };
    c.ctx.db.close().await;
    result
}

/// One command's handles.
struct Cmd {
    ctx: Ctx,
    tenant_id: i64,
    json: bool,
}

fn time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()
}

fn time_json(ms: Option<i64>) -> Value {
    ms.and_then(DateTime::from_timestamp_millis).map(|t| Value::String(t.to_rfc3339())).unwrap_or(Value::Null)
}

fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

fn max_page() -> PageArgs {
    PageArgs { first: Some(MAX_PAGE), ..Default::default() }
}

impl Cmd {
    fn emit(&self, out: &mut impl Write, value: Value, table: Table) -> Outcome {
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&value).expect("JSON serializes"))?;
        } else {
            write!(out, "{}", table.render())?;
        }
        Ok(())
    }

    async fn nas(&self, out: &mut impl Write) -> Outcome {
        let list = nas::list(&self.ctx.db, self.tenant_id, &max_page()).await?.items;
        let mut t = Table::new(&["ID", "NAME", "IP", "TYPE", ">COA-PORT", "MSG-AUTH", "CREATED"]);
        let mut json = Vec::new();
        for n in &list {
            t.row(vec![
                n.id.to_string(),
                n.name.clone(),
                n.ip_address.clone(),
                n.nas_type.to_string(),
                n.coa_port.to_string(),
                if n.requires_message_authenticator() { "required" } else { "optional" }.into(),
                time(n.created_at),
            ]);
            json.push(json!({
                "id": n.id, "name": n.name, "ipAddress": n.ip_address, "nasType": n.nas_type.as_str(),
                "coaPort": n.coa_port, "requireMessageAuthenticator": n.requires_message_authenticator(),
                "description": n.description, "createdAt": time_json(Some(n.created_at)),
            }));
        }
        self.emit(out, Value::Array(json), t)
    }

    async fn sessions(&self, username: Option<String>, all: bool, out: &mut impl Write) -> Outcome {
        let f = SessionFilter { open: (!all).then_some(true), username, ..Default::default() };
        let list = radius_sessions::list(&self.ctx.db, self.tenant_id, &f, &max_page()).await?.items;
        let mut ids: Vec<i64> = list.iter().map(|s| s.nas_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let names: HashMap<i64, String> =
            nas::get_many(&self.ctx.db, self.tenant_id, &ids).await?.into_iter().map(|n| (n.id, n.name)).collect();
        let nas_name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
        let mut headers = vec!["ID", "USERNAME", "NAS", "FRAMED-IP", "STARTED"];
        if all {
            headers.push("STOPPED");
        }
        headers.extend([">IN-BYTES", ">OUT-BYTES"]);
        let mut t = Table::new(&headers);
        let mut json = Vec::new();
        for s in &list {
            let mut row = vec![
                s.id.to_string(),
                s.username.clone(),
                nas_name(s.nas_id),
                or_dash(s.framed_ip.as_deref()),
                time(s.started_at),
            ];
            if all {
                row.push(s.stopped_at.map(time).unwrap_or_else(|| "open".into()));
            }
            row.extend([s.input_octets.to_string(), s.output_octets.to_string()]);
            t.row(row);
            json.push(json!({
                "id": s.id, "username": s.username, "nasId": s.nas_id, "nas": nas_name(s.nas_id),
                "acctSessionId": s.acct_session_id, "framedIp": s.framed_ip, "open": s.open != 0,
                "startedAt": time_json(Some(s.started_at)), "stoppedAt": time_json(s.stopped_at),
                "inputOctets": s.input_octets, "outputOctets": s.output_octets, "sessionTime": s.session_time,
            }));
        }
        self.emit(out, Value::Array(json), t)
    }

    async fn kick(&self, username: &str, out: &mut impl Write) -> Outcome {
        let f = SessionFilter { open: Some(true), username: Some(username.into()), ..Default::default() };
        let open = radius_sessions::list(&self.ctx.db, self.tenant_id, &f, &max_page()).await?.items;
        if open.is_empty() {
            return Err(Failure::NotFound(format!("no open sessions for {username:?}")));
        }
        let actor = Actor::system(self.tenant_id, ACTOR);
        let mut kicked = Vec::new();
        for s in &open {
            match isp_core::workflows::sessions::disconnect(&self.ctx, &actor, s.id).await {
                Ok(_) => kicked.push(s.id),
                // Ended between the listing and now: nothing left to disconnect.
                Err(CoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if self.json {
            writeln!(out, "{}", json!({"username": username, "queued": kicked.len(), "sessionIds": kicked}))?;
        } else {
            writeln!(out, "queued {} disconnect job(s) for {username}", kicked.len())?;
        }
        Ok(())
    }

    async fn jobs(&self, failed: bool, out: &mut impl Write) -> Outcome {
        let list = if failed {
            jobs::dead(&self.ctx.db, self.tenant_id, MAX_PAGE as i64).await?
        } else {
            jobs::recent(&self.ctx.db, self.tenant_id, MAX_PAGE as i64).await?
        };
        let mut t =
            Table::new(&["ID", "KIND", "STATUS", "USERNAME", "TARGET", ">ATTEMPTS", "NEXT-ATTEMPT", "LAST-ERROR"]);
        let mut json = Vec::new();
        for j in &list {
            let (row, v) = network::job_row(j);
            t.row(row);
            json.push(v);
        }
        self.emit(out, Value::Array(json), t)
    }

    async fn retry(&self, id: i64, out: &mut impl Write) -> Outcome {
        let j = isp_core::workflows::jobs::retry(&self.ctx, &Actor::system(self.tenant_id, ACTOR), id).await.map_err(
            |e| match e {
                CoreError::NotFound(_) => Failure::NotFound(format!("no job {id} in this tenant")),
                CoreError::Conflict { .. } => {
                    Failure::Runtime(format!("job {id} is not dead; only dead jobs are retried"))
                }
                e => e.into(),
            },
        )?;
        if self.json {
            writeln!(out, "{}", network::job_row(&j).1)?;
        } else {
            writeln!(out, "job {id} is pending again")?;
        }
        Ok(())
    }
}

/// A job as JSON; `p` is its payload (RADIUS or device).
fn job_json(j: &DeviceJob, p: &Value) -> Value {
    json!({
        "id": j.id, "kind": j.kind.as_str(), "status": j.status.as_str(), "nasId": j.nas_id,
        "deviceId": j.device_id, "username": p["username"], "subscriptionId": p["subscriptionId"],
        "acctSessionId": p["acctSessionId"], "op": p["op"], "reason": p["reason"],
        "attempts": j.attempts, "nextAttemptAt": time_json(Some(j.next_attempt_at)),
        "lastError": j.last_error, "createdAt": time_json(Some(j.created_at)),
    })
}
