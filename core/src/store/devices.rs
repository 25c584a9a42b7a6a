//! Network devices the device-job worker and `netctl` talk to: MikroTik routers over the
//! RouterOS API (plain or TLS with a pinned certificate) and Huawei / ZTE GPON OLTs over
//! telnet or SSH. Credentials are encrypted at rest and never leave the core except to the
//! worker ([`Device::password`]).
//!
//! A device with pending jobs, or still serving a subscription that is not cancelled, cannot
//! be deleted (CONFLICT): its jobs would lose their target. Disable it instead (`enabled =
//! false`), which takes it out of the suspension fan-out at once; delete it once its jobs
//! are delivered or dead. Deleting keeps the history: finished jobs and cancelled
//! subscriptions that named it keep their rows with the device cleared.

use super::audit;
use super::page::{self, Order, Page, PageArgs};
use crate::auth::{Action, Actor};
use crate::db::{query, query_as, Arg, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::{text_enum, validate, Ctx};
use serde_json::json;

text_enum!(
    /// What a device is, which decides how it is spoken to.
    DeviceKind, "kind" {
        /// MikroTik RouterOS router (RouterOS API).
        Mikrotik = "MIKROTIK",
        /// Huawei MA5600/MA5800-family GPON OLT (CLI).
        HuaweiOlt = "HUAWEI_OLT",
        /// ZTE C300/C320-family GPON OLT (CLI).
        ZteOlt = "ZTE_OLT",
    }
);

impl DeviceKind {
    /// Whether this is a GPON OLT.
    pub fn is_olt(self) -> bool {
        matches!(self, Self::HuaweiOlt | Self::ZteOlt)
    }

    /// The transports this kind of device speaks.
    pub fn transports(self) -> &'static [Transport] {
        match self {
            Self::Mikrotik => &[Transport::Api, Transport::ApiSsl],
            Self::HuaweiOlt | Self::ZteOlt => &[Transport::Telnet, Transport::Ssh],
        }
    }
}

text_enum!(
    /// How the device is reached.
    Transport, "transport" {
        /// RouterOS API in clear text (default port 8728).
        Api = "API",
        /// RouterOS API over TLS (default port 8729), optionally pinned by fingerprint.
        ApiSsl = "API_SSL",
        /// Telnet CLI (default port 23).
        Telnet = "TELNET",
        /// SSH CLI (default port 22).
        Ssh = "SSH",
    }
);

impl Transport {
    /// The port used when none is given.
    pub fn default_port(self) -> i64 {
        match self {
            Self::Api => 8728,
            Self::ApiSsl => 8729,
            Self::Telnet => 23,
            Self::Ssh => 22,
        }
    }
}

/// Context string binding encrypted device passwords to their column.
pub const PASSWORD_CONTEXT: &str = "device.password";

/// A device row.
#[derive(Debug, Clone, FromRow)]
pub struct Device {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Name, unique in the tenant (what `netctl` and the NOC call it).
    pub name: String,
    /// What it is.
    pub kind: DeviceKind,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: i64,
    /// How it is reached.
    pub transport: Transport,
    /// Pinned SHA-256 certificate fingerprint (64 lower-case hex digits), API_SSL only.
    pub tls_fingerprint: Option<String>,
    /// Login name.
    pub username: String,
    /// Encrypted password (AES-256-GCM, context [`PASSWORD_CONTEXT`]).
    pub password_enc: String,
    /// The NAS record of the same router, if it also speaks RADIUS to us.
    pub nas_id: Option<i64>,
    /// 1 when jobs go to it; 0 takes it out of the suspension fan-out.
    pub enabled: i64,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

impl Device {
    /// The decrypted login password (for the worker and `netctl` only).
    pub fn password(&self, ctx: &Ctx) -> CoreResult<String> {
        ctx.secrets.cipher.decrypt(PASSWORD_CONTEXT, &self.password_enc)
    }

    /// Whether jobs are sent to it.
    pub fn is_enabled(&self) -> bool {
        self.enabled != 0
    }
}

/// Columns of [`Device`], for queries in other modules.
pub const COLS: &str = "id, tenant_id, name, kind, host, port, transport, tls_fingerprint, username, password_enc, \
    nas_id, enabled, created_at, updated_at";

/// Device fields as a client sends them. On update `None` leaves a field alone and
/// `Some(None)` clears it; on create `name`, `kind`, `host`, `username` and `password` are
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
    pub tls_fingerprint: Option<Option<String>>,
    /// Login name.
    pub username: Option<String>,
    /// New password (write-only).
    pub password: Option<String>,
    /// Linked NAS in the same tenant.
    pub nas_id: Option<Option<i64>>,
    /// Whether jobs go to it.
    pub enabled: Option<bool>,
}

/// The device after applying a patch, checked as a whole.
struct Resolved {
    name: String,
    kind: DeviceKind,
    host: String,
    port: i64,
    transport: Transport,
    tls_fingerprint: Option<String>,
    username: String,
    password_enc: String,
    nas_id: Option<i64>,
    enabled: bool,
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

/// A SHA-256 fingerprint as 64 hex digits, colons allowed; stored as lower-case hex.
pub fn normalize_fingerprint(value: &str) -> Result<String, String> {
    let hex: String = value.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("must be a SHA-256 fingerprint: 64 hex digits, colons allowed".into())
    }
}

async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx,
    tenant_id: i64,
    p: &DevicePatch,
    cur: Option<&Device>,
) -> CoreResult<Resolved> {
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
        Some(Some(f)) if f.trim().is_empty() => None,
        Some(Some(f)) => Some(normalize_fingerprint(f).map_err(|m| CoreError::validation("tlsFingerprint", m))?),
        Some(None) => None,
        None => cur.and_then(|c| c.tls_fingerprint.clone()),
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
    let nas_id = match p.nas_id {
        Some(n) => n,
        None => cur.and_then(|c| c.nas_id),
    };
    if let (Some(n), true) = (nas_id, p.nas_id.is_some()) {
        let found: Option<(i64,)> = query_as("SELECT id FROM nas WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(n)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(CoreError::validation("nasId", "no such NAS"));
        }
    }
    let enabled = p.enabled.or(cur.map(Device::is_enabled)).unwrap_or(true);
    Ok(Resolved { name, kind, host, port, transport, tls_fingerprint, username, password_enc, nas_id, enabled })
}

/// Registers a device.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &DevicePatch) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let r = resolve(ctx, &mut tx, actor.tenant_id, p, None).await?;
    let d = query_as::<Device>(&format!(
        "INSERT INTO devices (tenant_id, name, kind, host, port, transport, tls_fingerprint, username, password_enc, nas_id, \
         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {COLS}"
    ))
    .bind(actor.tenant_id)
    .bind(&r.name)
    .bind(r.kind)
    .bind(&r.host)
    .bind(r.port)
    .bind(r.transport)
    .bind(r.tls_fingerprint)
    .bind(&r.username)
    .bind(r.password_enc)
    .bind(r.nas_id)
    .bind(i64::from(r.enabled))
    .bind(now)
    .fetch_one(&mut tx)
    .await?;
    let details = json!({"name": d.name, "kind": d.kind, "host": d.host, "port": d.port, "transport": d.transport,
                         "username": d.username, "enabled": d.is_enabled()});
    audit::record(&mut tx, actor, "device.create", "Device", Some(d.id), details, now).await?;
    tx.commit().await?;
    Ok(d)
}

/// Non-cancelled subscriptions served by device `id`.
async fn serving(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND device_id = $2 AND status <> 'CANCELLED'",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(n)
}

/// Changes device `id`; a new password replaces the old one.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &DevicePatch) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = get_in(&mut tx, actor.tenant_id, id).await?;
    let r = resolve(ctx, &mut tx, actor.tenant_id, p, Some(&cur)).await?;
    // Subscriptions chose this device for what it is (OLT for GPON, router otherwise).
    if r.kind.is_olt() != cur.kind.is_olt() {
        let n = serving(&mut tx, actor.tenant_id, id).await?;
        if n > 0 {
            return Err(CoreError::conflict("kind", format!("{n} subscriptions use this device as a {}", cur.kind)));
        }
    }
    let d = query_as::<Device>(&format!(
        "UPDATE devices SET name = $1, kind = $2, host = $3, port = $4, transport = $5, tls_fingerprint = $6, username = $7, \
         password_enc = $8, nas_id = $9, enabled = $10, updated_at = $11 WHERE tenant_id = $12 AND id = $13 RETURNING {COLS}"
    ))
    .bind(&r.name)
    .bind(r.kind)
    .bind(&r.host)
    .bind(r.port)
    .bind(r.transport)
    .bind(r.tls_fingerprint)
    .bind(&r.username)
    .bind(r.password_enc)
    .bind(r.nas_id)
    .bind(i64::from(r.enabled))
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    let fields = audit::set_fields(&[
        ("name", p.name.is_some()),
        ("kind", p.kind.is_some()),
        ("host", p.host.is_some()),
        ("port", p.port.is_some() || d.port != cur.port),
        ("transport", p.transport.is_some()),
        ("tlsFingerprint", p.tls_fingerprint.is_some()),
        ("username", p.username.is_some()),
        ("password", p.password.is_some()),
        ("nasId", p.nas_id.is_some()),
        ("enabled", p.enabled.is_some()),
    ]);
    audit::record(&mut tx, actor, "device.update", "Device", Some(id), json!({"fields": fields}), now).await?;
    tx.commit().await?;
    Ok(d)
}

/// Removes device `id`: CONFLICT while it has pending jobs or serves a subscription that is
/// not cancelled (see the module docs).
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Device> {
    actor.require(Action::DeviceWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let d = get_in(&mut tx, actor.tenant_id, id).await?;
    let (pending,): (i64,) =
        query_as("SELECT COUNT(*) FROM device_jobs WHERE tenant_id = $1 AND device_id = $2 AND status = 'PENDING'")
            .bind(actor.tenant_id)
            .bind(id)
            .fetch_one(&mut tx)
            .await?;
    if pending > 0 {
        return Err(CoreError::conflict(
            "id",
            format!(
                "{pending} jobs for this device are pending; disable it and delete it once they are delivered or dead"
            ),
        ));
    }
    let n = serving(&mut tx, actor.tenant_id, id).await?;
    if n > 0 {
        return Err(CoreError::conflict("id", format!("{n} subscriptions use this device; move them first")));
    }
    query("DELETE FROM devices WHERE tenant_id = $1 AND id = $2")
        .bind(actor.tenant_id)
        .bind(id)
        .execute(&mut tx)
        .await?;
    let details = json!({"name": d.name, "kind": d.kind, "host": d.host});
    audit::record(&mut tx, actor, "device.delete", "Device", Some(id), details, now).await?;
    tx.commit().await?;
    Ok(d)
}

async fn get_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Device> {
    query_as::<Device>(&format!("SELECT {COLS} FROM devices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(CoreError::NotFound("device"))
}

/// Device `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Device> {
    query_as::<Device>(&format!("SELECT {COLS} FROM devices WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("device"))
}

/// The device named `name` in `tenant_id`, if any.
pub async fn by_name(db: &Db, tenant_id: i64, name: &str) -> CoreResult<Option<Device>> {
    query_as::<Device>(&format!("SELECT {COLS} FROM devices WHERE tenant_id = $1 AND name = $2"))
        .bind(tenant_id)
        .bind(name.trim())
        .fetch_optional(db)
        .await
}

/// Devices with the given ids in `tenant_id`, one statement.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Device>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM devices WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(ids);
    sql.fetch_all::<Device>(db).await
}

/// A page of the tenant's devices by name, optionally of one kind.
pub async fn list(db: &Db, tenant_id: i64, kind: Option<DeviceKind>, args: &PageArgs) -> CoreResult<Page<Device>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM devices WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id));
    if let Some(k) = kind {
        sql.push(" AND kind = ").arg(k);
    }
    let plan = page::apply(&mut sql, Order { column: "name", integer: false, desc: false }, args)?;
    Ok(page::finish(sql.fetch_all::<Device>(db).await?, plan, args))
}

/// Every enabled device of `kind` in `tenant_id` inside `tx`, by id.
pub async fn enabled_in(tx: &mut Tx, tenant_id: i64, kind: DeviceKind) -> CoreResult<Vec<Device>> {
    query_as::<Device>(&format!(
        "SELECT {COLS} FROM devices WHERE tenant_id = $1 AND kind = $2 AND enabled = 1 ORDER BY id"
    ))
    .bind(tenant_id)
    .bind(kind)
    .fetch_all(&mut *tx)
    .await
}

/// Device `id` of `tenant_id` inside `tx`, if it exists.
pub async fn find_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Option<Device>> {
    match get_in(tx, tenant_id, id).await {
        Ok(d) => Ok(Some(d)),
        Err(CoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_transports_and_ports() {
        assert_eq!(DeviceKind::Mikrotik.transports(), &[Transport::Api, Transport::ApiSsl]);
        assert!(!DeviceKind::HuaweiOlt.transports().contains(&Transport::Api));
        assert!(DeviceKind::ZteOlt.is_olt() && !DeviceKind::Mikrotik.is_olt());
        let ports: Vec<i64> = Transport::ALL.iter().map(|t| t.default_port()).collect();
        assert_eq!(ports, vec![8728, 8729, 23, 22]);
    }

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
