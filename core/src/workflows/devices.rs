//! Routers and OLTs the worker pushes suspensions to: register, change, delete.

use crate::auth::{Action, Actor};
use crate::db::Tx;
use crate::effects::Effects;
use crate::error::{CoreError, CoreResult};
use crate::patch::Patch;
use crate::store::audit::set_fields;
use crate::store::devices::{
    self, normalize_fingerprint, Device, DeviceFields, DeviceKind, Transport, PASSWORD_CONTEXT,
};
use crate::store::nas;
use crate::{validate, Ctx};
use serde_json::json;

/// Device fields as a client sends them. On update `None` / [`Patch::Unchanged`] leave a
/// field alone and [`Patch::Clear`] clears it; on create `name`, `kind`, `host`, `username` and `password` are
/// required, the transport defaults to API (MikroTik) or TELNET (OLTs) and the port to the
/// transport's. On update a port left at the old transport's default follows a transport
/// change to the new default.
#[derive(Debug, Clone, Default)]
pub struct DevicePatch {
    /// Name.
    pub name: Option<String>,
    /// Kind.
    pub kind: Option<DeviceKind>,
    /// Host name or IP address.
    pub host: Option<String>,
    /// TCP port (1-65535).
    pub port: Option<i64>,
    /// Transport.
    pub transport: Option<Transport>,
    /// Pinned certificate fingerprint (API_SSL only).
    pub tls_fingerprint: Patch<String>,
    /// Login name.
    pub username: Option<String>,
    /// New password (write-only).
    pub password: Option<String>,
    /// Linked NAS in the same tenant.
    pub nas_id: Patch<i64>,
    /// Whether jobs go to it.
    pub enabled: Option<bool>,
}

/// A host name (RFC 1123 labels) or an IPv4 / IPv6 address.
fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.len() <= 253 && host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err("must be a host name or an IP address".into())
    }
}

async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    p: &DevicePatch,
    cur: Option<&Device>,
) -> CoreResult<DeviceFields> {
    let name = p
        .name
        .as_deref()
        .map(str::trim)
        .map(str::to_string)
        .or(cur.map(|c| c.name.clone()))
        .ok_or_else(|| CoreError::validation("name", "is required"))?;
    validate::text(&name, 100).map_err(|m| CoreError::validation("name", m))?;
    let kind = p.kind.or(cur.map(|c| c.kind)).ok_or_else(|| CoreError::validation("kind", "is required"))?;
    let host = p
        .host
        .as_deref()
        .map(str::trim)
        .map(str::to_string)
        .or(cur.map(|c| c.host.clone()))
        .ok_or_else(|| CoreError::validation("host", "is required"))?;
    check_host(&host).map_err(|m| CoreError::validation("host", m))?;
    let transport = p.transport.or(cur.map(|c| c.transport)).unwrap_or(kind.transports()[0]);
    if !kind.transports().contains(&transport) {
        let allowed: Vec<&str> = kind.transports().iter().map(|t| t.as_str()).collect();
        return Err(CoreError::validation(
            "transport",
            format!("a {kind} device speaks {}, not {transport}", allowed.join(" or ")),
        ));
    }
    let port = match (p.port, cur) {
        (Some(port), _) => port,
        (None, Some(c)) if c.transport != transport && c.port == c.transport.default_port() => transport.default_port(),
        (None, Some(c)) => c.port,
        (None, None) => transport.default_port(),
    };
    if !(1..=65535).contains(&port) {
        return Err(CoreError::validation("port", "must be a TCP port (1-65535)"));
    }
    let tls_fingerprint = match &p.tls_fingerprint {
        Patch::Set(f) if f.trim().is_empty() => None,
        Patch::Set(f) => Some(normalize_fingerprint(f).map_err(|m| CoreError::validation("tlsFingerprint", m))?),
        Patch::Clear => None,
        Patch::Unchanged => cur.and_then(|c| c.tls_fingerprint.clone()),
    };
    // The pinned identity: the API-SSL certificate of a router, or the SSH host key of an OLT.
    if tls_fingerprint.is_some() && !matches!(transport, Transport::ApiSsl | Transport::Ssh) {
        return Err(CoreError::validation("tlsFingerprint", "is only used with the API_SSL and SSH transports"));
    }
    let username = p
        .username
        .as_deref()
        .map(str::trim)
        .map(str::to_string)
        .or(cur.map(|c| c.username.clone()))
        .ok_or_else(|| CoreError::validation("username", "is required"))?;
    validate::login(&username).map_err(|m| CoreError::validation("username", m))?;
    let password_enc = match (&p.password, cur) {
        (Some(pw), _) => {
            validate::access_password(pw).map_err(|m| CoreError::validation("password", m))?;
            ctx.secrets.cipher.encrypt(PASSWORD_CONTEXT, pw)
        }
        (None, Some(c)) => c.password_enc.clone(),
        (None, None) => return Err(CoreError::validation("password", "is required")),
    };
    let nas_id = p.nas_id.apply(cur.and_then(|c| c.nas_id));
    if let (Some(n), true) = (nas_id, p.nas_id.is_changed()) {
        if nas::find(&mut *tx, tenant_id, n).await?.is_none() {
            return Err(CoreError::validation("nasId", "no such NAS"));
        }
    }
    let enabled = p.enabled.or(cur.map(Device::is_enabled)).unwrap_or(true);
    Ok(DeviceFields { name, kind, host, port, transport, tls_fingerprint, username, password_enc, nas_id, enabled })
}

/// Registers a device.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &DevicePatch) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let f = resolve(ctx, &mut tx, actor.tenant_id, p, None).await?;
    let d = devices::insert(&mut tx, actor.tenant_id, &f, now).await?;
    let details = json!({"name": d.name, "kind": d.kind, "host": d.host, "port": d.port, "transport": d.transport,
                         "username": d.username, "enabled": d.is_enabled()});
    Effects::new(ctx, actor, now).audit("device.create", "Device", Some(d.id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(d)
}

/// Changes device `id`; a new password replaces the old one.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &DevicePatch) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = devices::get_in(&mut tx, actor.tenant_id, id).await?;
    let f = resolve(ctx, &mut tx, actor.tenant_id, p, Some(&cur)).await?;
    // Subscriptions chose this device for what it is (OLT for GPON, router otherwise).
    if f.kind.is_olt() != cur.kind.is_olt() {
        let n = devices::serving(&mut tx, actor.tenant_id, id).await?;
        if n > 0 {
            return Err(CoreError::conflict("kind", format!("{n} subscriptions use this device as a {}", cur.kind)));
        }
    }
    let d = devices::update(&mut tx, actor.tenant_id, id, &f, now).await?;
    let fields = set_fields(&[
        ("name", p.name.is_some()),
        ("kind", p.kind.is_some()),
        ("host", p.host.is_some()),
        ("port", p.port.is_some() || d.port != cur.port),
        ("transport", p.transport.is_some()),
        ("tlsFingerprint", p.tls_fingerprint.is_changed()),
        ("username", p.username.is_some()),
        ("password", p.password.is_some()),
        ("nasId", p.nas_id.is_changed()),
        ("enabled", p.enabled.is_some()),
    ]);
    Effects::new(ctx, actor, now)
        .audit("device.update", "Device", Some(id), json!({"fields": fields}))
        .write(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(d)
}

/// Removes device `id`: CONFLICT while it has pending jobs or serves a subscription that is
/// not cancelled (disable it to take it out of the fan-out at once).
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let d = devices::get_in(&mut tx, actor.tenant_id, id).await?;
    let pending = devices::pending_jobs(&mut tx, actor.tenant_id, id).await?;
    if pending > 0 {
        return Err(CoreError::conflict(
            "id",
            format!(
                "{pending} jobs for this device are pending; disable it and delete it once they are delivered or dead"
            ),
        ));
    }
    let n = devices::serving(&mut tx, actor.tenant_id, id).await?;
    if n > 0 {
        return Err(CoreError::conflict("id", format!("{n} subscriptions use this device; move them first")));
    }
    devices::delete(&mut tx, actor.tenant_id, id).await?;
    let details = json!({"name": d.name, "kind": d.kind, "host": d.host});
    Effects::new(ctx, actor, now).audit("device.delete", "Device", Some(id), details).write(&mut tx).await?;
    tx.commit().await?;
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_fingerprints() {
        for ok in ["10.0.0.1", "fd00::1", "router-1.pop.example.net", "olt1"] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a.example", "a..b", "has space", "x_y.example", "a.b-"] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
        let colons = (0..32).map(|_| "AB").collect::<Vec<_>>().join(":");
        assert_eq!(normalize_fingerprint(&colons).unwrap(), "ab".repeat(32));
        assert!(normalize_fingerprint(&"ab".repeat(31)).is_err());
        assert!(normalize_fingerprint(&"zz".repeat(32)).is_err());
    }
}
