//! Network access servers (routers) that talk RADIUS to us. The source IP of a RADIUS packet
//! names the NAS, and the NAS names the tenant; its shared secret is encrypted at rest.

use super::page::{self, Count, ListQuery, Order, Page, PageArgs};
use crate::db::{query_as, Db, Executor, FromRow, Sql, Tx};
use crate::error::{CoreError, CoreResult};
use crate::text_enum;

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
    pub fn secret(&self, secrets: &crate::secrets::Secrets) -> CoreResult<String> {
        secrets.cipher.decrypt(SECRET_CONTEXT, &self.secret_enc)
    }
}

const COLS: &str = "id, tenant_id, name, ip_address, secret_enc, nas_type, coa_port, require_message_authenticator, \
    description, created_at, updated_at";

/// A NAS as stored: validated and normalised by the caller (the secret encrypted).
#[derive(Debug, Clone)]
pub struct NasFields {
    /// Display name.
    pub name: String,
    /// Source IPv4.
    pub ip_address: String,
    /// Encrypted shared secret.
    pub secret_enc: String,
    /// Router kind.
    pub nas_type: NasType,
    /// CoA port.
    pub coa_port: i64,
    /// Require Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Notes.
    pub description: Option<String>,
}

/// Inserts a NAS.
pub async fn insert(tx: &mut Tx, tenant_id: i64, f: &NasFields, now: i64) -> CoreResult<Nas> {
    query_as::<Nas>(&format!(
        "INSERT INTO nas (tenant_id, name, ip_address, secret_enc, nas_type, coa_port, require_message_authenticator, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING {COLS}"
    ))
    .bind(tenant_id)
    .bind(f.name.as_str())
    .bind(f.ip_address.as_str())
    .bind(f.secret_enc.as_str())
    .bind(f.nas_type)
    .bind(f.coa_port)
    .bind(f.require_message_authenticator)
    .bind(&f.description)
    .bind(now)
    .fetch_one(tx)
    .await
}

/// Overwrites NAS `id`.
pub async fn update(tx: &mut Tx, tenant_id: i64, id: i64, f: &NasFields, now: i64) -> CoreResult<Nas> {
    query_as::<Nas>(&format!(
        "UPDATE nas SET name = $1, ip_address = $2, secret_enc = $3, nas_type = $4, coa_port = $5, require_message_authenticator = $6, \
         description = $7, updated_at = $8 WHERE tenant_id = $9 AND id = $10 RETURNING {COLS}"
    ))
    .bind(f.name.as_str())
    .bind(f.ip_address.as_str())
    .bind(f.secret_enc.as_str())
    .bind(f.nas_type)
    .bind(f.coa_port)
    .bind(f.require_message_authenticator)
    .bind(&f.description)
    .bind(now)
    .bind(tenant_id)
    .bind(id)
    .fetch_optional(tx)
    .await?
    .ok_or(CoreError::NotFound("nas"))
}

/// Deletes NAS `id` and returns it.
pub async fn delete(tx: &mut Tx, tenant_id: i64, id: i64) -> CoreResult<Nas> {
    query_as::<Nas>(&format!("DELETE FROM nas WHERE tenant_id = $1 AND id = $2 RETURNING {COLS}"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(tx)
        .await?
        .ok_or(CoreError::NotFound("nas"))
}

/// NAS `id` of `tenant_id`, if it exists.
pub async fn find(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Option<Nas>> {
    query_as::<Nas>(&format!("SELECT {COLS} FROM nas WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// NAS `id` of `tenant_id`, on the pool or in a transaction.
pub async fn get(ex: impl Executor, tenant_id: i64, id: i64) -> CoreResult<Nas> {
    find(ex, tenant_id, id).await?.ok_or(CoreError::NotFound("nas"))
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
    get_many_sql(tenant_id, ids).fetch_all::<Nas>(db).await
}

/// The statement of [`get_many`] (the plan test checks that it looks the ids up).
pub fn get_many_sql(tenant_id: i64, ids: &[i64]) -> Sql<'static> {
    super::by_ids(COLS, "nas", tenant_id, ids)
}

/// Appends ` FROM nas WHERE ...` of the list to `sql`.
fn from_where(sql: &mut Sql<'static>, tenant_id: i64) {
    sql.push(" FROM nas WHERE tenant_id = ");
    sql.arg(tenant_id);
}

/// The statement of a page of the tenant's NAS devices by name.
pub fn list_sql(tenant_id: i64, args: &PageArgs) -> CoreResult<ListQuery> {
    let mut sql = Sql::new(&format!("SELECT {COLS}"));
    from_where(&mut sql, tenant_id);
    let plan = page::apply(&mut sql, Order { column: "name", integer: false, desc: false }, args)?;
    Ok(ListQuery { sql, plan })
}

/// A page of the tenant's NAS devices by name.
pub async fn list(db: &Db, tenant_id: i64, args: &PageArgs) -> CoreResult<Page<Nas>> {
    list_sql(tenant_id, args)?.page(db, args).await
}

/// The statement counting the rows of the list.
pub fn count_sql(tenant_id: i64) -> CoreResult<Sql<'static>> {
    page::count_sql(|sql| {
        from_where(sql, tenant_id);
        Ok(())
    })
}

/// How many rows the list has (up to [`page::COUNT_LIMIT`]).
pub async fn count(db: &Db, tenant_id: i64) -> CoreResult<Count> {
    page::count(db, &count_sql(tenant_id)?).await
}
