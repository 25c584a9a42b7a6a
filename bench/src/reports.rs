//! `isp-bench reports`: each business report (and the billing report beside them) over
//! GraphQL on HTTP against "a year of an ISP", one request at a time, with its latency
//! percentiles. The target is 200 ms per report at 100k customers.

use crate::fixture::{self, Fixture};
use crate::http::Conn;
use crate::server::{self, Server};
use anyhow::{Context, Result};
use clap::Args;
use isp_core::billing::fmt_date;
use isp_core::clock::{Clock, SystemClock};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

/// Target latency of every report, milliseconds.
pub const TARGET_MS: f64 = 200.0;

/// Options of `isp-bench reports`.
#[derive(Args, Debug, Clone)]
pub struct ReportsArgs {
    /// Customers to seed ("a year of an ISP"); every other size follows from it.
    #[arg(long, default_value_t = 100_000)]
    pub customers: usize,
    /// Measured calls per report (after 3 unmeasured ones).
    #[arg(long, default_value_t = 50)]
    pub calls: usize,
    /// The `isp` binary to serve with [default: `isp` next to this executable].
    #[arg(long)]
    pub isp_bin: Option<PathBuf>,
    /// Run against PostgreSQL: a scratch database is created on this server and dropped after.
    #[arg(long, env = "BENCH_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Gather planner statistics after seeding (SQLite `ANALYZE`; PostgreSQL always does).
    #[arg(long)]
    pub analyze: bool,
    /// Keep the scratch data directory (and PostgreSQL database) for inspection.
    #[arg(long)]
    pub keep: bool,
}

const LOGIN: &str = "mutation Login($t: String!, $e: String!, $p: String!) { \
    login(tenant: $t, email: $e, password: $p) { accessToken } }";

/// The reports measured: name, query, variables (`$from`, `$to` filled per range).
fn cases(year: (&str, &str), month: (&str, &str)) -> Vec<(&'static str, &'static str, Value)> {
    let y = json!({"from": year.0, "to": year.1});
    let m = json!({"from": month.0, "to": month.1});
    let with = |v: &Value, k: &str, x: Value| {
        let mut v = v.clone();
        v[k] = x;
        v
    };
    vec![
        (
            "acquisition monthly by plan",
            "query($from: String!, $to: String!) { acquisitionReport(from: $from, to: $to, bucket: MONTH) { bucket planName accessType openAtStart newCustomers newSubscriptions cancellations netGrowth openAtEnd churnRateBasisPoints } }",
            y.clone(),
        ),
        (
            "acquisition daily by plan",
            "query($from: String!, $to: String!) { acquisitionReport(from: $from, to: $to, bucket: DAY) { bucket planName accessType openAtStart newSubscriptions cancellations openAtEnd } }",
            y.clone(),
        ),
        (
            "mrr monthly",
            "query($from: String!, $to: String!) { mrrReport(from: $from, to: $to) { bucket startingMrr { amountMinor } newMrr { amountMinor } expansionMrr { amountMinor } contractionMrr { amountMinor } churnedMrr { amountMinor } endingMrr { amountMinor } arpu { amountMinor } } }",
            y.clone(),
        ),
        (
            "mrr daily",
            "query($from: String!, $to: String!) { mrrReport(from: $from, to: $to, bucket: DAY) { bucket netMrr { amountMinor } endingMrr { amountMinor } activeSubscriptions } }",
            y.clone(),
        ),
        (
            "collection monthly",
            "query($from: String!, $to: String!) { collectionReport(from: $from, to: $to) { bucket invoiced { amountMinor } collected { amountMinor } collectionRateBasisPoints receivablesAtEnd { amountMinor } daysSalesOutstandingHundredths } }",
            y.clone(),
        ),
        (
            "collection daily",
            "query($from: String!, $to: String!) { collectionReport(from: $from, to: $to, bucket: DAY) { bucket invoiced { amountMinor } collected { amountMinor } } }",
            y.clone(),
        ),
        (
            "revenue by tax class monthly",
            "query($from: String!, $to: String!) { taxClassRevenueReport(from: $from, to: $to) { bucket taxClass net { amountMinor } lines } }",
            y.clone(),
        ),
        (
            "top data users, last month",
            "query($from: String!, $to: String!, $n: Int!) { topDataUsers(from: $from, to: $to, first: $n) { rank username customerName totalOctets } }",
            with(&m, "n", json!(20)),
        ),
        (
            "top data users, year",
            "query($from: String!, $to: String!, $n: Int!) { topDataUsers(from: $from, to: $to, first: $n) { rank username totalOctets } }",
            with(&y, "n", json!(20)),
        ),
        (
            "billingReport (existing)",
            "query($from: String!, $to: String!) { billingReport(from: $from, to: $to) { mrr { amountMinor } revenueByPlan { planName lines } collections { month } ageing { total { amountMinor } } } }",
            y,
        ),
    ]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Seeds, serves, measures and prints; false when a report failed or missed the target.
pub async fn run(a: ReportsArgs) -> Result<bool> {
    let bin = match &a.isp_bin {
        Some(b) => b.clone(),
        None => server::default_isp_bin()?,
    };
    eprintln!("seeding a year of {} customers ...", a.customers);
    let (fx, summary) = Fixture::year(a.customers, a.database_url.as_deref(), 4, a.analyze, a.keep).await?;
    summary.print();
    let r = measure(&a, &bin, &fx).await;
    fx.cleanup().await?;
    let rows = r?;
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    println!(
        "\nreports on {backend}, {} customers, {} calls each (one at a time, GraphQL over HTTP):",
        a.customers, a.calls
    );
    println!("{:<32} {:>8} {:>8} {:>8} {:>6}", "report", "p50 ms", "p99 ms", "max ms", "rows");
    let mut ok = true;
    let mut out = Vec::new();
    for (name, lat, n) in &rows {
        let (p50, p99, max) = (percentile(lat, 0.5), percentile(lat, 0.99), lat[lat.len() - 1]);
        ok &= p99 < TARGET_MS;
        println!("{name:<32} {p50:>8.1} {p99:>8.1} {max:>8.1} {n:>6}");
        out.push(json!({"report": name, "p50_ms": p50, "p99_ms": p99, "max_ms": max, "rows": n}));
    }
    println!(
        "{}",
        json!({"bench": "reports", "backend": backend, "customers": a.customers, "calls": a.calls,
        "target_ms": TARGET_MS, "reports": out})
    );
    Ok(ok)
}

type Measured = Vec<(&'static str, Vec<f64>, usize)>;

async fn measure(a: &ReportsArgs, bin: &std::path::Path, fx: &Fixture) -> Result<Measured> {
    let server = Server::start(bin, fx, 4).await?;
    let r = measure_on(a, &server).await;
    if r.is_err() {
        eprintln!("server log (last lines):\n{}", server::tail(&server.log));
    }
    server.stop().await?;
    r
}

async fn measure_on(a: &ReportsArgs, server: &Server) -> Result<Measured> {
    let mut conn = Conn::connect(server.addr).await?;
    let vars = json!({ "t": fixture::TENANT, "e": fixture::OWNER_EMAIL, "p": fixture::OWNER_PASSWORD });
    let body = serde_json::to_vec(&json!({ "query": LOGIN, "variables": vars }))?;
    let (status, resp) = conn.post_json("/graphql", None, &body).await?;
    let v: Value = serde_json::from_slice(resp).with_context(|| format!("login: HTTP {status}"))?;
    let token = v["data"]["login"]["accessToken"].as_str().with_context(|| format!("login failed: {v}"))?;
    let bearer = format!("Bearer {token}");
    let cal = crate::year::Calendar::new(SystemClock.now_ms());
    let year = (fmt_date(cal.today - chrono::Duration::days(365)), fmt_date(cal.today));
    let last = cal.months[crate::year::MONTHS - 1];
    let month = (fmt_date(last), fmt_date(cal.today.max(last)));
    let mut out = Vec::new();
    for (name, query, vars) in cases((&year.0, &year.1), (&month.0, &month.1)) {
        let body = serde_json::to_vec(&json!({ "query": query, "variables": vars }))?;
        let mut lat = Vec::with_capacity(a.calls);
        let mut rows = 0;
        for i in 0..a.calls + 3 {
            let t = Instant::now();
            let (status, resp) = conn.post_json("/graphql", Some(&bearer), &body).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            let v: Value = serde_json::from_slice(resp).with_context(|| format!("{name}: HTTP {status}"))?;
            anyhow::ensure!(status == 200 && v.get("errors").is_none(), "{name}: HTTP {status} {v}");
            let data = v["data"].as_object().and_then(|o| o.values().next()).cloned().unwrap_or(Value::Null);
            rows = data.as_array().map_or(1, Vec::len);
            if i >= 3 {
                lat.push(ms);
            }
        }
        lat.sort_by(f64::total_cmp);
        eprintln!("{name}: p50 {:.1} ms, {rows} rows", percentile(&lat, 0.5));
        out.push((name, lat, rows));
    }
    Ok(out)
}
