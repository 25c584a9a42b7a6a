//! NAS devices (the routers that talk RADIUS to us): register, change, delete. Every change
//! bumps `Ctx::nas_generation` once committed, so RADIUS caches in this process reload at once.

use crate::auth::{Action, Actor};
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::patch::Patch;
use crate::store::audit::set_fields;
use crate::store::nas::{self, Nas, NasFields, NasType, SECRET_CONTEXT};
use crate::{validate, Ctx};
use serde_json::json;

// Also the fields of a new NAS: see `create` for what it requires and defaults.
/// Changes to a NAS; omitted fields stay as they are.
#[derive(Debug, Clone, Default)]
#[cfg_attr(feature = "graphql", derive(async_graphql::InputObject), graphql(name = "UpdateNasInput"))]
pub struct NasPatch {
    /// Display name.
    pub name: Option<String>,
    /// Source IPv4 address.
    pub ip_address: Option<String>,
    /// New shared secret (write-only).
    pub secret: Option<String>,
    /// Router kind.
    pub nas_type: Option<NasType>,
    /// CoA/Disconnect port.
    pub coa_port: Option<i64>,
    /// Drop Access-Requests without Message-Authenticator.
    pub require_message_authenticator: Option<bool>,
    /// Notes (null clears).
    pub description: Patch<String>,
}

fn check(p: &NasPatch) -> CoreResult<()> {
    if let Some(n) = &p.name {
        validate::text(n, 100).map_err(|m| CoreError::validation("name", m))?;
    }
    if let Some(ip) = &p.ip_address {
        validate::ipv4(ip.trim()).map_err(|m| CoreError::validation("ipAddress", m))?;
    }
    if let Some(s) = &p.secret {
        if s.len() < 6 || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CoreError::validation("secret", "must be 6-128 printable characters without spaces"));
        }
    }
    if let Some(port) = p.coa_port {
        if !(1..=65535).contains(&port) {
            return Err(CoreError::validation("coaPort", "must be a UDP port (1-65535)"));
        }
    }
    if let Patch::Set(d) = &p.description {
        if d.chars().count() > 500 {
            return Err(CoreError::validation("description", "must be at most 500 characters"));
        }
    }
    Ok(())
}

/// Reload this process's NAS caches once `tx` commits.
fn reload_caches_after(ctx: &Ctx, tx: &mut Tx) {
    let generation = ctx.nas_generation.clone();
    tx.after_commit(move || {
        generation.fetch_add(1, std::sync::atomic::Ordering::Release);
    });
}

/// Registers a NAS: `name`, `ip_address` and `secret` are required; the type defaults to
/// MIKROTIK, the CoA port to 3799, and Message-Authenticator is required unless turned off.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &NasPatch) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    check(p)?;
    let name = p.name.as_deref().map(str::trim).ok_or_else(|| CoreError::validation("name", "is required"))?;
    let ip = p.ip_address.as_deref().map(str::trim).ok_or_else(|| CoreError::validation("ipAddress", "is required"))?;
    let secret = p.secret.as_deref().ok_or_else(|| CoreError::validation("secret", "is required"))?;
    let f = NasFields {
        name: name.to_string(),
        ip_address: ip.to_string(),
        secret_enc: ctx.secrets.cipher.encrypt(SECRET_CONTEXT, secret),
        nas_type: p.nas_type.unwrap_or(NasType::Mikrotik),
        coa_port: p.coa_port.unwrap_or(3799),
        require_message_authenticator: p.require_message_authenticator.unwrap_or(true),
        description: p.description.clone().apply(None),
    };
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = nas::insert(&mut tx, actor.tenant_id, &f, now).await?;
    Effects::new(ctx, actor, now)
        .audit("nas.create", "Nas", Some(n.id), json!({"name": n.name, "ipAddress": n.ip_address}))
        .write(&mut tx)
        .await?;
    reload_caches_after(ctx, &mut tx);
    tx.commit().await?;
    Ok(n)
}

/// Changes NAS `id`; a new secret replaces the old one.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &NasPatch) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    check(p)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = nas::get(&mut tx, actor.tenant_id, id).await?;
    let f = NasFields {
        name: p.name.as_deref().map(str::trim).unwrap_or(&cur.name).to_string(),
        ip_address: p.ip_address.as_deref().map(str::trim).unwrap_or(&cur.ip_address).to_string(),
        secret_enc: match &p.secret {
            Some(s) => ctx.secrets.cipher.encrypt(SECRET_CONTEXT, s),
            None => cur.secret_enc.clone(),
        },
        nas_type: p.nas_type.unwrap_or(cur.nas_type),
        coa_port: p.coa_port.unwrap_or(cur.coa_port),
        require_message_authenticator: p
            .require_message_authenticator
            .unwrap_or(cur.require_message_authenticator != 0),
        description: p.description.clone().apply(cur.description.clone()),
    };
    let n = nas::update(&mut tx, actor.tenant_id, id, &f, now).await?;
    let fields = set_fields(&[
        ("name", p.name.is_some()),
        ("ipAddress", p.ip_address.is_some()),
        ("secret", p.secret.is_some()),
        ("nasType", p.nas_type.is_some()),
        ("coaPort", p.coa_port.is_some()),
        ("requireMessageAuthenticator", p.require_message_authenticator.is_some()),
        ("description", p.description.is_changed()),
    ]);
    Effects::new(ctx, actor, now)
        .audit("nas.update", "Nas", Some(id), json!({"fields": fields}))
        .write(&mut tx)
        .await?;
    reload_caches_after(ctx, &mut tx);
    tx.commit().await?;
    Ok(n)
}

/// Removes NAS `id`; its past sessions stay for usage history.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = nas::delete(&mut tx, actor.tenant_id, id).await?;
    Effects::new(ctx, actor, now)
        .audit("nas.delete", "Nas", Some(id), json!({"name": n.name, "ipAddress": n.ip_address}))
        .write(&mut tx)
        .await?;
    reload_caches_after(ctx, &mut tx);
    tx.commit().await?;
    Ok(n)
}
