//! How a use case records what it did besides its own rows: the audit entry, the outbox jobs
//! and the live events, in its transaction, through one helper.
//!
//! ```ignore
//! Effects::new(ctx, actor, now)
//!     .audit("subscription.status", "Subscription", Some(sub.id), details)
//!     .jobs(netjobs::for_status(&mut tx, tenant, &settings, &sub, true, reason).await?)
//!     .event(EventKind::SubscriptionChanged, sub.id)
//!     .write(&mut tx)
//!     .await?;
//! tx.commit().await?;
//! ```
//!
//! Audit rows and job rows are written into the transaction, so they commit or roll back with
//! the change; events are published, and the device-job worker woken, only once it has
//! committed ([`Tx::after_commit`]), so a subscriber never sees a change that was rolled back.

use crate::auth::Actor;
use crate::db::Tx;
use crate::error::CoreResult;
use crate::events::{Event, EventKind};
use crate::store::jobs::{self, NewJob};
use crate::store::{audit, events};
use crate::Ctx;

/// The side effects of one step of a use case, written by [`Effects::write`].
#[must_use = "effects do nothing until written"]
pub struct Effects<'a> {
    ctx: &'a Ctx,
    actor: &'a Actor,
    now: i64,
    audit: Vec<(String, &'static str, Option<i64>, serde_json::Value)>,
    jobs: Vec<NewJob>,
    events: Vec<(EventKind, i64)>,
}

/// What [`Effects::write`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Ids of the jobs written, in order.
    pub jobs: Vec<i64>,
}

impl<'a> Effects<'a> {
    /// Effects of `actor`'s change at `now` (Unix ms, from the injected clock).
    pub fn new(ctx: &'a Ctx, actor: &'a Actor, now: i64) -> Self {
        Self { ctx, actor, now, audit: Vec::new(), jobs: Vec::new(), events: Vec::new() }
    }

    /// An audit entry: `action` on (`object_type`, `object_id`) with `details` (never secrets).
    pub fn audit(
        mut self,
        action: &str,
        object_type: &'static str,
        object_id: Option<i64>,
        details: serde_json::Value,
    ) -> Self {
        self.audit.push((action.to_string(), object_type, object_id, details));
        self
    }

    /// Outbox jobs for the device-job worker.
    pub fn jobs(mut self, jobs: impl IntoIterator<Item = NewJob>) -> Self {
        self.jobs.extend(jobs);
        self
    }

    /// How many jobs are queued so far.
    pub fn job_count(&self) -> usize {
        self.jobs.len()
    }

    /// A live event for `changes` subscribers of the actor's tenant.
    pub fn event(mut self, kind: EventKind, object_id: i64) -> Self {
        self.events.push((kind, object_id));
        self
    }

    /// Writes the audit entries and jobs into `tx`, and arranges for the events to be
    /// published and the worker woken once `tx` commits.
    pub async fn write(self, tx: &mut Tx) -> CoreResult<Written> {
        for (action, object_type, object_id, details) in &self.audit {
            audit::record(tx, self.actor, action, object_type, *object_id, details.clone(), self.now).await?;
        }
        let mut written = Written::default();
        for job in &self.jobs {
            written.jobs.push(jobs::insert(tx, self.actor.tenant_id, job, self.now).await?);
        }
        let tenant_id = self.actor.tenant_id;
        // Stored for the other processes' relays; published here once committed.
        let origin = self.ctx.events.origin();
        for &(kind, object_id) in &self.events {
            events::insert(tx, tenant_id, kind.as_str(), object_id, origin, self.now).await?;
        }
        if !self.events.is_empty() {
            let bus = self.ctx.events.clone();
            let events: Vec<Event> =
                self.events.iter().map(|&(kind, object_id)| Event { tenant_id, kind, object_id }).collect();
            tx.after_commit(move || {
                for e in events {
                    bus.publish(e);
                }
            });
        }
        if !self.jobs.is_empty() {
            let wakeup = self.ctx.jobs_wakeup.clone();
            tx.after_commit(move || wakeup.notify_one());
        }
        Ok(written)
    }
}
