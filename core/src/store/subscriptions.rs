//! Subscriptions: a customer's service on a plan, with its network identity and a status
//! that moves only along the allowed transitions.

use super::audit;
use super::customers::CustomerStatus;
use super::page::{self, Order, Page, PageArgs};
use crate::auth::{Action, Actor};
use crate::db::{like_pattern, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::events::{Event, EventKind};
use crate::{text_enum, validate, Ctx};
use serde_json::json;

text_enum!(
    /// How the subscriber reaches the network.
    AccessType, "accessType" {
        /// PPPoE session authenticated by RADIUS.
        Pppoe = "PPPOE",
        /// Hotspot login authenticated by RADIUS.
        Hotspot = "HOTSPOT",
        /// Fixed IPv4 address.
        StaticIp = "STATIC_IP",
        /// GPON ONU on an OLT port.
        Gpon = "GPON",
    }
);

text_enum!(
    /// Lifecycle of a subscription.
    SubscriptionStatus, "status" {
        /// Created, not yet in service.
        Pending = "PENDING",
        /// In service.
        Active = "ACTIVE",
        /// Cut off (non-payment, abuse, request); can be reactivated.
        Suspended = "SUSPENDED",
        /// Ended for good.
        Cancelled = "CANCELLED",
    }
);

impl SubscriptionStatus {
    /// Whether the state machine allows moving from `self` to `to`.
    pub fn can_become(self, to: SubscriptionStatus) -> bool {
        use SubscriptionStatus::*;
        matches!(
            (self, to),
            (Pending, Active)
                | (Pending, Cancelled)
                | (Active, Suspended)
                | (Active, Cancelled)
                | (Suspended, Active)
                | (Suspended, Cancelled)
        )
    }
}

text_enum!(
    /// Sort orders for subscription lists (ties broken by id).
    SubscriptionSort, "orderBy" {
        /// By login, A to Z.
        UsernameAsc = "USERNAME_ASC",
        /// Oldest first.
        CreatedAtAsc = "CREATED_AT_ASC",
        /// Newest first.
        CreatedAtDesc = "CREATED_AT_DESC",
    }
);

impl SubscriptionSort {
    /// Column and direction.
    pub fn order(self) -> Order {
        match self {
            Self::UsernameAsc => Order { column: "username", integer: false, desc: false },
            Self::CreatedAtAsc => Order { column: "created_at", integer: true, desc: false },
            Self::CreatedAtDesc => Order { column: "created_at", integer: true, desc: true },
        }
    }
}

/// A subscription row. The password is stored encrypted and never leaves the core except
/// to the RADIUS server.
#[derive(Debug, Clone, FromRow)]
pub struct Subscription {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Customer.
    pub customer_id: i64,
    /// Plan.
    pub plan_id: i64,
    /// Access type.
    pub access_type: AccessType,
    /// PPPoE / hotspot login, unique per tenant.
    pub username: String,
    /// Encrypted password (AES-256-GCM), if any.
    pub password_enc: Option<String>,
    /// Fixed IPv4 address.
    pub static_ipv4: Option<String>,
    /// Bound MAC (Calling-Station-Id), `AA:BB:CC:DD:EE:FF`.
    pub mac_address: Option<String>,
    /// GPON ONU serial.
    pub onu_serial: Option<String>,
    /// OLT port (frame/slot/port).
    pub olt_port: Option<String>,
    /// Status.
    pub status: SubscriptionStatus,
    /// Service start date, `YYYY-MM-DD`.
    pub start_date: String,
    /// Why the status last changed.
    pub status_reason: Option<String>,
    /// Sessions RADIUS allows at once for this login.
    pub simultaneous_use: i64,
    /// The OLT serving it (GPON) or the router keeping its secret / user / static IP;
    /// `None` means every enabled MikroTik of the tenant.
    pub device_id: Option<i64>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Last changed, Unix ms.
    pub updated_at: i64,
}

/// Columns of [`Subscription`], for queries in other modules.
pub const COLS: &str =
    "id, tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, mac_address, \
    onu_serial, olt_port, status, start_date, status_reason, simultaneous_use, device_id, created_at, updated_at";

/// Context string binding encrypted passwords to this column.
pub const PASSWORD_CONTEXT: &str = "subscription.password";

/// Subscription fields as a client sends them. On update `None` leaves a field alone and
/// `Some(None)` clears it; on create `customer_id`, `plan_id`, `access_type`, `username`
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
    pub password: Option<Option<String>>,
    /// Fixed IPv4.
    pub static_ipv4: Option<Option<String>>,
    /// MAC binding.
    pub mac_address: Option<Option<String>>,
    /// ONU serial.
    pub onu_serial: Option<Option<String>>,
    /// OLT port.
    pub olt_port: Option<Option<String>>,
    /// Start date (create only; default today).
    pub start_date: Option<String>,
    /// Initial status (create only): PENDING (default) or ACTIVE.
    pub status: Option<SubscriptionStatus>,
    /// Sessions RADIUS allows at once (default 1).
    pub simultaneous_use: Option<i64>,
    /// Serving device: an OLT for GPON, a MikroTik otherwise (`Some(None)` clears).
    pub device_id: Option<Option<i64>>,
}

/// The subscription after applying a patch, checked as a whole.
struct Resolved {
    plan_id: i64,
    access_type: AccessType,
    username: String,
    password_enc: Option<String>,
    static_ipv4: Option<String>,
    mac_address: Option<String>,
    onu_serial: Option<String>,
    olt_port: Option<String>,
    simultaneous_use: i64,
    device_id: Option<i64>,
}

fn trimmed(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn pick(new: &Option<Option<String>>, old: Option<String>) -> Option<String> {
    match new {
        Some(v) => trimmed(v.clone()),
        None => old,
    }
}

async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    p: &SubscriptionPatch,
    cur: Option<&Subscription>,
) -> CoreResult<Resolved> {
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
        Some(Some(pw)) => {
            validate::access_password(pw).map_err(|m| CoreError::validation("password", m))?;
            Some(ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, pw))
        }
        Some(None) => None,
        None => cur.and_then(|c| c.password_enc.clone()),
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
    let device_id = match p.device_id {
        Some(d) => d,
        None => cur.and_then(|c| c.device_id),
    };
    if let Some(d) = device_id {
        check_device(tx, tenant_id, d, access_type).await?;
    }
    // The plan must exist in this tenant, be sellable, and allow the access type.
    if p.plan_id.is_some() || p.access_type.is_some() {
        let plan = query_as::<(i64, String)>("SELECT active, access_types FROM plans WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(plan_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| CoreError::validation("planId", "no such plan"))?;
        if plan.0 == 0 && p.plan_id.is_some() && cur.map(|c| c.plan_id) != Some(plan_id) {
            return Err(CoreError::validation("planId", "plan is archived"));
        }
        if !plan.1.split(',').any(|a| a == access_type.as_str()) {
            return Err(CoreError::validation("accessType", format!("plan does not allow {access_type}")));
        }
    }
    Ok(Resolved {
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
    let device = super::devices::find_in(tx, tenant_id, id)
        .await?
        .ok_or_else(|| CoreError::validation("deviceId", "no such device"))?;
    let want_olt = access_type == AccessType::Gpon;
    if device.kind.is_olt() != want_olt {
        let want = if want_olt { "an OLT" } else { "a MikroTik router" };
        return Err(CoreError::validation("deviceId", format!("{access_type} needs {want}, not a {}", device.kind)));
    }
    Ok(())
}

fn publish(ctx: &Ctx, s: &Subscription) {
    ctx.events.publish(Event { tenant_id: s.tenant_id, kind: EventKind::SubscriptionChanged, object_id: s.id });
}

/// Creates a subscription (PENDING unless ACTIVE is asked for).
pub async fn create(ctx: &Ctx, actor: &Actor, p: &SubscriptionPatch) -> CoreResult<Subscription> {
    actor.require(Action::SubscriptionWrite)?;
    let customer_id = p.customer_id.ok_or_else(|| CoreError::validation("customerId", "is required"))?;
    let status = p.status.unwrap_or(SubscriptionStatus::Pending);
    if !matches!(status, SubscriptionStatus::Pending | SubscriptionStatus::Active) {
        return Err(CoreError::validation("status", "a new subscription is PENDING or ACTIVE"));
    }
    let now = ctx.now_ms();
    let start_date = match &p.start_date {
        Some(d) => {
            validate::date(d).map_err(|m| CoreError::validation("startDate", m))?;
            d.clone()
        }
        // Today on the tenant's calendar, which its billing and quota periods run on.
        None => crate::billing::tenant_today(ctx, actor.tenant_id).await?.format("%Y-%m-%d").to_string(),
    };
    let mut tx = ctx.db.begin().await?;
    let customer = query_as::<(CustomerStatus,)>("SELECT status FROM customers WHERE tenant_id = $1 AND id = $2")
        .bind(actor.tenant_id)
        .bind(customer_id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or_else(|| CoreError::validation("customerId", "no such customer"))?;
    if customer.0 == CustomerStatus::Archived {
        return Err(CoreError::validation("customerId", "customer is archived"));
    }
    let r = resolve(ctx, &mut tx, actor.tenant_id, p, None).await?;
    let s = query_as::<Subscription>(&format!(
        "INSERT INTO subscriptions (tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, mac_address, \
         onu_serial, olt_port, status, start_date, simultaneous_use, device_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $14, $14) RETURNING {COLS}"
    ))
    .bind(actor.tenant_id)
    .bind(customer_id)
    .bind(r.plan_id)
    .bind(r.access_type)
    .bind(&r.username)
    .bind(r.password_enc)
    .bind(r.static_ipv4)
    .bind(r.mac_address)
    .bind(r.onu_serial)
    .bind(r.olt_port)
    .bind(status)
    .bind(start_date)
    .bind(r.simultaneous_use)
    .bind(now)
    .bind(r.device_id)
    .fetch_one(&mut tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        "subscription.create",
        "Subscription",
        Some(s.id),
        json!({"customerId": customer_id, "planId": s.plan_id, "username": s.username, "accessType": s.access_type, "status": s.status}),
        now,
    )
    .await?;
    tx.commit().await?;
    publish(ctx, &s);
    Ok(s)
}

/// Changes plan, credentials or access settings of subscription `id`.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &SubscriptionPatch) -> CoreResult<Subscription> {
    actor.require(Action::SubscriptionWrite)?;
    if p.customer_id.is_some() || p.status.is_some() || p.start_date.is_some() {
        return Err(CoreError::validation("input", "customerId, status and startDate cannot be changed here"));
    }
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = get_in(&mut tx, actor.tenant_id, id).await?;
    if cur.status == SubscriptionStatus::Cancelled {
        return Err(CoreError::conflict("id", "subscription is cancelled"));
    }
    let r = resolve(ctx, &mut tx, actor.tenant_id, p, Some(&cur)).await?;
    // A plan change mid-cycle is prorated by day onto the next invoice (billing::charges).
    let adjustments = if r.plan_id != cur.plan_id {
        crate::billing::charges::prorate_plan_change(ctx, &mut tx, actor.tenant_id, id, r.plan_id).await?
    } else {
        Vec::new()
    };
    let s = query_as::<Subscription>(&format!(
        "UPDATE subscriptions SET plan_id = $1, access_type = $2, username = $3, password_enc = $4, static_ipv4 = $5, mac_address = $6, \
         onu_serial = $7, olt_port = $8, simultaneous_use = $9, updated_at = $10, device_id = $13 WHERE tenant_id = $11 AND id = $12 RETURNING {COLS}"
    ))
    .bind(r.plan_id)
    .bind(r.access_type)
    .bind(&r.username)
    .bind(r.password_enc)
    .bind(r.static_ipv4)
    .bind(r.mac_address)
    .bind(r.onu_serial)
    .bind(r.olt_port)
    .bind(r.simultaneous_use)
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .bind(r.device_id)
    .fetch_one(&mut tx)
    .await?;
    let fields = audit::set_fields(&[
        ("planId", p.plan_id.is_some()),
        ("accessType", p.access_type.is_some()),
        ("username", p.username.is_some()),
        ("password", p.password.is_some()),
        ("staticIpv4", p.static_ipv4.is_some()),
        ("macAddress", p.mac_address.is_some()),
        ("onuSerial", p.onu_serial.is_some()),
        ("oltPort", p.olt_port.is_some()),
        ("simultaneousUse", p.simultaneous_use.is_some()),
        ("deviceId", p.device_id.is_some()),
    ]);
    let adjustments: Vec<i64> = adjustments.iter().map(|c| c.amount_minor).collect();
    let details =
        json!({"fields": fields, "planId": {"from": cur.plan_id, "to": s.plan_id}, "adjustments": adjustments});
    audit::record(&mut tx, actor, "subscription.update", "Subscription", Some(id), details, now).await?;
    tx.commit().await?;
    publish(ctx, &s);
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
    let cur = get_in(&mut tx, actor.tenant_id, id).await?;
    if cur.status == to {
        return Ok(cur);
    }
    if !cur.status.can_become(to) {
        return Err(CoreError::conflict("status", format!("a {} subscription cannot become {}", cur.status, to)));
    }
    // The status guard in WHERE makes a concurrent change lose cleanly instead of skipping a state.
    let s = query_as::<Subscription>(&format!(
        "UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5 AND status = $6 RETURNING {COLS}"
    ))
    .bind(to)
    .bind(reason.map(str::trim))
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .bind(cur.status)
    .fetch_optional(&mut tx)
    .await?
    .ok_or_else(|| CoreError::conflict("status", "the subscription changed meanwhile; reload and retry"))?;
    use SubscriptionStatus::{Active, Cancelled, Suspended};
    let network = match (cur.status, to) {
        (_, Suspended) => Some((true, "suspended by staff")),
        (Suspended, Active) => Some((false, "resumed by staff")),
        (Active | Suspended, Cancelled) => Some((true, "cancelled")),
        _ => None,
    };
    let mut jobs = 0;
    let mut details = json!({"from": cur.status, "to": to, "reason": reason});
    if let Some((suspend, default_reason)) = network {
        let settings = super::tenants::settings_in(&mut tx, actor.tenant_id).await?;
        let why = reason.map(str::trim).unwrap_or(default_reason);
        jobs = crate::netjobs::enqueue_for_status(&mut tx, actor.tenant_id, &settings, &s, suspend, why, now).await?;
        details["jobs"] = json!(jobs);
    }
    audit::record(&mut tx, actor, "subscription.status", "Subscription", Some(id), details, now).await?;
    tx.commit().await?;
    if jobs > 0 {
        ctx.jobs_wakeup.notify_one();
    }
    publish(ctx, &s);
    Ok(s)
}

async fn get_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Subscription> {
    query_as::<Subscription>(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CoreError::NotFound("subscription"))
}

/// Subscription `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Subscription> {
    query_as::<Subscription>(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("subscription"))
}

/// Subscription with login `username` in `tenant_id`, if any.
pub async fn by_username(db: &Db, tenant_id: i64, username: &str) -> CoreResult<Option<Subscription>> {
    query_as::<Subscription>(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = $1 AND username = $2"))
        .bind(tenant_id)
        .bind(username)
        .fetch_optional(db)
        .await
}

/// Subscriptions with the given ids in `tenant_id`, one statement.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Subscription>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(ids);
    sql.fetch_all::<Subscription>(db).await
}

/// Every subscription of `tenant_id` in one of `statuses`, by id: what `netctl sync`
/// compares the devices with.
pub async fn with_status(db: &Db, tenant_id: i64, statuses: &[SubscriptionStatus]) -> CoreResult<Vec<Subscription>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND status IN (");
    for (i, st) in statuses.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.arg(Arg::text(st.as_str().to_string()));
    }
    sql.push(") ORDER BY id");
    sql.fetch_all::<Subscription>(db).await
}

/// All subscriptions of the given customers in `tenant_id`, by id, one statement.
pub async fn by_customers(db: &Db, tenant_id: i64, customer_ids: &[i64]) -> CoreResult<Vec<Subscription>> {
    if customer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND customer_id IN ").in_list(customer_ids).push(" ORDER BY id");
    sql.fetch_all::<Subscription>(db).await
}

/// Filters for subscription lists.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionFilter {
    /// Only these statuses.
    pub status: Option<Vec<SubscriptionStatus>>,
    /// Only this plan.
    pub plan_id: Option<i64>,
    /// Only this access type.
    pub access_type: Option<AccessType>,
    /// Only this customer.
    pub customer_id: Option<i64>,
    /// Login, IP, MAC or ONU serial contains this (case-insensitive).
    pub search: Option<String>,
}

fn filter_sql(sql: &mut Sql, tenant_id: i64, f: &SubscriptionFilter) {
    sql.arg(Arg::I(tenant_id));
    if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
        sql.push(" AND status IN (");
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(s);
        }
        sql.push(")");
    }
    if let Some(p) = f.plan_id {
        sql.push(" AND plan_id = ").arg(Arg::I(p));
    }
    if let Some(a) = f.access_type {
        sql.push(" AND access_type = ").arg(a);
    }
    if let Some(c) = f.customer_id {
        sql.push(" AND customer_id = ").arg(Arg::I(c));
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = like_pattern(s);
        sql.push(" AND (LOWER(username) LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR static_ipv4 LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(mac_address) LIKE ").arg(Arg::text(p.clone())).push(" ESCAPE '\\'");
        sql.push(" OR LOWER(onu_serial) LIKE ").arg(Arg::text(p)).push(" ESCAPE '\\')");
    }
}

/// A page of the tenant's subscriptions.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &SubscriptionFilter,
    sort: SubscriptionSort,
    args: &PageArgs,
) -> CoreResult<Page<Subscription>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = "));
    filter_sql(&mut sql, tenant_id, f);
    let plan = page::apply(&mut sql, sort.order(), args)?;
    Ok(page::finish(sql.fetch_all::<Subscription>(db).await?, plan, args))
}

/// How many subscriptions match the filter.
pub async fn count(db: &Db, tenant_id: i64, f: &SubscriptionFilter) -> CoreResult<i64> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM subscriptions WHERE tenant_id = ");
    filter_sql(&mut sql, tenant_id, f);
    let (n,): (i64,) = sql.fetch_one(db).await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus::*;

    #[test]
    fn state_machine() {
        let allowed = [
            (Pending, Active),
            (Pending, Cancelled),
            (Active, Suspended),
            (Active, Cancelled),
            (Suspended, Active),
            (Suspended, Cancelled),
        ];
        for from in [Pending, Active, Suspended, Cancelled] {
            for to in [Pending, Active, Suspended, Cancelled] {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }
}
