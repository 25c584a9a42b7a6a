//! Subscription lifecycle: create, edit (with a prorated plan change), plan change from a
//! date, status changes with their network jobs, cancellation with its final adjustment.

use crate::auth::{Action, Actor};
use crate::billing::charges::{self, Charge};
use crate::billing::{self, fmt_date, lock_customer, parse_date};
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::events::EventKind;
use crate::netjobs;
use crate::notify;
use crate::patch::Patch;
use crate::store::audit::set_fields;
use crate::store::customers::{self, CustomerStatus};
use crate::store::notifications::NotifyEvent;
use crate::store::plans::{self, Plan};
use crate::store::subscription_history;
use crate::store::subscriptions::{
    self, AccessType, Subscription, SubscriptionFields, SubscriptionStatus, PASSWORD_CONTEXT,
};
use crate::store::{devices, tenants};
use crate::{validate, Ctx};
use serde_json::json;

/// Subscription fields as a client sends them. On update `None` / [`Patch::Unchanged`] leave
/// a field alone and [`Patch::Clear`] clears it; on create `customer_id`, `plan_id`, `access_type`, `username`
/// are required.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionPatch {
    /// Customer (create only).
    pub customer_id: Option<i64>,
    /// Plan.
    pub plan_id: Option<i64>,
    /// Access type.
    pub access_type: Option<AccessType>,
    /// Login.
    pub username: Option<String>,
    /// New password (write-only).
    pub password: Patch<String>,
    /// Fixed IPv4.
    pub static_ipv4: Patch<String>,
    /// MAC binding.
    pub mac_address: Patch<String>,
    /// ONU serial.
    pub onu_serial: Patch<String>,
    /// OLT port.
    pub olt_port: Patch<String>,
    /// Start date (create only; default today).
    pub start_date: Option<String>,
    /// Initial status (create only): PENDING (default) or ACTIVE.
    pub status: Option<SubscriptionStatus>,
    /// Sessions RADIUS allows at once (default 1).
    pub simultaneous_use: Option<i64>,
    /// Serving device: an OLT for GPON, a MikroTik otherwise.
    pub device_id: Patch<i64>,
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn pick(new: &Patch<String>, old: Option<String>) -> Option<String> {
    match new {
        Patch::Unchanged => old,
        Patch::Clear => None,
        Patch::Set(v) => trimmed(Some(v.clone())),
    }
}

async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    p: &SubscriptionPatch,
    cur: Option<&Subscription>,
) -> CoreResult<SubscriptionFields> {
    let f = check_fields(p, cur, &|pw| ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, pw))?;
    if let Some(d) = f.device_id {
        check_device(tx, tenant_id, d, f.access_type).await?;
    }
    // The plan must exist in this tenant, be sellable, and allow the access type.
    if p.plan_id.is_some() || p.access_type.is_some() {
        let plan = match plans::get(&mut *tx, tenant_id, f.plan_id).await {
            Err(CoreError::NotFound(_)) => return Err(CoreError::validation("planId", "no such plan")),
            other => other?,
        };
        check_plan(&plan, f.access_type, p.plan_id.is_some() && cur.map(|c| c.plan_id) != Some(plan.id))?;
    }
    Ok(f)
}

/// The plan rules of a subscription: a newly chosen plan must not be archived, and the plan
/// must allow the access type. Shared with the bulk import, which looks plans up once.
pub fn check_plan(plan: &Plan, access_type: AccessType, newly_chosen: bool) -> CoreResult<()> {
    if plan.active == 0 && newly_chosen {
        return Err(CoreError::validation("planId", "plan is archived"));
    }
    if !plan.access_types.split(',').any(|a| a == access_type.as_str()) {
        return Err(CoreError::validation("accessType", format!("plan does not allow {access_type}")));
    }
    Ok(())
}

/// The checks of a new subscription's status and start date (`createSubscription` and the
/// bulk import): the status PENDING (default) or ACTIVE, the start date a date if given.
pub fn check_new(p: &SubscriptionPatch) -> CoreResult<SubscriptionStatus> {
    let status = p.status.unwrap_or(SubscriptionStatus::Pending);
    if !matches!(status, SubscriptionStatus::Pending | SubscriptionStatus::Active) {
        return Err(CoreError::validation("status", "a new subscription is PENDING or ACTIVE"));
    }
    if let Some(d) = &p.start_date {
        validate::date(d).map_err(|m| CoreError::validation("startDate", m))?;
    }
    Ok(status)
}

/// The stored fields of `p` applied to `cur` (or to nothing, for a create), with every check
/// that needs no database: login, password (encrypted by `encrypt`), static IP, MAC, ONU,
/// OLT port, simultaneous use and what the access type needs. `createSubscription`,
/// `updateSubscription` and the bulk import all validate through here.
pub fn check_fields(
    p: &SubscriptionPatch,
    cur: Option<&Subscription>,
    encrypt: &dyn Fn(&str) -> String,
) -> CoreResult<SubscriptionFields> {
    let plan_id = p.plan_id.or(cur.map(|c| c.plan_id)).ok_or_else(|| CoreError::validation("planId", "is required"))?;
    let access_type = p
        .access_type
        .or(cur.map(|c| c.access_type))
        .ok_or_else(|| CoreError::validation("accessType", "is required"))?;
    let username = p
        .username
        .clone()
        .map(|u| u.trim().to_string())
        .or(cur.map(|c| c.username.clone()))
        .ok_or_else(|| CoreError::validation("username", "is required"))?;
    validate::login(&username).map_err(|m| CoreError::validation("username", m))?;
    let password_enc = match &p.password {
        Patch::Set(pw) => {
            validate::access_password(pw).map_err(|m| CoreError::validation("password", m))?;
            Some(encrypt(pw))
        }
        Patch::Clear => None,
        Patch::Unchanged => cur.and_then(|c| c.password_enc.clone()),
    };
    let static_ipv4 = pick(&p.static_ipv4, cur.and_then(|c| c.static_ipv4.clone()));
    if let Some(ip) = &static_ipv4 {
        validate::ipv4(ip).map_err(|m| CoreError::validation("staticIpv4", m))?;
    }
    let mac_address = match pick(&p.mac_address, cur.and_then(|c| c.mac_address.clone())) {
        Some(m) => Some(validate::normalize_mac(&m).map_err(|m| CoreError::validation("macAddress", m))?),
        None => None,
    };
    let onu_serial = pick(&p.onu_serial, cur.and_then(|c| c.onu_serial.clone())).map(|s| s.to_ascii_uppercase());
    if let Some(s) = &onu_serial {
        if !(8..=16).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CoreError::validation("onuSerial", "must be 8-16 letters and digits (e.g. HWTC1A2B3C4D)"));
        }
    }
    let simultaneous_use = p.simultaneous_use.or(cur.map(|c| c.simultaneous_use)).unwrap_or(1);
    if !(1..=100).contains(&simultaneous_use) {
        return Err(CoreError::validation("simultaneousUse", "must be between 1 and 100"));
    }
    let olt_port = pick(&p.olt_port, cur.and_then(|c| c.olt_port.clone()));
    if let Some(port) = &olt_port {
        let parts: Vec<&str> = port.split('/').collect();
        if parts.len() != 3 || !parts.iter().all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())) {
            return Err(CoreError::validation("oltPort", "must be frame/slot/port such as 0/1/3"));
        }
    }
    // What each access type needs to work on the network.
    match access_type {
        AccessType::Pppoe | AccessType::Hotspot if password_enc.is_none() => {
            return Err(CoreError::validation("password", format!("is required for {access_type}")));
        }
        AccessType::StaticIp if static_ipv4.is_none() => {
            return Err(CoreError::validation("staticIpv4", "is required for STATIC_IP"));
        }
        AccessType::Gpon if onu_serial.is_none() || olt_port.is_none() => {
            let field = if onu_serial.is_none() { "onuSerial" } else { "oltPort" };
            return Err(CoreError::validation(field, "is required for GPON"));
        }
        _ => {}
    }
    let device_id = p.device_id.apply(cur.and_then(|c| c.device_id));
    Ok(SubscriptionFields {
        plan_id,
        access_type,
        username,
        password_enc,
        static_ipv4,
        mac_address,
        onu_serial,
        olt_port,
        simultaneous_use,
        device_id,
    })
}

/// The serving device must be in the tenant and fit the access type: an OLT for GPON, a
/// MikroTik router otherwise.
async fn check_device(tx: &mut Tx, tenant_id: i64, id: i64, access_type: AccessType) -> CoreResult<()> {
    let device = devices::find_in(tx, tenant_id, id)
        .await?
        .ok_or_else(|| CoreError::validation("deviceId", "no such device"))?;
    let want_olt = access_type == AccessType::Gpon;
    if device.kind.is_olt() != want_olt {
        let want = if want_olt { "an OLT" } else { "a MikroTik router" };
        return Err(CoreError::validation("deviceId", format!("{access_type} needs {want}, not a {}", device.kind)));
    }
    Ok(())
}

/// Creates a subscription (PENDING unless ACTIVE is asked for).
pub async fn create(ctx: &Ctx, actor: &Actor, p: &SubscriptionPatch) -> CoreResult<Subscription> {
    actor.require(Action::SubscriptionWrite)?;
    let customer_id = p.customer_id.ok_or_else(|| CoreError::validation("customerId", "is required"))?;
    let status = check_new(p)?;
    let now = ctx.now_ms();
    let start_date = match &p.start_date {
        Some(d) => d.clone(),
        // Today on the tenant's calendar, which its billing and quota periods run on.
        None => fmt_date(billing::tenant_today(ctx, actor.tenant_id).await?),
    };
    let mut tx = ctx.db.begin().await?;
    let customer = match customers::get(&mut tx, actor.tenant_id, customer_id).await {
        Err(CoreError::NotFound(_)) => return Err(CoreError::validation("customerId", "no such customer")),
        other => other?,
    };
    if customer.status == CustomerStatus::Archived {
        return Err(CoreError::validation("customerId", "customer is archived"));
    }
    let f = resolve(ctx, &mut tx, actor.tenant_id, p, None).await?;
    let s = subscriptions::insert(&mut tx, actor.tenant_id, customer_id, &f, status, &start_date, now).await?;
    let today = fmt_date(billing::tenant_today_in(ctx, &mut tx, actor.tenant_id).await?);
    subscription_history::record(&mut tx, actor.tenant_id, s.id, &today, now).await?;
    let details = json!({"customerId": customer_id, "planId": s.plan_id, "username": s.username,
        "accessType": s.access_type, "status": s.status});
    Effects::new(ctx, actor, now)
        .audit("subscription.create", "Subscription", Some(s.id), details)
        .event(EventKind::SubscriptionChanged, s.id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(s)
}

/// Changes plan, credentials or access settings of subscription `id`. A plan change
/// mid-cycle is prorated by day onto the next invoice (`billing::charges`).
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &SubscriptionPatch) -> CoreResult<Subscription> {
    actor.require(Action::SubscriptionWrite)?;
    if p.customer_id.is_some() || p.status.is_some() || p.start_date.is_some() {
        return Err(CoreError::validation("input", "customerId, status and startDate cannot be changed here"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = subscriptions::get(&mut tx, actor.tenant_id, id).await?;
    if cur.status == SubscriptionStatus::Cancelled {
        return Err(CoreError::conflict("id", "subscription is cancelled"));
    }
    let f = resolve(ctx, &mut tx, actor.tenant_id, p, Some(&cur)).await?;
    let adjustments = if f.plan_id != cur.plan_id {
        let today = billing::tenant_today_in(ctx, &mut tx, actor.tenant_id).await?;
        charges::prorate_plan_change(&mut tx, actor.tenant_id, id, f.plan_id, today, now).await?
    } else {
        Vec::new()
    };
    let s = subscriptions::update(&mut tx, actor.tenant_id, id, &f, now).await?;
    // A plan or access type change is history; other edits write nothing there.
    let today = fmt_date(billing::tenant_today_in(ctx, &mut tx, actor.tenant_id).await?);
    subscription_history::record(&mut tx, actor.tenant_id, id, &today, now).await?;
    let fields = set_fields(&[
        ("planId", p.plan_id.is_some()),
        ("accessType", p.access_type.is_some()),
        ("username", p.username.is_some()),
        ("password", p.password.is_changed()),
        ("staticIpv4", p.static_ipv4.is_changed()),
        ("macAddress", p.mac_address.is_changed()),
        ("onuSerial", p.onu_serial.is_changed()),
        ("oltPort", p.olt_port.is_changed()),
        ("simultaneousUse", p.simultaneous_use.is_some()),
        ("deviceId", p.device_id.is_changed()),
    ]);
    let adjustments: Vec<i64> = adjustments.iter().map(|c| c.amount_minor).collect();
    let details =
        json!({"fields": fields, "planId": {"from": cur.plan_id, "to": s.plan_id}, "adjustments": adjustments});
    Effects::new(ctx, actor, now)
        .audit("subscription.update", "Subscription", Some(id), details)
        .event(EventKind::SubscriptionChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(s)
}

/// Moves subscription `id` to `to` if the state machine allows it; the same status again is
/// a no-op that returns the subscription unchanged. Suspending or cancelling an active or
/// suspended subscription enqueues the jobs that block it on the network, resuming a
/// suspended one the jobs that unblock it ([`crate::netjobs`]), in the same transaction.
pub async fn change_status(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    to: SubscriptionStatus,
    reason: Option<&str>,
) -> CoreResult<Subscription> {
    actor.require(Action::SubscriptionStatus)?;
    if let Some(r) = reason {
        validate::text(r, 500).map_err(|m| CoreError::validation("reason", m))?;
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = subscriptions::get(&mut tx, actor.tenant_id, id).await?;
    if cur.status == to {
        return Ok(cur);
    }
    if !cur.status.can_become(to) {
        return Err(CoreError::conflict("status", format!("a {} subscription cannot become {}", cur.status, to)));
    }
    // The status guard makes a concurrent change lose cleanly instead of skipping a state.
    let s = subscriptions::set_status(&mut tx, actor.tenant_id, id, cur.status, to, reason.map(str::trim), now)
        .await?
        .ok_or_else(|| CoreError::conflict("status", "the subscription changed meanwhile; reload and retry"))?;
    let today = fmt_date(billing::tenant_today_in(ctx, &mut tx, actor.tenant_id).await?);
    subscription_history::record(&mut tx, actor.tenant_id, id, &today, now).await?;
    let mut details = json!({"from": cur.status, "to": to, "reason": reason});
    let mut effects = Effects::new(ctx, actor, now);
    if let Some((suspend, default_reason)) = network_move(cur.status, to) {
        let why = reason.map(str::trim).unwrap_or(default_reason);
        let jobs = network_jobs(&mut tx, actor.tenant_id, &s, suspend, why).await?;
        details["jobs"] = json!(jobs.len());
        effects = effects.jobs(jobs);
        // The customer hears of a suspension and of the reactivation (not of a cancellation,
        // which comes with its own paperwork).
        let event = match to {
            SubscriptionStatus::Suspended => Some(NotifyEvent::Suspended),
            SubscriptionStatus::Active => Some(NotifyEvent::Reactivated),
            _ => None,
        };
        if let Some(event) = event {
            let vars = json!({"subscription_id": id, "reason": why});
            let key = format!("status:{id}:{now}");
            notify::queue(ctx, &mut tx, actor.tenant_id, s.customer_id, event, vars, &key, now).await?;
        }
    }
    effects
        .audit("subscription.status", "Subscription", Some(id), details)
        .event(EventKind::SubscriptionChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(s)
}

/// Whether a status move blocks (true) or unblocks (false) the subscriber on the network,
/// and the reason its jobs carry by default.
fn network_move(from: SubscriptionStatus, to: SubscriptionStatus) -> Option<(bool, &'static str)> {
    use SubscriptionStatus::{Active, Cancelled, Suspended};
    match (from, to) {
        (_, Suspended) => Some((true, "suspended by staff")),
        (Suspended, Active) => Some((false, "resumed by staff")),
        (Active | Suspended, Cancelled) => Some((true, "cancelled")),
        _ => None,
    }
}

/// The device jobs that block (`suspend`) or unblock subscription `s` under its tenant's
/// suspension strategy.
async fn network_jobs(
    tx: &mut Tx,
    tenant_id: i64,
    s: &Subscription,
    suspend: bool,
    why: &str,
) -> CoreResult<Vec<crate::store::jobs::NewJob>> {
    let settings = tenants::settings_in(tx, tenant_id).await?;
    netjobs::for_status(tx, tenant_id, &settings, s, suspend, why).await
}

/// Moves subscription `id` to plan `plan_id` from `effective` (default today), charging
/// the difference for the rest of the cycle: a credit for the old plan's unused days and a
/// charge for the new plan's, each rounded once, on the next invoice.
pub async fn change_plan(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    plan_id: i64,
    effective: Option<&str>,
) -> CoreResult<Vec<Charge>> {
    actor.require(Action::SubscriptionWrite)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let day = match effective {
        Some(d) => parse_date("effectiveDate", d)?,
        None => billing::tenant_today(ctx, t).await?,
    };
    let mut tx = ctx.db.begin().await?;
    let sp = charges::sub_plan(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, sp.customer_id).await?;
    if sp.status == SubscriptionStatus::Cancelled {
        return Err(CoreError::conflict("id", "subscription is cancelled"));
    }
    let new = charges::new_plan(&mut tx, t, plan_id).await?;
    if new.active == 0 {
        return Err(CoreError::validation("planId", "plan is archived"));
    }
    if !new.access_types.split(',').any(|a| a == sp.access_type) {
        return Err(CoreError::validation("planId", format!("plan does not allow {}", sp.access_type)));
    }
    let mut out = Vec::new();
    let mut effects = Effects::new(ctx, actor, now);
    if plan_id != sp.plan_id {
        out = charges::adjustments(&mut tx, t, id, &sp, &new, day, now).await?;
        subscriptions::set_plan(&mut tx, t, id, plan_id, now).await?;
        subscription_history::record(&mut tx, t, id, &fmt_date(day), now).await?;
        let details = json!({"planId": {"from": sp.plan_id, "to": plan_id}, "effective": fmt_date(day),
            "adjustments": out.iter().map(|c| c.amount_minor).collect::<Vec<_>>()});
        effects = effects.audit("subscription.planChange", "Subscription", Some(id), details);
    }
    effects.event(EventKind::SubscriptionChanged, id).write(&mut tx).await?;
    tx.commit().await?;
    Ok(out)
}

/// Cancels subscription `id` from `effective` (default today): the unused days of a billed
/// cycle are credited, or the used days of an unbilled one are charged, on the next invoice
/// ([`charges::cancellation`]).
pub async fn cancel(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    effective: Option<&str>,
    reason: Option<&str>,
) -> CoreResult<Option<Charge>> {
    actor.require(Action::SubscriptionStatus)?;
    let t = actor.tenant_id;
    let now = ctx.now_ms();
    let day = match effective {
        Some(d) => parse_date("effectiveDate", d)?,
        None => billing::tenant_today(ctx, t).await?,
    };
    if let Some(r) = reason {
        validate::text(r, 500).map_err(|m| CoreError::validation("reason", m))?;
    }
    let mut tx = ctx.db.begin().await?;
    let sp = charges::sub_plan(&mut tx, t, id).await?;
    lock_customer(&mut tx, t, sp.customer_id).await?;
    if !sp.status.can_become(SubscriptionStatus::Cancelled) {
        return Err(CoreError::conflict("status", format!("a {} subscription cannot become CANCELLED", sp.status)));
    }
    let (amount, charge) = charges::cancellation(&mut tx, t, id, &sp, day, now).await?;
    let s =
        subscriptions::set_status(&mut tx, t, id, sp.status, SubscriptionStatus::Cancelled, reason.map(str::trim), now)
            .await?
            .ok_or_else(|| CoreError::conflict("status", "the subscription changed meanwhile; reload and retry"))?;
    subscription_history::record(&mut tx, t, id, &fmt_date(day), now).await?;
    let mut details = json!({"from": sp.status, "to": "CANCELLED", "effective": fmt_date(day), "adjustment": amount});
    // Blocked on the network like any move to CANCELLED.
    let mut effects = Effects::new(ctx, actor, now);
    if let Some((suspend, default_reason)) = network_move(sp.status, SubscriptionStatus::Cancelled) {
        let why = reason.map(str::trim).unwrap_or(default_reason);
        let jobs = network_jobs(&mut tx, t, &s, suspend, why).await?;
        details["jobs"] = json!(jobs.len());
        effects = effects.jobs(jobs);
    }
    effects
        .audit("subscription.status", "Subscription", Some(id), details)
        .event(EventKind::SubscriptionChanged, id)
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(charge)
}
