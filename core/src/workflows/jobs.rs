//! The device-job outbox: a dead letter announced (worker side) and retried (staff side).

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::store::jobs::{self, DeviceJob};
use crate::Ctx;
use serde_json::json;

/// Puts dead job `id` of the actor's tenant back to pending with its attempts reset, due at
/// once, audited; NOT_FOUND for an unknown job, CONFLICT for one that is not dead.
pub async fn retry(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<DeviceJob> {
    actor.require(Action::JobRetry)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let Some(job) = jobs::revive(&mut tx, actor.tenant_id, id, now).await? else {
        return Err(match jobs::get(&mut tx, actor.tenant_id, id).await? {
            Some(_) => CoreError::conflict("id", "only a dead job can be retried"),
            None => CoreError::NotFound("job"),
        });
    };
    Effects::new(ctx, actor, now)
        .audit("job.retry", "DeviceJob", Some(id), json!({"kind": job.kind.as_str(), "lastError": job.last_error}))
        .write(&mut tx)
        .await?;
    // The revived job is due now: wake the worker once it is committed.
    let wakeup = ctx.jobs_wakeup.clone();
    tx.after_commit(move || wakeup.notify_one());
    tx.commit().await?;
    Ok(job)
}

/// Dead-letters claimed job `job` after its last failed attempt with `error`, and announces it
/// to `changes` subscribers (`DeviceJobDead`) in the same transaction.
pub async fn dead_letter(ctx: &Ctx, job: &DeviceJob, error: &str) -> CoreResult<()> {
    let now = ctx.now_ms();
    let actor = Actor::system(job.tenant_id, "worker");
    let mut tx = ctx.db.begin().await?;
    jobs::fail(&mut tx, job.id, error, now, true, now).await?;
    Effects::new(ctx, &actor, now).event(EventKind::DeviceJobDead, job.id).write(&mut tx).await?;
    tx.commit().await
}
