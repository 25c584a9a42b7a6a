//! Live RADIUS sessions: ending one from the staff side.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::store::jobs::{JobKind, NewJob, RadiusJobPayload};
use crate::store::radius_sessions::{self, RadiusSession};
use crate::Ctx;
use serde_json::json;

/// Asks the NAS to end live session `id` (a Disconnect-Request job), audited.
pub async fn disconnect(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<RadiusSession> {
    actor.require(Action::SessionDisconnect)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let s = radius_sessions::get(&mut tx, actor.tenant_id, id).await?;
    if s.open == 0 {
        return Err(CoreError::conflict("id", "the session has already ended"));
    }
    let payload = RadiusJobPayload {
        acct_session_id: s.acct_session_id.clone(),
        username: s.username.clone(),
        framed_ip: s.framed_ip.clone(),
        rate_limit: None,
        reason: "staff disconnect".into(),
    };
    let written = Effects::new(ctx, actor, now)
        .jobs([NewJob::radius(s.nas_id, JobKind::RadiusDisconnect, &payload)])
        .write(&mut tx)
        .await?;
    let details = json!({"username": s.username, "acctSessionId": s.acct_session_id, "jobId": written.jobs[0]});
    Effects::new(ctx, actor, now)
        .audit("session.disconnect", "RadiusSession", Some(id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(s)
}
