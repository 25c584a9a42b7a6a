//! CPU accounting from `/proc` (Linux): how much of the machine the server and the load
//! generator used during a measured window. Elsewhere the figures are simply absent.

use std::time::{Duration, Instant};

/// Kernel clock ticks per second in `/proc` figures (USER_HZ, 100 on every Linux ABI).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds (user + system) process `pid` has used so far.
fn process_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / TICKS_PER_SEC)
}

/// CPU seconds used so far by every running process named `postgres` (a local server's
/// backends; zero when there is none).
fn postgres_secs() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains("(postgres)")))
        .filter_map(process_secs)
        .sum()
}

/// (busy, total) jiffies of all CPUs together.
fn machine_jiffies() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0.0);
    Some((total - idle, total))
}

/// CPU use over a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Cores the server kept busy on average.
    pub server_cores: Option<f64>,
    /// Cores this process (the load generator) kept busy on average.
    pub client_cores: Option<f64>,
    /// Cores local PostgreSQL processes kept busy on average.
    pub postgres_cores: Option<f64>,
    /// Share of the whole machine that was busy, 0..=1.
    pub machine_busy: Option<f64>,
}

impl Usage {
    /// Cores used by every other process on the machine (noise in the figures).
    pub fn other_cores(&self) -> Option<f64> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let other = self.machine_busy? * cpus
            - self.server_cores.unwrap_or(0.0)
            - self.client_cores?
            - self.postgres_cores.unwrap_or(0.0);
        Some(other.max(0.0))
    }
}

impl Usage {
    /// The average of `self` over `secs` and `other` over `other_secs`; a figure missing from
    /// either is missing from the result.
    pub fn averaged(&self, secs: f64, other: &Usage, other_secs: f64) -> Usage {
        let total = secs + other_secs;
        let avg = |a: Option<f64>, b: Option<f64>| match total > 0.0 {
            true => Some((a? * secs + b? * other_secs) / total),
            false => None,
        };
        Usage {
            server_cores: avg(self.server_cores, other.server_cores),
            client_cores: avg(self.client_cores, other.client_cores),
            postgres_cores: avg(self.postgres_cores, other.postgres_cores),
            machine_busy: avg(self.machine_busy, other.machine_busy),
        }
    }
}

/// CPU counters at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When it was taken.
    pub at: Instant,
    server: Option<f64>,
    client: Option<f64>,
    postgres: f64,
    machine: Option<(f64, f64)>,
}

/// The counters now: of process `server` (if any), this process, local PostgreSQL (when
/// `postgres`) and the whole machine.
pub fn snapshot(server: Option<u32>, postgres: bool) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        server: server.and_then(process_secs),
        client: process_secs(std::process::id()),
        postgres: if postgres { postgres_secs() } else { 0.0 },
        machine: machine_jiffies(),
    }
}

/// Samples CPU use between `start` and `end` (sleeping until each); local PostgreSQL
/// processes are counted when `postgres` is set.
pub async fn sample(server: Option<u32>, postgres: bool, start: Instant, end: Instant) -> Usage {
    tokio::time::sleep_until(start.into()).await;
    let a = snapshot(server, postgres);
    tokio::time::sleep_until(end.into()).await;
    let b = snapshot(server, postgres);
    between(&a, &b, postgres)
}

/// CPU use between two snapshots.
pub fn between(a: &Snapshot, b: &Snapshot, postgres: bool) -> Usage {
    let secs = (b.at - a.at).max(Duration::from_millis(1)).as_secs_f64();
    let per = |x: Option<f64>, y: Option<f64>| Some((y? - x?) / secs);
    Usage {
        server_cores: per(a.server, b.server),
        client_cores: per(a.client, b.client),
        postgres_cores: if postgres { per(Some(a.postgres), Some(b.postgres)) } else { None },
        machine_busy: match (a.machine, b.machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => Some((b1 - b0) / (t1 - t0)),
            _ => None,
        },
    }
}
