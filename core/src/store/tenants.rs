//! Tenants: one ISP each. Every other row belongs to exactly one tenant.

use crate::db::{query_as, Db, Executor, FromRow, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;
use crate::validate;
use serde::{Deserialize, Serialize};

/// An ISP using the system.
#[derive(Debug, Clone, FromRow)]
pub struct Tenant {
    /// Row id.
    pub id: i64,
    /// URL-safe unique name used at login (`demo-isp`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// ISO 4217 currency of all the tenant's money.
    pub currency: String,
    /// IANA time zone for billing dates.
    pub timezone: String,
    /// JSON of [`TenantSettings`].
    pub settings: String,
    /// Created, Unix ms.
    pub created_at: i64,
}

text_enum!(
    /// What RADIUS does with a suspended subscriber.
    SuspendedAccess, "suspendedAccess" {
        /// Access-Reject.
        Reject = "REJECT",
        /// Access-Accept into a walled garden (address list + low rate).
        WalledGarden = "WALLED_GARDEN",
    }
);

text_enum!(
    /// How suspensions reach the tenant's MikroTik routers, beyond the RADIUS Disconnect
    /// that every strategy sends (see the README, "Devices and suspension strategies").
    RouterSuspension, "routerSuspension" {
        /// Put the subscriber's static IPv4 on the walled-garden address list.
        AddressList = "ADDRESS_LIST",
        /// The routers keep local PPP secrets / hotspot users: disable them.
        LocalSecrets = "LOCAL_SECRETS",
        /// Nothing on the routers: RADIUS Disconnect, then reject or walled garden on re-auth.
        RadiusOnly = "RADIUS_ONLY",
    }
);

/// Per-tenant behaviour switches, stored as JSON so later features can add fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TenantSettings {
    /// What happens when a suspended subscriber connects.
    pub suspended_access: SuspendedAccess,
    /// MikroTik address list for walled-garden sessions.
    pub walled_garden_address_list: String,
    /// MikroTik rate limit for walled-garden sessions.
    pub walled_garden_rate_limit: String,
    /// How suspensions are pushed to MikroTik routers (the address list used is
    /// `walled_garden_address_list`).
    pub router_suspension: RouterSuspension,
    /// Largest customer document or ticket attachment accepted, in bytes.
    pub document_max_bytes: i64,
}

/// Default of [`TenantSettings::document_max_bytes`]: 10 MiB.
pub const DEFAULT_DOCUMENT_MAX_BYTES: i64 = 10 * 1024 * 1024;

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            suspended_access: SuspendedAccess::Reject,
            walled_garden_address_list: "suspended".into(),
            walled_garden_rate_limit: "64k/64k".into(),
            router_suspension: RouterSuspension::AddressList,
            document_max_bytes: DEFAULT_DOCUMENT_MAX_BYTES,
        }
    }
}

impl Tenant {
    /// The parsed settings (defaults for anything missing).
    pub fn settings(&self) -> TenantSettings {
        serde_json::from_str(&self.settings).unwrap_or_default()
    }
}

const COLS: &str = "id, slug, name, currency, timezone, settings, created_at";

// Over GraphQL its fields open `RegisterTenantInput` (`workflows::staff::Registration`).
/// Input for a new tenant, checked by [`NewTenant::validate`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject))]
pub struct NewTenant {
    /// Unique slug (3-40 of a-z, 0-9, -), used at login.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// ISO 4217 currency, e.g. USD.
    pub currency: String,
    /// IANA time zone, e.g. America/New_York.
    pub timezone: String,
}

impl NewTenant {
    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> CoreResult<()> {
        validate::slug(&self.slug).map_err(|m| CoreError::validation("slug", m))?;
        validate::text(&self.name, 120).map_err(|m| CoreError::validation("name", m))?;
        validate::currency(&self.currency).map_err(|m| CoreError::validation("currency", m))?;
        validate::timezone(&self.timezone).map_err(|m| CoreError::validation("timezone", m))?;
        Ok(())
    }
}

/// Inserts a tenant (validated by the caller) inside `tx`.
pub async fn insert(tx: &mut Tx, t: &NewTenant, now: i64) -> CoreResult<Tenant> {
    let settings = serde_json::to_string(&TenantSettings::default()).expect("settings serialize");
    let row = query_as::<Tenant>(&format!(
        "INSERT INTO tenants (slug, name, currency, timezone, settings, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLS}"
    ))
    .bind(&t.slug)
    .bind(t.name.trim())
    .bind(&t.currency)
    .bind(&t.timezone)
    .bind(settings)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    Ok(row)
}

/// Every tenant's (id, IANA time zone), by id: what the daily scheduler walks.
pub async fn zones(db: &Db) -> CoreResult<Vec<(i64, String)>> {
    query_as("SELECT id, timezone FROM tenants ORDER BY id").fetch_all(db).await
}

/// The tenant with `id`.
pub async fn get(ex: impl Executor, id: i64) -> CoreResult<Tenant> {
    query_as::<Tenant>(&format!("SELECT {COLS} FROM tenants WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await?
        .ok_or(CoreError::NotFound("tenant"))
}

/// The settings of tenant `id`, read inside `tx` (defaults for anything missing).
pub async fn settings_in(tx: &mut Tx, id: i64) -> CoreResult<TenantSettings> {
    let (raw,): (String,) = query_as("SELECT settings FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CoreError::NotFound("tenant"))?;
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// The tenant with `slug`, if any.
pub async fn by_slug(db: &Db, slug: &str) -> CoreResult<Option<Tenant>> {
    query_as::<Tenant>(&format!("SELECT {COLS} FROM tenants WHERE slug = $1")).bind(slug).fetch_optional(db).await
}

/// Changes name, currency, timezone and settings of tenant `id` inside `tx`.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    name: &str,
    currency: &str,
    timezone: &str,
    settings: &TenantSettings,
) -> CoreResult<Tenant> {
    validate::text(name, 120).map_err(|m| CoreError::validation("name", m))?;
    validate::currency(currency).map_err(|m| CoreError::validation("currency", m))?;
    validate::timezone(timezone).map_err(|m| CoreError::validation("timezone", m))?;
    // RouterOS address-list names: the list is written to routers by suspension jobs.
    let list = &settings.walled_garden_address_list;
    validate::text(list, 63).map_err(|m| CoreError::validation("walledGardenAddressList", m))?;
    if list.trim() != list {
        return Err(CoreError::validation("walledGardenAddressList", "must not start or end with spaces"));
    }
    let json = serde_json::to_string(settings).expect("settings serialize");
    query_as::<Tenant>(&format!(
        "UPDATE tenants SET name = $1, currency = $2, timezone = $3, settings = $4 WHERE id = $5 RETURNING {COLS}"
    ))
    .bind(name.trim())
    .bind(currency)
    .bind(timezone)
    .bind(json)
    .bind(id)
    .fetch_one(&mut *tx)
    .await
}

/// Takes the next customer account number of the tenant (gapless per tenant) inside `tx`.
pub async fn next_customer_number(tx: &mut Tx, tenant_id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as(
        "UPDATE tenants SET next_customer_number = next_customer_number + 1 WHERE id = $1 RETURNING next_customer_number - 1",
    )
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(n)
}
