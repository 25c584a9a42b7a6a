//! The printed result: a table for people and one JSON line for scripts.

use crate::cpu::Usage;
use crate::load::Stats;
use serde_json::{json, Value};

/// Target rate of the GraphQL page query on the 2-core reference machine.
pub const TARGET_RPS: f64 = 3_000.0;
/// Target p99 latency in milliseconds.
pub const TARGET_P99_MS: f64 = 25.0;
/// Target share of the raw-SQL rate.
pub const TARGET_RATIO: f64 = 0.5;

/// One measured phase.
pub struct Phase {
    /// Rate, latencies and failures.
    pub stats: Stats,
    /// CPU use during the window.
    pub cpu: Usage,
}

impl Phase {
    /// Adds another window of the same phase (see [`Stats::absorb`]); CPU use is averaged over
    /// the windows' lengths.
    pub fn absorb(&mut self, other: Phase) {
        let (secs, other_secs) = (self.stats.window.as_secs_f64(), other.stats.window.as_secs_f64());
        self.cpu = self.cpu.averaged(secs, &other.cpu, other_secs);
        self.stats.absorb(other.stats);
    }

    /// `phase` added to what `into` holds so far.
    pub fn add(into: &mut Option<Phase>, phase: Phase) {
        match into {
            Some(p) => p.absorb(phase),
            None => *into = Some(phase),
        }
    }
}

/// Everything one run prints.
pub struct Report {
    /// "SQLite" or "PostgreSQL".
    pub backend: &'static str,
    /// Whether planner statistics were gathered after seeding.
    pub analyzed: bool,
    /// Seeded customers.
    pub customers: usize,
    /// Distinct pages the load cycles through.
    pub pages: usize,
    /// Concurrent connections / loops.
    pub concurrency: usize,
    /// Warm-up seconds per phase.
    pub warmup: f64,
    /// Measured seconds per phase.
    pub duration: f64,
    /// Windows each phase was measured in, the phases taking turns.
    pub rounds: u32,
    /// Pool size of server and raw loop.
    pub db_connections: u32,
    /// Seconds the customer insert took.
    pub seed_secs: f64,
    /// Seconds the walk over all pages (collecting cursors, one connection) took.
    pub cursor_walk_secs: f64,
    /// SQL statements the server ran per page request.
    pub statements_per_request: u64,
    /// The GraphQL phase.
    pub graphql: Phase,
    /// The store-calls phase, unless skipped.
    pub store: Option<Phase>,
    /// The raw-SQL phase, unless skipped.
    pub raw: Option<Phase>,
}

/// `x` rounded to `places` decimals.
pub fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// A phase's figures as JSON.
pub fn phase_json(p: &Phase) -> Value {
    let s = &p.stats;
    json!({
        "ok": s.ok,
        "failed": s.failed,
        "rate": round(s.rate(), 1),
        "p50_ms": s.ms(0.5),
        "p90_ms": s.ms(0.9),
        "p99_ms": s.ms(0.99),
        "max_ms": s.max_ms(),
        "cpu_us_per_op": p.cpu_us_per_op().map(|c| c.round()),
        "server_cores": p.cpu.server_cores.map(|c| round(c, 2)),
        "client_cores": p.cpu.client_cores.map(|c| round(c, 2)),
        "machine_busy": p.cpu.machine_busy.map(|c| round(c, 3)),
        "postgres_cores": p.cpu.postgres_cores.map(|c| round(c, 2)),
        "other_cores": p.cpu.other_cores().map(|c| round(c, 2)),
    })
}

fn cores(c: Option<f64>) -> String {
    c.map_or_else(|| "-".into(), |c| format!("{c:.2}"))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "MISSED"
    }
}

impl Phase {
    /// CPU time per operation in microseconds, of the side doing the work: the server for
    /// GraphQL, this process for the baselines. Robust where the rate is not: other load
    /// on the machine slows the rate, but barely changes the CPU an operation takes.
    pub fn cpu_us_per_op(&self) -> Option<f64> {
        let cores = self.cpu.server_cores.or(self.cpu.client_cores)?;
        let rate = self.stats.rate();
        (rate > 0.0).then(|| cores * 1e6 / rate)
    }
}

impl Report {
    /// Failed operations in both phases.
    pub fn failed(&self) -> u64 {
        self.phases().map(|(_, p)| p.stats.failed).sum()
    }

    fn phases(&self) -> impl Iterator<Item = (&'static str, &Phase)> {
        [
            ("GraphQL over HTTP", Some(&self.graphql)),
            ("store calls (core)", self.store.as_ref()),
            ("raw SQL (hand-written)", self.raw.as_ref()),
        ]
        .into_iter()
        .filter_map(|(n, p)| Some((n, p?)))
    }

    fn ratio_to(&self, base: Option<&Phase>) -> Option<f64> {
        let base = base?.stats.rate();
        (base > 0.0).then(|| self.graphql.stats.rate() / base)
    }

    /// GraphQL rate over raw-SQL rate (the target's measure).
    pub fn ratio(&self) -> Option<f64> {
        self.ratio_to(self.raw.as_ref())
    }

    /// The machine-readable summary.
    pub fn json(&self) -> Value {
        let g = &self.graphql.stats;
        json!({
            "bench": "graphql",
            "backend": self.backend.to_lowercase(),
            "analyzed": self.analyzed,
            "customers": self.customers,
            "pages": self.pages,
            "concurrency": self.concurrency,
            "warmup_s": self.warmup,
            "duration_s": self.duration,
            "rounds": self.rounds,
            "db_connections": self.db_connections,
            "seed_s": round(self.seed_secs, 2),
            "statements_per_request": self.statements_per_request,
            "graphql": phase_json(&self.graphql),
            "store": self.store.as_ref().map(phase_json),
            "raw_sql": self.raw.as_ref().map(phase_json),
            "ratio": self.ratio().map(|r| round(r, 3)),
            "ratio_store": self.ratio_to(self.store.as_ref()).map(|r| round(r, 3)),
            "targets_met": {
                "rps": g.rate() >= TARGET_RPS,
                "p99": g.ms(0.99) <= TARGET_P99_MS,
                "ratio": self.ratio().map(|r| r >= TARGET_RATIO),
            },
        })
    }

    /// Prints the table, any failures, and the JSON line last.
    pub fn print(&self) {
        println!();
        println!(
            "isp-bench graphql: {}{}, {} customers ({} pages of 50), {} concurrent, {} s measured per phase \
             in {} turns after {} s warm-up, pool {}",
            self.backend,
            if self.analyzed { " (analyzed)" } else { "" },
            self.customers,
            self.pages,
            self.concurrency,
            self.duration,
            self.rounds,
            self.warmup,
            self.db_connections
        );
        println!(
            "seeded in {:.2} s; cursor walk {:.2} s; {} SQL statements per GraphQL request",
            self.seed_secs, self.cursor_walk_secs, self.statements_per_request
        );
        println!();
        println!(
            "{:<22} {:>8} {:>7} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7}",
            "",
            "ok",
            "failed",
            "per s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "CPU µs",
            "server",
            "client",
            "pg",
            "others"
        );
        let row = |name: &str, p: &Phase| {
            let s = &p.stats;
            println!(
                "{:<22} {:>8} {:>7} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7} {:>7} {:>7} {:>7} {:>7}",
                name,
                s.ok,
                s.failed,
                s.rate(),
                s.ms(0.5),
                s.ms(0.9),
                s.ms(0.99),
                s.max_ms(),
                p.cpu_us_per_op().map_or_else(|| "-".into(), |c| format!("{c:.0}")),
                cores(p.cpu.server_cores),
                cores(p.cpu.client_cores),
                cores(p.cpu.postgres_cores),
                cores(p.cpu.other_cores()),
            );
        };
        for (name, p) in self.phases() {
            row(name, p);
        }
        println!("(CPU µs: CPU time per operation, of the server for GraphQL and of this process for the baselines;");
        println!(
            " server, client, pg, others: CPU cores kept busy by the server, this load generator, local PostgreSQL"
        );
        println!(" and everything else on the machine)");
        if self.phases().any(|(_, p)| p.cpu.other_cores() > Some(0.2)) {
            println!("WARNING: other processes used the CPU during the run; the figures understate this machine");
        }
        println!();
        if let (Some(r), Some(s)) = (self.ratio(), self.ratio_to(self.store.as_ref())) {
            println!("GraphQL / raw SQL: {r:.2}    GraphQL / store calls: {s:.2}");
        }
        let g = &self.graphql.stats;
        println!(
            "targets: >= {TARGET_RPS:.0} req/s {}; p99 <= {TARGET_P99_MS:.0} ms {}; >= {TARGET_RATIO} x raw SQL {}",
            verdict(g.rate() >= TARGET_RPS),
            verdict(g.ms(0.99) <= TARGET_P99_MS),
            self.ratio().map_or("n/a", |r| verdict(r >= TARGET_RATIO)),
        );
        for (name, p) in self.phases().filter(|(_, p)| p.stats.failed > 0) {
            println!("{name}: {} FAILED operations; first errors:", p.stats.failed);
            for e in &p.stats.errors {
                println!("  {e}");
            }
        }
        println!("{}", self.json());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn phase(ok: u64, secs: u64, latency_us: u64, server: f64, client: Option<f64>) -> Phase {
        let mut hist = crate::load::histogram();
        hist.record(latency_us).unwrap();
        let stats = Stats { ok, failed: 0, hist, window: Duration::from_secs(secs), errors: Vec::new() };
        let cpu =
            Usage { server_cores: Some(server), client_cores: client, postgres_cores: None, machine_busy: Some(1.0) };
        Phase { stats, cpu }
    }

    #[test]
    fn windows_of_a_phase_add_up() {
        let mut total = None;
        Phase::add(&mut total, phase(300, 1, 100, 2.0, Some(0.5)));
        Phase::add(&mut total, phase(300, 3, 900, 1.0, None));
        let p = total.unwrap();
        assert_eq!((p.stats.ok, p.stats.window, p.stats.hist.len()), (600, Duration::from_secs(4), 2));
        assert_eq!(p.stats.rate(), 150.0);
        assert!(p.stats.hist.max() >= 900);
        // CPU is averaged over time: 2 cores for 1 s and 1 core for 3 s is 1.25 cores.
        assert_eq!(p.cpu.server_cores, Some(1.25));
        assert_eq!(p.cpu.client_cores, None, "a figure missing from one window is missing");
        assert_eq!(p.cpu.machine_busy, Some(1.0));
    }
}
