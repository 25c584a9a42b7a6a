//! The device-job outbox from the staff side: retrying a dead letter.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
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
