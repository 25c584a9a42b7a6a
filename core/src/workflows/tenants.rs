//! The tenant's own profile and network settings.

use crate::auth::{Action, Actor};
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::store::tenants::{self, RouterSuspension, SuspendedAccess, Tenant};
use crate::Ctx;
use serde_json::json;

/// Changes to the caller's tenant. Absent fields stay as they are.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "UpdateTenantInput"))]
pub struct TenantPatch {
    /// Display name.
    pub name: Option<String>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// What RADIUS does with suspended subscribers.
    pub suspended_access: Option<SuspendedAccess>,
    /// MikroTik address list for walled-garden sessions.
    pub walled_garden_address_list: Option<String>,
    /// MikroTik rate limit for walled-garden sessions.
    pub walled_garden_rate_limit: Option<String>,
    /// How suspensions reach MikroTik routers beyond RADIUS.
    pub router_suspension: Option<RouterSuspension>,
    /// Largest customer document or ticket attachment accepted, in bytes (1 KiB - 1 GiB).
    pub document_max_bytes: Option<i64>,
}

/// Changes the actor's tenant: name, currency, time zone and network settings, audited.
pub async fn update(ctx: &Ctx, actor: &Actor, p: TenantPatch) -> CoreResult<Tenant> {
    actor.require(Action::TenantUpdate)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = tenants::get(&mut tx, actor.tenant_id).await?;
    let mut settings = cur.settings();
    if let Some(v) = p.suspended_access {
        settings.suspended_access = v;
    }
    if let Some(v) = p.walled_garden_address_list {
        settings.walled_garden_address_list = v;
    }
    if let Some(v) = p.walled_garden_rate_limit {
        settings.walled_garden_rate_limit = v;
    }
    if let Some(v) = p.router_suspension {
        settings.router_suspension = v;
    }
    if let Some(v) = p.document_max_bytes {
        if !(1024..=1 << 30).contains(&v) {
            return Err(CoreError::validation("documentMaxBytes", "must be 1024 - 1073741824 bytes"));
        }
        settings.document_max_bytes = v;
    }
    let name = p.name.unwrap_or(cur.name);
    let currency = p.currency.unwrap_or(cur.currency);
    let timezone = p.timezone.unwrap_or(cur.timezone);
    let t = tenants::update(&mut tx, actor.tenant_id, &name, &currency, &timezone, &settings).await?;
    let details = json!({"name": t.name, "currency": t.currency, "timezone": t.timezone, "settings": settings});
    Effects::new(ctx, actor, now).audit("tenant.update", "Tenant", Some(t.id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(t)
}
