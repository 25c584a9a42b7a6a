//! Plans: create, redefine, archive.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::CoreResult;
use crate::events::EventKind;
use crate::store::plans::{self, Plan, PlanInput};
use crate::Ctx;
use serde_json::json;

/// Creates a plan.
pub async fn create(ctx: &Ctx, actor: &Actor, i: &PlanInput) -> CoreResult<Plan> {
    actor.require(Action::PlanWrite)?;
    i.validate()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let p = plans::insert(&mut tx, actor.tenant_id, i, now).await?;
    Effects::new(ctx, actor, now)
        .audit("plan.create", "Plan", Some(p.id), json!({"name": p.name, "priceMinor": p.price_minor}))
        .event(EventKind::PlanChanged, p.id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(p)
}

/// Replaces the definition of plan `id`; existing subscriptions follow it.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, i: &PlanInput) -> CoreResult<Plan> {
    actor.require(Action::PlanWrite)?;
    i.validate()?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let p = plans::update(&mut tx, actor.tenant_id, id, i, now).await?;
    Effects::new(ctx, actor, now)
        .audit("plan.update", "Plan", Some(id), json!({"name": p.name, "priceMinor": p.price_minor}))
        .event(EventKind::PlanChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(p)
}

/// Archives plan `id`: existing subscriptions keep it, new ones cannot choose it.
pub async fn archive(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Plan> {
    actor.require(Action::PlanWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let p = plans::deactivate(&mut tx, actor.tenant_id, id, now).await?;
    Effects::new(ctx, actor, now)
        .audit("plan.archive", "Plan", Some(id), json!({}))
        .event(EventKind::PlanChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(p)
}
