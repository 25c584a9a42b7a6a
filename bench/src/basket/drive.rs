//! Load for one screen in one window: `--concurrency` GraphQL connections (or raw-SQL loops)
//! visiting the screen's variants in turn, with a window that stretches for slow screens.
//!
//! A window is measured from its start to its planned end. When fewer than [`MIN_OK`]
//! requests completed by then, it stretches until they have (at most to its cap), so a slow
//! screen still reports a rate and latencies instead of nothing; requests still running at
//! the end finish unmeasured (a drain, bounded too: what is left after it is abandoned).

use super::raw::{self, Lite, Pg};
use super::screens::{Key, ScreenId};
use crate::http::Conn;
use crate::load::{histogram, Stats, Worker};
use anyhow::{Context, Result};
use isp_core::db::{Backend, Db};
use memchr::memmem;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Completions a window needs before it may end.
pub const MIN_OK: usize = 20;
/// Error messages kept per window.
const KEEP_ERRORS: usize = 5;
/// Every this many responses per connection is parsed in full, not only scanned.
const FULL_CHECK_EVERY: u64 = 64;

/// The timeline of one window.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Measuring starts (the warm-up ends).
    pub start: Instant,
    /// Planned end.
    pub end: Instant,
    /// Latest end when the screen is slow.
    pub cap: Instant,
    /// How long requests running at the end may take to finish.
    pub drain: Duration,
}

/// What one window measured.
pub struct Outcome {
    /// Rate, latencies and failures over the measured window.
    pub stats: Stats,
    /// When the measured window ended.
    pub end: Instant,
    /// Requests abandoned after the drain.
    pub abandoned: usize,
}

/// One worker's completions (ms after start, latency µs), failures and first errors.
#[derive(Default)]
struct Log {
    done: Vec<(Duration, u64)>,
    failed: u64,
    errors: Vec<String>,
}

/// Runs `workers` over the variants `0..variants` (taken in turn from one shared counter)
/// through the window `plan`; spawns on the current runtime.
pub async fn drive<W: Worker>(workers: Vec<W>, variants: usize, plan: Plan) -> Outcome {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut logs = Vec::new();
    let mut handles = Vec::new();
    for mut w in workers {
        let (next, ok) = (next.clone(), ok.clone());
        let log = Arc::new(Mutex::new(Log::default()));
        logs.push(log.clone());
        handles.push(tokio::spawn(async move {
            loop {
                let now = Instant::now();
                if now >= plan.cap || (now >= plan.end && ok.load(Ordering::Relaxed) >= MIN_OK) {
                    break;
                }
                let v = next.fetch_add(1, Ordering::Relaxed) % variants;
                let started = Instant::now();
                let result = w.run(v).await;
                let done = Instant::now();
                // In-process baselines may never wait: let the other loops and the CPU probe run.
                tokio::task::yield_now().await;
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                match result {
                    Ok(()) if done >= plan.start => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        log.done.push((done - plan.start, (done - started).as_micros() as u64));
                    }
                    Ok(()) => {}
                    Err(e) => {
                        log.failed += 1;
                        if log.errors.len() < KEEP_ERRORS {
                            log.errors.push(e);
                        }
                    }
                }
            }
        }));
    }
    let deadline = plan.cap + plan.drain;
    let mut abandoned = 0;
    for h in handles {
        let abort = h.abort_handle();
        if tokio::time::timeout_at(deadline.into(), h).await.is_err() {
            abort.abort();
            abandoned += 1;
        }
    }
    let mut done: Vec<(Duration, u64)> = Vec::new();
    let (mut failed, mut errors) = (0, Vec::new());
    for log in logs {
        let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
        done.append(&mut log.done);
        failed += log.failed;
        errors.append(&mut log.errors);
    }
    errors.truncate(KEEP_ERRORS);
    done.sort_unstable_by_key(|d| d.0);
    let (planned, capped) = (plan.end - plan.start, plan.cap - plan.start);
    // A window with too few completions by its planned end ends at its MIN_OK-th one, or at
    // its cap; completions during the drain are not measured.
    let window = if done.partition_point(|d| d.0 <= planned) >= MIN_OK {
        planned
    } else if done.len() >= MIN_OK {
        done[MIN_OK - 1].0.min(capped)
    } else {
        capped
    };
    let counted = done.partition_point(|d| d.0 <= window);
    let mut hist = histogram();
    for d in &done[..counted] {
        hist.saturating_record(d.1);
    }
    let stats = Stats { ok: counted as u64, failed, hist, window, errors };
    Outcome { stats, end: plan.start + window, abandoned }
}

/// What a response must contain: (marker bytes, times).
pub type Expect = Vec<(Vec<u8>, usize)>;

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

/// Checks a GraphQL response: no `errors`, each marker as often as expected; in full (parsed
/// as JSON, with `data`) when `full`.
pub fn check(body: &[u8], expect: &Expect, full: bool) -> Result<(), String> {
    if memmem::find(body, b"\"errors\"").is_some() {
        return Err(format!("response has errors: {}", snippet(body)));
    }
    for (marker, n) in expect {
        let got = memmem::find_iter(body, marker).count();
        if got != *n {
            return Err(format!("expected {n} x {}, got {got}: {}", String::from_utf8_lossy(marker), snippet(body)));
        }
    }
    if full {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("response is not JSON ({e}): {}", snippet(body)))?;
        if !v["data"].is_object() {
            return Err(format!("response has no data: {}", snippet(body)));
        }
    }
    Ok(())
}

/// Suspend/resume in turn: variants `2k` (suspend) and `2k+1` (resume) of subscription `k`;
/// each connection owns some subscriptions, so no two change one at the same time. What is
/// suspended is shared across windows, so the next window (and the cleanup) picks up where
/// this one stopped.
pub struct Toggle {
    owned: Vec<usize>,
    suspended: Arc<Vec<AtomicBool>>,
    next: usize,
}

impl Toggle {
    /// A toggle over subscriptions `owned`, whose states are in `suspended`.
    pub fn new(owned: Vec<usize>, suspended: Arc<Vec<AtomicBool>>) -> Self {
        Self { owned, suspended, next: 0 }
    }
}

/// A connection posting a screen's prebuilt requests.
pub struct GraphqlWorker {
    conn: Conn,
    requests: Arc<Vec<Vec<u8>>>,
    expect: Arc<Vec<Expect>>,
    until_full: u64,
    toggle: Option<Toggle>,
}

impl GraphqlWorker {
    /// A worker on a new connection to `addr`.
    pub async fn connect(
        addr: SocketAddr,
        requests: Arc<Vec<Vec<u8>>>,
        expect: Arc<Vec<Expect>>,
        toggle: Option<Toggle>,
    ) -> Result<Self> {
        Ok(Self { conn: Conn::connect(addr).await?, requests, expect, until_full: 0, toggle })
    }
}

impl Worker for GraphqlWorker {
    async fn run(&mut self, variant: usize) -> Result<(), String> {
        let (v, flip) = match &mut self.toggle {
            Some(t) => {
                let k = t.owned[t.next % t.owned.len()];
                t.next += 1;
                (2 * k + usize::from(t.suspended[k].load(Ordering::Relaxed)), Some(k))
            }
            None => (variant, None),
        };
        let (status, body) = self.conn.send(&self.requests[v]).await.map_err(|e| format!("request: {e:#}"))?;
        if status != 200 {
            return Err(format!("HTTP {status}: {}", snippet(body)));
        }
        let full = self.until_full == 0;
        self.until_full = if full { FULL_CHECK_EVERY - 1 } else { self.until_full - 1 };
        check(body, &self.expect[v], full)?;
        if let (Some(t), Some(k)) = (&self.toggle, flip) {
            t.suspended[k].store(v % 2 == 0, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Runs GraphQL load from one thread with a runtime of its own, as `wrk -t1` does (see
/// `crate::graphql`): `make` builds each connection's worker.
pub async fn graphql_on_one_thread<F, Fut>(n: usize, variants: usize, plan: Plan, make: F) -> Result<Outcome>
where
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: Future<Output = Result<GraphqlWorker>>,
{
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let mut workers = Vec::with_capacity(n);
            for i in 0..n {
                workers.push(make(i).await?);
            }
            Ok(drive(workers, variants, plan).await)
        })
    })
    .await
    .context("the load thread panicked")?
}

/// Drives a future that never waits (a baseline's statements on a direct SQLite connection).
fn run_ready<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => Err("a SQLite baseline statement waited".into()),
    }
}

/// How long baseline visits may take on average on an async thread before this loop moves
/// them to a blocking thread (the server does so per statement, see `isp_core::db::READ_BUDGET`).
const INLINE_BUDGET: Duration = Duration::from_millis(1);

/// A variant as a baseline visits it: its key and what the visit must find.
pub type RawVariant = (Key, Vec<(String, usize)>);

/// A loop visiting a screen with raw SQL on the server's kind of connections.
pub struct RawWorker {
    db: Db,
    screen: ScreenId,
    tenant: i64,
    variants: Arc<Vec<RawVariant>>,
    /// Moving average of a visit's time, µs: above [`INLINE_BUDGET`] visits run on a
    /// blocking thread.
    average_us: f64,
}

impl RawWorker {
    /// A loop over `variants` (the baseline's key and what it must find).
    pub fn new(db: Db, screen: ScreenId, tenant: i64, variants: Arc<Vec<RawVariant>>) -> Self {
        Self { db, screen, tenant, variants, average_us: 0.0 }
    }
}

/// Runs the baseline of `screen` once on `db`.
pub async fn visit(db: &Db, screen: ScreenId, tenant: i64, key: &Key) -> Result<Vec<(String, usize)>, String> {
    match db.pg_pool() {
        Some(pool) => raw::run(screen, &mut Pg(pool), tenant, key).await,
        None => db
            .with_sqlite(|c| run_ready(raw::run(screen, &mut Lite(c), tenant, key)))
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_else(|| Err("neither SQLite nor PostgreSQL".into())),
    }
}

impl Worker for RawWorker {
    async fn run(&mut self, variant: usize) -> Result<(), String> {
        let (key, want) = &self.variants[variant];
        let started = Instant::now();
        let offload = self.average_us > INLINE_BUDGET.as_micros() as f64;
        let got = if offload && self.db.backend() == Backend::Sqlite {
            let (db, screen, tenant, key) = (self.db.clone(), self.screen, self.tenant, key.clone());
            let rt = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || rt.block_on(visit(&db, screen, tenant, &key)))
                .await
                .map_err(|e| format!("baseline thread: {e}"))??
        } else {
            visit(&self.db, self.screen, self.tenant, key).await?
        };
        // A visit delayed once (the OS ran something else) does not move the loop off the
        // runtime for good; a screen that is slow every time does.
        self.average_us = 0.8 * self.average_us + 0.2 * started.elapsed().as_micros() as f64;
        if &got != want {
            return Err(format!("raw SQL found {got:?}, expected {want:?}"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_must_hold_every_marker_as_often_as_expected() {
        let body = br#"{"data":{"a":[{"__typename":"Invoice"},{"__typename":"Invoice"}],"totalCount":2}}"#;
        let expect = |n: usize| vec![(br#""__typename":"Invoice""#.to_vec(), n), (br#""totalCount":2"#.to_vec(), 1)];
        assert!(check(body, &expect(2), true).is_ok());
        assert!(check(body, &expect(3), false).is_err());
        let errors = br#"{"data":null,"errors":[{"message":"internal error"}]}"#;
        assert!(check(errors, &Vec::new(), false).is_err());
        assert!(check(b"{\"data\":", &Vec::new(), true).is_err(), "not JSON");
    }

    /// Completes after `delay`.
    struct Slow(Duration);

    impl Worker for Slow {
        async fn run(&mut self, _: usize) -> Result<(), String> {
            tokio::time::sleep(self.0).await;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_window_stretches_until_enough_requests_completed() {
        let start = Instant::now();
        let plan = Plan {
            start,
            end: start + Duration::from_millis(20),
            cap: start + Duration::from_secs(5),
            drain: Duration::from_secs(5),
        };
        // Nothing completes within the planned 20 ms: the window ends at the 20th completion.
        let out = drive((0..MIN_OK).map(|_| Slow(Duration::from_millis(60))).collect(), 1, plan).await;
        assert_eq!(out.stats.ok as usize, MIN_OK);
        assert!(out.stats.window >= Duration::from_millis(60) && out.stats.window < Duration::from_secs(5));
        assert_eq!(out.abandoned, 0);

        // Fast workers: the window ends as planned, whatever completed after it is not counted.
        let start = Instant::now();
        let plan = Plan { start, end: start + Duration::from_millis(100), cap: start + Duration::from_secs(5), ..plan };
        let out = drive((0..4).map(|_| Slow(Duration::from_millis(1))).collect(), 1, plan).await;
        assert_eq!(out.stats.window, Duration::from_millis(100));
        assert!(out.stats.ok >= MIN_OK as u64);
    }
}
