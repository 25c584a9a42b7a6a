//! Helpdesk settings (owners and admins): ticket categories, teams and their leads, SLA
//! policies, business hours and holidays. Every change is audited.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::helpdesk::{sla::Schedule, week_json};
use crate::store::helpdesk::{self as settings, Category, SlaPolicy, Team};
use crate::store::plans;
use crate::store::tickets::TicketPriority;
use crate::{validate, Ctx};
use serde_json::json;

/// Longest SLA target: a year of minutes.
pub const MAX_TARGET_MINUTES: i64 = 366 * 24 * 60;

fn name(field: &str, n: &str) -> CoreResult<String> {
    let n = n.trim().to_string();
    validate::text(&n, 100).map_err(|m| CoreError::validation(field, m))?;
    Ok(n)
}

/// Adds a ticket category.
pub async fn create_category(ctx: &Ctx, actor: &Actor, n: &str) -> CoreResult<Category> {
    actor.require(Action::HelpdeskSettings)?;
    let n = name("name", n)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let c = settings::insert_category(&mut tx, actor.tenant_id, &n, now).await?;
    Effects::new(ctx, actor, now)
        .audit("ticket_category.create", "TicketCategory", Some(c.id), json!({"name": c.name}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

/// Renames ticket category `id`.
pub async fn rename_category(ctx: &Ctx, actor: &Actor, id: i64, n: &str) -> CoreResult<Category> {
    actor.require(Action::HelpdeskSettings)?;
    let n = name("name", n)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let c = settings::rename_category(&mut tx, actor.tenant_id, id, &n).await?;
    Effects::new(ctx, actor, now)
        .audit("ticket_category.update", "TicketCategory", Some(c.id), json!({"name": c.name}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(c)
}

async fn check_lead(tx: &mut crate::db::Tx, tenant_id: i64, lead: Option<i64>) -> CoreResult<()> {
    if let Some(u) = lead {
        if settings::staff(tx, tenant_id, u).await?.is_none() {
            return Err(CoreError::validation("leadId", "no such staff user"));
        }
    }
    Ok(())
}

/// Adds a team (queue) with an optional lead.
pub async fn create_team(ctx: &Ctx, actor: &Actor, n: &str, lead: Option<i64>) -> CoreResult<Team> {
    actor.require(Action::HelpdeskSettings)?;
    let n = name("name", n)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    check_lead(&mut tx, actor.tenant_id, lead).await?;
    let t = settings::insert_team(&mut tx, actor.tenant_id, &n, lead, now).await?;
    Effects::new(ctx, actor, now)
        .audit("ticket_team.create", "TicketTeam", Some(t.id), json!({"name": t.name, "leadId": t.lead_user_id}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(t)
}

/// Renames team `id` and sets its lead (none: no lead).
pub async fn update_team(ctx: &Ctx, actor: &Actor, id: i64, n: &str, lead: Option<i64>) -> CoreResult<Team> {
    actor.require(Action::HelpdeskSettings)?;
    let n = name("name", n)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    check_lead(&mut tx, actor.tenant_id, lead).await?;
    let t = settings::update_team(&mut tx, actor.tenant_id, id, &n, lead).await?;
    Effects::new(ctx, actor, now)
        .audit("ticket_team.update", "TicketTeam", Some(t.id), json!({"name": t.name, "leadId": t.lead_user_id}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(t)
}

/// SLA targets as a client sends them.
#[derive(Debug, Clone)]
pub struct PolicyInput {
    /// Priority.
    pub priority: TicketPriority,
    /// Only tickets of this plan's subscriptions.
    pub plan_id: Option<i64>,
    /// Minutes to the first public reply.
    pub first_response_minutes: i64,
    /// Minutes to resolution.
    pub resolution_minutes: i64,
    /// Business hours (true) or calendar time.
    pub business_hours: bool,
    /// Whether an escalation raises the priority one step.
    pub raise_priority: bool,
}

/// Sets the SLA policy of a priority (and plan); applies to tickets created or re-prioritised
/// from now on.
pub async fn set_policy(ctx: &Ctx, actor: &Actor, p: &PolicyInput) -> CoreResult<SlaPolicy> {
    actor.require(Action::HelpdeskSettings)?;
    for (field, v) in [("firstResponseMinutes", p.first_response_minutes), ("resolutionMinutes", p.resolution_minutes)]
    {
        if !(1..=MAX_TARGET_MINUTES).contains(&v) {
            return Err(CoreError::validation(field, format!("must be 1-{MAX_TARGET_MINUTES} minutes")));
        }
    }
    if p.first_response_minutes > p.resolution_minutes {
        return Err(CoreError::validation("firstResponseMinutes", "must not be longer than the resolution target"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Some(plan) = p.plan_id {
        if plans::get(&mut tx, actor.tenant_id, plan).await.is_err() {
            return Err(CoreError::validation("planId", "no such plan"));
        }
    }
    let row = SlaPolicy {
        id: 0,
        tenant_id: actor.tenant_id,
        priority: p.priority,
        plan_id: p.plan_id,
        first_response_minutes: p.first_response_minutes,
        resolution_minutes: p.resolution_minutes,
        business_hours: i64::from(p.business_hours),
        raise_priority: i64::from(p.raise_priority),
        updated_at: now,
    };
    let saved = settings::set_policy(&mut tx, &row, now).await?;
    let details = json!({"priority": p.priority, "planId": p.plan_id, "firstResponseMinutes": p.first_response_minutes,
                         "resolutionMinutes": p.resolution_minutes, "businessHours": p.business_hours,
                         "raisePriority": p.raise_priority});
    Effects::new(ctx, actor, now).audit("sla_policy.set", "SlaPolicy", Some(saved.id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Removes the SLA policy of a priority (and plan); NOT_FOUND when there is none.
pub async fn remove_policy(ctx: &Ctx, actor: &Actor, priority: TicketPriority, plan_id: Option<i64>) -> CoreResult<()> {
    actor.require(Action::HelpdeskSettings)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if !settings::remove_policy(&mut tx, actor.tenant_id, priority, plan_id).await? {
        return Err(CoreError::NotFound("SLA policy"));
    }
    Effects::new(ctx, actor, now)
        .audit("sla_policy.remove", "SlaPolicy", None, json!({"priority": priority, "planId": plan_id}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the tenant's weekly business hours (Monday first, [start, end) minutes of the local
/// day) and its holidays (`YYYY-MM-DD`, name); applies to due times computed from now on.
pub async fn set_business_hours(
    ctx: &Ctx,
    actor: &Actor,
    week: &[Vec<(u32, u32)>; 7],
    holidays: &[(String, String)],
) -> CoreResult<()> {
    actor.require(Action::HelpdeskSettings)?;
    Schedule::check_week(week).map_err(|m| CoreError::validation("week", m))?;
    let mut days: Vec<(String, String)> = Vec::new();
    for (day, label) in holidays {
        validate::date(day).map_err(|m| CoreError::validation("holidays.date", m))?;
        let label = name("holidays.name", label)?;
        if days.iter().any(|(d, _)| d == day) {
            return Err(CoreError::validation("holidays.date", format!("{day} is given twice")));
        }
        days.push((day.clone(), label));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let json = week_json(week);
    settings::set_business_hours(&mut tx, actor.tenant_id, &json, now).await?;
    settings::set_holidays(&mut tx, actor.tenant_id, &days).await?;
    let details = json!({"week": week, "holidays": days.iter().map(|(d, _)| d).collect::<Vec<_>>()});
    Effects::new(ctx, actor, now)
        .audit("business_hours.set", "Tenant", Some(actor.tenant_id), details)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
