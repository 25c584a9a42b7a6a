//! Subscriptions: a customer's service on a plan, with its network identity and a status
//! that moves only along the allowed transitions.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use super::search;
use crate::db::{query, query_as, Arg, Backend, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

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

/// Subscription `id` of `tenant_id`, on the pool or in a transaction.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Subscription> {
    query_as::<Subscription>(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("subscription"))
}

/// A subscription's network identity and access settings as stored: validated and
/// normalised by the caller (the password already encrypted).
#[derive(Debug, Clone)]
pub struct SubscriptionFields {
    /// Plan.
    pub plan_id: i64,
    /// Access type.
    pub access_type: AccessType,
    /// Login.
    pub username: String,
    /// Encrypted password.
    pub password_enc: Option<String>,
    /// Fixed IPv4.
    pub static_ipv4: Option<String>,
    /// MAC binding, `AA:BB:CC:DD:EE:FF`.
    pub mac_address: Option<String>,
    /// ONU serial (upper case).
    pub onu_serial: Option<String>,
    /// OLT port, frame/slot/port.
    pub olt_port: Option<String>,
    /// Sessions RADIUS allows at once.
    pub simultaneous_use: i64,
    /// Serving device.
    pub device_id: Option<i64>,
}

/// Inserts a subscription of customer `customer_id`.
pub async fn insert(
    tx: &mut Tx,
    tenant_id: i64,
    customer_id: i64,
    f: &SubscriptionFields,
    status: SubscriptionStatus,
    start_date: &str,
    now: i64,
) -> CoreResult<Subscription> {
    query_as::<Subscription>(&format!(
        "INSERT INTO subscriptions (tenant_id, customer_id, plan_id, access_type, username, password_enc, static_ipv4, mac_address, \
         onu_serial, olt_port, status, start_date, simultaneous_use, device_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $15, $14, $14) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(customer_id)
    .bind(f.plan_id)
    .bind(f.access_type)
    .bind(f.username.as_str())
    .bind(&f.password_enc)
    .bind(&f.static_ipv4)
    .bind(&f.mac_address)
    .bind(&f.onu_serial)
    .bind(&f.olt_port)
    .bind(status)
    .bind(start_date)
    .bind(f.simultaneous_use)
    .bind(now)
    .bind(f.device_id)
    .fetch_one(tx)
    .await
}

/// Overwrites the network identity and access settings of subscription `id`.
pub async fn update(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    f: &SubscriptionFields,
    now: i64,
) -> CoreResult<Subscription> {
    query_as::<Subscription>(&format!(
        "UPDATE subscriptions SET plan_id = $1, access_type = $2, username = $3, password_enc = $4, static_ipv4 = $5, mac_address = $6, \
         onu_serial = $7, olt_port = $8, simultaneous_use = $9, updated_at = $10, device_id = $13 WHERE tenant_id = $11 AND id = $12 RETURNING {COLS}"
    ))
    .bind(f.plan_id)
    .bind(f.access_type)
    .bind(f.username.as_str())
    .bind(&f.password_enc)
    .bind(&f.static_ipv4)
    .bind(&f.mac_address)
    .bind(&f.onu_serial)
    .bind(&f.olt_port)
    .bind(f.simultaneous_use)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .bind(f.device_id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("subscription"))
}

/// Moves subscription `id` from status `from` to `to` with `reason`; None when its status
/// is no longer `from` (a concurrent change won).
pub async fn set_status(
    tx: &mut Tx,
    tenant_id: i64,
    id: i64,
    from: SubscriptionStatus,
    to: SubscriptionStatus,
    reason: Option<&str>,
    now: i64,
) -> CoreResult<Option<Subscription>> {
    query_as::<Subscription>(&format!(
        "UPDATE subscriptions SET status = $1, status_reason = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5 AND status = $6 RETURNING {COLS}"
    ))
    .bind(to)
    .bind(reason)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .bind(from)
    .fetch_optional(tx)
    .await
}

/// Moves subscription `id` to plan `plan_id`.
pub async fn set_plan(tx: &mut Tx, tenant_id: i64, id: i64, plan_id: i64, now: i64) -> CoreResult<()> {
    query("UPDATE subscriptions SET plan_id = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4")
        .bind(plan_id)
        .bind(now)
        .bind(tenant_id)
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// How many subscriptions of customer `customer_id` are not cancelled.
pub async fn count_not_cancelled(ex: impl Executor, tenant_id: i64, customer_id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status <> 'CANCELLED'",
    )
    .bind(tenant_id)
    .bind(customer_id)
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Ids of customer `customer_id`'s subscriptions in `status`, by id.
pub async fn ids_of_customer(
    ex: impl Executor,
    tenant_id: i64,
    customer_id: i64,
    status: SubscriptionStatus,
) -> CoreResult<Vec<i64>> {
    let rows: Vec<(i64,)> =
        query_as("SELECT id FROM subscriptions WHERE tenant_id = $1 AND customer_id = $2 AND status = $3 ORDER BY id")
            .bind(tenant_id)
            .bind(customer_id)
            .bind(status)
            .fetch_all(ex)
            .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
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
    get_many_sql(tenant_id, ids).fetch_all::<Subscription>(db).await
}

/// The statement of [`get_many`] (the plan test checks that it looks the ids up).
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "subscriptions", tenant_id, ids)
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
    by_customers_sql(tenant_id, customer_ids).fetch_all::<Subscription>(db).await
}

/// The statement of [`by_customers`].
pub fn by_customers_sql(tenant_id: i64, customer_ids: &[i64]) -> Sql<'static> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM subscriptions WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND customer_id IN ").in_list(customer_ids).push(" ORDER BY id");
    sql
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
    /// Words that must all appear in the login, static IP, MAC address or ONU serial (see
    /// [`super::search`]).
    pub search: Option<String>,
}

/// Appends ` FROM subscriptions WHERE ...` for `f` in `tenant_id` to `sql`; `counting`: for
/// a statement that stops after some rows (see [`search::push_from_matches`]).
fn from_where(
    sql: &mut Sql<'static>,
    backend: Backend,
    tenant_id: i64,
    f: &SubscriptionFilter,
    counting: bool,
) -> CoreResult<()> {
    let terms = match f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(search::terms("filter.search", s)?),
        None => None,
    };
    let joined = match &terms {
        Some(t) if counting => {
            search::push_from_matches(sql, backend, search::Index::Subscriptions, "subscriptions", t)
        }
        _ => false,
    };
    if !joined {
        sql.push(" FROM subscriptions WHERE");
    }
    sql.push(" tenant_id = ").arg(tenant_id);
    if let Some(list) = f.status.as_ref().filter(|l| !l.is_empty()) {
        sql.push(" AND status IN (");
        for (i, s) in list.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.arg(*s);
        }
        sql.push(")");
    }
    if let Some(p) = f.plan_id {
        sql.push(" AND plan_id = ").arg(p);
    }
    if let Some(a) = f.access_type {
        sql.push(" AND access_type = ").arg(a);
    }
    if let Some(c) = f.customer_id {
        sql.push(" AND customer_id = ").arg(c);
    }
    if let Some(terms) = terms.filter(|_| !joined) {
        search::push_match(sql, backend, search::Index::Subscriptions, "id", tenant_id, &terms);
    }
    Ok(())
}

/// The statement of a page of the tenant's subscriptions.
pub fn list_sql(
    backend: Backend,
    tenant_id: i64,
    f: &SubscriptionFilter,
    sort: SubscriptionSort,
    args: &PageArgs,
) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, backend, tenant_id, f, false)?;
    let plan = page::apply(&mut sql, sort.order(), args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's subscriptions.
pub async fn list(
    db: &Db,
    tenant_id: i64,
    f: &SubscriptionFilter,
    sort: SubscriptionSort,
    args: &PageArgs,
) -> CoreResult<Page<Subscription>> {
    list_sql(db.backend(), tenant_id, f, sort, args)?.page(db, args).await
}

/// The statement counting the subscriptions that match the filter.
pub fn count_sql(backend: Backend, tenant_id: i64, f: &SubscriptionFilter) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| from_where(sql, backend, tenant_id, f, true))
}

/// How many subscriptions match the filter (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, f: &SubscriptionFilter) -> CoreResult<Count> {
    page::count(db, &count_sql(db.backend(), tenant_id, f)?).await
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
