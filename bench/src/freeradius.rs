//! FreeRADIUS 3.2 (Debian's `freeradius` package) as the comparison: a config directory made
//! for the run from the installed one, with one virtual server that authorizes from
//! `rlm_sql_sqlite` (radcheck Cleartext-Password, radreply Mikrotik-Rate-Limit), authenticates
//! with `pap`, and accounts with `acct_unique` + `sql`, holding the same users as our store.

use anyhow::{bail, Context, Result};
use isp_core::db::rusqlite;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The installed configuration the run's copy starts from.
const SYSTEM_RADDB: &str = "/etc/freeradius/3.0";
/// The daemon (Debian names it `freeradius`).
const DAEMON: &str = "/usr/sbin/freeradius";
/// Modules the bench server loads; the rest of `mods-enabled` (eap, mschap, files ...) is
/// removed so nothing else is read or instantiated.
const MODULES: &[&str] = &["always", "attr_filter", "expr", "pap", "preprocess", "unpack", "utf8"];

/// A running FreeRADIUS.
pub struct FreeRadius {
    child: Child,
    /// Its log (startup errors).
    pub log: PathBuf,
}

/// Why FreeRADIUS cannot run here, or `None` when it is installed.
pub fn missing() -> Option<String> {
    if !Path::new(DAEMON).is_file() {
        return Some(format!("{DAEMON} not installed (apt-get install -y freeradius freeradius-utils)"));
    }
    if !Path::new(SYSTEM_RADDB).join("radiusd.conf").is_file() {
        return Some(format!("{SYSTEM_RADDB}/radiusd.conf missing"));
    }
    None
}

fn site(auth_port: u16, acct_port: u16) -> String {
    format!(
        r#"server bench {{
    listen {{
        type = auth
        ipaddr = 127.0.0.1
        port = {auth_port}
    }}
    listen {{
        type = acct
        ipaddr = 127.0.0.1
        port = {acct_port}
    }}
    authorize {{
        preprocess
        sql
        pap
    }}
    authenticate {{
        Auth-Type PAP {{
            pap
        }}
    }}
    preacct {{
        preprocess
        acct_unique
    }}
    accounting {{
        sql
    }}
    post-auth {{
    }}
}}
"#
    )
}

fn clients(secret: &str) -> String {
    format!(
        "client bench {{\n    ipaddr = 127.0.0.1\n    secret = {secret}\n    require_message_authenticator = no\n}}\n"
    )
}

/// Writes `dir/raddb` and the SQLite file `dir/radius.db` with `users` users `{prefix}{i}` /
/// `pw{i}` and the reply `rate_limit`.
pub async fn configure(
    dir: &Path,
    secret: &str,
    users: usize,
    prefix: &str,
    rate_limit: &str,
    ports: (u16, u16),
) -> Result<PathBuf> {
    let raddb = dir.join("raddb");
    if raddb.exists() {
        std::fs::remove_dir_all(&raddb)?;
    }
    let st = Command::new("cp").arg("-a").arg(SYSTEM_RADDB).arg(&raddb).status()?;
    if !st.success() {
        bail!("copying {SYSTEM_RADDB} failed");
    }
    for sub in ["log", "run"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    // radiusd.conf: our log and run dirs, stay root (the scratch dir is ours), quiet log.
    let conf = std::fs::read_to_string(raddb.join("radiusd.conf"))?;
    let conf: String = conf
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("logdir =") {
                format!("logdir = {}", dir.join("log").display())
            } else if t.starts_with("run_dir =") {
                format!("run_dir = {}", dir.join("run").display())
            } else if t.starts_with("user =") || t.starts_with("group =") {
                String::new()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(raddb.join("radiusd.conf"), conf)?;
    std::fs::write(raddb.join("clients.conf"), clients(secret))?;
    for d in ["sites-enabled", "mods-enabled"] {
        for e in std::fs::read_dir(raddb.join(d))? {
            let e = e?;
            let keep = d == "mods-enabled" && MODULES.contains(&e.file_name().to_string_lossy().as_ref());
            if !keep {
                std::fs::remove_file(e.path())?;
            }
        }
    }
    std::fs::write(raddb.join("sites-enabled/bench"), site(ports.0, ports.1))?;

    let db = dir.join("radius.db");
    let sql = std::fs::read_to_string(raddb.join("mods-available/sql"))?;
    let sql = sql
        .replace("driver = \"rlm_sql_null\"", "driver = \"rlm_sql_sqlite\"")
        .replace("filename = \"/tmp/freeradius.db\"", &format!("filename = \"{}\"", db.display()));
    std::fs::write(raddb.join("mods-enabled/sql"), sql)?;

    seed(&db, &raddb.join("mods-config/sql/main/sqlite/schema.sql"), users, prefix, rate_limit)?;
    Ok(raddb)
}

fn seed(db: &Path, schema: &Path, users: usize, prefix: &str, rate_limit: &str) -> Result<()> {
    if db.exists() {
        std::fs::remove_file(db)?;
    }
    let conn = rusqlite::Connection::open(db).context("creating the FreeRADIUS database")?;
    let schema = std::fs::read_to_string(schema).with_context(|| format!("reading {}", schema.display()))?;
    conn.execute_batch(&schema).context("FreeRADIUS schema")?;
    conn.execute_batch("BEGIN")?;
    for start in (0..users).step_by(1000) {
        let end = (start + 1000).min(users);
        let check: Vec<String> =
            (start..end).map(|i| format!("('{prefix}{i}','Cleartext-Password',':=','pw{i}')")).collect();
        let reply: Vec<String> =
            (start..end).map(|i| format!("('{prefix}{i}','Mikrotik-Rate-Limit',':=','{rate_limit}')")).collect();
        let q = format!(
            "INSERT INTO radcheck (username, attribute, op, value) VALUES {};\
             INSERT INTO radreply (username, attribute, op, value) VALUES {};",
            check.join(","),
            reply.join(",")
        );
        conn.execute_batch(&q)?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

impl FreeRadius {
    /// Checks the config (`-C`), then starts `freeradius -f -d raddb` with its log in `dir`.
    pub fn start(raddb: &Path, dir: &Path) -> Result<Self> {
        // Startup errors; the daemon's own log is `dir/log/radius.log` (radiusd.conf).
        let log = dir.join("freeradius.out");
        let check = Command::new(DAEMON).arg("-C").arg("-d").arg(raddb).output()?;
        if !check.status.success() {
            let out = String::from_utf8_lossy(&check.stdout).to_string() + &String::from_utf8_lossy(&check.stderr);
            let tail: Vec<&str> = out.lines().rev().take(15).collect();
            bail!("config check failed:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        let out = std::fs::File::create(&log)?;
        let child = Command::new(DAEMON)
            .arg("-f")
            .arg("-d")
            .arg(raddb)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting freeradius")?;
        Ok(Self { child, log })
    }

    /// Process id, for CPU accounting.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, then SIGKILL after a grace period.
    pub fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..50 {
            if self.exited() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
