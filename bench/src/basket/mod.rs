//! `isp-bench basket`: the frontend's screens over HTTP against the release `isp api`, on "a
//! year of an ISP" ([`crate::year`]), each next to a raw-SQL baseline reading the same rows.
//!
//! 1. Seeds the fixture and starts `isp api` on it (as `graphql` does).
//! 2. Builds each screen's variants from the data (pages through cursors the server would
//!    give, customers, search terms, logins), runs each read variant's baseline once to learn
//!    what its response must contain, and visits every variant once over GraphQL, checking it
//!    and counting the server's SQL statements.
//! 3. Measures in turns: per round, per screen, a GraphQL window then a raw-SQL window
//!    (`--rounds` times), so drift in the machine's speed hits both alike.
//! 4. Resumes what the write mix left suspended and prints the table and one JSON line.

mod drive;
mod raw;
mod report;
mod screens;

use crate::cpu::{self, Snapshot, Usage};
use crate::fixture::{self, Fixture};
use crate::http::{self, Conn};
use crate::report::Phase;
use crate::server::{self, Server};
use crate::BasketArgs;
use anyhow::{bail, ensure, Context, Result};
use drive::{Expect, GraphqlWorker, Plan, RawWorker, Toggle};
use isp_core::clock::{Clock, SystemClock};
use isp_core::db::Db;
use report::{Report, ScreenResult};
use screens::{ScreenId, Variant};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOGIN: &str = "mutation Login($t: String!, $e: String!, $p: String!) { \
    login(tenant: $t, email: $e, password: $p) { accessToken } }";
/// Access tokens live 15 minutes: log in again after this.
const TOKEN_AGE: Duration = Duration::from_secs(600);
/// Variants of each read screen visited (and checked in full) one at a time during setup.
const SETUP_VISITS: usize = 16;

/// The screens `--screens` names (all when absent).
pub fn select(names: Option<&str>) -> Result<Vec<ScreenId>> {
    let Some(names) = names else { return Ok(screens::ALL.to_vec()) };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            screens::ALL.iter().copied().find(|s| s.name() == n).with_context(|| {
                let all: Vec<&str> = screens::ALL.iter().map(|s| s.name()).collect();
                format!("unknown screen {n:?}; the screens are {}", all.join(", "))
            })
        })
        .collect()
}

/// Runs the basket and prints its figures; false when any request failed.
pub async fn run(a: BasketArgs) -> Result<bool> {
    let chosen = select(a.screens.as_deref())?;
    let bin = match &a.isp_bin {
        Some(b) => b.clone(),
        None => server::default_isp_bin()?,
    };
    ensure!(bin.is_file(), "{} not found: run `cargo build --release -p isp` or pass --isp-bin", bin.display());
    let backend = if a.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    eprintln!("seeding a year of {} customers ({backend}) ...", a.customers);
    let (fx, summary) =
        Fixture::year(a.customers, a.database_url.as_deref(), a.db_connections, a.analyze, a.keep).await?;
    summary.print();
    let result = measure(&a, &bin, &fx, &chosen).await;
    let cleanup = fx.cleanup().await;
    let (setup_secs, screens, server_errors) = result?;
    cleanup?;
    let report = Report {
        backend,
        analyzed: a.analyze || a.database_url.is_some(),
        customers: a.customers,
        fixture: summary.json(),
        seed_secs: summary.total.as_secs_f64(),
        setup_secs,
        concurrency: a.concurrency,
        duration: a.duration,
        rounds: a.rounds,
        db_connections: a.db_connections,
        screens,
        server_errors,
    };
    report.print();
    Ok(report.failed() == 0)
}

/// A logged-in client for setup, cleanup and building requests.
struct Session {
    conn: Conn,
    addr: SocketAddr,
    bearer: String,
    since: Instant,
}

impl Session {
    async fn login(addr: SocketAddr) -> Result<Self> {
        let mut conn = Conn::connect(addr).await?;
        let vars = json!({ "t": fixture::TENANT, "e": fixture::OWNER_EMAIL, "p": fixture::OWNER_PASSWORD });
        let body = serde_json::to_vec(&json!({ "query": LOGIN, "variables": vars }))?;
        let (status, resp) = conn.post_json("/graphql", None, &body).await?;
        let v: Value = serde_json::from_slice(resp).with_context(|| format!("login: HTTP {status}"))?;
        let token = v["data"]["login"]["accessToken"].as_str().with_context(|| format!("login failed: {v}"))?;
        Ok(Self { bearer: format!("Bearer {token}"), conn, addr, since: Instant::now() })
    }

    /// The `Authorization` value, logging in again before the token expires.
    async fn bearer(&mut self) -> Result<String> {
        if self.since.elapsed() > TOKEN_AGE {
            *self = Self::login(self.addr).await?;
        }
        Ok(self.bearer.clone())
    }

    /// Posts a prebuilt request; status and body.
    async fn send(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>)> {
        let (status, body) = self.conn.send(request).await?;
        Ok((status, body.to_vec()))
    }

    /// Statements the server executed so far (from `/metrics`).
    async fn statements(&mut self) -> Result<u64> {
        let (_, body) = self.conn.get("/metrics").await?;
        let text = String::from_utf8_lossy(body);
        text.lines()
            .find_map(|l| l.strip_prefix("isp_db_statements ").and_then(|v| v.trim().parse().ok()))
            .context("no isp_db_statements in /metrics")
    }
}

/// A screen ready to be measured.
struct Prepared {
    id: ScreenId,
    variants: Vec<Variant>,
    statements: Option<f64>,
    /// Median latency of the checked setup visits, one at a time (ms).
    solo_ms: Option<f64>,
    /// Subscription-status screen: which writer subscriptions are suspended now.
    suspended: Arc<Vec<AtomicBool>>,
}

impl Prepared {
    fn requests(&self, addr: SocketAddr, bearer: &str) -> Vec<Vec<u8>> {
        self.variants
            .iter()
            .map(|v| {
                let body =
                    json!({"operationName": self.id.operation(), "query": self.id.document(), "variables": v.vars});
                http::post_json_request(addr, "/graphql", Some(bearer), &serde_json::to_vec(&body).expect("JSON"))
            })
            .collect()
    }

    fn expect(&self) -> Vec<Expect> {
        self.variants.iter().map(|v| v.expect.iter().map(|(m, n)| (m.clone().into_bytes(), *n)).collect()).collect()
    }
}

/// The first `endCursor` in a response.
fn end_cursor(v: &Value) -> Option<&str> {
    match v {
        Value::Object(m) => m.get("endCursor").and_then(Value::as_str).or_else(|| m.values().find_map(end_cursor)),
        Value::Array(a) => a.iter().find_map(end_cursor),
        _ => None,
    }
}

/// Builds a screen's variants and what each response must hold, and visits each read variant
/// once, checked in full.
async fn prepare(id: ScreenId, db: &Db, sample: &screens::Sample, s: &mut Session) -> Result<Prepared> {
    let mut variants = screens::variants(id, db, sample).await?;
    ensure!(!variants.is_empty(), "{}: nothing in the fixture to visit", id.name());
    let typename = |t: &str| vec![(format!("\"__typename\":\"{t}\""), 1)];
    for v in &mut variants {
        v.expect = match id {
            ScreenId::CreateCustomer => typename("Customer"),
            ScreenId::RecordPayment => typename("Payment"),
            ScreenId::SubscriptionStatus => {
                vec![(format!("\"status\":\"{}\"", v.key.text.as_deref().unwrap_or("")), 1)]
            }
            _ => drive::visit(db, id, sample.tenant, &v.key).await.map_err(anyhow::Error::msg)?,
        };
    }
    let suspended = Arc::new((0..variants.len() / 2).map(|_| AtomicBool::new(false)).collect());
    let mut p = Prepared { id, variants, statements: None, solo_ms: None, suspended };
    if id.writes() {
        return Ok(p);
    }
    // Every response of the load is checked against these expectations; here a few visits
    // (the first two pages among them) are checked in full, one at a time.
    let requests = p.requests(s.addr, &s.bearer().await?);
    let expect = p.expect();
    let checked = screens::spread(requests.len(), SETUP_VISITS);
    let before = s.statements().await?;
    let mut first_end: Option<String> = None;
    let mut solo = Vec::with_capacity(checked.len());
    for &i in &checked {
        let r = &requests[i];
        let started = Instant::now();
        let (status, body) = s.send(r).await?;
        solo.push(started.elapsed().as_secs_f64() * 1e3);
        if status != 200 {
            bail!(
                "{} variant {i}: HTTP {status}: {}",
                id.name(),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        drive::check(&body, &expect[i], true).map_err(|e| anyhow::anyhow!("{} variant {i}: {e}", id.name()))?;
        if i == 0 {
            first_end = end_cursor(&serde_json::from_slice(&body)?).map(str::to_string);
        }
        if let (1, Some(after), Some(end)) = (i, p.variants[i].vars["after"].as_str(), &first_end) {
            ensure!(after == end, "{}: the cursor built for page 2 ({after}) is not the server's ({end})", id.name());
        }
    }
    p.statements = Some((s.statements().await? - before) as f64 / checked.len() as f64);
    solo.sort_by(f64::total_cmp);
    p.solo_ms = solo.get(solo.len() / 2).copied();
    Ok(p)
}

/// Samples CPU at `start`, at `end` and every 100 ms after it until `stop`, on a thread of its
/// own: baselines running SQLite inline on the runtime's threads must not delay the samples.
fn probe(
    pid: Option<u32>,
    pg: bool,
    start: Instant,
    end: Instant,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Snapshot>> {
    let sleep_until = |at: Instant| std::thread::sleep(at.saturating_duration_since(Instant::now()));
    std::thread::spawn(move || {
        sleep_until(start);
        let mut snaps = vec![cpu::snapshot(pid, pg)];
        sleep_until(end);
        snaps.push(cpu::snapshot(pid, pg));
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            snaps.push(cpu::snapshot(pid, pg));
        }
        snaps
    })
}

/// CPU use from the first snapshot to the one nearest `end`.
fn usage_until(snaps: &[Snapshot], end: Instant, pg: bool) -> Usage {
    let dist = |s: &Snapshot| if s.at > end { s.at - end } else { end - s.at };
    match (snaps.first(), snaps.iter().skip(1).min_by_key(|s| dist(s))) {
        (Some(a), Some(b)) => cpu::between(a, b, pg),
        _ => Usage::default(),
    }
}

fn window(a: &BasketArgs, round: u32) -> Plan {
    let warmup = if round == 0 { a.warmup } else { a.warmup.min(0.5) };
    let measure = Duration::from_secs_f64(a.duration / a.rounds as f64);
    let start = Instant::now() + Duration::from_secs_f64(warmup);
    let cap = start + measure.max(Duration::from_secs_f64(a.window_cap));
    Plan { start, end: start + measure, cap, drain: Duration::from_secs_f64(a.drain) }
}

/// One GraphQL window of a screen.
async fn graphql_window(
    a: &BasketArgs,
    server: &Server,
    s: &mut Session,
    p: &Prepared,
    round: u32,
) -> Result<(Phase, usize)> {
    let plan = window(a, round);
    let pg = a.database_url.is_some();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = probe(server.pid(), pg, plan.start, plan.end, stop.clone());
    let (requests, expect) = (Arc::new(p.requests(server.addr, &s.bearer().await?)), Arc::new(p.expect()));
    let addr = server.addr;
    let toggles = p.suspended.len();
    let n = if p.id == ScreenId::SubscriptionStatus { a.concurrency.min(toggles) } else { a.concurrency };
    let suspended = p.suspended.clone();
    let toggle = p.id == ScreenId::SubscriptionStatus;
    let outcome = drive::graphql_on_one_thread(n, p.variants.len(), plan, move |i| {
        let (requests, expect) = (requests.clone(), expect.clone());
        let t = toggle.then(|| Toggle::new((i..toggles).step_by(n).collect(), suspended.clone()));
        GraphqlWorker::connect(addr, requests, expect, t)
    })
    .await?;
    stop.store(true, Ordering::Relaxed);
    let snaps = sampler.join().unwrap_or_default();
    Ok((Phase { stats: outcome.stats, cpu: usage_until(&snaps, outcome.end, pg) }, outcome.abandoned))
}

/// One raw-SQL window of a read screen, in this process.
async fn raw_window(a: &BasketArgs, db: &Db, tenant: i64, p: &Prepared, round: u32) -> (Phase, usize) {
    let plan = window(a, round);
    let pg = a.database_url.is_some();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = probe(None, pg, plan.start, plan.end, stop.clone());
    let variants = Arc::new(p.variants.iter().map(|v| (v.key.clone(), v.expect.clone())).collect::<Vec<_>>());
    let workers = (0..a.concurrency).map(|_| RawWorker::new(db.clone(), p.id, tenant, variants.clone())).collect();
    let outcome = drive::drive(workers, p.variants.len(), plan).await;
    stop.store(true, Ordering::Relaxed);
    let snaps = sampler.join().unwrap_or_default();
    (Phase { stats: outcome.stats, cpu: usage_until(&snaps, outcome.end, pg) }, outcome.abandoned)
}

/// The last distinct ERROR lines of the server's log (colours removed), for the report.
fn log_errors(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| l.contains("ERROR")) {
        let mut plain = String::with_capacity(line.len());
        let mut esc = false;
        for c in line.chars() {
            match (esc, c) {
                (false, '\u{1b}') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => plain.push(c),
            }
        }
        // The same error again only with another timestamp: keep one.
        let body = plain.split_once(" ERROR ").map_or(plain.as_str(), |(_, b)| b).to_string();
        if !out.contains(&body) {
            out.push(body);
        }
    }
    out.split_off(out.len().saturating_sub(5))
}

type Measured = (f64, Vec<ScreenResult>, Vec<String>);

async fn measure(a: &BasketArgs, bin: &Path, fx: &Fixture, chosen: &[ScreenId]) -> Result<Measured> {
    let db = Db::connect(&fx.database_url, a.db_connections).await?;
    eprintln!("starting {} ...", bin.display());
    let server = Server::start(bin, fx, a.db_connections).await?;
    let server_log = server.log.clone();
    let r = screens_in_turns(a, &server, &db, fx.tenant_id, chosen).await;
    if r.is_err() {
        eprintln!("server log (last lines):\n{}", server::tail(&server.log));
    }
    server.stop().await?;
    db.close().await;
    let errors = log_errors(&server_log);
    r.map(|(setup, screens)| (setup, screens, errors))
}

async fn screens_in_turns(
    a: &BasketArgs,
    server: &Server,
    db: &Db,
    tenant: i64,
    chosen: &[ScreenId],
) -> Result<(f64, Vec<ScreenResult>)> {
    let started = Instant::now();
    let mut s = Session::login(server.addr).await?;
    let cal = crate::year::Calendar::new(SystemClock.now_ms());
    let day = |d: chrono::NaiveDate| isp_core::billing::fmt_date(d);
    let months = (day(cal.months[0]), day(cal.months[crate::year::MONTHS - 1]));
    let sample = screens::Sample::take(db, tenant, &day(cal.today), months).await?;
    let mut prepared = Vec::new();
    for &id in chosen {
        let t = Instant::now();
        let p = prepare(id, db, &sample, &mut s).await?;
        eprintln!("{}: {} variants checked in {:.1} s", id.name(), p.variants.len(), t.elapsed().as_secs_f64());
        prepared.push(p);
    }
    let setup_secs = started.elapsed().as_secs_f64();

    let mut graphql: Vec<Option<Phase>> = prepared.iter().map(|_| None).collect();
    let mut raw: Vec<Option<Phase>> = prepared.iter().map(|_| None).collect();
    let mut abandoned = vec![0; prepared.len()];
    // Reads first, in turns, then the writes in turns: the reads' expectations hold as long as
    // nothing has written yet (a payment on top of the newest page changes what it holds).
    let order: Vec<usize> = (0..prepared.len())
        .filter(|&i| !prepared[i].id.writes())
        .chain((0..prepared.len()).filter(|&i| prepared[i].id.writes()))
        .collect();
    let writes_from = order.iter().position(|&i| prepared[i].id.writes()).unwrap_or(order.len());
    for turns in [&order[..writes_from], &order[writes_from..]] {
        for round in 0..a.rounds {
            for &i in turns {
                let p = &prepared[i];
                let (g, lost) = graphql_window(a, server, &mut s, p, round).await?;
                let mut line = format!(
                    "turn {}/{} {:<20} GraphQL {:>8.1}/s p99 {:>7.2} ms",
                    round + 1,
                    a.rounds,
                    p.id.name(),
                    g.stats.rate(),
                    g.stats.ms(0.99)
                );
                abandoned[i] += lost;
                Phase::add(&mut graphql[i], g);
                if !p.id.writes() && !a.no_raw {
                    let (r, lost) = raw_window(a, db, tenant, p, round).await;
                    line.push_str(&format!(", raw SQL {:>8.1}/s p99 {:>7.2} ms", r.stats.rate(), r.stats.ms(0.99)));
                    abandoned[i] += lost;
                    Phase::add(&mut raw[i], r);
                }
                eprintln!("{line}");
            }
        }
    }
    restore(&mut s, &prepared).await?;
    let results = prepared
        .into_iter()
        .zip(graphql.into_iter().zip(raw))
        .zip(abandoned)
        .map(|((p, (g, r)), abandoned)| ScreenResult {
            id: p.id,
            variants: p.variants.len(),
            statements: p.statements,
            solo_ms: p.solo_ms,
            graphql: g.expect("at least one round"),
            raw: r,
            abandoned,
        })
        .collect();
    Ok((setup_secs, results))
}

/// Resumes the writer subscriptions the status screen left suspended.
async fn restore(s: &mut Session, prepared: &[Prepared]) -> Result<()> {
    for p in prepared.iter().filter(|p| p.id == ScreenId::SubscriptionStatus) {
        let (requests, expect) = (p.requests(s.addr, &s.bearer().await?), p.expect());
        for (k, suspended) in p.suspended.iter().enumerate() {
            if suspended.load(Ordering::Relaxed) {
                let (status, body) = s.send(&requests[2 * k + 1]).await?;
                ensure!(status == 200, "resuming a writer subscription: HTTP {status}");
                drive::check(&body, &expect[2 * k + 1], true).map_err(anyhow::Error::msg)?;
            }
        }
    }
    Ok(())
}
