//! Helpdesk use cases: create a ticket, reply, note, record a customer's message, assign,
//! change status and priority, merge duplicates, assign in bulk; and the SLA sweep the
//! background loop runs (breach and at-risk flags, escalation once per ticket) and the
//! automatic tickets it raises. Every change is audited and published as a ticket event.

use crate::auth::{Action, Actor, Role};
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::helpdesk::{self, sla::Schedule};
use crate::notify;
use crate::patch::Patch;
use crate::store::helpdesk as settings;
use crate::store::jobs::{DeviceJob, DeviceJobPayload};
use crate::store::notifications::NotifyEvent;
use crate::store::tickets::{
    self, Message, MessageKind, Ticket, TicketChannel, TicketPriority, TicketStatus, NOTHING_DUE,
};
use crate::store::{auth_log, customers, devices, nas, subscriptions};
use crate::{validate, Ctx};
use serde_json::json;

/// Longest subject.
pub const MAX_SUBJECT: usize = 200;
/// Longest message.
pub const MAX_BODY: usize = 20_000;
/// Most tickets one bulk assignment or merge takes.
pub const MAX_BULK: usize = 100;

/// A new ticket as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    /// One line.
    pub subject: String,
    /// What the customer reported (recorded as the first message).
    pub body: Option<String>,
    /// The customer (taken from the subscription when only that is given).
    pub customer_id: Option<i64>,
    /// The subscription.
    pub subscription_id: Option<i64>,
    /// Category.
    pub category_id: Option<i64>,
    /// Priority (default NORMAL).
    pub priority: Option<TicketPriority>,
    /// Channel (default STAFF).
    pub channel: Option<TicketChannel>,
    /// Assignee.
    pub assignee_id: Option<i64>,
    /// Team.
    pub team_id: Option<i64>,
    /// Tags.
    pub tags: Vec<String>,
}

/// Tags as stored: trimmed, lower case, without commas, unique, at most 10 of 1-40 chars.
fn tags(list: &[String]) -> CoreResult<String> {
    let mut out: Vec<String> = Vec::new();
    for t in list {
        let t = t.trim().to_lowercase();
        if t.is_empty() || t.chars().count() > 40 || t.contains(',') {
            return Err(CoreError::validation("tags", "a tag is 1-40 characters without commas"));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.len() > 10 {
        return Err(CoreError::validation("tags", "at most 10 tags"));
    }
    Ok(out.join(","))
}

fn body(field: &str, b: &str) -> CoreResult<String> {
    let b = b.trim();
    if b.is_empty() || b.chars().count() > MAX_BODY {
        return Err(CoreError::validation(field, format!("must be 1-{MAX_BODY} characters")));
    }
    Ok(b.to_string())
}

/// Checks that `user` is an enabled staff user of the tenant who may work tickets.
async fn check_assignee(tx: &mut Tx, tenant_id: i64, user: i64) -> CoreResult<()> {
    match settings::staff(tx, tenant_id, user).await? {
        Some((role, 0)) if role.parse::<Role>().is_ok_and(|r| r.can(Action::TicketWrite)) => Ok(()),
        Some((_, 0)) => Err(CoreError::validation("assigneeId", "this staff user's role may not work tickets")),
        Some(_) => Err(CoreError::validation("assigneeId", "this staff user is disabled")),
        None => Err(CoreError::validation("assigneeId", "no such staff user")),
    }
}

async fn check_team(tx: &mut Tx, tenant_id: i64, team: i64) -> CoreResult<()> {
    match settings::find_team(&mut *tx, tenant_id, team).await? {
        Some(_) => Ok(()),
        None => Err(CoreError::validation("teamId", "no such team")),
    }
}

/// The plan of the ticket's subscription, which may have its own SLA policy.
async fn plan_of(tx: &mut Tx, t: &Ticket) -> CoreResult<Option<i64>> {
    match t.subscription_id {
        Some(s) => Ok(subscriptions::get(&mut *tx, t.tenant_id, s).await.ok().map(|s| s.plan_id)),
        None => Ok(None),
    }
}

/// A ticket of the actor's tenant, for changing: NOT_FOUND if it is not there, CONFLICT when
/// it was merged into another.
async fn open_ticket(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Ticket> {
    let t = tickets::get(&mut *tx, tenant_id, id).await?;
    if let Some(into) = t.merged_into_id {
        return Err(CoreError::conflict("id", format!("ticket {id} was merged into ticket {into}")));
    }
    Ok(t)
}

/// Writes `t` with its standing refreshed, plus the audit entry and the event.
async fn finish(
    ctx: &Ctx,
    actor: &Actor,
    tx: &mut Tx,
    mut t: Ticket,
    schedule: &Schedule,
    action: &str,
    details: serde_json::Value,
) -> CoreResult<Ticket> {
    let now = ctx.now_ms();
    helpdesk::refresh_standing(&mut t, schedule, now);
    let t = tickets::save(tx, &t, now).await?;
    Effects::new(ctx, actor, now)
        .audit(action, "Ticket", Some(t.id), details)
        .event(EventKind::TicketChanged, t.id)
        .write(tx)
        .await?;
    Ok(t)
}

/// Opens a ticket: due times from the SLA policy of its priority (and its subscription's
/// plan), counted from now on the policy's clock.
pub async fn create(ctx: &Ctx, actor: &Actor, n: &NewTicket) -> CoreResult<Ticket> {
    actor.require(Action::TicketWrite)?;
    create_as(ctx, actor, n, None).await?.ok_or_else(|| CoreError::internal("ticket not created"))
}

async fn create_as(ctx: &Ctx, actor: &Actor, n: &NewTicket, dedup: Option<&str>) -> CoreResult<Option<Ticket>> {
    let subject = n.subject.trim().to_string();
    validate::text(&subject, MAX_SUBJECT).map_err(|m| CoreError::validation("subject", m))?;
    let first = n.body.as_deref().map(|b| body("body", b)).transpose()?;
    let tags = tags(&n.tags)?;
    let now = ctx.now_ms();
    let t_id = actor.tenant_id;
    let mut tx = ctx.db.begin().await?;
    if let Some(key) = dedup {
        if tickets::by_dedup_key(&mut tx, t_id, key).await?.is_some() {
            return Ok(None);
        }
    }
    let mut customer_id = n.customer_id;
    if let Some(c) = customer_id {
        if customers::get(&mut tx, t_id, c).await.is_err() {
            return Err(CoreError::validation("customerId", "no such customer"));
        }
    }
    if let Some(s) = n.subscription_id {
        let sub = subscriptions::get(&mut tx, t_id, s)
            .await
            .map_err(|_| CoreError::validation("subscriptionId", "no such subscription"))?;
        match customer_id {
            Some(c) if c != sub.customer_id => {
                return Err(CoreError::validation("subscriptionId", "belongs to another customer"));
            }
            _ => customer_id = Some(sub.customer_id),
        }
    }
    if let Some(c) = n.category_id {
        if settings::find_category(&mut tx, t_id, c).await?.is_none() {
            return Err(CoreError::validation("categoryId", "no such category"));
        }
    }
    if let Some(u) = n.assignee_id {
        check_assignee(&mut tx, t_id, u).await?;
    }
    if let Some(team) = n.team_id {
        check_team(&mut tx, t_id, team).await?;
    }
    let mut t = Ticket {
        id: 0,
        tenant_id: t_id,
        customer_id,
        subscription_id: n.subscription_id,
        subject,
        category_id: n.category_id,
        priority: n.priority.unwrap_or(TicketPriority::Normal),
        status: if n.assignee_id.is_some() { TicketStatus::Open } else { TicketStatus::New },
        channel: n.channel.unwrap_or(TicketChannel::Staff),
        assignee_id: n.assignee_id,
        team_id: n.team_id,
        tags,
        sla_business_hours: 0,
        first_response_minutes: None,
        resolution_minutes: None,
        first_response_due: None,
        resolution_due: None,
        next_due_at: NOTHING_DUE,
        first_responded_at: None,
        resolved_at: None,
        paused_at: None,
        paused_ms: 0,
        at_risk: 0,
        breached: 0,
        escalated_at: None,
        merged_into_id: None,
        dedup_key: dedup.map(str::to_string),
        created_at: now,
        updated_at: now,
    };
    let schedule = helpdesk::schedule(&mut tx, t_id).await?;
    let plan = plan_of(&mut tx, &t).await?;
    let policy = settings::policy_for(&mut tx, t_id, t.priority, plan).await?;
    helpdesk::apply_policy(&mut t, policy.as_ref(), &schedule);
    let t = tickets::insert(&mut tx, &t, now).await?;
    // An automatic ticket (one with a cause key) is the system's diagnosis, not the customer's
    // words: its text is an internal note and the customer is not told.
    let automatic = dedup.is_some();
    if let Some(b) = first.as_deref() {
        // What was reported: the customer's words when there is a customer, else a note.
        let (kind, author) = match t.customer_id {
            Some(c) if !automatic => (MessageKind::CustomerMessage, (None, Some(c))),
            _ => (MessageKind::InternalNote, (Some(actor.user_id).filter(|u| *u != 0), None)),
        };
        tickets::insert_message(&mut tx, t_id, t.id, kind, author, b, now).await?;
    }
    let details = json!({"subject": t.subject, "priority": t.priority, "channel": t.channel,
                         "firstResponseDue": t.first_response_due, "resolutionDue": t.resolution_due,
                         "dedupKey": t.dedup_key});
    // The customer is told the ticket exists (and its number), with the ticket.
    if let Some(customer) = t.customer_id.filter(|_| !automatic) {
        let message = first.as_deref().unwrap_or_default();
        let vars = json!({"ticket": {"number": t.id, "subject": t.subject, "message": message}});
        let key = format!("ticket:{}:created", t.id);
        notify::queue(ctx, &mut tx, t_id, customer, NotifyEvent::TicketCreated, vars, &key, now).await?;
    }
    Effects::new(ctx, actor, now)
        .audit("ticket.create", "Ticket", Some(t.id), details)
        .event(EventKind::TicketChanged, t.id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Some(t))
}

/// Adds a message of `kind` to ticket `id`: a public reply is the first response when it is
/// the first (and opens a NEW ticket); a customer's message resumes a ticket that waited for
/// the customer and reopens a resolved one.
pub async fn add_message(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    kind: MessageKind,
    text: &str,
) -> CoreResult<(Ticket, Message)> {
    actor.require(Action::TicketWrite)?;
    let text = body("body", text)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut t = open_ticket(&mut tx, actor.tenant_id, id).await?;
    if t.status == TicketStatus::Closed {
        return Err(CoreError::conflict("status", "the ticket is closed"));
    }
    let schedule = helpdesk::schedule(&mut tx, actor.tenant_id).await?;
    let author = match kind {
        MessageKind::CustomerMessage => (None, t.customer_id),
        _ => (Some(actor.user_id).filter(|u| *u != 0), None),
    };
    let m = tickets::insert_message(&mut tx, actor.tenant_id, id, kind, author, &text, now).await?;
    let from = t.status;
    match kind {
        MessageKind::PublicReply => {
            helpdesk::first_response(&mut t, now);
            if t.status == TicketStatus::New {
                helpdesk::move_status(&mut t, TicketStatus::Open, now, &schedule);
            }
        }
        MessageKind::CustomerMessage if matches!(t.status, TicketStatus::PendingCustomer | TicketStatus::Resolved) => {
            helpdesk::move_status(&mut t, TicketStatus::Open, now, &schedule);
        }
        _ => {}
    }
    let action = match kind {
        MessageKind::PublicReply => "ticket.reply",
        MessageKind::InternalNote => "ticket.note",
        MessageKind::CustomerMessage => "ticket.customer_message",
    };
    let details = json!({"messageId": m.id, "status": {"from": from, "to": t.status}});
    // A public reply goes to the customer, committed with the reply (internal notes never).
    if let (MessageKind::PublicReply, Some(customer)) = (kind, t.customer_id) {
        let vars = json!({"ticket": {"number": t.id, "subject": t.subject, "message": text}});
        let key = format!("ticket:{}:reply:{}", t.id, m.id);
        notify::queue(ctx, &mut tx, actor.tenant_id, customer, NotifyEvent::TicketReplied, vars, &key, now).await?;
    }
    let t = finish(ctx, actor, &mut tx, t, &schedule, action, details).await?;
    tx.commit().await?;
    Ok((t, m))
}

/// Assigns ticket `id` to a staff user and/or a team (CLEAR unassigns).
pub async fn assign(ctx: &Ctx, actor: &Actor, id: i64, assignee: Patch<i64>, team: Patch<i64>) -> CoreResult<Ticket> {
    let mut out = bulk_assign(ctx, actor, &[id], assignee, team).await?;
    out.pop().ok_or_else(|| CoreError::internal("assign returned nothing"))
}

/// Assigns every ticket of `ids` alike, all or none.
pub async fn bulk_assign(
    ctx: &Ctx,
    actor: &Actor,
    ids: &[i64],
    assignee: Patch<i64>,
    team: Patch<i64>,
) -> CoreResult<Vec<Ticket>> {
    actor.require(Action::TicketWrite)?;
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(CoreError::validation("ids", format!("give 1-{MAX_BULK} tickets")));
    }
    if !assignee.is_changed() && !team.is_changed() {
        return Err(CoreError::validation("assigneeId", "give an assignee or a team"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    if let Patch::Set(u) = assignee {
        check_assignee(&mut tx, actor.tenant_id, u).await?;
    }
    if let Patch::Set(team) = team {
        check_team(&mut tx, actor.tenant_id, team).await?;
    }
    let schedule = helpdesk::schedule(&mut tx, actor.tenant_id).await?;
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let mut t = open_ticket(&mut tx, actor.tenant_id, id).await?;
        let before = (t.assignee_id, t.team_id);
        t.assignee_id = assignee.apply(t.assignee_id);
        t.team_id = team.apply(t.team_id);
        if t.status == TicketStatus::New && t.assignee_id.is_some() {
            helpdesk::move_status(&mut t, TicketStatus::Open, now, &schedule);
        }
        let details = json!({"assigneeId": {"from": before.0, "to": t.assignee_id},
                             "teamId": {"from": before.1, "to": t.team_id}});
        out.push(finish(ctx, actor, &mut tx, t, &schedule, "ticket.assign", details).await?);
    }
    tx.commit().await?;
    Ok(out)
}

/// Moves ticket `id` to `status` (CONFLICT for a move the lifecycle forbids).
pub async fn set_status(ctx: &Ctx, actor: &Actor, id: i64, status: TicketStatus) -> CoreResult<Ticket> {
    actor.require(Action::TicketWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let mut t = open_ticket(&mut tx, actor.tenant_id, id).await?;
    let from = t.status;
    if !from.can_become(status) {
        return Err(CoreError::conflict("status", format!("a {from} ticket cannot become {status}")));
    }
    let schedule = helpdesk::schedule(&mut tx, actor.tenant_id).await?;
    helpdesk::move_status(&mut t, status, now, &schedule);
    let details = json!({"from": from, "to": status, "resolutionDue": t.resolution_due});
    let t = finish(ctx, actor, &mut tx, t, &schedule, "ticket.status", details).await?;
    tx.commit().await?;
    Ok(t)
}

/// Changes ticket `id`'s priority; its due times follow the new priority's policy, counted
/// from its creation.
pub async fn set_priority(ctx: &Ctx, actor: &Actor, id: i64, priority: TicketPriority) -> CoreResult<Ticket> {
    actor.require(Action::TicketWrite)?;
    let mut tx = ctx.db.begin().await?;
    let mut t = open_ticket(&mut tx, actor.tenant_id, id).await?;
    let from = t.priority;
    t.priority = priority;
    let schedule = helpdesk::schedule(&mut tx, actor.tenant_id).await?;
    if !t.status.is_done() {
        let plan = plan_of(&mut tx, &t).await?;
        let policy = settings::policy_for(&mut tx, actor.tenant_id, priority, plan).await?;
        helpdesk::apply_policy(&mut t, policy.as_ref(), &schedule);
        if t.paused_at.is_some() {
            t.refresh_next_due();
        }
    }
    let details = json!({"from": from, "to": priority, "firstResponseDue": t.first_response_due,
                         "resolutionDue": t.resolution_due});
    let t = finish(ctx, actor, &mut tx, t, &schedule, "ticket.priority", details).await?;
    tx.commit().await?;
    Ok(t)
}

/// Merges the duplicates `sources` into ticket `target`: their messages move to it, each is
/// closed and points at it, and the target gets a note naming them.
pub async fn merge(ctx: &Ctx, actor: &Actor, target: i64, sources: &[i64]) -> CoreResult<Ticket> {
    actor.require(Action::TicketWrite)?;
    if sources.is_empty() || sources.len() > MAX_BULK {
        return Err(CoreError::validation("sourceIds", format!("give 1-{MAX_BULK} tickets")));
    }
    if sources.contains(&target) {
        return Err(CoreError::validation("sourceIds", "a ticket cannot be merged into itself"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let into = open_ticket(&mut tx, actor.tenant_id, target).await?;
    if into.status == TicketStatus::Closed {
        return Err(CoreError::conflict("targetId", "the target ticket is closed"));
    }
    let schedule = helpdesk::schedule(&mut tx, actor.tenant_id).await?;
    let mut names = Vec::new();
    for &id in sources {
        let mut s = open_ticket(&mut tx, actor.tenant_id, id).await.map_err(|e| {
            if matches!(e, CoreError::NotFound(_)) {
                CoreError::validation("sourceIds", "no such ticket")
            } else {
                e
            }
        })?;
        if s.customer_id.is_some() && into.customer_id.is_some() && s.customer_id != into.customer_id {
            return Err(CoreError::validation("sourceIds", format!("ticket {id} is another customer's")));
        }
        let moved = tickets::move_messages(&mut tx, actor.tenant_id, id, target).await?;
        if s.status != TicketStatus::Closed {
            helpdesk::move_status(&mut s, TicketStatus::Closed, now, &schedule);
        }
        s.merged_into_id = Some(target);
        s.dedup_key = None;
        let details = json!({"into": target, "messagesMoved": moved});
        finish(ctx, actor, &mut tx, s, &schedule, "ticket.merged", details).await?;
        names.push(format!("#{id}"));
    }
    let note = format!("Merged {} into this ticket.", names.join(", "));
    let author = Some(actor.user_id).filter(|u| *u != 0);
    tickets::insert_message(&mut tx, actor.tenant_id, target, MessageKind::InternalNote, (author, None), &note, now)
        .await?;
    let into = tickets::get(&mut tx, actor.tenant_id, target).await?;
    let t = finish(ctx, actor, &mut tx, into, &schedule, "ticket.merge", json!({"sources": sources})).await?;
    tx.commit().await?;
    Ok(t)
}

/// What one SLA sweep of a tenant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepOutcome {
    /// Open tickets looked at.
    pub checked: usize,
    /// Tickets whose flags changed.
    pub changed: usize,
    /// Tickets that breached in this sweep.
    pub breached: usize,
    /// Tickets escalated in this sweep.
    pub escalated: usize,
}

/// The SLA sweep of tenant `tenant_id` at the injected clock's now: refreshes the breached
/// and at-risk flags of its open tickets and escalates each breached ticket once (an
/// escalation row naming its assignee and team lead, an audit entry, an event; the policy
/// may raise its priority). Safe to run in several processes: the escalation row is unique
/// per ticket and each ticket is re-read in its own transaction.
pub async fn sweep(ctx: &Ctx, tenant_id: i64) -> CoreResult<SweepOutcome> {
    let actor = Actor::system(tenant_id, "helpdesk-sla");
    let mut out = SweepOutcome::default();
    let now = ctx.now_ms();
    let schedule = {
        let mut tx = ctx.db.begin().await?;
        helpdesk::schedule(&mut tx, tenant_id).await?
    };
    for listed in tickets::open(&ctx.db, tenant_id).await? {
        out.checked += 1;
        let mut probe = listed.clone();
        helpdesk::refresh_standing(&mut probe, &schedule, now);
        let escalate = probe.breached == 1 && probe.escalated_at.is_none();
        if probe.breached == listed.breached && probe.at_risk == listed.at_risk && !escalate {
            continue;
        }
        let mut tx = ctx.db.begin().await?;
        let mut t = tickets::get(&mut tx, tenant_id, listed.id).await?;
        if t.status.is_done() || t.merged_into_id.is_some() {
            continue;
        }
        let newly = helpdesk::refresh_standing(&mut t, &schedule, now);
        out.breached += usize::from(newly);
        let mut effects = Effects::new(ctx, &actor, now).event(EventKind::TicketChanged, t.id);
        if t.breached == 1 && t.escalated_at.is_none() {
            let reason = if t.first_responded_at.is_none() && t.first_response_due.is_some_and(|d| now > d) {
                "FIRST_RESPONSE_BREACHED"
            } else {
                "RESOLUTION_BREACHED"
            };
            let lead = match t.team_id {
                Some(team) => settings::find_team(&mut tx, tenant_id, team).await?.and_then(|t| t.lead_user_id),
                None => None,
            };
            let mut notify: Vec<i64> = t.assignee_id.into_iter().chain(lead).collect();
            notify.dedup();
            if settings::insert_escalation(&mut tx, tenant_id, t.id, reason, &notify, now).await? {
                t.escalated_at = Some(now);
                let from = t.priority;
                let plan = plan_of(&mut tx, &t).await?;
                let policy = settings::policy_for(&mut tx, tenant_id, t.priority, plan).await?;
                if policy.is_some_and(|p| p.raise_priority != 0) {
                    t.priority = t.priority.raised();
                }
                out.escalated += 1;
                effects = effects
                    .audit(
                        "ticket.escalate",
                        "Ticket",
                        Some(t.id),
                        json!({"reason": reason, "notifyUserIds": notify, "priority": {"from": from, "to": t.priority}}),
                    )
                    .event(EventKind::TicketEscalated, t.id);
            }
        }
        if newly {
            effects = effects.audit(
                "ticket.breach",
                "Ticket",
                Some(t.id),
                json!({"firstResponseDue": t.first_response_due, "resolutionDue": t.resolution_due}),
            );
        }
        tickets::save(&mut tx, &t, now).await?;
        effects.write(&mut tx).await?;
        tx.commit().await?;
        out.changed += 1;
    }
    Ok(out)
}

/// Raises an automatic ticket for `key` (`device:12`, `auth:34`) unless one is open for it;
/// the new ticket, or none.
pub async fn raise_automatic(ctx: &Ctx, tenant_id: i64, key: &str, n: &NewTicket) -> CoreResult<Option<Ticket>> {
    let actor = Actor::system(tenant_id, "helpdesk-auto");
    match create_as(ctx, &actor, n, Some(key)).await {
        // Another process raised it at the same moment.
        Err(CoreError::Conflict { field, .. }) if field == "dedupKey" => Ok(None),
        r => r,
    }
}

/// Raises the automatic ticket for a dead-lettered device job: one open ticket per device (or
/// per NAS, for RADIUS jobs), HIGH, channel API, tagged `automatic`; none when one is open.
/// Called by the device-job worker right after it dead-letters `job`.
pub async fn device_job_dead(ctx: &Ctx, job: &DeviceJob, error: &str) -> CoreResult<Option<Ticket>> {
    let (key, what) = match (job.device_id, job.nas_id) {
        (Some(d), _) => {
            let name = devices::get(&ctx.db, job.tenant_id, d).await.map_or_else(|_| format!("#{d}"), |x| x.name);
            (format!("device:{d}"), format!("device {name}"))
        }
        (None, Some(n)) => {
            let name = nas::find(&ctx.db, job.tenant_id, n).await?.map_or_else(|| format!("#{n}"), |x| x.name);
            (format!("nas:{n}"), format!("NAS {name}"))
        }
        (None, None) => return Ok(None),
    };
    let subscription_id = serde_json::from_str::<DeviceJobPayload>(&job.payload).ok().map(|p| p.subscription_id);
    let n = NewTicket {
        subject: format!("Changes to {what} are failing"),
        body: Some(format!(
            "Job #{} ({}) was given up after {} attempts: {error}. Jobs for it go to the dead letters \
             until it answers; retry them with retryDeviceJob.",
            job.id, job.kind, job.attempts
        )),
        subscription_id,
        priority: Some(TicketPriority::High),
        channel: Some(TicketChannel::Api),
        tags: vec!["automatic".into(), "device".into()],
        ..Default::default()
    };
    let n = match subscription_id {
        // The subscription may be gone; the ticket is about the device either way.
        Some(s) if subscriptions::get(&ctx.db, job.tenant_id, s).await.is_err() => {
            NewTicket { subscription_id: None, ..n }
        }
        _ => n,
    };
    raise_automatic(ctx, job.tenant_id, &key, &n).await
}

/// The tag of the tickets [`login_failures`] raises.
pub const LOGIN_FAILURE_TAG: &str = "login-failures";

/// Raises an automatic ticket for each subscription of the tenant whose logins keep failing:
/// at least `helpdesk.login_failures` actionable rejects (bad or missing password, no usable
/// method; not suspensions or exhausted quotas) within `helpdesk.login_failure_window_minutes`
/// and no accepted login since. One open ticket per subscription (cause key `auth:<id>`);
/// after one is resolved, only rejects that came later count towards a new one. NORMAL
/// priority, channel API, tags `automatic` and `login-failures`, linked to the subscription
/// and its customer (who is not messaged). Returns the tickets raised.
pub async fn login_failures(ctx: &Ctx, tenant_id: i64) -> CoreResult<Vec<Ticket>> {
    let cfg = &ctx.config.helpdesk;
    if !cfg.login_failure_tickets {
        return Ok(Vec::new());
    }
    let now = ctx.now_ms();
    let since = now - cfg.login_failure_window_minutes * 60_000;
    let mut raised = Vec::new();
    for f in auth_log::failing(&ctx.db, tenant_id, since, cfg.login_failures).await? {
        let key = format!("auth:{}", f.subscription_id);
        let Ok(sub) = subscriptions::get(&ctx.db, tenant_id, f.subscription_id).await else { continue };
        // Recovered: the latest attempt got in.
        let Some(last) = auth_log::latest(&ctx.db, tenant_id, &sub.username).await? else { continue };
        if last.result == "ACCEPT" {
            continue;
        }
        // Already handled: count only what failed after the last such ticket was resolved.
        let failures = match tickets::last_closed_with_tag(&ctx.db, tenant_id, sub.id, LOGIN_FAILURE_TAG).await? {
            Some(closed) if closed >= f.first_at => {
                let later = auth_log::failing(&ctx.db, tenant_id, closed + 1, cfg.login_failures).await?;
                match later.into_iter().find(|l| l.subscription_id == sub.id) {
                    Some(l) => l.failures,
                    None => continue,
                }
            }
            _ => f.failures,
        };
        let mac = last.calling_station_id.as_deref().map(|m| format!(" from {m}")).unwrap_or_default();
        let n = NewTicket {
            subject: format!("Subscriber {} keeps failing to log in", sub.username),
            body: Some(format!(
                "{failures} logins of {} were rejected in the last {} minutes (latest: {}{mac}, {}). Check the \
                 password set on the router against the subscription's, or the router's authentication method.",
                sub.username, cfg.login_failure_window_minutes, last.reason, last.method
            )),
            subscription_id: Some(sub.id),
            priority: Some(TicketPriority::Normal),
            channel: Some(TicketChannel::Api),
            tags: vec!["automatic".into(), LOGIN_FAILURE_TAG.into()],
            ..Default::default()
        };
        if let Some(t) = raise_automatic(ctx, tenant_id, &key, &n).await? {
            raised.push(t);
        }
    }
    Ok(raised)
}
