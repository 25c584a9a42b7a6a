//! Writes auth log entries off the hot path: requests hand entries to a channel and one
//! task inserts whatever has queued up with a single multi-row statement.

use isp_core::store::auth_log::{self, NewAuthLog};
use isp_core::Ctx;
use tokio::sync::mpsc;

/// Entries buffered before new ones are dropped (and counted) rather than slowing auth.
pub const QUEUE: usize = 100_000;
/// Most entries per INSERT.
const BATCH: usize = 500;

/// The sending side, cloned into every request handler.
#[derive(Clone)]
pub struct AuthLogSender(mpsc::Sender<NewAuthLog>);

impl AuthLogSender {
    /// Queues an entry; drops it (counted in metrics) when the writer is far behind.
    pub fn send(&self, ctx: &Ctx, entry: NewAuthLog) {
        if self.0.try_send(entry).is_err() {
            ctx.metrics.inc("isp_radius_auth_log_dropped_total", "");
        }
    }
}

/// Starts the writer; it ends after every sender is dropped and the queue is drained.
pub fn spawn(ctx: Ctx) -> (AuthLogSender, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel::<NewAuthLog>(QUEUE);
    let handle = tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            if let Err(e) = auth_log::insert_batch(&ctx.db, &batch).await {
                tracing::error!(error = %e, entries = batch.len(), "cannot write the auth log");
            }
            batch.clear();
        }
    });
    (AuthLogSender(tx), handle)
}
