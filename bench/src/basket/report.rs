//! The basket's table (one row per screen, with its raw-SQL baseline and its targets) and its
//! JSON line.

use super::screens::ScreenId;
use crate::report::{phase_json, round, Phase};
use serde_json::{json, Value};

/// Most a read's p99 may be, in ms.
pub const TARGET_P99_MS: f64 = 50.0;
/// Least share of its raw-SQL rate a read may have.
pub const TARGET_RATIO: f64 = 0.3;

/// What one screen measured over all its windows.
pub struct ScreenResult {
    /// Which screen.
    pub id: ScreenId,
    /// Distinct visits it cycled through.
    pub variants: usize,
    /// SQL statements the server ran per request (averaged over one visit of each variant).
    pub statements: Option<f64>,
    /// Median latency of single requests at setup, one at a time (ms).
    pub solo_ms: Option<f64>,
    /// The GraphQL phase.
    pub graphql: Phase,
    /// The raw-SQL phase (reads, unless skipped).
    pub raw: Option<Phase>,
    /// Requests abandoned after a window's drain.
    pub abandoned: usize,
}

impl ScreenResult {
    /// GraphQL rate over raw-SQL rate.
    pub fn ratio(&self) -> Option<f64> {
        let raw = self.raw.as_ref()?.stats.rate();
        (raw > 0.0).then(|| self.graphql.stats.rate() / raw)
    }

    /// (rate met, p99 met, ratio met) for reads.
    fn targets(&self) -> Option<(bool, bool, Option<bool>)> {
        let rps = self.id.target_rps()?;
        let g = &self.graphql.stats;
        let some = g.ok > 0;
        Some((
            some && g.rate() >= rps,
            some && g.ms(0.99) <= TARGET_P99_MS,
            self.ratio().map(|r| some && r >= TARGET_RATIO),
        ))
    }

    fn verdict(&self) -> String {
        let Some((rate, p99, ratio)) = self.targets() else { return "-".into() };
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        let rps = self.id.target_rps().unwrap_or_default();
        let mut s = format!(">={rps:.0}/s {}, p99 {}", mark(rate), mark(p99));
        if let Some(r) = ratio {
            s.push_str(&format!(", >={TARGET_RATIO}x raw {}", mark(r)));
        }
        s
    }

    fn json(&self) -> Value {
        let t = self.targets();
        json!({
            "screen": self.id.name(),
            "operation": self.id.operation(),
            "writes": self.id.writes(),
            "variants": self.variants,
            "statements_per_request": self.statements.map(|s| round(s, 1)),
            "solo_ms": self.solo_ms.map(|s| round(s, 2)),
            "graphql": phase_json(&self.graphql),
            "raw_sql": self.raw.as_ref().map(phase_json),
            "ratio": self.ratio().map(|r| round(r, 3)),
            "abandoned": self.abandoned,
            "target_rps": self.id.target_rps(),
            "targets_met": t.map(|(rate, p99, ratio)| json!({"rps": rate, "p99": p99, "ratio": ratio})),
        })
    }
}

/// Everything one basket run prints.
pub struct Report {
    /// "SQLite" or "PostgreSQL".
    pub backend: &'static str,
    /// Whether planner statistics were gathered.
    pub analyzed: bool,
    /// Seeded customers.
    pub customers: usize,
    /// The fixture summary (JSON).
    pub fixture: Value,
    /// Seconds the fixture took.
    pub seed_secs: f64,
    /// Seconds the setup (variants, expectations, one checked visit of each) took.
    pub setup_secs: f64,
    /// Concurrent connections / loops.
    pub concurrency: usize,
    /// Measured seconds per phase and screen.
    pub duration: f64,
    /// Turns.
    pub rounds: u32,
    /// Pool size of the server and the baselines.
    pub db_connections: u32,
    /// One per screen, in order.
    pub screens: Vec<ScreenResult>,
    /// The last distinct errors the server logged.
    pub server_errors: Vec<String>,
}

fn ms(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

impl Report {
    /// Failed operations of every phase.
    pub fn failed(&self) -> u64 {
        self.screens.iter().map(|s| s.graphql.stats.failed + s.raw.as_ref().map_or(0, |r| r.stats.failed)).sum()
    }

    /// The machine-readable summary.
    pub fn json(&self) -> Value {
        json!({
            "bench": "basket",
            "backend": self.backend.to_lowercase(),
            "analyzed": self.analyzed,
            "customers": self.customers,
            "fixture": self.fixture,
            "setup_s": round(self.setup_secs, 1),
            "concurrency": self.concurrency,
            "duration_s": self.duration,
            "rounds": self.rounds,
            "db_connections": self.db_connections,
            "screens": self.screens.iter().map(ScreenResult::json).collect::<Vec<_>>(),
            "failed": self.failed(),
        })
    }

    /// Prints the table, the failures and the JSON line.
    pub fn print(&self) {
        println!();
        println!(
            "isp-bench basket: {}{}, {} customers (seeded in {:.1} s), {} concurrent, {} s measured per screen and phase \
             in {} turns, pool {} (setup {:.1} s)",
            self.backend,
            if self.analyzed { " (analyzed)" } else { "" },
            self.customers,
            self.seed_secs,
            self.concurrency,
            self.duration,
            self.rounds,
            self.db_connections,
            self.setup_secs
        );
        println!();
        println!(
            "{:<20} {:>5} {:>8} {:>9} {:>8} {:>8} {:>7} {:>6} {:>10} {:>8} {:>7} {:>6}  targets",
            "screen",
            "vars",
            "solo ms",
            "req/s",
            "p50 ms",
            "p99 ms",
            "CPU µs",
            "stmts",
            "raw req/s",
            "raw p99",
            "raw µs",
            "ratio"
        );
        for s in &self.screens {
            let g = &s.graphql.stats;
            let raw = s.raw.as_ref();
            println!(
                "{:<20} {:>5} {:>8} {:>9.1} {:>8} {:>8} {:>7} {:>6} {:>10} {:>8} {:>7} {:>6}  {}",
                s.id.name(),
                s.variants,
                s.solo_ms.map_or_else(|| "-".into(), ms),
                g.rate(),
                if g.ok > 0 { ms(g.ms(0.5)) } else { "-".into() },
                if g.ok > 0 { ms(g.ms(0.99)) } else { "-".into() },
                s.graphql.cpu_us_per_op().map_or_else(|| "-".into(), |c| format!("{c:.0}")),
                s.statements.map_or_else(|| "-".into(), |n| format!("{n:.1}")),
                raw.map_or_else(|| "-".into(), |r| format!("{:.1}", r.stats.rate())),
                raw.map_or_else(|| "-".into(), |r| ms(r.stats.ms(0.99))),
                raw.and_then(Phase::cpu_us_per_op).map_or_else(|| "-".into(), |c| format!("{c:.0}")),
                s.ratio().map_or_else(|| "-".into(), |r| format!("{r:.2}")),
                s.verdict(),
            );
        }
        println!(
            "(solo: one request at a time; CPU µs: server CPU per GraphQL request; stmts: SQL statements the server ran \
             per request; raw: hand-written SQL for the same rows on the server's kind of connections, in this process, \
             and its CPU per visit)"
        );
        let noisy = self.screens.iter().any(|s| s.graphql.cpu.other_cores() > Some(0.2));
        if noisy {
            println!("WARNING: other processes used the CPU during the run; the figures understate this machine");
        }
        let reads: Vec<&ScreenResult> = self.screens.iter().filter(|s| s.targets().is_some()).collect();
        let met = reads.iter().filter(|s| s.targets().is_some_and(|(a, b, c)| a && b && c != Some(false))).count();
        println!(
            "targets: every read >= 1000 req/s (search >= 500, customers >= 3000), p99 <= {TARGET_P99_MS:.0} ms, \
             >= {TARGET_RATIO} x raw SQL: {met} of {} reads meet all",
            reads.len()
        );
        for s in &self.screens {
            if s.abandoned > 0 {
                println!(
                    "{}: {} requests were still running after the drain and were abandoned",
                    s.id.name(),
                    s.abandoned
                );
            }
            for (what, p) in [("GraphQL", Some(&s.graphql)), ("raw SQL", s.raw.as_ref())] {
                let Some(p) = p.filter(|p| p.stats.failed > 0) else { continue };
                println!("{} ({what}): {} FAILED operations; first errors:", s.id.name(), p.stats.failed);
                for e in &p.stats.errors {
                    println!("  {e}");
                }
            }
        }
        if !self.server_errors.is_empty() {
            println!("server log, last distinct errors:");
            for e in &self.server_errors {
                println!("  {}", e.chars().take(400).collect::<String>());
            }
        }
        println!("{}", self.json());
    }
}
