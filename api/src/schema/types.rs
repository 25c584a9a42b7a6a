//! Output object types of the graph: thin wrappers over the core rows.

use crate::error::Gql;
use crate::fast::{fast, Fast, FastList};
use crate::ids;
use crate::schema::request_loaders;
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use isp_core::auth::Role;
use isp_core::clock::from_ms;
use isp_core::store::audit::AuditEntry as AuditRow;
use isp_core::store::customers::{Customer as CustomerRow, CustomerStatus};
use isp_core::store::plans::{BillingPeriod, Plan as PlanRow, QuotaAction};
use isp_core::store::subscriptions::{AccessType, Subscription as SubscriptionRow, SubscriptionStatus};
use isp_core::store::tenants::{RouterSuspension, SuspendedAccess, Tenant as TenantRow};
use isp_core::store::users::User as UserRow;

/// An amount of money in the tenant's currency.
#[derive(SimpleObject)]
pub struct Money {
    /// Integer count of minor units (cents): exact, never a float.
    pub amount_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Human-readable amount such as `29.99 USD`.
    pub formatted: String,
}

impl Money {
    /// `amount_minor` of `currency`.
    pub fn new(amount_minor: i64, currency: &str) -> Self {
        let formatted = isp_core::billing::fmt_money(amount_minor, currency);
        Self { amount_minor, currency: currency.to_string(), formatted }
    }
}

/// An ISP using the system (the caller's own tenant).
pub struct Tenant(pub TenantRow);

#[Object]
impl Tenant {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Tenant", self.0.id)
    }
    /// Unique slug used at login.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// ISO 4217 currency of all money in this tenant.
    async fn currency(&self) -> &str {
        &self.0.currency
    }
    /// IANA time zone used for billing dates.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// Behaviour switches.
    async fn settings(&self) -> Fast<TenantSettings> {
        let s = self.0.settings();
        Fast(TenantSettings {
            suspended_access: s.suspended_access,
            walled_garden_address_list: s.walled_garden_address_list,
            walled_garden_rate_limit: s.walled_garden_rate_limit,
            router_suspension: s.router_suspension,
            document_max_bytes: s.document_max_bytes,
        })
    }
    /// When the tenant was created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// Per-tenant behaviour switches.
#[derive(SimpleObject)]
pub struct TenantSettings {
    /// What RADIUS does with suspended subscribers.
    pub suspended_access: SuspendedAccess,
    /// MikroTik address list for walled-garden sessions.
    pub walled_garden_address_list: String,
    /// MikroTik rate limit for walled-garden sessions.
    pub walled_garden_rate_limit: String,
    /// How suspensions reach MikroTik routers beyond RADIUS (the address list used is
    /// `walledGardenAddressList`).
    pub router_suspension: RouterSuspension,
    /// Largest customer document or ticket attachment accepted, in bytes.
    pub document_max_bytes: i64,
}

/// A staff user of the tenant.
pub struct StaffUser(pub UserRow);

#[Object]
impl StaffUser {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("StaffUser", self.0.id)
    }
    /// Login email.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Role that decides what the user may do.
    async fn role(&self) -> Role {
        self.0.role()
    }
    /// Whether the user is locked out.
    async fn disabled(&self) -> bool {
        self.0.is_disabled()
    }
    /// Last successful login.
    async fn last_login_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_login_at.map(from_ms)
    }
    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// Subscriptions per customer assumed when pricing a query: `Customer.subscriptions` is an
/// unpaged list, so nesting it (customer -> subscriptions -> customer -> subscriptions ...)
/// multiplies the work the way a connection's `first` does.
pub const SUBSCRIPTIONS_PER_CUSTOMER: usize = 10;

/// A customer of the ISP.
pub struct Customer(pub CustomerRow);

#[Object]
impl Customer {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Customer", self.0.id)
    }
    /// Account number, unique in the tenant (`C000042`).
    async fn account_number(&self) -> &str {
        &self.0.account_number
    }
    /// Full name or company name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Contact email.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Contact phone.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// Service address.
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    /// Tax id printed on invoices.
    async fn tax_id(&self) -> Option<&str> {
        self.0.tax_id.as_deref()
    }
    /// Staff notes.
    async fn notes(&self) -> Option<&str> {
        self.0.notes.as_deref()
    }
    /// Status.
    async fn status(&self) -> CustomerStatus {
        self.0.status
    }
    /// When the customer was created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// When the customer last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
    /// The customer's subscriptions, oldest first (batched across a page).
    #[graphql(complexity = "SUBSCRIPTIONS_PER_CUSTOMER * child_complexity")]
    async fn subscriptions(&self, ctx: &Context<'_>) -> async_graphql::Result<FastList<Subscription>> {
        let subs = request_loaders(ctx)?.subscriptions_of(self.0.id).await?;
        Ok(FastList(subs.into_iter().map(Subscription).collect()))
    }
    /// Documents on file (ID scans, contracts, photos), newest first (batched; needs
    /// `DocumentRead`).
    async fn documents(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<FastList<super::documents::CustomerDocument>> {
        super::documents::of_customer(ctx, self.0.id).await
    }
}

/// Burst settings of a plan (MikroTik burst).
#[derive(SimpleObject)]
pub struct PlanBurst {
    /// Burst download speed, kbit/s.
    pub download_kbps: i64,
    /// Burst upload speed, kbit/s.
    pub upload_kbps: i64,
    /// Average download below which bursting is allowed, kbit/s.
    pub threshold_download_kbps: i64,
    /// Average upload below which bursting is allowed, kbit/s.
    pub threshold_upload_kbps: i64,
    /// Averaging window, seconds.
    pub time_secs: i64,
}

/// Data quota of a plan.
#[derive(SimpleObject)]
pub struct PlanDataQuota {
    /// Bytes per billing period (download + upload).
    pub bytes: i64,
    /// What happens when it is used up.
    pub action: QuotaAction,
    /// Download speed after the quota (FUP), kbit/s.
    pub fup_download_kbps: Option<i64>,
    /// Upload speed after the quota (FUP), kbit/s.
    pub fup_upload_kbps: Option<i64>,
}

impl PlanBurst {
    /// The plan's burst settings, if it bursts (all five are set).
    pub fn of(p: &PlanRow) -> Option<Self> {
        Some(Self {
            download_kbps: p.burst_download_kbps?,
            upload_kbps: p.burst_upload_kbps?,
            threshold_download_kbps: p.burst_threshold_download_kbps?,
            threshold_upload_kbps: p.burst_threshold_upload_kbps?,
            time_secs: p.burst_time_secs?,
        })
    }
}

impl PlanDataQuota {
    /// The plan's data quota, if it has one.
    pub fn of(p: &PlanRow) -> Option<Self> {
        Some(Self {
            bytes: p.data_quota_bytes?,
            action: p.quota_action?,
            fup_download_kbps: p.fup_download_kbps,
            fup_upload_kbps: p.fup_upload_kbps,
        })
    }
}

/// Something the ISP sells: price, speeds, quotas.
pub struct Plan(pub PlanRow);

#[Object]
impl Plan {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Plan", self.0.id)
    }
    /// Name, unique in the tenant.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Marketing description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// Price per billing period.
    async fn price(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Money>> {
        let currency = crate::schema::tenant_currency(ctx).await?;
        Ok(Fast(Money::new(self.0.price_minor, &currency)))
    }
    /// Billing period.
    async fn billing_period(&self) -> BillingPeriod {
        self.0.billing_period
    }
    /// Download speed, kbit/s.
    async fn download_kbps(&self) -> i64 {
        self.0.download_kbps
    }
    /// Upload speed, kbit/s.
    async fn upload_kbps(&self) -> i64 {
        self.0.upload_kbps
    }
    /// Burst settings, if the plan bursts.
    async fn burst(&self) -> Option<Fast<PlanBurst>> {
        PlanBurst::of(&self.0).map(Fast)
    }
    /// Data quota, if any.
    async fn data_quota(&self) -> Option<Fast<PlanDataQuota>> {
        PlanDataQuota::of(&self.0).map(Fast)
    }
    /// Online-time quota per period, seconds.
    async fn time_quota_secs(&self) -> Option<i64> {
        self.0.time_quota_secs
    }
    /// Access types the plan can be sold for.
    async fn access_types(&self) -> Vec<AccessType> {
        self.0.access_types()
    }
    /// Address pool sent as Framed-Pool.
    async fn ip_pool(&self) -> Option<&str> {
        self.0.ip_pool.as_deref()
    }
    /// False once archived: kept by existing subscriptions, not offered for new ones.
    async fn active(&self) -> bool {
        self.0.is_active()
    }
    /// The `Mikrotik-Rate-Limit` RADIUS sends for this plan.
    async fn mikrotik_rate_limit(&self) -> String {
        self.0.mikrotik_rate_limit()
    }
    /// When the plan was created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
}

/// A customer's service on a plan, with its network identity.
pub struct Subscription(pub SubscriptionRow);

#[Object]
impl Subscription {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("Subscription", self.0.id)
    }
    /// The customer (batched).
    async fn customer(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Customer>> {
        let c = request_loaders(ctx)?.customers.one(self.0.customer_id).await?;
        c.map(fast(Customer)).ok_or_else(|| crate::error::to_gql(isp_core::CoreError::NotFound("customer")))
    }
    /// The plan (batched).
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<Fast<Plan>> {
        let p = request_loaders(ctx)?.plan(self.0.plan_id).await?;
        p.map(|p| Fast(Plan(p))).ok_or_else(|| crate::error::to_gql(isp_core::CoreError::NotFound("plan")))
    }
    /// How the subscriber connects.
    async fn access_type(&self) -> AccessType {
        self.0.access_type
    }
    /// PPPoE / hotspot login, unique in the tenant.
    async fn username(&self) -> &str {
        &self.0.username
    }
    /// Whether a password is set (the password itself is write-only).
    async fn has_password(&self) -> bool {
        self.0.password_enc.is_some()
    }
    /// Fixed IPv4 address.
    async fn static_ipv4(&self) -> Option<&str> {
        self.0.static_ipv4.as_deref()
    }
    /// Bound MAC address (checked against Calling-Station-Id).
    async fn mac_address(&self) -> Option<&str> {
        self.0.mac_address.as_deref()
    }
    /// GPON ONU serial.
    async fn onu_serial(&self) -> Option<&str> {
        self.0.onu_serial.as_deref()
    }
    /// OLT port, frame/slot/port.
    async fn olt_port(&self) -> Option<&str> {
        self.0.olt_port.as_deref()
    }
    /// Lifecycle status.
    async fn status(&self) -> SubscriptionStatus {
        self.0.status
    }
    /// Why the status last changed.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }
    /// Sessions RADIUS allows at once for this login.
    async fn simultaneous_use(&self) -> i64 {
        self.0.simultaneous_use
    }
    /// The OLT serving it (GPON) or the router keeping its secret / user / static IP; null
    /// means every enabled MikroTik of the tenant (batched).
    async fn device(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Fast<super::devices::Device>>> {
        let Some(id) = self.0.device_id else { return Ok(None) };
        Ok(request_loaders(ctx)?.devices.one(id).await?.map(fast(super::devices::Device)))
    }
    /// Service start date, YYYY-MM-DD.
    async fn start_date(&self) -> &str {
        &self.0.start_date
    }
    /// When the subscription was created.
    async fn created_at(&self) -> DateTime<Utc> {
        from_ms(self.0.created_at)
    }
    /// When the subscription last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        from_ms(self.0.updated_at)
    }
}

/// One entry of the audit log.
pub struct AuditEntry(pub AuditRow);

#[Object]
impl AuditEntry {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode("AuditEntry", self.0.id)
    }
    /// Who: the staff user's email, or `system:...`.
    async fn actor(&self) -> &str {
        &self.0.actor
    }
    /// Global ID of the staff user, if a person did it.
    async fn actor_id(&self) -> Option<ID> {
        self.0.user_id.map(|u| ids::encode("StaffUser", u))
    }
    /// What: a verb such as `customer.create`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    /// Type of the object changed.
    async fn object_type(&self) -> &str {
        &self.0.object_type
    }
    /// Global ID of the object changed.
    async fn object_id(&self) -> Option<ID> {
        let ty = if self.0.object_type == "User" { "StaffUser" } else { self.0.object_type.as_str() };
        self.0.object_id.map(|id| ids::encode(ty, id))
    }
    /// Details of the change (JSON; never contains secrets).
    async fn details(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(serde_json::from_str(&self.0.details).unwrap_or(serde_json::Value::Null))
    }
    /// Client IP address.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
    /// When.
    async fn at(&self) -> DateTime<Utc> {
        from_ms(self.0.at)
    }
}

/// Result of a login, sign-up or token refresh.
#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for the `Authorization` header; short-lived.
    pub access_token: String,
    /// Single-use token for `refreshToken`; rotate it on every use.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The staff user.
    pub user: Fast<StaffUser>,
    /// Their tenant.
    pub tenant: Fast<Tenant>,
}

impl From<isp_core::workflows::staff::Session> for AuthPayload {
    fn from(s: isp_core::workflows::staff::Session) -> Self {
        Self {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: s.expires_in,
            user: Fast(StaffUser(s.user)),
            tenant: Fast(Tenant(s.tenant)),
        }
    }
}

/// Converts a core result into this module's result (shorthand).
pub fn ok<T>(r: isp_core::CoreResult<T>) -> async_graphql::Result<T> {
    r.gql()
}
