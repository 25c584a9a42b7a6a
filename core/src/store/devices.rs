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

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::db::{query, query_as, Db, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::secrets::Secrets;
use crate::text_enum;

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
    pub fn password(&self, secrets: &Secrets) -> CoreResult<String> {
        secrets.cipher.decrypt(PASSWORD_CONTEXT, &self.password_enc)
    }

    /// Whether jobs are sent to it.
    pub fn is_enabled(&self) -> bool {
        self.enabled != 0
    }
}

/// Columns of [`Device`], for queries in other modules.
pub const COLS: &str = "id, tenant_id, name, kind, host, port, transport, tls_fingerprint, username, password_enc, \
    nas_id, enabled, created_at, updated_at";

/// A SHA-256 fingerprint as 64 hex digits, colons allowed; stored as lower-case hex.
pub fn normalize_fingerprint(value: &str) -> Result<String, String> {
    let hex: String = value.trim().chars().filter(|c| *c != ':').collect();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hex.to_ascii_lowercase())
    } else {
        Err("must be a SHA-256 fingerprint: 64 hex digits, colons allowed".into())
    }
}

/// A device as stored: validated and normalised by the caller (the password encrypted).
#[derive(Debug, Clone)]
pub struct DeviceFields {
    /// Name, unique per tenant.
    pub name: String,
    /// Kind.
    pub kind: DeviceKind,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: i64,
    /// Transport.
    pub transport: Transport,
    /// Pinned certificate or host key, lower-case hex.
    pub tls_fingerprint: Option<String>,
    /// Login.
    pub username: String,
    /// Encrypted password.
    pub password_enc: String,
    /// Its NAS record.
    pub nas_id: Option<i64>,
    /// Whether jobs go to it.
    pub enabled: bool,
}

/// Inserts a device.
pub async fn insert(tx: &mut Tx, tenant_id: i64, f: &DeviceFields, now: i64) -> CoreResult<Device> {
    query_as::<Device>(&format!(
        "INSERT INTO devices (tenant_id, name, kind, host, port, transport, tls_fingerprint, username, password_enc, nas_id, \
         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(f.name.as_str())
    .bind(f.kind)
    .bind(f.host.as_str())
    .bind(f.port)
    .bind(f.transport)
    .bind(&f.tls_fingerprint)
    .bind(f.username.as_str())
    .bind(f.password_enc.as_str())
    .bind(f.nas_id)
    .bind(f.enabled)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Overwrites device `id`.
pub async fn update(tx: &mut Tx, tenant_id: i64, id: i64, f: &DeviceFields, now: i64) -> CoreResult<Device> {
    query_as::<Device>(&format!(
        "UPDATE devices SET name = $1, kind = $2, host = $3, port = $4, transport = $5, tls_fingerprint = $6, username = $7, \
         password_enc = $8, nas_id = $9, enabled = $10, updated_at = $11 WHERE tenant_id = $12 AND id = $13 RETURNING {COLS}"
    ))
    .bind(f.name.as_str())
    .bind(f.kind)
    .bind(f.host.as_str())
    .bind(f.port)
    .bind(f.transport)
    .bind(&f.tls_fingerprint)
    .bind(f.username.as_str())
    .bind(f.password_enc.as_str())
    .bind(f.nas_id)
    .bind(f.enabled)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("device"))
}

/// Deletes device `id`.
pub async fn delete(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<()> {
    query("DELETE FROM devices WHERE tenant_id = $1 AND id = $2").bind(tenant_id).bind(id).execute(tx).await?;
    Ok(())
}

/// Non-cancelled subscriptions served by device `id`.
pub async fn serving(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<i64> {
    let (n,): (i64,) = query_as(
        "SELECT COUNT(*) FROM subscriptions WHERE tenant_id = $1 AND device_id = $2 AND status <> 'CANCELLED'",
    )
    .bind(tenant_id)
    .bind(id)
    .fetch_one(tx)
    .await?;
    Ok(n)
}

/// Jobs for device `id` still waiting for delivery.
pub async fn pending_jobs(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<i64> {
    let (n,): (i64,) =
        query_as("SELECT COUNT(*) FROM device_jobs WHERE tenant_id = $1 AND device_id = $2 AND status = 'PENDING'")
            .bind(tenant_id)
            .bind(id)
            .fetch_one(tx)
            .await?;
    Ok(n)
}

pub(crate) async fn get_in(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Device> {
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
    get_many_sql(tenant_id, ids).fetch_all::<Device>(db).await
}

/// The statement of [`get_many`] (the plan test checks that it looks the ids up).
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "devices", tenant_id, ids)
}

/// Appends ` FROM devices WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64, kind: Option<DeviceKind>) {
    sql.push(" FROM devices WHERE tenant_id = ");
    sql.arg(tenant_id);
    if let Some(k) = kind {
        sql.push(" AND kind = ").arg(k);
    }
}

/// The statement of a page of the tenant's devices by name, optionally of one kind.
pub fn list_sql(tenant_id: i64, kind: Option<DeviceKind>, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id, kind);
    let plan = page::apply(&mut sql, Order { column: "name", integer: false, desc: false }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's devices by name, optionally of one kind.
pub async fn list(db: &Db, tenant_id: i64, kind: Option<DeviceKind>, args: &PageArgs) -> CoreResult<Page<Device>> {
    list_sql(tenant_id, kind, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64, kind: Option<DeviceKind>) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id, kind);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64, kind: Option<DeviceKind>) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id, kind)?).await
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
}
