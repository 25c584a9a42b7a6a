//! The helpdesk's settings per tenant: ticket categories, teams (queues) with their lead,
//! SLA policies, business hours and holidays; and the escalations the SLA sweep recorded.

use super::tickets::TicketPriority;
use crate::db::{query, query_as, Db, Executor, FromRow, Tx};
use crate::error::{CoreError, CoreResult};

/// The categories a new tenant starts with.
pub const DEFAULT_CATEGORIES: [&str; 5] = ["billing", "no connection", "slow speed", "installation", "other"];

/// A ticket category.
#[derive(Debug, Clone, FromRow)]
pub struct Category {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Name, unique in the tenant.
    pub name: String,
    /// Created, Unix ms.
    pub created_at: i64,
}

/// Adds a category; CONFLICT on `name` when the tenant has it already.
pub async fn insert_category(tx: &mut Tx, tenant_id: i64, name: &str, now: i64) -> CoreResult<Category> {
    query_as::<Category>(
        "INSERT INTO ticket_categories (tenant_id, name, created_at) VALUES ($1, $2, $3) \
         RETURNING id, tenant_id, name, created_at",
    )
    .bind(tenant_id)
    .bind(name)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Gives tenant `tenant_id` the [`DEFAULT_CATEGORIES`].
pub async fn insert_default_categories(tx: &mut Tx, tenant_id: i64, now: i64) -> CoreResult<()> {
    for name in DEFAULT_CATEGORIES {
        insert_category(&mut *tx, tenant_id, name, now).await?;
    }
    Ok(())
}

/// A staff user's role and whether it is disabled, if the user is the tenant's.
pub async fn staff(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Option<(String, i64)>> {
    query_as("SELECT role, disabled FROM users WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(tx)
        .await
}

/// Renames category `id`.
pub async fn rename_category(tx: &mut Tx, tenant_id: i64, id: i64, name: &str) -> CoreResult<Category> {
    query_as::<Category>(
        "UPDATE ticket_categories SET name = $1 WHERE tenant_id = $2 AND id = $3 RETURNING id, tenant_id, name, created_at",
    )
    .bind(name)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("ticket category"))
}

/// The tenant's categories by name.
pub async fn categories(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<Category>> {
    query_as::<Category>(
        "SELECT id, tenant_id, name, created_at FROM ticket_categories WHERE tenant_id = $1 ORDER BY name, id",
    )
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}

/// Categories with the given ids in `tenant_id`.
pub async fn categories_by_id(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Category>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    super::by_ids("id, tenant_id, name, created_at", "ticket_categories", tenant_id, ids).fetch_all(db).await
}

/// A team (queue) of staff with a lead.
#[derive(Debug, Clone, FromRow)]
pub struct Team {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Name, unique in the tenant.
    pub name: String,
    /// Staff user who leads it (told of escalations).
    pub lead_user_id: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
}

const TEAM_COLS: &str = "id, tenant_id, name, lead_user_id, created_at";

/// Adds a team; CONFLICT on `name` when the tenant has it already.
pub async fn insert_team(tx: &mut Tx, tenant_id: i64, name: &str, lead: Option<i64>, now: i64) -> CoreResult<Team> {
    query_as::<Team>(&format!(
        "INSERT INTO ticket_teams (tenant_id, name, lead_user_id, created_at) VALUES ($1, $2, $3, $4) RETURNING {TEAM_COLS}"
    ))
    .bind(tenant_id)
    .bind(name)
    .bind(lead)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Changes team `id`.
pub async fn update_team(tx: &mut Tx, tenant_id: i64, id: i64, name: &str, lead: Option<i64>) -> CoreResult<Team> {
    query_as::<Team>(&format!(
        "UPDATE ticket_teams SET name = $1, lead_user_id = $2 WHERE tenant_id = $3 AND id = $4 RETURNING {TEAM_COLS}"
    ))
    .bind(name)
    .bind(lead)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("team"))
}

/// Team `id` of `tenant_id`, if any.
pub async fn find_team(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Team>> {
    query_as::<Team>(&format!("SELECT {TEAM_COLS} FROM ticket_teams WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// Category `id` of `tenant_id`, if any.
pub async fn find_category(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Category>> {
    query_as::<Category>(
        "SELECT id, tenant_id, name, created_at FROM ticket_categories WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The tenant's teams by name.
pub async fn teams(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<Team>> {
    query_as::<Team>(&format!("SELECT {TEAM_COLS} FROM ticket_teams WHERE tenant_id = $1 ORDER BY name, id"))
        .bind(tenant_id)
        .fetch_all(ex)
        .await
}

/// Teams with the given ids in `tenant_id`.
pub async fn teams_by_id(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Team>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    super::by_ids(TEAM_COLS, "ticket_teams", tenant_id, ids).fetch_all(db).await
}

/// SLA targets for a priority (and optionally a plan).
#[derive(Debug, Clone, FromRow)]
pub struct SlaPolicy {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The priority it applies to.
    pub priority: TicketPriority,
    /// Only tickets of this plan's subscriptions (none: every ticket of the priority).
    pub plan_id: Option<i64>,
    /// Minutes to the first public reply.
    pub first_response_minutes: i64,
    /// Minutes to resolution.
    pub resolution_minutes: i64,
    /// 1: minutes of business hours; 0: calendar minutes.
    pub business_hours: i64,
    /// 1: an escalation also raises the ticket's priority one step.
    pub raise_priority: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

const POLICY_COLS: &str =
    "id, tenant_id, priority, plan_id, first_response_minutes, resolution_minutes, business_hours, \
    raise_priority, updated_at";

/// Replaces the policy of (`priority`, `plan_id`) with `p`.
pub async fn set_policy(tx: &mut Tx, p: &SlaPolicy, now: i64) -> CoreResult<SlaPolicy> {
    remove_policy(tx, p.tenant_id, p.priority, p.plan_id).await?;
    query_as::<SlaPolicy>(&format!(
        "INSERT INTO sla_policies (tenant_id, priority, plan_id, first_response_minutes, resolution_minutes, business_hours, \
         raise_priority, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {POLICY_COLS}"
    ))
    .bind(p.tenant_id)
    .bind(p.priority)
    .bind(p.plan_id)
    .bind(p.first_response_minutes)
    .bind(p.resolution_minutes)
    .bind(p.business_hours)
    .bind(p.raise_priority)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Removes the policy of (`priority`, `plan_id`); whether there was one.
pub async fn remove_policy(
    tx: &mut Tx,
    tenant_id: i64,
    priority: TicketPriority,
    plan_id: Option<i64>,
) -> CoreResult<bool> {
    let n = query("DELETE FROM sla_policies WHERE tenant_id = $1 AND priority = $2 AND COALESCE(plan_id, 0) = $3")
        .bind(tenant_id)
        .bind(priority)
        .bind(plan_id.unwrap_or(0))
        .execute(tx)
        .await?;
    Ok(n > 0)
}

/// The tenant's policies by priority, the one without a plan first.
pub async fn policies(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<SlaPolicy>> {
    query_as::<SlaPolicy>(&format!(
        "SELECT {POLICY_COLS} FROM sla_policies WHERE tenant_id = $1 ORDER BY priority, COALESCE(plan_id, 0), id"
    ))
    .bind(tenant_id)
    .fetch_all(ex)
    .await
}

/// The policy for a ticket of `priority` whose subscription has plan `plan_id`: the plan's own
/// policy if there is one, else the priority's.
pub async fn policy_for(
    tx: &mut Tx,
    tenant_id: i64,
    priority: TicketPriority,
    plan_id: Option<i64>,
) -> CoreResult<Option<SlaPolicy>> {
    let rows = query_as::<SlaPolicy>(&format!(
        "SELECT {POLICY_COLS} FROM sla_policies WHERE tenant_id = $1 AND priority = $2 \
         AND (plan_id IS NULL OR plan_id = $3) ORDER BY COALESCE(plan_id, 0) DESC LIMIT 1"
    ))
    .bind(tenant_id)
    .bind(priority)
    .bind(plan_id.unwrap_or(0))
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().next())
}

/// The tenant's weekly schedule as stored (JSON), if it set one.
pub async fn business_hours(ex: impl Executor, tenant_id: i64) -> CoreResult<Option<String>> {
    let row: Option<(String,)> =
        query_as("SELECT schedule FROM business_hours WHERE tenant_id = $1").bind(tenant_id).fetch_optional(ex).await?;
    Ok(row.map(|r| r.0))
}

/// Stores the tenant's weekly schedule (JSON).
pub async fn set_business_hours(tx: &mut Tx, tenant_id: i64, schedule: &str, now: i64) -> CoreResult<()> {
    query("DELETE FROM business_hours WHERE tenant_id = $1").bind(tenant_id).execute(&mut *tx).await?;
    query("INSERT INTO business_hours (tenant_id, schedule, updated_at) VALUES ($1, $2, $3)")
        .bind(tenant_id)
        .bind(schedule)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(())
}

/// A holiday: a local date without working time.
#[derive(Debug, Clone, FromRow)]
pub struct Holiday {
    /// Tenant.
    pub tenant_id: i64,
    /// Local date, `YYYY-MM-DD`.
    pub day: String,
    /// What it is.
    pub name: String,
}

/// The tenant's holidays by date.
pub async fn holidays(ex: impl Executor, tenant_id: i64) -> CoreResult<Vec<Holiday>> {
    query_as::<Holiday>("SELECT tenant_id, day, name FROM business_holidays WHERE tenant_id = $1 ORDER BY day")
        .bind(tenant_id)
        .fetch_all(ex)
        .await
}

/// Replaces the tenant's holidays.
pub async fn set_holidays(tx: &mut Tx, tenant_id: i64, days: &[(String, String)]) -> CoreResult<()> {
    query("DELETE FROM business_holidays WHERE tenant_id = $1").bind(tenant_id).execute(&mut *tx).await?;
    for (day, name) in days {
        query("INSERT INTO business_holidays (tenant_id, day, name) VALUES ($1, $2, $3)")
            .bind(tenant_id)
            .bind(day.as_str())
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Records the escalation of ticket `ticket_id`; false when it was escalated before (the
/// unique key keeps it to once per ticket).
pub async fn insert_escalation(
    tx: &mut Tx,
    tenant_id: i64,
    ticket_id: i64,
    reason: &str,
    notify: &[i64],
    now: i64,
) -> CoreResult<bool> {
    let ids: Vec<String> = notify.iter().map(i64::to_string).collect();
    let n = query(
        "INSERT INTO ticket_escalations (tenant_id, ticket_id, reason, notify_user_ids, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) DO NOTHING",
    )
    .bind(tenant_id)
    .bind(ticket_id)
    .bind(reason)
    .bind(ids.join(","))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(n == 1)
}

/// An escalation as recorded: the ticket, why, and who is to be told.
#[derive(Debug, Clone, FromRow)]
pub struct Escalation {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// The ticket.
    pub ticket_id: i64,
    /// Why (`FIRST_RESPONSE_BREACHED`, `RESOLUTION_BREACHED`).
    pub reason: String,
    /// Staff user ids to notify, comma-separated (assignee, team lead).
    pub notify_user_ids: String,
    /// When, Unix ms.
    pub created_at: i64,
}

/// The escalations of ticket `ticket_id`.
pub async fn escalations(ex: impl Executor, tenant_id: i64, ticket_id: i64) -> CoreResult<Vec<Escalation>> {
    query_as::<Escalation>(
        "SELECT id, tenant_id, ticket_id, reason, notify_user_ids, created_at FROM ticket_escalations \
         WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY id",
    )
    .bind(tenant_id)
    .bind(ticket_id)
    .fetch_all(ex)
    .await
}
