//! Network access servers (routers) that talk RADIUS to us. The source IP of a RADIUS packet
//! names the NAS, and the NAS names the tenant; its shared secret is encrypted at rest.

use super::audit;
use super::page::{self, Order, Page, PageArgs};
use crate::auth::{Action, Actor};
use crate::db::{query_as, Arg, Db, FromRow, Sql};
use crate::error::{CoreError, CoreResult};
use crate::{text_enum, validate, Ctx};
use serde_json::json;

text_enum!(
    /// What kind of router a NAS is (decides vendor attributes and CoA dialect).
    NasType, "nasType" {
        /// MikroTik RouterOS.
        Mikrotik = "MIKROTIK",
        /// Any RFC 2865 / RFC 5176 NAS.
        Other = "OTHER",
    }
);

/// Context string binding encrypted NAS secrets to their column.
pub const SECRET_CONTEXT: &str = "nas.secret";

/// A NAS row.
#[derive(Debug, Clone, FromRow)]
pub struct Nas {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant_id: i64,
    /// Display name.
    pub name: String,
    /// Source IPv4 address of its RADIUS packets, unique across tenants.
    pub ip_address: String,
    /// Encrypted shared secret.
    pub secret_enc: String,
    /// Router kind.
    pub nas_type: NasType,
    /// UDP port for CoA and Disconnect requests (RFC 5176 §3 default 3799).
    pub coa_port: i64,
    /// 1 when Access-Requests without Message-Authenticator are dropped (BlastRADIUS).
    pub require_message_authenticator: i64,
    /// Notes.
    pub description: Option<String>,
    /// Created, Unix ms.
    pub created_at: i64,
    /// Changed, Unix ms.
    pub updated_at: i64,
}

impl Nas {
    /// Whether Access-Requests must carry a Message-Authenticator.
    pub fn requires_message_authenticator(&self) -> bool {
        self.require_message_authenticator != 0
    }

    /// The decrypted shared secret.
    pub fn secret(&self, ctx: &Ctx) -> CoreResult<String> {
        ctx.secrets.cipher.decrypt(SECRET_CONTEXT, &self.secret_enc)
    }
}

const COLS: &str = "id, tenant_id, name, ip_address, secret_enc, nas_type, coa_port, require_message_authenticator, \
    description, created_at, updated_at";

/// NAS fields as a client sends them; on update `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct NasPatch {
    /// Display name (required on create).
    pub name: Option<String>,
    /// Source IPv4 (required on create).
    pub ip_address: Option<String>,
    /// New shared secret (required on create; write-only).
    pub secret: Option<String>,
    /// Router kind (default MIKROTIK).
    pub nas_type: Option<NasType>,
    /// CoA port (default 3799).
    pub coa_port: Option<i64>,
    /// Require Message-Authenticator (default true).
    pub require_message_authenticator: Option<bool>,
    /// Notes (`Some(None)` clears).
    pub description: Option<Option<String>>,
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
    if let Some(Some(d)) = &p.description {
        if d.chars().count() > 500 {
            return Err(CoreError::validation("description", "must be at most 500 characters"));
        }
    }
    Ok(())
}

fn changed(ctx: &Ctx) {
    ctx.nas_generation.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// Registers a NAS.
pub async fn create(ctx: &Ctx, actor: &Actor, p: &NasPatch) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    check(p)?;
    let name = p.name.as_deref().map(str::trim).ok_or_else(|| CoreError::validation("name", "is required"))?;
    let ip = p.ip_address.as_deref().map(str::trim).ok_or_else(|| CoreError::validation("ipAddress", "is required"))?;
    let secret = p.secret.as_deref().ok_or_else(|| CoreError::validation("secret", "is required"))?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = query_as::<Nas>(&format!(
        "INSERT INTO nas (tenant_id, name, ip_address, secret_enc, nas_type, coa_port, require_message_authenticator, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLS}"
    ))
    .bind(actor.tenant_id)
    .bind(name)
    .bind(ip)
    .bind(ctx.secrets.cipher.encrypt(SECRET_CONTEXT, secret))
    .bind(p.nas_type.unwrap_or(NasType::Mikrotik))
    .bind(p.coa_port.unwrap_or(3799))
    .bind(i64::from(p.require_message_authenticator.unwrap_or(true)))
    .bind(p.description.clone().flatten())
    .bind(now)
    .fetch_one(&mut tx)
    .await?;
    audit::record(
        &mut tx,
        actor,
        "nas.create",
        "Nas",
        Some(n.id),
        json!({"name": n.name, "ipAddress": n.ip_address}),
        now,
    )
    .await?;
    tx.commit().await?;
    changed(ctx);
    Ok(n)
}

/// Changes NAS `id`; a new secret replaces the old one.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, p: &NasPatch) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    check(p)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let cur = query_as::<Nas>(&format!("SELECT {COLS} FROM nas WHERE tenant_id = $1 AND id = $2"))
        .bind(actor.tenant_id)
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(CoreError::NotFound("nas"))?;
    let secret_enc = match &p.secret {
        Some(s) => ctx.secrets.cipher.encrypt(SECRET_CONTEXT, s),
        None => cur.secret_enc.clone(),
    };
    let n = query_as::<Nas>(&format!(
        "UPDATE nas SET name = $1, ip_address = $2, secret_enc = $3, nas_type = $4, coa_port = $5, require_message_authenticator = $6, \
         description = $7, updated_at = $8 WHERE tenant_id = $9 AND id = $10 RETURNING {COLS}"
    ))
    .bind(p.name.as_deref().map(str::trim).unwrap_or(&cur.name))
    .bind(p.ip_address.as_deref().map(str::trim).unwrap_or(&cur.ip_address))
    .bind(secret_enc)
    .bind(p.nas_type.unwrap_or(cur.nas_type))
    .bind(p.coa_port.unwrap_or(cur.coa_port))
    .bind(p.require_message_authenticator.map_or(cur.require_message_authenticator, i64::from))
    .bind(match &p.description {
        Some(d) => d.clone(),
        None => cur.description.clone(),
    })
    .bind(now)
    .bind(actor.tenant_id)
    .bind(id)
    .fetch_one(&mut tx)
    .await?;
    let fields = audit::set_fields(&[
        ("name", p.name.is_some()),
        ("ipAddress", p.ip_address.is_some()),
        ("secret", p.secret.is_some()),
        ("nasType", p.nas_type.is_some()),
        ("coaPort", p.coa_port.is_some()),
        ("requireMessageAuthenticator", p.require_message_authenticator.is_some()),
        ("description", p.description.is_some()),
    ]);
    audit::record(&mut tx, actor, "nas.update", "Nas", Some(id), json!({"fields": fields}), now).await?;
    tx.commit().await?;
    changed(ctx);
    Ok(n)
}

/// Removes NAS `id`; its past sessions stay for usage history.
pub async fn delete(ctx: &Ctx, actor: &Actor, id: i64) -> CoreResult<Nas> {
    actor.require(Action::NasWrite)?;
    let now = ctx.now_ms();
    let mut tx = ctx.db.begin().await?;
    let n = query_as::<Nas>(&format!("DELETE FROM nas WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"))
        .bind(actor.tenant_id)
        .bind(id)
        .fetch_optional(&mut tx)
        .await?
        .ok_or(CoreError::NotFound("nas"))?;
    audit::record(
        &mut tx,
        actor,
        "nas.delete",
        "Nas",
        Some(id),
        json!({"name": n.name, "ipAddress": n.ip_address}),
        now,
    )
    .await?;
    tx.commit().await?;
    changed(ctx);
    Ok(n)
}

/// NAS `id` of `tenant_id`.
pub async fn get(db: &Db, tenant_id: i64, id: i64) -> CoreResult<Nas> {
    query_as::<Nas>(&format!("SELECT {COLS} FROM nas WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .ok_or(CoreError::NotFound("nas"))
}

/// The NAS whose packets come from `ip`, in any tenant: this lookup is what decides the
/// tenant of a RADIUS request, so it is the one query not filtered by a tenant.
pub async fn by_ip(db: &Db, ip: &str) -> CoreResult<Option<Nas>> {
    query_as::<Nas>(&format!("SELECT {COLS} FROM nas WHERE ip_address = $1")).bind(ip).fetch_optional(db).await
}

/// NAS devices with the given ids in `tenant_id`.
pub async fn get_many(db: &Db, tenant_id: i64, ids: &[i64]) -> CoreResult<Vec<Nas>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM nas WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id)).push(" AND id IN ").in_list(ids);
    sql.fetch_all::<Nas>(db).await
}

/// A page of the tenant's NAS devices by name.
pub async fn list(db: &Db, tenant_id: i64, args: &PageArgs) -> CoreResult<Page<Nas>> {
    let mut sql = Sql::new(&format!("SELECT {COLS} FROM nas WHERE tenant_id = "));
    sql.arg(Arg::I(tenant_id));
    let plan = page::apply(&mut sql, Order { column: "name", integer: false, desc: false }, args)?;
    Ok(page::finish(sql.fetch_all::<Nas>(db).await?, plan, args))
}
