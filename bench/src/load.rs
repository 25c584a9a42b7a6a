//! Closed-loop load: N workers each run one operation after another for a warm-up and then
//! a measured window; completions inside the window give the rate and the latencies.

use hdrhistogram::Histogram;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Error messages kept per run, so a failing run says why without flooding the terminal.
const KEEP_ERRORS: usize = 5;

/// One concurrent client: a connection, or a database handle.
pub trait Worker: Send + 'static {
    /// Performs one operation on page `page` and checks its result.
    fn run(&mut self, page: usize) -> impl Future<Output = Result<(), String>> + Send;
}

/// The timeline of one phase.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When measuring starts (the warm-up ends).
    pub start: Instant,
    /// When measuring ends and the workers stop.
    pub end: Instant,
}

impl Window {
    /// A window that opens after `warmup` from now and lasts `measure`.
    pub fn after(warmup: Duration, measure: Duration) -> Self {
        let start = Instant::now() + warmup;
        Self { start, end: start + measure }
    }

    /// Length of the measured part.
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }
}

/// What one phase measured.
pub struct Stats {
    /// Successful operations completed inside the window.
    pub ok: u64,
    /// Failed operations over the whole phase, warm-up included.
    pub failed: u64,
    /// Latencies of the successful operations in the window, microseconds.
    pub hist: Histogram<u64>,
    /// Length of the window.
    pub window: Duration,
    /// The first few failure messages.
    pub errors: Vec<String>,
}

impl Stats {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.window.as_secs_f64()
    }

    /// Latency at quantile `q` (0..=1) in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.hist.value_at_quantile(q) as f64 / 1000.0
    }

    /// Largest latency in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.hist.max() as f64 / 1000.0
    }

    /// Adds another window of the same phase: counts, latencies and window lengths add up.
    pub fn absorb(&mut self, other: Stats) {
        self.ok += other.ok;
        self.failed += other.failed;
        self.hist.add(other.hist).expect("same histogram bounds");
        self.window += other.window;
        self.errors.extend(other.errors);
        self.errors.truncate(KEEP_ERRORS);
    }
}

/// An empty latency histogram (microseconds).
pub fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

/// Runs `workers` concurrently over the pages `0..pages` (taken in turn from one shared
/// counter, so together they sweep the whole set) until `window.end`.
pub async fn drive<W: Worker>(workers: Vec<W>, pages: usize, window: Window) -> Stats {
    let next = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut hist = histogram();
                let (mut ok, mut failed, mut errors) = (0u64, 0u64, Vec::new());
                while Instant::now() < window.end {
                    let page = next.fetch_add(1, Ordering::Relaxed) % pages;
                    let started = Instant::now();
                    let result = w.run(page).await;
                    let done = Instant::now();
                    // An in-process baseline may never wait (direct SQLite reads finish inline):
                    // let the CPU probe and the other loops on this thread run between pages.
                    tokio::task::yield_now().await;
                    match result {
                        Ok(()) if done >= window.start && done <= window.end => {
                            ok += 1;
                            hist.saturating_record((done - started).as_micros() as u64);
                        }
                        Ok(()) => {}
                        Err(e) => {
                            failed += 1;
                            if errors.len() < KEEP_ERRORS {
                                errors.push(e);
                            }
                        }
                    }
                }
                (hist, ok, failed, errors)
            })
        })
        .collect();
    let mut stats = Stats { ok: 0, failed: 0, hist: histogram(), window: window.duration(), errors: Vec::new() };
    for h in handles {
        match h.await {
            Ok((hist, ok, failed, errors)) => {
                stats.hist.add(hist).expect("same histogram bounds");
                stats.ok += ok;
                stats.failed += failed;
                stats.errors.extend(errors);
            }
            Err(e) => {
                stats.failed += 1;
                stats.errors.push(format!("worker panicked: {e}"));
            }
        }
    }
    stats.errors.truncate(KEEP_ERRORS);
    stats
}
