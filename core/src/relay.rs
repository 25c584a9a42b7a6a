//! The event relay: publishes on this process's bus the events other processes wrote.
//!
//! Every change that a `changes` subscriber (or a RADIUS cache) may care about is written to
//! the `events` table in its own transaction ([`crate::effects`]), with the writing process's
//! origin. Each long-running process (`isp serve`, `isp api`, `isp radiusd`, `isp worker`)
//! runs [`run`]: it reads the table in id order from where it started and publishes every
//! event whose origin is another process's (its own were published when they committed).
//!
//! - SQLite: the processes share the database file; the relay polls every [`POLL_SQLITE`]
//!   (one indexed read of nothing, most of the time). SQLite has one writer at a time, so ids
//!   become visible in order.
//! - PostgreSQL: the insert also NOTIFYs [`events::CHANNEL`], delivered when the transaction
//!   commits, which wakes the relay at once; it still polls every [`POLL_POSTGRES`] in case a
//!   notification was lost with a connection. Identity values are handed out at insert and
//!   transactions commit in any order, so id 7 may become visible after id 8: the relay keeps
//!   such a gap open for [`GAP_WAIT`] and publishes 7 when it appears (a rolled-back insert
//!   leaves a gap forever, which is then dropped).
//!
//! Events are kept for [`KEEP_MS`] and then pruned by any relay; ids are never reused, so a
//! cursor stays valid. An event is best-effort news for live views, not a record: a process
//! that starts late, or whose relay is behind by more than a day, misses what it did not see.

use crate::db::Backend;
use crate::error::CoreResult;
use crate::events::{Event, EventKind};
use crate::store::events::{self, EventRow};
use crate::Ctx;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

/// How often a relay on SQLite reads the table.
pub const POLL_SQLITE: Duration = Duration::from_millis(200);
/// How often a relay on PostgreSQL reads it without a notification.
pub const POLL_POSTGRES: Duration = Duration::from_secs(2);
/// How long a missing id below the highest seen is waited for.
pub const GAP_WAIT: Duration = Duration::from_secs(10);
/// How long events are kept (by the injected clock).
pub const KEEP_MS: i64 = 24 * 3_600_000;
/// Rows read per query.
const BATCH: i64 = 500;
/// A jump of more ids than this is not tracked as gaps (a restore, a sequence reset).
const MAX_GAP: i64 = 10_000;
/// How often old events are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Where a relay stands: the highest id it has read, and the ids below it it has not seen yet.
#[derive(Debug, Default)]
pub struct Cursor {
    /// Highest id read.
    pub high: i64,
    /// Ids below `high` not seen yet, with when they were first missed.
    gaps: BTreeMap<i64, Instant>,
}

impl Cursor {
    /// A cursor after `high` (events up to it are not relayed).
    pub fn at(high: i64) -> Self {
        Self { high, gaps: BTreeMap::new() }
    }

    /// Takes `rows` (read above `high`, or gap ids), returning those not seen before, in
    /// order; opens gaps for ids skipped, closes those that arrived or waited too long.
    pub fn take(&mut self, rows: Vec<EventRow>, now: Instant) -> Vec<EventRow> {
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            if row.id > self.high {
                if row.id - self.high <= MAX_GAP {
                    for missing in self.high + 1..row.id {
                        self.gaps.insert(missing, now);
                    }
                }
                self.high = row.id;
                fresh.push(row);
            } else if self.gaps.remove(&row.id).is_some() {
                fresh.push(row);
            }
        }
        self.gaps.retain(|_, since| now.duration_since(*since) < GAP_WAIT);
        fresh
    }

    /// The ids still awaited.
    pub fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }
}

/// Reads what is new and publishes what other processes wrote; returns how many it published.
pub async fn step(ctx: &Ctx, cursor: &mut Cursor) -> CoreResult<usize> {
    let mut published = 0;
    let gaps = cursor.gaps();
    if !gaps.is_empty() {
        let rows = events::by_ids(&ctx.db, &gaps).await?;
        published += publish(ctx, cursor.take(rows, Instant::now()));
    }
    loop {
        let rows = events::after(&ctx.db, cursor.high, BATCH).await?;
        let full = rows.len() as i64 == BATCH;
        published += publish(ctx, cursor.take(rows, Instant::now()));
        if !full {
            return Ok(published);
        }
    }
}

fn publish(ctx: &Ctx, rows: Vec<EventRow>) -> usize {
    let mut n = 0;
    for row in rows {
        if row.origin == ctx.events.origin() {
            continue;
        }
        match EventKind::parse(&row.kind) {
            Some(kind) => {
                ctx.events.publish(Event { tenant_id: row.tenant_id, kind, object_id: row.object_id });
                n += 1;
            }
            None => tracing::debug!(kind = %row.kind, id = row.id, "event of a kind this version does not know"),
        }
    }
    n
}

/// Relays events until `stop` completes (see the module docs).
pub async fn run(ctx: Ctx, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut cursor = loop {
        match events::last_id(&ctx.db).await {
            Ok(id) => break Cursor::at(id),
            Err(e) => {
                tracing::warn!(error = %e.chain(), "event relay cannot read the events table; retrying");
                tokio::select! {
                    _ = &mut stop => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut listener = listen(&ctx).await;
    let poll = match ctx.db.backend() {
        Backend::Sqlite => POLL_SQLITE,
        Backend::Postgres => POLL_POSTGRES,
    };
    let mut pruned = Instant::now();
    loop {
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()).map_err(|e| e.to_string()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            r = notified => {
                if let Err(e) = r {
                    tracing::warn!(error = %e, "event relay lost its PostgreSQL listener; reconnecting");
                    listener = None;
                }
            }
            _ = tokio::time::sleep(poll) => {}
        }
        if listener.is_none() && ctx.db.backend() == Backend::Postgres {
            listener = listen(&ctx).await;
        }
        if let Err(e) = step(&ctx, &mut cursor).await {
            tracing::warn!(error = %e.chain(), "event relay could not read events");
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = Instant::now();
            match events::prune(&ctx.db, ctx.now_ms() - KEEP_MS).await {
                Ok(n) if n > 0 => tracing::debug!(pruned = n, "old events pruned"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e.chain(), "could not prune old events"),
            }
        }
    }
}

/// A LISTEN on [`events::CHANNEL`] (PostgreSQL only; None on SQLite or when it fails, and the
/// relay then polls).
async fn listen(ctx: &Ctx) -> Option<sqlx::postgres::PgListener> {
    let pool = ctx.db.pg_pool()?;
    let mut l = match sqlx::postgres::PgListener::connect_with(pool).await {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "event relay cannot LISTEN; polling instead");
            return None;
        }
    };
    match l.listen(events::CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            tracing::warn!(error = %e, "event relay cannot LISTEN; polling instead");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64) -> EventRow {
        EventRow { id, tenant_id: 1, kind: "plan.changed".into(), object_id: id, origin: 9 }
    }

    #[test]
    fn a_late_commit_below_the_highest_id_is_relayed_once() {
        let t0 = Instant::now();
        let mut c = Cursor::at(4);
        // 6 and 7 commit before 5.
        let got = c.take(vec![row(6), row(7)], t0);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![6, 7]);
        assert_eq!(c.gaps(), vec![5]);
        assert_eq!(c.take(vec![row(5)], t0).len(), 1, "5 arrives and is relayed");
        assert!(c.gaps().is_empty());
        assert!(c.take(vec![row(5), row(6)], t0).is_empty(), "nothing twice");
        // A rolled-back insert leaves a gap for good: dropped after GAP_WAIT.
        c.take(vec![row(9)], t0);
        assert_eq!(c.gaps(), vec![8]);
        c.take(Vec::new(), t0 + GAP_WAIT);
        assert!(c.gaps().is_empty());
        assert_eq!(c.high, 9);
    }
}
