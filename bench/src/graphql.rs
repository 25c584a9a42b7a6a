//! `isp-bench graphql`: the customers page with nested subscriptions and plans over HTTP,
//! next to the same rows read with raw SQL in the same run.

use crate::fixture::{self, Fixture};
use crate::http::{self, Conn};
use crate::load::{self, Stats, Window, Worker};
use crate::rawsql::{self, RawSql, StoreCalls, PAGE};
use crate::report::{Phase, Report};
use crate::server::{self, Server};
use crate::{cpu, GraphqlArgs};
use anyhow::{bail, ensure, Context, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use isp_core::db::Db;
use memchr::memmem;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The measured operation: one page of customers with their subscriptions and plans.
pub const QUERY: &str = "query Page($after: String) { customers(first: 50, after: $after) { edges { node { \
    id name email phone accountNumber subscriptions { id username status accessType \
    plan { id name downloadKbps uploadKbps price { amountMinor currency } } } } } } }";

/// Walks the pages once to collect the cursors the load cycles through.
const CURSORS_QUERY: &str =
    "query Cursors($after: String) { customers(first: 50, after: $after) { pageInfo { endCursor hasNextPage } } }";

const LOGIN: &str = "mutation Login($t: String!, $e: String!, $p: String!) { \
    login(tenant: $t, email: $e, password: $p) { accessToken } }";

/// Every this many responses per connection is parsed in full, not only scanned.
const FULL_CHECK_EVERY: u64 = 64;

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

/// Cheap check of a page response: no errors, 50 customers, each with its plan.
fn check_fast(body: &[u8]) -> Result<(), String> {
    if memmem::find(body, b"\"errors\"").is_some() {
        return Err(format!("response has errors: {}", snippet(body)));
    }
    let nodes = memmem::find_iter(body, b"\"node\":").count();
    let plans = memmem::find_iter(body, b"\"plan\":{").count();
    if nodes != PAGE || plans < PAGE {
        return Err(format!("expected {PAGE} customers with plans, got {nodes} customers and {plans} plans"));
    }
    Ok(())
}

/// Full check of a page response, parsed as JSON. Returns the customer row ids.
fn check_full(body: &[u8]) -> Result<Vec<i64>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("response is not JSON ({e}): {}", snippet(body)))?;
    if v.get("errors").is_some() {
        return Err(format!("response has errors: {}", snippet(body)));
    }
    let edges = v["data"]["customers"]["edges"].as_array().ok_or_else(|| format!("no edges: {}", snippet(body)))?;
    if edges.len() != PAGE {
        return Err(format!("expected {PAGE} edges, got {}", edges.len()));
    }
    let mut ids = Vec::with_capacity(PAGE);
    for e in edges {
        let node = &e["node"];
        let subs = node["subscriptions"].as_array().filter(|s| !s.is_empty());
        let priced = subs.is_some_and(|s| s.iter().all(|s| s["plan"]["price"]["currency"].is_string()));
        if !priced || !node["name"].is_string() {
            return Err(format!("incomplete customer: {node}"));
        }
        ids.push(row_id(node["id"].as_str().unwrap_or_default()).ok_or_else(|| format!("bad id in {node}"))?);
    }
    Ok(ids)
}

/// The row id inside a global ID (`base64url("Customer:42")`).
fn row_id(global: &str) -> Option<i64> {
    let raw = String::from_utf8(B64.decode(global).ok()?).ok()?;
    raw.split_once(':')?.1.parse().ok()
}

fn body(query: &str, variables: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "query": query, "variables": variables })).expect("JSON body")
}

/// One GraphQL call that must succeed; returns `data`.
async fn call(conn: &mut Conn, bearer: Option<&str>, query: &str, variables: Value) -> Result<Value> {
    let (status, resp) = conn.post_json("/graphql", bearer, &body(query, variables)).await?;
    let v: Value = serde_json::from_slice(resp).with_context(|| format!("HTTP {status}: {}", snippet(resp)))?;
    if status != 200 || v.get("errors").is_some() {
        bail!("HTTP {status}: {}", snippet(resp));
    }
    Ok(v["data"].clone())
}

/// A connection that posts the page query, cycling through the page cursors.
struct GraphqlWorker {
    /// Reconnects by itself after the server closed it or a request failed.
    conn: Conn,
    /// The page requests, serialized once (bearer and body included) and sent as is.
    requests: Arc<Vec<Vec<u8>>>,
    /// Responses until the next full check (the first one is checked in full).
    until_full_check: u64,
}

impl Worker for GraphqlWorker {
    async fn run(&mut self, page: usize) -> Result<(), String> {
        let (status, body) = self.conn.send(&self.requests[page]).await.map_err(|e| format!("request: {e:#}"))?;
        if status != 200 {
            return Err(format!("HTTP {status}: {}", snippet(body)));
        }
        let full = self.until_full_check == 0;
        self.until_full_check = if full { FULL_CHECK_EVERY - 1 } else { self.until_full_check - 1 };
        check_fast(body)?;
        if full {
            check_full(body)?;
        }
        Ok(())
    }
}

/// Logs in as the bench owner; returns the `Authorization` header value.
async fn login(conn: &mut Conn) -> Result<String> {
    let vars = json!({ "t": fixture::TENANT, "e": fixture::OWNER_EMAIL, "p": fixture::OWNER_PASSWORD });
    let data = call(conn, None, LOGIN, vars).await.context("login")?;
    let token = data["login"]["accessToken"].as_str().context("login returned no token")?;
    Ok(format!("Bearer {token}"))
}

/// Walks every page once; returns the `after` argument of each full page.
async fn collect_cursors(conn: &mut Conn, bearer: &str, pages: usize) -> Result<Vec<Value>> {
    let mut cursors = vec![Value::Null];
    while cursors.len() < pages {
        let after = cursors.last().cloned().unwrap_or(Value::Null);
        let data = call(conn, Some(bearer), CURSORS_QUERY, json!({ "after": after })).await?;
        let info = &data["customers"]["pageInfo"];
        ensure!(info["hasNextPage"] == true, "page {} is the last one; expected {pages} pages", cursors.len());
        cursors.push(info["endCursor"].clone());
    }
    Ok(cursors)
}

/// Statements the server executed so far (from `/metrics`).
async fn server_statements(conn: &mut Conn) -> Result<u64> {
    let (_, body) = conn.get("/metrics").await?;
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.strip_prefix("isp_db_statements ").and_then(|v| v.trim().parse().ok()))
        .context("no isp_db_statements in /metrics")
}

/// What the GraphQL setup found before loading the server.
struct GraphqlSetup {
    /// The page requests, serialized once.
    requests: Arc<Vec<Vec<u8>>>,
    statements_per_request: u64,
    cursor_walk_secs: f64,
}

/// Logs in, collects the page cursors, and checks that GraphQL pages hold the raw-SQL pages'
/// customers and cost a known number of statements.
async fn graphql_setup(
    server: &Server,
    raw_db: &Db,
    tenant_id: i64,
    positions: &[rawsql::Position],
) -> Result<GraphqlSetup> {
    let mut conn = Conn::connect(server.addr).await?;
    let bearer = login(&mut conn).await?;
    let started = Instant::now();
    let cursors = collect_cursors(&mut conn, &bearer, positions.len()).await?;
    let cursor_walk_secs = started.elapsed().as_secs_f64();
    let page_request = |after: &Value| {
        http::post_json_request(server.addr, "/graphql", Some(&bearer), &body(QUERY, json!({ "after": after })))
    };
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(cursors.iter().map(page_request).collect());

    let before = server_statements(&mut conn).await?;
    for page in [0, positions.len() / 2, positions.len() - 1] {
        let (status, resp) = conn.send(&requests[page]).await?;
        ensure!(status == 200, "HTTP {status}: {}", snippet(resp));
        let ids = check_full(resp).map_err(anyhow::Error::msg)?;
        let (rows, _, _) = rawsql::fetch_page(raw_db, tenant_id, &positions[page]).await.map_err(anyhow::Error::msg)?;
        let raw: Vec<i64> = rows.iter().map(|c| c.id).collect();
        ensure!(ids == raw, "page {page}: GraphQL and raw SQL disagree on the customers");
    }
    let statements_per_request = (server_statements(&mut conn).await? - before) / 3;
    Ok(GraphqlSetup { requests, statements_per_request, cursor_walk_secs })
}

/// One window of GraphQL load on the server, with its CPU use.
async fn graphql_window(
    a: &GraphqlArgs,
    server: &Server,
    requests: &Arc<Vec<Vec<u8>>>,
    window: Window,
) -> Result<Phase> {
    let probe = tokio::spawn(cpu::sample(server.pid(), a.database_url.is_some(), window.start, window.end));
    let stats = drive_on_one_thread(server.addr, requests.clone(), a.concurrency, window).await?;
    Ok(Phase { stats, cpu: probe.await.unwrap_or_default() })
}

/// Drives the page load from one thread with a runtime of its own, as `wrk -t1` does: each
/// response is handled by the thread whose epoll saw it arrive, so the load generator pays for
/// no wake-ups between worker threads (on the shared two-thread runtime they cost it about a
/// third of its CPU).
async fn drive_on_one_thread(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    window: Window,
) -> Result<Stats> {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let mut workers = Vec::with_capacity(concurrency);
            for _ in 0..concurrency {
                // Connected here, so that this runtime's reactor watches the sockets.
                let conn = Conn::connect(addr).await?;
                workers.push(GraphqlWorker { conn, requests: requests.clone(), until_full_check: 0 });
            }
            Ok(load::drive(workers, requests.len(), window).await)
        })
    })
    .await
    .context("the load thread panicked")?
}

async fn baseline<W: Worker>(a: &GraphqlArgs, workers: Vec<W>, pages: usize, window: Window) -> Phase {
    let probe = tokio::spawn(cpu::sample(None, a.database_url.is_some(), window.start, window.end));
    let stats = load::drive(workers, pages, window).await;
    Phase { stats, cpu: probe.await.unwrap_or_default() }
}

/// Runs the benchmark and prints its figures; false when any request failed.
pub async fn run(a: GraphqlArgs) -> Result<bool> {
    let bin = match &a.isp_bin {
        Some(b) => b.clone(),
        None => server::default_isp_bin()?,
    };
    ensure!(bin.is_file(), "{} not found: run `cargo build --release -p isp` or pass --isp-bin", bin.display());
    let backend = if a.database_url.is_some() { "postgres" } else { "sqlite" };
    eprintln!("seeding {} customers ({backend}) ...", a.customers);
    let fx = Fixture::create(a.customers, a.database_url.as_deref(), a.db_connections, a.analyze, a.keep).await?;
    eprintln!("seeded in {:.2} s", fx.seed_time.as_secs_f64());
    let result = phases(&a, &bin, &fx).await;
    let cleanup = fx.cleanup().await;
    let report = result?;
    cleanup?;
    report.print();
    Ok(report.failed() == 0)
}

async fn phases(a: &GraphqlArgs, bin: &std::path::Path, fx: &Fixture) -> Result<Report> {
    let db = Db::connect(&fx.database_url, a.db_connections).await?;
    let positions = Arc::new(rawsql::page_positions(&db, fx.tenant_id).await?);
    ensure!(!positions.is_empty(), "no full page of customers");

    eprintln!("starting {} ...", bin.display());
    let server = Server::start(bin, fx, a.db_connections).await?;
    let measured = measure(a, &server, &db, fx.tenant_id, &positions).await;
    if measured.is_err() {
        eprintln!("server log (last lines):\n{}", server::tail(&server.log));
    }
    server.stop().await?;
    db.close().await;
    let (setup, graphql, store, raw) = measured?;
    Ok(Report {
        backend: if a.database_url.is_some() { "PostgreSQL" } else { "SQLite" },
        analyzed: a.analyze || a.database_url.is_some(),
        customers: a.customers,
        pages: positions.len(),
        concurrency: a.concurrency,
        warmup: a.warmup,
        duration: a.duration,
        rounds: a.rounds,
        db_connections: a.db_connections,
        seed_secs: fx.seed_time.as_secs_f64(),
        cursor_walk_secs: setup.cursor_walk_secs,
        statements_per_request: setup.statements_per_request,
        graphql,
        store,
        raw,
    })
}

/// The three phases in turns: a window of GraphQL load, one of store calls, one of raw SQL,
/// `--rounds` times, each phase's windows added up. The server stays up (idle) while the
/// baselines run in this process.
async fn measure(
    a: &GraphqlArgs,
    server: &Server,
    db: &Db,
    tenant_id: i64,
    positions: &Arc<Vec<rawsql::Position>>,
) -> Result<(GraphqlSetup, Phase, Option<Phase>, Option<Phase>)> {
    let setup = graphql_setup(server, db, tenant_id, positions).await?;
    let store_args = Arc::new(StoreCalls::page_args(positions)?);
    let (mut graphql, mut store, mut raw) = (None, None, None);
    let window_secs = a.duration / a.rounds as f64;
    for round in 0..a.rounds {
        eprintln!(
            "turn {}/{}: GraphQL on {}{}, {window_secs:.1} s each ...",
            round + 1,
            a.rounds,
            server.addr,
            if a.no_raw { "" } else { ", store calls, raw SQL" }
        );
        Phase::add(&mut graphql, graphql_window(a, server, &setup.requests, a.window(round)).await?);
        if a.no_raw {
            continue;
        }
        let workers = (0..a.concurrency).map(|_| StoreCalls::new(db.clone(), tenant_id, store_args.clone())).collect();
        Phase::add(&mut store, baseline(a, workers, positions.len(), a.window(round)).await);
        let workers = (0..a.concurrency).map(|_| RawSql::new(db.clone(), tenant_id, positions.clone())).collect();
        Phase::add(&mut raw, baseline(a, workers, positions.len(), a.window(round)).await);
    }
    Ok((setup, graphql.expect("at least one round"), store, raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(n: usize, with_errors: bool) -> Vec<u8> {
        let edge = |i: usize| {
            json!({"node": {"id": B64.encode(format!("Customer:{i}")), "name": "A", "subscriptions": [
                {"id": "x", "plan": {"id": "p", "price": {"amountMinor": 1, "currency": "USD"}}}]}})
        };
        let mut v = json!({"data": {"customers": {"edges": (0..n).map(edge).collect::<Vec<_>>()}}});
        if with_errors {
            v["errors"] = json!([{"message": "boom"}]);
        }
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn checks_accept_a_full_page_and_reject_the_rest() {
        assert!(check_fast(&page(PAGE, false)).is_ok());
        assert_eq!(check_full(&page(PAGE, false)).unwrap(), (0..PAGE as i64).collect::<Vec<_>>());
        assert!(check_fast(&page(PAGE - 1, false)).is_err());
        assert!(check_full(&page(PAGE - 1, false)).is_err());
        assert!(check_fast(&page(PAGE, true)).is_err());
        assert!(check_full(&page(PAGE, true)).is_err());
    }
}
