//! The server under test: the release `isp` binary in its own process, so the load
//! generator does not share its runtime (or steal its threads) from inside.

use crate::fixture::{Fixture, ARGON2_MEMORY_KIB};
use crate::http::Conn;
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long the server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to shut down before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// A running `isp serve` child process.
pub struct Server {
    child: Child,
    /// Address it listens on.
    pub addr: SocketAddr,
    /// Its combined stdout and stderr.
    pub log: PathBuf,
}

/// `isp` next to the running executable (`target/release/isp` beside `isp-bench`).
pub fn default_isp_bin() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    Ok(me.with_file_name(format!("isp{}", std::env::consts::EXE_SUFFIX)))
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    /// Starts `bin api` (the API alone: no RADIUS listeners, worker or daily billing run competing
    /// for the CPU) on the fixture's store and waits until `/readyz` answers 200.
    pub async fn start(bin: &Path, fx: &Fixture, pool: u32) -> Result<Self> {
        if !bin.is_file() {
            bail!("{} not found: build it with `cargo build --release -p isp` or pass --isp-bin", bin.display());
        }
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = fx.data_dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("api")
            .arg("--data-dir")
            .arg(&fx.data_dir)
            .arg("--listen")
            .arg(addr.to_string())
            .env_remove("ISP_CONFIG")
            // Named explicitly so a DATABASE_URL in the caller's shell cannot redirect the run.
            .env("ISP_DATABASE_URL", &fx.database_url)
            .env("ISP_ARGON2_MEMORY_KIB", ARGON2_MEMORY_KIB.to_string())
            .env("ISP_DB_MAX_CONNECTIONS", pool.to_string())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Self { child, addr, log };
        server.wait_ready().await?;
        Ok(server)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("the server exited with {status} before it was ready:\n{}", tail(&self.log));
            }
            // Kept so that a timeout says why, e.g. a response the client cannot read.
            let last = match Conn::connect(self.addr).await {
                Ok(mut c) => match c.get("/readyz").await {
                    Ok((status, _)) if (200..300).contains(&status) => return Ok(()),
                    Ok((status, body)) => format!("HTTP {status}: {}", String::from_utf8_lossy(body)),
                    Err(e) => format!("{e:#}"),
                },
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() > deadline {
                bail!("the server was not ready within {READY_TIMEOUT:?} (last: {last}):\n{}", tail(&self.log));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Process id, for CPU accounting.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server (SIGTERM, so a profiler wrapping it can write its data; SIGKILL
    /// after a grace period) and waits for it to exit.
    pub async fn stop(mut self) -> Result<()> {
        #[cfg(unix)]
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
            if tokio::time::timeout(STOP_GRACE, self.child.wait()).await.is_ok() {
                return Ok(());
            }
        }
        self.child.kill().await?;
        Ok(())
    }
}
